/* The argv builder for queued Redis commands: every argument is an owned
 * copy, a failure (out of memory, a bad id) is remembered and reported once at
 * submit time, so callers build a whole command without checking each step. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
