/* Server events (PROTOCOL.md "Payloads"): JSON objects with `t` and `ts`,
 * built with cJSON. Every builder returns a malloc'd, NUL-terminated string
 * the caller owns (free()), or NULL when out of memory. */
#ifndef MQC_EVENT_H
#define MQC_EVENT_H

#include <stdint.h>

/* {"t":"err","req"|"id":<ref>,"code":<wire code of err>,"msg":<msg>,"ts":ts}.
 * ref_key is "req" or "id" (or NULL when the client gave neither); msg NULL
 * uses mqc_err_str(err). All strings borrowed. */
char *mqc_event_err(const char *ref_key, const char *ref, int err, const char *msg, int64_t ts);

#endif
