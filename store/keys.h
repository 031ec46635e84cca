/* The Redis key schema, in one place. Every key starts with the configured
 * prefix (default "mqchat:"). Per-user and per-conversation keys carry a
 * Redis Cluster hash tag ({u:<id>} / {c:<id>}) so that each entity's keys
 * share a slot.
 *
 *   <p>users               SET   all user ids
 *   <p>{u:<user>}:user     HASH  pw (argon2id PHC string), created (ms)
 *   <p>{u:<user>}:convs    SET   the user's conversation ids
 *   <p>{u:<user>}:presence HASH  state, last_seen, node, devices
 *   <p>{u:<user>}:gone     ZSET  conv -> ms the user stopped being a member (sync still
 *                                returns the removal event; trimmed by retention)
 *   <p>{u:<user>}:cver     HASH  conv -> membership version of the last index step
 *                                applied (mqc2_user_conv: steps converge, store/member.c)
 *   <p>{u:<user>}:unread   HASH  c:<conv> highest mc counted, r:<conv> mc at the read
 *                                cursor, total (max-updates: mqchat-push, mqc2_unread)
 *   <p>{u:<user>}:devices  HASH  push token -> "platform\napp\nsandbox"
 *   <p>{u:<user>}:mute     HASH  conv -> muted until (ms)
 *   <p>{u:<user>}:unread   HASH  c:<conv> = highest msg count (meta mc) counted for
 *                                the user, r:<conv> = msg count at the read cursor,
 *                                total = sum of (c - r): the push badge. Max-based
 *                                updates only (mqc3_expand, mqc2_unread): idempotent
 *   <p>{u:<user>}:blocked  SET   users this user blocks
 *   <p>{u:<user>}:sess     HASH  device session id -> "hash\tcreated\tlast_used\t
 *                                expires\tlabel" (core/session_token.h)
 *   <p>session:key         STRING  key text of session hashes (no session_secret)
 *   <p>devtoken:<token>    STRING  owner of a push token
 *   <p>version             STRING  layout version ("2": lazy fan-out; store/upgrade.c)
 *   <p>jobs                channel  hints: slots whose job stream got jobs (store/hint.c)
 *   <p>{push}              STREAM  per-user push jobs (mqchat-push: its expansion, retries)
 *   <p>{push}:delay        ZSET    retries waiting: JSON [field, value, ...] by due ms
 *                                (one hash tag with the stream: mqc1_push_move is single-slot;
 *                                the names before it, <p>push and <p>push:delay, are renamed
 *                                by mqchat-push on start and `mqchat store upgrade`)
 *   <p>push:dead           STREAM  jobs mqchat-push gave up on, with the reason
 *   <p>push:stats          HASH    mqchat-push's counters
 *   <p>{n:<node>}:users    SET   users a broker node published as present
 *   <p>{n:<node>}:alive    STRING  heartbeat: wall ms, expires after 30 s
 *   <p>{c:<conv>}:meta     HASH  kind, title, created, creator, seq, mver,
 *                                mc (msg events so far), lt (ms of the last event),
 *                                b:<user> (direct: the other member blocks user)
 *   <p>{c:<conv>}:members  HASH  user -> admin | member
 *   <p>{c:<conv>}:log      STREAM  "<seq>-0" -> e = event JSON (msg, member, edit, delete,
 *                                react), t = ms
 *                                (Redis TIME, non-decreasing), k = dedupe key, m = mc
 *   <p>{c:<conv>}:ids      HASH  "<sender>\n<client id>" -> seq (send dedupe)
 *   <p>{c:<conv>}:tomb     HASH  seq -> log entries a delete moved out of the log (the
 *                                erased ones without body and attrs), e:<seq> -> the
 *                                edits of msg seq, lo (#18; format in store/mqchat.lua)
 *   <p>{c:<conv>}:rcpt     HASH  d:<user> / r:<user> -> delivered / read cursor,
 *                                j:<user> seq that made user a member, x:<user> seq
 *                                that removed user (sync visibility), jm = seq of
 *                                the last add (absent: unknown; mqc2_recipients)
 *   <p>{<slot tag>}:jobs   STREAM  per key slot: one job per stored event of the
 *                                conversations of that slot (lazy fan-out; tag from
 *                                core/slot.h, the same slot as "{c:<conv>}"): c, s, m,
 *                                k (msg|member), f, ts, p (preview), u (users gone),
 *                                v (mver), a (users who came in); group
 *                                mqchat-push: store/jobs.c expands and deletes them
 *   <p>jobs                CHANNEL hints: slot numbers with new jobs (not durable)
 * store/mqchat.lua holds the functions that change these atomically;
 * `mqchat user del` deletes a user's keys: those above, and any other
 * "<p>{u:<user>}:*" key (store/user_del.c finds them with SCAN).
 */
#ifndef MQC_STORE_KEYS_H
#define MQC_STORE_KEYS_H

#include <stddef.h>

#define MQC_KEY_MAX 192

/* Write "<prefix>users" into buf. Returns MQC_OK or MQC_EINTERNAL. */
int mqc_key_users(const char *prefix, char *buf, size_t size);
/* Write "<prefix>{u:<user>}:user" into buf. MQC_EBADREQ for a bad id. */
int mqc_key_user(const char *prefix, const char *user, char *buf, size_t size);

/* Write "<prefix>{u:<user>}:<part>" / "<prefix>{c:<conv>}:<part>" into buf.
 * MQC_EBADREQ for a bad id. */
int mqc_key_user_part(const char *prefix, const char *user, const char *part, char *buf,
                      size_t size);
int mqc_key_conv(const char *prefix, const char *conv, const char *part, char *buf, size_t size);

/* Write "<prefix>push" (part NULL) or "<prefix>push:<part>" into buf: the
 * dead-letter stream and counters ("dead", "stats"), and the old names of
 * the queue (store/push_rename.c). */
int mqc_key_push(const char *prefix, const char *part, char *buf, size_t size);
/* Write "<prefix>{push}" (part NULL) or "<prefix>{push}:<part>" into buf:
 * the push job stream and its delayed set ("delay"), one slot. */
int mqc_key_push_queue(const char *prefix, const char *part, char *buf, size_t size);
/* Write "<prefix>devtoken:<token>" into buf (tokens are long: size it). */
int mqc_key_devtoken(const char *prefix, const char *token, char *buf, size_t size);

/* Write "<prefix>{<slot tag>}:jobs" (core/slot.h) into buf: the job stream of
 * one key slot. MQC_EINTERNAL for a slot out of range. */
int mqc_key_slot_jobs(const char *prefix, unsigned slot, char *buf, size_t size);
/* The job stream of conversation conv: the one of the slot of its keys
 * ("{c:<conv>}"), so a single-slot call writes the message and its job. */
int mqc_key_conv_jobs(const char *prefix, const char *conv, char *buf, size_t size);

#endif
