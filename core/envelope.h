/* Client payloads (PROTOCOL.md "Payloads"): the common checks every payload
 * passes (size, UTF-8, no escaped NUL, a JSON object), then one parser per
 * payload kind. Parsed fields borrow from the cJSON tree, which the caller
 * owns and frees with cJSON_Delete. Pure: no I/O. */
#ifndef MQC_ENVELOPE_H
#define MQC_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define MQC_REF_MAX 64                 /* client message ids and request ids, in characters */
#define MQC_TITLE_MAX 256              /* group titles, in bytes */
#define MQC_SEQ_MAX 9007199254740991LL /* 2^53 - 1: exact in every JSON parser */

/* Deepest nesting of objects and arrays in a payload (the payload object
 * itself is level 1). */
#define MQC_ENVELOPE_DEPTH_MAX 64

/* Check and parse payload (borrowed, len bytes; need not be NUL-terminated).
 * MQC_ETOOLARGE if len > max; MQC_EBADREQ if it is not one JSON object
 * passing mqc_json_scan (UTF-8, strict grammar, no duplicate keys at any
 * depth, no escaped NUL, nesting at most MQC_ENVELOPE_DEPTH_MAX); MQC_ENOMEM.
 * On success *root is the tree (caller owns). A top-level "attrs" member
 * that is an object is in the tree as a cJSON_Raw node whose valuestring is
 * the member's text as sent, minus the white space between tokens (strings
 * and numbers byte for byte), so printing the tree re-emits it unchanged.
 * why (may be NULL) gets a static reason for the client on MQC_EBADREQ and
 * MQC_ETOOLARGE, else NULL. */
int mqc_envelope_parse(const void *payload, size_t len, size_t max, cJSON **root, const char **why);

/* The string value of key if it is a usable reference (1-64 characters),
 * else NULL. Borrowed from root. For echoing `id`/`req` in err events. */
const char *mqc_envelope_ref(const cJSON *root, const char *key);

struct mqc_send {
    const char *id;     /* borrowed */
    const cJSON *body;  /* borrowed, a string */
    const cJSON *attrs; /* borrowed, NULL or a raw node holding an object's
                         * text (see mqc_envelope_parse) */
};
int mqc_send_parse(const cJSON *root, struct mqc_send *out, const char **why);

enum mqc_receipt_type { MQC_RECEIPT_DELIVERED, MQC_RECEIPT_READ };
struct mqc_receipt {
    enum mqc_receipt_type type;
    int64_t seq;
};
int mqc_receipt_parse(const cJSON *root, struct mqc_receipt *out, const char **why);
const char *mqc_receipt_type_name(enum mqc_receipt_type t);

struct mqc_typing {
    bool composing; /* false = paused */
};
int mqc_typing_parse(const cJSON *root, struct mqc_typing *out, const char **why);

/* Read an optional whole-number field: MQC_OK with *out set, MQC_ENOTFOUND
 * when absent, MQC_EBADREQ when present but not an integer in [min, max]. */
int mqc_envelope_int(const cJSON *root, const char *key, int64_t min, int64_t max, int64_t *out);

#endif
