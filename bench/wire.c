/* MQTT 3.1.1 encoding and decoding for the load generator (see wire.h). The
 * parser trusts nothing: every length is checked against the bytes present,
 * because they come from a socket. */
#include "bench/wire.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

#define MAX_REMAINING 268435455u /* largest MQTT remaining length */

int mqc_buf_reserve(struct mqc_buf *b, size_t extra)
{
    if (b->off > 0 && (b->off == b->len || b->off >= b->cap / 2)) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
    }
    if (b->cap - b->len >= extra)
        return MQC_OK;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < extra) {
        if (cap > ((size_t)1 << 40))
            return MQC_ENOMEM;
        cap *= 2;
    }
    unsigned char *p = realloc(b->data, cap);
    if (!p)
        return MQC_ENOMEM;
    b->data = p;
    b->cap = cap;
    return MQC_OK;
}

void mqc_buf_consume(struct mqc_buf *b, size_t n)
{
    b->off += n;
    if (b->off >= b->len)
        b->off = b->len = 0;
}

void mqc_buf_cleanup(struct mqc_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* Bytes needed to encode remaining length n (n <= MAX_REMAINING). */
static size_t varint_size(size_t n)
{
    return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

/* Reserve room for a packet with remaining length rem and write its fixed
 * header; returns the write position through *p. */
static int begin(struct mqc_buf *out, uint8_t first, size_t rem, unsigned char **p)
{
    if (rem > MAX_REMAINING)
        return MQC_EBADREQ;
    int rc = mqc_buf_reserve(out, 1 + varint_size(rem) + rem);
    if (rc != MQC_OK)
        return rc;
    unsigned char *w = out->data + out->len;
    *w++ = first;
    do {
        unsigned char byte = rem % 128;
        rem /= 128;
        if (rem > 0)
            byte |= 0x80;
        *w++ = byte;
    } while (rem > 0);
    *p = w;
    return MQC_OK;
}

static unsigned char *put16(unsigned char *w, uint16_t v)
{
    w[0] = (unsigned char)(v >> 8);
    w[1] = (unsigned char)(v & 0xff);
    return w + 2;
}

static unsigned char *put_str(unsigned char *w, const char *s, size_t len)
{
    w = put16(w, (uint16_t)len);
    memcpy(w, s, len);
    return w + len;
}

int mqc_wire_connect(struct mqc_buf *out, const char *client_id, const char *user,
                     const char *password, uint16_t keepalive)
{
    size_t cid_len = strlen(client_id);
    size_t user_len = user ? strlen(user) : 0;
    size_t pw_len = password ? strlen(password) : 0;
    if (cid_len > 65535 || user_len > 65535 || pw_len > 65535 || (password && !user))
        return MQC_EBADREQ;
    size_t rem = 10 + 2 + cid_len + (user ? 2 + user_len : 0) + (password ? 2 + pw_len : 0);
    unsigned char *w;
    int rc = begin(out, MQC_WIRE_CONNECT << 4, rem, &w);
    if (rc != MQC_OK)
        return rc;
    w = put_str(w, "MQTT", 4);
    *w++ = 4; /* protocol level: 3.1.1 */
    *w++ = (unsigned char)(0x02 | (user ? 0x80 : 0) | (password ? 0x40 : 0)); /* clean */
    w = put16(w, keepalive);
    w = put_str(w, client_id, cid_len);
    if (user)
        w = put_str(w, user, user_len);
    if (password)
        w = put_str(w, password, pw_len);
    out->len = (size_t)(w - out->data);
    return MQC_OK;
}

int mqc_wire_subscribe(struct mqc_buf *out, uint16_t pid, const char *filter, uint8_t qos)
{
    size_t len = strlen(filter);
    if (len == 0 || len > 65535 || qos > 2 || pid == 0)
        return MQC_EBADREQ;
    unsigned char *w;
    int rc = begin(out, (MQC_WIRE_SUBSCRIBE << 4) | 0x02, 2 + 2 + len + 1, &w);
    if (rc != MQC_OK)
        return rc;
    w = put16(w, pid);
    w = put_str(w, filter, len);
    *w++ = qos;
    out->len = (size_t)(w - out->data);
    return MQC_OK;
}

int mqc_wire_publish(struct mqc_buf *out, const char *topic, size_t topic_len, uint16_t pid,
                     uint8_t qos, const void *payload, size_t payload_len)
{
    if (topic_len == 0 || topic_len > 65535 || qos > 2 || (qos > 0 && pid == 0))
        return MQC_EBADREQ;
    size_t rem = 2 + topic_len + (qos > 0 ? 2 : 0) + payload_len;
    unsigned char *w;
    int rc = begin(out, (unsigned char)((MQC_WIRE_PUBLISH << 4) | (qos << 1)), rem, &w);
    if (rc != MQC_OK)
        return rc;
    w = put_str(w, topic, topic_len);
    if (qos > 0)
        w = put16(w, pid);
    if (payload_len > 0)
        memcpy(w, payload, payload_len);
    out->len = (size_t)(w + payload_len - out->data);
    return MQC_OK;
}

int mqc_wire_puback(struct mqc_buf *out, uint16_t pid)
{
    unsigned char *w;
    int rc = begin(out, MQC_WIRE_PUBACK << 4, 2, &w);
    if (rc != MQC_OK)
        return rc;
    w = put16(w, pid);
    out->len = (size_t)(w - out->data);
    return MQC_OK;
}

int mqc_wire_disconnect(struct mqc_buf *out)
{
    unsigned char *w;
    int rc = begin(out, MQC_WIRE_DISCONNECT << 4, 0, &w);
    if (rc != MQC_OK)
        return rc;
    out->len = (size_t)(w - out->data);
    return MQC_OK;
}

static uint16_t get16(const unsigned char *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

/* Read the fixed header at data[0..len): *hdr its size and *rem the
 * remaining length; *hdr 0 when the length bytes are not all here yet.
 * MQC_EBADREQ when the length takes more than 4 bytes. */
static int fixed_header(const unsigned char *data, size_t len, size_t *hdr, size_t *rem)
{
    size_t mult = 1, i = 1;
    *hdr = *rem = 0;
    for (;;) {
        if (i >= len)
            return MQC_OK;
        if (i > 4)
            return MQC_EBADREQ;
        *rem += (data[i] & 0x7f) * mult;
        mult *= 128;
        if (!(data[i++] & 0x80))
            break;
    }
    *hdr = i;
    return MQC_OK;
}

size_t mqc_wire_pending(const unsigned char *data, size_t len)
{
    size_t hdr, rem;
    if (fixed_header(data, len, &hdr, &rem) != MQC_OK || hdr == 0 || len - hdr >= rem)
        return 0;
    return hdr + rem;
}

int mqc_wire_parse(const unsigned char *data, size_t len, struct mqc_wire_packet *pkt, size_t *used)
{
    *used = 0;
    memset(pkt, 0, sizeof(*pkt));
    size_t i, rem;
    if (fixed_header(data, len, &i, &rem) != MQC_OK)
        return MQC_EBADREQ;
    if (i == 0 || len - i < rem)
        return MQC_OK; /* not all here yet */
    const unsigned char *body = data + i;
    pkt->type = data[0] >> 4;
    pkt->flags = data[0] & 0x0f;
    switch (pkt->type) {
    case MQC_WIRE_CONNACK:
        if (rem != 2)
            return MQC_EBADREQ;
        pkt->rc = body[1];
        break;
    case MQC_WIRE_PUBACK:
        if (rem != 2)
            return MQC_EBADREQ;
        pkt->pid = get16(body);
        break;
    case MQC_WIRE_SUBACK:
        if (rem < 3)
            return MQC_EBADREQ;
        pkt->pid = get16(body);
        pkt->rc = body[2];
        break;
    case MQC_WIRE_PINGRESP:
        if (rem != 0)
            return MQC_EBADREQ;
        break;
    case MQC_WIRE_PUBLISH: {
        pkt->qos = (pkt->flags >> 1) & 3;
        if (pkt->qos == 3 || rem < 2)
            return MQC_EBADREQ;
        size_t tlen = get16(body);
        size_t hdr = 2 + tlen + (pkt->qos > 0 ? 2 : 0);
        if (hdr > rem)
            return MQC_EBADREQ;
        pkt->topic = (const char *)body + 2;
        pkt->topic_len = tlen;
        if (pkt->qos > 0)
            pkt->pid = get16(body + 2 + tlen);
        pkt->payload = body + hdr;
        pkt->payload_len = rem - hdr;
        break;
    }
    default:
        return MQC_EBADREQ; /* nothing else is sent to a 3.1.1 client */
    }
    *used = i + rem;
    return MQC_OK;
}
