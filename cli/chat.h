/* Internal to `mqchat chat` (chat.c, chat_sync.c): the client's state and
 * what its two files share. chat.c is the loop, the commands, requests and
 * the outbox; chat_sync.c the state file, the sync on start, after a
 * reconnect and on quit, and the "printed once" set. Not a public API. */
#ifndef MQC_CLI_CHAT_H
#define MQC_CLI_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/lineedit.h"
#include "cli/login.h"
#include "cli/mqtt_client.h"
#include "cli/state.h"
#include "core/id.h"
#include "core/map.h"

/* Requests awaiting a reply that are remembered. */
#define MAX_REQS 32

/* What a request's reply means to the client. */
enum req_kind { RQ_CONVS, RQ_CREATE, RQ_HISTORY, RQ_LEAVE, RQ_SYNC, RQ_OTHER };

/* Why a sync is running (SY_NONE: none is). */
enum sync_phase { SY_NONE, SY_START, SY_RECONNECT, SY_QUIT };

struct pending_req {
    char req[MQC_CLIENT_ID_SIZE];
    enum req_kind kind;
    char conv[MQC_ID_MAX + 1]; /* the conversation it is about, or "" */
};

/* A sent message not yet echoed back. */
struct outgoing {
    char id[MQC_CLIENT_ID_SIZE];
    char conv[MQC_ID_MAX + 1];
    cJSON *payload; /* owned */
    int64_t resend_at;
};

/* Newest seq seen per conversation, for /read. */
struct seen {
    char conv[MQC_ID_MAX + 1];
    long long seq;
};

struct chat {
    struct mqc_client *c; /* owned */
    struct mqc_lineedit ed;
    const char *me; /* borrowed from the login */
    char current[MQC_ID_MAX + 1];
    long long hist_before; /* /history paging in current: 0 = newest, -1 = reached the start */
    struct pending_req reqs[MAX_REQS];
    size_t nreqs;
    char blocking[MQC_CLIENT_ID_SIZE]; /* input waits for this req's reply ("" = none) */
    int64_t block_until;
    struct outgoing *out; /* owned array */
    size_t nout, capout;
    struct seen *seen; /* owned array */
    size_t nseen, capseen;
    int64_t typing_at;
    char typing_conv[MQC_ID_MAX + 1];
    bool quitting;
    int64_t quit_until;
    /* sync */
    bool sync_on;                            /* not --no-sync, and the state file is usable */
    char state_path[MQC_STATE_PATH_MAX];     /* "" when sync_on is false */
    struct mqc_state st;                     /* the position last saved ("" = none yet) */
    bool save_failed;                        /* told the user once */
    enum sync_phase phase;                   /* the sync running, or SY_NONE */
    bool sync_since;                         /* it started from st.token (else: fresh) */
    bool sync_reset;                         /* a page said reset */
    char sync_next[MQC_STATE_TOKEN_MAX + 1]; /* since of its next page */
    cJSON *away;                             /* owned array: its events so far */
    bool quit_synced;                        /* the sync on quit is over */
    struct mqc_map *shown; /* owned: "conv/seq" of msg and member events printed */
};

/* The string member key of o, or NULL. Borrowed. */
static inline const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static inline bool str_eq(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

/* seq of ev (borrowed), or 0. */
static inline long long seq_of(const cJSON *ev, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, key);
    return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

/* chat.c. ch is borrowed everywhere. */

/* Print text (borrowed) above the input line; sayf formats first. */
void mqc_chat__say(struct chat *ch, const char *text);
void mqc_chat__sayf(struct chat *ch, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A request {"op":op} (+ "conv": conv when not NULL; both borrowed);
 * returned owned, NULL when out of memory. */
cJSON *mqc_chat__new_req(const char *op, const char *conv);
/* Send req (taken: always freed, NULL allowed: out of memory) with a fresh
 * req id, remember what its reply means (conv borrowed, may be NULL) and hold
 * input back until it comes. False (said why) when it was not sent. */
bool mqc_chat__request(struct chat *ch, cJSON *req, enum req_kind kind, const char *conv);
/* Print ev (borrowed) rendered, with suffix (borrowed, may be NULL). */
void mqc_chat__show_event(struct chat *ch, const cJSON *ev, const char *suffix);
/* A msg or member event (borrowed), live or from a sync: note its seq,
 * settle the outbox, print it unless this run printed it already. */
void mqc_chat__deliver(struct chat *ch, const cJSON *ev);

/* chat_sync.c. ch is borrowed everywhere. */

/* Find the state file for l (borrowed), read the saved position and set
 * ch->sync_on. On trouble says why on stderr and leaves sync off (or starts
 * fresh, for a file that is not ours): the chat works without it. */
void mqc_chat__state_setup(struct chat *ch, const struct mqc_login *l);
/* Record ev (borrowed) as printed; true when it was not printed before (or
 * cannot be told: no conv or seq). */
bool mqc_chat__mark_shown(struct chat *ch, const cJSON *ev);
/* Start a sync for phase from the saved position (none: fetch the current
 * one). ch->phase must be SY_NONE, or the phase of a sync cut short. */
void mqc_chat__sync_start(struct chat *ch, enum sync_phase phase);
/* A `res` (borrowed) to a sync request: one page. */
void mqc_chat__sync_reply(struct chat *ch, const cJSON *res);
/* An `err` (borrowed) to a sync request. */
void mqc_chat__sync_error(struct chat *ch, const cJSON *err);
/* The running sync is over: complete (ok) or given up (the saved position
 * then stays, so nothing is lost, at worst shown again next start). */
void mqc_chat__sync_finish(struct chat *ch, bool ok);

#endif
