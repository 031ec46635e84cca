/* Scenario `pairs`: N one-to-one streams. Clients 2i (user {prefix}{i}a, the
 * sender) and 2i+1 ({prefix}{i}b, the receiver) form stream i. plain: the
 * receiver subscribes to bench/p{i}, where the sender publishes; mqchat: both
 * subscribe to their inboxes, the sender creates the direct conversation and
 * publishes to chat/c/{conv}/send (its own copy is the acknowledgement). */
#include <stdio.h>
#include <stdlib.h>

#include "bench/bench.h"
#include "core/err.h"

int mqc_pairs_setup(struct mqc_bench *b)
{
    b->ns = (size_t)b->o.pairs;
    b->nc = 2 * b->ns;
    b->c = calloc(b->nc, sizeof(*b->c));
    b->s = calloc(b->ns, sizeof(*b->s));
    if (!b->c || !b->s)
        return MQC_ENOMEM;
    for (size_t i = 0; i < b->ns; i++) {
        struct mqc_stream *s = &b->s[i];
        s->sender = (int)(2 * i);
        s->receiver = (int)(2 * i + 1);
        s->n_recv = 1;
        snprintf(s->req, sizeof(s->req), "c%s-%zu", b->nonce, i);
        for (int r = 0; r < 2; r++) {
            struct mqc_client *c = &b->c[2 * i + (size_t)r];
            char tag = r == 0 ? 'a' : 'b';
            c->fd = -1;
            c->idx = (uint32_t)(2 * i + (size_t)r);
            c->stream = (int)i;
            c->role = r == 0 ? MQC_ROLE_SENDER : MQC_ROLE_RECEIVER;
            int n1 = snprintf(c->user, sizeof(c->user), "%s%zu%c", b->o.user_prefix, i, tag);
            snprintf(c->client_id, sizeof(c->client_id), "mqcb-%s-%zu%c", b->nonce, i, tag);
            if (n1 < 0 || (size_t)n1 >= 65)
                return MQC_EBADREQ;
            if (b->o.mode == MQC_MODE_MQCHAT)
                snprintf(c->sub, sizeof(c->sub), "chat/u/%s/inbox", c->user);
            else if (r == 1)
                snprintf(c->sub, sizeof(c->sub), "bench/p%zu", i);
        }
        if (b->o.mode == MQC_MODE_PLAIN) {
            s->topic_len = (size_t)snprintf(s->topic, sizeof(s->topic), "bench/p%zu", i);
            s->ready = 1;
        }
    }
    return MQC_OK;
}
