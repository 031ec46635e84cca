/* base64url without padding: see base64url.h. */
#include "core/base64url.h"

#include <stdlib.h>

#include "core/err.h"

static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *mqc_b64url_encode(const unsigned char *in, size_t len)
{
    size_t outlen = len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
    char *out = malloc(outlen + 1);
    if (!out)
        return NULL;
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        unsigned long v = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8 | in[i + 2];
        out[o++] = chars[v >> 18 & 63];
        out[o++] = chars[v >> 12 & 63];
        out[o++] = chars[v >> 6 & 63];
        out[o++] = chars[v & 63];
    }
    if (len - i == 1) {
        unsigned long v = (unsigned long)in[i] << 16;
        out[o++] = chars[v >> 18 & 63];
        out[o++] = chars[v >> 12 & 63];
    } else if (len - i == 2) {
        unsigned long v = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8;
        out[o++] = chars[v >> 18 & 63];
        out[o++] = chars[v >> 12 & 63];
        out[o++] = chars[v >> 6 & 63];
    }
    out[o] = '\0';
    return out;
}

static int value_of(char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '-')
        return 62;
    if (ch == '_')
        return 63;
    return -1;
}

int mqc_b64url_decode(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
    if (len % 4 == 1)
        return MQC_EBADREQ;
    unsigned char *buf = malloc(len / 4 * 3 + 3);
    if (!buf)
        return MQC_ENOMEM;
    size_t o = 0;
    unsigned long acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = value_of(in[i]);
        if (v < 0) {
            free(buf);
            return MQC_EBADREQ;
        }
        acc = (acc << 6 | (unsigned long)v) & 0xFFFFFF;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits & 0xFF);
        }
    }
    /* Leftover bits must be zero padding, or the text is not canonical. */
    if (acc & ((1UL << bits) - 1)) {
        free(buf);
        return MQC_EBADREQ;
    }
    *out = buf;
    *outlen = o;
    return MQC_OK;
}
