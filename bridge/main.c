/* mqchat-push: the push bridge daemon. Expands the broker's per-slot jobs
 * (one per stored message or member event: lazy fan-out, store/jobs.h) into
 * per-user push jobs, reads those from Redis (consumer group), looks up the
 * user's devices, sends APNs / FCM requests over HTTP/2
 * and acknowledges a job only when every device has a final outcome:
 * retries go to a delayed set (exponential backoff with jitter, honouring
 * Retry-After), jobs past max_attempts or their TTL to a dead-letter stream,
 * dead tokens are removed. One loop, one thread. SIGTERM: stop reading,
 * finish what is in flight (what does not finish stays pending in Redis and
 * is sent after a restart). `--stats` prints the counters. */
#include <curl/curl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/config.h"
#include "bridge/faillog.h"
#include "bridge/metrics.h"
#include "bridge/sender.h"
#include "store/jobs.h"
#include "store/pushq.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"

#define RECLAIM_EVERY_MS 30000
#define RECLAIM_IDLE_MS 60000
#define MOVE_EVERY_MS 250
#define WAIT_MS 50         /* longest blocking read of push jobs: hints wait no longer */
#define EXPAND_PER_RUN 512 /* slot jobs expanded per loop turn, about */
#define FLUSH_EVERY_MS 50

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

struct bridge {
    struct mqc_bridge_config cfg;
    struct mqc_pushq *q;
    struct mqc_jobs *jobs;
    struct mqc_sender *s;
    long long sent, failed, retried, dead, removed, bad_tokens, no_device;
    struct mqc_faillog deadlog; /* dead-letter lines: once a minute at most */
};

/* A job being sent: acknowledged when its last device request finishes. */
struct job_run {
    struct bridge *b;
    struct mqc_queued_job j;
    int pending;
    bool keep; /* a retry could not be queued: leave the job pending in Redis */
};

struct dev_ctx {
    struct job_run *run;
    char *token;
    char provider[8]; /* "apns" / "fcm": metrics labels */
};

static void job_done_one(struct job_run *run)
{
    if (--run->pending > 0)
        return;
    if (!run->keep)
        mqc_pushq_ack(run->b->q, run->j.job.id);
    mqc_queued_job_cleanup(&run->j);
    free(run);
}

/* reason: why the job was given up; error: the last failure's detail. */
static void dead_letter(struct bridge *b, struct job_run *run, const char *token,
                        const char *reason, const char *error)
{
    char why[512];
    if (error && *error && strcmp(reason, error) != 0)
        snprintf(why, sizeof why, "%s; last error: %s", reason, error);
    else
        snprintf(why, sizeof why, "%s", reason);
    long quiet = 0;
    if (mqc_faillog_note(&b->deadlog, "dead letter", mqc_clock_mono_ms(), &quiet)) {
        char more[64] = "";
        if (quiet > 0)
            snprintf(more, sizeof more, "; %ld more since the last report", quiet);
        mqc_log(MQC_LOG_WARNING,
                "bridge: job %s for %.8s... dead-lettered: %s (user=%s attempt=%d%s)",
                run->j.job.id, token ? token : "", why, run->j.job.user, run->j.attempt, more);
    }
    if (mqc_pushq_dead(b->q, &run->j, token, why, error) != MQC_OK)
        run->keep = true;
    b->dead++;
    mqc_pushq_count(b->q, "dead_lettered", 1);
}

static void on_done(void *ctx, enum mqc_push_outcome o, long status, const char *reason,
                    const char *detail, int64_t retry_after_ms)
{
    struct dev_ctx *d = ctx;
    struct job_run *run = d->run;
    struct bridge *b = run->b;
    int64_t now = mqc_clock_wall_ms();
    switch (o) {
    case MQC_PUSH_SENT:
        b->sent++;
        mqc_pushq_count(b->q, "sent", 1);
        mqc_bridge_metric_sent(d->provider);
        break;
    case MQC_PUSH_DEAD_TOKEN:
        mqc_log(MQC_LOG_NOTICE, "bridge: removing dead token %.8s... (user=%s status=%ld %s)",
                d->token, run->j.job.user, status, reason);
        if (mqc_pushq_remove_device(b->q, run->j.job.user, d->token) != MQC_OK)
            run->keep = true;
        b->removed++;
        mqc_pushq_count(b->q, "tokens_removed", 1);
        mqc_bridge_metric_failed(d->provider, "dead_token");
        break;
    case MQC_PUSH_BAD_TOKEN:
        mqc_log(MQC_LOG_WARNING, "bridge: bad device token %.8s... (user=%s %s)", d->token,
                run->j.job.user, reason);
        b->bad_tokens++;
        mqc_pushq_count(b->q, "bad_token", 1);
        mqc_bridge_metric_failed(d->provider, "bad_token");
        break;
    case MQC_PUSH_RETRY:
    case MQC_PUSH_REFRESH_AUTH: {
        int attempt = run->j.attempt + 1;
        bool expired = now - run->j.first_ts > b->cfg.job_ttl_seconds * 1000;
        if (attempt > b->cfg.max_attempts || expired) {
            dead_letter(b, run, d->token, expired ? "expired" : "too many attempts", detail);
            mqc_bridge_metric_failed(d->provider, "gave_up");
            break;
        }
        uint32_t rnd = randombytes_random();
        int64_t wait = mqc_backoff_ms(run->j.attempt, rnd);
        if (retry_after_ms > wait)
            wait = retry_after_ms;
        if (mqc_pushq_retry(b->q, &run->j, d->token, attempt, now + wait) != MQC_OK)
            run->keep = true;
        b->retried++;
        mqc_pushq_count(b->q, "retried", 1);
        char key[96];
        snprintf(key, sizeof key, "retry_%s", reason && *reason ? reason : "transport");
        for (char *p = key; *p; p++)
            if (*p == ' ' || *p == ':')
                *p = '_';
        mqc_pushq_count(b->q, key, 1);
        break;
    }
    case MQC_PUSH_FAILED:
        b->failed++;
        mqc_pushq_count(b->q, "failed", 1);
        mqc_bridge_metric_failed(d->provider, "rejected");
        dead_letter(b, run, d->token, reason, detail);
        break;
    }
    free(d->token);
    free(d);
    job_done_one(run);
}

/* Start every device request of a job; takes j and devs (n devices of the
 * job's user, looked up when have is set; otherwise the job stays pending). */
static void start_job(struct bridge *b, struct mqc_queued_job *j, struct mqc_push_device *devs,
                      size_t n, bool have)
{
    struct job_run *run = calloc(1, sizeof *run);
    if (!run) {
        mqc_queued_job_cleanup(j);
        for (size_t i = 0; i < n; i++)
            mqc_push_device_cleanup(&devs[i]);
        free(devs);
        return; /* stays pending in Redis, reclaimed later */
    }
    run->b = b;
    run->j = *j;
    run->pending = 1; /* held while starting */
    if (!have) {
        run->keep = true;
        job_done_one(run);
        return;
    }
    size_t started = 0;
    for (size_t i = 0; i < n; i++) {
        if (run->j.only_token && strcmp(run->j.only_token, devs[i].token) != 0)
            continue;
        struct dev_ctx *d = calloc(1, sizeof *d);
        if (d && (d->token = strdup(devs[i].token))) {
            d->run = run;
            snprintf(d->provider, sizeof d->provider, "%s", devs[i].platform);
            run->pending++;
            int rc = mqc_sender_submit(b->s, &run->j.job, &devs[i], on_done, d);
            if (rc == MQC_OK) {
                started++;
                continue;
            }
            run->pending--;
            if (rc == MQC_ENOTFOUND)
                mqc_pushq_count(b->q, "platform_disabled", 1);
            else
                run->keep = true;
            free(d->token);
        }
        free(d);
    }
    if (started == 0 && n == 0) {
        b->no_device++;
        mqc_pushq_count(b->q, "no_device", 1);
    }
    for (size_t i = 0; i < n; i++)
        mqc_push_device_cleanup(&devs[i]);
    free(devs);
    job_done_one(run);
}

/* Start jobs (taken), their users' devices looked up in one round trip. */
static void start_jobs(struct bridge *b, struct mqc_queued_job *jobs, size_t n)
{
    size_t m = n ? n : 1;
    const char **users = calloc(m, sizeof *users);
    struct mqc_push_device **devs = calloc(m, sizeof *devs);
    size_t *ndevs = calloc(m, sizeof *ndevs);
    bool have = users && devs && ndevs;
    for (size_t i = 0; have && i < n; i++)
        users[i] = jobs[i].job.user;
    have = have && mqc_pushq_devices_many(b->q, users, n, devs, ndevs) == MQC_OK;
    for (size_t i = 0; i < n; i++)
        start_job(b, &jobs[i], have ? devs[i] : NULL, have ? ndevs[i] : 0, have);
    free(users);
    free(devs);
    free(ndevs);
    free(jobs);
}

static void log_stats(struct bridge *b)
{
    struct mqc_jobs_counts jc;
    mqc_jobs_counts(b->jobs, &jc);
    mqc_log(MQC_LOG_NOTICE,
            "bridge: sent=%lld failed=%lld retried=%lld dead_lettered=%lld tokens_removed=%lld "
            "bad_tokens=%lld no_device=%lld in_flight=%d expanded=%lld pushes_queued=%lld "
            "bad_jobs=%lld sweeps=%lld taken_over=%lld unconfirmed=%lld",
            b->sent, b->failed, b->retried, b->dead, b->removed, b->bad_tokens, b->no_device,
            mqc_sender_in_flight(b->s), jc.events, jc.pushes, jc.bad, jc.sweeps, jc.claimed,
            jc.unconfirmed);
}

static int run_loop(struct bridge *b)
{
    int64_t next_move = 0, next_reclaim = 0, next_stats = 0, stop_deadline = 0, next_backlog = 0,
            next_flush = 0;
    bool enabled = mqc_sender_apns(b->s) || mqc_sender_fcm(b->s);
    if (!enabled)
        mqc_log(MQC_LOG_WARNING, "bridge: no APNs key and no FCM service account configured: "
                                 "pushes are disabled, jobs stay queued");
    while (!stopping || mqc_sender_in_flight(b->s) > 0) {
        int64_t mono = mqc_clock_mono_ms();
        if (stopping && !stop_deadline) {
            stop_deadline = mono + b->cfg.request_timeout_ms + 1000;
            mqc_log(MQC_LOG_NOTICE, "bridge: stopping; finishing %d requests in flight",
                    mqc_sender_in_flight(b->s));
        }
        if (stopping && mono > stop_deadline)
            break;
        int in_flight = mqc_sender_in_flight(b->s);
        /* Redis is dialled in every mode, so a wrong redis_url shows at
         * start even while pushes are disabled. */
        bool up = mqc_pushq_ensure(b->q, mono) == MQC_OK;
        if (enabled && up) {
            struct mqc_queued_job *jobs;
            size_t n;
            if (mono >= next_move) {
                mqc_pushq_move_due(b->q, mqc_clock_wall_ms());
                next_move = mono + MOVE_EVERY_MS;
            }
            if (!stopping && mono >= next_reclaim) {
                if (mqc_pushq_reclaim(b->q, RECLAIM_IDLE_MS, 100, &jobs, &n) == MQC_OK)
                    start_jobs(b, jobs, n);
                next_reclaim = mono + RECLAIM_EVERY_MS;
            }
            size_t expanded = 0;
            if (!stopping)
                mqc_jobs_run(b->jobs, mono, mqc_clock_wall_ms(), EXPAND_PER_RUN, &expanded);
            if (expanded)
                mqc_bridge_metric_expanded((long long)expanded);
            bool idle = in_flight == 0 && expanded == 0 && !mqc_jobs_busy(b->jobs);
            /* Read when a quarter of the slots are free (or none is busy):
             * a few large reads rather than one per finished request. */
            int room = (int)b->cfg.max_in_flight - in_flight;
            if (!stopping && room > 0 &&
                (in_flight == 0 || room >= (b->cfg.max_in_flight + 3) / 4) &&
                mqc_pushq_read(b->q, (size_t)(b->cfg.max_in_flight - in_flight), idle ? WAIT_MS : 0,
                               &jobs, &n) == MQC_OK)
                start_jobs(b, jobs, n);
        } else if (mqc_sender_in_flight(b->s) == 0) {
            usleep(100 * 1000); /* Redis away (or pushes disabled): wait, never exit */
        }
        mqc_sender_run(b->s, mqc_sender_in_flight(b->s) > 0 ? 20 : 0);
        /* Acks and counters: one round trip every FLUSH_EVERY_MS at most
         * (or when many are waiting), not one per finished request. */
        if (mono >= next_flush || mqc_pushq_unflushed(b->q) >= 256) {
            mqc_pushq_flush(b->q);
            next_flush = mono + FLUSH_EVERY_MS;
        }
        long long backlog;
        if (b->cfg.metrics_listen && mono >= next_backlog &&
            mqc_pushq_ensure(b->q, mono) == MQC_OK && mqc_pushq_backlog(b->q, &backlog) == MQC_OK)
            mqc_bridge_metric_backlog(backlog);
        if (mono >= next_backlog)
            next_backlog = mono + 1000;
        if (b->cfg.stats_interval_seconds > 0 && mono >= next_stats) {
            if (next_stats)
                log_stats(b);
            next_stats = mono + b->cfg.stats_interval_seconds * 1000;
        }
    }
    mqc_pushq_flush(b->q);
    log_stats(b);
    return 0;
}

static void log_sink(enum mqc_log_level level, const char *line)
{
    static const char *names[] = {"debug", "info", "notice", "warning", "error"};
    fprintf(stderr, "mqchat-push %s: %s\n", names[level], line);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mqchat-push --config FILE [--stats]\n"
               "  --config FILE  key value lines (see docs/CONFIG.md)\n"
               "  --stats        print the counters kept in Redis and exit\n");
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    bool stats = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "--stats"))
            stats = true;
        else if (!strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    struct bridge b = {0};
    char err[512];
    mqc_log_set_sink(log_sink);
    mqc_faillog_init(&b.deadlog, 60000);
    if (sodium_init() < 0 || mqc_bridge_config_init(&b.cfg) != MQC_OK) {
        fprintf(stderr, "mqchat-push: cannot initialise\n");
        return 1;
    }
    if (mqc_bridge_config_load(&b.cfg, path, err, sizeof err) != MQC_OK ||
        mqc_bridge_config_finish(&b.cfg, err, sizeof err) != MQC_OK) {
        fprintf(stderr, "mqchat-push: %s\n", err);
        mqc_bridge_config_cleanup(&b.cfg);
        return 1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "mqchat-push: cannot initialise libcurl\n");
        return 1;
    }
    int code = 1;
    b.q =
        mqc_pushq_new(b.cfg.redis_url, b.cfg.redis_cluster_nodes, b.cfg.key_prefix, b.cfg.consumer);
    if (!b.q)
        goto out;
    if (stats) {
        code = mqc_pushq_ensure(b.q, mqc_clock_mono_ms()) == MQC_OK &&
                       mqc_pushq_print_stats(b.q, stdout) == MQC_OK
                   ? 0
                   : 1;
        goto out;
    }
    b.jobs =
        mqc_jobs_new(b.cfg.redis_url, b.cfg.redis_cluster_nodes, b.cfg.key_prefix, b.cfg.consumer);
    if (!b.jobs)
        goto out;
    mqc_pushq_wait_replicas(b.q, (int)b.cfg.redis_wait_replicas);
    mqc_jobs_wait_replicas(b.jobs, (int)b.cfg.redis_wait_replicas);
    mqc_jobs_tune(b.jobs, b.cfg.jobs_sweep_seconds * 1000, b.cfg.jobs_reclaim_seconds * 1000,
                  b.cfg.expand_by_slot);
    b.s = mqc_sender_new(&b.cfg, err, sizeof err);
    if (!b.s) {
        fprintf(stderr, "mqchat-push: %s\n", err);
        goto out;
    }
    if (b.cfg.metrics_listen &&
        mqc_bridge_metrics_start(b.cfg.metrics_listen, err, sizeof err) != MQC_OK) {
        fprintf(stderr, "mqchat-push: metrics_listen: %s\n", err);
        goto out;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    mqc_log(MQC_LOG_NOTICE, "bridge: started (consumer=%s apns=%s fcm=%s redis=%s)", b.cfg.consumer,
            mqc_sender_apns(b.s) ? "on" : "off", mqc_sender_fcm(b.s) ? "on" : "off",
            b.cfg.redis_cluster_nodes ? "cluster" : "single");
    code = run_loop(&b);
out:
    mqc_bridge_metrics_stop();
    mqc_sender_free(b.s);
    mqc_pushq_free(b.q);
    mqc_jobs_free(b.jobs);
    mqc_bridge_config_cleanup(&b.cfg);
    curl_global_cleanup();
    return code;
}
