/* Replies to one connection: `res` and `err` events for the device that
 * asked. Mosquitto 2.0.11 sends a publish addressed by client id to
 * whichever connection holds that id when it sends it (at the top of the
 * next loop pass), and a reply may be made while another connection is
 * logging in (a blocking Redis call reads the replies in flight). So a reply
 * is only queued here, and at the end of tick, the last thing of a pass
 * before Mosquitto sends, it is published if the connection that asked (user
 * and connection number, not just the client id: plugin/clientids.c) still
 * holds its client id; otherwise it is dropped. A reply therefore never
 * reaches another user who took the id over, nor a persistent session that
 * outlived the connection (Mosquitto's ACL check at reconnect guards what
 * was queued before). Broker thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/event.h"
#include "core/id.h"
#include "core/log.h"
#include "core/topic.h"
#include "plugin/plugin.h"

struct mqc_reply {
    struct mqc_reply *next;
    uint64_t conn;
    char user[MQC_ID_MAX + 1];
    char *client_id;
    size_t len;
    char payload[];
};

void mqc_plugin__reply(struct mqc_plugin *p, const struct mqc_sender *to, const char *payload,
                       size_t len)
{
    if (!to->conn || !to->client_id || !to->user)
        return; /* not a connection that holds an id: nobody to answer */
    struct mqc_reply *r = malloc(sizeof *r + len + 1);
    if (!r || !(r->client_id = strdup(to->client_id))) {
        free(r);
        mqc_log(MQC_LOG_ERR, "reply: out of memory (user=%s)", to->user);
        return;
    }
    r->next = NULL;
    r->conn = to->conn;
    snprintf(r->user, sizeof r->user, "%s", to->user);
    r->len = len;
    memcpy(r->payload, payload, len);
    r->payload[len] = '\0';
    if (!p->replies_tail)
        p->replies_tail = &p->replies;
    *p->replies_tail = r;
    p->replies_tail = &r->next;
}

void mqc_plugin__send_err(struct mqc_plugin *p, const struct mqc_sender *to, const char *ref_key,
                          const char *ref, int err, const char *msg)
{
    char *json = mqc_event_err(ref_key, ref, err, msg, mqc_clock_wall_ms());
    if (!json) {
        mqc_log(MQC_LOG_ERR, "plugin: cannot build err event: out of memory");
        return;
    }
    mqc_plugin__reply(p, to, json, strlen(json));
    free(json);
}

void mqc_plugin__replies_flush(struct mqc_plugin *p)
{
    struct mqc_reply *r = p->replies;
    p->replies = NULL;
    p->replies_tail = &p->replies;
    while (r) {
        struct mqc_reply *next = r->next;
        char topic[96];
        if (!mqc_plugin__client_conn_live(p, r->client_id, r->user, r->conn)) {
            mqc_log(MQC_LOG_DEBUG, "reply: dropped: the asking connection is gone (user=%s)",
                    r->user);
        } else if (mqc_topic_inbox(r->user, topic, sizeof topic) == 0) {
            int rc = mqc_plugin__publish(r->client_id, topic, r->payload, r->len, 1, false);
            if (rc != MOSQ_ERR_SUCCESS)
                mqc_log(MQC_LOG_ERR, "reply: publish failed (user=%s rc=%d)", r->user, rc);
        }
        free(r->client_id);
        free(r);
        r = next;
    }
}

void mqc_plugin__replies_free(struct mqc_plugin *p)
{
    while (p->replies) {
        struct mqc_reply *r = p->replies;
        p->replies = r->next;
        free(r->client_id);
        free(r);
    }
    p->replies_tail = &p->replies;
}
