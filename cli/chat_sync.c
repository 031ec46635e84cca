/* `mqchat chat`, the part about what arrived while the client was away
 * (PROTOCOL.md "sync"; chat.h). The position in the user's timeline is kept
 * in a state file per user and broker (state.h). On start the client pages
 * through everything after it and prints it under "--- while you were away
 * (N) ---" before the conversation list; after a reconnect it does the same
 * for the gap; on quit it syncs once more, quietly unless something was
 * never shown, so the next start shows only what this run missed. Live
 * events carry no position, so the saved one only moves at the end of a
 * complete sync, and it is kept whenever a sync is given up. A msg or member
 * event is printed at most once, whether it came live or from a sync (keyed
 * by conv and seq), since a sync may return what was also delivered live:
 * the runs of seqs shown go into the state file too (at most a second
 * late, and at exit), so a next start that replays from an old position
 * (the last sync failed, the client was killed) skips what was shown.
 *
 * Pointer parameters of the static functions here are borrowed unless their
 * comment says otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/chat.h"
#include "core/clock.h"
#include "core/err.h"

#define SYNC_LIMIT 200
/* The runs of seqs shown reach the state file at most this late. */
#define SAVE_EVERY_MS 1000

/* ---- printed once ---- */

static bool already_shown(const struct chat *ch, const cJSON *ev)
{
    const char *conv = str_of(ev, "conv");
    long long seq = seq_of(ev, "seq");
    return conv && seq > 0 &&
           (mqc_state_shown_has(&ch->st, conv, seq) || mqc_state_shown_has(&ch->prev, conv, seq));
}

bool mqc_chat__mark_shown(struct chat *ch, const cJSON *ev)
{
    const char *conv = str_of(ev, "conv");
    long long seq = seq_of(ev, "seq");
    if (!ch->sync_on || !conv || seq < 1)
        return true;
    if (already_shown(ch, ev))
        return false;
    if (mqc_state_shown_add(&ch->st, conv, seq))
        ch->shown_dirty = true;
    return true;
}

/* Write the position and the runs shown (this run's, then earlier runs'
 * as far as they fit, least recent dropped first). */
static int write_state(struct chat *ch)
{
    static struct mqc_state out; /* one thread; too large for the stack */
    out = ch->st;
    size_t room = MQC_STATE_SHOWN_MAX - out.nshown;
    size_t take = ch->prev.nshown < room ? ch->prev.nshown : room;
    /* Earlier runs' ranges are older: they go first. */
    memmove(out.shown + take, out.shown, out.nshown * sizeof *out.shown);
    memcpy(out.shown, ch->prev.shown + (ch->prev.nshown - take), take * sizeof *out.shown);
    out.nshown += take;
    ch->shown_dirty = false;
    ch->saved_at = mqc_clock_mono_ms();
    int rc = mqc_state_save(ch->state_path, &out);
    if (rc != MQC_OK && !ch->save_failed) {
        ch->save_failed = true;
        mqc_chat__sayf(ch, "cannot save the sync position to %s: %s", ch->state_path,
                       rc == MQC_EINTERNAL ? strerror(errno) : mqc_err_str(rc));
    }
    return rc;
}

void mqc_chat__save_shown(struct chat *ch, bool now)
{
    if (ch->sync_on && ch->shown_dirty &&
        (now || mqc_clock_mono_ms() - ch->saved_at >= SAVE_EVERY_MS))
        (void)write_state(ch);
}

/* ---- sync ---- */

static void sync_page(struct chat *ch);

/* Print the events a sync collected that this run has not printed, under a
 * header naming why they were missed. At start an empty result is said too. */
static void show_away(struct chat *ch, enum sync_phase phase)
{
    size_t n = 0;
    const cJSON *ev;
    cJSON_ArrayForEach(ev, ch->away)
    {
        if (!already_shown(ch, ev))
            n++;
    }
    if (n == 0) {
        if (phase == SY_START)
            mqc_chat__say(ch, "--- nothing new while you were away ---");
        return;
    }
    mqc_chat__sayf(ch, "--- %s (%zu) ---",
                   phase == SY_START       ? "while you were away"
                   : phase == SY_RECONNECT ? "while disconnected"
                                           : "not shown before",
                   n);
    cJSON_ArrayForEach(ev, ch->away)
    {
        mqc_chat__deliver(ch, ev);
    }
    if (phase == SY_START)
        mqc_chat__say(ch, "--- end of what you missed ---");
}

/* Keep the sync position in memory and in the state file. What earlier
 * runs showed lies before it now: forgotten. */
static void save_position(struct chat *ch, const char *token)
{
    snprintf(ch->st.token, sizeof ch->st.token, "%s", token);
    ch->prev.nshown = 0;
    (void)write_state(ch);
}

void mqc_chat__sync_finish(struct chat *ch, bool ok)
{
    enum sync_phase phase = ch->phase;
    ch->phase = SY_NONE;
    if (ok && ch->sync_reset) {
        mqc_chat__say(ch, "--- your saved position is older than the server keeps: what you missed "
                          "cannot be replayed; see your conversations (/join CONV, /history) ---");
    } else if (ok && ch->sync_since) {
        show_away(ch, phase);
    }
    if (ok)
        save_position(ch, ch->sync_next);
    cJSON_Delete(ch->away);
    ch->away = NULL;
    if (phase == SY_QUIT)
        ch->quit_synced = true;
    else if (phase == SY_START || (ok && ch->sync_reset))
        (void)mqc_chat__request(ch, mqc_chat__new_req("convs", NULL), RQ_CONVS, NULL);
}

void mqc_chat__sync_start(struct chat *ch, enum sync_phase phase)
{
    ch->phase = phase;
    ch->sync_reset = false;
    ch->sync_since = ch->st.token[0] != '\0';
    snprintf(ch->sync_next, sizeof ch->sync_next, "%s", ch->st.token);
    cJSON_Delete(ch->away);
    ch->away = cJSON_CreateArray();
    if (!ch->away) {
        mqc_chat__say(ch, "out of memory: not syncing");
        mqc_chat__sync_finish(ch, false);
        return;
    }
    sync_page(ch);
}

/* Ask for the next page of the running sync. */
static void sync_page(struct chat *ch)
{
    cJSON *r = mqc_chat__new_req("sync", NULL);
    if (r && (!cJSON_AddNumberToObject(r, "limit", SYNC_LIMIT) ||
              (ch->sync_next[0] && !cJSON_AddStringToObject(r, "since", ch->sync_next)))) {
        cJSON_Delete(r);
        r = NULL;
    }
    if (!mqc_chat__request(ch, r, RQ_SYNC, NULL))
        mqc_chat__sync_finish(ch, false);
}

void mqc_chat__sync_reply(struct chat *ch, const cJSON *res)
{
    if (ch->phase == SY_NONE)
        return; /* a late page of a sync given up */
    const char *next = str_of(res, "next");
    const cJSON *events = cJSON_GetObjectItemCaseSensitive(res, "events");
    if (!next || !mqc_state_token_valid(next) || !cJSON_IsArray(events)) {
        mqc_chat__say(ch, "the server's sync reply makes no sense; keeping the saved position");
        mqc_chat__sync_finish(ch, false);
        return;
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "reset")))
        ch->sync_reset = true;
    const cJSON *ev;
    cJSON_ArrayForEach(ev, events)
    {
        const char *t = str_of(ev, "t");
        if (ch->sync_reset ||
            !(str_eq(t, "msg") || str_eq(t, "member") || mqc_chat__is_relation(t)))
            continue;
        cJSON *copy = cJSON_Duplicate(ev, true);
        if (!copy || !cJSON_AddItemToArray(ch->away, copy)) {
            cJSON_Delete(copy);
            mqc_chat__say(ch, "out of memory while syncing; keeping the saved position");
            mqc_chat__sync_finish(ch, false);
            return;
        }
    }
    snprintf(ch->sync_next, sizeof ch->sync_next, "%s", next);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "more")))
        sync_page(ch);
    else
        mqc_chat__sync_finish(ch, true);
}

/* A saved position the server refuses (corrupt, or another user's) is
 * dropped for a fresh start; anything else gives the sync up and keeps the
 * position. */
void mqc_chat__sync_error(struct chat *ch, const cJSON *ev)
{
    if (ch->phase == SY_NONE)
        return; /* a late page of a sync given up */
    /* Only the first page asks with the saved position; a refused later
     * page is the server's own token: give up rather than lose the gap. */
    if (str_eq(str_of(ev, "code"), "bad_request") && ch->sync_since &&
        !strcmp(ch->sync_next, ch->st.token)) {
        mqc_chat__say(ch,
                      "the server refused the saved sync position (corrupt, or another user's): "
                      "starting fresh");
        ch->st.token[0] = '\0';
        mqc_chat__sync_start(ch, ch->phase);
        return;
    }
    /* Nothing is lost: the position stays, and what was shown is in the
     * state file. On quit that is all there is to it: quietly. */
    if (ch->phase != SY_QUIT)
        mqc_chat__say_error(ch, "fetching what arrived while you were away", ev,
                            "; it is shown next time");
    mqc_chat__sync_finish(ch, false);
}

void mqc_chat__state_setup(struct chat *ch, const struct mqc_login *l)
{
    struct mqc_state_env env;
    char dir[MQC_STATE_PATH_MAX];
    mqc_state_env_from_process(&env);
    int rc = mqc_state_dir(&env, dir, sizeof dir);
    if (rc == MQC_OK)
        rc = mqc_state_path(dir, l->user, l->host, l->port, ch->state_path, sizeof ch->state_path);
    if (rc != MQC_OK) {
        fprintf(stderr,
                "mqchat: no place for the sync state (%s; set MQCHAT_STATE_DIR): "
                "not showing what arrived while away\n",
                mqc_err_str(rc));
        return;
    }
    if (mqc_state_mkdir(dir) != MQC_OK) {
        fprintf(stderr, "mqchat: cannot create %s: %s: not showing what arrived while away\n", dir,
                strerror(errno));
        return;
    }
    rc = mqc_state_load(ch->state_path, &ch->st);
    if (rc == MQC_EINTERNAL) {
        fprintf(stderr, "mqchat: cannot read %s: %s: not showing what arrived while away\n",
                ch->state_path, strerror(errno));
        return;
    }
    if (rc == MQC_EBADREQ)
        fprintf(stderr, "mqchat: %s is not an mqchat state file: starting fresh\n", ch->state_path);
    /* What the earlier runs showed is kept apart: dropped once a sync has
     * moved the position past it. */
    memcpy(ch->prev.shown, ch->st.shown, ch->st.nshown * sizeof *ch->st.shown);
    ch->prev.nshown = ch->st.nshown;
    ch->st.nshown = 0;
    ch->sync_on = true;
}
