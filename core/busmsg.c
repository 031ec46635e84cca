/* The cluster bus message format: parsing and building (see busmsg.h). */
#include "core/busmsg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

static const struct {
    const char *name;
    enum mqc_busmsg_kind kind;
    int args; /* words after the kind: node, then arg */
} KINDS[] = {
    {"on", MQC_BUS_ON, 2},       {"off", MQC_BUS_OFF, 2},   {"hello", MQC_BUS_HELLO, 1},
    {"dead", MQC_BUS_DEAD, 1},   {"mv", MQC_BUS_MV, 2},     {"pr", MQC_BUS_PR, 2},
    {"bc", MQC_BUS_BC, 0},       {"kick", MQC_BUS_KICK, 2}, {"vis", MQC_BUS_VIS, 1},
    {"skick", MQC_BUS_SKICK, 3},
};

/* The next space-separated word of [*p, end) (advances *p past it). */
static const char *word(const char **p, const char *end, size_t *wl)
{
    const char *w = *p;
    const char *sp = memchr(w, ' ', (size_t)(end - w));
    *wl = sp ? (size_t)(sp - w) : (size_t)(end - w);
    *p = sp ? sp + 1 : end;
    return w;
}

static int copy_id(char *out, const char *w, size_t wl, int star_ok)
{
    if (!(star_ok && wl == 1 && w[0] == '*') && !mqc_id_valid(w, wl))
        return MQC_EBADREQ;
    memcpy(out, w, wl);
    out[wl] = '\0';
    return MQC_OK;
}

static int parse_event(const char *p, const char *end, struct mqc_busmsg *m)
{
    size_t ql, cl, sl;
    const char *q = word(&p, end, &ql);
    const char *c = word(&p, end, &cl);
    const char *sq = word(&p, end, &sl);
    if (ql != 1 || (q[0] != '0' && q[0] != '1') || cl == 0 || sl == 0 || sl > 19 || p >= end)
        return MQC_EBADREQ;
    m->qos = q[0] - '0';
    char num[24];
    memcpy(num, sq, sl);
    num[sl] = '\0';
    char *e = NULL;
    long long seq = strtoll(num, &e, 10);
    if (*e || (num[0] != '-' && (num[0] < '0' || num[0] > '9')))
        return MQC_EBADREQ;
    if (seq >= 0 && mqc_id_valid(c, cl)) {
        memcpy(m->conv, c, cl);
        m->conv[cl] = '\0';
        m->seq = seq;
    } else {
        m->conv[0] = '\0';
        m->seq = -1;
    }
    m->users = p;
    m->users_len = (size_t)(end - p);
    if (memchr(m->users, ' ', m->users_len))
        return MQC_EBADREQ;
    return MQC_OK;
}

int mqc_busmsg_parse(const char *data, size_t len, struct mqc_busmsg *m)
{
    memset(m, 0, sizeof *m);
    m->seq = -1;
    m->body = "";
    if (!data)
        return MQC_EBADREQ;
    const char *nl = memchr(data, '\n', len);
    const char *end = nl ? nl : data + len;
    if (nl) {
        m->body = nl + 1;
        m->blen = len - (size_t)(nl - data) - 1;
    }
    if (memchr(data, '\0', (size_t)(end - data)))
        return MQC_EBADREQ;
    const char *p = data;
    size_t kl;
    const char *k = word(&p, end, &kl);
    if (kl == 1 && k[0] == 'e') {
        m->kind = MQC_BUS_EVENT;
        return parse_event(p, end, m);
    }
    for (size_t i = 0; i < sizeof KINDS / sizeof *KINDS; i++) {
        if (strlen(KINDS[i].name) != kl || memcmp(KINDS[i].name, k, kl) != 0)
            continue;
        m->kind = KINDS[i].kind;
        size_t wl;
        const char *w;
        if (KINDS[i].args >= 1) {
            w = word(&p, end, &wl);
            if (copy_id(m->node, w, wl, 1) != MQC_OK)
                return MQC_EBADREQ;
        }
        if (KINDS[i].args >= 2) {
            w = word(&p, end, &wl);
            if (copy_id(m->arg, w, wl, 0) != MQC_OK)
                return MQC_EBADREQ;
        }
        if (KINDS[i].args >= 3) {
            w = word(&p, end, &wl);
            if (copy_id(m->dev, w, wl, 1) != MQC_OK)
                return MQC_EBADREQ;
        }
        if (p != end || ((m->kind == MQC_BUS_BC || m->kind == MQC_BUS_VIS) && m->blen == 0))
            return MQC_EBADREQ;
        return MQC_OK;
    }
    return MQC_EBADREQ;
}

int mqc_busmsg_next_user(const struct mqc_busmsg *m, size_t *pos, char *out)
{
    while (m->users && *pos < m->users_len) {
        const char *u = m->users + *pos;
        const char *comma = memchr(u, ',', m->users_len - *pos);
        size_t ul = comma ? (size_t)(comma - u) : m->users_len - *pos;
        *pos += ul + 1;
        if (mqc_id_valid(u, ul)) {
            memcpy(out, u, ul);
            out[ul] = '\0';
            return 1;
        }
    }
    return 0;
}

char *mqc_busmsg_build(const char *head, const char *body, size_t blen, size_t *len)
{
    size_t hl = strlen(head);
    char *msg = malloc(hl + 1 + (body ? blen : 0) + 1);
    if (!msg)
        return NULL;
    memcpy(msg, head, hl);
    size_t n = hl;
    if (body) {
        msg[n++] = '\n';
        memcpy(msg + n, body, blen);
        n += blen;
    }
    msg[n] = '\0';
    *len = n;
    return msg;
}

char *mqc_busmsg_event_head(int qos, const char *conv, int64_t seq, const char *users)
{
    int ordered = conv && seq >= 0;
    size_t hl = strlen(users) + (conv ? strlen(conv) : 1) + 48;
    char *head = malloc(hl);
    if (head)
        snprintf(head, hl, "e %d %s %lld %s", qos, ordered ? conv : "-",
                 (long long)(ordered ? seq : -1), users);
    return head;
}
