/* Login pacing (ARCHITECTURE.md, "Login pacing"). Mosquitto 2.0.11 reads
 * every ready socket of a loop pass (up to 1,000) before anything else runs,
 * and a login is the most expensive thing a pass does for the plugin (a
 * blocking Redis read, then presence writes for Redis). In a reconnect storm
 * a message that arrived in the same pass waits behind every login of it,
 * and behind the Redis work those logins queued. So each pass admits logins
 * only while:
 * - the logins of this pass have taken less than login_budget_ms of the
 *   broker thread, and
 * - Redis is less than login_lag_ms behind (the oldest unanswered pipelined
 *   request);
 * the first login of a pass is always admitted (progress whatever Redis
 * does). The others are closed without a CONNACK ("busy": the only answer
 * 2.0.11 lets a plugin give besides "not authorised") before any Redis
 * call, and the client retries with backoff. SIGHUP re-checks are never
 * paced (a busy answer would drop a live session). */
#include <time.h>

#include "core/log.h"
#include "plugin/metrics.h"
#include "plugin/plugin.h"

int64_t mqc_plugin__login_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

bool mqc_plugin__login_admit(struct mqc_plugin *p)
{
    if (p->reloading || p->pass_logins == 0)
        return true;
    const char *why = NULL, *reason = NULL;
    if (p->cfg.login_budget_ms > 0 && p->pass_login_ns >= p->cfg.login_budget_ms * 1000000) {
        why = "login budget of this loop pass spent";
        reason = "login_budget";
    } else if (p->cfg.login_lag_ms > 0 && mqc_store_backlog_ms(p->store) > p->cfg.login_lag_ms) {
        why = "redis behind";
        reason = "redis_lag";
    }
    if (!why)
        return true;
    mqc_plugin__metric_busy(reason);
    mqc_log(MQC_LOG_DEBUG, "auth: busy: %s (%d logins this pass)", why, p->pass_logins);
    return false;
}

void mqc_plugin__login_charge(struct mqc_plugin *p, int64_t ns)
{
    p->pass_logins++;
    if (ns > 0)
        p->pass_login_ns += ns;
}

void mqc_plugin__login_pace_tick(struct mqc_plugin *p)
{
    p->pass_logins = 0;
    p->pass_login_ns = 0;
}
