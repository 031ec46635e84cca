/* MOSQ_EVT_ACL_CHECK: maps the broker's access kinds onto acl/ decisions. */
#include "acl/acl.h"
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
    return mqc_acl_check(&p->acl, access, user, ed->topic, ed->retain) == MQC_ACL_ALLOW
               ? MOSQ_ERR_SUCCESS
               : MOSQ_ERR_ACL_DENIED;
}
