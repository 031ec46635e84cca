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
