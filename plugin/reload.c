/* MOSQ_EVT_RELOAD: SIGHUP. Mosquitto re-runs BASIC_AUTH for every session
 * right after this event, offline persistent sessions included; until the
 * next tick, a successful auth of an untracked session is therefore not a
 * connect. Options are not re-read (2.0.11 passes none here). */
#include "plugin/plugin.h"

int mqc_plugin_on_reload(int event, void *event_data, void *userdata)
{
    (void)event;
    (void)event_data;
    struct mqc_plugin *p = userdata;
    p->reloading = true;
    return MOSQ_ERR_PLUGIN_DEFER;
}
