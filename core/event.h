/* Server events (PROTOCOL.md "Payloads"): JSON objects with `t` and `ts`,
 * built with cJSON. Every builder returns a malloc'd, NUL-terminated string
 * the caller owns (free()), or NULL when out of memory. */
#ifndef MQC_EVENT_H
#define MQC_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* {"t":"err","req"|"id":<ref>,"code":<wire code of err>,"msg":<msg>,"ts":ts}.
 * ref_key is "req" or "id" (or NULL when the client gave neither); msg NULL
 * uses mqc_err_str(err). All strings borrowed. */
char *mqc_event_err(const char *ref_key, const char *ref, int err, const char *msg, int64_t ts);

/* A msg event is stored and delivered as prefix + seq + suffix, because the
 * seq is only known inside Redis. prefix = {"t":"msg","conv":C,"seq":
 * suffix = ,"id":I,"from":F,"ts":T,"body":B[,"attrs":A]}
 * body and attrs are borrowed cJSON nodes. Both outputs are malloc'd (caller
 * frees). Returns MQC_OK or MQC_ENOMEM. */
int mqc_event_msg_parts(const char *conv, const char *id, const char *from, int64_t ts,
                        const cJSON *body, const cJSON *attrs, char **prefix, char **suffix);

/* {"t":"res","req":R,"op":O,<fields...>,"ts":ts}. fields (taken, may be
 * NULL) is an object whose members are moved into the reply. */
char *mqc_event_res(const char *req, const char *op, cJSON *fields, int64_t ts);

/* {"t":"receipt","conv":C,"user":U,"type":T,"seq":S,"ts":ts} */
char *mqc_event_receipt(const char *conv, const char *user, const char *type, int64_t seq,
                        int64_t ts);
/* {"t":"typing","conv":C,"user":U,"state":S,"ts":ts} */
char *mqc_event_typing(const char *conv, const char *user, const char *state, int64_t ts);
/* {"t":"system","text":T,"ts":ts}: an operator's broadcast (text borrowed,
 * valid UTF-8). */
char *mqc_event_system(const char *text, int64_t ts);

#endif
