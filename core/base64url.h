/* base64url without padding (RFC 4648 section 5, as JWS uses it): encode and
 * a strict decode that refuses padding, foreign characters and non-zero
 * leftover bits, so one byte string has exactly one text form. Pure. */
#ifndef MQC_BASE64URL_H
#define MQC_BASE64URL_H

#include <stddef.h>

/* in (borrowed, len bytes) as base64url text, returned owned (free()), NUL
 * terminated. NULL when out of memory. */
char *mqc_b64url_encode(const unsigned char *in, size_t len);
/* Decode len characters of in (borrowed). *out gets the bytes, returned
 * owned (free()), *outlen their count. MQC_OK, MQC_EBADREQ (not canonical
 * base64url) or MQC_ENOMEM. */
int mqc_b64url_decode(const char *in, size_t len, unsigned char **out, size_t *outlen);

#endif
