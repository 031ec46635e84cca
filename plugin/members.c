/* Membership answers for ACL checks, from plugin memory only (ACL READ runs
 * per delivery and must never wait on Redis). Conversations do not exist yet,
 * so nobody is a member of anything and users share no conversation. */
#include <stdbool.h>

#include "plugin/plugin.h"

static bool no_shared(void *ctx, const char *user, const char *other)
{
    (void)ctx;
    (void)user;
    (void)other;
    return false;
}

static bool no_member(void *ctx, const char *user, const char *conv)
{
    (void)ctx;
    (void)user;
    (void)conv;
    return false;
}

void mqc_plugin__members_init(struct mqc_plugin *p)
{
    p->acl.members.ctx = p;
    p->acl.members.shares_conv = no_shared;
    p->acl.members.is_member = no_member;
}
