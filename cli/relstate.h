/* What the terminal client remembers of message relations (PROTOCOL.md
 * "Message relations") from the events it has seen this run: per message,
 * its sender, the start of its latest text and whether it was deleted (to
 * quote it under a reply), and each member's reaction set (to show the
 * counts and to toggle mine with /react). Events are applied in seq order
 * whatever order they arrive in: the newest edit wins by seq, a delete is
 * final, a member's set is replaced only by a react of a higher seq. Pure:
 * no I/O. Bounded: past MQC_RELSTATE_MAX messages the least recently
 * touched is forgotten. */
#ifndef MQC_CLI_RELSTATE_H
#define MQC_CLI_RELSTATE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#define MQC_RELSTATE_MAX 4096
#define MQC_QUOTE_CHARS 40 /* characters of a quoted message kept */

struct mqc_relstate;

/* One message as known. text: its first MQC_QUOTE_CHARS characters (with
 * "..." when cut), NULL when deleted or not seen; from "" when not seen
 * (only relations of it were). reacts: object user -> {"seq":N,"emojis":[..]}
 * (sets emptied by [] are removed). All borrowed from the state. */
struct mqc_relmsg {
    long long seq;
    bool seen; /* the msg event itself was applied */
    bool deleted;
    bool edited;
    long long edit_seq;
    char from[65];
    char *text;
    cJSON *reacts;
    char conv[65];
    unsigned long long used; /* recency, for eviction */
};

/* A new, empty state (owned; NULL when out of memory). _free(NULL) is a no-op. */
struct mqc_relstate *mqc_relstate_new(void);
void mqc_relstate_free(struct mqc_relstate *r);

/* Apply a stored event ev (borrowed): msg (also "deleted":true from
 * history), edit, delete, react. Others, and events without conv or a seq
 * >= 1, are ignored. MQC_OK or MQC_ENOMEM. */
int mqc_relstate_apply(struct mqc_relstate *r, const cJSON *ev);

/* Message seq of conv (borrowed), or NULL when nothing of it was seen. The
 * result is valid until the next apply. */
const struct mqc_relmsg *mqc_relstate_get(const struct mqc_relstate *r, const char *conv,
                                          long long seq);

/* user's reaction set on seq of conv (all borrowed) as an array returned
 * owned (empty when none; NULL only when out of memory). */
cJSON *mqc_relstate_set_of(const struct mqc_relstate *r, const char *conv, long long seq,
                           const char *user);

#endif
