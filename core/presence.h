/* Presence, decided in the broker: which devices of which user are connected
 * right now, what each says (online/away), and what was last published for
 * the user. Pure state machine; the plugin feeds it broker events and
 * publishes what mqc_presence_due() hands out.
 *
 * A device is keyed by its connection (the broker's client pointer, unique
 * while connected). Unknown keys in disconnect are ignored, which makes the
 * stale events of Mosquitto 2.0.11 harmless: the old connection's DISCONNECT
 * after a takeover, the second DISCONNECT of a persistent session that
 * reconnects, and re-authentication of live sessions on SIGHUP.
 *
 * A user's state is the most present of their devices (online > away), or
 * offline with no device. Going offline waits grace_ms, so a reconnect within
 * the window publishes nothing; a user whose state did not change publishes
 * nothing. Time comes from the caller. Not thread-safe. */
#ifndef MQC_PRESENCE_H
#define MQC_PRESENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mqc_pstate { MQC_PRESENCE_OFFLINE = 0, MQC_PRESENCE_AWAY = 1, MQC_PRESENCE_ONLINE = 2 };

struct mqc_presence;

struct mqc_presence *mqc_presence_new(int64_t grace_ms);
void mqc_presence_free(struct mqc_presence *pr);

/* A device of user (borrowed) authenticated as connection key. A new device
 * starts online. Returns MQC_OK, MQC_EEXIST when key is already tracked (a
 * re-authentication: nothing changes), or MQC_ENOMEM. */
int mqc_presence_connect(struct mqc_presence *pr, uintptr_t key, const char *user, int64_t now);
/* Connection key ended. Unknown keys are ignored. */
void mqc_presence_disconnect(struct mqc_presence *pr, uintptr_t key, int64_t now);
/* The device says online or away. MQC_OK, MQC_ENOTFOUND (untracked key),
 * MQC_EBADREQ (offline is not a device state). */
int mqc_presence_set(struct mqc_presence *pr, uintptr_t key, enum mqc_pstate st, int64_t now);
bool mqc_presence_tracked(const struct mqc_presence *pr, uintptr_t key);
/* The user of a tracked key (borrowed), or NULL. */
const char *mqc_presence_user_of(const struct mqc_presence *pr, uintptr_t key);
/* Connected devices of user. */
size_t mqc_presence_devices(const struct mqc_presence *pr, const char *user);
/* Current state of user (offline when unknown). */
enum mqc_pstate mqc_presence_state(const struct mqc_presence *pr, const char *user);

/* What the world was last told about user is unknown (e.g. the client's own
 * will went out): the next due() publishes the user's state whatever it is
 * (offline only after grace). Users this node never saw are ignored. */
void mqc_presence_forget_published(struct mqc_presence *pr, const char *user);
/* Record that state was just published for user (e.g. by the message path),
 * so due() does not publish it again. */
void mqc_presence_mark_published(struct mqc_presence *pr, const char *user, enum mqc_pstate st,
                                 int64_t now);

struct mqc_presence_change {
    const char *user; /* borrowed for the callback */
    enum mqc_pstate state;
    int64_t last_seen; /* offline: when the last device left; else now */
    size_t devices;
};
/* The user has no device here and was not shown offline yet: show it now
 * rather than after grace (the device's will asked for it). Records offline
 * as published and fills *out (user borrowed until the next call) with what
 * to publish; false when there is nothing to do. */
bool mqc_presence_offline_now(struct mqc_presence *pr, const char *user,
                              struct mqc_presence_change *out);
/* Hand every due change to fn, in the order users became dirty, and record
 * it as published. Returns the earliest future deadline (ms) still pending,
 * or -1. */
int64_t mqc_presence_due(struct mqc_presence *pr, int64_t now,
                         void (*fn)(const struct mqc_presence_change *c, void *ctx), void *ctx);

const char *mqc_presence_name(enum mqc_pstate st);
/* Call fn(user, ctx) for every user with at least one device here (the
 * presence state must not change meanwhile). */
void mqc_presence_each_connected(const struct mqc_presence *pr,
                                 void (*fn)(const char *user, void *ctx), void *ctx);
/* "online"/"away"/"offline" -> state; -1 for anything else. */
int mqc_presence_parse(const char *name);

#endif
