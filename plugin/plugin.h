/* The Mosquitto adapter's shared state and the per-event entry points. One
 * struct mqc_plugin lives from mosquitto_plugin_init to _cleanup and is the
 * userdata of every callback; it is touched only on the broker thread. */
#ifndef MQC_PLUGIN_H
#define MQC_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include <cjson/cJSON.h>

#include "acl/acl.h"
#include "core/authcache.h"
#include "core/attach.h"
#include "core/authwork.h"
#include "core/config.h"
#include "core/jwtauth.h"
#include "core/contacts.h"
#include "core/directory.h"
#include "core/reorder.h"
#include "core/replay.h"
#include "core/map.h"
#include "core/members.h"
#include "core/presence.h"
#include "core/ratelimit.h"
#include "core/session_token.h"
#include "core/storm.h"
#include "core/topic.h"
#include "store/bus.h"
#include "store/store.h"

#define MQC_MAX_WAKE_FDS 4

struct mqc_plugin {
    mosquitto_plugin_id_t *id;
    struct mqc_config cfg;
    struct mqc_store *store;    /* owned */
    struct mqc_authcache *auth; /* owned */
    struct mqc_jwtauth *jwt;    /* owned; NULL = JWT passwords not accepted */
    /* Password checks off the broker thread (auth.c): NULL when
     * auth_threads is 0. Verdicts land in auth_fresh (one-shot, whatever
     * auth_cache_seconds says) or auth_bad; sync_verifies counts the checks
     * done on the broker thread since the last tick. */
    struct mqc_authwork *authwork;               /* owned */
    struct mqc_authcache *auth_fresh, *auth_bad; /* owned */
    struct mqc_map *auth_pending;                /* owned: user -> checks queued for workers */
    int sync_verifies;
    /* Login pacing (login_pace.c): logins of this loop pass and the broker
     * time they took (busy answers are counted by the metrics). */
    int pass_logins;
    int64_t pass_login_ns;
    int64_t login_uncharged_ns; /* this login's inline argon2id: bounded on its own */
    /* Device sessions (session_auth.c): the key of the token hashes, from
     * session_secret or, once Redis answers, the key Redis keeps. */
    unsigned char sess_key[MQC_SESS_KEY_BYTES];
    bool sess_key_ok;
    /* Session records fetched ahead for busy token logins
     * (session_prefetch.c): user "\n" device -> struct prefetch; blocking
     * reads this pass; sessions ended anywhere (bus kick/skick) so far. */
    struct mqc_map *sess_prefetch; /* owned */
    int pass_session_reads;
    uint64_t sess_epoch;
    int64_t next_prefetch_prune_ms;
    /* Token logins that needed a record read, for storm detection
     * (session_prefetch.c). */
    struct mqc_storm login_storm;
    struct mqc_map *client_ids;                /* owned: client id -> holder (clientids.c) */
    uint64_t conn_seq;                         /* the last connection number handed out */
    struct mqc_reply *replies, **replies_tail; /* owned: to send at the end of tick */
    struct mqc_acl acl;                        /* borrows cfg.other_filters */
    struct mqc_members *members;               /* owned: conversation -> members cache */
    struct mqc_ratelimit *typing;              /* owned: typing events per user+conv */
    struct mqc_ratelimit *rate_msgs, *rate_bytes, *rate_reqs; /* owned: per user */
    struct mqc_presence *presence;    /* owned: devices and published states */
    struct mqc_contacts *contacts;    /* owned: presence visibility */
    struct mqc_map *contacts_loading; /* owned: user -> contacts read in flight (contacts_load.c) */
    uint64_t vis_epoch;               /* visibility removals so far (visibility.c) */
    struct contacts_load *contacts_held; /* owned: tests only, answers held back */
    struct mqc_attach_store *attach;     /* owned: the object store; NULL = not configured */
    bool reloading;       /* between MOSQ_EVT_RELOAD and the next tick (SIGHUP re-auth) */
    bool node_reset_done; /* this node's stale presence cleared in Redis */
    struct mqc_node_offline *startup_offline; /* retained offline states to publish */
    int64_t next_heartbeat_ms;
    /* Cluster (cluster_send.c, cluster_recv.c, reap.c, wake.c). */
    struct mqc_bus *bus;                  /* owned: the subscriber thread */
    struct mqc_directory *directory;      /* owned: users on other nodes */
    struct mqc_reorder *reorder;          /* owned: per-conversation delivery order */
    struct mqc_replay *replay;            /* owned: events fanned out lately (cluster_send.c) */
    int64_t peer_seen_ms;                 /* when another node was last known alive (0: never) */
    struct mqc_bus_delayed *test_delayed; /* owned: cfg.test_bus_delay_ms's queue */
    bool wake_ok;                         /* the wake signal is installed */
    bool cluster_joined;                  /* hello sent, directory loaded */
    int64_t next_reap_ms;
    int wake_fds[MQC_MAX_WAKE_FDS]; /* the broker's epoll descriptor(s): see tick.c */
    size_t nwake;
    bool wake_searched;
    long test_sends;        /* stored sends (cfg.test_crash_after_sends) */
    long test_member_steps; /* membership conversation steps (cfg.test_crash_after_member_steps) */
};

/* A user the node had shown present before it (re)started (presence.c). */
struct mqc_node_offline {
    struct mqc_node_offline *next;
    int64_t last_seen;
    char user[];
};

int mqc_plugin_on_basic_auth(int event, void *event_data, void *userdata);
/* Client ids of live connections (plugin/clientids.c). May client (logging
 * in as user) use client_id? */
bool mqc_plugin__client_id_free_for(struct mqc_plugin *p, const struct mosquitto *client,
                                    const char *client_id, const char *user);
/* sess: the device session id the client logged in with (borrowed; NULL
 * or "" for a password or JWT login). */
void mqc_plugin__client_id_hold(struct mqc_plugin *p, const struct mosquitto *client,
                                const char *client_id, const char *user, const char *sess);
/* The device session id connection conn of user on client_id logged in
 * with (borrowed from the holding), or NULL (none, or the connection is
 * gone). */
const char *mqc_plugin__client_session(struct mqc_plugin *p, const char *client_id,
                                       const char *user, uint64_t conn);
/* Tie that connection to device session sess (borrowed; NULL = none). */
void mqc_plugin__client_session_set(struct mqc_plugin *p, const char *client_id, const char *user,
                                    uint64_t conn, const char *sess);
/* Disconnect user's connections here that logged in with (or were tied to)
 * device session sess ("*": any). Returns how many. */
size_t mqc_plugin__client_session_kick(struct mqc_plugin *p, const char *user, const char *sess);
void mqc_plugin__client_id_release(struct mqc_plugin *p, const struct mosquitto *client);
void mqc_plugin__client_ids_free(struct mqc_plugin *p);
/* The number of client's live connection (never reused; 0 if it holds no
 * client id). */
uint64_t mqc_plugin__client_conn(struct mqc_plugin *p, const struct mosquitto *client);
/* Whether connection conn of user still holds client_id. */
bool mqc_plugin__client_conn_live(struct mqc_plugin *p, const char *client_id, const char *user,
                                  uint64_t conn);
/* Device session token logins (plugin/session_auth.c): check token (the
 * MQTT password, borrowed) for user; on MQC_OK its device id is written to
 * device (MQC_SESS_DEVICE_LEN + 1 bytes). MQC_OK, MQC_EAUTH (malformed,
 * unknown, ended, expired or another user's token), MQC_EUNAVAIL. */
int mqc_plugin__session_check(struct mqc_plugin *p, const char *user, const char *token,
                              char *device);
/* Load the key of the token hashes into p: the option's, or the one Redis
 * keeps for every broker (created by the first that asks; blocking, once).
 * MQC_OK or MQC_EUNAVAIL. */
int mqc_plugin__session_key_load(struct mqc_plugin *p);
/* Requests session, sessions, logout, revoke (plugin/session_ops.c): queue
 * the store call for r (core/request.h) from o (taken on MQC_OK). */
struct mqc_req;
struct mqc_origin;
int mqc_plugin__session_request(struct mqc_plugin *p, const struct mqc_req *r,
                                struct mqc_origin *o);
/* Take the password verdicts the workers finished into the caches (tick). */
void mqc_plugin__auth_tick(struct mqc_plugin *p);
/* Login pacing (login_pace.c). Whether a login may go on in this loop pass
 * (false: answer busy, before any Redis call); counts a refusal. */
bool mqc_plugin__login_admit(struct mqc_plugin *p);
/* Count one login of this pass that took ns of the broker thread. */
void mqc_plugin__login_charge(struct mqc_plugin *p, int64_t ns);
/* A new loop pass: the budget starts again (called from tick). */
void mqc_plugin__login_pace_tick(struct mqc_plugin *p);
/* Monotonic clock in ns (the budget's clock). */
int64_t mqc_plugin__login_clock_ns(void);
int mqc_plugin_on_acl_check(int event, void *event_data, void *userdata);
int mqc_plugin_on_message(int event, void *event_data, void *userdata);
int mqc_plugin_on_tick(int event, void *event_data, void *userdata);
int mqc_plugin_on_disconnect(int event, void *event_data, void *userdata);
int mqc_plugin_on_reload(int event, void *event_data, void *userdata);

/* A token login's session record (session_prefetch.c): fetched ahead,
 * read now, or MQC_EBUSY with the read queued for the client's retry. */
int mqc_plugin__session_record(struct mqc_plugin *p, const char *user, const char *device,
                               char *out, size_t size);
/* From tick (flush: cleanup, after the store is freed). */
void mqc_plugin__session_prefetch_tick(struct mqc_plugin *p, int64_t now, bool flush);
/* Presence (plugin/presence.c). */
/* A client authenticated (also called on SIGHUP re-auth: see reloading). */
void mqc_plugin__presence_connected(struct mqc_plugin *p, const struct mosquitto *client,
                                    const char *user);
void mqc_plugin__presence_disconnected(struct mqc_plugin *p, const struct mosquitto *client);
/* A client's publish on its own chat/presence/{user}: validate, stamp and
 * rewrite it in place (ed is the MESSAGE event). Returns a MOSQ_ERR_*. */
int mqc_plugin__presence_message(struct mqc_plugin *p, struct mosquitto_evt_message *ed);
/* ACL WRITE on the user's own presence topic by a connection presence does
 * not track: that is a will (or a session being torn down). The caller
 * refuses it whatever it says; a truthful one (offline, no other device of
 * the user) makes the server publish its own offline state now. */
void mqc_plugin__presence_will(struct mqc_plugin *p, const char *user, const void *payload,
                               size_t len);
/* Presence visibility (plugin/visibility.c). Each of users and each of
 * others (all borrowed) stop seeing each other's presence at once; then
 * every one of users is re-checked against Redis (pairs still sharing a
 * conversation, unblocked, come back). announce: tell the other nodes to
 * do the same (cluster "vis"). */
void mqc_plugin__visibility_split(struct mqc_plugin *p, const char *const *users, size_t n,
                                  const char *const *others, size_t m, bool announce);
/* Queue a re-check of user's visibility against Redis. */
void mqc_plugin__visibility_recheck(struct mqc_plugin *p, const char *user);
/* n (who, from) pairs, flattened: from stops seeing who (a block). */
void mqc_plugin__visibility_hide(struct mqc_plugin *p, const char *const *pairs, size_t n);
/* Presence contacts read at a user's first connection (contacts_load.c):
 * queued (load), read at once by the first check that needs them (wait),
 * dropped when the user's last device leaves (forget). */
void mqc_plugin__contacts_load(struct mqc_plugin *p, const char *user);
void mqc_plugin__contacts_wait(struct mqc_plugin *p, const char *user);
void mqc_plugin__contacts_forget(struct mqc_plugin *p, const char *user);
/* From tick: held-back answers that are due (tests only); flush = free them
 * all (cleanup). */
void mqc_plugin__contacts_tick(struct mqc_plugin *p, bool flush);
/* From tick: publish due changes, heartbeat, startup offline states. */
void mqc_plugin__presence_tick(struct mqc_plugin *p);
/* Clear what this node had shown present before it started (blocking Redis
 * call; retried until it succeeds). */
void mqc_plugin__presence_node_reset(struct mqc_plugin *p);

/* The sender of a publish, as the message handlers see it, and where its
 * replies go. Strings borrowed from the broker for the duration of the
 * MESSAGE event (or from the mqc_origin that holds them). conn is the
 * connection (mqc_plugin__client_conn): a reply reaches only it. */
struct mqc_sender {
    const char *user;
    const char *client_id;
    uint64_t conn;
};

/* chat/c/{conv}/send|receipt|typing (plugin/post.c). root is taken;
 * payload_len is the publish's size (flood limits). Returns a MOSQ_ERR_*
 * for the MESSAGE event. */
int mqc_plugin__post(struct mqc_plugin *p, const struct mqc_sender *from, const struct mqc_topic *t,
                     cJSON *root, size_t payload_len);
/* chat/u/{me}/req (plugin/request.c). root is taken. */
int mqc_plugin__request(struct mqc_plugin *p, const struct mqc_sender *from, cJSON *root);

/* Attachments (plugin/attach.c). Read the store's secret key and set up
 * p->attach when plugin_opt_s3_endpoint is set. Returns a MOSQ_ERR_*. */
int mqc_plugin__attach_init(struct mqc_plugin *p);
void mqc_plugin__attach_cleanup(struct mqc_plugin *p);
struct mqc_origin;
struct mqc_req;
/* An upload or download request (o taken on MQC_OK, which includes the
 * refusals answered at once: unavailable, too_large, not_found). */
int mqc_plugin__attach_request(struct mqc_plugin *p, const struct mqc_req *r, struct mqc_origin *o);

/* Per-request state carried from the MESSAGE event to the store callback:
 * who asked (copied: the client may be gone by then) and the reference to
 * echo. Free with mqc_plugin__origin_free. */
struct mqc_origin {
    struct mqc_plugin *p;
    struct mqc_sender to; /* the asking connection; strings point into this struct */
    char *client_id;
    char user[MQC_ID_MAX + 1];
    char conv[MQC_ID_MAX + 1];
    char *ref;      /* client message id or request id; NULL if none */
    const char *op; /* static: request op name, receipt type or typing state */
};
struct mqc_origin *mqc_plugin__origin_new(struct mqc_plugin *p, const struct mqc_sender *from,
                                          const char *conv, const char *ref, const char *op);
void mqc_plugin__origin_free(struct mqc_origin *o);

/* Deliver payload (borrowed) to the inbox of every user in users, on this
 * node only (all their connected devices, and queued for offline persistent
 * sessions at QoS 1). seq >= 0 is the event's seq in conv: such events reach
 * devices in seq order per conversation (core/reorder.h). */
void mqc_plugin__deliver(struct mqc_plugin *p, const char *conv, int64_t seq,
                         const char *const *users, size_t n, const char *payload, size_t len,
                         int qos);
/* Deliver what waited for a gap past its deadline (tick). */
void mqc_plugin__deliver_due(struct mqc_plugin *p);
/* Deliver to users here and on the other nodes that hold any of them. */
void mqc_plugin__fanout(struct mqc_plugin *p, const char *conv, int64_t seq,
                        const char *const *users, size_t n, const char *payload, size_t len,
                        int qos);
/* Deliver to every member of conv known to the cache, here and on other
 * nodes; skip is a user to leave out (NULL = none; only for events without
 * seq). Returns false when conv is not cached. */
bool mqc_plugin__fanout_conv(struct mqc_plugin *p, const char *conv, int64_t seq, const char *skip,
                             const char *payload, size_t len, int qos);
/* Update the cache from a store result that carried members. */
void mqc_plugin__members_update(struct mqc_plugin *p, const char *conv, int64_t mver,
                                const char *const *members, size_t n);

/* Membership answers for the ACL, from memory, and the members_update above
 * (plugin/members.c). */
void mqc_plugin__members_init(struct mqc_plugin *p);

/* Replies to one connection (plugin/reply.c). Send payload (borrowed,
 * copied) to the asking connection on its user's inbox (QoS 1). Replies are
 * published at the end of tick, and only to the connection that asked (to
 * borrowed): if it has gone, even if another connection now holds its
 * client id, the reply is dropped. */
void mqc_plugin__reply(struct mqc_plugin *p, const struct mqc_sender *to, const char *payload,
                       size_t len);
/* Send an err event (PROTOCOL.md "errors") to the connection that caused it,
 * as a reply. ref_key is "req" or "id"; ref may be NULL. */
void mqc_plugin__send_err(struct mqc_plugin *p, const struct mqc_sender *to, const char *ref_key,
                          const char *ref, int err, const char *msg);
/* End of tick: publish the replies whose connection is still there. */
void mqc_plugin__replies_flush(struct mqc_plugin *p);
/* Drop every queued reply (plugin cleanup). */
void mqc_plugin__replies_free(struct mqc_plugin *p);

/* Cluster (plugin/cluster_send.c, plugin/cluster_recv.c, plugin/reap.c,
 * plugin/wake.c). */
int mqc_plugin__cluster_init(struct mqc_plugin *p, const struct mqc_store_opts *so);
void mqc_plugin__cluster_cleanup(struct mqc_plugin *p);
/* Drain the bus; join the cluster once Redis is up (tick). */
void mqc_plugin__cluster_tick(struct mqc_plugin *p);
/* Free what the receiving side holds (the test delay queue). */
void mqc_plugin__cluster_recv_cleanup(struct mqc_plugin *p);
/* Announce a user's first (on) or last (off) device on this node. */
void mqc_plugin__cluster_user(struct mqc_plugin *p, const char *user, bool on);
/* Tell every node that node said hello (restarted) or is dead. */
void mqc_plugin__cluster_node_event(struct mqc_plugin *p, const char *kind, const char *node);
/* Tell the other nodes conv's membership changed. */
void mqc_plugin__cluster_members_changed(struct mqc_plugin *p, const char *conv);
/* Tell the other nodes to publish user's retained presence json. */
void mqc_plugin__cluster_presence(struct mqc_plugin *p, const char *user, const char *json,
                                  size_t len);
/* Tell the other nodes to split users from others and re-check users
 * (mqc_plugin__visibility_split). */
void mqc_plugin__cluster_visibility(struct mqc_plugin *p, const char *const *users, size_t n,
                                    const char *const *others, size_t m);
/* Send payload to the other nodes holding any of users (but skip). */
void mqc_plugin__cluster_fanout(struct mqc_plugin *p, const char *conv, int64_t seq,
                                const char *const *users, size_t n, const char *skip,
                                const char *payload, size_t len, int qos);
/* Another node is alive (it spoke on the bus, or its heartbeat is fresh). */
void mqc_plugin__cluster_peer_seen(struct mqc_plugin *p);
/* user is now on node (a directory add) since since_ms at the earliest
 * (this node's monotonic clock): send node the events fanned out since
 * then that user was a recipient of and that node did not get for user
 * (core/replay.h). */
void mqc_plugin__cluster_replay(struct mqc_plugin *p, const char *user, const char *node,
                                int64_t since_ms);
/* Cluster membership over time (plugin/reap.c). Learn where the users of
 * every live node are (blocking; once, when this node joins). */
void mqc_plugin__reap_join(struct mqc_plugin *p);
/* Look for dead nodes and clean up after them (tick, now and then). */
void mqc_plugin__reap(struct mqc_plugin *p);
/* Another node's retained presence for user: publish it here. */
void mqc_plugin__presence_remote(struct mqc_plugin *p, const char *user, const char *json,
                                 size_t len);
/* Read user's presence from Redis and publish it retained here (a user on
 * another node, met when this node joins the cluster). */
void mqc_plugin__presence_learn(struct mqc_plugin *p, const char *user);
/* Publish user's retained offline state here and on every node. */
void mqc_plugin__presence_offline_everywhere(struct mqc_plugin *p, const char *user,
                                             int64_t last_seen);
int mqc_plugin__wake_init(void);
void mqc_plugin__wake(void *ctx);
/* Any thread: get the broker loop through a new pass soon (see wake.c). */
void mqc_plugin__wake_soon(void *ctx);
void mqc_plugin__wake_cleanup(void);
/* Every publish of the plugin goes through here (plugin/publish.c: counted
 * with mqc_plugin__wake_published, so that tick can wake the next pass for
 * WebSockets clients). Returns a MOSQ_ERR_*. */
int mqc_plugin__publish(const char *client_id, const char *topic, const void *payload, size_t len,
                        int qos, bool retain);
/* Count one publish (any publish since the last tick makes tick_end wake
 * while WebSockets clients are connected). */
void mqc_plugin__wake_published(void);
/* A client connected or disconnected (WebSockets ones make the loop poll). */
void mqc_plugin__wake_client(const struct mosquitto *client, bool connected);
/* Bracket every tick. more: the tick left work for the next one (jobs
 * queued): wake the loop for it. */
void mqc_plugin__wake_tick_begin(void);
void mqc_plugin__wake_tick_end(bool more);

#endif
