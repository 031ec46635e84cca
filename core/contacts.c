/* Contact sets: a map of tracked user -> map used as a set of contacts. */
#include "core/contacts.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/map.h"

struct mqc_contacts {
    struct mqc_map *users; /* user -> struct mqc_map * (set: value = itself) */
};

struct mqc_contacts *mqc_contacts_new(void)
{
    struct mqc_contacts *c = malloc(sizeof *c);
    if (c && !(c->users = mqc_map_new())) {
        free(c);
        return NULL;
    }
    return c;
}

static void free_set(const char *key, void *value, void *ctx)
{
    (void)key;
    (void)ctx;
    mqc_map_free(value);
}

void mqc_contacts_free(struct mqc_contacts *c)
{
    if (!c)
        return;
    mqc_map_each(c->users, free_set, NULL);
    mqc_map_free(c->users);
    free(c);
}

int mqc_contacts_track(struct mqc_contacts *c, const char *user)
{
    if (mqc_map_get(c->users, user))
        return MQC_OK;
    struct mqc_map *set = mqc_map_new();
    if (!set || mqc_map_put(c->users, user, set) != MQC_OK) {
        mqc_map_free(set);
        return MQC_ENOMEM;
    }
    return MQC_OK;
}

bool mqc_contacts_tracked(const struct mqc_contacts *c, const char *user)
{
    return mqc_map_get(c->users, user) != NULL;
}

int mqc_contacts_add(struct mqc_contacts *c, const char *user, const char *other)
{
    struct mqc_map *set = mqc_map_get(c->users, user);
    if (!set || strcmp(user, other) == 0)
        return MQC_OK;
    return mqc_map_put(set, other, set);
}

void mqc_contacts_add_group(struct mqc_contacts *c, const char *const *users, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!mqc_map_get(c->users, users[i]))
            continue;
        for (size_t j = 0; j < n; j++)
            mqc_contacts_add(c, users[i], users[j]);
    }
}

bool mqc_contacts_has(const struct mqc_contacts *c, const char *user, const char *other)
{
    struct mqc_map *set = mqc_map_get(c->users, user);
    return set && mqc_map_get(set, other) != NULL;
}

void mqc_contacts_drop(struct mqc_contacts *c, const char *user)
{
    mqc_map_free(mqc_map_del(c->users, user));
}

void mqc_contacts_remove(struct mqc_contacts *c, const char *user, const char *other)
{
    struct mqc_map *set = mqc_map_get(c->users, user);
    if (set)
        mqc_map_del(set, other);
}

void mqc_contacts_remove_pair(struct mqc_contacts *c, const char *user, const char *other)
{
    mqc_contacts_remove(c, user, other);
    mqc_contacts_remove(c, other, user);
}

struct reconcile_ctx {
    struct mqc_contacts *c;
    const char *user;
    struct mqc_map *seen_by;
    int rc;
};

static void reconcile_one(const char *key, void *value, void *ctx)
{
    struct reconcile_ctx *r = ctx;
    struct mqc_map *set = value;
    if (strcmp(key, r->user) == 0)
        return;
    if (mqc_map_get(r->seen_by, key)) {
        if (!mqc_map_get(set, r->user) && mqc_map_put(set, r->user, set) != MQC_OK)
            r->rc = MQC_ENOMEM;
    } else {
        mqc_map_del(set, r->user);
    }
}

int mqc_contacts_reconcile(struct mqc_contacts *c, const char *user, const char *const *sees,
                           size_t n, const char *const *seen_by, size_t m)
{
    struct reconcile_ctx r = {c, user, mqc_map_new(), MQC_OK};
    if (!r.seen_by)
        return MQC_ENOMEM;
    for (size_t i = 0; i < m && r.rc == MQC_OK; i++)
        r.rc = mqc_map_put(r.seen_by, seen_by[i], r.seen_by);
    if (r.rc == MQC_OK)
        mqc_map_each(c->users, reconcile_one, &r);
    mqc_map_free(r.seen_by);
    struct mqc_map *set = mqc_map_get(c->users, user);
    if (set) {
        struct mqc_map *fresh = mqc_map_new();
        int rc = fresh ? MQC_OK : MQC_ENOMEM;
        for (size_t i = 0; i < n && rc == MQC_OK; i++) {
            if (strcmp(sees[i], user) != 0)
                rc = mqc_map_put(fresh, sees[i], fresh);
        }
        if (rc == MQC_OK && mqc_map_put(c->users, user, fresh) == MQC_OK) {
            mqc_map_free(set);
        } else {
            mqc_map_free(fresh);
            r.rc = MQC_ENOMEM;
        }
    }
    return r.rc;
}
