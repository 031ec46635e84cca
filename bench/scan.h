/* Just enough JSON reading for the load generator's hot path: find a key's
 * value in a flat event without building a tree, and find where a value ends
 * (so the events of a sync page can be walked one by one). The server's
 * events are flat objects whose string fields hold no quote in what the
 * benchmark sends, so a scan for "key": is enough; nothing here allocates.
 * Pure: no I/O, every pointer borrowed, every length checked (the bytes come
 * from a socket). */
#ifndef MQC_BENCH_SCAN_H
#define MQC_BENCH_SCAN_H

#include <stddef.h>
#include <stdint.h>

/* First occurrence of pat (plen bytes) in hay (len bytes), or NULL. */
const char *mqc_scan_find(const unsigned char *hay, size_t len, const char *pat, size_t plen);
/* Point *val at the first byte of the value of the first "key": in json (len
 * bytes), blanks skipped. MQC_OK, or MQC_ENOTFOUND when the key is absent. */
int mqc_scan_value(const unsigned char *json, size_t len, const char *key, const char **val);
/* Copy the string value of "key" into out (escapes are kept as they are;
 * *where, when not NULL, points at the value's first byte in json).
 * MQC_ENOTFOUND when absent, MQC_EBADREQ when not a (complete) string. */
int mqc_scan_str(const unsigned char *json, size_t len, const char *key, char *out, size_t outsz,
                 const char **where);
/* The value of "key" as a whole number >= 0. MQC_ENOTFOUND or MQC_EBADREQ. */
int mqc_scan_u64(const unsigned char *json, size_t len, const char *key, uint64_t *out);
/* The value of "key" as true (1) or false (0). MQC_ENOTFOUND or MQC_EBADREQ. */
int mqc_scan_bool(const unsigned char *json, size_t len, const char *key, int *out);
/* The end (one past the last byte) of the JSON value starting at p, blanks
 * before it skipped, or NULL when it is malformed or runs past end. Objects
 * and arrays are matched by nesting, strings by their escapes. */
const char *mqc_scan_skip(const char *p, const char *end);

#endif
