/* MQTT 3.1.1 packets for the load generator: encoders that append to a growable
 * byte buffer and a parser that reads one packet out of received bytes. No I/O
 * and no clock, so the encoding can be checked by itself (hiredis' habit: the
 * protocol apart from the event loop). Only what the benchmark speaks: CONNECT
 * with username/password, SUBSCRIBE, PUBLISH QoS 0/1, PUBACK, DISCONNECT out;
 * CONNACK, SUBACK, PUBLISH, PUBACK, PINGRESP in. */
#ifndef MQC_BENCH_WIRE_H
#define MQC_BENCH_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer. Bytes [off, len) are unread; the struct owns data. */
struct mqc_buf {
    unsigned char *data;
    size_t off;
    size_t len;
    size_t cap;
};

/* Make room for `extra` more bytes after len (compacting first when the
 * consumed prefix is large). MQC_OK or MQC_ENOMEM. */
int mqc_buf_reserve(struct mqc_buf *b, size_t extra);
/* Mark n unread bytes as consumed; resets to empty when all are. */
void mqc_buf_consume(struct mqc_buf *b, size_t n);
/* Free the storage; b is left empty and reusable. */
void mqc_buf_cleanup(struct mqc_buf *b);

/* Packet types (high nibble of the first byte). */
enum {
    MQC_WIRE_CONNECT = 1,
    MQC_WIRE_CONNACK = 2,
    MQC_WIRE_PUBLISH = 3,
    MQC_WIRE_PUBACK = 4,
    MQC_WIRE_SUBSCRIBE = 8,
    MQC_WIRE_SUBACK = 9,
    MQC_WIRE_PINGRESP = 13,
    MQC_WIRE_DISCONNECT = 14,
};

/* Encoders: append one packet to out. Strings are borrowed and must fit the
 * 16-bit length of MQTT strings; user/password may be NULL (not sent). Return
 * MQC_OK, MQC_ENOMEM, or MQC_EBADREQ when a field is too long. */
int mqc_wire_connect(struct mqc_buf *out, const char *client_id, const char *user,
                     const char *password, uint16_t keepalive);
int mqc_wire_subscribe(struct mqc_buf *out, uint16_t pid, const char *filter, uint8_t qos);
/* pid is ignored for qos 0. payload is borrowed. */
int mqc_wire_publish(struct mqc_buf *out, const char *topic, size_t topic_len, uint16_t pid,
                     uint8_t qos, const void *payload, size_t payload_len);
int mqc_wire_puback(struct mqc_buf *out, uint16_t pid);
int mqc_wire_disconnect(struct mqc_buf *out);

/* One received packet. Pointers are borrowed from the parsed bytes and are
 * valid until those bytes are consumed. */
struct mqc_wire_packet {
    uint8_t type;
    uint8_t flags;     /* low nibble of the first byte */
    uint8_t qos;       /* PUBLISH */
    uint8_t rc;        /* CONNACK return code, first SUBACK code */
    uint16_t pid;      /* PUBLISH qos>0, PUBACK, SUBACK */
    const char *topic; /* PUBLISH, not NUL-terminated */
    size_t topic_len;
    const unsigned char *payload; /* PUBLISH */
    size_t payload_len;
};

/* Parse the packet at the start of data[0..len). On MQC_OK, *used is its total
 * size, or 0 when more bytes are needed. MQC_EBADREQ for a malformed packet
 * (the caller should drop the connection). pkt is an out-parameter. */
int mqc_wire_parse(const unsigned char *data, size_t len, struct mqc_wire_packet *pkt,
                   size_t *used);
/* Total size of the packet starting at data[0..len) when its fixed header is
 * all there and its body is not; 0 otherwise (complete, too short to tell, or
 * malformed: mqc_wire_parse says which). */
size_t mqc_wire_pending(const unsigned char *data, size_t len);

#endif
