/* User and conversation ids: 1-64 characters of [A-Za-z0-9_.-]. Anything else
 * (wildcards, '/', NUL, empty, over-long) is refused everywhere. */
#ifndef MQC_ID_H
#define MQC_ID_H

#include <stdbool.h>
#include <stddef.h>

#define MQC_ID_MAX 64

/* s is borrowed; len is its length (s need not be NUL-terminated). */
bool mqc_id_valid(const char *s, size_t len);
/* The same for a NUL-terminated string; NULL is invalid. */
bool mqc_id_valid_str(const char *s);

/* Push tokens (APNs hex, FCM registration tokens): 1..max characters of
 * [A-Za-z0-9:_.-]. NULL is invalid. */
bool mqc_push_token_valid(const char *t, size_t max);

#endif
