/* Display lines for the terminal client: turns a server event (the JSON
 * object that arrives on chat/u/{me}/inbox, PROTOCOL.md) into the text the
 * user sees. Pure: no I/O, no clock, no locale, so it is unit-tested. Every
 * string taken from the network is made safe for a terminal (control bytes
 * and C1 controls never reach the screen), so a message body cannot move the
 * cursor, change colours or clear the screen. */
#ifndef MQC_RENDER_H
#define MQC_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/* One event as one line (no trailing newline):
 *   msg      "[conv] alice: hello (seq 42)"            (+ " (reply to 41)");
 *            deleted (history): "[conv] alice: (message deleted) (seq 42)"
 *   edit     "[conv] #41 edited: new text (seq 45)"
 *   delete   "[conv] #41 deleted by alice (seq 46)"
 *   react    "[conv] alice reacted to #41: E1 E2 (seq 47)" / "alice removed
 *            their reaction to #41" (the client shows the whole count with
 *            mqc_render_reactions instead when it knows them)
 *   member   "[conv] alice added bob, carol (seq 7)" / "removed" / "bob left";
 *            a group's first event (the adder among the added):
 *            "[conv] alice created the group with bob, carol (seq 1)"
 *   receipt  "[conv] bob read up to 42" / "bob received up to 42"
 *   typing   "[conv] bob is typing..." / "bob stopped typing"
 *   err      "error not_member: not a member ... (id m-1)" / "(req r1)"
 *   res      "ok create: conv d-..." (convs and history have their own
 *            renderers below; here they get a one-line summary)
 *   system   "*** system: maintenance at 18:00"
 *   other    "event <t>: <compact JSON>"
 * ev is borrowed. me (borrowed, may be NULL) is the signed-in user: receipts
 * and typing by me read "you". On MQC_OK *out is a NUL-terminated string
 * returned owned (free()). Returns MQC_EBADREQ when ev is not an object with a
 * string "t" (*out is then NULL), MQC_ENOMEM when out of memory. */
int mqc_render_event(const cJSON *ev, const char *me, char **out);

/* The conversation list of a `convs` reply, one line per item, each
 *   "  CONV  KIND  TITLE  members: a, b  unread N"
 * where TITLE is the quoted group title, or "with bob" for a direct
 * conversation (the members other than me). An empty list gives
 * "  (no conversations)". res is the whole `res` event, borrowed. Lines are
 * joined with '\n', no trailing newline. *out returned owned; MQC_EBADREQ if
 * res has no "items" array. */
int mqc_render_convs(const cJSON *res, const char *me, char **out);

/* The items of a `history` reply, each rendered as by mqc_render_event, one
 * per line, then "  (more: /history again for older)" when "more" is true or
 * "  (beginning of conversation)" when it is false. *out returned owned;
 * MQC_EBADREQ if res has no "items" array. */
int mqc_render_history(const cJSON *res, const char *me, char **out);

/* An err event (borrowed) told with what it answers: context (borrowed,
 * e.g. "/leave in d-8d9c" or "[g-3] message not sent") then
 * "CONTEXT: MSG (CODE)", every part sanitized. *out returned owned;
 * MQC_ENOMEM when out of memory. */
int mqc_render_error(const cJSON *err, const char *context, char **out);

/* A copy of src (borrowed, NUL-terminated) safe to print on a terminal:
 * '\n' becomes the two characters "\n", '\t' a space, every other C0
 * control, DEL, C1 control (U+0080..U+009F) and byte that is not part of
 * valid UTF-8 becomes '?'. *out returned owned (free()). MQC_ENOMEM when out
 * of memory. */
int mqc_render_safe(const char *src, char **out);

/* The line under a reply to target, the quoted message told by the caller
 * (from and text borrowed; text already cut to length):
 *   "  ↳ reply to #41 alice: TEXT"
 *   "  ↳ reply to #41 (message deleted)"                when deleted
 *   "  ↳ reply to #41 (original message not loaded)"    when from is NULL or ""
 * *out returned owned; MQC_ENOMEM when out of memory. */
int mqc_render_quote(long long target, const char *from, const char *text, bool deleted,
                     char **out);

/* Every member's reactions on message target of conv as one line:
 *   "[conv] #41 reactions: E1 2 (alice, bob), E2 1 (carol)"   or "... reactions: none"
 * reacts (borrowed, may be NULL): object user -> {"seq":N,"emojis":[...]},
 * as cli/relstate.h keeps it. Each emoji once, in the order first given (by
 * the seq of the sets holding it), its users sorted by name. *out returned
 * owned; MQC_ENOMEM when out of memory. */
int mqc_render_reactions(const char *conv, long long target, const cJSON *reacts, char **out);

#endif
