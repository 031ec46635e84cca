/* Builders for the events the server sends to clients. */
#include "core/event.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

/* Print o compactly and free it. NULL in, NULL out. */
static char *print_free(cJSON *o)
{
    char *out = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return out;
}

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
    return print_free(o);
out:
    cJSON_Delete(o);
    return out;
}

int mqc_event_msg_parts(const char *conv, const char *id, const char *from, int64_t ts,
                        const cJSON *body, const cJSON *attrs, char **prefix, char **suffix)
{
    *prefix = *suffix = NULL;
    cJSON *head = cJSON_CreateObject(), *tail = cJSON_CreateObject();
    int ok = head && tail && cJSON_AddStringToObject(head, "t", "msg") &&
             cJSON_AddStringToObject(head, "conv", conv) &&
             cJSON_AddStringToObject(tail, "id", id) &&
             cJSON_AddStringToObject(tail, "from", from) &&
             cJSON_AddNumberToObject(tail, "ts", (double)ts) &&
             cJSON_AddItemReferenceToObject(tail, "body", (cJSON *)body) &&
             (!attrs || cJSON_AddItemReferenceToObject(tail, "attrs", (cJSON *)attrs));
    char *h = ok ? print_free(head) : (cJSON_Delete(head), NULL);
    char *t = ok ? print_free(tail) : (cJSON_Delete(tail), NULL);
    if (!h || !t) {
        free(h);
        free(t);
        return MQC_ENOMEM;
    }
    /* h = {...} -> {...,"seq":    t = {...} -> ,...} */
    size_t hl = strlen(h);
    char *p = malloc(hl + 8);
    if (!p) {
        free(h);
        free(t);
        return MQC_ENOMEM;
    }
    memcpy(p, h, hl - 1);
    memcpy(p + hl - 1, ",\"seq\":", 7);
    p[hl + 6] = '\0';
    t[0] = ',';
    free(h);
    *prefix = p;
    *suffix = t;
    return MQC_OK;
}

char *mqc_event_res(const char *req, const char *op, cJSON *fields, int64_t ts)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "t", "res") || !cJSON_AddStringToObject(o, "req", req) ||
        !cJSON_AddStringToObject(o, "op", op)) {
        cJSON_Delete(o);
        cJSON_Delete(fields);
        return NULL;
    }
    while (fields && fields->child) {
        cJSON *item = cJSON_DetachItemViaPointer(fields, fields->child);
        cJSON_AddItemToObject(o, item->string, item);
    }
    cJSON_Delete(fields);
    if (!cJSON_AddNumberToObject(o, "ts", (double)ts)) {
        cJSON_Delete(o);
        return NULL;
    }
    return print_free(o);
}

/* {"t":t,"conv":conv,"user":user,key:val[,"seq":seq],"ts":ts} */
static char *user_event(const char *t, const char *conv, const char *user, const char *key,
                        const char *val, int64_t seq, int64_t ts)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "t", t) || !cJSON_AddStringToObject(o, "conv", conv) ||
        !cJSON_AddStringToObject(o, "user", user) || !cJSON_AddStringToObject(o, key, val) ||
        (seq >= 0 && !cJSON_AddNumberToObject(o, "seq", (double)seq)) ||
        !cJSON_AddNumberToObject(o, "ts", (double)ts)) {
        cJSON_Delete(o);
        return NULL;
    }
    return print_free(o);
}

char *mqc_event_receipt(const char *conv, const char *user, const char *type, int64_t seq,
                        int64_t ts)
{
    return user_event("receipt", conv, user, "type", type, seq, ts);
}

char *mqc_event_typing(const char *conv, const char *user, const char *state, int64_t ts)
{
    return user_event("typing", conv, user, "state", state, -1, ts);
}

char *mqc_event_system(const char *text, int64_t ts)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "t", "system") ||
        !cJSON_AddStringToObject(o, "text", text) ||
        !cJSON_AddNumberToObject(o, "ts", (double)ts)) {
        cJSON_Delete(o);
        return NULL;
    }
    return print_free(o);
}
