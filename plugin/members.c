/* Membership answers for ACL checks, from plugin memory only (ACL READ runs
 * per delivery and must never wait on Redis). Presence visibility (who shares
 * a conversation with whom) arrives with the presence work; until then users
 * see only their own presence. */
#include <stdbool.h>

#include "plugin/plugin.h"

static bool no_shared(void *ctx, const char *user, const char *other)
{
    (void)ctx;
    (void)user;
    (void)other;
    return false;
}

void mqc_plugin__members_init(struct mqc_plugin *p)
{
    p->acl.members.ctx = p;
    p->acl.members.shares_conv = no_shared;
}
