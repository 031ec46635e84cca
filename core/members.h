/* The membership cache: conversation -> (membership version, member ids), so
 * that fan-out never asks Redis who the members are. Redis holds the truth
 * and a version (mver) that grows on every change; the store's functions
 * return the member list only when the caller's cached version is stale, and
 * every post is membership-checked in Redis, so a stale entry can cost a
 * refresh but never a wrong delivery decision. Not thread-safe. */
#ifndef MQC_MEMBERS_H
#define MQC_MEMBERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mqc_members;

struct mqc_members *mqc_members_new(void);
void mqc_members_free(struct mqc_members *m);
/* Cached version of conv, or -1 when not cached. */
int64_t mqc_members_version(const struct mqc_members *m, const char *conv);
/* Replace conv's entry with users (borrowed, copied). MQC_OK or MQC_ENOMEM
 * (the entry is then dropped). */
int mqc_members_set(struct mqc_members *m, const char *conv, int64_t mver, const char *const *users,
                    size_t n);
/* The cached member ids of conv (borrowed until the next set/drop of conv),
 * or NULL when not cached. */
const char *const *mqc_members_list(const struct mqc_members *m, const char *conv, size_t *n);
bool mqc_members_has(const struct mqc_members *m, const char *conv, const char *user);
void mqc_members_drop(struct mqc_members *m, const char *conv);
size_t mqc_members_count(const struct mqc_members *m);

#endif
