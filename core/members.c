/* Membership cache: a chained hash table keyed by conversation id. */
#include "core/members.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

struct entry {
    struct entry *next;
    char *conv;
    int64_t mver;
    char **users;
    size_t n;
};

struct mqc_members {
    struct entry **buckets;
    size_t nbuckets, count;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

struct mqc_members *mqc_members_new(void)
{
    struct mqc_members *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->nbuckets = 1024;
    if (!(m->buckets = calloc(m->nbuckets, sizeof *m->buckets))) {
        free(m);
        return NULL;
    }
    return m;
}

static void entry_free(struct entry *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->users[i]);
    free(e->users);
    free(e->conv);
    free(e);
}

void mqc_members_free(struct mqc_members *m)
{
    if (!m)
        return;
    for (size_t b = 0; b < m->nbuckets; b++) {
        for (struct entry *e = m->buckets[b], *next; e; e = next) {
            next = e->next;
            entry_free(e);
        }
    }
    free(m->buckets);
    free(m);
}

static struct entry **find(const struct mqc_members *m, const char *conv)
{
    struct entry **pp = &m->buckets[hash(conv) & (m->nbuckets - 1)];
    while (*pp && strcmp((*pp)->conv, conv) != 0)
        pp = &(*pp)->next;
    return pp;
}

static void grow(struct mqc_members *m)
{
    size_t nb = m->nbuckets * 2;
    struct entry **nbk = calloc(nb, sizeof *nbk);
    if (!nbk)
        return; /* keep the longer chains */
    for (size_t b = 0; b < m->nbuckets; b++) {
        for (struct entry *e = m->buckets[b], *next; e; e = next) {
            next = e->next;
            struct entry **slot = &nbk[hash(e->conv) & (nb - 1)];
            e->next = *slot;
            *slot = e;
        }
    }
    free(m->buckets);
    m->buckets = nbk;
    m->nbuckets = nb;
}

int64_t mqc_members_version(const struct mqc_members *m, const char *conv)
{
    struct entry *e = *find(m, conv);
    return e ? e->mver : -1;
}

void mqc_members_drop(struct mqc_members *m, const char *conv)
{
    struct entry **pp = find(m, conv);
    struct entry *e = *pp;
    if (e) {
        *pp = e->next;
        entry_free(e);
        m->count--;
    }
}

int mqc_members_set(struct mqc_members *m, const char *conv, int64_t mver, const char *const *users,
                    size_t n)
{
    mqc_members_drop(m, conv);
    if (m->count >= m->nbuckets)
        grow(m);
    struct entry *e = calloc(1, sizeof *e);
    if (!e)
        return MQC_ENOMEM;
    e->conv = strdup(conv);
    e->users = calloc(n ? n : 1, sizeof *e->users);
    if (!e->conv || !e->users)
        goto nomem;
    for (; e->n < n; e->n++) {
        if (!(e->users[e->n] = strdup(users[e->n])))
            goto nomem;
    }
    e->mver = mver;
    struct entry **slot = &m->buckets[hash(conv) & (m->nbuckets - 1)];
    e->next = *slot;
    *slot = e;
    m->count++;
    return MQC_OK;
nomem:
    entry_free(e);
    return MQC_ENOMEM;
}

const char *const *mqc_members_list(const struct mqc_members *m, const char *conv, size_t *n)
{
    struct entry *e = *find(m, conv);
    *n = e ? e->n : 0;
    return e ? (const char *const *)e->users : NULL;
}

bool mqc_members_has(const struct mqc_members *m, const char *conv, const char *user)
{
    size_t n;
    const char *const *u = mqc_members_list(m, conv, &n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(u[i], user) == 0)
            return true;
    }
    return false;
}

size_t mqc_members_count(const struct mqc_members *m)
{
    return m->count;
}
