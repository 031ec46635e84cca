/* Per-request state (struct mqc_origin): who asked, from which connection,
 * and the reference to echo, carried from the MESSAGE event to the store
 * callback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/plugin.h"

struct mqc_origin *mqc_plugin__origin_new(struct mqc_plugin *p, const struct mqc_sender *from,
                                          const char *conv, const char *ref, const char *op)
{
    struct mqc_origin *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->p = p;
    o->op = op;
    o->client_id = strdup(from->client_id ? from->client_id : "");
    o->to = (struct mqc_sender){o->user, o->client_id, from->conn};
    o->ref = ref ? strdup(ref) : NULL;
    if (!o->client_id || (ref && !o->ref)) {
        mqc_plugin__origin_free(o);
        return NULL;
    }
    snprintf(o->user, sizeof o->user, "%s", from->user);
    snprintf(o->conv, sizeof o->conv, "%s", conv ? conv : "");
    return o;
}

void mqc_plugin__origin_free(struct mqc_origin *o)
{
    if (!o)
        return;
    free(o->client_id);
    free(o->ref);
    free(o);
}
