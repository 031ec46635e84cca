/* AWS Signature Version 4 (the signing S3 and every S3-compatible store
 * check): the canonical request, the string to sign, the signing key, the
 * signature, and presigned URLs (query-string authentication, payload
 * UNSIGNED-PAYLOAD). HMAC-SHA256 and SHA-256 come from OpenSSL. Pure: the
 * caller passes the time and every part of the request; no I/O. Strings
 * returned are malloc'd (the caller frees them); NULL means out of memory. */
#ifndef MQC_SIGV4_H
#define MQC_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MQC_SIGV4_HEX_LEN 64  /* a SHA-256 in hex */
#define MQC_SIGV4_DATE_LEN 16 /* "20130524T000000Z" */

/* A name and a value, both borrowed: a query parameter (raw, not encoded)
 * or a header (any case; the value is trimmed when signed). */
struct mqc_sigv4_kv {
    const char *name;
    const char *value;
};

/* Who signs, where and when (all borrowed). amz_date is the request time as
 * "YYYYMMDDTHHMMSSZ" (UTC); its first 8 characters are the scope's date. */
struct mqc_sigv4 {
    const char *access_key;
    const char *secret_key;
    const char *region;  /* "us-east-1" */
    const char *service; /* "s3" */
    const char *amz_date;
};

/* AWS's URI encoding of s (borrowed, NUL-terminated): every byte but
 * A-Z a-z 0-9 - . _ ~ as %XY (upper-case hex); '/' kept when keep_slash
 * (object paths) and encoded otherwise (query names and values). */
char *mqc_sigv4_uri_encode(const char *s, bool keep_slash);

/* The UTC time unix_s as "YYYYMMDDTHHMMSSZ" into out (at least
 * MQC_SIGV4_DATE_LEN + 1 bytes). MQC_OK or MQC_EBADREQ (out of range). */
int mqc_sigv4_date(int64_t unix_s, char *out, size_t outsize);

/* The canonical request: method, path (raw, starting with '/'; encoded
 * here once, slashes kept, as S3 wants), the query parameters (any order:
 * encoded and sorted here), the headers (any order and case: lower-cased,
 * trimmed, sorted here; every one of them is signed) and the payload hash
 * (hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"). All borrowed. */
char *mqc_sigv4_canonical_request(const char *method, const char *path,
                                  const struct mqc_sigv4_kv *query, size_t nquery,
                                  const struct mqc_sigv4_kv *headers, size_t nheaders,
                                  const char *payload_hash);

/* "host;x-amz-date" etc.: the signed header names of headers, lower-cased,
 * sorted, joined by ';'. */
char *mqc_sigv4_signed_headers(const struct mqc_sigv4_kv *headers, size_t nheaders);

/* The string to sign for canonical (borrowed): algorithm, date, scope and
 * the hex SHA-256 of the canonical request. */
char *mqc_sigv4_string_to_sign(const struct mqc_sigv4 *s, const char *canonical);

/* The signing key: HMAC chain of "AWS4" + secret over date (8 digits),
 * region, service and "aws4_request". All borrowed. MQC_OK or
 * MQC_EINTERNAL. */
int mqc_sigv4_signing_key(const char *secret, const char *date8, const char *region,
                          const char *service, unsigned char key[32]);

/* The signature of string_to_sign (borrowed) with s's key, as 64 lower-case
 * hex digits into hex (at least MQC_SIGV4_HEX_LEN + 1 bytes). */
int mqc_sigv4_signature(const struct mqc_sigv4 *s, const char *string_to_sign, char *hex,
                        size_t hexsize);

/* A presigned URL: scheme ("http"/"https") :// host (with ":port" when not
 * the scheme's default; signed as the host header) path (raw, encoded here)
 * ? X-Amz-Algorithm, -Credential, -Date, -Expires (expires_s seconds),
 * -SignedHeaders (host plus headers, e.g. content-type and content-length
 * for an upload: the store then refuses a request whose headers differ)
 * & X-Amz-Signature. All borrowed; *url returned owned. MQC_OK, MQC_ENOMEM,
 * MQC_EINTERNAL. */
int mqc_sigv4_presign(const struct mqc_sigv4 *s, const char *method, const char *scheme,
                      const char *host, const char *path, long expires_s,
                      const struct mqc_sigv4_kv *headers, size_t nheaders, char **url);

#endif
