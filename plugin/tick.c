/* MOSQ_EVT_TICK: runs once per broker loop pass, right after the pass's
 * socket events. Everything the pass queued for Redis goes out here as one
 * pipeline. If Redis answers before the broker has new socket work, the
 * results (fan-out, replies, errors) are published at once; otherwise they
 * are collected at the start of the next tick, so that Redis works on this
 * batch while the broker reads the next one.
 *
 * "The broker has new socket work" is the broker's own epoll descriptor
 * being readable: 2.0.11 gives plugins no way to add a descriptor to its
 * loop, but an epoll descriptor can be polled, and polling it does not
 * consume its events. It is found once, as the process' eventpoll
 * descriptor(s) in /proc/self/fd; without one the flush simply waits for
 * Redis, as a plain pipeline would. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "plugin/metrics.h"
#include "plugin/plugin.h"

static void find_wake_fds(struct mqc_plugin *p)
{
    p->nwake = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) && p->nwake < MQC_MAX_WAKE_FDS) {
        char path[300], target[64];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        if (strcmp(target, "anon_inode:[eventpoll]") == 0)
            p->wake_fds[p->nwake++] = atoi(e->d_name);
    }
    closedir(d);
    mqc_log(MQC_LOG_INFO, "tick: %zu broker event descriptor(s) found for overlapped flushes",
            p->nwake);
}

int mqc_plugin_on_tick(int event, void *event_data, void *userdata)
{
    (void)event;
    (void)event_data;
    struct mqc_plugin *p = userdata;
    if (!p->wake_searched) {
        find_wake_fds(p);
        p->wake_searched = true;
    }
    mqc_plugin__wake_tick_begin();
    p->reloading = false; /* a SIGHUP's re-authentication is over */
    mqc_plugin__auth_tick(p);
    mqc_plugin__presence_tick(p);
    if (p->contacts_held)
        mqc_plugin__contacts_tick(p, false);
    mqc_plugin__cluster_tick(p);
    mqc_plugin__reap(p);
    mqc_plugin__deliver_due(p);
    mqc_plugin__metrics_tick(p);
    /* Job hints of events stored since the last tick (a blocking call's
     * completion can store some) ride this pass's batch. */
    mqc_store_hints_flush(p->store);
    if (mqc_store_pending(p->store))
        mqc_store_flush_overlapped(p->store, mqc_clock_mono_ms(), p->wake_fds, p->nwake);
    /* Follow-ups the replies queued (sync's per-conversation step, unread
     * updates) go out now, not a loop pass later; two rounds at most. */
    for (int round = 0; round < 2 && mqc_store_queued(p->store); round++)
        mqc_store_flush_overlapped(p->store, mqc_clock_mono_ms(), p->wake_fds, p->nwake);
    /* Last: nothing runs between here and Mosquitto sending them. */
    mqc_plugin__replies_flush(p);
    /* The hints of the events this tick stored go out now, reply not
     * awaited: riding the next batch would need a wake of the loop (an idle
     * broker passes through tick every 100 ms), and one write is cheaper. */
    mqc_store_hints_send(p->store, mqc_clock_mono_ms());
    /* Jobs left queued (beyond the two rounds) need the next tick soon. */
    mqc_plugin__wake_tick_end(mqc_store_queued(p->store) > 0);
    return MOSQ_ERR_SUCCESS;
}
