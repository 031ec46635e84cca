/* Error codes shared by every mqchat module. Functions return MQC_OK (0) or a
 * negative MQC_E* value; the wire code of an error (the `code` of an `err`
 * event, PROTOCOL.md) comes from mqc_err_code(). Only plugin/ maps these to
 * MOSQ_ERR_*, only store/ sees REDIS_*. */
#ifndef MQC_ERR_H
#define MQC_ERR_H

enum {
    MQC_OK = 0,
    MQC_EBADREQ = -1,    /* bad_request: not JSON, missing/mistyped field, bad id */
    MQC_ETOOLARGE = -2,  /* too_large */
    MQC_ENOTMEMBER = -3, /* not_member */
    MQC_EFORBIDDEN = -4, /* forbidden */
    MQC_ENOTFOUND = -5,  /* not_found */
    MQC_ERATE = -6,      /* rate_limited */
    MQC_EUNAVAIL = -7,   /* unavailable: storage down, nothing stored */
    MQC_EINTERNAL = -8,  /* internal */
    MQC_ENOMEM = -9,     /* out of memory (wire: internal) */
    MQC_EEXIST = -10,    /* already exists (admin tool) */
    MQC_EAUTH = -11,     /* authentication failed */
    MQC_EBUSY = -12,     /* try again shortly (work queued elsewhere) */
};

/* The wire code for err: "bad_request", "unavailable", ... Never NULL. */
const char *mqc_err_code(int err);
/* A short human sentence for err, for logs and `msg` fields. Never NULL. */
const char *mqc_err_str(int err);

#endif
