/* The session record a token login needs, without a Redis round trip per
 * login in a reconnect storm (docs/ARCHITECTURE.md "Login pacing").
 * Mosquitto 2.0.11 wants the verdict inside BASIC_AUTH, so a login whose
 * record is not at hand reads it with a blocking HGET; a loop pass full of
 * such logins holds the broker thread for one round trip each, and every
 * other client waits for that pass. In a storm, with
 * plugin_opt_login_reads_per_pass N (default 1; 0: no limit) a pass makes at
 * most N of those reads; a later token login of the same pass is answered
 * busy (closed without CONNACK, like pacing) and its record is fetched with
 * the pipeline, so its retry finds it here and needs no Redis at all. A
 * storm is more than plugin_opt_login_storm_per_second (default 100; 0:
 * always) logins needing a read in the current second or the one before
 * (core/storm.c): at an everyday rate nobody is answered busy. A fetched
 * record is used once, within PREFETCH_TTL_MS, and never after a session
 * of anyone was ended in between (the bus's kick and skick bump
 * sess_epoch): a revocation racing the retry makes it read Redis again. */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/session_token.h"
#include "plugin/metrics.h"
#include "plugin/plugin.h"

#define PREFETCH_TTL_MS 10000

struct prefetch {
    uint64_t epoch; /* p->sess_epoch when queued */
    int64_t at;     /* when the answer came (monotonic ms) */
    bool pending;
    int rc;
    char record[MQC_SESS_RECORD_MAX];
};

static int key_of(const char *user, const char *device, char *key, size_t size)
{
    size_t u = strlen(user), d = strlen(device);
    if (u + d + 2 > size)
        return MQC_EBADREQ;
    memcpy(key, user, u);
    key[u] = '\n';
    memcpy(key + u + 1, device, d + 1);
    return MQC_OK;
}

static void fetched(void *ctx, int rc, const char *record)
{
    struct prefetch *f = ctx;
    f->pending = false;
    f->at = mqc_clock_mono_ms();
    f->rc = rc;
    if (rc == MQC_OK)
        snprintf(f->record, sizeof f->record, "%s", record);
}

/* Queue the fetch of user's record of device (one in flight per key). */
static void prefetch(struct mqc_plugin *p, const char *key, const char *user, const char *device)
{
    struct prefetch *f = calloc(1, sizeof *f);
    if (!f || mqc_map_put(p->sess_prefetch, key, f) != MQC_OK) {
        free(f);
        return;
    }
    f->pending = true;
    f->epoch = p->sess_epoch;
    if (mqc_store_session_fetch(p->store, user, device, fetched, f) != MQC_OK) {
        mqc_map_del(p->sess_prefetch, key);
        free(f);
    }
}

/* Counts a login that needs a record read; true while in a storm. */
static bool storm(struct mqc_plugin *p)
{
    return mqc_storm_note(&p->login_storm, mqc_clock_mono_ms(), p->cfg.login_storm_per_second);
}

int mqc_plugin__session_record(struct mqc_plugin *p, const char *user, const char *device,
                               char *out, size_t size)
{
    char key[2 * MQC_ID_MAX + 2];
    if (p->cfg.login_reads_per_pass <= 0 || p->reloading ||
        key_of(user, device, key, sizeof key) != MQC_OK)
        return mqc_store_session_get(p->store, user, device, out, size);
    struct prefetch *f = mqc_map_get(p->sess_prefetch, key);
    if (f && !f->pending) {
        mqc_map_del(p->sess_prefetch, key);
        int rc = f->rc;
        bool usable = f->epoch == p->sess_epoch && mqc_clock_mono_ms() - f->at <= PREFETCH_TTL_MS &&
                      (rc == MQC_OK || rc == MQC_ENOTFOUND);
        if (usable && rc == MQC_OK)
            snprintf(out, size, "%s", f->record);
        free(f);
        if (usable) {
            mqc_plugin__metric_prefetched();
            mqc_log(MQC_LOG_DEBUG, "auth: session record fetched ahead (user=%s)", user);
            return rc;
        }
        f = NULL;
    }
    if (!storm(p) || p->pass_session_reads < p->cfg.login_reads_per_pass) {
        p->pass_session_reads++;
        return mqc_store_session_get(p->store, user, device, out, size);
    }
    if (!f)
        prefetch(p, key, user, device);
    mqc_plugin__metric_busy("session_reads");
    mqc_log(MQC_LOG_DEBUG, "auth: busy: session reads of this loop pass spent (user=%s)", user);
    return MQC_EBUSY;
}

/* Answers nobody came back for (the client gave up, or logged in with a
 * password): dropped after PREFETCH_TTL_MS. Pending ones belong to the store
 * until answered; flush (cleanup, the store already gone) drops them all. */
struct prune {
    int64_t now;
    bool flush;
};

static bool prune_one(const char *key, void *value, void *ctx)
{
    (void)key;
    const struct prune *pr = ctx;
    struct prefetch *f = value;
    if (!pr->flush && (f->pending || pr->now - f->at <= PREFETCH_TTL_MS))
        return false;
    free(f);
    return true;
}

void mqc_plugin__session_prefetch_tick(struct mqc_plugin *p, int64_t now, bool flush)
{
    p->pass_session_reads = 0;
    if (!p->sess_prefetch ||
        (!flush && (mqc_map_count(p->sess_prefetch) == 0 || now < p->next_prefetch_prune_ms)))
        return;
    p->next_prefetch_prune_ms = now + 1000;
    struct prune pr = {now, flush};
    mqc_map_remove_if(p->sess_prefetch, prune_one, &pr);
}
