/* The terminal client's MQTT connection: owns the libmosquitto handle,
 * signs in, subscribes to chat/u/{me}/inbox, publishes JSON payloads and
 * hands every inbox event to a callback. It runs on the caller's thread (no
 * libmosquitto thread): mqc_client_run() polls the socket and, optionally,
 * one more descriptor (the terminal), so callbacks never race the caller's
 * state. After a drop it reconnects by itself with backoff and calls
 * `ready` again once the inbox subscription is back, so the caller can
 * resend what was not acknowledged. */
#ifndef MQC_MQTT_CLIENT_H
#define MQC_MQTT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/id.h"

/* "chat/c/{conv}/typing" and friends fit in this many bytes. */
#define MQC_CLIENT_TOPIC_MAX 96
/* Client message and request ids made by mqc_client_make_id fit here. */
#define MQC_CLIENT_ID_SIZE 40

struct mqc_client;

struct mqc_client_cb {
    /* The inbox subscription is in place: first is true the first time,
     * false after a reconnect. c is the client (borrowed); publishing from
     * here is allowed. */
    void (*ready)(void *ctx, struct mqc_client *c, bool first);
    /* One message on the inbox. payload is borrowed for the call, len bytes
     * and NUL-terminated. c borrowed. */
    void (*event)(void *ctx, struct mqc_client *c, const char *payload, size_t len);
    /* The connection was lost after being ready; why is borrowed. The client
     * is already trying to reconnect. May be NULL. */
    void (*lost)(void *ctx, const char *why);
    void *ctx; /* borrowed, passed back as is */
};

/* Make a client for user (borrowed; a valid id) with password (borrowed,
 * copied into libmosquitto) at host:port (host borrowed). cb is copied. The
 * client id is "mqchat-{user}-{16 hex digits}". On MQC_OK *out is returned
 * owned (mqc_client_free). Nothing is sent until mqc_client_start. */
int mqc_client_new(const char *host, int port, const char *user, const char *password,
                   const struct mqc_client_cb *cb, struct mqc_client **out);
/* Sign in with password (borrowed, copied) from the next (re)connect on:
 * a device session token that replaced the password. MQC_OK or
 * MQC_EINTERNAL. */
int mqc_client_set_password(struct mqc_client *c, const char *password);
/* Disconnect at once (no flushing) and free. NULL does nothing. */
void mqc_client_free(struct mqc_client *c);

/* Connect and subscribe, retrying a refused TCP connect or a connection
 * closed before CONNACK (the broker does that while Redis is down) until
 * timeout_ms have passed. Returns MQC_OK once ready (the ready callback has
 * run), MQC_EAUTH when the broker refused the user name or password,
 * MQC_EFORBIDDEN when the inbox subscription was refused, MQC_EUNAVAIL on
 * timeout. Prints nothing; see mqc_client_last_error. */
int mqc_client_start(struct mqc_client *c, int timeout_ms);

/* Service the connection for at most timeout_ms: read, write, keepalive,
 * reconnect when it is time. When fd >= 0 it is polled for input too and
 * *fd_ready tells whether it became readable (or hung up); the call then
 * returns at once. Returns MQC_OK, or the fatal error that ended the
 * session (MQC_EAUTH when a reconnect was refused: the user was deleted or
 * the password changed). A poll interrupted by a signal returns MQC_OK. */
int mqc_client_run(struct mqc_client *c, int fd, int timeout_ms, bool *fd_ready);

/* Is the inbox subscription in place right now? */
bool mqc_client_is_ready(const struct mqc_client *c);

/* Publish payload (borrowed) as compact JSON on topic (borrowed) at qos 0
 * or 1, not retained. MQC_EUNAVAIL when not ready (nothing sent: the caller
 * keeps the message for its ready callback), MQC_ENOMEM, MQC_EINTERNAL when
 * libmosquitto refused. */
int mqc_client_publish(struct mqc_client *c, const char *topic, const cJSON *payload, int qos);

/* Publish on chat/c/{conv}/{leaf} (both borrowed; leaf is "send", "receipt"
 * or "typing"); MQC_EBADREQ when conv is not a valid id. Else as above. */
int mqc_client_publish_conv(struct mqc_client *c, const char *conv, const char *leaf,
                            const cJSON *payload, int qos);

/* Publish on chat/u/{me}/req. As mqc_client_publish. */
int mqc_client_publish_req(struct mqc_client *c, const cJSON *payload);

/* Wait (at most timeout_ms) until every QoS 1 publish is acknowledged by the
 * broker, then send DISCONNECT and wait for the close. After this the client
 * does not reconnect. Returns MQC_OK, or MQC_EUNAVAIL when something was
 * left unacknowledged. */
int mqc_client_close(struct mqc_client *c, int timeout_ms);

/* The signed-in user (borrowed from c). */
const char *mqc_client_user(const struct mqc_client *c);
/* A sentence on the last connection failure (borrowed from c; "" if none). */
const char *mqc_client_last_error(const struct mqc_client *c);

/* Write a fresh id "{prefix}-{16 hex digits}-{counter}" into buf (size >=
 * MQC_CLIENT_ID_SIZE); prefix borrowed, at most 8 characters. Unique per
 * process and, by the random part, across devices and restarts. The result
 * is a valid id (core/id.h). Returns MQC_OK or MQC_EBADREQ when it does not
 * fit. */
int mqc_client_make_id(const char *prefix, char *buf, size_t size);

#endif
