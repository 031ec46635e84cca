/* Push jobs and what is sent for them: a job parsed from its Redis stream
 * entry, a device parsed from the user's device hash, and the APNs and FCM
 * JSON bodies, kept within the services' size limit by shortening the
 * preview on a UTF-8 boundary. Pure: no I/O. */
#ifndef MQC_BRIDGE_PAYLOAD_H
#define MQC_BRIDGE_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest push body both services accept (APNs alert, FCM message). */
#define MQC_PUSH_PAYLOAD_MAX 4096

/* One job of the <prefix>push stream (docs/PROTOCOL.md, "push jobs"). */
struct mqc_push_job {
    char *id;      /* the stream entry id */
    char *user;    /* a valid id */
    char *conv;    /* a valid id */
    char *kind;    /* "msg", "member", or another valid id */
    char *from;    /* the author, a valid id; "" when the job had none */
    char *preview; /* valid UTF-8, or NULL (no preview) */
    int64_t seq;   /* >= 0 */
    int64_t badge; /* unread total, or -1 when the job had none */
    int64_t ts;    /* ms when queued, or 0 when the job had none */
};

/* Parse the stream entry id (borrowed) with its nfv strings fv (borrowed,
 * field, value, field, value, ...) into *out (borrowed, overwritten; every
 * string in it returned owned). Fields user, conv, seq, kind are required;
 * from, badge, ts, preview optional; other fields are ignored (the queue
 * adds its own). Bad ids or numbers, a field given twice, an odd nfv or a
 * preview that is not UTF-8 return MQC_EBADREQ; MQC_ENOMEM. On error *out
 * holds nothing to clean up. */
int mqc_push_job_parse(const char *id, const char *const *fv, size_t nfv, struct mqc_push_job *out);
/* Free the strings of *j (borrowed) and zero it. NULL is fine. */
void mqc_push_job_cleanup(struct mqc_push_job *j);

/* One registered device. */
struct mqc_push_device {
    char *token;    /* APNs hex token or FCM registration token */
    char *platform; /* "apns" or "fcm" */
    char *app;      /* APNs topic (bundle id) or FCM project */
    bool sandbox;   /* APNs: send to the sandbox endpoint */
};

/* Parse a device from its hash field token and value
 * "platform\napp\nsandbox(0/1)" (both borrowed), as the plugin stores it,
 * into *out (borrowed, overwritten; strings returned owned). MQC_EBADREQ for
 * a malformed one, MQC_ENOMEM. On error *out holds nothing to clean up. */
int mqc_push_device_parse(const char *token, const char *value, struct mqc_push_device *out);
void mqc_push_device_cleanup(struct mqc_push_device *d);

/* The alert text for j (borrowed) when it has no preview: "New message" for
 * kind msg, "Conversation updated" for member. Static, never NULL. */
const char *mqc_push_generic_body(const struct mqc_push_job *j);

/* The APNs body for j (borrowed):
 * {"aps":{"alert":{"title":from,"body":...},"badge":n,"sound":"default",
 * "thread-id":conv},"conv":conv,"seq":seq}; no title when from is empty, no
 * badge when the job had none. If it would be longer than max_bytes, the
 * body is cut on a UTF-8 boundary and ends in "…". Returns the NUL-terminated
 * text, at most max_bytes long, owned by the caller (free()); NULL when out
 * of memory or when even an empty body would not fit. */
char *mqc_apns_payload(const struct mqc_push_job *j, size_t max_bytes);

/* The FCM HTTP v1 body for j and token (both borrowed):
 * {"message":{"token":..,"notification":{"title":..,"body":..},
 * "data":{"conv":..,"seq":"<seq>","kind":..},
 * "android":{"priority":"high","collapse_key":conv}}}, shortened and
 * returned as mqc_apns_payload(). */
char *mqc_fcm_payload(const struct mqc_push_job *j, const char *token, size_t max_bytes);

#endif
