/* Password verification worker threads: see authwork.h. One mutex guards a
 * single list of jobs in submission order; each job is QUEUED, then RUNNING
 * (a worker holds it, outside the lock), then DONE until drained. */
#include "core/authwork.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/id.h"
#include "core/password.h"

#define MAX_THREADS 16
#define MAX_PW 65535

enum state { QUEUED, RUNNING, DONE };

struct job {
    struct job *next;
    enum state state;
    bool ok;
    size_t pwlen;
    char user[MQC_ID_MAX + 1];
    char stored[MQC_PASSWORD_HASH_MAX];
    char pw[]; /* pwlen bytes + NUL */
};

struct mqc_authwork {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* a job was queued, or stop */
    struct job *head, **tail;
    size_t count, max_jobs;
    bool stop;
    int nthreads;
    pthread_t threads[MAX_THREADS];
};

static void job_free(struct job *j)
{
    if (!j)
        return;
    sodium_memzero(j, sizeof *j + j->pwlen + 1);
    free(j);
}

static struct job *first_queued(struct mqc_authwork *w)
{
    for (struct job *j = w->head; j; j = j->next) {
        if (j->state == QUEUED)
            return j;
    }
    return NULL;
}

static void *worker(void *arg)
{
    struct mqc_authwork *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        struct job *j;
        while (!w->stop && !(j = first_queued(w)))
            pthread_cond_wait(&w->wake, &w->lock);
        if (w->stop)
            break;
        j->state = RUNNING;
        pthread_mutex_unlock(&w->lock);
        /* The job stays linked while RUNNING: only drain unlinks, and only
         * DONE jobs; free waits for the workers first. */
        bool ok = mqc_password_verify(j->stored, j->pw, j->pwlen);
        pthread_mutex_lock(&w->lock);
        j->ok = ok;
        j->state = DONE;
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

struct mqc_authwork *mqc_authwork_new(int threads, size_t max_jobs)
{
    if (threads < 1 || threads > MAX_THREADS || max_jobs == 0)
        return NULL;
    struct mqc_authwork *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->tail = &w->head;
    w->max_jobs = max_jobs;
    if (pthread_mutex_init(&w->lock, NULL) != 0) {
        free(w);
        return NULL;
    }
    if (pthread_cond_init(&w->wake, NULL) != 0) {
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
    }
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&w->threads[i], NULL, worker, w) != 0) {
            mqc_authwork_free(w);
            return NULL;
        }
        w->nthreads++;
    }
    return w;
}

void mqc_authwork_free(struct mqc_authwork *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    for (int i = 0; i < w->nthreads; i++)
        pthread_join(w->threads[i], NULL);
    while (w->head) {
        struct job *j = w->head;
        w->head = j->next;
        job_free(j);
    }
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

static bool same(const struct job *j, const char *user, const char *stored, const char *pw,
                 size_t pwlen)
{
    return j->pwlen == pwlen && strcmp(j->user, user) == 0 && strcmp(j->stored, stored) == 0 &&
           sodium_memcmp(j->pw, pw, pwlen) == 0;
}

int mqc_authwork_submit(struct mqc_authwork *w, const char *user, const char *stored,
                        const char *pw, size_t pwlen)
{
    if (strlen(user) > MQC_ID_MAX || strlen(stored) >= MQC_PASSWORD_HASH_MAX || pwlen > MAX_PW)
        return MQC_EBADREQ;
    int rc = MQC_OK;
    pthread_mutex_lock(&w->lock);
    for (struct job *j = w->head; j; j = j->next) {
        if (same(j, user, stored, pw, pwlen)) {
            rc = MQC_EEXIST;
            goto out;
        }
    }
    if (w->count >= w->max_jobs) {
        rc = MQC_ERATE;
        goto out;
    }
    struct job *j = calloc(1, sizeof *j + pwlen + 1);
    if (!j) {
        rc = MQC_ENOMEM;
        goto out;
    }
    strcpy(j->user, user);
    strcpy(j->stored, stored);
    memcpy(j->pw, pw, pwlen);
    j->pwlen = pwlen;
    j->state = QUEUED;
    *w->tail = j;
    w->tail = &j->next;
    w->count++;
    pthread_cond_signal(&w->wake);
out:
    pthread_mutex_unlock(&w->lock);
    return rc;
}

size_t mqc_authwork_pending(struct mqc_authwork *w)
{
    pthread_mutex_lock(&w->lock);
    size_t n = w->count;
    pthread_mutex_unlock(&w->lock);
    return n;
}

size_t mqc_authwork_drain(struct mqc_authwork *w, mqc_authwork_verdict_fn fn, void *ctx)
{
    struct job *done = NULL, **dtail = &done;
    size_t n = 0;
    pthread_mutex_lock(&w->lock);
    struct job **pp = &w->head;
    while (*pp) {
        struct job *j = *pp;
        if (j->state != DONE) {
            pp = &j->next;
            continue;
        }
        *pp = j->next;
        j->next = NULL;
        *dtail = j;
        dtail = &j->next;
        w->count--;
        n++;
    }
    w->tail = pp;
    pthread_mutex_unlock(&w->lock);
    /* Verdicts are handed over outside the lock: fn may take its time. */
    while (done) {
        struct job *j = done;
        done = j->next;
        fn(ctx, j->user, j->stored, j->pw, j->pwlen, j->ok);
        job_free(j);
    }
    return n;
}
