/* The argv builder for queued Redis commands: every argument is an owned
 * copy, a failure (out of memory, a bad id) is remembered and reported once at
 * submit time, so callers build a whole command without checking each step. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/err.h"
#include "store/internal.h"
#include "store/keys.h"

void mqc_store__args_push(struct mqc_store__args *a, const char *s, size_t len)
{
    if (a->failed)
        return;
    if (a->n == a->cap) {
        int cap = a->cap ? a->cap * 2 : 16;
        char **v = realloc(a->v, (size_t)cap * sizeof *v);
        size_t *l = v ? realloc(a->lens, (size_t)cap * sizeof *l) : NULL;
        if (v)
            a->v = v;
        if (!v || !l) {
            a->failed = 1;
            return;
        }
        a->lens = l;
        a->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        a->failed = 1;
        return;
    }
    memcpy(copy, s, len);
    copy[len] = '\0';
    a->v[a->n] = copy;
    a->lens[a->n++] = len;
}

void mqc_store__args_str(struct mqc_store__args *a, const char *s)
{
    mqc_store__args_push(a, s, strlen(s));
}

void mqc_store__args_fcall(struct mqc_store__args *a, const char *function, size_t nkeys)
{
    mqc_store__args_str(a, "FCALL");
    mqc_store__args_str(a, function);
    mqc_store__args_fmt(a, "%zu", nkeys);
}

void mqc_store__args_fmt(struct mqc_store__args *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void mqc_store__args_fmt(struct mqc_store__args *a, const char *fmt, ...)
{
    char buf[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf)
        a->failed = 1;
    else
        mqc_store__args_push(a, buf, (size_t)n);
}

void mqc_store__args_conv_key(struct mqc_store__args *a, struct mqc_store *s, const char *conv,
                              const char *part)
{
    char k[MQC_KEY_MAX];
    if (mqc_key_conv(s->prefix, conv, part, k, sizeof k) != MQC_OK)
        a->failed = 1;
    else
        mqc_store__args_str(a, k);
}

void mqc_store__args_user_key(struct mqc_store__args *a, struct mqc_store *s, const char *user,
                              const char *part)
{
    char k[MQC_KEY_MAX];
    if (mqc_key_user_part(s->prefix, user, part, k, sizeof k) != MQC_OK)
        a->failed = 1;
    else
        mqc_store__args_str(a, k);
}

void mqc_store__args_free(struct mqc_store__args *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
    free(a->lens);
}

/* Queue the built command; frees the builder either way. */
int mqc_store__submit(struct mqc_store *s, struct mqc_store__args *a,
                      void (*done)(struct mqc_store__job *, int, redisReply *), void *cb, void *ctx)
{
    int rc = a->failed ? MQC_EBADREQ
                       : mqc_store__enqueue(s, a->n, (const char **)a->v, a->lens, done, cb, ctx);
    mqc_store__args_free(a);
    return rc;
}

#ifdef MQC_CHECK_SLOTS
#include <pthread.h>

#include "core/log.h"
#include "core/slot.h"

/* Functions the check lets through (logged once): every function of the
 * broker and the admin tool is single-slot (docs/ARCHITECTURE.md "Redis
 * layout and Redis Cluster"); only this one is cross-slot, by design. */
static const char *const allowed_cross_slot[] = {
    /* mqchat-push's per-job expansion on one Redis (expand_by_slot off):
     * cross-slot by design there (half the Redis CPU of the per-slot
     * calls), never used on a cluster, where expand_by_slot is forced.
     * mqc2_expand: the same for older bridges. */
    "mqc3_expand",
    "mqc2_expand",
};

/* Function names already logged (each cross-slot function is said once). */
#define SEEN_MAX 64
static char seen[SEEN_MAX][64];
static size_t nseen;
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t len_of(const char **argv, const size_t *lens, int i)
{
    return lens ? lens[i] : strlen(argv[i]);
}

static bool is_word(const char *s, size_t len, const char *w)
{
    return strlen(w) == len && strncasecmp(s, w, len) == 0;
}

/* Log "cross-slot FCALL fn" once per name: the list of those seen. */
static void note(const char *fn, size_t len, bool allowed)
{
    pthread_mutex_lock(&seen_lock);
    bool known = false;
    for (size_t i = 0; i < nseen && !known; i++)
        known = strlen(seen[i]) == len && memcmp(seen[i], fn, len) == 0;
    if (!known && nseen < SEEN_MAX) {
        snprintf(seen[nseen++], sizeof seen[0], "%.*s", (int)len, fn);
        mqc_log(allowed ? MQC_LOG_WARNING : MQC_LOG_ERR,
                "store: cross-slot call seen: %.*s (%s; MQC_CHECK_SLOTS)", (int)len, fn,
                allowed ? "allowed: cross-slot by design" : "refused");
    }
    pthread_mutex_unlock(&seen_lock);
}

int mqc_store__args_check_slot(int argc, const char **argv, const size_t *lens)
{
    if (argc < 3 || !(is_word(argv[0], len_of(argv, lens, 0), "FCALL") ||
                      is_word(argv[0], len_of(argv, lens, 0), "FCALL_RO")))
        return MQC_OK;
    long nkeys = strtol(argv[2], NULL, 10);
    if (nkeys < 2 || nkeys > argc - 3)
        return MQC_OK;
    unsigned slot = mqc_slot_of(argv[3], len_of(argv, lens, 3));
    bool one = true;
    for (long i = 1; one && i < nkeys; i++)
        one = mqc_slot_of(argv[3 + i], len_of(argv, lens, 3 + (int)i)) == slot;
    if (one)
        return MQC_OK;
    const char *fn = argv[1];
    size_t fl = len_of(argv, lens, 1);
    for (size_t i = 0; i < sizeof allowed_cross_slot / sizeof allowed_cross_slot[0]; i++) {
        if (is_word(fn, fl, allowed_cross_slot[i])) {
            note(fn, fl, true);
            return MQC_OK;
        }
    }
    note(fn, fl, false);
    return MQC_EINTERNAL;
}
#else
int mqc_store__args_check_slot(int argc, const char **argv, const size_t *lens)
{
    (void)argc;
    (void)argv;
    (void)lens;
    return MQC_OK;
}
#endif
