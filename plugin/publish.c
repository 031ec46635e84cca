/* Publishing from the plugin to one client's queue. Uses the _copy variant:
 * the broker copies the payload into memory it owns, so callers keep theirs. */
#include <string.h>

#include "core/clock.h"
#include "core/event.h"
#include "core/log.h"
#include "core/topic.h"
#include "plugin/plugin.h"

#include <stdlib.h>

int mqc_plugin__send_to_client(const char *client_id, const char *topic, const char *payload,
                               size_t len, int qos)
{
    if (!client_id || !topic || !payload)
        return MOSQ_ERR_INVAL;
    return mosquitto_broker_publish_copy(client_id, topic, (int)len, payload, qos, false, NULL);
}

void mqc_plugin__send_err(const char *client_id, const char *user, const char *ref_key,
                          const char *ref, int err, const char *msg)
{
    char topic[96];
    if (mqc_topic_inbox(user, topic, sizeof topic) != 0)
        return;
    char *json = mqc_event_err(ref_key, ref, err, msg, mqc_clock_wall_ms());
    if (!json) {
        mqc_log(MQC_LOG_ERR, "plugin: cannot build err event: out of memory");
        return;
    }
    mqc_plugin__send_to_client(client_id, topic, json, strlen(json), 1);
    free(json);
}
