/* Who may publish and subscribe what (PROTOCOL.md "Topics"). Pure decisions
 * over the topic grammar, the operator's extra filters and a small membership
 * interface that the plugin answers from memory. No I/O.
 *
 * Membership for posting into a conversation (send/receipt/typing) is checked
 * by the message path, atomically in Redis with the write it guards (so a
 * member removed on another broker cannot slip through a stale cache), and a
 * non-member gets a `not_member` err event carrying the client's id, which an
 * ACL refusal cannot do. The WRITE check therefore only vets the shape of
 * conversation topics. */
#ifndef MQC_ACL_H
#define MQC_ACL_H

#include <stdbool.h>

#include "core/filter.h"

enum mqc_acl_access { MQC_ACL_SUBSCRIBE, MQC_ACL_UNSUBSCRIBE, MQC_ACL_WRITE, MQC_ACL_READ };
enum mqc_acl_verdict { MQC_ACL_ALLOW, MQC_ACL_DENY };

struct mqc_acl_membership {
    void *ctx;
    /* Does user share at least one conversation with other? Must not block. */
    bool (*shares_conv)(void *ctx, const char *user, const char *other);
};

struct mqc_acl {
    const struct mqc_filter_list *other; /* borrowed; plugin_opt_other_topics */
    struct mqc_acl_membership members;
};

/* Decide access for user (borrowed; the authenticated user id, NULL = deny) on
 * topic (a filter for SUBSCRIBE/UNSUBSCRIBE, a concrete topic otherwise).
 * retain is the publish's retain flag (WRITE only). */
enum mqc_acl_verdict mqc_acl_check(const struct mqc_acl *acl, enum mqc_acl_access access,
                                   const char *user, const char *topic, bool retain);

#endif
