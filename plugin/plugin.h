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

#include "acl/acl.h"
#include "core/authcache.h"
#include "core/config.h"
#include "store/store.h"

struct mqc_plugin {
    mosquitto_plugin_id_t *id;
    struct mqc_config cfg;
    struct mqc_store *store;      /* owned */
    struct mqc_authcache *auth;   /* owned */
    struct mqc_acl acl;           /* borrows cfg.other_filters */
};

int mqc_plugin_on_basic_auth(int event, void *event_data, void *userdata);
int mqc_plugin_on_acl_check(int event, void *event_data, void *userdata);
int mqc_plugin_on_message(int event, void *event_data, void *userdata);

/* Membership answers for the ACL, from memory (plugin/members.c). */
void mqc_plugin__members_init(struct mqc_plugin *p);

/* Send payload (borrowed, copied) to one client's own queue on topic. Never
 * blocks; a client that is gone is silently skipped by the broker. */
int mqc_plugin__send_to_client(const char *client_id, const char *topic, const char *payload,
                               size_t len, int qos);
/* Send an err event (PROTOCOL.md "errors") to the client that caused it, on
 * its user's inbox. ref_key is "req" or "id"; ref may be NULL. */
void mqc_plugin__send_err(const char *client_id, const char *user, const char *ref_key,
                          const char *ref, int err, const char *msg);

#endif
