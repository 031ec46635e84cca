/* A strict JSON scanner (RFC 8259) for texts from the network, run before
 * cJSON builds a tree: it refuses what cJSON would accept but read in a way
 * another parser would not (duplicate object keys, at any depth, compared
 * after unescaping; lone surrogate escapes; bare control characters; leading
 * zeros), what cJSON would silently change (an escaped NUL cuts a string),
 * and nesting past a caller's limit. It can also return where the value of
 * one top-level member lies in the text, so that value can be passed on
 * byte for byte (numbers and strings exactly as the client wrote them), and
 * minify a checked text. Pure: no I/O, no cJSON. */
#ifndef MQC_JSON_H
#define MQC_JSON_H

#include <stddef.h>

/* Deepest nesting mqc_json_scan can follow (objects and arrays together). */
#define MQC_JSON_DEPTH_LIMIT 256
/* The longest number token accepted, in bytes: cJSON 1.7.15 reads at most
 * 63 bytes of a number and fails on longer ones. */
#define MQC_JSON_NUMBER_MAX 63

enum mqc_json_type {
    MQC_JSON_OBJECT,
    MQC_JSON_ARRAY,
    MQC_JSON_STRING,
    MQC_JSON_NUMBER,
    MQC_JSON_LITERAL, /* true, false, null */
};

struct mqc_json_scan {
    /* in */
    int max_depth;      /* 1..MQC_JSON_DEPTH_LIMIT; 1 = a flat object or array */
    const char *member; /* borrowed; NUL-terminated top-level key to locate, or NULL */
    /* out */
    enum mqc_json_type type; /* of the top-level value */
    size_t member_off;       /* where member's value starts in the text */
    size_t member_len;       /* its length in bytes; 0 when the member is absent */
    size_t err_off;          /* on error: the byte offset where it was found */
    const char *why;         /* on error: a static reason for the client */
};

/* Check that text (borrowed, len bytes, need not be NUL-terminated) is one
 * JSON value with only white space around it: valid UTF-8, RFC 8259
 * grammar, no duplicate keys in any object (keys compared after decoding
 * escapes, so "a" and "\u0061" are the same key), no \u0000 escape, no lone
 * surrogate escape, no number longer than MQC_JSON_NUMBER_MAX, at most
 * sc->max_depth nested objects and arrays. Returns MQC_OK with sc's out
 * fields set, MQC_EBADREQ with sc->why and sc->err_off set, or MQC_ENOMEM. */
int mqc_json_scan(const char *text, size_t len, struct mqc_json_scan *sc);

/* Copy text (borrowed, len bytes, a value mqc_json_scan accepted) to out
 * (borrowed, at least len bytes) without the white space between tokens;
 * every string and number is copied byte for byte. Returns the length
 * written (<= len). Does not NUL-terminate. */
size_t mqc_json_minify(const char *text, size_t len, char *out);

#endif
