/* Publishing from the plugin: replies to one device, errors, and fan-out to
 * users' inboxes. Uses mosquitto_broker_publish_copy, so the broker copies the
 * payload into memory it owns and callers keep theirs. Broker thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/event.h"
#include "core/log.h"
#include "core/topic.h"
#include "plugin/plugin.h"

int mqc_plugin__send_to_client(const char *client_id, const char *topic, const char *payload,
                               size_t len, int qos)
{
    if (!client_id || !topic || !payload)
        return MOSQ_ERR_INVAL;
    return mosquitto_broker_publish_copy(client_id, topic, (int)len, payload, qos, false, NULL);
}

void mqc_plugin__reply(const char *client_id, const char *user, const char *payload, size_t len)
{
    char topic[96];
    if (mqc_topic_inbox(user, topic, sizeof topic) == 0)
        mqc_plugin__send_to_client(client_id, topic, payload, len, 1);
}

void mqc_plugin__send_err(const char *client_id, const char *user, const char *ref_key,
                          const char *ref, int err, const char *msg)
{
    char *json = mqc_event_err(ref_key, ref, err, msg, mqc_clock_wall_ms());
    if (!json) {
        mqc_log(MQC_LOG_ERR, "plugin: cannot build err event: out of memory");
        return;
    }
    mqc_plugin__reply(client_id, user, json, strlen(json));
    free(json);
}

void mqc_plugin__fanout(const char *const *users, size_t n, const char *payload, size_t len,
                        int qos)
{
    char topic[96];
    for (size_t i = 0; i < n; i++) {
        if (mqc_topic_inbox(users[i], topic, sizeof topic) != 0)
            continue;
        int rc = mosquitto_broker_publish_copy(NULL, topic, (int)len, payload, qos, false, NULL);
        if (rc != MOSQ_ERR_SUCCESS)
            mqc_log(MQC_LOG_ERR, "fanout: publish failed (user=%s rc=%d)", users[i], rc);
    }
}

bool mqc_plugin__fanout_conv(struct mqc_plugin *p, const char *conv, const char *skip,
                             const char *payload, size_t len, int qos)
{
    size_t n;
    const char *const *users = mqc_members_list(p->members, conv, &n);
    if (!users)
        return false;
    char topic[96];
    for (size_t i = 0; i < n; i++) {
        if (skip && strcmp(users[i], skip) == 0)
            continue;
        if (mqc_topic_inbox(users[i], topic, sizeof topic) != 0)
            continue;
        mosquitto_broker_publish_copy(NULL, topic, (int)len, payload, qos, false, NULL);
    }
    return true;
}

void mqc_plugin__members_update(struct mqc_plugin *p, const char *conv, int64_t mver,
                                const char *const *members, size_t n)
{
    if (mqc_members_set(p->members, conv, mver, members, n) != 0)
        mqc_log(MQC_LOG_ERR, "members: cannot cache members: out of memory (conv=%s)", conv);
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
