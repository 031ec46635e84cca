/* MOSQ_EVT_TICK: runs once per broker loop pass, right after the pass's
 * socket events. Everything the pass queued for Redis goes out here as one
 * pipeline, and the results (fan-out, replies, errors) are published before
 * the next pass sends them. */
#include "core/clock.h"
#include "plugin/plugin.h"

int mqc_plugin_on_tick(int event, void *event_data, void *userdata)
{
    (void)event;
    (void)event_data;
    struct mqc_plugin *p = userdata;
    p->reloading = false; /* a SIGHUP's re-authentication is over */
    mqc_plugin__presence_tick(p);
    if (mqc_store_pending(p->store))
        mqc_store_flush(p->store, mqc_clock_mono_ms());
    return MOSQ_ERR_SUCCESS;
}
