/* Cluster directory: see directory.h. A map from user to a small array of
 * node names; node names are interned so a user's entry holds pointers. */
#include "core/directory.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/map.h"

struct entry {
    size_t n;
    const char *nodes[MQC_DIRECTORY_MAX_NODES]; /* borrowed from names */
};

struct mqc_directory {
    struct mqc_map *users; /* user -> struct entry (owned) */
    struct mqc_map *names; /* node -> its interned name (owned strdup) */
};

struct mqc_directory *mqc_directory_new(void)
{
    struct mqc_directory *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->users = mqc_map_new();
    d->names = mqc_map_new();
    if (!d->users || !d->names) {
        mqc_directory_free(d);
        return NULL;
    }
    return d;
}

static void free_value(const char *key, void *value, void *ctx)
{
    (void)key;
    (void)ctx;
    free(value);
}

void mqc_directory_free(struct mqc_directory *d)
{
    if (!d)
        return;
    if (d->users) {
        mqc_map_each(d->users, free_value, NULL);
        mqc_map_free(d->users);
    }
    if (d->names) {
        mqc_map_each(d->names, free_value, NULL);
        mqc_map_free(d->names);
    }
    free(d);
}

static const char *intern(struct mqc_directory *d, const char *node)
{
    char *name = mqc_map_get(d->names, node);
    if (name)
        return name;
    if (!(name = strdup(node)))
        return NULL;
    if (mqc_map_put(d->names, node, name) != MQC_OK) {
        free(name);
        return NULL;
    }
    return name;
}

int mqc_directory_add(struct mqc_directory *d, const char *user, const char *node)
{
    const char *name = intern(d, node);
    if (!name)
        return MQC_ENOMEM;
    struct entry *e = mqc_map_get(d->users, user);
    if (!e) {
        if (!(e = calloc(1, sizeof *e)))
            return MQC_ENOMEM;
        if (mqc_map_put(d->users, user, e) != MQC_OK) {
            free(e);
            return MQC_ENOMEM;
        }
    }
    for (size_t i = 0; i < e->n; i++) {
        if (e->nodes[i] == name)
            return MQC_OK;
    }
    if (e->n < MQC_DIRECTORY_MAX_NODES)
        e->nodes[e->n++] = name;
    return MQC_OK;
}

static void remove_name(struct mqc_directory *d, const char *user, struct entry *e,
                        const char *name)
{
    for (size_t i = 0; i < e->n; i++) {
        if (e->nodes[i] == name) {
            e->nodes[i] = e->nodes[--e->n];
            break;
        }
    }
    if (e->n == 0)
        free(mqc_map_del(d->users, user));
}

void mqc_directory_remove(struct mqc_directory *d, const char *user, const char *node)
{
    const char *name = mqc_map_get(d->names, node);
    struct entry *e = mqc_map_get(d->users, user);
    if (name && e)
        remove_name(d, user, e, name);
}

struct drop_ctx {
    const char *name;
    char **users;
    size_t n, cap;
    int oom;
};

static void collect(const char *user, void *value, void *ctx)
{
    struct drop_ctx *c = ctx;
    struct entry *e = value;
    for (size_t i = 0; i < e->n; i++) {
        if (e->nodes[i] != c->name)
            continue;
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 64;
            char **v = realloc(c->users, cap * sizeof *v);
            if (!v) {
                c->oom = 1;
                return;
            }
            c->users = v;
            c->cap = cap;
        }
        if ((c->users[c->n] = strdup(user)))
            c->n++;
        return;
    }
}

void mqc_directory_drop_node(struct mqc_directory *d, const char *node)
{
    struct drop_ctx c = {.name = mqc_map_get(d->names, node)};
    if (!c.name)
        return;
    /* Collect first: the map must not change while it is walked. */
    mqc_map_each(d->users, collect, &c);
    for (size_t i = 0; i < c.n; i++) {
        struct entry *e = mqc_map_get(d->users, c.users[i]);
        if (e)
            remove_name(d, c.users[i], e, c.name);
        free(c.users[i]);
    }
    free(c.users);
}

const char *const *mqc_directory_nodes(const struct mqc_directory *d, const char *user, size_t *n)
{
    struct entry *e = mqc_map_get(d->users, user);
    *n = e ? e->n : 0;
    return e && e->n ? e->nodes : NULL;
}

const char *mqc_directory_name(const struct mqc_directory *d, const char *node)
{
    return mqc_map_get(d->names, node);
}

size_t mqc_directory_count(const struct mqc_directory *d)
{
    return mqc_map_count(d->users);
}
