/* Publishing from the plugin: fan-out to users' inboxes (replies to one
 * connection are in reply.c). Uses mosquitto_broker_publish_copy, so the
 * broker copies the payload into memory it owns and callers keep theirs. Every fan-out also
 * goes to the other nodes holding a recipient (cluster_send.c). Broker thread
 * only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/event.h"
#include "core/log.h"
#include "core/reorder.h"
#include "core/topic.h"
#include "plugin/plugin.h"

int mqc_plugin__publish(const char *client_id, const char *topic, const void *payload, size_t len,
                        int qos, bool retain)
{
    mqc_plugin__wake_published();
    return mosquitto_broker_publish_copy(client_id, topic, (int)len, payload, qos, retain, NULL);
}

static void deliver_local(void *ctx, const struct mqc_reorder_out *o)
{
    (void)ctx;
    char topic[96];
    for (size_t i = 0; i < o->nusers; i++) {
        if (mqc_topic_inbox(o->users[i], topic, sizeof topic) != 0)
            continue;
        int rc = mqc_plugin__publish(NULL, topic, o->payload, o->len, o->qos, false);
        if (rc != MOSQ_ERR_SUCCESS)
            mqc_log(MQC_LOG_ERR, "fanout: publish failed (user=%s rc=%d)", o->users[i], rc);
    }
}

void mqc_plugin__deliver(struct mqc_plugin *p, const char *conv, int64_t seq,
                         const char *const *users, size_t n, const char *payload, size_t len,
                         int qos)
{
    struct mqc_reorder_out ev = {conv, seq, users, n, payload, len, qos};
    if (seq < 0 || !conv || !p->reorder)
        deliver_local(p, &ev);
    else
        mqc_reorder_offer(p->reorder, &ev, mqc_clock_mono_ms(), deliver_local, p);
}

void mqc_plugin__deliver_due(struct mqc_plugin *p)
{
    if (p->reorder && mqc_reorder_waiting(p->reorder))
        mqc_reorder_due(p->reorder, mqc_clock_mono_ms(), deliver_local, p);
}

void mqc_plugin__fanout(struct mqc_plugin *p, const char *conv, int64_t seq,
                        const char *const *users, size_t n, const char *payload, size_t len,
                        int qos)
{
    mqc_plugin__deliver(p, conv, seq, users, n, payload, len, qos);
    mqc_plugin__cluster_fanout(p, conv, seq, users, n, NULL, payload, len, qos);
}

bool mqc_plugin__fanout_conv(struct mqc_plugin *p, const char *conv, int64_t seq, const char *skip,
                             const char *payload, size_t len, int qos)
{
    size_t n;
    const char *const *users = mqc_members_list(p->members, conv, &n);
    if (!users)
        return false;
    if (!skip) {
        mqc_plugin__deliver(p, conv, seq, users, n, payload, len, qos);
    } else {
        char topic[96];
        for (size_t i = 0; i < n; i++) {
            if (strcmp(users[i], skip) == 0 || mqc_topic_inbox(users[i], topic, sizeof topic))
                continue;
            mqc_plugin__publish(NULL, topic, payload, len, qos, false);
        }
    }
    mqc_plugin__cluster_fanout(p, conv, seq, users, n, skip, payload, len, qos);
    return true;
}
