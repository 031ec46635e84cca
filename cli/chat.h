/* Internal to `mqchat chat` (chat.c, chat_cmd.c, chat_marks.c,
 * chat_sync.c, chat_rel.c): the client's state and what its files share.
 * chat.c is the loop, requests and their replies, errors and the outbox;
 * chat_cmd.c the typed commands; chat_marks.c receipts (the delivered
 * receipts it sends, the delivered/read marks of my messages it shows);
 * chat_sync.c the state file, the sync on start, after a reconnect and on
 * quit, and what was printed; chat_rel.c message relations (/reply, /edit,
 * /delete, /react and how they are shown). Not a public API. */
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
#include "cli/relstate.h"
#include "cli/state.h"
#include "core/id.h"

/* Requests awaiting a reply that are remembered. */
#define MAX_REQS 32

/* What a request's reply means to the client. */
enum req_kind {
    RQ_CONVS,
    RQ_JOIN,
    RQ_CREATE,
    RQ_HISTORY,
    RQ_LEAVE,
    RQ_SYNC,
    RQ_SESSION,
    RQ_LOGOUT,
    RQ_OTHER,
    RQ_UPLOAD,   /* /file: the upload URL */
    RQ_FIND,     /* /get: the message with the file */
    RQ_DOWNLOAD, /* /get: the download URL */
};

/* The one /file or /get in flight (chat_file.c). */
enum file_step { FO_NONE, FO_UPLOAD, FO_FIND, FO_DOWNLOAD };
struct file_op {
    enum file_step step;
    char conv[MQC_ID_MAX + 1];
    char path[4096]; /* /file: the file sent; /get: where to save it */
    char name[256];
    char type[128];
    long long size; /* /file */
    long long seq;  /* /get */
};

/* What a request or post was, for error lines: "/leave in d-8d9c...". */
#define CTX_SIZE (MQC_ID_MAX * 2 + 32)

/* Why a sync is running (SY_NONE: none is). */
enum sync_phase { SY_NONE, SY_START, SY_RECONNECT, SY_QUIT };

struct pending_req {
    char req[MQC_CLIENT_ID_SIZE];
    enum req_kind kind;
    char conv[MQC_ID_MAX + 1]; /* the conversation it is about, or "" (RQ_CREATE of a
                                * direct chat: the other user) */
    char ctx[CTX_SIZE];        /* what it was, for an error line */
};

/* A sent message not yet echoed back. */
struct outgoing {
    char id[MQC_CLIENT_ID_SIZE];
    char conv[MQC_ID_MAX + 1];
    cJSON *payload; /* owned */
    int64_t resend_at;
};

/* What this run knows per conversation. */
struct seen {
    char conv[MQC_ID_MAX + 1];
    long long seq;            /* newest seq seen, for /read */
    long long read_sent;      /* newest read receipt this device sent */
    long long others_top;     /* newest msg by someone else shown */
    long long delivered_sent; /* newest delivered receipt this device sent */
    long long own_top;        /* newest msg of mine seen */
};

/* The newest of my messages told the user as delivered to / read by user in
 * conv. */
struct mark {
    char conv[MQC_ID_MAX + 1];
    char user[MQC_ID_MAX + 1];
    long long delivered, read;
};

struct chat {
    struct mqc_client *c; /* owned */
    struct mqc_lineedit ed;
    const char *me; /* borrowed from the login */
    char current[MQC_ID_MAX + 1];
    char current_kind;     /* 'd' direct, 'g' group, 0 not known */
    long long hist_before; /* /history paging in current: 0 = newest, -1 = reached the start */
    struct pending_req reqs[MAX_REQS];
    size_t nreqs;
    char blocking[MQC_CLIENT_ID_SIZE]; /* input waits for this req's reply ("" = none) */
    int64_t block_until;
    struct outgoing *out; /* owned array */
    size_t nout, capout;
    struct seen *seen; /* owned array */
    size_t nseen, capseen;
    struct mark *marks; /* owned array */
    size_t nmarks, capmarks;
    int64_t receipts_at;     /* no delivered receipts before (monotonic ms) */
    char post_ctx[CTX_SIZE]; /* the last typing or receipt post (answered, if at all,
                              * by an err with neither req nor id), or "" */
    int64_t typing_at;
    char typing_conv[MQC_ID_MAX + 1];
    bool quitting;
    int64_t quit_until;
    struct mqc_relstate *rel; /* owned: quotes and reaction sets seen (may be NULL: out of
                               * memory, relations then show as bare events) */
    /* sync */
    bool sync_on;                        /* not --no-sync, and the state file is usable */
    char state_path[MQC_STATE_PATH_MAX]; /* "" when sync_on is false */
    struct mqc_state st;                 /* the position last saved ("" = none yet) and the runs of
                                          * seqs this run showed */
    struct mqc_state prev;               /* shown: what earlier runs showed after st.token (until a
                                          * sync moves past it); its token unused */
    bool shown_dirty;                    /* st.shown changed since the file was written */
    int64_t saved_at;                    /* when the file was last written (monotonic ms) */
    bool save_failed;                    /* told the user once */
    enum sync_phase phase;               /* the sync running, or SY_NONE */
    bool sync_since;                     /* it started from st.token (else: fresh) */
    bool sync_reset;                     /* a page said reset */
    char sync_next[MQC_STATE_TOKEN_MAX + 1]; /* since of its next page */
    cJSON *away;                             /* owned array: its events so far */
    bool quit_synced;                        /* the sync on quit is over */
    struct file_op file;                     /* /file or /get in flight */
    /* device session (chat_device.c) */
    bool token_login; /* signed in with st.session, not the password */
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

/* Open conv (borrowed; NULL: none) of kind ('d', 'g', 0 unknown). */
void mqc_chat__set_current(struct chat *ch, const char *conv, char kind);
/* What is known of conv (borrowed), created when create is set; NULL when
 * not known (or out of memory). */
struct seen *mqc_chat__seen(struct chat *ch, const char *conv, bool create);
/* Queue text (borrowed) as a message to the current conversation. */
void mqc_chat__send_text(struct chat *ch, const char *text);
/* Queue payload (taken: always freed, NULL allowed: out of memory), a send
 * without its "id", to the current conversation: it gets an id and goes
 * through the outbox like a message. */
void mqc_chat__send_payload(struct chat *ch, cJSON *payload);
/* Send text with attrs (taken; NULL = none) into conv. */
void mqc_chat__send_msg(struct chat *ch, const char *conv, const char *text, cJSON *attrs);
/* Print err (borrowed) as "CONTEXT: MSG (CODE)" + suffix (may be NULL). */
void mqc_chat__say_error(struct chat *ch, const char *context, const cJSON *err,
                         const char *suffix);

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
/* A msg, member, edit, delete or react event (borrowed), live or from a
 * sync: note its seq and relations, settle the outbox, print it unless this
 * run printed it already. */
void mqc_chat__deliver(struct chat *ch, const cJSON *ev);

/* chat_cmd.c. ch is borrowed everywhere. */

/* One typed line (borrowed, may be modified). */
void mqc_chat__handle_line(struct chat *ch, char *line);

/* chat_file.c: /file PATH and /get SEQ [PATH] (arg borrowed), the replies
 * to their requests (ev borrowed), and an err that ends one. */
void mqc_chat__cmd_file(struct chat *ch, const char *arg);
void mqc_chat__cmd_get(struct chat *ch, const char *arg);
void mqc_chat__file_reply(struct chat *ch, enum req_kind kind, const cJSON *ev);
void mqc_chat__file_failed(struct chat *ch);
/* Something was typed: tell the others "composing", at most every few
 * seconds per conversation. */
void mqc_chat__maybe_typing(struct chat *ch);

/* chat_rel.c (message relations). ch is borrowed everywhere. */

/* /reply, /edit, /delete, /react: true when cmd (borrowed) is one of them
 * (handled, arg borrowed); false otherwise. */
bool mqc_chat__relation_cmd(struct chat *ch, const char *cmd, const char *arg);
/* Their lines for /help. */
extern const char mqc_chat__relation_help[];
/* Is t (borrowed, may be NULL) "edit", "delete" or "react"? */
bool mqc_chat__is_relation(const char *t);
/* Print a stored event ev (borrowed) with suffix (borrowed, may be NULL):
 * a reply with the line quoting what it answers, a reaction as the
 * message's whole count; anything else as mqc_chat__show_event. */
void mqc_chat__show_stored(struct chat *ch, const cJSON *ev, const char *suffix);

/* chat_marks.c. ch is borrowed everywhere. */

/* A msg (borrowed) was delivered to this run: note whose it is, for the
 * marks and the delivered receipts. */
void mqc_chat__note_msg(struct chat *ch, const cJSON *msg);
/* A receipt event (borrowed): a mark of my messages that changed, another
 * device of mine that read, or nothing (my own receipts echoed back). */
void mqc_chat__receipt(struct chat *ch, const cJSON *ev);
/* Send the delivered receipts due (a few per call; call from the loop). */
void mqc_chat__send_receipts(struct chat *ch);
/* Post a receipt {"type":type,"seq":seq} to conv (all borrowed); records
 * it as the last post for errors. Returns the publish result. */
int mqc_chat__post_receipt(struct chat *ch, const char *conv, const char *type, long long seq);

/* chat_sync.c. ch is borrowed everywhere. */

/* Find the state file for l (borrowed), read the saved position and set
 * ch->sync_on. On trouble says why on stderr and leaves sync off (or starts
 * fresh, for a file that is not ours): the chat works without it. */
void mqc_chat__state_setup(struct chat *ch, const struct mqc_login *l);
/* Record ev (borrowed) as printed; true when it was not printed before, by
 * this run or (after the saved position) an earlier one, or cannot be told
 * (no conv or seq, sync off). */
bool mqc_chat__mark_shown(struct chat *ch, const cJSON *ev);
/* Write what was shown to the state file if it changed: at most once a
 * second unless now is set. Quiet but for the first failure. */
void mqc_chat__save_shown(struct chat *ch, bool now);
/* Start a sync for phase from the saved position (none: fetch the current
 * one). ch->phase must be SY_NONE, or the phase of a sync cut short. */
void mqc_chat__sync_start(struct chat *ch, enum sync_phase phase);

/* ---- device session (cli/chat_device.c) ---- */

/* Signed in with the password and a state file to keep it in: ask for a
 * device session token (first connect). */
void mqc_chat__device_ask(struct chat *ch);
/* The res (borrowed) of a session or logout request. */
void mqc_chat__device_reply(struct chat *ch, const cJSON *res, enum req_kind kind);
/* Forget the kept token (ended, refused, signed out) and save the state. */
void mqc_chat__device_forget(struct chat *ch);
/* /logout: end this device's session on the server, forget it, quit. */
void mqc_chat__device_logout(struct chat *ch);
/* A `res` (borrowed) to a sync request: one page. */
void mqc_chat__sync_reply(struct chat *ch, const cJSON *res);
/* An `err` (borrowed) to a sync request. */
void mqc_chat__sync_error(struct chat *ch, const cJSON *err);
/* The running sync is over: complete (ok) or given up (the saved position
 * then stays, so nothing is lost, at worst shown again next start). */
void mqc_chat__sync_finish(struct chat *ch, bool ok);

#endif
