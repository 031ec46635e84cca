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
    return mqc_key_user_part(prefix, user, "user", buf, size);
}

int mqc_key_user_part(const char *prefix, const char *user, const char *part, char *buf,
                      size_t size)
{
    if (!mqc_id_valid_str(user))
        return MQC_EBADREQ;
    return fit(snprintf(buf, size, "%s{u:%s}:%s", prefix, user, part), size);
}

int mqc_key_conv(const char *prefix, const char *conv, const char *part, char *buf, size_t size)
{
    if (!mqc_id_valid_str(conv))
        return MQC_EBADREQ;
    return fit(snprintf(buf, size, "%s{c:%s}:%s", prefix, conv, part), size);
}

int mqc_key_push(const char *prefix, const char *part, char *buf, size_t size)
{
    return fit(snprintf(buf, size, "%spush%s%s", prefix, part ? ":" : "", part ? part : ""), size);
}

int mqc_key_devtoken(const char *prefix, const char *token, char *buf, size_t size)
{
    return fit(snprintf(buf, size, "%sdevtoken:%s", prefix, token), size);
}
