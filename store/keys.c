/* Key builders for the schema in keys.h. */
#include "store/keys.h"

#include <stdio.h>

#include "core/err.h"
#include "core/id.h"
#include "core/slot.h"

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

int mqc_key_push_queue(const char *prefix, const char *part, char *buf, size_t size)
{
    return fit(snprintf(buf, size, "%s{push}%s%s", prefix, part ? ":" : "", part ? part : ""),
               size);
}

int mqc_key_devtoken(const char *prefix, const char *token, char *buf, size_t size)
{
    return fit(snprintf(buf, size, "%sdevtoken:%s", prefix, token), size);
}

int mqc_key_slot_jobs(const char *prefix, unsigned slot, char *buf, size_t size)
{
    const char *tag = mqc_slot_tag(slot);
    if (!tag)
        return MQC_EINTERNAL;
    return fit(snprintf(buf, size, "%s{%s}:jobs", prefix, tag), size);
}

int mqc_key_conv_jobs(const char *prefix, const char *conv, char *buf, size_t size)
{
    char tag[80];
    if (!mqc_id_valid_str(conv))
        return MQC_EBADREQ;
    int n = snprintf(tag, sizeof tag, "c:%s", conv);
    if (fit(n, sizeof tag) != MQC_OK)
        return MQC_EINTERNAL;
    return mqc_key_slot_jobs(prefix, mqc_slot_of(tag, (size_t)n), buf, size);
}
