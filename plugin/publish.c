/* Publishing from the plugin: fan-out to users' inboxes (replies to one
 * connection are in reply.c). Uses mosquitto_broker_publish_copy, so the
 * broker copies the payload into memory it owns and callers keep theirs. Every fan-out also
 * goes to the other nodes holding a recipient (cluster.c). Broker thread
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

void mqc_plugin__members_update(struct mqc_plugin *p, const char *conv, int64_t mver,
                                const char *const *members, size_t n)
{
    if (mqc_members_set(p->members, conv, mver, members, n) != 0)
        mqc_log(MQC_LOG_ERR, "members: cannot cache members: out of memory (conv=%s)", conv);
    /* A fresh list may come from a change made on another node: users here
     * now see the presence of new fellow members. */
    mqc_contacts_add_group(p->contacts, members, n);
}

struct mqc_origin *mqc_plugin__origin_new(struct mqc_plugin *p, const struct mqc_sender *from,
                                          const char *conv, const char *ref, const char *op)
{
    struct mqc_origin *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->p = p;
    o->op = op;
    o->client_id = strdup(from->client_id ? from->client_id : "");
    o->to = (struct mqc_sender){o->user, o->client_id, from->conn};
    o->ref = ref ? strdup(ref) : NULL;
    if (!o->client_id || (ref && !o->ref)) {
        mqc_plugin__origin_free(o);
        return NULL;
    }
    snprintf(o->user, sizeof o->user, "%s", from->user);
    snprintf(o->conv, sizeof o->conv, "%s", conv ? conv : "");
    return o;
}

void mqc_plugin__origin_free(struct mqc_origin *o)
{
    if (!o)
        return;
    free(o->client_id);
    free(o->ref);
    free(o);
}
