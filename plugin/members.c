/* Membership answers for ACL checks, from plugin memory only (ACL READ runs
 * per delivery and must never wait on Redis): who shares a conversation with
 * whom comes from the contact sets of connected users (core/contacts.h). */
#include <stdbool.h>

#include "plugin/plugin.h"

static bool shares(void *ctx, const char *user, const char *other)
{
    struct mqc_plugin *p = ctx;
    return mqc_contacts_has(p->contacts, user, other);
}

void mqc_plugin__members_init(struct mqc_plugin *p)
{
    p->acl.members.ctx = p;
    p->acl.members.shares_conv = shares;
}
