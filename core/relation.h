/* Message relations (PROTOCOL.md v1.1 "Message relations"): what a payload
 * published to chat/c/{conv}/send asks for - a message (possibly a reply),
 * an edit, a delete or a reaction - checked field by field, and the events
 * that are stored and delivered for them, built as prefix + seq + suffix
 * like msg events (the seq is only known inside Redis). Pure: no I/O. */
#ifndef MQC_RELATION_H
#define MQC_RELATION_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define MQC_REACT_MAX 20       /* emojis in one reaction set */
#define MQC_EMOJI_BYTES_MAX 32 /* bytes of one emoji string */

enum mqc_send_kind { MQC_SEND_MSG, MQC_SEND_EDIT, MQC_SEND_DELETE, MQC_SEND_REACT };

struct mqc_relation {
    enum mqc_send_kind kind;
    int64_t target;   /* edit, delete, react: the seq of the msg; else 0 */
    int64_t reply_to; /* msg: the seq it replies to; 0 for none */
    /* react: the sender's whole set for the target, duplicates dropped, in
     * the order sent (borrowed from the tree); empty removes theirs */
    const char *emojis[MQC_REACT_MAX];
    size_t nemojis;
};

/* Which kind of send root (a payload tree from mqc_envelope_parse, borrowed)
 * is, and its relation fields. At most one of "edit", "delete", "react";
 * "reply_to" only on a plain message; delete and react carry no body or
 * attrs; edit needs a body like a message (mqc_send_parse checks body, attrs
 * and id for msg and edit). MQC_OK, or MQC_EBADREQ with *why a static
 * reason for the client. */
int mqc_relation_parse(const cJSON *root, struct mqc_relation *out, const char **why);

/* "msg", "edit", "delete", "react": the event type of a kind. */
const char *mqc_send_kind_name(enum mqc_send_kind k);

/* The event for r as prefix ({"t":T,"conv":C,"seq":) and suffix (,...}):
 *   msg:    ,"id","from","ts","body"[,"attrs"][,"reply_to"]}
 *   edit:   ,"id","from","target","body"[,"attrs"],"ts"}
 *   delete: ,"id","from","target","ts"}
 *   react:  ,"id","from","target","emojis":[...],"ts"}
 * body and attrs are borrowed nodes (body NULL for delete and react). Both
 * outputs malloc'd (caller frees). MQC_OK or MQC_ENOMEM. */
int mqc_relation_event_parts(const char *conv, const char *id, const char *from, int64_t ts,
                             const struct mqc_relation *r, const cJSON *body, const cJSON *attrs,
                             char **prefix, char **suffix);
/* The same through cJSON objects, for every kind: what a msg event takes
 * when its fast path (written directly, byte for byte the same) does not
 * apply, and the reference the unit tests compare that path with. */
int mqc_relation_event_parts_json(const char *conv, const char *id, const char *from, int64_t ts,
                                  const struct mqc_relation *r, const cJSON *body,
                                  const cJSON *attrs, char **prefix, char **suffix);

#endif
