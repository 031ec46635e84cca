/* Presence visibility after membership changes and blocks (PROTOCOL.md
 * "presence", "Blocking"). Who sees whom is held per node in core/contacts.c
 * and answered from memory by every READ check; this file keeps it true when
 * it shrinks: the pairs a change separates stop seeing each other at once,
 * here and (through the bus, cluster.c "vis") on every node, and a queued
 * re-check against Redis then restores the pairs that still share another
 * conversation and are not blocked. The re-check walks every user tracked
 * here, so it runs for removals, leaves and blocks only, never per message. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "plugin/plugin.h"

struct recheck {
    struct mqc_plugin *p;
    char user[MQC_ID_MAX + 1];
};

static void recheck_done(void *ctx, int rc, const char *const *sees, size_t nsees,
                         const char *const *seen_by, size_t nseen_by)
{
    struct recheck *w = ctx;
    if (rc != MQC_OK) {
        /* The separated pairs stay separated: hidden, never shown wrongly. */
        mqc_log(MQC_LOG_WARNING, "presence: visibility re-check failed: %s (user=%s)",
                mqc_err_str(rc), w->user);
    } else if (mqc_contacts_reconcile(w->p->contacts, w->user, sees, nsees, seen_by, nseen_by) !=
               MQC_OK) {
        mqc_log(MQC_LOG_ERR, "presence: out of memory re-checking visibility (user=%s)", w->user);
    }
    free(w);
}

void mqc_plugin__visibility_recheck(struct mqc_plugin *p, const char *user)
{
    struct recheck *w = calloc(1, sizeof *w);
    if (!w || strlen(user) > MQC_ID_MAX) {
        free(w);
        return;
    }
    w->p = p;
    memcpy(w->user, user, strlen(user) + 1);
    if (mqc_store_visibility(p->store, user, recheck_done, w) != MQC_OK) {
        mqc_log(MQC_LOG_ERR, "presence: cannot queue a visibility re-check (user=%s)", user);
        free(w);
    }
}

void mqc_plugin__visibility_split(struct mqc_plugin *p, const char *const *users, size_t n,
                                  const char *const *others, size_t m, bool announce)
{
    p->vis_epoch++; /* a contacts read in flight may be stale now */
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < m; j++)
            mqc_contacts_remove_pair(p->contacts, users[i], others[j]);
    }
    for (size_t i = 0; i < n; i++)
        mqc_plugin__visibility_recheck(p, users[i]);
    if (announce && n > 0)
        mqc_plugin__cluster_visibility(p, users, n, others, m);
}

void mqc_plugin__visibility_hide(struct mqc_plugin *p, const char *const *pairs, size_t n)
{
    p->vis_epoch++;
    for (size_t i = 0; i < n; i++)
        mqc_contacts_remove(p->contacts, pairs[2 * i + 1], pairs[2 * i]);
}
