/* Who may see whose presence: for each user connected to this broker, the
 * set of users sharing at least one conversation with them. Loaded from Redis
 * at the user's first connection and kept current from the membership
 * changes this broker makes, so that the per-delivery READ check on
 * chat/presence/{user} is answered from memory. Not thread-safe. */
#ifndef MQC_CONTACTS_H
#define MQC_CONTACTS_H

#include <stdbool.h>
#include <stddef.h>

struct mqc_contacts;

struct mqc_contacts *mqc_contacts_new(void);
void mqc_contacts_free(struct mqc_contacts *c);
/* Start tracking user with an empty set (kept if already tracked).
 * MQC_OK or MQC_ENOMEM. */
int mqc_contacts_track(struct mqc_contacts *c, const char *user);
bool mqc_contacts_tracked(const struct mqc_contacts *c, const char *user);
/* Add other to user's set if user is tracked. */
int mqc_contacts_add(struct mqc_contacts *c, const char *user, const char *other);
/* Everyone in users (n) now shares a conversation: each tracked one learns
 * every other. */
void mqc_contacts_add_group(struct mqc_contacts *c, const char *const *users, size_t n);
/* Does user (tracked) share a conversation with other? */
bool mqc_contacts_has(const struct mqc_contacts *c, const char *user, const char *other);
/* Stop tracking user (their last device left). */
void mqc_contacts_drop(struct mqc_contacts *c, const char *user);

#endif
