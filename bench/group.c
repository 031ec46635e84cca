/* Scenario `group` (S3 and S4 in bench/run): fan-out to one group of N
 * receivers. Client 0 ({prefix}0a) is the sender, clients 1..N
 * ({prefix}{i}b, i = 0..N-1) the receivers; all form stream 0, which
 * completes a message when all N have it (and, in mqchat mode, the sender's
 * own copy is back). plain: the receivers subscribe to bench/g0, where the
 * sender publishes (one publisher, N subscribers, QoS 1). mqchat: everybody
 * subscribes to their inbox, the sender creates a group naming the N receivers
 * with one `create` request (docs/PROTOCOL.md; N + 1 must not exceed
 * plugin_opt_max_group_members) and publishes to chat/c/{conv}/send.
 * Throughput (saturated) and latency (fixed rate) count every delivery: one
 * message to a group of N is N deliveries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "core/err.h"

/* The group's create request: {"op":"create","req":...,"kind":"group",
 * "title":"bench","members":[...]} naming every receiver of s. */
static int create_group(struct mqc_bench *b, struct mqc_client *c, struct mqc_stream *s)
{
    size_t cap = 256 + (size_t)s->n_recv * (MQC_NAME_MAX + 3), len = 0;
    char *body = malloc(cap); /* owned here, freed before returning */
    char topic[MQC_TOPIC_MAX + 16];
    if (!body)
        return MQC_ENOMEM;
    len += (size_t)snprintf(body, cap,
                            "{\"op\":\"create\",\"req\":\"%s\",\"kind\":\"group\","
                            "\"title\":\"bench\",\"members\":[",
                            s->req);
    for (size_t i = 0; i < b->nc; i++) {
        const struct mqc_client *r = &b->c[i];
        if (r->role != MQC_ROLE_RECEIVER)
            continue;
        len += (size_t)snprintf(body + len, cap - len, "%s\"%s\"", body[len - 1] == '[' ? "" : ",",
                                r->user);
    }
    len += (size_t)snprintf(body + len, cap - len, "]}");
    snprintf(topic, sizeof(topic), "chat/u/%s/req", c->user);
    int rc = mqc_bench__publish(b, c, topic, body, len);
    free(body);
    return rc;
}

static const struct mqc_hooks hooks = {
    .create = create_group,
};

int mqc_group_setup(struct mqc_bench *b)
{
    size_t n = (size_t)b->o.pairs;
    b->hooks = &hooks;
    b->ns = 1;
    b->nc = n + 1;
    b->c = calloc(b->nc, sizeof(*b->c));
    b->s = calloc(b->ns, sizeof(*b->s));
    if (!b->c || !b->s)
        return MQC_ENOMEM;
    struct mqc_stream *s = &b->s[0];
    s->sender = 0;
    s->receiver = 1;
    s->n_recv = (int)n;
    snprintf(s->req, sizeof(s->req), "g%s", b->nonce);
    if (b->o.mode == MQC_MODE_PLAIN) {
        s->topic_len = (size_t)snprintf(s->topic, sizeof(s->topic), "bench/g0");
        s->ready = 1;
    }
    for (size_t i = 0; i < b->nc; i++) {
        struct mqc_client *c = &b->c[i];
        int sender = i == 0, len;
        c->fd = -1;
        c->idx = (uint32_t)i;
        c->stream = 0;
        c->role = sender ? MQC_ROLE_SENDER : MQC_ROLE_RECEIVER;
        if (sender)
            len = snprintf(c->user, sizeof(c->user), "%s0a", b->o.user_prefix);
        else
            len = snprintf(c->user, sizeof(c->user), "%s%zub", b->o.user_prefix, i - 1);
        snprintf(c->client_id, sizeof(c->client_id), "mqcb-%s-%zu", b->nonce, i);
        if (len < 0 || (size_t)len >= 65)
            return MQC_EBADREQ;
        if (b->o.mode == MQC_MODE_MQCHAT)
            snprintf(c->sub, sizeof(c->sub), "chat/u/%s/inbox", c->user);
        else if (!sender)
            snprintf(c->sub, sizeof(c->sub), "bench/g0");
    }
    return MQC_OK;
}
