/* Request parsing: one table of ops, one function per op's fields. */
#include "core/request.h"

#include <stdlib.h>
#include <string.h>

#include "core/attach.h"
#include "core/envelope.h"
#include "core/err.h"
#include "core/id.h"
#include "core/session_token.h"

static const struct {
    const char *name;
    enum mqc_op op;
} ops[] = {
    {"create", MQC_OP_CREATE},     {"add", MQC_OP_ADD},         {"remove", MQC_OP_REMOVE},
    {"leave", MQC_OP_LEAVE},       {"convs", MQC_OP_CONVS},     {"history", MQC_OP_HISTORY},
    {"sync", MQC_OP_SYNC},         {"device", MQC_OP_DEVICE},   {"undevice", MQC_OP_UNDEVICE},
    {"mute", MQC_OP_MUTE},         {"block", MQC_OP_BLOCK},     {"unblock", MQC_OP_UNBLOCK},
    {"blocked", MQC_OP_BLOCKED},   {"session", MQC_OP_SESSION}, {"sessions", MQC_OP_SESSIONS},
    {"logout", MQC_OP_LOGOUT},     {"revoke", MQC_OP_REVOKE},   {"upload", MQC_OP_UPLOAD},
    {"download", MQC_OP_DOWNLOAD},
};

static const char *get_str(const cJSON *root, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int get_conv(const cJSON *root, struct mqc_req *r, const char **why)
{
    r->conv = get_str(root, "conv");
    if (!mqc_id_valid_str(r->conv)) {
        *why = "conv must be a conversation id";
        return MQC_EBADREQ;
    }
    return MQC_OK;
}

/* members: a non-empty array of distinct valid ids, at most max (plus me when
 * add_me, which is put first and never duplicated). */
static int get_members(const cJSON *root, const char *me, bool add_me, size_t max,
                       struct mqc_req *r, const char **why)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "members");
    if (!cJSON_IsArray(arr)) {
        *why = "members must be an array of user ids";
        return MQC_EBADREQ;
    }
    int n = cJSON_GetArraySize(arr);
    if ((n == 0 && !add_me) || (size_t)n > max) {
        *why = n == 0 ? "members must not be empty" : "too many members";
        return MQC_EBADREQ;
    }
    r->members = calloc((size_t)n + 1, sizeof *r->members);
    if (!r->members) {
        *why = "out of memory";
        return MQC_ENOMEM;
    }
    if (add_me)
        r->members[r->nmembers++] = me;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it) || !mqc_id_valid_str(it->valuestring)) {
            *why = "members must be an array of user ids";
            return MQC_EBADREQ;
        }
        bool dup = false;
        for (size_t i = 0; i < r->nmembers && !dup; i++)
            dup = strcmp(r->members[i], it->valuestring) == 0;
        if (!dup)
            r->members[r->nmembers++] = it->valuestring;
    }
    if (r->nmembers > max) {
        *why = "too many members";
        return MQC_EBADREQ;
    }
    return MQC_OK;
}

static int parse_create(const cJSON *root, const char *me, size_t max, struct mqc_req *r,
                        const char **why)
{
    const char *kind = get_str(root, "kind");
    if (kind && strcmp(kind, "direct") == 0) {
        r->with = get_str(root, "with");
        if (!mqc_id_valid_str(r->with)) {
            *why = "with must be a user id";
            return MQC_EBADREQ;
        }
        if (strcmp(r->with, me) == 0) {
            *why = "a direct conversation needs another user";
            return MQC_EBADREQ;
        }
        return MQC_OK;
    }
    if (!kind || strcmp(kind, "group") != 0) {
        *why = "kind must be \"direct\" or \"group\"";
        return MQC_EBADREQ;
    }
    r->group = true;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "title");
    if (t && !cJSON_IsNull(t)) {
        if (!cJSON_IsString(t) || strlen(t->valuestring) > MQC_TITLE_MAX) {
            *why = "title must be a string of at most 256 bytes";
            return MQC_EBADREQ;
        }
        r->title = t->valuestring;
    } else {
        r->title = "";
    }
    return get_members(root, me, true, max, r, why);
}

static int parse_history(const cJSON *root, struct mqc_req *r, const char **why)
{
    int rc = get_conv(root, r, why);
    if (rc != MQC_OK)
        return rc;
    r->before = -1;
    rc = mqc_envelope_int(root, "before", 0, MQC_SEQ_MAX, &r->before);
    if (rc == MQC_EBADREQ) {
        *why = "before must be a whole number >= 0";
        return rc;
    }
    r->limit = MQC_HISTORY_DEFAULT;
    rc = mqc_envelope_int(root, "limit", 1, MQC_SEQ_MAX, &r->limit);
    if (rc == MQC_EBADREQ) {
        *why = "limit must be a whole number >= 1";
        return rc;
    }
    if (r->limit > MQC_HISTORY_MAX)
        r->limit = MQC_HISTORY_MAX;
    return MQC_OK;
}

static int parse_sync(const cJSON *root, struct mqc_req *r, const char **why)
{
    const cJSON *since = cJSON_GetObjectItemCaseSensitive(root, "since");
    if (since && !cJSON_IsNull(since)) {
        if (!cJSON_IsString(since) || !*since->valuestring) {
            *why = "since must be a sync token";
            return MQC_EBADREQ;
        }
        r->since = since->valuestring;
    }
    r->limit = MQC_SYNC_DEFAULT;
    if (mqc_envelope_int(root, "limit", 1, MQC_SEQ_MAX, &r->limit) == MQC_EBADREQ) {
        *why = "limit must be a whole number >= 1";
        return MQC_EBADREQ;
    }
    if (r->limit > MQC_SYNC_MAX)
        r->limit = MQC_SYNC_MAX;
    return MQC_OK;
}

static bool token_valid(const char *t)
{
    return mqc_push_token_valid(t, MQC_PUSH_TOKEN_MAX);
}

static int parse_device(const cJSON *root, struct mqc_req *r, bool registering, const char **why)
{
    r->token = get_str(root, "token");
    if (!token_valid(r->token)) {
        *why = "token must be 1-4096 characters of [A-Za-z0-9:_.-]";
        return MQC_EBADREQ;
    }
    if (!registering)
        return MQC_OK;
    r->platform = get_str(root, "platform");
    if (!r->platform || (strcmp(r->platform, "apns") && strcmp(r->platform, "fcm"))) {
        *why = "platform must be \"apns\" or \"fcm\"";
        return MQC_EBADREQ;
    }
    r->app = get_str(root, "app");
    if (!mqc_id_valid_str(r->app) && !(r->app && token_valid(r->app) && strlen(r->app) <= 255)) {
        *why = "app must be the APNs topic (bundle id) or the FCM project id";
        return MQC_EBADREQ;
    }
    const cJSON *sb = cJSON_GetObjectItemCaseSensitive(root, "sandbox");
    if (sb && !cJSON_IsBool(sb) && !cJSON_IsNull(sb)) {
        *why = "sandbox must be true or false";
        return MQC_EBADREQ;
    }
    r->sandbox = cJSON_IsTrue(sb);
    return MQC_OK;
}

static int parse_mute(const cJSON *root, struct mqc_req *r, const char **why)
{
    int rc = get_conv(root, r, why);
    if (rc != MQC_OK)
        return rc;
    if (mqc_envelope_int(root, "until", 0, MQC_SEQ_MAX, &r->until) != MQC_OK) {
        *why = "until must be a time in ms since the epoch (0 = unmute)";
        return MQC_EBADREQ;
    }
    return MQC_OK;
}

/* block, unblock: user, another valid user id. */
static int parse_block(const cJSON *root, const char *me, struct mqc_req *r, const char **why)
{
    r->user = get_str(root, "user");
    if (!mqc_id_valid_str(r->user)) {
        *why = "user must be a user id";
        return MQC_EBADREQ;
    }
    if (strcmp(r->user, me) == 0) {
        *why = "one cannot block oneself";
        return MQC_EBADREQ;
    }
    return MQC_OK;
}

/* upload: conv, name (1-255 bytes), type (a MIME type), size (>= 0); the
 * size limit is the plugin's (too_large). */
static int parse_upload(const cJSON *root, struct mqc_req *r, const char **why)
{
    int rc = get_conv(root, r, why);
    if (rc != MQC_OK)
        return rc;
    r->name = get_str(root, "name");
    if (!r->name || !*r->name || strlen(r->name) > 255) {
        *why = "name must be a string of 1-255 bytes";
        return MQC_EBADREQ;
    }
    r->type = get_str(root, "type");
    if (!mqc_attach_type_valid(r->type)) {
        *why = "type must be a MIME type such as image/jpeg";
        return MQC_EBADREQ;
    }
    if (mqc_envelope_int(root, "size", 0, MQC_SEQ_MAX, &r->size) != MQC_OK) {
        *why = "size must be a whole number of bytes";
        return MQC_EBADREQ;
    }
    return MQC_OK;
}

/* download: conv and key (whether the key is conv's is the plugin's
 * not_found). */
static int parse_download(const cJSON *root, struct mqc_req *r, const char **why)
{
    int rc = get_conv(root, r, why);
    if (rc != MQC_OK)
        return rc;
    r->key = get_str(root, "key");
    if (!r->key || !*r->key || strlen(r->key) > 1024) {
        *why = "key must be the key an upload answered";
        return MQC_EBADREQ;
    }
    return MQC_OK;
}

/* session: an optional device label; revoke: a device session id. */
static int parse_session(const cJSON *root, struct mqc_req *r, const char **why)
{
    const cJSON *dev = cJSON_GetObjectItemCaseSensitive(root, "device");
    if (r->op == MQC_OP_REVOKE) {
        r->device = get_str(root, "device");
        if (!mqc_sess_device_valid(r->device)) {
            *why = "device must be a device id from sessions";
            return MQC_EBADREQ;
        }
        return MQC_OK;
    }
    if (!dev)
        return MQC_OK;
    r->label = get_str(root, "device");
    if (!mqc_sess_label_valid(r->label)) {
        *why = "device must be a label of at most 64 characters (no control characters)";
        return MQC_EBADREQ;
    }
    return MQC_OK;
}

int mqc_req_parse(const cJSON *root, const char *me, size_t max_members, struct mqc_req *r,
                  const char **why)
{
    memset(r, 0, sizeof *r);
    r->req = mqc_envelope_ref(root, "req");
    if (!r->req) {
        *why = "req must be a string of 1-64 characters";
        return MQC_EBADREQ;
    }
    const char *op = get_str(root, "op");
    size_t i = 0;
    for (; op && i < sizeof ops / sizeof ops[0]; i++) {
        if (strcmp(ops[i].name, op) == 0)
            break;
    }
    if (!op || i == sizeof ops / sizeof ops[0]) {
        *why = "unknown op";
        return MQC_EBADREQ;
    }
    r->op = ops[i].op;
    r->op_name = ops[i].name;
    switch (r->op) {
    case MQC_OP_CREATE:
        return parse_create(root, me, max_members, r, why);
    case MQC_OP_ADD:
    case MQC_OP_REMOVE: {
        int rc = get_conv(root, r, why);
        return rc != MQC_OK ? rc : get_members(root, me, false, max_members, r, why);
    }
    case MQC_OP_LEAVE:
        return get_conv(root, r, why);
    case MQC_OP_CONVS:
        return MQC_OK;
    case MQC_OP_HISTORY:
        return parse_history(root, r, why);
    case MQC_OP_SYNC:
        return parse_sync(root, r, why);
    case MQC_OP_DEVICE:
    case MQC_OP_UNDEVICE:
        return parse_device(root, r, r->op == MQC_OP_DEVICE, why);
    case MQC_OP_MUTE:
        return parse_mute(root, r, why);
    case MQC_OP_BLOCK:
    case MQC_OP_UNBLOCK:
        return parse_block(root, me, r, why);
    case MQC_OP_BLOCKED:
    case MQC_OP_SESSIONS:
    case MQC_OP_LOGOUT:
        return MQC_OK;
    case MQC_OP_UPLOAD:
        return parse_upload(root, r, why);
    case MQC_OP_DOWNLOAD:
        return parse_download(root, r, why);
    case MQC_OP_SESSION:
    case MQC_OP_REVOKE:
        return parse_session(root, r, why);
    }
    return MQC_EBADREQ;
}

void mqc_req_cleanup(struct mqc_req *r)
{
    if (!r)
        return;
    free(r->members);
    r->members = NULL;
    r->nmembers = 0;
}
