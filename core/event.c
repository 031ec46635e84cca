/* Builders for the events the server sends to clients. */
#include "core/event.h"

#include <cjson/cJSON.h>

#include "core/err.h"

char *mqc_event_err(const char *ref_key, const char *ref, int err, const char *msg, int64_t ts)
{
    cJSON *o = cJSON_CreateObject();
    char *out = NULL;
    if (!o)
        return NULL;
    if (!cJSON_AddStringToObject(o, "t", "err"))
        goto out;
    if (ref_key && ref && !cJSON_AddStringToObject(o, ref_key, ref))
        goto out;
    if (!cJSON_AddStringToObject(o, "code", mqc_err_code(err)) ||
        !cJSON_AddStringToObject(o, "msg", msg ? msg : mqc_err_str(err)) ||
        !cJSON_AddNumberToObject(o, "ts", (double)ts))
        goto out;
    out = cJSON_PrintUnformatted(o);
out:
    cJSON_Delete(o);
    return out;
}
