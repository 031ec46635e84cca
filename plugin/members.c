/* Membership in plugin memory: answers for ACL checks (ACL READ runs per
 * delivery and must never wait on Redis: who shares a conversation with whom
 * comes from the contact sets of connected users, core/contacts.h), and the
 * conversation -> members cache fed by store results. */
#include <stdbool.h>

#include "core/log.h"
#include "plugin/plugin.h"

static bool shares(void *ctx, const char *user, const char *other)
{
    struct mqc_plugin *p = ctx;
    mqc_plugin__contacts_wait(p, user); /* a set still loading: read it now */
    return mqc_contacts_has(p->contacts, user, other);
}

void mqc_plugin__members_init(struct mqc_plugin *p)
{
    p->acl.members.ctx = p;
    p->acl.members.shares_conv = shares;
}

void mqc_plugin__members_update(struct mqc_plugin *p, const char *conv, int64_t mver,
                                const char *const *members, size_t n)
{
    if (mqc_members_set(p->members, conv, mver, members, n) != 0)
        mqc_log(MQC_LOG_ERR, "members: cannot cache members: out of memory (conv=%s)", conv);
    /* A fresh list may come from a change made on another node: users here
     * now see the presence of new fellow members. */
    mqc_contacts_add_group(p->contacts, members, n);
}
