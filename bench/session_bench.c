/* mqc_session_bench: what one device session token login costs the broker
 * thread, measured piece by piece as plugin/session_auth.c runs it: the pure
 * check (token parse, record parse, HMAC-SHA256, constant-time compare) in
 * thread CPU time, best of several rounds; and the whole check with its one
 * blocking Redis read (mqc_store_session_get, an HGET) in wall time, p50 /
 * p99 / mean over many logins of distinct users, against a redis-server on
 * --redis-port (keys under the prefix "mqcsb:", removed at the end).
 * Usage: mqc_session_bench [--redis-port P] [--users N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/password.h"
#include "core/session_token.h"
#include "store/store.h"

static double ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The check of plugin/session_auth.c once the record text is at hand. */
static int check(const unsigned char *key, const char *user, const char *token, const char *text)
{
    struct mqc_sess_token t;
    struct mqc_sess_record r;
    char hash[MQC_SESS_HASH_LEN + 1];
    if (mqc_sess_parse(token, strlen(token), &t) != MQC_OK ||
        mqc_sess_record_parse(text, strlen(text), &r) != MQC_OK)
        return MQC_EAUTH;
    mqc_sess_hash(key, user, &t, hash);
    return mqc_sess_hash_equal(hash, r.hash) ? MQC_OK : MQC_EAUTH;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void put_done(void *ctx, int rc)
{
    if (rc != MQC_OK)
        ++*(int *)ctx;
}

int main(int argc, char **argv)
{
    int port = 0, users = 2000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--redis-port"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--users"))
            users = atoi(argv[i + 1]);
    }
    if (mqc_password_init() != MQC_OK || users < 1)
        return 2;
    unsigned char key[MQC_SESS_KEY_BYTES];
    mqc_sess_key("bench secret", key);

    /* Pure part: one token and record, checked over and over. */
    struct mqc_sess_token t;
    char tok[MQC_SESS_TOKEN_LEN + 1], text[MQC_SESS_RECORD_MAX];
    struct mqc_sess_record r = {.created = 1, .last_used = 1, .expires = 4102444800000LL};
    snprintf(r.label, sizeof r.label, "Pixel 8");
    mqc_sess_new(NULL, &t, tok, sizeof tok);
    mqc_sess_hash(key, "alice", &t, r.hash);
    mqc_sess_record_format(&r, text, sizeof text);
    double best = 1e18;
    for (int round = 0; round < 7; round++) {
        double t0 = ns(CLOCK_THREAD_CPUTIME_ID);
        int bad = 0;
        for (int i = 0; i < 20000; i++)
            bad += check(key, "alice", tok, text) != MQC_OK;
        double per = (ns(CLOCK_THREAD_CPUTIME_ID) - t0) / 20000;
        if (bad)
            return 1;
        if (per < best)
            best = per;
    }
    printf("pure_check_ns=%.0f", best);
    if (!port) {
        printf("\n");
        return 0;
    }

    struct mqc_store_opts o = {
        .host = "127.0.0.1", .port = port, .prefix = "mqcsb:", .timeout_ms = 2000, .retry_ms = 100};
    struct mqc_store *s = mqc_store_new(&o);
    if (!s || mqc_store_ensure(s, 0) != MQC_OK) {
        fprintf(stderr, "\nmqc_session_bench: redis: %s\n", s ? mqc_store_last_error(s) : "");
        return 1;
    }
    char(*toks)[MQC_SESS_TOKEN_LEN + 1] = calloc((size_t)users, sizeof *toks);
    int failed = 0;
    for (int i = 0; i < users; i++) {
        char user[32], hash[MQC_SESS_HASH_LEN + 1];
        snprintf(user, sizeof user, "sb%d", i);
        mqc_store_user_add(s, user, "x", 1);
        mqc_sess_new(NULL, &t, toks[i], sizeof toks[i]);
        mqc_sess_hash(key, user, &t, hash);
        mqc_store_session_put(s, user, t.device, hash, 1, 4102444800000LL, "bench", false, put_done,
                              &failed);
        if (i % 256 == 255 || i == users - 1)
            mqc_store_flush(s, 0);
    }
    double *w = calloc((size_t)users, sizeof *w), sum = 0, cpu0 = ns(CLOCK_THREAD_CPUTIME_ID);
    for (int i = 0; i < users && !failed; i++) {
        char user[32], rec[MQC_SESS_RECORD_MAX];
        snprintf(user, sizeof user, "sb%d", i);
        double t0 = ns(CLOCK_MONOTONIC);
        struct mqc_sess_token p;
        mqc_sess_parse(toks[i], strlen(toks[i]), &p);
        if (mqc_store_session_get(s, user, p.device, rec, sizeof rec) != MQC_OK ||
            check(key, user, toks[i], rec) != MQC_OK)
            failed++;
        w[i] = ns(CLOCK_MONOTONIC) - t0;
        sum += w[i];
    }
    double cpu = (ns(CLOCK_THREAD_CPUTIME_ID) - cpu0) / users;
    qsort(w, (size_t)users, sizeof *w, cmp_d);
    printf(" logins=%d failed=%d wall_p50_us=%.1f wall_p99_us=%.1f wall_mean_us=%.1f "
           "cpu_mean_us=%.1f\n",
           users, failed, w[users / 2] / 1e3, w[(size_t)(users * 0.99)] / 1e3, sum / users / 1e3,
           cpu / 1e3);
    for (int i = 0; i < users; i++) {
        char user[32];
        long long g;
        snprintf(user, sizeof user, "sb%d", i);
        mqc_store_user_del(s, user, 1, &g);
    }
    free(w);
    free(toks);
    mqc_store_free(s);
    return failed ? 1 : 0;
}
