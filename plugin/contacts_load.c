/* A user's presence contacts (core/contacts.h: whose presence they may see)
 * loaded at their first connection here, without holding the login for it.
 * The login queues the read (store mqc_store_visibility, pipelined) and the
 * user's set fills in when it answers. Until then the user is "loading":
 * the first READ check that needs the set (a retained or live presence
 * delivered to the user, members.c) reads it at once with the blocking
 * read the login used to make, so no decision is ever taken on a set that
 * is not loaded yet. Who sees the user is not affected: that is in the
 * watchers' own sets.
 * A removal (visibility.c: leave, remove, block, here or announced by
 * another node) while a read is in flight may make its answer stale: the
 * answer is then dropped and a full re-check is queued instead. */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "plugin/plugin.h"

struct contacts_load {
    struct mqc_plugin *p;
    uint64_t epoch;  /* p->vis_epoch when queued */
    bool superseded; /* answered by the blocking read, or the user left */
    char user[MQC_ID_MAX + 1];
    /* Tests only (plugin_opt_test_contacts_delay_ms): the answer, held. */
    struct contacts_load *next;
    int64_t due;
    int rc;
    char **sees;
    size_t nsees;
};

static void load_free(struct contacts_load *l)
{
    for (size_t i = 0; i < l->nsees; i++)
        free(l->sees[i]);
    free(l->sees);
    free(l);
}

static void add_contact(const char *other, void *ctx)
{
    struct mqc_plugin *p = ((void **)ctx)[0];
    const char *user = ((void **)ctx)[1];
    mqc_contacts_add(p->contacts, user, other);
}

/* The blocking read (the login's, before): user's set from Redis now. */
static void load_now(struct mqc_plugin *p, const char *user)
{
    void *ctx[] = {p, (void *)user};
    if (mqc_store_contacts(p->store, user, add_contact, ctx) != MQC_OK)
        mqc_log(MQC_LOG_WARNING,
                "presence: cannot load contacts; presence of others hidden "
                "until reconnect (user=%s)",
                user);
}

/* The answer (rc, sees) taken into user's set, unless it is stale. */
static void apply(struct contacts_load *l, int rc, const char *const *sees, size_t nsees)
{
    struct mqc_plugin *p = l->p;
    if (l->superseded)
        return;
    mqc_map_del(p->contacts_loading, l->user);
    if (rc != MQC_OK) {
        mqc_log(MQC_LOG_WARNING,
                "presence: cannot load contacts: %s; presence of others hidden "
                "until reconnect (user=%s)",
                mqc_err_str(rc), l->user);
    } else if (l->epoch != p->vis_epoch) {
        mqc_plugin__visibility_recheck(p, l->user); /* the whole truth, later */
    } else {
        for (size_t i = 0; i < nsees; i++)
            mqc_contacts_add(p->contacts, l->user, sees[i]);
    }
}

/* Tests only: keep the answer for test_contacts_delay_ms. */
static bool hold(struct contacts_load *l, int rc, const char *const *sees, size_t nsees)
{
    struct mqc_plugin *p = l->p;
    if (p->cfg.test_contacts_delay_ms <= 0 || l->superseded)
        return false;
    l->sees = nsees ? calloc(nsees, sizeof *l->sees) : NULL;
    if (nsees && !l->sees)
        return false;
    for (size_t i = 0; i < nsees; i++) {
        if (!(l->sees[l->nsees] = strdup(sees[i])))
            return false; /* applied now: the ones copied are freed with l */
        l->nsees++;
    }
    l->rc = rc;
    l->due = mqc_clock_mono_ms() + p->cfg.test_contacts_delay_ms;
    struct contacts_load **tail = &p->contacts_held;
    while (*tail)
        tail = &(*tail)->next;
    *tail = l;
    return true;
}

static void load_done(void *ctx, int rc, const char *const *sees, size_t nsees,
                      const char *const *seen_by, size_t nseen_by)
{
    (void)seen_by;
    (void)nseen_by;
    struct contacts_load *l = ctx;
    if (hold(l, rc, sees, nsees))
        return;
    apply(l, rc, sees, nsees);
    load_free(l);
}

void mqc_plugin__contacts_tick(struct mqc_plugin *p, bool flush)
{
    int64_t now = mqc_clock_mono_ms();
    while (p->contacts_held && (flush || p->contacts_held->due <= now)) {
        struct contacts_load *l = p->contacts_held;
        p->contacts_held = l->next;
        if (!flush) {
            mqc_log(MQC_LOG_NOTICE, "presence: test delay over: contacts of %s", l->user);
            apply(l, l->rc, (const char *const *)l->sees, l->nsees);
        }
        load_free(l);
    }
}

void mqc_plugin__contacts_load(struct mqc_plugin *p, const char *user)
{
    struct contacts_load *l = calloc(1, sizeof *l);
    if (!l || strlen(user) > MQC_ID_MAX || mqc_map_put(p->contacts_loading, user, l) != MQC_OK) {
        free(l);
        load_now(p, user);
        return;
    }
    l->p = p;
    l->epoch = p->vis_epoch;
    memcpy(l->user, user, strlen(user) + 1);
    if (mqc_store_visibility(p->store, user, load_done, l) != MQC_OK) {
        mqc_map_del(p->contacts_loading, user);
        free(l);
        load_now(p, user);
    }
}

void mqc_plugin__contacts_wait(struct mqc_plugin *p, const char *user)
{
    if (mqc_map_count(p->contacts_loading) == 0)
        return;
    struct contacts_load *l = mqc_map_del(p->contacts_loading, user);
    if (!l)
        return;
    l->superseded = true; /* load_done (or the tick) frees it */
    load_now(p, user);
}

void mqc_plugin__contacts_forget(struct mqc_plugin *p, const char *user)
{
    struct contacts_load *l = mqc_map_del(p->contacts_loading, user);
    if (l)
        l->superseded = true;
}
