/* MOSQ_EVT_MESSAGE: every client publish that passed the ACL WRITE check.
 * chat/ publishes are parsed here (common checks: size, UTF-8, JSON object)
 * and handed to post.c or request.c, presence updates to presence.c; other
 * topics (plugin_opt_other_topics) pass through untouched. Returning MOSQ_ERR_ACL_DENIED drops a
 * publish (MQTT 5 senders see 0x87); any other error would disconnect the
 * sender, so it is never returned for bad input. */
#include <string.h>

#include "core/envelope.h"
#include "core/err.h"
#include "core/topic.h"
#include "plugin/metrics.h"
#include "plugin/plugin.h"

int mqc_plugin_on_message(int event, void *event_data, void *userdata)
{
    (void)event;
    struct mosquitto_evt_message *ed = event_data;
    struct mqc_plugin *p = userdata;
    struct mqc_topic t;
    struct mqc_sender from = {
        .user = mosquitto_client_username(ed->client),
        .client_id = mosquitto_client_id(ed->client),
        .conn = mqc_plugin__client_conn(p, ed->client),
    };

    enum mqc_topic_kind kind = mqc_topic_parse(ed->topic, &t);
    if (kind == MQC_TOPIC_OTHER)
        return MOSQ_ERR_SUCCESS;
    if (kind == MQC_TOPIC_PRESENCE && from.user && strcmp(t.id, from.user) == 0)
        return mqc_plugin__presence_message(p, ed);
    if ((kind != MQC_TOPIC_CONV && kind != MQC_TOPIC_REQ) || !from.user)
        return MOSQ_ERR_ACL_DENIED; /* the ACL already refused these */

    cJSON *root = NULL;
    const char *why = NULL;
    int rc = mqc_envelope_parse(ed->payload, ed->payloadlen, (size_t)p->cfg.max_message_bytes,
                                &root, &why);
    if (rc != MQC_OK) {
        mqc_plugin__send_err(p, &from, NULL, NULL, rc, why);
        if (kind == MQC_TOPIC_CONV && t.leaf == MQC_CONV_SEND)
            mqc_plugin__metric_rejected(rc);
        return MOSQ_ERR_ACL_DENIED;
    }
    if (kind == MQC_TOPIC_CONV)
        return mqc_plugin__post(p, &from, &t, root, ed->payloadlen);
    return mqc_plugin__request(p, &from, root);
}
