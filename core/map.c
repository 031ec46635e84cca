/* String-keyed hash map (see map.h). FNV-1a hashing. */
#include "core/map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

struct node {
    struct node *next;
    void *value;
    char key[]; /* NUL-terminated */
};

struct mqc_map {
    struct node **b;
    size_t nb, count;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

struct mqc_map *mqc_map_new(void)
{
    struct mqc_map *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    /* Small at first: a map per connected user (contacts.c's sets) is
     * common, and most stay nearly empty; big ones double as they fill. */
    m->nb = 4;
    if (!(m->b = calloc(m->nb, sizeof *m->b))) {
        free(m);
        return NULL;
    }
    return m;
}

void mqc_map_free(struct mqc_map *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nb; i++) {
        for (struct node *n = m->b[i], *next; n; n = next) {
            next = n->next;
            free(n);
        }
    }
    free(m->b);
    free(m);
}

static struct node **slot(const struct mqc_map *m, const char *key)
{
    struct node **pp = &m->b[hash(key) & (m->nb - 1)];
    while (*pp && strcmp((*pp)->key, key) != 0)
        pp = &(*pp)->next;
    return pp;
}

void *mqc_map_get(const struct mqc_map *m, const char *key)
{
    struct node *n = *slot(m, key);
    return n ? n->value : NULL;
}

static void grow(struct mqc_map *m)
{
    size_t nb = m->nb * 2;
    struct node **b = calloc(nb, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < m->nb; i++) {
        for (struct node *n = m->b[i], *next; n; n = next) {
            next = n->next;
            struct node **s = &b[hash(n->key) & (nb - 1)];
            n->next = *s;
            *s = n;
        }
    }
    free(m->b);
    m->b = b;
    m->nb = nb;
}

int mqc_map_put(struct mqc_map *m, const char *key, void *value)
{
    struct node **pp = slot(m, key);
    if (*pp) {
        (*pp)->value = value;
        return MQC_OK;
    }
    size_t len = strlen(key);
    struct node *n = malloc(sizeof *n + len + 1);
    if (!n)
        return MQC_ENOMEM;
    memcpy(n->key, key, len + 1);
    n->value = value;
    n->next = NULL;
    *pp = n;
    if (++m->count > m->nb)
        grow(m);
    return MQC_OK;
}

void *mqc_map_del(struct mqc_map *m, const char *key)
{
    struct node **pp = slot(m, key);
    struct node *n = *pp;
    if (!n)
        return NULL;
    void *v = n->value;
    *pp = n->next;
    free(n);
    m->count--;
    return v;
}

size_t mqc_map_count(const struct mqc_map *m)
{
    return m->count;
}

void mqc_map_each(const struct mqc_map *m, void (*fn)(const char *key, void *value, void *ctx),
                  void *ctx)
{
    for (size_t i = 0; i < m->nb; i++) {
        for (struct node *n = m->b[i]; n; n = n->next)
            fn(n->key, n->value, ctx);
    }
}

size_t mqc_map_remove_if(struct mqc_map *m, bool (*fn)(const char *key, void *value, void *ctx),
                         void *ctx)
{
    size_t gone = 0;
    for (size_t i = 0; i < m->nb; i++) {
        struct node **pp = &m->b[i];
        while (*pp) {
            struct node *n = *pp;
            if (fn(n->key, n->value, ctx)) {
                *pp = n->next;
                free(n);
                gone++;
            } else {
                pp = &n->next;
            }
        }
    }
    m->count -= gone;
    return gone;
}
