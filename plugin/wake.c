/* Waking the broker loop from another thread. Mosquitto 2.0.11 sleeps in
 * epoll_wait for up to 100 ms when idle, and a plugin can add no descriptor
 * to that epoll set. It does block only SIGINT, SIGTERM, SIGHUP, SIGUSR1 and
 * SIGUSR2 around the wait (src/mux_epoll.c), so any other signal sent to the
 * broker thread makes epoll_wait return EINTR, which the loop ignores; the
 * loop then runs its pass and ends it in MOSQ_EVT_TICK. The handler does
 * nothing; SA_RESTART keeps every other interrupted call going.
 *
 * A waker thread sends the signals: wake_soon() asks it to signal the broker
 * until a tick has begun after the request (a signal that lands before the
 * wait is lost, hence the retry every millisecond). Two users: the bus
 * thread (events from other nodes, store/bus.c), and the broker thread at the
 * end of a tick: when it left work for the next tick (jobs queued), and after
 * a tick that published while WebSockets clients are connected, since what
 * the plugin publishes reaches them only when the loop passes through
 * lws_service, after its next epoll_wait (TCP clients get it at the top of
 * the next pass, before the wait: no wake). And what
 * WebSockets clients send is read only in lws_service too, so while any is
 * connected the waker also wakes the loop every WS_POLL_MS. Signals go only
 * to the thread that loaded the plugin (the broker's only thread). */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/log.h"
#include "core/map.h"
#include "plugin/plugin.h"

#define RETRY_NS (1000 * 1000)
#define MAX_TRIES 200
#define WS_POLL_MS 2

static pthread_t broker_thread;
static int wake_signal;

static atomic_ulong published; /* broker thread: publishes so far */
static unsigned long published_seen;
static atomic_ulong tick_gen; /* ticks begun */

static pthread_t waker;
static bool waker_started;
static pthread_mutex_t waker_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t waker_cv = PTHREAD_COND_INITIALIZER;
static bool waker_want, waker_stop;
static unsigned long waker_gen; /* tick_gen when the wake was asked for */
static atomic_int ws_clients;   /* WebSockets connections now */
static struct mqc_map *ws_set;  /* broker thread: those connections */

static void on_wake(int sig)
{
    (void)sig;
}

static void *waker_main(void *arg)
{
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_mutex_lock(&waker_mu);
    for (;;) {
        while (!waker_want && !waker_stop && atomic_load(&ws_clients) == 0)
            pthread_cond_wait(&waker_cv, &waker_mu);
        if (waker_stop)
            break;
        if (!waker_want) {
            /* WebSockets clients: poll the loop. */
            pthread_mutex_unlock(&waker_mu);
            pthread_kill(broker_thread, wake_signal);
            struct timespec ts = {0, WS_POLL_MS * 1000 * 1000};
            nanosleep(&ts, NULL);
            pthread_mutex_lock(&waker_mu);
            continue;
        }
        unsigned long gen = waker_gen;
        waker_want = false;
        pthread_mutex_unlock(&waker_mu);
        for (int i = 0; i < MAX_TRIES && atomic_load(&tick_gen) == gen; i++) {
            pthread_kill(broker_thread, wake_signal);
            struct timespec ts = {0, RETRY_NS};
            nanosleep(&ts, NULL);
        }
        pthread_mutex_lock(&waker_mu);
    }
    pthread_mutex_unlock(&waker_mu);
    return NULL;
}

void mqc_plugin__wake_client(const struct mosquitto *client, bool connected)
{
    char key[32];
    if (!waker_started || mosquitto_client_protocol(client) != mp_websockets)
        return;
    if (!ws_set && !(ws_set = mqc_map_new()))
        return;
    snprintf(key, sizeof key, "%p", (const void *)client);
    bool had = mqc_map_get(ws_set, key) != NULL;
    if (connected && !had)
        mqc_map_put(ws_set, key, (void *)1);
    else if (!connected && had)
        mqc_map_del(ws_set, key);
    else
        return;
    pthread_mutex_lock(&waker_mu);
    atomic_store(&ws_clients, (int)mqc_map_count(ws_set));
    pthread_cond_signal(&waker_cv);
    pthread_mutex_unlock(&waker_mu);
}

int mqc_plugin__wake_init(void)
{
    struct sigaction old, sa;
    int sig = SIGRTMIN + 4;
    if (sig > SIGRTMAX || sigaction(sig, NULL, &old) != 0)
        return MQC_EINTERNAL;
    if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN && old.sa_handler != on_wake) {
        mqc_log(MQC_LOG_WARNING,
                "wake: signal %d already has a handler; cross-node events wait "
                "for the broker's next idle pass (up to 100 ms)",
                sig);
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
    waker_stop = false;
    if (pthread_create(&waker, NULL, waker_main, NULL) == 0)
        waker_started = true;
    else
        mqc_log(MQC_LOG_WARNING, "wake: no waker thread: WebSockets clients may wait up to "
                                 "100 ms for events");
    return MQC_OK;
}

void mqc_plugin__wake(void *ctx)
{
    (void)ctx;
    if (wake_signal)
        pthread_kill(broker_thread, wake_signal);
}

void mqc_plugin__wake_published(void)
{
    atomic_fetch_add(&published, 1);
}

void mqc_plugin__wake_tick_begin(void)
{
    atomic_fetch_add(&tick_gen, 1);
}

/* Have the waker signal the broker until a tick begins after now (any
 * thread). Without a waker: one signal, and the idle pass as a fallback. */
void mqc_plugin__wake_soon(void *ctx)
{
    if (!waker_started) {
        mqc_plugin__wake(ctx);
        return;
    }
    pthread_mutex_lock(&waker_mu);
    waker_want = true;
    waker_gen = atomic_load(&tick_gen);
    pthread_cond_signal(&waker_cv);
    pthread_mutex_unlock(&waker_mu);
}

void mqc_plugin__wake_tick_end(bool more)
{
    unsigned long n = atomic_load(&published);
    bool pub = n != published_seen;
    published_seen = n;
    /* A publish needs the next pass only for WebSockets clients: TCP ones
     * get it at the top of the next pass, before its epoll_wait. Waking
     * after every publishing tick cost S1 a futex wake, signals and context
     * switches per pass (docs/BENCHMARKS.md). */
    if (waker_started && (more || (pub && atomic_load(&ws_clients) > 0)))
        mqc_plugin__wake_soon(NULL);
}

void mqc_plugin__wake_cleanup(void)
{
    /* Called after the bus thread is joined. Ignore rather than default (a
     * realtime signal's default is to terminate). */
    if (waker_started) {
        pthread_mutex_lock(&waker_mu);
        waker_stop = true;
        pthread_cond_signal(&waker_cv);
        pthread_mutex_unlock(&waker_mu);
        pthread_join(waker, NULL);
        waker_started = false;
    }
    if (wake_signal)
        signal(wake_signal, SIG_IGN);
    wake_signal = 0;
    mqc_map_free(ws_set);
    ws_set = NULL;
    atomic_store(&ws_clients, 0);
}
