/* ACL decisions. Each access kind has one function; the chat/ rules come
 * first and the operator's other_topics only ever apply outside chat/. */
#include "acl/acl.h"

#include <string.h>

#include "core/id.h"
#include "core/topic.h"

static bool shares(const struct mqc_acl *acl, const char *user, const char *other)
{
    if (strcmp(user, other) == 0)
        return true;
    return acl->members.shares_conv && acl->members.shares_conv(acl->members.ctx, user, other);
}

/* A SUBSCRIBE filter that can reach chat/: only the exact allowed shapes. */
static bool chat_filter_allowed(const char *user, const char *filter)
{
    struct mqc_topic t;
    if (strcmp(filter, "chat/presence/+") == 0)
        return true; /* deliveries are READ-checked one by one */
    if (strpbrk(filter, "+#"))
        return false;
    switch (mqc_topic_parse(filter, &t)) {
    case MQC_TOPIC_INBOX:
        return strcmp(t.id, user) == 0;
    case MQC_TOPIC_PRESENCE:
        return true; /* READ-checked per delivery */
    default:
        return false;
    }
}

static enum mqc_acl_verdict check_subscribe(const struct mqc_acl *acl, const char *user,
                                            const char *filter)
{
    if (!mqc_filter_valid(filter))
        return MQC_ACL_DENY;
    if (strncmp(filter, "$share/", 7) == 0) {
        const char *rest = strchr(filter + 7, '/');
        if (!rest || rest == filter + 7)
            return MQC_ACL_DENY;
        filter = rest + 1;
        if (!*filter)
            return MQC_ACL_DENY;
    }
    if (filter[0] == '$')
        return MQC_ACL_DENY; /* $SYS and other broker-internal trees */
    if (mqc_filter_reaches_chat(filter))
        return chat_filter_allowed(user, filter) ? MQC_ACL_ALLOW : MQC_ACL_DENY;
    return mqc_filter_list_allows_filter(acl->other, user, filter) ? MQC_ACL_ALLOW : MQC_ACL_DENY;
}

static enum mqc_acl_verdict check_write(const struct mqc_acl *acl, const char *user,
                                        const char *topic, bool retain)
{
    struct mqc_topic t;
    switch (mqc_topic_parse(topic, &t)) {
    case MQC_TOPIC_OTHER:
        if (topic[0] == '$')
            return MQC_ACL_DENY;
        return mqc_filter_list_allows_topic(acl->other, user, topic) ? MQC_ACL_ALLOW : MQC_ACL_DENY;
    case MQC_TOPIC_REQ:
        return (!retain && strcmp(t.id, user) == 0) ? MQC_ACL_ALLOW : MQC_ACL_DENY;
    case MQC_TOPIC_CONV:
        return retain ? MQC_ACL_DENY : MQC_ACL_ALLOW; /* membership: see acl.h */
    case MQC_TOPIC_PRESENCE:
        return strcmp(t.id, user) == 0 ? MQC_ACL_ALLOW : MQC_ACL_DENY;
    default: /* inboxes are written by the server only; everything else is refused */
        return MQC_ACL_DENY;
    }
}

static enum mqc_acl_verdict check_read(const struct mqc_acl *acl, const char *user,
                                       const char *topic)
{
    struct mqc_topic t;
    switch (mqc_topic_parse(topic, &t)) {
    case MQC_TOPIC_OTHER:
        if (topic[0] == '$')
            return MQC_ACL_DENY;
        return mqc_filter_list_allows_topic(acl->other, user, topic) ? MQC_ACL_ALLOW : MQC_ACL_DENY;
    case MQC_TOPIC_INBOX:
        return strcmp(t.id, user) == 0 ? MQC_ACL_ALLOW : MQC_ACL_DENY;
    case MQC_TOPIC_PRESENCE:
        return shares(acl, user, t.id) ? MQC_ACL_ALLOW : MQC_ACL_DENY;
    default:
        return MQC_ACL_DENY;
    }
}

enum mqc_acl_verdict mqc_acl_check(const struct mqc_acl *acl, enum mqc_acl_access access,
                                   const char *user, const char *topic, bool retain)
{
    if (!acl || !topic || !mqc_id_valid_str(user))
        return MQC_ACL_DENY;
    switch (access) {
    case MQC_ACL_SUBSCRIBE:
        return check_subscribe(acl, user, topic);
    case MQC_ACL_UNSUBSCRIBE:
        return MQC_ACL_ALLOW;
    case MQC_ACL_WRITE:
        return check_write(acl, user, topic, retain);
    case MQC_ACL_READ:
        return check_read(acl, user, topic);
    }
    return MQC_ACL_DENY;
}
