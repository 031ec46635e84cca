/* Key builders for the schema in keys.h. */
#include "store/keys.h"

#include <stdio.h>

#include "core/err.h"
#include "core/id.h"

static int fit(int n, size_t size)
{
    return (n < 0 || (size_t)n >= size) ? MQC_EINTERNAL : MQC_OK;
}

int mqc_key_users(const char *prefix, char *buf, size_t size)
{
    return fit(snprintf(buf, size, "%susers", prefix), size);
}

int mqc_key_user(const char *prefix, const char *user, char *buf, size_t size)
{
    if (!mqc_id_valid_str(user))
        return MQC_EBADREQ;
    return fit(snprintf(buf, size, "%s{u:%s}:user", prefix, user), size);
}
