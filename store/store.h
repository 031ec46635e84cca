/* The Redis store: one connection (hiredis, blocking with timeouts) that knows
 * when it is down and reconnects by itself, no more often than retry_ms.
 * Everything that talks to Redis lives in store/; callers see MQC_* codes and
 * core types only. A store is used from one thread. */
#ifndef MQC_STORE_H
#define MQC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/synctoken.h"

struct mqc_store_opts {
    const char *host; /* borrowed during _new only (copied) */
    int port;
    const char *unix_path; /* wins over host/port when set */
    const char *password;  /* NULL = no AUTH */
    int db;
    const char *prefix;   /* key prefix, e.g. "mqchat:" */
    int timeout_ms;       /* connect and per-command timeout */
    int retry_ms;         /* least time between reconnect attempts */
    long timeline_cap;    /* entries kept per user timeline (0 = 100000) */
    int64_t retention_ms; /* how long logs and timelines are kept (0 = 30 days) */
    bool push_preview;    /* put body previews in push jobs */
    const char *node;     /* this broker's node id, or NULL */
    bool check_version;   /* on every connect: refuse (stay down) a store with
                           * data and no version MQC_STORE_VERSION, and mark an
                           * empty one (mqc_store_check_version) */
    /* Redis Cluster seeds "host:port" separated by spaces or commas
     * (borrowed, copied), or NULL for one Redis (host/port/unix_path/db).
     * Set: every command goes through the slot router (store/router.h),
     * SELECT is never sent, host/port/unix_path/db are ignored. */
    const char *cluster_nodes;
    /* > 0: sends and relations (mqc_store_send, _relate...) are answered
     * only after WAIT wait_replicas on their node; fewer replicas within
     * timeout_ms: MQC_EUNAVAIL as if Redis were unreachable (the write may
     * have happened: the "unsure" dedupe makes the retry safe). */
    int wait_replicas;
};

struct mqc_store;

/* Returns a new store (not yet connected) or NULL when out of memory. */
struct mqc_store *mqc_store_new(const struct mqc_store_opts *opts);
void mqc_store_free(struct mqc_store *s);
/* Make sure the connection is up, reconnecting if the last attempt is older
 * than retry_ms. Returns MQC_OK or MQC_EUNAVAIL. */
int mqc_store_ensure(struct mqc_store *s, int64_t now_mono_ms);
bool mqc_store_is_up(const struct mqc_store *s);
/* The last connection error, for the operator ("" when none). Borrowed. */
const char *mqc_store_last_error(const struct mqc_store *s);

/* Users (keys: see store/keys.h). All strings borrowed. */
/* Copy user's password hash into out. MQC_OK, MQC_ENOTFOUND, MQC_EUNAVAIL. */
int mqc_store_user_hash(struct mqc_store *s, const char *user, char *out, size_t size);
/* Create user with hash. MQC_OK, MQC_EEXIST, MQC_EUNAVAIL. */
int mqc_store_user_add(struct mqc_store *s, const char *user, const char *hash, int64_t now_ms);
/* Make sure user exists (a JWT vouched for it): created with no password
 * when missing, left as it is otherwise. MQC_OK, MQC_EBADREQ, MQC_EUNAVAIL. */
int mqc_store_user_ensure(struct mqc_store *s, const char *user, int64_t now_ms);
/* Replace an existing user's hash and end every session of theirs (their
 * devices are disconnected on every node). MQC_OK, MQC_ENOTFOUND,
 * MQC_EUNAVAIL. */
int mqc_store_user_passwd(struct mqc_store *s, const char *user, const char *hash);
/* Blocking: delete user and everything they own (store/user_del.c, in
 * single-slot steps): their place in every conversation (groups get a "left"
 * event at now_ms), their push tokens, their keys, and every node is told to
 * disconnect their devices. *groups gets how many groups they left. A run
 * stopped half-way is completed by running it again. MQC_OK, MQC_ENOTFOUND,
 * MQC_EUNAVAIL. */
int mqc_store_user_del(struct mqc_store *s, const char *user, int64_t now_ms, long long *groups);
/* The same, calling fn(conv, what, ctx) (both borrowed) for each of the
 * user's conversations: what is "left" (a group: a left event for the
 * others), "direct" (the other member keeps it), "deleted" (nobody was
 * left) or "none" (an earlier run did it already). fn may be NULL. */
int mqc_store_user_del_steps(struct mqc_store *s, const char *user, int64_t now_ms,
                             long long *groups,
                             void (*fn)(const char *conv, const char *what, void *ctx), void *ctx);
/* Call fn(user, ctx) for every user, sorted. MQC_OK or MQC_EUNAVAIL. */
int mqc_store_user_list(struct mqc_store *s, void (*fn)(const char *user, void *ctx), void *ctx);

/* ---- Batched conversation operations (store/conv.c) ----
 * Each call queues one Redis function call and returns MQC_OK (or MQC_ENOMEM
 * / MQC_EBADREQ, in which case cb is never called). mqc_store_flush() runs
 * everything queued as one pipeline and calls each cb once, in queue order,
 * with rc = MQC_OK or a contract error (MQC_ENOTMEMBER, MQC_EFORBIDDEN,
 * MQC_ENOTFOUND, MQC_EUNAVAIL). Result pointers are borrowed for the
 * duration of the callback. All string arguments are borrowed (copied). */

struct mqc_post_result {
    int64_t seq;                /* send: the message's seq; receipt: the cursor now stored */
    bool dup;                   /* send: already stored earlier; event is the original */
    bool announce;              /* send, dup: an earlier attempt through this store was
                                 * answered unavailable but had been stored, so nobody
                                 * was told: deliver event to every member */
    bool ignored;               /* receipt: not above the stored cursor; nothing changed */
    int64_t mver;               /* current membership version */
    const char *const *members; /* when the caller's cached version was stale */
    size_t nmembers;
    bool has_members;
    const char *event; /* dup: the stored event */
    size_t event_len;
    const char *reason; /* MQC_EFORBIDDEN: why ("blocked", "not_sender"), or NULL */
    /* receipt, "read": the number of msg events up to and including the
     * cursor (the log entry's m), -1 when unknown; the store has already
     * queued the reader's unread update (mqc2_unread) with it. */
    int64_t read_m;
};
typedef void (*mqc_store_post_cb)(void *ctx, int rc, const struct mqc_post_result *r);

/* Store a message (prefix + seq + suffix) unless (sender, id) is stored,
 * with its job in the job stream of the conversation's slot (mqchat-push
 * does the per-recipient work from it; preview: a short start of the body,
 * or "", kept in the job only when push_preview is on). O(1) in Redis
 * whatever the group size (lazy fan-out, docs/ARCHITECTURE.md). reply_to >
 * 0: the message replies to that seq, which must be a msg event of conv
 * (deleted or not), else MQC_ENOTFOUND and nothing is stored. */
int mqc_store_send(struct mqc_store *s, const char *conv, const char *sender, const char *id,
                   const char *prefix, const char *suffix, const char *preview, int64_t reply_to,
                   int64_t cached_mver, mqc_store_post_cb cb, void *ctx);
/* Store an edit, delete or react event (kind "edit" | "delete" | "react";
 * prefix + seq + suffix, core/relation.h) of msg target, unless (sender,
 * id) is stored (then dup, with the original, or its tombstone). Checks in
 * Redis, atomically with the write (store/relate.c, mqc2_relate):
 * MQC_ENOTFOUND when target is no msg of conv or is deleted; edit by
 * anyone but its sender, delete by anyone but its sender or a group admin:
 * MQC_EFORBIDDEN. A delete erases the target's body and attrs, and its
 * edits, from Redis. No job, no unread count: relations never push. */
int mqc_store_relate(struct mqc_store *s, const char *conv, const char *sender, const char *id,
                     const char *kind, int64_t target, const char *prefix, const char *suffix,
                     int64_t cached_mver, mqc_store_post_cb cb, void *ctx);
/* Raise user's "delivered" or "read" cursor to seq (clamped, monotonic).
 * After a raised "read" cursor the store queues, fire-and-forget, the
 * user-slot update of the user's unread counters (mqc2_unread, written by
 * mqchat-push's side of #15): a failure is logged, never the receipt's. */
int mqc_store_receipt(struct mqc_store *s, const char *conv, const char *user, const char *type,
                      int64_t seq, int64_t cached_mver, mqc_store_post_cb cb, void *ctx);
/* Membership check of user in conv (and the members, when stale). */
int mqc_store_members(struct mqc_store *s, const char *conv, const char *user, int64_t cached_mver,
                      mqc_store_post_cb cb, void *ctx);

struct mqc_change_result {
    bool noop;         /* nothing to change (add/remove/leave), or direct already existed */
    int64_t seq;       /* seq of the member event */
    int64_t mver;      /* membership version after the change */
    const char *event; /* the member event, NULL for direct creates and noops */
    size_t event_len;
    const char *const *members; /* members after the change (direct create: the pair) */
    size_t nmembers;
    const char *const *gone; /* users removed/left by this change */
    size_t ngone;
    /* Presence hidden by blocks among the users this change brought
     * together: nhidden (who, from) pairs, flattened; from must not see
     * who's presence although they now share a conversation. */
    const char *const *hidden;
    size_t nhidden;
    const char *missing; /* MQC_ENOTFOUND: the user that does not exist, if known;
                          * MQC_EFORBIDDEN: why ("blocked", "full"), if known */
};
typedef void (*mqc_store_change_cb)(void *ctx, int rc, const struct mqc_change_result *r);

/* a is the creator: MQC_EFORBIDDEN when b blocks a. */
int mqc_store_create_direct(struct mqc_store *s, const char *conv, const char *a, const char *b,
                            int64_t now_ms, mqc_store_change_cb cb, void *ctx);
/* members[0] must be the creator. MQC_EFORBIDDEN when the group would have
 * more than max_members members or a member blocks the creator. */
int mqc_store_create_group(struct mqc_store *s, const char *conv, const char *title,
                           const char *const *members, size_t n, size_t max_members, int64_t now_ms,
                           mqc_store_change_cb cb, void *ctx);
/* op: "add", "remove" or "leave" (targets = {by} for leave). An add that
 * would make the group larger than max_members (checked atomically with the
 * change), or add a user who blocks by (read just before it), is
 * MQC_EFORBIDDEN. Creates and changes run as single-slot steps
 * (store/member.c); cb runs once, after the users' indexes are written. */
int mqc_store_change(struct mqc_store *s, const char *conv, const char *by, const char *op,
                     const char *const *targets, size_t n, size_t max_members, int64_t now_ms,
                     mqc_store_change_cb cb, void *ctx);
/* Tests only (plugin_opt_test_crash_after_member_steps): fn(conv, ctx) runs
 * after Redis answered the conversation step of a membership change that
 * changed something, before the users' index steps are queued
 * (store/member.c). fn NULL: none. */
void mqc_store_set_member_step_hook(struct mqc_store *s, void (*fn)(const char *conv, void *ctx),
                                    void *ctx);

struct mqc_conv_info {
    const char *conv, *kind, *title; /* title "" when none */
    int64_t last_seq, read_seq;
    int64_t unread; /* msg events after read_seq (relations and member events do not count) */
    const char *const *users; /* n users and their roles ("admin"/"member") */
    const char *const *roles;
    size_t n;
};
typedef void (*mqc_store_convs_cb)(void *ctx, int rc, const struct mqc_conv_info *items, size_t n);
int mqc_store_convs(struct mqc_store *s, const char *user, mqc_store_convs_cb cb, void *ctx);

typedef void (*mqc_store_history_cb)(void *ctx, int rc, bool more, const char *const *events,
                                     const size_t *lens, size_t n);
/* before < 0: the newest. At most limit events and about max_bytes of them
 * (at least one): a page cut short by size has more = true. */
int mqc_store_history(struct mqc_store *s, const char *conv, const char *user, int64_t before,
                      int64_t limit, size_t max_bytes, mqc_store_history_cb cb, void *ctx);

/* A plain outcome: rc only. */
typedef void (*mqc_store_done_cb)(void *ctx, int rc);

/* ---- Presence (store/presence.c) ---- */

/* The reply to a presence write: whether the user's aggregate over all
 * nodes changed, and the aggregate (state borrowed for the call). On rc !=
 * MQC_OK, changed is false and state NULL. */
typedef void (*mqc_store_presence_cb)(void *ctx, int rc, bool changed, const char *state,
                                      int64_t last_seen);
/* Queue this node's presence for user (state name, last_seen, its devices
 * here) and node membership; cb (may be NULL) gets the aggregate. */
int mqc_store_presence(struct mqc_store *s, const char *user, const char *state, int64_t last_seen,
                       const char *node, size_t devices, mqc_store_presence_cb cb, void *ctx);
/* Queue a read of user's aggregate presence; cb gets (state, last_seen) or
 * an error. */
int mqc_store_presence_get(struct mqc_store *s, const char *user, mqc_store_presence_cb cb,
                           void *ctx);
/* Queue the node heartbeat (expires after ttl_ms). */
int mqc_store_heartbeat(struct mqc_store *s, const char *node, int64_t now_ms, int64_t ttl_ms);
/* Blocking: a node starts; mark offline every user it had published as
 * present. fn(user, last_seen, ctx) for each. MQC_OK or MQC_EUNAVAIL. */
int mqc_store_node_reset(struct mqc_store *s, const char *node, int64_t now_ms,
                         void (*fn)(const char *user, int64_t last_seen, void *ctx), void *ctx);
/* Blocking: every other user sharing a conversation with user whose
 * presence user may see (who does not block user); fn(other, ctx) for each.
 * MQC_OK or MQC_EUNAVAIL. */
int mqc_store_contacts(struct mqc_store *s, const char *user,
                       void (*fn)(const char *other, void *ctx), void *ctx);
/* Presence visibility of user now: sees = the users whose presence user may
 * see, seen_by = the users who may see user's (both: sharing a conversation,
 * minus blocks). Arrays borrowed for the callback. */
typedef void (*mqc_store_visibility_cb)(void *ctx, int rc, const char *const *sees, size_t nsees,
                                        const char *const *seen_by, size_t nseen_by);
/* Queue that read (the pipeline's order: it sees every change queued before). */
int mqc_store_visibility(struct mqc_store *s, const char *user, mqc_store_visibility_cb cb,
                         void *ctx);

/* ---- Blocking (store/block.c) ---- */

/* user blocks (block true) or unblocks other; direct is the id of their
 * direct conversation (core/convid.h), whose sends from other are refused
 * while blocked. MQC_OK, MQC_ENOTFOUND (other is no user), MQC_EUNAVAIL. */
int mqc_store_block(struct mqc_store *s, const char *user, const char *other, const char *direct,
                    bool block, mqc_store_done_cb cb, void *ctx);
/* The users user blocks, sorted (borrowed for the callback). */
typedef void (*mqc_store_list_cb)(void *ctx, int rc, const char *const *users, size_t n);
int mqc_store_blocked(struct mqc_store *s, const char *user, mqc_store_list_cb cb, void *ctx);

/* ---- Sync and push settings (store/sync.c) ---- */

struct mqc_sync_result {
    bool reset, more;
    struct mqc_syncpos next; /* the position after this page */
    const char *const *events;
    const size_t *lens;
    size_t n;
};
typedef void (*mqc_store_sync_cb)(void *ctx, int rc, const struct mqc_sync_result *r);
/* Fan-out on read: every event user may see after since (NULL: none, just
 * the current position), oldest first by (time, conv, seq), so each
 * conversation's events in seq order; at most limit events and about
 * max_bytes (at least one). One call in the user's slot (mqc2_sync_user),
 * then one per conversation of the user, pipelined (mqc2_sync_conv): the
 * callback runs once, after the second step's replies. */
int mqc_store_sync(struct mqc_store *s, const char *user, const struct mqc_syncpos *since,
                   int64_t limit, size_t max_bytes, mqc_store_sync_cb cb, void *ctx);

int mqc_store_device(struct mqc_store *s, const char *user, const char *token, const char *platform,
                     const char *app, bool sandbox, mqc_store_done_cb cb, void *ctx);
int mqc_store_undevice(struct mqc_store *s, const char *user, const char *token,
                       mqc_store_done_cb cb, void *ctx);
int mqc_store_mute(struct mqc_store *s, const char *user, const char *conv, int64_t until_ms,
                   int64_t now_ms, mqc_store_done_cb cb, void *ctx);

/* Queue the live count of the user's devices on this node (push decisions
 * need it before the grace period lets presence say offline). */
int mqc_store_presence_devices(struct mqc_store *s, const char *user, const char *node,
                               size_t devices);

/* ---- Device sessions (store/session.c; records: core/session_token.h) ----
 * All strings borrowed. */

/* Blocking: the key text of session hashes that Redis keeps for every
 * broker, stored from candidate (fresh random text) by the first to ask.
 * Copied into out. MQC_OK or MQC_EUNAVAIL. */
int mqc_store_session_secret(struct mqc_store *s, const char *candidate, char *out, size_t size);
/* Blocking (one HGET): user's session record of device, copied into out.
 * MQC_OK, MQC_ENOTFOUND, MQC_EUNAVAIL. */
int mqc_store_session_get(struct mqc_store *s, const char *user, const char *device, char *out,
                          size_t size);
/* Queue: the same read (a login's record fetched ahead, plugin/session_prefetch.c):
 * cb gets MQC_OK and the record (borrowed for the call), MQC_ENOTFOUND or
 * MQC_EUNAVAIL. */
typedef void (*mqc_store_session_fetch_cb)(void *ctx, int rc, const char *record);
int mqc_store_session_fetch(struct mqc_store *s, const char *user, const char *device,
                            mqc_store_session_fetch_cb cb, void *ctx);
/* Queue: store a session of user (a new device, or with rotate the new hash
 * of an existing one, keeping its created time and, when label is NULL,
 * its label). cb gets MQC_OK, MQC_ENOTFOUND (no such user, or the rotated
 * session has ended), MQC_EFORBIDDEN (a new device while user already holds
 * MQC_SESS_PER_USER_MAX live sessions) or MQC_EUNAVAIL. */
int mqc_store_session_put(struct mqc_store *s, const char *user, const char *device,
                          const char *hash, int64_t now_ms, int64_t expires_ms, const char *label,
                          bool rotate, mqc_store_done_cb cb, void *ctx);
/* Queue: set last_used of user's session device (if it still has hash). */
int mqc_store_session_touch(struct mqc_store *s, const char *user, const char *device,
                            const char *hash, int64_t now_ms);
/* user's sessions: n (device, record) pairs flattened in v (2n strings with
 * their lengths), borrowed for the callback. */
typedef void (*mqc_store_sessions_cb)(void *ctx, int rc, const char *const *v, const size_t *lens,
                                      size_t n);
int mqc_store_sessions(struct mqc_store *s, const char *user, mqc_store_sessions_cb cb, void *ctx);
/* An outcome with a count. */
typedef void (*mqc_store_count_cb)(void *ctx, int rc, long long n);
/* Queue: end user's session device (NULL: every session of user); every
 * node then disconnects the devices using them (bus "skick"). cb (may be
 * NULL) gets how many ended. */
int mqc_store_session_end(struct mqc_store *s, const char *user, const char *device,
                          mqc_store_count_cb cb, void *ctx);

/* ---- Cluster membership (store/cluster.c) ---- */

/* Blocking: every node ever registered but self; fn(node, alive, ctx) for
 * each (alive: its heartbeat has not expired). MQC_OK or MQC_EUNAVAIL. */
int mqc_store_cluster_nodes(struct mqc_store *s, const char *self,
                            void (*fn)(const char *node, bool alive, void *ctx), void *ctx);
/* Blocking: the users node shows present; fn(user, ctx) for each. */
int mqc_store_node_users(struct mqc_store *s, const char *node,
                         void (*fn)(const char *user, void *ctx), void *ctx);
/* Blocking: claim the clean-up of dead node for self, for ttl_ms. MQC_OK if
 * claimed, MQC_EEXIST if another node has it, MQC_EUNAVAIL. */
int mqc_store_reap_claim(struct mqc_store *s, const char *node, const char *self, int64_t ttl_ms);
/* Blocking: forget node in the node registry. */
int mqc_store_node_forget(struct mqc_store *s, const char *node);

/* Call fn(seconds, ctx) (ctx borrowed) with the round trip of every command
 * answered by Redis: from the write of its batch to the read of its reply.
 * fn runs on the store's thread and must not block. NULL turns it off. */
void mqc_store_set_rtt_hook(struct mqc_store *s, void (*fn)(double, void *), void *ctx);

/* ---- Store layout (store/upgrade.c) ---- */

/* The layout version this code reads and writes ("<prefix>version"). */
#define MQC_STORE_VERSION 2
/* Blocking: make sure the store has this layout: an empty store gets the
 * version key; one with data and no version (written by v1) is
 * MQC_EFORBIDDEN (the operator runs `mqchat store upgrade`). MQC_OK,
 * MQC_EFORBIDDEN, MQC_EUNAVAIL. */
int mqc_store_check_version(struct mqc_store *s);
/* Whether the last check found a store that needs `mqchat store upgrade`. */
bool mqc_store_needs_upgrade(const struct mqc_store *s);
/* Blocking: convert a v1 store in place (mqc2_upgrade_conv per conversation,
 * mqc3_upgrade_user per user, then the version key). Idempotent. *convs and
 * *users get how many were changed. MQC_OK or MQC_EUNAVAIL. */
int mqc_store_upgrade(struct mqc_store *s, long long *convs, long long *users);

/* ---- Job hints (store/hint.c) ---- */

/* Queue one PUBLISH on "<prefix>jobs" with the slots of the events stored
 * since the last call (space-separated, each once), if any: the non-durable
 * wake-up of mqchat-push. Call once per loop pass, before its flush. */
void mqc_store_hints_flush(struct mqc_store *s);
/* The same, written to Redis at once when nothing else is queued, without
 * waiting for its reply (collected by a later flush; not counted in
 * mqc_store_backlog_ms): for the end of a tick, so that no wake of the loop
 * is needed for them. With other jobs queued it only queues them. */
void mqc_store_hints_send(struct mqc_store *s, int64_t now_mono_ms);
/* Operations queued and not yet written (callbacks may queue follow-ups:
 * sync's second step, unread updates, hints). */
size_t mqc_store_queued(const struct mqc_store *s);

/* Number of queued operations. */
size_t mqc_store_pending(const struct mqc_store *s);
/* (login pacing) Age in ms of the oldest request written to Redis whose
 * reply has not been taken yet; 0 when none (store/backlog.c). */
int64_t mqc_store_backlog_ms(const struct mqc_store *s);
/* Run every queued operation as one pipeline and call their callbacks. */
void mqc_store_flush(struct mqc_store *s, int64_t now_mono_ms);
/* The same, overlapped: first finish the previous batch, then write this
 * one and return without its replies if one of wake_fds (borrowed; the
 * caller's event loop) becomes readable before Redis answers; they are then
 * read at the next call (or before any blocking command). */
void mqc_store_flush_overlapped(struct mqc_store *s, int64_t now_mono_ms, const int *wake_fds,
                                size_t nwake);

#endif
