/* Password verification workers (core/authwork.c): verdicts come back right,
 * once each, in order; a triple is never queued twice; the queue is bounded;
 * free with work in flight leaks nothing (ASan build). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/authwork.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/password.h"
#include "tests/unit/test.h"

static char hash_a[MQC_PASSWORD_HASH_MAX], hash_b[MQC_PASSWORD_HASH_MAX];

struct seen {
    int n;
    char users[8][16];
    bool ok[8];
};

static void record(void *ctx, const char *user, const char *stored, const char *pw, size_t pwlen,
                   bool ok)
{
    (void)stored;
    (void)pw;
    (void)pwlen;
    struct seen *s = ctx;
    if (s->n < 8) {
        snprintf(s->users[s->n], sizeof s->users[0], "%s", user);
        s->ok[s->n] = ok;
    }
    s->n++;
}

/* Drain until want verdicts arrived or 20 s passed. */
static void drain_until(struct mqc_authwork *w, struct seen *s, int want)
{
    int64_t deadline = mqc_clock_mono_ms() + 20000;
    while (s->n < want && mqc_clock_mono_ms() < deadline) {
        if (mqc_authwork_drain(w, record, s) == 0) {
            struct timespec ts = {0, 2 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}

TEST(verdicts)
{
    struct mqc_authwork *w = mqc_authwork_new(2, 16);
    if (!CHECK(w != NULL))
        return;
    CHECK_EQ_INT(mqc_authwork_submit(w, "alice", hash_a, "alice-pw", 8), MQC_OK);
    CHECK_EQ_INT(mqc_authwork_submit(w, "bob", hash_b, "wrong", 5), MQC_OK);
    CHECK_EQ_INT(mqc_authwork_submit(w, "alice", hash_a, "alice-pw", 8), MQC_EEXIST);
    CHECK_EQ_INT(mqc_authwork_submit(w, "alice", hash_a, "alice-pw!", 9), MQC_OK);
    CHECK_EQ_INT((int)mqc_authwork_pending(w), 3);
    struct seen s = {0};
    drain_until(w, &s, 3);
    CHECK_EQ_INT(s.n, 3);
    CHECK_EQ_INT((int)mqc_authwork_pending(w), 0);
    int alice_ok = 0, alice_bad = 0, bob_bad = 0;
    for (int i = 0; i < 3 && i < s.n; i++) {
        if (!strcmp(s.users[i], "alice"))
            s.ok[i] ? alice_ok++ : alice_bad++;
        else if (!strcmp(s.users[i], "bob") && !s.ok[i])
            bob_bad++;
    }
    CHECK(alice_ok == 1 && alice_bad == 1 && bob_bad == 1);
    /* Drained: the same triple may be queued again. */
    CHECK_EQ_INT(mqc_authwork_submit(w, "alice", hash_a, "alice-pw", 8), MQC_OK);
    mqc_authwork_free(w);
}

TEST(bounded_and_free_in_flight)
{
    struct mqc_authwork *w = mqc_authwork_new(1, 2);
    if (!CHECK(w != NULL))
        return;
    CHECK_EQ_INT(mqc_authwork_submit(w, "u1", hash_a, "x", 1), MQC_OK);
    CHECK_EQ_INT(mqc_authwork_submit(w, "u2", hash_a, "y", 1), MQC_OK);
    /* Finished jobs count until drained, so this is full whatever the
     * workers have done meanwhile. */
    CHECK_EQ_INT(mqc_authwork_submit(w, "u3", hash_a, "z", 1), MQC_ERATE);
    char big[70000];
    memset(big, 'p', sizeof big);
    CHECK_EQ_INT(mqc_authwork_submit(w, "u4", hash_a, big, sizeof big), MQC_EBADREQ);
    mqc_authwork_free(w); /* with jobs queued or running */
    CHECK(mqc_authwork_new(0, 4) == NULL);
    CHECK(mqc_authwork_new(1, 0) == NULL);
    mqc_authwork_free(NULL);
}

int main(void)
{
    if (mqc_password_init() != MQC_OK ||
        mqc_password_hash("alice-pw", 8, hash_a, sizeof hash_a) != MQC_OK ||
        mqc_password_hash("bob-pw", 6, hash_b, sizeof hash_b) != MQC_OK) {
        fprintf(stderr, "cannot hash test passwords\n");
        return 1;
    }
    RUN(verdicts);
    RUN(bounded_and_free_in_flight);
    return test_finish();
}
