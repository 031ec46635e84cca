/* Strict UTF-8 validation (no overlong forms, no surrogates, nothing above
 * U+10FFFF) and code point counting, for every payload from the network. */
#ifndef MQC_UTF8_H
#define MQC_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* s borrowed, len bytes (NUL bytes are valid code points here). */
bool mqc_utf8_valid(const char *s, size_t len);
/* Number of code points in valid UTF-8 s. */
size_t mqc_utf8_count(const char *s, size_t len);

/* The longest prefix of valid UTF-8 s (len bytes) that is at most max bytes
 * and ends on a character boundary. */
size_t mqc_utf8_prefix(const char *s, size_t len, size_t max);

#endif
