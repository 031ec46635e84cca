/* MOSQ_EVT_MESSAGE: every client publish that passed the ACL WRITE check.
 * chat/ publishes are consumed here and answered on the sender's inbox;
 * other topics (plugin_opt_other_topics) pass through untouched. Returning
 * MOSQ_ERR_ACL_DENIED drops a publish (MQTT 5 senders see 0x87); any other
 * error would disconnect the sender, so it is never returned for bad input. */
#include <string.h>

#include "core/err.h"
#include "core/topic.h"
#include "plugin/plugin.h"

int mqc_plugin_on_message(int event, void *event_data, void *userdata)
{
    (void)event;
    struct mosquitto_evt_message *ed = event_data;
    struct mqc_plugin *p = userdata;
    struct mqc_topic t;
    const char *user = mosquitto_client_username(ed->client);
    const char *cid = mosquitto_client_id(ed->client);

    switch (mqc_topic_parse(ed->topic, &t)) {
    case MQC_TOPIC_OTHER:
    case MQC_TOPIC_PRESENCE:
        return MOSQ_ERR_SUCCESS;
    case MQC_TOPIC_CONV:
        if (!mqc_acl_may_post(&p->acl, user, t.id)) {
            mqc_plugin__send_err(cid, user, NULL, NULL, MQC_ENOTMEMBER, NULL);
            return MOSQ_ERR_ACL_DENIED;
        }
        return MOSQ_ERR_ACL_DENIED;
    case MQC_TOPIC_REQ:
        mqc_plugin__send_err(cid, user, NULL, NULL, MQC_EBADREQ, "unknown op");
        return MOSQ_ERR_ACL_DENIED;
    default:
        return MOSQ_ERR_ACL_DENIED;
    }
}
