/* Unit tests for core/presence.h: the per-user device/state machine. Time is
 * only the `now` argument, so each case is a script of broker events at
 * chosen times; every change due() hands out is collected into a log and the
 * cases assert exactly what was published (user, state, last_seen, devices),
 * in what order, and what due() returns as the next deadline. The scripts
 * cover the out-of-order events Mosquitto produces (takeover, the stale
 * second DISCONNECT, SIGHUP re-auth, flapping within grace), away handling,
 * wills (forget_published), the message path (mark_published), thousands of
 * users, and a fixed-seed random walk checked against a model after every
 * due(). */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/presence.h"
#include "tests/unit/test.h"

enum { OFF = MQC_PRESENCE_OFFLINE, AWAY = MQC_PRESENCE_AWAY, ON = MQC_PRESENCE_ONLINE };

/* One published change, copied out of the callback (its user is borrowed). */
struct rec {
    char user[32];
    int state;
    int64_t last_seen;
    size_t devices;
};

/* What one due() published. */
struct log {
    struct rec *v;
    size_t n, cap;
};

static void collect(const struct mqc_presence_change *c, void *ctx)
{
    struct log *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct rec *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            fprintf(stderr, "collect: out of memory\n");
            abort();
        }
        l->v = v;
        l->cap = cap;
    }
    struct rec *r = &l->v[l->n++];
    snprintf(r->user, sizeof r->user, "%s", c->user ? c->user : "(null)");
    r->state = (int)c->state;
    r->last_seen = c->last_seen;
    r->devices = c->devices;
}

/* Run due() at now with a fresh log; returns due()'s deadline. */
static int64_t due(struct mqc_presence *pr, struct log *l, int64_t now)
{
    l->n = 0;
    return mqc_presence_due(pr, now, collect, l);
}

static void log_free(struct log *l)
{
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* Check that entry i of l is exactly (user, state, last_seen, devices). */
static bool expect_at(const struct log *l, size_t i, const char *user, int state, int64_t last_seen,
                      size_t devices, int line)
{
    bool ok = CHECK(i < l->n);
    if (ok) {
        const struct rec *r = &l->v[i];
        ok &= CHECK_STR(r->user, user);
        ok &= CHECK_EQ_INT(r->state, state);
        ok &= CHECK_EQ_INT(r->last_seen, last_seen);
        ok &= CHECK_EQ_INT(r->devices, devices);
    }
    if (!ok)
        fprintf(stderr,
                "  (entry %zu expected at line %d: %s %s last_seen=%" PRId64 " devices=%zu)\n", i,
                line, user, mqc_presence_name((enum mqc_pstate)state), last_seen, devices);
    return ok;
}
#define EXPECT_AT(l, i, user, st, ls, dev) expect_at((l), (i), (user), (st), (ls), (dev), __LINE__)

/* ---- single events -------------------------------------------------------- */

TEST(connect_publishes_online_once)
{
    struct mqc_presence *pr = mqc_presence_new(1000);
    struct log l = {0};
    if (!CHECK(pr != NULL))
        return;
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "alice", 100), MQC_OK);
    CHECK(mqc_presence_tracked(pr, 1));
    CHECK_STR(mqc_presence_user_of(pr, 1), "alice");
    CHECK_EQ_INT(mqc_presence_devices(pr, "alice"), 1);
    CHECK_EQ_INT(mqc_presence_state(pr, "alice"), ON);
    /* online's last_seen is the time of the due() that publishes it */
    CHECK_EQ_INT(due(pr, &l, 110), -1);
    CHECK_EQ_INT(l.n, 1);
    EXPECT_AT(&l, 0, "alice", ON, 110, 1);
    CHECK_EQ_INT(due(pr, &l, 120), -1);
    CHECK_EQ_INT(l.n, 0);
    CHECK_EQ_INT(due(pr, &l, 100000), -1);
    CHECK_EQ_INT(l.n, 0);
    log_free(&l);
    mqc_presence_free(pr);
}

TEST(queries_on_unknown)
{
    struct mqc_presence *pr = mqc_presence_new(1000);
    struct log l = {0};
    if (!CHECK(pr != NULL))
        return;
    CHECK(!mqc_presence_tracked(pr, 1));
    CHECK(mqc_presence_user_of(pr, 1) == NULL);
    CHECK_EQ_INT(mqc_presence_devices(pr, "nobody"), 0);
    CHECK_EQ_INT(mqc_presence_state(pr, "nobody"), OFF);
    CHECK_EQ_INT(due(pr, &l, 0), -1);
    CHECK_EQ_INT(l.n, 0);
    /* the user name is copied: the caller's buffer may change */
    char name[] = "alice";
    CHECK_EQ_INT(mqc_presence_connect(pr, 7, name, 0), MQC_OK);
    name[0] = 'X';
    CHECK_STR(mqc_presence_user_of(pr, 7), "alice");
    CHECK_EQ_INT(mqc_presence_devices(pr, "alice"), 1);
    CHECK_EQ_INT(mqc_presence_devices(pr, "Xlice"), 0);
    CHECK(!mqc_presence_tracked(pr, 8));
    CHECK_EQ_INT(mqc_presence_devices(pr, "alic"), 0);
    /* keys are whole pointer-sized values: neighbours and extremes differ */
    CHECK_EQ_INT(mqc_presence_connect(pr, UINTPTR_MAX, "bob", 0), MQC_OK);
    CHECK_EQ_INT(mqc_presence_connect(pr, UINTPTR_MAX - 1, "carol", 0), MQC_OK);
    CHECK_EQ_INT(mqc_presence_connect(pr, (uintptr_t)0x10, "dave", 0), MQC_OK);
    CHECK_STR(mqc_presence_user_of(pr, UINTPTR_MAX), "bob");
    CHECK_STR(mqc_presence_user_of(pr, UINTPTR_MAX - 1), "carol");
    CHECK_STR(mqc_presence_user_of(pr, 0x10), "dave");
    CHECK(mqc_presence_user_of(pr, 0x1) == NULL);
    CHECK(mqc_presence_user_of(pr, 0x100) == NULL);
    log_free(&l);
    mqc_presence_free(pr);
}

TEST(order_of_changes)
{
    struct mqc_presence *pr = mqc_presence_new(1000);
    struct log l = {0};
    if (!CHECK(pr != NULL))
        return;
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "bob", 0), MQC_OK);
    CHECK_EQ_INT(mqc_presence_connect(pr, 2, "alice", 1), MQC_OK);
    CHECK_EQ_INT(mqc_presence_connect(pr, 3, "carol", 2), MQC_OK);
    CHECK_EQ_INT(mqc_presence_connect(pr, 4, "bob", 3), MQC_OK); /* bob already dirty */
    CHECK_EQ_INT(due(pr, &l, 10), -1);
    if (CHECK_EQ_INT(l.n, 3)) {
        EXPECT_AT(&l, 0, "bob", ON, 10, 2);
        EXPECT_AT(&l, 1, "alice", ON, 10, 1);
        EXPECT_AT(&l, 2, "carol", ON, 10, 1);
    }
    CHECK_EQ_INT(mqc_presence_set(pr, 3, MQC_PRESENCE_AWAY, 20), MQC_OK);
    CHECK_EQ_INT(mqc_presence_set(pr, 2, MQC_PRESENCE_AWAY, 21), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 30), -1);
    if (CHECK_EQ_INT(l.n, 2)) {
        EXPECT_AT(&l, 0, "carol", AWAY, 30, 1);
        EXPECT_AT(&l, 1, "alice", AWAY, 30, 1);
    }
    /* going offline: in the order the users left */
    mqc_presence_disconnect(pr, 3, 100);
    mqc_presence_disconnect(pr, 2, 200);
    CHECK_EQ_INT(due(pr, &l, 150), 1100);
    CHECK_EQ_INT(l.n, 0);
    CHECK_EQ_INT(due(pr, &l, 5000), -1);
    if (CHECK_EQ_INT(l.n, 2)) {
        EXPECT_AT(&l, 0, "carol", OFF, 100, 0);
        EXPECT_AT(&l, 1, "alice", OFF, 200, 0);
    }
    log_free(&l);
    mqc_presence_free(pr);
}

static void count_ctx(const struct mqc_presence_change *c, void *ctx)
{
    (void)c;
    (*(int *)ctx)++;
}

TEST(ctx_passed_through)
{
    struct mqc_presence *pr = mqc_presence_new(1000);
    if (!CHECK(pr != NULL))
        return;
    int calls = 0;
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "a", 0), MQC_OK);
    CHECK_EQ_INT(mqc_presence_connect(pr, 2, "b", 0), MQC_OK);
    CHECK_EQ_INT(mqc_presence_due(pr, 1, count_ctx, &calls), -1);
    CHECK_EQ_INT(calls, 2);
    mqc_presence_free(pr);
}

/* ---- going offline -------------------------------------------------------- */

TEST(last_device_leaves_after_grace)
{
    struct mqc_presence *pr = mqc_presence_new(1000);
    struct log l = {0};
    if (!CHECK(pr != NULL))
        return;
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "alice", 0), MQC_OK);
    CHECK_EQ_INT(mqc_presence_connect(pr, 2, "alice", 0), MQC_OK);
    CHECK_EQ_INT(mqc_presence_devices(pr, "alice"), 2);
    CHECK_EQ_INT(due(pr, &l, 1), -1);
    CHECK_EQ_INT(l.n, 1);
    EXPECT_AT(&l, 0, "alice", ON, 1, 2);

    /* one of two leaves: still online, nothing to say */
    mqc_presence_disconnect(pr, 1, 10);
    CHECK(!mqc_presence_tracked(pr, 1));
    CHECK_EQ_INT(mqc_presence_devices(pr, "alice"), 1);
    CHECK_EQ_INT(mqc_presence_state(pr, "alice"), ON);
    CHECK_EQ_INT(due(pr, &l, 11), -1);
    CHECK_EQ_INT(l.n, 0);

    /* the last leaves: offline now, but published only after grace */
    mqc_presence_disconnect(pr, 2, 20);
    CHECK_EQ_INT(mqc_presence_devices(pr, "alice"), 0);
    CHECK_EQ_INT(mqc_presence_state(pr, "alice"), OFF);
    CHECK_EQ_INT(due(pr, &l, 21), 1020);
    CHECK_EQ_INT(l.n, 0);
    CHECK_EQ_INT(due(pr, &l, 1019), 1020);
    CHECK_EQ_INT(l.n, 0);
    CHECK_EQ_INT(due(pr, &l, 1020), -1);
    CHECK_EQ_INT(l.n, 1);
    EXPECT_AT(&l, 0, "alice", OFF, 20, 0);
    CHECK_EQ_INT(due(pr, &l, 1021), -1);
    CHECK_EQ_INT(l.n, 0);
    CHECK_EQ_INT(due(pr, &l, 99999), -1);
    CHECK_EQ_INT(l.n, 0);
    CHECK_EQ_INT(mqc_presence_state(pr, "alice"), OFF);
    log_free(&l);
    mqc_presence_free(pr);
}

TEST(due_after_deadline_uses_disconnect_time)
{
    /* a due() long after the deadline still stamps the disconnect time */
    struct mqc_presence *pr = mqc_presence_new(500);
    struct log l = {0};
    if (!CHECK(pr != NULL))
        return;
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "alice", 1000), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 1000), -1);
    EXPECT_AT(&l, 0, "alice", ON, 1000, 1);
    mqc_presence_disconnect(pr, 1, 2000);
    CHECK_EQ_INT(due(pr, &l, 60000), -1);
    CHECK_EQ_INT(l.n, 1);
    EXPECT_AT(&l, 0, "alice", OFF, 2000, 0);
    log_free(&l);
    mqc_presence_free(pr);
}

TEST(earliest_deadline_returned)
{
    struct mqc_presence *pr = mqc_presence_new(1000);
    struct log l = {0};
    if (!CHECK(pr != NULL))
        return;
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "alice", 0), MQC_OK);
    CHECK_EQ_INT(mqc_presence_connect(pr, 2, "bob", 0), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 0), -1);
    CHECK_EQ_INT(l.n, 2);
    mqc_presence_disconnect(pr, 1, 100);
    mqc_presence_disconnect(pr, 2, 300);
    CHECK_EQ_INT(due(pr, &l, 301), 1100);
    CHECK_EQ_INT(l.n, 0);
    CHECK_EQ_INT(due(pr, &l, 1100), 1300); /* alice out, bob next */
    CHECK_EQ_INT(l.n, 1);
    EXPECT_AT(&l, 0, "alice", OFF, 100, 0);
    CHECK_EQ_INT(due(pr, &l, 1299), 1300);
    CHECK_EQ_INT(l.n, 0);
    CHECK_EQ_INT(due(pr, &l, 1300), -1);
    CHECK_EQ_INT(l.n, 1);
    EXPECT_AT(&l, 0, "bob", OFF, 300, 0);
    log_free(&l);
    mqc_presence_free(pr);
}

TEST(flapping_within_grace_publishes_nothing)
{
    struct mqc_presence *pr = mqc_presence_new(1000);
    struct log l = {0};
    if (!CHECK(pr != NULL))
        return;
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "alice", 0), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 1), -1);
    EXPECT_AT(&l, 0, "alice", ON, 1, 1);
    size_t published = 0;
    mqc_presence_disconnect(pr, 1, 100);
    CHECK_EQ_INT(due(pr, &l, 150), 1100);
    published += l.n;
    CHECK_EQ_INT(mqc_presence_connect(pr, 2, "alice", 200), MQC_OK); /* new key */
    CHECK_EQ_INT(mqc_presence_state(pr, "alice"), ON);
    CHECK_EQ_INT(due(pr, &l, 250), -1);
    published += l.n;
    CHECK_EQ_INT(due(pr, &l, 1100), -1); /* the old deadline passes */
    published += l.n;
    CHECK_EQ_INT(due(pr, &l, 50000), -1);
    published += l.n;
    CHECK_EQ_INT(published, 0);
    CHECK_EQ_INT(mqc_presence_devices(pr, "alice"), 1);

    /* many flaps, some with no due() in between, none published */
    int64_t t = 60000;
    uintptr_t key = 2;
    for (int i = 0; i < 20; i++) {
        mqc_presence_disconnect(pr, key, t);
        t += 300;
        if (i % 3 == 0) {
            due(pr, &l, t);
            published += l.n;
        }
        key++;
        CHECK_EQ_INT(mqc_presence_connect(pr, key, "alice", t), MQC_OK);
        t += 50;
        due(pr, &l, t);
        published += l.n;
    }
    CHECK_EQ_INT(due(pr, &l, t + 100000), -1);
    published += l.n;
    CHECK_EQ_INT(published, 0);
    CHECK_EQ_INT(mqc_presence_devices(pr, "alice"), 1);
    log_free(&l);
    mqc_presence_free(pr);
}

TEST(flap_then_leave_for_good)
{
    /* reconnect within grace, then leave again: one offline, stamped with the
     * second departure, after the second grace window */
    struct mqc_presence *pr = mqc_presence_new(1000);
    struct log l = {0};
    if (!CHECK(pr != NULL))
        return;
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "alice", 0), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 0), -1);
    mqc_presence_disconnect(pr, 1, 100);
    CHECK_EQ_INT(mqc_presence_connect(pr, 2, "alice", 200), MQC_OK);
    mqc_presence_disconnect(pr, 2, 300); /* no due() in between */
    CHECK_EQ_INT(due(pr, &l, 310), 1300);
    CHECK_EQ_INT(l.n, 0);
    CHECK_EQ_INT(due(pr, &l, 1100), 1300); /* the first window is not the one */
    CHECK_EQ_INT(l.n, 0);
    CHECK_EQ_INT(due(pr, &l, 1300), -1);
    CHECK_EQ_INT(l.n, 1);
    EXPECT_AT(&l, 0, "alice", OFF, 300, 0);
    CHECK_EQ_INT(due(pr, &l, 9000), -1);
    CHECK_EQ_INT(l.n, 0);
    log_free(&l);
    mqc_presence_free(pr);
}

TEST(takeover_never_offline)
{
    /* the same client id reconnects: the broker authenticates the new
     * connection before it disconnects the old one */
    struct mqc_presence *pr = mqc_presence_new(1000);
    struct log l = {0};
    if (!CHECK(pr != NULL))
        return;
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "alice", 0), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 0), -1);
    EXPECT_AT(&l, 0, "alice", ON, 0, 1);
    CHECK_EQ_INT(mqc_presence_connect(pr, 2, "alice", 100), MQC_OK);
    CHECK_EQ_INT(mqc_presence_devices(pr, "alice"), 2);
    mqc_presence_disconnect(pr, 1, 101);
    CHECK_EQ_INT(mqc_presence_devices(pr, "alice"), 1);
    CHECK_EQ_INT(mqc_presence_state(pr, "alice"), ON);
    CHECK_STR(mqc_presence_user_of(pr, 2), "alice");
    size_t published = 0;
    CHECK_EQ_INT(due(pr, &l, 102), -1);
    published += l.n;
    CHECK_EQ_INT(due(pr, &l, 1101), -1);
    published += l.n;
    CHECK_EQ_INT(due(pr, &l, 100000), -1);
    published += l.n;
    CHECK_EQ_INT(published, 0);

    /* takeover of an away device: the new connection starts online */
    CHECK_EQ_INT(mqc_presence_set(pr, 2, MQC_PRESENCE_AWAY, 200000), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 200001), -1);
    CHECK_EQ_INT(l.n, 1);
    EXPECT_AT(&l, 0, "alice", AWAY, 200001, 1);
    CHECK_EQ_INT(mqc_presence_connect(pr, 3, "alice", 200100), MQC_OK);
    mqc_presence_disconnect(pr, 2, 200101);
    CHECK_EQ_INT(due(pr, &l, 200102), -1);
    CHECK_EQ_INT(l.n, 1);
    EXPECT_AT(&l, 0, "alice", ON, 200102, 1);
    log_free(&l);
    mqc_presence_free(pr);
}

TEST(stale_disconnect_ignored)
{
    struct mqc_presence *pr = mqc_presence_new(1000);
    struct log l = {0};
    if (!CHECK(pr != NULL))
        return;
    /* a key never seen: nothing created, nothing published */
    mqc_presence_disconnect(pr, 99, 5);
    CHECK(!mqc_presence_tracked(pr, 99));
    CHECK_EQ_INT(due(pr, &l, 6), -1);
    CHECK_EQ_INT(l.n, 0);

    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "alice", 10), MQC_OK);
    CHECK_EQ_INT(mqc_presence_connect(pr, 2, "alice", 10), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 11), -1);
    CHECK_EQ_INT(l.n, 1);
    /* disconnected twice: the second is ignored and does not take key 2 */
    mqc_presence_disconnect(pr, 1, 20);
    mqc_presence_disconnect(pr, 1, 21);
    CHECK_EQ_INT(mqc_presence_devices(pr, "alice"), 1);
    CHECK(mqc_presence_tracked(pr, 2));
    CHECK_EQ_INT(mqc_presence_state(pr, "alice"), ON);
    mqc_presence_disconnect(pr, 99, 22);
    CHECK_EQ_INT(mqc_presence_devices(pr, "alice"), 1);
    CHECK_EQ_INT(due(pr, &l, 23), -1);
    CHECK_EQ_INT(l.n, 0);
    CHECK_EQ_INT(due(pr, &l, 5000), -1);
    CHECK_EQ_INT(l.n, 0);

    /* persistent session: disconnect, reconnect on a new key, then the
     * broker's second DISCONNECT for the old key */
    mqc_presence_disconnect(pr, 2, 6000);
    CHECK_EQ_INT(mqc_presence_connect(pr, 3, "alice", 6100), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 6101), -1);
    CHECK_EQ_INT(l.n, 0);
    mqc_presence_disconnect(pr, 2, 6200);
    CHECK_EQ_INT(mqc_presence_devices(pr, "alice"), 1);
    CHECK_EQ_INT(mqc_presence_state(pr, "alice"), ON);
    CHECK_EQ_INT(due(pr, &l, 6201), -1);
    CHECK_EQ_INT(l.n, 0);
    CHECK_EQ_INT(due(pr, &l, 20000), -1);
    CHECK_EQ_INT(l.n, 0);

    /* a stale disconnect after the user went offline does not move last_seen */
    mqc_presence_disconnect(pr, 3, 30000);
    CHECK_EQ_INT(due(pr, &l, 31000), -1);
    CHECK_EQ_INT(l.n, 1);
    EXPECT_AT(&l, 0, "alice", OFF, 30000, 0);
    mqc_presence_disconnect(pr, 3, 40000);
    CHECK_EQ_INT(due(pr, &l, 50000), -1);
    CHECK_EQ_INT(l.n, 0);
    log_free(&l);
    mqc_presence_free(pr);
}

TEST(connect_existing_key_is_eexist)
{
    /* SIGHUP re-authenticates live sessions: same key, maybe another name */
    struct mqc_presence *pr = mqc_presence_new(1000);
    struct log l = {0};
    if (!CHECK(pr != NULL))
        return;
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "alice", 0), MQC_OK);
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "alice", 5), MQC_EEXIST);
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "bob", 6), MQC_EEXIST);
    CHECK_EQ_INT(mqc_presence_devices(pr, "alice"), 1);
    CHECK_EQ_INT(mqc_presence_devices(pr, "bob"), 0);
    CHECK_EQ_INT(mqc_presence_state(pr, "bob"), OFF);
    CHECK_STR(mqc_presence_user_of(pr, 1), "alice");
    CHECK_EQ_INT(due(pr, &l, 10), -1);
    if (CHECK_EQ_INT(l.n, 1))
        EXPECT_AT(&l, 0, "alice", ON, 10, 1);
    /* after publishing, a re-auth changes nothing either, even when away */
    CHECK_EQ_INT(mqc_presence_set(pr, 1, MQC_PRESENCE_AWAY, 20), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 21), -1);
    CHECK_EQ_INT(l.n, 1);
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "alice", 30), MQC_EEXIST);
    CHECK_EQ_INT(mqc_presence_state(pr, "alice"), AWAY);
    CHECK_EQ_INT(mqc_presence_devices(pr, "alice"), 1);
    CHECK_EQ_INT(due(pr, &l, 31), -1);
    CHECK_EQ_INT(l.n, 0);
    log_free(&l);
    mqc_presence_free(pr);
}

TEST(key_reused_by_another_user)
{
    /* the broker may reuse a freed client pointer for someone else */
    struct mqc_presence *pr = mqc_presence_new(1000);
    struct log l = {0};
    if (!CHECK(pr != NULL))
        return;
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "alice", 0), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 0), -1);
    mqc_presence_disconnect(pr, 1, 10);
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "bob", 20), MQC_OK);
    CHECK_STR(mqc_presence_user_of(pr, 1), "bob");
    CHECK_EQ_INT(mqc_presence_devices(pr, "alice"), 0);
    CHECK_EQ_INT(due(pr, &l, 30), 1010);
    if (CHECK_EQ_INT(l.n, 1))
        EXPECT_AT(&l, 0, "bob", ON, 30, 1);
    CHECK_EQ_INT(due(pr, &l, 1010), -1);
    if (CHECK_EQ_INT(l.n, 1))
        EXPECT_AT(&l, 0, "alice", OFF, 10, 0);
    log_free(&l);
    mqc_presence_free(pr);
}

/* ---- away ----------------------------------------------------------------- */

TEST(away_single_device)
{
    struct mqc_presence *pr = mqc_presence_new(1000);
    struct log l = {0};
    if (!CHECK(pr != NULL))
        return;
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "alice", 0), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 0), -1);
    CHECK_EQ_INT(mqc_presence_set(pr, 1, MQC_PRESENCE_AWAY, 10), MQC_OK);
    CHECK_EQ_INT(mqc_presence_state(pr, "alice"), AWAY);
    CHECK_EQ_INT(due(pr, &l, 11), -1);
    CHECK_EQ_INT(l.n, 1);
    EXPECT_AT(&l, 0, "alice", AWAY, 11, 1);
    /* saying away again is no change */
    CHECK_EQ_INT(mqc_presence_set(pr, 1, MQC_PRESENCE_AWAY, 20), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 21), -1);
    CHECK_EQ_INT(l.n, 0);
    CHECK_EQ_INT(mqc_presence_set(pr, 1, MQC_PRESENCE_ONLINE, 30), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 31), -1);
    CHECK_EQ_INT(l.n, 1);
    EXPECT_AT(&l, 0, "alice", ON, 31, 1);
    /* away and back before any due(): nothing to say */
    CHECK_EQ_INT(mqc_presence_set(pr, 1, MQC_PRESENCE_AWAY, 40), MQC_OK);
    CHECK_EQ_INT(mqc_presence_set(pr, 1, MQC_PRESENCE_ONLINE, 41), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 42), -1);
    CHECK_EQ_INT(l.n, 0);
    /* an away user who leaves goes offline after grace */
    CHECK_EQ_INT(mqc_presence_set(pr, 1, MQC_PRESENCE_AWAY, 50), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 51), -1);
    CHECK_EQ_INT(l.n, 1);
    mqc_presence_disconnect(pr, 1, 60);
    CHECK_EQ_INT(due(pr, &l, 61), 1060);
    CHECK_EQ_INT(l.n, 0);
    CHECK_EQ_INT(due(pr, &l, 1060), -1);
    CHECK_EQ_INT(l.n, 1);
    EXPECT_AT(&l, 0, "alice", OFF, 60, 0);
    log_free(&l);
    mqc_presence_free(pr);
}

TEST(away_two_devices)
{
    struct mqc_presence *pr = mqc_presence_new(1000);
    struct log l = {0};
    if (!CHECK(pr != NULL))
        return;
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "alice", 0), MQC_OK);
    CHECK_EQ_INT(mqc_presence_connect(pr, 2, "alice", 0), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 0), -1);
    CHECK_EQ_INT(l.n, 1);
    /* one away, one online: online */
    CHECK_EQ_INT(mqc_presence_set(pr, 1, MQC_PRESENCE_AWAY, 10), MQC_OK);
    CHECK_EQ_INT(mqc_presence_state(pr, "alice"), ON);
    CHECK_EQ_INT(due(pr, &l, 11), -1);
    CHECK_EQ_INT(l.n, 0);
    /* both away: away */
    CHECK_EQ_INT(mqc_presence_set(pr, 2, MQC_PRESENCE_AWAY, 20), MQC_OK);
    CHECK_EQ_INT(mqc_presence_state(pr, "alice"), AWAY);
    CHECK_EQ_INT(due(pr, &l, 21), -1);
    CHECK_EQ_INT(l.n, 1);
    EXPECT_AT(&l, 0, "alice", AWAY, 21, 2);
    /* one back online */
    CHECK_EQ_INT(mqc_presence_set(pr, 1, MQC_PRESENCE_ONLINE, 30), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 31), -1);
    CHECK_EQ_INT(l.n, 1);
    EXPECT_AT(&l, 0, "alice", ON, 31, 2);
    /* the online one leaves: away at once (not offline, no grace) */
    mqc_presence_disconnect(pr, 1, 40);
    CHECK_EQ_INT(mqc_presence_state(pr, "alice"), AWAY);
    CHECK_EQ_INT(mqc_presence_devices(pr, "alice"), 1);
    CHECK_EQ_INT(due(pr, &l, 41), -1);
    CHECK_EQ_INT(l.n, 1);
    EXPECT_AT(&l, 0, "alice", AWAY, 41, 1);
    CHECK_EQ_INT(due(pr, &l, 5000), -1);
    CHECK_EQ_INT(l.n, 0);
    /* a new device starts online and wins over the away one */
    CHECK_EQ_INT(mqc_presence_connect(pr, 3, "alice", 6000), MQC_OK);
    CHECK_EQ_INT(mqc_presence_state(pr, "alice"), ON);
    CHECK_EQ_INT(due(pr, &l, 6001), -1);
    CHECK_EQ_INT(l.n, 1);
    EXPECT_AT(&l, 0, "alice", ON, 6001, 2);
    /* the away one leaving changes nothing visible */
    mqc_presence_disconnect(pr, 2, 7000);
    CHECK_EQ_INT(due(pr, &l, 7001), -1);
    CHECK_EQ_INT(l.n, 0);
    CHECK_EQ_INT(mqc_presence_devices(pr, "alice"), 1);
    log_free(&l);
    mqc_presence_free(pr);
}

TEST(set_errors)
{
    struct mqc_presence *pr = mqc_presence_new(1000);
    struct log l = {0};
    if (!CHECK(pr != NULL))
        return;
    CHECK_EQ_INT(mqc_presence_set(pr, 1, MQC_PRESENCE_AWAY, 0), MQC_ENOTFOUND);
    CHECK_EQ_INT(mqc_presence_set(pr, 1, MQC_PRESENCE_ONLINE, 0), MQC_ENOTFOUND);
    CHECK(!mqc_presence_tracked(pr, 1));
    CHECK_EQ_INT(due(pr, &l, 1), -1);
    CHECK_EQ_INT(l.n, 0);
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "alice", 0), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 1), -1);
    CHECK_EQ_INT(l.n, 1);
    /* offline is not a device state; neither is garbage */
    CHECK_EQ_INT(mqc_presence_set(pr, 1, MQC_PRESENCE_OFFLINE, 2), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_presence_set(pr, 1, (enum mqc_pstate)7, 2), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_presence_set(pr, 1, (enum mqc_pstate) - 1, 2), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_presence_state(pr, "alice"), ON);
    CHECK_EQ_INT(mqc_presence_devices(pr, "alice"), 1);
    CHECK_EQ_INT(due(pr, &l, 3), -1);
    CHECK_EQ_INT(l.n, 0);
    /* set on a key that has left */
    mqc_presence_disconnect(pr, 1, 10);
    CHECK_EQ_INT(mqc_presence_set(pr, 1, MQC_PRESENCE_AWAY, 11), MQC_ENOTFOUND);
    CHECK_EQ_INT(mqc_presence_state(pr, "alice"), OFF);
    CHECK_EQ_INT(due(pr, &l, 2000), -1);
    if (CHECK_EQ_INT(l.n, 1))
        EXPECT_AT(&l, 0, "alice", OFF, 10, 0);
    log_free(&l);
    mqc_presence_free(pr);
}

/* ---- grace 0 and same-pass sequences ------------------------------------- */

TEST(grace_zero)
{
    struct mqc_presence *pr = mqc_presence_new(0);
    struct log l = {0};
    if (!CHECK(pr != NULL))
        return;
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "alice", 0), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 1), -1);
    CHECK_EQ_INT(l.n, 1);
    mqc_presence_disconnect(pr, 1, 50);
    CHECK_EQ_INT(due(pr, &l, 50), -1);
    CHECK_EQ_INT(l.n, 1);
    EXPECT_AT(&l, 0, "alice", OFF, 50, 0);
    CHECK_EQ_INT(due(pr, &l, 51), -1);
    CHECK_EQ_INT(l.n, 0);
    /* connect and leave before any due(): a single offline */
    CHECK_EQ_INT(mqc_presence_connect(pr, 2, "bob", 100), MQC_OK);
    mqc_presence_disconnect(pr, 2, 101);
    CHECK_EQ_INT(due(pr, &l, 102), -1);
    if (CHECK_EQ_INT(l.n, 1))
        EXPECT_AT(&l, 0, "bob", OFF, 101, 0);
    /* back and gone again before a due(): online was never told and the
     * state did not change, so nothing is published (no storm from users
     * flapping faster than the broker's passes) */
    CHECK_EQ_INT(mqc_presence_connect(pr, 3, "bob", 200), MQC_OK);
    mqc_presence_disconnect(pr, 3, 201);
    CHECK_EQ_INT(due(pr, &l, 202), -1);
    CHECK_EQ_INT(l.n, 0);
    CHECK_EQ_INT(due(pr, &l, 203), -1);
    CHECK_EQ_INT(l.n, 0);
    log_free(&l);
    mqc_presence_free(pr);
}

TEST(connect_and_leave_in_one_pass)
{
    struct mqc_presence *pr = mqc_presence_new(1000);
    struct log l = {0};
    if (!CHECK(pr != NULL))
        return;
    /* never published: the world was told nothing, so the stamped offline
     * goes out at once (never "online" for a user with no device) */
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "alice", 0), MQC_OK);
    mqc_presence_disconnect(pr, 1, 5);
    CHECK_EQ_INT(due(pr, &l, 6), 1005);
    if (CHECK_EQ_INT(l.n, 1))
        EXPECT_AT(&l, 0, "alice", OFF, 5, 0);
    CHECK_EQ_INT(due(pr, &l, 1005), -1);
    CHECK_EQ_INT(l.n, 0);
    CHECK_EQ_INT(due(pr, &l, 9000), -1);
    CHECK_EQ_INT(l.n, 0);

    /* connect, leave, connect again: online */
    CHECK_EQ_INT(mqc_presence_connect(pr, 2, "bob", 10000), MQC_OK);
    mqc_presence_disconnect(pr, 2, 10005);
    CHECK_EQ_INT(mqc_presence_connect(pr, 3, "bob", 10006), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 10007), -1);
    if (CHECK_EQ_INT(l.n, 1))
        EXPECT_AT(&l, 0, "bob", ON, 10007, 1);

    /* published online, then a second device comes and goes and the first
     * leaves, all in one pass: offline waits for grace like any other */
    CHECK_EQ_INT(mqc_presence_connect(pr, 4, "bob", 10100), MQC_OK);
    mqc_presence_disconnect(pr, 4, 10101);
    mqc_presence_disconnect(pr, 3, 10102);
    CHECK_EQ_INT(due(pr, &l, 10103), 11102);
    CHECK_EQ_INT(l.n, 0);
    CHECK_EQ_INT(due(pr, &l, 11102), -1);
    if (CHECK_EQ_INT(l.n, 1))
        EXPECT_AT(&l, 0, "bob", OFF, 10102, 0);

    /* offline published at once, then back within grace: online, and the
     * old grace entry says nothing more */
    CHECK_EQ_INT(mqc_presence_connect(pr, 5, "carol", 20000), MQC_OK);
    mqc_presence_disconnect(pr, 5, 20001);
    CHECK_EQ_INT(due(pr, &l, 20002), 21001);
    if (CHECK_EQ_INT(l.n, 1))
        EXPECT_AT(&l, 0, "carol", OFF, 20001, 0);
    CHECK_EQ_INT(mqc_presence_connect(pr, 6, "carol", 20500), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 20501), -1);
    if (CHECK_EQ_INT(l.n, 1))
        EXPECT_AT(&l, 0, "carol", ON, 20501, 1);
    CHECK_EQ_INT(due(pr, &l, 30000), -1);
    CHECK_EQ_INT(l.n, 0);
    CHECK_EQ_INT(mqc_presence_state(pr, "carol"), ON);
    log_free(&l);
    mqc_presence_free(pr);
}

TEST(grace_queue_not_blocked_by_rejoin)
{
    /* alice leaves, bob leaves, alice comes back and leaves again with no
     * due() in between. Bob's window closes at 1020 whatever alice does. */
    struct mqc_presence *pr = mqc_presence_new(1000);
    struct log l = {0};
    if (!CHECK(pr != NULL))
        return;
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "alice", 0), MQC_OK);
    CHECK_EQ_INT(mqc_presence_connect(pr, 2, "bob", 0), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 1), -1);
    CHECK_EQ_INT(l.n, 2);
    mqc_presence_disconnect(pr, 1, 10);
    mqc_presence_disconnect(pr, 2, 20);
    CHECK_EQ_INT(mqc_presence_connect(pr, 3, "alice", 30), MQC_OK);
    mqc_presence_disconnect(pr, 3, 500);
    /* alice's first entry sits ahead of bob's but was superseded by her
     * second departure: it must not hold bob back. */
    int64_t next = due(pr, &l, 501);
    CHECK_EQ_INT(next, 1020);
    CHECK_EQ_INT(l.n, 0);
    next = due(pr, &l, 1100);
    CHECK_EQ_INT(next, 1500);
    if (CHECK_EQ_INT(l.n, 1))
        EXPECT_AT(&l, 0, "bob", OFF, 20, 0);
    next = due(pr, &l, 1500);
    CHECK_EQ_INT(next, -1);
    /* alice is the only change left at 1500 (bob's too if late) */
    bool alice_seen = false;
    for (size_t i = 0; i < l.n; i++) {
        if (strcmp(l.v[i].user, "alice") == 0) {
            alice_seen = true;
            EXPECT_AT(&l, i, "alice", OFF, 500, 0);
        }
    }
    CHECK(alice_seen);
    log_free(&l);
    mqc_presence_free(pr);
}

/* ---- wills and the message path ----------------------------------------- */

TEST(forget_published_no_devices_in_grace)
{
    /* a will (unstamped offline) went out while the user is in grace: the
     * stamped offline still follows once grace is over */
    struct mqc_presence *pr = mqc_presence_new(1000);
    struct log l = {0};
    if (!CHECK(pr != NULL))
        return;
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "alice", 0), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 0), -1);
    mqc_presence_disconnect(pr, 1, 10);
    CHECK_EQ_INT(due(pr, &l, 20), 1010);
    CHECK_EQ_INT(l.n, 0);
    mqc_presence_forget_published(pr, "alice");
    CHECK_EQ_INT(due(pr, &l, 30), 1010);
    CHECK_EQ_INT(l.n, 0);
    CHECK_EQ_INT(due(pr, &l, 1010), -1);
    if (CHECK_EQ_INT(l.n, 1))
        EXPECT_AT(&l, 0, "alice", OFF, 10, 0);
    CHECK_EQ_INT(due(pr, &l, 5000), -1);
    CHECK_EQ_INT(l.n, 0);
    log_free(&l);
    mqc_presence_free(pr);
}

TEST(forget_published_no_devices_after_offline)
{
    /* the offline was published, then a will goes out (e.g. an MQTT 5 will
     * delay): offline is published again, stamped with the departure */
    struct mqc_presence *pr = mqc_presence_new(1000);
    struct log l = {0};
    if (!CHECK(pr != NULL))
        return;
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "alice", 1000), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 1000), -1);
    mqc_presence_disconnect(pr, 1, 2000);
    CHECK_EQ_INT(due(pr, &l, 3000), -1);
    if (CHECK_EQ_INT(l.n, 1))
        EXPECT_AT(&l, 0, "alice", OFF, 2000, 0);
    mqc_presence_forget_published(pr, "alice");
    CHECK_EQ_INT(mqc_presence_devices(pr, "alice"), 0);
    CHECK_EQ_INT(mqc_presence_state(pr, "alice"), OFF);
    due(pr, &l, 10000);
    /* the record (and its last_seen) is kept after the offline was
     * published, so the repeat carries the real departure time */
    if (CHECK_EQ_INT(l.n, 1))
        EXPECT_AT(&l, 0, "alice", OFF, 2000, 0);
    CHECK_EQ_INT(due(pr, &l, 20000), -1);
    CHECK_EQ_INT(l.n, 0);
    log_free(&l);
    mqc_presence_free(pr);
}

TEST(forget_published_with_devices)
{
    struct mqc_presence *pr = mqc_presence_new(1000);
    struct log l = {0};
    if (!CHECK(pr != NULL))
        return;
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "alice", 0), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 0), -1);
    CHECK_EQ_INT(l.n, 1);
    mqc_presence_forget_published(pr, "alice");
    CHECK_EQ_INT(due(pr, &l, 10), -1);
    if (CHECK_EQ_INT(l.n, 1))
        EXPECT_AT(&l, 0, "alice", ON, 10, 1);
    CHECK_EQ_INT(due(pr, &l, 20), -1);
    CHECK_EQ_INT(l.n, 0);
    /* away is republished as away */
    CHECK_EQ_INT(mqc_presence_set(pr, 1, MQC_PRESENCE_AWAY, 30), MQC_OK);
    CHECK_EQ_INT(due(pr, &l, 31), -1);
    CHECK_EQ_INT(l.n, 1);
    mqc_presence_forget_published(pr, "alice");
    CHECK_EQ_INT(due(pr, &l, 40), -1);
    if (CHECK_EQ_INT(l.n, 1))
        EXPECT_AT(&l, 0, "alice", AWAY, 40, 1);
    /* forgetting twice before a due() still publishes once */
    mqc_presence_forget_published(pr, "alice");
    mqc_presence_forget_published(pr, "alice");
    CHECK_EQ_INT(due(pr, &l, 50), -1);
    CHECK_EQ_INT(l.n, 1);
    log_free(&l);
    mqc_presence_free(pr);
}

TEST(mark_published)
{
    struct mqc_presence *pr = mqc_presence_new(1000);
    struct log l = {0};
    if (!CHECK(pr != NULL))
        return;
    /* the message path published online itself: due() says nothing */
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "alice", 0), MQC_OK);
    mqc_presence_mark_published(pr, "alice", MQC_PRESENCE_ONLINE, 1);
    CHECK_EQ_INT(due(pr, &l, 2), -1);
    CHECK_EQ_INT(l.n, 0);
    /* as the plugin does for a presence message: set, then mark */
    CHECK_EQ_INT(mqc_presence_set(pr, 1, MQC_PRESENCE_AWAY, 10), MQC_OK);
    mqc_presence_mark_published(pr, "alice", MQC_PRESENCE_AWAY, 10);
    CHECK_EQ_INT(due(pr, &l, 11), -1);
    CHECK_EQ_INT(l.n, 0);
    CHECK_EQ_INT(mqc_presence_state(pr, "alice"), AWAY);
    /* a mark for another state than the current one: due() corrects it once
     * something makes the user due */
    CHECK_EQ_INT(mqc_presence_set(pr, 1, MQC_PRESENCE_AWAY, 20), MQC_OK);
    mqc_presence_mark_published(pr, "alice", MQC_PRESENCE_ONLINE, 20);
    CHECK_EQ_INT(due(pr, &l, 21), -1);
    if (CHECK_EQ_INT(l.n, 1))
        EXPECT_AT(&l, 0, "alice", AWAY, 21, 1);
    /* a mark for an unknown user creates nothing */
    mqc_presence_mark_published(pr, "nobody", MQC_PRESENCE_ONLINE, 30);
    CHECK_EQ_INT(mqc_presence_devices(pr, "nobody"), 0);
    CHECK_EQ_INT(mqc_presence_state(pr, "nobody"), OFF);
    CHECK_EQ_INT(due(pr, &l, 31), -1);
    CHECK_EQ_INT(l.n, 0);
    /* going offline after a mark still publishes offline after grace */
    mqc_presence_disconnect(pr, 1, 40);
    CHECK_EQ_INT(due(pr, &l, 1040), -1);
    if (CHECK_EQ_INT(l.n, 1))
        EXPECT_AT(&l, 0, "alice", OFF, 40, 0);
    log_free(&l);
    mqc_presence_free(pr);
}

/* ---- many users ----------------------------------------------------------- */

#define MANY 1000

/* Last published state per user "u<i>", or -1. */
struct board {
    int last[MANY];
    size_t published;
    int bad_user;
    int offline_with_devices;
};

static void on_board(const struct mqc_presence_change *c, void *ctx)
{
    struct board *b = ctx;
    int i = -1;
    if (sscanf(c->user, "u%d", &i) != 1 || i < 0 || i >= MANY) {
        b->bad_user++;
        return;
    }
    if (c->state == MQC_PRESENCE_OFFLINE && c->devices != 0)
        b->offline_with_devices++;
    b->last[i] = (int)c->state;
    b->published++;
}

TEST(many_users_interleaved)
{
    struct mqc_presence *pr = mqc_presence_new(1000);
    if (!CHECK(pr != NULL))
        return;
    static struct board b;
    memset(&b, 0, sizeof b);
    for (int i = 0; i < MANY; i++)
        b.last[i] = -1;
    char name[16];
    int64_t t = 0;
    int failed = 0;
    /* every user gets two devices: keys i+1 and MANY+i+1 */
    for (int i = 0; i < MANY; i++) {
        snprintf(name, sizeof name, "u%d", i);
        if (mqc_presence_connect(pr, (uintptr_t)i + 1, name, t) != MQC_OK)
            failed++;
        if (i % 100 == 99)
            mqc_presence_due(pr, t += 7, on_board, &b);
    }
    for (int i = MANY - 1; i >= 0; i--) {
        snprintf(name, sizeof name, "u%d", i);
        if (mqc_presence_connect(pr, (uintptr_t)(MANY + i) + 1, name, t) != MQC_OK)
            failed++;
    }
    CHECK_EQ_INT(failed, 0);
    mqc_presence_due(pr, t += 7, on_board, &b);
    /* interleaved: odd users lose both devices, users divisible by 3 go away
     * on the device they keep, every 5th flaps a device back */
    for (int i = 0; i < MANY; i++) {
        int j = (i * 7) % MANY; /* visit in a scrambled order */
        snprintf(name, sizeof name, "u%d", j);
        if (j % 2) {
            mqc_presence_disconnect(pr, (uintptr_t)j + 1, t);
            mqc_presence_disconnect(pr, (uintptr_t)(MANY + j) + 1, t + 1);
        } else if (j % 3 == 0) {
            mqc_presence_disconnect(pr, (uintptr_t)j + 1, t);
            if (mqc_presence_set(pr, (uintptr_t)(MANY + j) + 1, MQC_PRESENCE_AWAY, t) != MQC_OK)
                failed++;
        }
        if (j % 5 == 0 &&
            mqc_presence_connect(pr, (uintptr_t)(2 * MANY + j) + 1, name, t) != MQC_OK)
            failed++;
        t += 1;
        if (i % 50 == 0)
            mqc_presence_due(pr, t, on_board, &b);
    }
    CHECK_EQ_INT(failed, 0);
    mqc_presence_due(pr, t + 100000, on_board, &b);
    CHECK_EQ_INT(b.bad_user, 0);
    CHECK_EQ_INT(b.offline_with_devices, 0);
    int mismatch = 0, wrong_model = 0;
    for (int i = 0; i < MANY; i++) {
        snprintf(name, sizeof name, "u%d", i);
        enum mqc_pstate st = mqc_presence_state(pr, name);
        if (b.last[i] != (int)st) {
            if (mismatch++ < 5)
                fprintf(stderr, "  %s: published %d, state %d\n", name, b.last[i], (int)st);
        }
        /* and the state is what the script did */
        int want = ON;
        if (i % 2 && i % 5)
            want = OFF;
        else if (!(i % 2) && i % 3 == 0 && i % 5)
            want = AWAY;
        size_t want_dev = (i % 2 ? 0 : (i % 3 == 0 ? 1 : 2)) + (i % 5 == 0 ? 1 : 0);
        if ((int)st != want || mqc_presence_devices(pr, name) != want_dev)
            wrong_model++;
    }
    CHECK_EQ_INT(mismatch, 0);
    CHECK_EQ_INT(wrong_model, 0);
    /* a later due publishes nothing more */
    size_t before = b.published;
    CHECK_EQ_INT(mqc_presence_due(pr, t + 200000, on_board, &b), -1);
    CHECK_EQ_INT(b.published, before);
    mqc_presence_free(pr);
}

/* ---- random walk against a model ----------------------------------------- */

#define PU 10 /* users */
#define PK 30 /* keys, 1..PK */

struct model {
    int key_user[PK + 1];       /* -1: untracked */
    int key_state[PK + 1];      /* ON/AWAY */
    int64_t offline_at[PU];     /* when the last device left */
    int published_at_leave[PU]; /* published[] at that moment */
    bool ever[PU];              /* ever connected */
    int published[PU];          /* last published, -1: nothing yet */
    int64_t now;
    int violations; /* inside the callback */
};

static int model_devices(const struct model *m, int u)
{
    int n = 0;
    for (int k = 1; k <= PK; k++)
        n += m->key_user[k] == u;
    return n;
}

static int model_state(const struct model *m, int u)
{
    int st = OFF;
    for (int k = 1; k <= PK; k++) {
        if (m->key_user[k] == u && m->key_state[k] > st)
            st = m->key_state[k];
    }
    return st;
}

static void on_model(const struct mqc_presence_change *c, void *ctx)
{
    struct model *m = ctx;
    int u = -1;
    if (sscanf(c->user, "p%d", &u) != 1 || u < 0 || u >= PU) {
        m->violations++;
        fprintf(stderr, "  published unknown user %s\n", c->user);
        return;
    }
    int dev = model_devices(m, u);
    /* never offline while a device is connected, and what is published is
     * the user's state at this moment */
    if ((c->state == MQC_PRESENCE_OFFLINE && dev > 0) || (int)c->state != model_state(m, u) ||
        c->devices != (size_t)dev) {
        m->violations++;
        fprintf(stderr, "  published %s %s devices=%zu; model has %d devices, state %s\n", c->user,
                mqc_presence_name(c->state), c->devices, dev,
                mqc_presence_name((enum mqc_pstate)model_state(m, u)));
    }
    if (c->state == MQC_PRESENCE_OFFLINE && c->last_seen != m->offline_at[u]) {
        m->violations++;
        fprintf(stderr, "  %s offline last_seen %" PRId64 ", left at %" PRId64 "\n", c->user,
                c->last_seen, m->offline_at[u]);
    }
    if (c->state != MQC_PRESENCE_OFFLINE && c->last_seen != m->now) {
        m->violations++;
        fprintf(stderr, "  %s %s last_seen %" PRId64 " at %" PRId64 "\n", c->user,
                mqc_presence_name(c->state), c->last_seen, m->now);
    }
    m->published[u] = (int)c->state;
}

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* Walk `steps` random operations with the given grace: time moves forward
 * by 0..max_step-1 ms before each; due_pct percent of them are due(), the rest
 * connect (40%), disconnect (35%, often of an untracked key) or set (25%).
 * Returns the number of invariant violations found, stopping at the first
 * step with any; report prints what broke. */
static int walk(uint32_t seed, int64_t grace, int steps, uint32_t due_pct, uint32_t max_step,
                bool report)
{
    struct mqc_presence *pr = mqc_presence_new(grace);
    if (!pr)
        return 1;
    static struct model m;
    memset(&m, 0, sizeof m);
    for (int k = 0; k <= PK; k++)
        m.key_user[k] = -1;
    for (int u = 0; u < PU; u++)
        m.published[u] = -1;
    char name[16];
    int64_t t = 1000;
    int bad = 0;
    for (int step = 0; step < steps && !bad; step++) {
        t += lcg(&seed) % max_step;
        bool is_due = lcg(&seed) % 100 < due_pct;
        uint32_t op = lcg(&seed) % 100;
        int k = 1 + (int)(lcg(&seed) % PK);
        if (is_due) {
            op = 100;
        }
        if (op < 40) { /* connect */
            int u = (int)(lcg(&seed) % PU);
            snprintf(name, sizeof name, "p%d", u);
            int rc = mqc_presence_connect(pr, (uintptr_t)k, name, t);
            int want = m.key_user[k] >= 0 ? MQC_EEXIST : MQC_OK;
            if (rc != want)
                bad++;
            if (want == MQC_OK) {
                m.key_user[k] = u;
                m.key_state[k] = ON;
                m.ever[u] = true;
            }
        } else if (op < 75) { /* disconnect, often stale */
            int u = m.key_user[k];
            mqc_presence_disconnect(pr, (uintptr_t)k, t);
            if (u >= 0) {
                m.key_user[k] = -1;
                if (model_devices(&m, u) == 0) {
                    m.offline_at[u] = t;
                    m.published_at_leave[u] = m.published[u];
                }
            }
        } else if (op < 100) { /* set */
            int st = lcg(&seed) % 2 ? ON : AWAY;
            int rc = mqc_presence_set(pr, (uintptr_t)k, (enum mqc_pstate)st, t);
            int want = m.key_user[k] >= 0 ? MQC_OK : MQC_ENOTFOUND;
            if (rc != want)
                bad++;
            if (want == MQC_OK)
                m.key_state[k] = st;
        } else { /* due */
            m.now = t;
            m.violations = 0;
            int64_t next = mqc_presence_due(pr, t, on_model, &m);
            bad += m.violations;
            int64_t earliest = -1; /* earliest offline still owed */
            for (int u = 0; u < PU; u++) {
                snprintf(name, sizeof name, "p%d", u);
                int st = model_state(&m, u);
                int dev = model_devices(&m, u);
                if ((int)mqc_presence_state(pr, name) != st ||
                    mqc_presence_devices(pr, name) != (size_t)dev) {
                    bad++;
                    if (report)
                        fprintf(stderr, "  step %d: %s state/devices differ from model\n", step,
                                name);
                }
                if (!m.ever[u])
                    continue;
                if (st != OFF) {
                    if (m.published[u] != st) {
                        bad++;
                        if (report)
                            fprintf(stderr, "  step %d t=%" PRId64 ": %s is %s, published %d\n",
                                    step, t, name, mqc_presence_name((enum mqc_pstate)st),
                                    m.published[u]);
                    }
                } else if (t >= m.offline_at[u] + grace) {
                    if (m.published[u] != OFF) {
                        bad++;
                        if (report)
                            fprintf(stderr,
                                    "  step %d t=%" PRId64 ": %s left at %" PRId64
                                    ", grace over, still published %d\n",
                                    step, t, name, m.offline_at[u], m.published[u]);
                    }
                } else if (m.published[u] != m.published_at_leave[u] &&
                           !(m.published_at_leave[u] < 0 && m.published[u] == OFF)) {
                    /* inside grace nothing is published, except the first
                     * word (offline) on a user never published before */
                    bad++;
                    if (report)
                        fprintf(stderr,
                                "  step %d t=%" PRId64 ": %s left at %" PRId64
                                " published %d, now %d inside grace\n",
                                step, t, name, m.offline_at[u], m.published_at_leave[u],
                                m.published[u]);
                } else if (m.published[u] != OFF) {
                    int64_t d = m.offline_at[u] + grace;
                    if (earliest < 0 || d < earliest)
                        earliest = d;
                }
            }
            /* due() must wake the caller no later than the earliest owed
             * offline (it may report an earlier, now moot deadline) */
            if (earliest >= 0 && (next < 0 || next > earliest || next <= t)) {
                bad++;
                if (report)
                    fprintf(stderr,
                            "  step %d t=%" PRId64 ": due() returned %" PRId64
                            ", an offline is owed at %" PRId64 "\n",
                            step, t, next, earliest);
            }
            if (next >= 0 && next <= t) {
                bad++;
                if (report)
                    fprintf(stderr, "  step %d: due() returned a past deadline\n", step);
            }
        }
        /* keys always agree with the model */
        for (int kk = 1; kk <= PK; kk++) {
            const char *u = mqc_presence_user_of(pr, (uintptr_t)kk);
            int want = m.key_user[kk];
            int got = -1;
            if (u && sscanf(u, "p%d", &got) != 1)
                got = -2;
            if (got != want || mqc_presence_tracked(pr, (uintptr_t)kk) != (want >= 0))
                bad++;
        }
        if (bad && report)
            fprintf(stderr, "  (seed walk stopped at step %d, t=%" PRId64 ")\n", step, t);
    }
    mqc_presence_free(pr);
    return bad;
}

TEST(random_walk_grace)
{
    /* due() often (a quarter of the operations), time in steps up to 400 ms */
    int bad = 0;
    for (uint32_t seed = 1; seed <= 20; seed++)
        bad += walk(seed, 1000, 3000, 25, 400, bad == 0) ? 1 : 0;
    CHECK_EQ_INT(bad, 0); /* walks with a violation, out of 20 */
}

TEST(random_walk_grace_sparse_due)
{
    /* due() rarely (one operation in twelve), time in steps up to 150 ms:
     * several rejoins and departures fall between two passes (this found
     * the grace-queue head-of-line delay of grace_queue_not_blocked_by_rejoin). */
    int bad = 0;
    for (uint32_t seed = 1000; seed <= 1020; seed++)
        bad += walk(seed, 1000, 3000, 8, 150, bad == 0) ? 1 : 0;
    CHECK_EQ_INT(bad, 0); /* walks with a violation, out of 21 */
}

TEST(random_walk_grace_zero)
{
    /* with no grace every due() leaves published == state for everyone */
    int bad = 0;
    for (uint32_t seed = 100; seed <= 120; seed++)
        bad += walk(seed, 0, 3000, 15, 300, bad == 0) ? 1 : 0;
    CHECK_EQ_INT(bad, 0);
}

/* ---- names, free ---------------------------------------------------------- */

TEST(names_round_trip)
{
    enum mqc_pstate all[] = {MQC_PRESENCE_OFFLINE, MQC_PRESENCE_AWAY, MQC_PRESENCE_ONLINE};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        CHECK_EQ_INT(mqc_presence_parse(mqc_presence_name(all[i])), all[i]);
    CHECK_STR(mqc_presence_name(MQC_PRESENCE_ONLINE), "online");
    CHECK_STR(mqc_presence_name(MQC_PRESENCE_AWAY), "away");
    CHECK_STR(mqc_presence_name(MQC_PRESENCE_OFFLINE), "offline");
    CHECK_EQ_INT(mqc_presence_parse("online"), MQC_PRESENCE_ONLINE);
    CHECK_EQ_INT(mqc_presence_parse("away"), MQC_PRESENCE_AWAY);
    CHECK_EQ_INT(mqc_presence_parse("offline"), MQC_PRESENCE_OFFLINE);
    CHECK_EQ_INT(mqc_presence_parse(NULL), -1);
    CHECK_EQ_INT(mqc_presence_parse(""), -1);
    CHECK_EQ_INT(mqc_presence_parse("Online"), -1);
    CHECK_EQ_INT(mqc_presence_parse("online "), -1);
    CHECK_EQ_INT(mqc_presence_parse("onlin"), -1);
    CHECK_EQ_INT(mqc_presence_parse("busy"), -1);
}

TEST(free_null_and_populated)
{
    mqc_presence_free(NULL);
    /* a populated instance with queued changes frees everything (ASan) */
    struct mqc_presence *pr = mqc_presence_new(1000);
    if (!CHECK(pr != NULL))
        return;
    CHECK_EQ_INT(mqc_presence_connect(pr, 1, "alice", 0), MQC_OK);
    CHECK_EQ_INT(mqc_presence_connect(pr, 2, "alice", 0), MQC_OK);
    CHECK_EQ_INT(mqc_presence_connect(pr, 3, "bob", 0), MQC_OK);
    mqc_presence_disconnect(pr, 3, 1);
    mqc_presence_forget_published(pr, "carol");
    mqc_presence_free(pr);
}

int main(void)
{
    RUN(connect_publishes_online_once);
    RUN(queries_on_unknown);
    RUN(order_of_changes);
    RUN(ctx_passed_through);
    RUN(last_device_leaves_after_grace);
    RUN(due_after_deadline_uses_disconnect_time);
    RUN(earliest_deadline_returned);
    RUN(flapping_within_grace_publishes_nothing);
    RUN(flap_then_leave_for_good);
    RUN(takeover_never_offline);
    RUN(stale_disconnect_ignored);
    RUN(connect_existing_key_is_eexist);
    RUN(key_reused_by_another_user);
    RUN(away_single_device);
    RUN(away_two_devices);
    RUN(set_errors);
    RUN(grace_zero);
    RUN(connect_and_leave_in_one_pass);
    RUN(grace_queue_not_blocked_by_rejoin);
    RUN(forget_published_no_devices_in_grace);
    RUN(forget_published_no_devices_after_offline);
    RUN(forget_published_with_devices);
    RUN(mark_published);
    RUN(many_users_interleaved);
    RUN(random_walk_grace);
    RUN(random_walk_grace_sparse_due);
    RUN(random_walk_grace_zero);
    RUN(names_round_trip);
    RUN(free_null_and_populated);
    return test_finish();
}
