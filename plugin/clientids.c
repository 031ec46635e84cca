/* Client ids held by live connections, and by whom. Mosquitto 2.0.11 lets a
 * CONNECT with a client id already in use take that connection over, whoever
 * logs in; so anyone who learns the id of another user's phone could keep
 * kicking it off. BASIC_AUTH (the connect) refuses a login whose client id is
 * held by another user's live connection; the same user may take their own
 * device's id over (a reconnect racing its stale connection). A persistent
 * session without a connection is not held: Mosquitto checks every delivery
 * against the new owner, so nothing queued for the old one leaks.
 *
 * Each holding is also one connection's identity (conn: a number never
 * reused): replies are sent by client id, so a reply goes out only while
 * the connection that asked still holds its id (plugin/reply.c). Broker
 * thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/id.h"
#include "core/log.h"
#include "core/session_token.h"
#include "plugin/plugin.h"

struct holder {
    const struct mosquitto *client;
    uint64_t conn;
    char user[MQC_ID_MAX + 1];
    char sess[MQC_SESS_DEVICE_LEN + 1]; /* device session it logged in with; "" = none */
};

bool mqc_plugin__client_id_free_for(struct mqc_plugin *p, const struct mosquitto *client,
                                    const char *client_id, const char *user)
{
    if (!client_id || !p->client_ids)
        return true;
    const struct holder *h = mqc_map_get(p->client_ids, client_id);
    return !h || h->client == client || strcmp(h->user, user) == 0;
}

void mqc_plugin__client_id_hold(struct mqc_plugin *p, const struct mosquitto *client,
                                const char *client_id, const char *user, const char *sess)
{
    if (!client_id || !p->client_ids)
        return;
    struct holder *h = mqc_map_get(p->client_ids, client_id);
    if (!h) {
        if (!(h = malloc(sizeof *h)) || mqc_map_put(p->client_ids, client_id, h) != MQC_OK) {
            free(h);
            mqc_log(MQC_LOG_ERR, "auth: out of memory tracking client ids");
            return;
        }
    } else if (h->client == client && strcmp(h->user, user) == 0) {
        /* SIGHUP's re-authentication: the same connection */
        snprintf(h->sess, sizeof h->sess, "%s", sess ? sess : "");
        return;
    }
    h->client = client;
    h->conn = ++p->conn_seq;
    snprintf(h->user, sizeof h->user, "%s", user);
    snprintf(h->sess, sizeof h->sess, "%s", sess ? sess : "");
}

void mqc_plugin__client_id_release(struct mqc_plugin *p, const struct mosquitto *client)
{
    const char *client_id = mosquitto_client_id(client);
    if (!client_id || !p->client_ids)
        return;
    struct holder *h = mqc_map_get(p->client_ids, client_id);
    if (h && h->client == client) /* not the stale half of a takeover */
        free(mqc_map_del(p->client_ids, client_id));
}

uint64_t mqc_plugin__client_conn(struct mqc_plugin *p, const struct mosquitto *client)
{
    const char *client_id = mosquitto_client_id(client);
    if (!client_id || !p->client_ids)
        return 0;
    const struct holder *h = mqc_map_get(p->client_ids, client_id);
    return h && h->client == client ? h->conn : 0;
}

bool mqc_plugin__client_conn_live(struct mqc_plugin *p, const char *client_id, const char *user,
                                  uint64_t conn)
{
    if (!client_id || !conn || !p->client_ids)
        return false;
    const struct holder *h = mqc_map_get(p->client_ids, client_id);
    return h && h->conn == conn && strcmp(h->user, user) == 0;
}

/* The holding of connection conn of user on client_id, or NULL. */
static struct holder *live_holder(struct mqc_plugin *p, const char *client_id, const char *user,
                                  uint64_t conn)
{
    if (!client_id || !conn || !p->client_ids)
        return NULL;
    struct holder *h = mqc_map_get(p->client_ids, client_id);
    return h && h->conn == conn && strcmp(h->user, user) == 0 ? h : NULL;
}

const char *mqc_plugin__client_session(struct mqc_plugin *p, const char *client_id,
                                       const char *user, uint64_t conn)
{
    const struct holder *h = live_holder(p, client_id, user, conn);
    return h && h->sess[0] ? h->sess : NULL;
}

void mqc_plugin__client_session_set(struct mqc_plugin *p, const char *client_id, const char *user,
                                    uint64_t conn, const char *sess)
{
    struct holder *h = live_holder(p, client_id, user, conn);
    if (h)
        snprintf(h->sess, sizeof h->sess, "%s", sess ? sess : "");
}

struct kick_ctx {
    const char *user, *sess;
    char **ids;
    size_t n, cap;
};

static void collect_session(const char *key, void *value, void *ctx)
{
    const struct holder *h = value;
    struct kick_ctx *k = ctx;
    if (strcmp(h->user, k->user) != 0 || !h->sess[0] ||
        (strcmp(k->sess, "*") != 0 && strcmp(h->sess, k->sess) != 0))
        return;
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 4;
        char **ids = realloc(k->ids, cap * sizeof *ids);
        if (!ids)
            return;
        k->ids = ids;
        k->cap = cap;
    }
    if ((k->ids[k->n] = strdup(key)))
        k->n++;
}

size_t mqc_plugin__client_session_kick(struct mqc_plugin *p, const char *user, const char *sess)
{
    if (!p->client_ids)
        return 0;
    struct kick_ctx k = {.user = user, .sess = sess};
    mqc_map_each(p->client_ids, collect_session, &k);
    /* Kicked after the walk: a kick may end up changing the map. */
    for (size_t i = 0; i < k.n; i++) {
        mosquitto_kick_client_by_clientid(k.ids[i], false);
        free(k.ids[i]);
    }
    free(k.ids);
    return k.n;
}

static void free_holder(const char *key, void *value, void *ctx)
{
    (void)key;
    (void)ctx;
    free(value);
}

void mqc_plugin__client_ids_free(struct mqc_plugin *p)
{
    if (!p->client_ids)
        return;
    mqc_map_each(p->client_ids, free_holder, NULL);
    mqc_map_free(p->client_ids);
    p->client_ids = NULL;
}
