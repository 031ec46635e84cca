/* Mapping of mqchat error values to the contract's wire codes and to short
 * human text. */
#include "core/err.h"

const char *mqc_err_code(int err)
{
    switch (err) {
    case MQC_EBADREQ:
        return "bad_request";
    case MQC_ETOOLARGE:
        return "too_large";
    case MQC_ENOTMEMBER:
        return "not_member";
    case MQC_EFORBIDDEN:
        return "forbidden";
    case MQC_ENOTFOUND:
        return "not_found";
    case MQC_ERATE:
        return "rate_limited";
    case MQC_EUNAVAIL:
        return "unavailable";
    case MQC_EEXIST:
        return "forbidden";
    case MQC_EAUTH:
        return "forbidden";
    case MQC_EBUSY:
        return "unavailable";
    default:
        return "internal";
    }
}

const char *mqc_err_str(int err)
{
    switch (err) {
    case MQC_OK:
        return "ok";
    case MQC_EBADREQ:
        return "bad request";
    case MQC_ETOOLARGE:
        return "payload too large";
    case MQC_ENOTMEMBER:
        return "not a member of this conversation";
    case MQC_EFORBIDDEN:
        return "forbidden";
    case MQC_ENOTFOUND:
        return "not found";
    case MQC_ERATE:
        return "rate limited";
    case MQC_EUNAVAIL:
        return "storage unavailable, nothing was stored; retry";
    case MQC_ENOMEM:
        return "out of memory";
    case MQC_EEXIST:
        return "already exists";
    case MQC_EAUTH:
        return "authentication failed";
    case MQC_EBUSY:
        return "busy, retry shortly";
    default:
        return "internal error";
    }
}
