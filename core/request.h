/* Requests on chat/u/{me}/req (PROTOCOL.md "requests"): the op table and a
 * parser that checks every field of every op. Parsed strings borrow from the
 * cJSON tree; the members array is owned (mqc_req_cleanup). Pure. */
#ifndef MQC_REQUEST_H
#define MQC_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

enum mqc_op {
    MQC_OP_CREATE,
    MQC_OP_ADD,
    MQC_OP_REMOVE,
    MQC_OP_LEAVE,
    MQC_OP_CONVS,
    MQC_OP_HISTORY,
    MQC_OP_SYNC,
    MQC_OP_DEVICE,
    MQC_OP_UNDEVICE,
    MQC_OP_MUTE,
    MQC_OP_BLOCK,
    MQC_OP_UNBLOCK,
    MQC_OP_BLOCKED,
    MQC_OP_UPLOAD,
    MQC_OP_DOWNLOAD,
    MQC_OP_SESSION,
    MQC_OP_SESSIONS,
    MQC_OP_LOGOUT,
    MQC_OP_REVOKE,
};

#define MQC_HISTORY_DEFAULT 50
#define MQC_HISTORY_MAX 200
#define MQC_SYNC_DEFAULT 200
#define MQC_SYNC_MAX 1000
#define MQC_PUSH_TOKEN_MAX 4096

struct mqc_req {
    enum mqc_op op;
    const char *op_name;  /* static */
    const char *req;      /* borrowed */
    const char *conv;     /* add/remove/leave/history */
    bool group;           /* create: kind group (else direct) */
    const char *with;     /* create direct */
    const char *title;    /* create group ("" when absent) */
    const char **members; /* owned array of borrowed ids (create group, add, remove) */
    size_t nmembers;
    int64_t before;       /* history; -1 = newest */
    int64_t limit;        /* history, sync */
    const char *since;    /* sync: the token, NULL when absent */
    const char *platform; /* device: "apns" | "fcm" */
    const char *token;    /* device, undevice: the push token */
    const char *app;      /* device: APNs topic / FCM project */
    bool sandbox;         /* device */
    int64_t until;        /* mute: ms, 0 = unmute */
    const char *user;     /* block, unblock: the other user */
    const char *name;     /* upload: the file's name (1-255 bytes) */
    const char *type;     /* upload: its MIME type */
    int64_t size;         /* upload: its size in bytes */
    const char *key;      /* download: the object key */
    const char *label;    /* session: the device label (its "device" field), NULL when absent */
    const char *device;   /* revoke: the device session id */
};

/* Parse a request object. me is the asking user (borrowed), max_members the
 * group size cap. On error returns MQC_EBADREQ (or MQC_ENOMEM) with a static
 * reason in *why; out->req is set whenever the request carried a usable one.
 * Always call mqc_req_cleanup(out) afterwards. */
int mqc_req_parse(const cJSON *root, const char *me, size_t max_members, struct mqc_req *out,
                  const char **why);
void mqc_req_cleanup(struct mqc_req *r);

#endif
