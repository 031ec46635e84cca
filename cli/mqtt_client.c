/* The terminal client's MQTT connection (see mqtt_client.h). libmosquitto is
 * driven by hand (mosquitto_loop_read/write/misc around our own poll), never
 * with mosquitto_loop_start, so its callbacks run inside mqc_client_run on
 * the caller's thread. A publish made inside a callback is only queued by
 * libmosquitto; it goes out on the next pass, when poll sees the socket
 * writable (mosquitto_want_write). MQTT 3.1.1, clean session: everything the
 * client needs after a drop (the inbox subscription, unacknowledged sends)
 * is set up again from the ready callback.
 *
 * Pointer parameters of the static functions here are borrowed unless their
 * comment says otherwise.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <sodium.h>

#include "cli/mqtt_client.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/topic.h"

#define KEEPALIVE_S 30
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 10000
#define HOST_MAX 256

enum state {
    ST_DOWN,        /* no socket; next_attempt_ms says when to try again */
    ST_CONNECTING,  /* socket open, waiting for CONNACK */
    ST_SUBSCRIBING, /* CONNACK 0, waiting for the inbox SUBACK */
    ST_READY,       /* inbox subscribed */
    ST_CLOSING,     /* DISCONNECT sent or about to be; never reconnect */
    ST_CLOSED,
};

struct mqc_client {
    struct mosquitto *mosq; /* owned */
    struct mqc_client_cb cb;
    char user[MQC_ID_MAX + 1];
    char host[HOST_MAX];
    int port;
    char inbox[MQC_CLIENT_TOPIC_MAX];
    enum state state;
    bool started;    /* mqc_client_start was called: reconnect when down */
    bool ever_ready; /* the ready callback has run once */
    int fatal;       /* MQC_OK, or why the session cannot go on */
    int sub_mid;     /* mid of the inbox SUBSCRIBE */
    int inflight;    /* QoS 1 publishes not yet PUBACKed */
    int64_t next_attempt_ms;
    int backoff_ms;
    char last_error[400];
};

/* what and why are borrowed; the sentence is cut to fit. */
static void set_error(struct mqc_client *c, const char *what, const char *why)
{
    if (snprintf(c->last_error, sizeof c->last_error, "%s: %s", what, why) < 0)
        c->last_error[0] = '\0';
}

/* Schedule the next connection attempt after a failure, doubling the wait;
 * the wait drawn is jittered in [w/2, w] so that clients refused together
 * (a close without CONNACK is the server's "busy": login storm, login
 * pacing) do not all come back at once. */
static void schedule_retry(struct mqc_client *c)
{
    int half = c->backoff_ms / 2;
    c->next_attempt_ms = mqc_clock_mono_ms() + half + (int)randombytes_uniform((uint32_t)half + 1);
    c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    struct mqc_client *c = obj;
    if (rc != 0) {
        set_error(c, "broker refused the connection", mosquitto_connack_string(rc));
        /* 3 = server unavailable: worth retrying. 4, 5 = bad user name or
         * password, not authorised: retrying cannot help. */
        if (rc == 4 || rc == 5)
            c->fatal = MQC_EAUTH;
        else if (rc != 3)
            c->fatal = MQC_EINTERNAL;
        return;
    }
    int mid = 0;
    int src = mosquitto_subscribe(mosq, &mid, c->inbox, 1);
    if (src != MOSQ_ERR_SUCCESS) {
        set_error(c, "cannot subscribe to the inbox", mosquitto_strerror(src));
        (void)mosquitto_disconnect(mosq);
        return;
    }
    c->sub_mid = mid;
    c->state = ST_SUBSCRIBING;
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int qos_count,
                         const int *granted_qos)
{
    struct mqc_client *c = obj;
    if (c->state != ST_SUBSCRIBING || mid != c->sub_mid)
        return;
    if (qos_count < 1 || granted_qos[0] < 0 || granted_qos[0] > 2) {
        set_error(c, "broker refused the inbox subscription", c->inbox);
        c->fatal = MQC_EFORBIDDEN;
        (void)mosquitto_disconnect(mosq);
        return;
    }
    c->state = ST_READY;
    c->backoff_ms = BACKOFF_MIN_MS;
    c->last_error[0] = '\0';
    bool first = !c->ever_ready;
    c->ever_ready = true;
    if (c->cb.ready)
        c->cb.ready(c->cb.ctx, c, first);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    (void)mosq;
    struct mqc_client *c = obj;
    bool was_ready = c->state == ST_READY;
    c->inflight = 0;
    if (c->state == ST_CLOSING || c->state == ST_CLOSED) {
        c->state = ST_CLOSED;
        return;
    }
    if (!c->last_error[0] || was_ready)
        set_error(c, "connection lost",
                  rc == 0 ? "closed"
                          : (was_ready ? "closed by the broker or the network"
                                       : "closed before the sign-in completed"));
    c->state = ST_DOWN;
    schedule_retry(c);
    if (was_ready && c->cb.lost)
        c->cb.lost(c->cb.ctx, c->last_error);
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
    (void)mosq;
    (void)mid;
    struct mqc_client *c = obj;
    if (c->inflight > 0)
        c->inflight--;
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m)
{
    (void)mosq;
    struct mqc_client *c = obj;
    if (!m->topic || strcmp(m->topic, c->inbox) != 0 || m->payloadlen < 0)
        return;
    /* libmosquitto does not promise a terminating NUL: copy. */
    size_t len = (size_t)m->payloadlen;
    char *copy = malloc(len + 1);
    if (!copy) {
        set_error(c, "event dropped", "out of memory");
        return;
    }
    if (len)
        memcpy(copy, m->payload, len);
    copy[len] = '\0';
    if (c->cb.event)
        c->cb.event(c->cb.ctx, c, copy, len);
    free(copy);
}

int mqc_client_make_id(const char *prefix, char *buf, size_t size)
{
    static unsigned long counter;
    unsigned char r[8];
    char hex[2 * sizeof r + 1];
    randombytes_buf(r, sizeof r);
    if (!sodium_bin2hex(hex, sizeof hex, r, sizeof r))
        return MQC_EINTERNAL;
    int n = snprintf(buf, size, "%s-%s-%lu", prefix, hex, ++counter);
    if (n < 0 || (size_t)n >= size || !mqc_id_valid_str(buf))
        return MQC_EBADREQ;
    return MQC_OK;
}

int mqc_client_new(const char *host, int port, const char *user, const char *password,
                   const struct mqc_client_cb *cb, struct mqc_client **out)
{
    *out = NULL;
    if (!mqc_id_valid_str(user) || strlen(host) >= HOST_MAX)
        return MQC_EBADREQ;
    if (sodium_init() < 0)
        return MQC_EINTERNAL;
    struct mqc_client *c = calloc(1, sizeof *c);
    if (!c)
        return MQC_ENOMEM;
    int rc = MQC_EINTERNAL;
    char cid[MQC_ID_MAX + 32];
    c->cb = *cb;
    snprintf(c->user, sizeof c->user, "%s", user);
    snprintf(c->host, sizeof c->host, "%s", host);
    c->port = port;
    c->backoff_ms = BACKOFF_MIN_MS;
    if (mqc_topic_inbox(user, c->inbox, sizeof c->inbox) != MQC_OK) {
        rc = MQC_EBADREQ;
        goto out;
    }
    unsigned char r[8];
    char hex[2 * sizeof r + 1];
    randombytes_buf(r, sizeof r);
    if (!sodium_bin2hex(hex, sizeof hex, r, sizeof r))
        goto out;
    snprintf(cid, sizeof cid, "mqchat-%s-%s", user, hex);
    if (mosquitto_lib_init() != MOSQ_ERR_SUCCESS)
        goto out;
    c->mosq = mosquitto_new(cid, true, c);
    if (!c->mosq) {
        rc = errno == ENOMEM ? MQC_ENOMEM : MQC_EINTERNAL;
        goto out_lib;
    }
    if (mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311) !=
            MOSQ_ERR_SUCCESS ||
        mosquitto_username_pw_set(c->mosq, user, password) != MOSQ_ERR_SUCCESS)
        goto out_mosq;
    mosquitto_connect_callback_set(c->mosq, on_connect);
    mosquitto_disconnect_callback_set(c->mosq, on_disconnect);
    mosquitto_subscribe_callback_set(c->mosq, on_subscribe);
    mosquitto_publish_callback_set(c->mosq, on_publish);
    mosquitto_message_callback_set(c->mosq, on_message);
    *out = c;
    return MQC_OK;
out_mosq:
    mosquitto_destroy(c->mosq);
out_lib:
    (void)mosquitto_lib_cleanup();
out:
    free(c);
    return rc;
}

void mqc_client_free(struct mqc_client *c)
{
    if (!c)
        return;
    c->state = ST_CLOSED;
    mosquitto_destroy(c->mosq);
    (void)mosquitto_lib_cleanup();
    free(c);
}

/* Open a TCP connection and send CONNECT. On failure the retry is scheduled. */
static void attempt(struct mqc_client *c)
{
    c->last_error[0] = '\0';
    int rc = mosquitto_connect(c->mosq, c->host, c->port, KEEPALIVE_S);
    if (rc == MOSQ_ERR_SUCCESS) {
        c->state = ST_CONNECTING;
        return;
    }
    char where[300];
    snprintf(where, sizeof where, "cannot connect to %s:%d", c->host, c->port);
    set_error(c, where, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
    c->state = ST_DOWN;
    schedule_retry(c);
}

int mqc_client_run(struct mqc_client *c, int fd, int timeout_ms, bool *fd_ready)
{
    if (fd_ready)
        *fd_ready = false;
    if (c->fatal)
        return c->fatal;
    int64_t now = mqc_clock_mono_ms();
    if (c->state == ST_DOWN && c->started && now >= c->next_attempt_ms)
        attempt(c);
    if (c->fatal)
        return c->fatal;

    struct pollfd p[2];
    nfds_t n = 0;
    int sock = mosquitto_socket(c->mosq);
    int sock_i = -1, fd_i = -1;
    if (sock >= 0) {
        p[n] = (struct pollfd){.fd = sock, .events = POLLIN};
        if (mosquitto_want_write(c->mosq))
            p[n].events |= POLLOUT;
        sock_i = (int)n++;
    }
    if (fd >= 0) {
        p[n] = (struct pollfd){.fd = fd, .events = POLLIN};
        fd_i = (int)n++;
    }
    /* Wake at least once a second for keepalive, and for the next attempt. */
    int wait = timeout_ms < 1000 ? timeout_ms : 1000;
    if (c->state == ST_DOWN && c->started) {
        int64_t until = c->next_attempt_ms - now;
        if (until < wait)
            wait = until < 0 ? 0 : (int)until;
    }
    if (wait < 0)
        wait = 0;
    int ready = poll(p, n, wait);
    if (ready < 0)
        return errno == EINTR ? MQC_OK : MQC_EINTERNAL;

    if (sock_i >= 0 && (p[sock_i].revents & (POLLIN | POLLHUP | POLLERR)))
        (void)mosquitto_loop_read(c->mosq, 1); /* errors arrive as on_disconnect */
    if (sock_i >= 0 && mosquitto_socket(c->mosq) >= 0 && mosquitto_want_write(c->mosq))
        (void)mosquitto_loop_write(c->mosq, 1);
    if (mosquitto_socket(c->mosq) >= 0)
        (void)mosquitto_loop_misc(c->mosq);
    if (fd_i >= 0 && fd_ready && (p[fd_i].revents & (POLLIN | POLLHUP | POLLERR)))
        *fd_ready = true;
    return c->fatal;
}

int mqc_client_start(struct mqc_client *c, int timeout_ms)
{
    int64_t deadline = mqc_clock_mono_ms() + timeout_ms;
    c->started = true;
    c->next_attempt_ms = 0;
    while (c->state != ST_READY) {
        int64_t left = deadline - mqc_clock_mono_ms();
        if (left <= 0) {
            if (!c->last_error[0])
                set_error(c, "no answer from the broker", "timed out");
            return MQC_EUNAVAIL;
        }
        int rc = mqc_client_run(c, -1, (int)(left > INT_MAX ? INT_MAX : left), NULL);
        if (rc != MQC_OK)
            return rc;
    }
    return MQC_OK;
}

int mqc_client_set_password(struct mqc_client *c, const char *password)
{
    return mosquitto_username_pw_set(c->mosq, c->user, password) == MOSQ_ERR_SUCCESS
               ? MQC_OK
               : MQC_EINTERNAL;
}

bool mqc_client_is_ready(const struct mqc_client *c)
{
    return c->state == ST_READY;
}

int mqc_client_publish(struct mqc_client *c, const char *topic, const cJSON *payload, int qos)
{
    if (c->state != ST_READY)
        return MQC_EUNAVAIL;
    char *json = cJSON_PrintUnformatted(payload);
    if (!json)
        return MQC_ENOMEM;
    size_t len = strlen(json);
    int rc = len > INT_MAX ? MOSQ_ERR_PAYLOAD_SIZE
                           : mosquitto_publish(c->mosq, NULL, topic, (int)len, json, qos, false);
    cJSON_free(json);
    if (rc == MOSQ_ERR_NOMEM)
        return MQC_ENOMEM;
    if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST)
        return MQC_EUNAVAIL;
    if (rc != MOSQ_ERR_SUCCESS) {
        set_error(c, "publish failed", mosquitto_strerror(rc));
        return MQC_EINTERNAL;
    }
    if (qos > 0)
        c->inflight++;
    return MQC_OK;
}

int mqc_client_publish_conv(struct mqc_client *c, const char *conv, const char *leaf,
                            const cJSON *payload, int qos)
{
    char topic[MQC_CLIENT_TOPIC_MAX];
    if (!mqc_id_valid_str(conv))
        return MQC_EBADREQ;
    int n = snprintf(topic, sizeof topic, "chat/c/%s/%s", conv, leaf);
    if (n < 0 || (size_t)n >= sizeof topic)
        return MQC_EBADREQ;
    return mqc_client_publish(c, topic, payload, qos);
}

int mqc_client_publish_req(struct mqc_client *c, const cJSON *payload)
{
    char topic[MQC_CLIENT_TOPIC_MAX];
    int n = snprintf(topic, sizeof topic, "chat/u/%s/req", c->user);
    if (n < 0 || (size_t)n >= sizeof topic)
        return MQC_EBADREQ;
    return mqc_client_publish(c, topic, payload, 1);
}

int mqc_client_close(struct mqc_client *c, int timeout_ms)
{
    int64_t deadline = mqc_clock_mono_ms() + timeout_ms;
    int rc = MQC_OK;
    c->started = false; /* no reconnect from here on */
    while (c->state == ST_READY && c->inflight > 0 && mqc_clock_mono_ms() < deadline) {
        if (mqc_client_run(c, -1, 50, NULL) != MQC_OK)
            break;
    }
    if (c->inflight > 0 || c->state != ST_READY)
        rc = MQC_EUNAVAIL;
    if (mosquitto_socket(c->mosq) < 0) {
        c->state = ST_CLOSED;
        return rc;
    }
    c->state = ST_CLOSING;
    if (mosquitto_disconnect(c->mosq) != MOSQ_ERR_SUCCESS) {
        c->state = ST_CLOSED;
        return rc;
    }
    while (c->state != ST_CLOSED && mosquitto_socket(c->mosq) >= 0 &&
           mqc_clock_mono_ms() < deadline + 1000) {
        if (mqc_client_run(c, -1, 50, NULL) != MQC_OK)
            break;
    }
    c->state = ST_CLOSED;
    return rc;
}

const char *mqc_client_user(const struct mqc_client *c)
{
    return c->user;
}

const char *mqc_client_last_error(const struct mqc_client *c)
{
    return c->last_error;
}
