/* MOSQ_EVT_ACL_CHECK: maps the broker's access kinds onto acl/ decisions,
 * plus the one rule that needs live state: wills on presence topics. */
#include "acl/acl.h"
#include "core/topic.h"
#include "plugin/plugin.h"

int mqc_plugin_on_acl_check(int event, void *event_data, void *userdata)
{
    (void)event;
    struct mosquitto_evt_acl_check *ed = event_data;
    struct mqc_plugin *p = userdata;
    enum mqc_acl_access access;

    switch (ed->access) {
    case MOSQ_ACL_SUBSCRIBE: access = MQC_ACL_SUBSCRIBE; break;
    case MOSQ_ACL_UNSUBSCRIBE: access = MQC_ACL_UNSUBSCRIBE; break;
    case MOSQ_ACL_WRITE: access = MQC_ACL_WRITE; break;
    case MOSQ_ACL_READ: access = MQC_ACL_READ; break;
    default: return MOSQ_ERR_ACL_DENIED;
    }
    const char *user = mosquitto_client_username(ed->client);
    if (mqc_acl_check(&p->acl, access, user, ed->topic, ed->retain) != MQC_ACL_ALLOW)
        return MOSQ_ERR_ACL_DENIED;
    /* A publish on one's own presence topic by a connection that is not live
     * any more is a will: wills bypass the message event (which rewrites
     * every other presence publish), so decide here: never as sent. */
    struct mqc_topic t;
    if (access == MQC_ACL_WRITE && mqc_topic_parse(ed->topic, &t) == MQC_TOPIC_PRESENCE &&
        !mqc_presence_tracked(p->presence, (uintptr_t)ed->client)) {
        mqc_plugin__presence_will(p, user, ed->payload, ed->payloadlen);
        return MOSQ_ERR_ACL_DENIED;
    }
    return MOSQ_ERR_SUCCESS;
}
