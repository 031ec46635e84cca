/* Who may see whose presence: for each user connected to this broker, the
 * set of users sharing at least one conversation with them who do not block
 * them. Loaded from Redis at the user's first connection, kept current from
 * the membership changes this broker makes and re-checked against Redis
 * after any node's removals and blocks (mqc_contacts_reconcile), so that
 * the per-delivery READ check on chat/presence/{user} is answered from
 * memory. Not thread-safe. */
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
/* user no longer sees other's presence (until told again). */
void mqc_contacts_remove(struct mqc_contacts *c, const char *user, const char *other);
/* Neither of user and other sees the other any more (until told again). */
void mqc_contacts_remove_pair(struct mqc_contacts *c, const char *user, const char *other);
/* The truth about user from the store: user (if tracked) sees exactly sees
 * (n), and every tracked user sees user exactly when listed in seen_by (m).
 * Walks every tracked user: meant for membership and block changes, not for
 * every message. MQC_OK or MQC_ENOMEM (sets partly updated). */
int mqc_contacts_reconcile(struct mqc_contacts *c, const char *user, const char *const *sees,
                           size_t n, const char *const *seen_by, size_t m);
/* May user (tracked) see other's presence? (They share a conversation and
 * other does not block user.) */
bool mqc_contacts_has(const struct mqc_contacts *c, const char *user, const char *other);
/* Stop tracking user (their last device left). */
void mqc_contacts_drop(struct mqc_contacts *c, const char *user);

#endif
