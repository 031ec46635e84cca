/* Sync token encoding (see synctoken.h). */
#include "core/synctoken.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"

/* First 4 bytes of SHA-256("mqchat-sync\n" + user), as 8 hex digits. */
static void fingerprint(const char *user, char out[9])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)"mqchat-sync\n", 12);
    crypto_hash_sha256_update(&st, (const unsigned char *)user, strlen(user));
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(out, 9, h, 4);
}

/* Parse 1..18 decimal digits (no sign, no leading zero unless "0") of s[0..len)
 * into *v. Returns 1 on success. */
static int parse_num(const char *s, size_t len, int64_t *v)
{
    if (len < 1 || len > 18 || (len > 1 && s[0] == '0'))
        return 0;
    int64_t x = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return 1;
}

/* Is s[0..len) a v1 stream id: digits "-" digits, each at most 20 digits? */
static int stream_id_valid(const char *s, size_t len)
{
    size_t i = 0, a = 0, b = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++, a++;
    if (i >= len || s[i] != '-')
        return 0;
    i++;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++, b++;
    return i == len && a >= 1 && a <= 20 && b >= 1 && b <= 20;
}

int mqc_synctoken_encode(const char *user, const struct mqc_syncpos *pos, char *out, size_t size)
{
    if (!mqc_id_valid_str(user) || !pos || pos->t < 0 || pos->t > 999999999999999999LL)
        return MQC_EBADREQ;
    if (pos->tie &&
        (!mqc_id_valid_str(pos->conv) || pos->seq < 0 || pos->seq > 999999999999999999LL))
        return MQC_EBADREQ;
    char fp[9];
    fingerprint(user, fp);
    int n = pos->tie ? snprintf(out, size, "t2.%lld.%lld.%s.%s", (long long)pos->t,
                                (long long)pos->seq, pos->conv, fp)
                     : snprintf(out, size, "t2.%lld.%s", (long long)pos->t, fp);
    return (n < 0 || (size_t)n >= size) ? MQC_EINTERNAL : MQC_OK;
}

int mqc_synctoken_decode(const char *user, const char *token, struct mqc_syncpos *pos)
{
    if (!mqc_id_valid_str(user) || !token || !pos)
        return MQC_EBADREQ;
    memset(pos, 0, sizeof *pos);
    size_t len = strnlen(token, MQC_SYNCTOKEN_MAX + 1);
    if (len > MQC_SYNCTOKEN_MAX || len < 3 + 1 + 1 + 8)
        return MQC_EBADREQ;
    const char *fp_at = token + len - 8;
    if (fp_at[-1] != '.')
        return MQC_EBADREQ;
    char fp[9];
    fingerprint(user, fp);
    if (memcmp(fp, fp_at, 8) != 0)
        return MQC_EBADREQ;
    const char *body = token + 3;
    size_t blen = (size_t)(fp_at - 1 - body); /* between "tN." and ".fp" */
    if (strncmp(token, "t1.", 3) == 0) {
        if (!stream_id_valid(body, blen))
            return MQC_EBADREQ;
        pos->legacy = true;
        return MQC_OK;
    }
    if (strncmp(token, "t2.", 3) != 0)
        return MQC_EBADREQ;
    const char *dot = memchr(body, '.', blen);
    if (!dot)
        return parse_num(body, blen, &pos->t) ? MQC_OK : MQC_EBADREQ;
    if (!parse_num(body, (size_t)(dot - body), &pos->t))
        return MQC_EBADREQ;
    const char *s = dot + 1;
    size_t rest = blen - (size_t)(s - body);
    const char *dot2 = memchr(s, '.', rest);
    if (!dot2 || !parse_num(s, (size_t)(dot2 - s), &pos->seq))
        return MQC_EBADREQ;
    size_t clen = rest - (size_t)(dot2 + 1 - s);
    if (!mqc_id_valid(dot2 + 1, clen))
        return MQC_EBADREQ;
    memcpy(pos->conv, dot2 + 1, clen);
    pos->conv[clen] = '\0';
    pos->tie = true;
    return MQC_OK;
}
