/* MOSQ_EVT_DISCONNECT: every connection end (clean, keepalive, socket error,
 * kick, takeover), before the will is sent. Stale ones (the replaced
 * connection of a takeover, the second disconnect of a persistent session)
 * are ignored by the presence tracker. */
#include "plugin/plugin.h"

int mqc_plugin_on_disconnect(int event, void *event_data, void *userdata)
{
    (void)event;
    struct mosquitto_evt_disconnect *ed = event_data;
    mqc_plugin__presence_disconnected(userdata, ed->client);
    mqc_plugin__wake_client(ed->client, false);
    mqc_plugin__client_id_release(userdata, ed->client);
    return MOSQ_ERR_SUCCESS;
}
