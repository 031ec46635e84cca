/* The topic grammar of PROTOCOL.md: parse a concrete topic (no wildcards) into
 * what it addresses, and build the topics the server publishes to. */
#ifndef MQC_TOPIC_H
#define MQC_TOPIC_H

#include <stddef.h>

#include "core/id.h"

enum mqc_topic_kind {
    MQC_TOPIC_OTHER,    /* outside chat/ */
    MQC_TOPIC_INBOX,    /* chat/u/{user}/inbox */
    MQC_TOPIC_REQ,      /* chat/u/{user}/req */
    MQC_TOPIC_CONV,     /* chat/c/{conv}/{send|receipt|typing} */
    MQC_TOPIC_PRESENCE, /* chat/presence/{user} */
    MQC_TOPIC_INVALID,  /* under chat/ but not one of the above (or a bad id) */
};

enum mqc_conv_leaf { MQC_CONV_SEND, MQC_CONV_RECEIPT, MQC_CONV_TYPING };

struct mqc_topic {
    enum mqc_topic_kind kind;
    enum mqc_conv_leaf leaf; /* MQC_TOPIC_CONV only */
    char id[MQC_ID_MAX + 1]; /* user or conv id; "" for OTHER/INVALID */
};

/* Parse topic (borrowed, NUL-terminated) into *out. Always fills *out; returns
 * out->kind. A NULL topic is MQC_TOPIC_INVALID. */
enum mqc_topic_kind mqc_topic_parse(const char *topic, struct mqc_topic *out);

/* Is topic under the chat/ prefix (or exactly "chat")? */
int mqc_topic_is_chat(const char *topic);

/* Write "chat/u/{user}/inbox" into buf (size >= 80). Returns MQC_OK or
 * MQC_EBADREQ if user is not a valid id. */
int mqc_topic_inbox(const char *user, char *buf, size_t size);
/* Write "chat/presence/{user}" into buf. */
int mqc_topic_presence(const char *user, char *buf, size_t size);

#endif
