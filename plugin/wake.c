/* Waking the broker loop from another thread. Mosquitto 2.0.11 sleeps in
 * epoll_wait for up to 100 ms when idle, and a plugin can add no descriptor
 * to that epoll set. It does block only SIGINT, SIGTERM, SIGHUP, SIGUSR1 and
 * SIGUSR2 around the wait (src/mux_epoll.c), so any other signal sent to the
 * broker thread makes epoll_wait return EINTR, which the loop ignores; the
 * loop then runs its pass and ends it in MOSQ_EVT_TICK, where the plugin
 * drains what the other thread queued. The handler does nothing; SA_RESTART
 * keeps every other interrupted call going. Only the bus thread sends it,
 * only to the thread that loaded the plugin (the broker's only thread). */
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "plugin/plugin.h"

static pthread_t broker_thread;
static int wake_signal;

static void on_wake(int sig)
{
    (void)sig;
}

int mqc_plugin__wake_init(void)
{
    struct sigaction old, sa;
    int sig = SIGRTMIN + 4;
    if (sig > SIGRTMAX || sigaction(sig, NULL, &old) != 0)
        return MQC_EINTERNAL;
    if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN && old.sa_handler != on_wake) {
        mqc_log(MQC_LOG_WARNING, "wake: signal %d already has a handler; cross-node events wait "
                                 "for the broker's next idle pass (up to 100 ms)", sig);
        return MQC_EINTERNAL;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_wake;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0)
        return MQC_EINTERNAL;
    broker_thread = pthread_self();
    wake_signal = sig;
    return MQC_OK;
}

void mqc_plugin__wake(void *ctx)
{
    (void)ctx;
    if (wake_signal)
        pthread_kill(broker_thread, wake_signal);
}

void mqc_plugin__wake_cleanup(void)
{
    /* Called after the bus thread is joined: no signal is in flight. Ignore
     * rather than default (a realtime signal's default is to terminate). */
    if (wake_signal)
        signal(wake_signal, SIG_IGN);
    wake_signal = 0;
}
