/* AWS Signature Version 4 (see sigv4.h): string building, the canonical
 * forms AWS defines, and the HMAC-SHA256 chain, with OpenSSL's one-shot
 * HMAC() and SHA256(). */
#include "core/sigv4.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "core/err.h"
#include "core/strbuf.h"

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static void sb_encode(struct mqc_strbuf *b, const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (unreserved(*p) || (keep_slash && *p == '/')) {
            mqc_strbuf_putn(b, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            mqc_strbuf_putn(b, e, 3);
        }
    }
}

char *mqc_sigv4_uri_encode(const char *s, bool keep_slash)
{
    struct mqc_strbuf b = {0};
    sb_encode(&b, s, keep_slash);
    return mqc_strbuf_take(&b);
}

int mqc_sigv4_date(int64_t unix_s, char *out, size_t outsize)
{
    struct tm tm;
    time_t t = (time_t)unix_s;
    if (unix_s < 0 || unix_s > 253402300799LL || !gmtime_r(&t, &tm) || outsize < 17)
        return MQC_EBADREQ;
    if (strftime(out, outsize, "%Y%m%dT%H%M%SZ", &tm) != MQC_SIGV4_DATE_LEN)
        return MQC_EBADREQ;
    return MQC_OK;
}

static void hex_of(const unsigned char *d, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * n] = '\0';
}

/* One canonical header or query pair: name and value as they are signed. */
struct pair {
    char *name, *value;
};

static int cmp_pair(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

static void pairs_free(struct pair *p, size_t n)
{
    for (size_t i = 0; p && i < n; i++) {
        free(p[i].name);
        free(p[i].value);
    }
    free(p);
}

/* A header value as signed: leading and trailing space gone, runs of
 * spaces inside made one. */
static char *trim_value(const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        bool sp = v[i] == ' ' || v[i] == '\t';
        if (sp && o > 0 && out[o - 1] == ' ')
            continue;
        out[o++] = sp ? ' ' : v[i];
    }
    out[o] = '\0';
    return out;
}

/* Sorted canonical headers (lower-case names, trimmed values). */
static struct pair *canon_headers(const struct mqc_sigv4_kv *h, size_t n)
{
    struct pair *p = calloc(n ? n : 1, sizeof *p);
    for (size_t i = 0; p && i < n; i++) {
        p[i].name = strdup(h[i].name);
        p[i].value = trim_value(h[i].value);
        if (!p[i].name || !p[i].value) {
            pairs_free(p, n);
            return NULL;
        }
        for (char *c = p[i].name; *c; c++)
            *c = (char)tolower((unsigned char)*c);
    }
    if (p)
        qsort(p, n, sizeof *p, cmp_pair);
    return p;
}

/* Sorted canonical query pairs (both parts encoded). */
static struct pair *canon_query(const struct mqc_sigv4_kv *q, size_t n)
{
    struct pair *p = calloc(n ? n : 1, sizeof *p);
    for (size_t i = 0; p && i < n; i++) {
        p[i].name = mqc_sigv4_uri_encode(q[i].name, false);
        p[i].value = mqc_sigv4_uri_encode(q[i].value ? q[i].value : "", false);
        if (!p[i].name || !p[i].value) {
            pairs_free(p, n);
            return NULL;
        }
    }
    if (p)
        qsort(p, n, sizeof *p, cmp_pair);
    return p;
}

static void sb_query(struct mqc_strbuf *b, const struct pair *q, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            mqc_strbuf_puts(b, "&");
        mqc_strbuf_puts(b, q[i].name);
        mqc_strbuf_puts(b, "=");
        mqc_strbuf_puts(b, q[i].value);
    }
}

static void sb_signed_names(struct mqc_strbuf *b, const struct pair *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            mqc_strbuf_puts(b, ";");
        mqc_strbuf_puts(b, h[i].name);
    }
}

char *mqc_sigv4_signed_headers(const struct mqc_sigv4_kv *headers, size_t nheaders)
{
    struct pair *h = canon_headers(headers, nheaders);
    if (!h)
        return NULL;
    struct mqc_strbuf b = {0};
    sb_signed_names(&b, h, nheaders);
    pairs_free(h, nheaders);
    return mqc_strbuf_take(&b);
}

char *mqc_sigv4_canonical_request(const char *method, const char *path,
                                  const struct mqc_sigv4_kv *query, size_t nquery,
                                  const struct mqc_sigv4_kv *headers, size_t nheaders,
                                  const char *payload_hash)
{
    struct pair *q = canon_query(query, nquery);
    struct pair *h = q ? canon_headers(headers, nheaders) : NULL;
    if (!q || !h) {
        pairs_free(q, nquery);
        return NULL;
    }
    struct mqc_strbuf b = {0};
    mqc_strbuf_puts(&b, method);
    mqc_strbuf_puts(&b, "\n");
    sb_encode(&b, path, true);
    mqc_strbuf_puts(&b, "\n");
    sb_query(&b, q, nquery);
    mqc_strbuf_puts(&b, "\n");
    for (size_t i = 0; i < nheaders; i++) {
        mqc_strbuf_puts(&b, h[i].name);
        mqc_strbuf_puts(&b, ":");
        mqc_strbuf_puts(&b, h[i].value);
        mqc_strbuf_puts(&b, "\n");
    }
    mqc_strbuf_puts(&b, "\n");
    sb_signed_names(&b, h, nheaders);
    mqc_strbuf_puts(&b, "\n");
    mqc_strbuf_puts(&b, payload_hash);
    pairs_free(q, nquery);
    pairs_free(h, nheaders);
    return mqc_strbuf_take(&b);
}

/* "<date8>/<region>/<service>/aws4_request" */
static void sb_scope(struct mqc_strbuf *b, const struct mqc_sigv4 *s)
{
    mqc_strbuf_putn(b, s->amz_date, 8);
    mqc_strbuf_puts(b, "/");
    mqc_strbuf_puts(b, s->region);
    mqc_strbuf_puts(b, "/");
    mqc_strbuf_puts(b, s->service);
    mqc_strbuf_puts(b, "/aws4_request");
}

char *mqc_sigv4_string_to_sign(const struct mqc_sigv4 *s, const char *canonical)
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    char hex[2 * SHA256_DIGEST_LENGTH + 1];
    if (strlen(s->amz_date) != MQC_SIGV4_DATE_LEN)
        return NULL;
    SHA256((const unsigned char *)canonical, strlen(canonical), d);
    hex_of(d, sizeof d, hex);
    struct mqc_strbuf b = {0};
    mqc_strbuf_puts(&b, "AWS4-HMAC-SHA256\n");
    mqc_strbuf_puts(&b, s->amz_date);
    mqc_strbuf_puts(&b, "\n");
    sb_scope(&b, s);
    mqc_strbuf_puts(&b, "\n");
    mqc_strbuf_puts(&b, hex);
    return mqc_strbuf_take(&b);
}

/* out = HMAC-SHA256(key, msg); false on an OpenSSL failure. */
static bool hmac(const unsigned char *key, size_t keylen, const char *msg, unsigned char out[32])
{
    unsigned int n = 0;
    return HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out, &n) &&
           n == 32;
}

int mqc_sigv4_signing_key(const char *secret, const char *date8, const char *region,
                          const char *service, unsigned char key[32])
{
    size_t n = strlen(secret);
    unsigned char *k0 = malloc(n + 5);
    if (!k0)
        return MQC_ENOMEM;
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, n);
    char date[9];
    snprintf(date, sizeof date, "%.8s", date8);
    unsigned char a[32], b[32];
    bool ok = hmac(k0, n + 4, date, a) && hmac(a, 32, region, b) && hmac(b, 32, service, a) &&
              hmac(a, 32, "aws4_request", key);
    OPENSSL_cleanse(k0, n + 4);
    OPENSSL_cleanse(a, sizeof a);
    OPENSSL_cleanse(b, sizeof b);
    free(k0);
    return ok ? MQC_OK : MQC_EINTERNAL;
}

int mqc_sigv4_signature(const struct mqc_sigv4 *s, const char *string_to_sign, char *hex,
                        size_t hexsize)
{
    unsigned char key[32], sig[32];
    if (hexsize < MQC_SIGV4_HEX_LEN + 1 || strlen(s->amz_date) != MQC_SIGV4_DATE_LEN)
        return MQC_EINTERNAL;
    int rc = mqc_sigv4_signing_key(s->secret_key, s->amz_date, s->region, s->service, key);
    if (rc != MQC_OK)
        return rc;
    bool ok = hmac(key, sizeof key, string_to_sign, sig);
    OPENSSL_cleanse(key, sizeof key);
    if (!ok)
        return MQC_EINTERNAL;
    hex_of(sig, sizeof sig, hex);
    return MQC_OK;
}

int mqc_sigv4_presign(const struct mqc_sigv4 *s, const char *method, const char *scheme,
                      const char *host, const char *path, long expires_s,
                      const struct mqc_sigv4_kv *headers, size_t nheaders, char **url)
{
    *url = NULL;
    int rc = MQC_ENOMEM;
    char *signed_names = NULL, *canonical = NULL, *sts = NULL;
    struct mqc_strbuf cred = {0}, out = {0};
    struct mqc_sigv4_kv *h = calloc(nheaders + 1, sizeof *h);
    if (!h)
        goto out;
    h[0] = (struct mqc_sigv4_kv){"host", host};
    if (nheaders)
        memcpy(h + 1, headers, nheaders * sizeof *h);
    mqc_strbuf_puts(&cred, s->access_key);
    mqc_strbuf_puts(&cred, "/");
    sb_scope(&cred, s);
    char expires[24];
    snprintf(expires, sizeof expires, "%ld", expires_s);
    signed_names = mqc_sigv4_signed_headers(h, nheaders + 1);
    if (cred.oom || !signed_names)
        goto out;
    struct mqc_sigv4_kv q[] = {
        {"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
        {"X-Amz-Credential", cred.p ? cred.p : ""},
        {"X-Amz-Date", s->amz_date},
        {"X-Amz-Expires", expires},
        {"X-Amz-SignedHeaders", signed_names},
    };
    size_t nq = sizeof q / sizeof q[0];
    canonical =
        mqc_sigv4_canonical_request(method, path, q, nq, h, nheaders + 1, "UNSIGNED-PAYLOAD");
    sts = canonical ? mqc_sigv4_string_to_sign(s, canonical) : NULL;
    if (!sts)
        goto out;
    char sig[MQC_SIGV4_HEX_LEN + 1];
    if ((rc = mqc_sigv4_signature(s, sts, sig, sizeof sig)) != MQC_OK)
        goto out;
    /* The URL's query is the canonical one (already sorted and encoded)
     * plus the signature, which sorts after every X-Amz-S... name anyway. */
    struct pair *cq = canon_query(q, nq);
    rc = MQC_ENOMEM;
    if (!cq)
        goto out;
    mqc_strbuf_puts(&out, scheme);
    mqc_strbuf_puts(&out, "://");
    mqc_strbuf_puts(&out, host);
    sb_encode(&out, path, true);
    mqc_strbuf_puts(&out, "?");
    sb_query(&out, cq, nq);
    mqc_strbuf_puts(&out, "&X-Amz-Signature=");
    mqc_strbuf_puts(&out, sig);
    pairs_free(cq, nq);
    if ((*url = mqc_strbuf_take(&out)) != NULL)
        rc = MQC_OK;
out:
    mqc_strbuf_free(&out);
    mqc_strbuf_free(&cred);
    free(signed_names);
    free(canonical);
    free(sts);
    free(h);
    return rc;
}
