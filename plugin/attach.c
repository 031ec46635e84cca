/* Attachments (PROTOCOL.md "Attachments"): the upload and download
 * requests. Membership is checked in Redis (the same members call typing
 * uses), then the URLs are signed here (core/attach.h, core/sigv4.h): the
 * object store is never called on the message path; it checks what the
 * URLs allow when the client uses them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/attach.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/event.h"
#include "core/log.h"
#include "core/request.h"
#include "plugin/plugin.h"

/* Longest secret key file read (AWS secrets are 40 characters). */
#define SECRET_MAX 4096

/* Read the first line of path into buf (trailing white space dropped).
 * MQC_OK, MQC_ENOTFOUND (unreadable: errno kept), MQC_EBADREQ (empty). */
static int read_secret(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return MQC_ENOTFOUND;
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        buf[--n] = '\0';
    return n > 0 ? MQC_OK : MQC_EBADREQ;
}

int mqc_plugin__attach_init(struct mqc_plugin *p)
{
    const struct mqc_config *c = &p->cfg;
    if (!c->s3_endpoint)
        return MOSQ_ERR_SUCCESS; /* attachments off: upload/download are unavailable */
    char secret[SECRET_MAX];
    int rc = read_secret(c->s3_secret_key_file, secret, sizeof secret);
    if (rc != MQC_OK) {
        mqc_log(MQC_LOG_ERR, "config: plugin_opt_s3_secret_key_file: %s (path=%s)",
                rc == MQC_EBADREQ ? "the file is empty" : strerror(errno), c->s3_secret_key_file);
        sodium_memzero(secret, sizeof secret);
        return MOSQ_ERR_INVAL;
    }
    p->attach = mqc_attach_store_new(c->s3_endpoint, c->s3_bucket, c->s3_region, c->s3_access_key,
                                     secret, c->s3_path_style);
    sodium_memzero(secret, sizeof secret);
    if (!p->attach)
        return MOSQ_ERR_NOMEM;
    mqc_log(MQC_LOG_NOTICE, "attach: objects in %s (bucket=%s %s-style)", c->s3_endpoint,
            c->s3_bucket, c->s3_path_style ? "path" : "virtual-host");
    return MOSQ_ERR_SUCCESS;
}

void mqc_plugin__attach_cleanup(struct mqc_plugin *p)
{
    mqc_attach_store_free(p->attach);
    p->attach = NULL;
}

/* An upload or download waiting for its membership check. */
struct attach_ctx {
    struct mqc_origin *o;
    bool upload;
    int64_t size;
    char type[MQC_ATTACH_TYPE_MAX + 1];
    char *name; /* upload: as sent */
    char key[MQC_ATTACH_KEY_MAX + 1];
};

static void ctx_free(struct attach_ctx *c)
{
    if (!c)
        return;
    mqc_plugin__origin_free(c->o);
    free(c->name);
    free(c);
}

/* Answer o with fields (taken; NULL = building them failed). */
static void respond(const struct mqc_origin *o, cJSON *fields)
{
    char *json = fields ? mqc_event_res(o->ref, o->op, fields, mqc_clock_wall_ms()) : NULL;
    if (!json) {
        mqc_log(MQC_LOG_ERR, "attach: out of memory building a reply (op=%s)", o->op);
        mqc_plugin__send_err(o->p, &o->to, "req", o->ref, MQC_EINTERNAL, NULL);
        return;
    }
    mqc_plugin__reply(o->p, &o->to, json, strlen(json));
    free(json);
}

/* The reply fields of a signed upload or download, or NULL. */
static cJSON *signed_fields(struct attach_ctx *c, const char *url, int64_t expires_ms)
{
    cJSON *f = cJSON_CreateObject(), *h = NULL;
    bool ok = f != NULL;
    if (ok && c->upload) {
        ok = cJSON_AddStringToObject(f, "key", c->key) &&
             cJSON_AddStringToObject(f, "put_url", url) &&
             (h = cJSON_AddObjectToObject(f, "headers")) &&
             cJSON_AddStringToObject(h, "Content-Type", c->type);
    } else if (ok) {
        ok = cJSON_AddStringToObject(f, "url", url);
    }
    ok = ok && cJSON_AddNumberToObject(f, "expires", (double)expires_ms);
    if (!ok) {
        cJSON_Delete(f);
        return NULL;
    }
    return f;
}

static void members_done(void *ctx, int rc, const struct mqc_post_result *r)
{
    struct attach_ctx *c = ctx;
    struct mqc_origin *o = c->o;
    struct mqc_plugin *p = o->p;
    if (rc == MQC_ENOTMEMBER || rc == MQC_EUNAVAIL) {
        mqc_plugin__send_err(p, &o->to, "req", o->ref, rc, NULL);
        goto out;
    }
    if (rc != MQC_OK) {
        mqc_plugin__send_err(p, &o->to, "req", o->ref, MQC_EINTERNAL, NULL);
        goto out;
    }
    if (r->has_members)
        mqc_plugin__members_update(p, o->conv, r->mver, r->members, r->nmembers);
    int64_t now_s = mqc_clock_wall_ms() / 1000;
    char *url = NULL;
    if (c->upload) {
        rc = mqc_attach_key_new(o->conv, c->name, c->key, sizeof c->key);
        if (rc == MQC_OK)
            rc = mqc_attach_put_url(p->attach, c->key, c->type, c->size, now_s, p->cfg.url_seconds,
                                    &url);
    } else {
        rc = mqc_attach_get_url(p->attach, c->key, now_s, p->cfg.url_seconds, &url);
    }
    if (rc != MQC_OK) {
        mqc_log(MQC_LOG_ERR, "attach: cannot sign a URL: %s (op=%s conv=%s)", mqc_err_str(rc),
                o->op, o->conv);
        mqc_plugin__send_err(p, &o->to, "req", o->ref, MQC_EINTERNAL, NULL);
        goto out;
    }
    respond(o, signed_fields(c, url, (now_s + p->cfg.url_seconds) * 1000));
    free(url);
out:
    ctx_free(c);
}

/* Refuse o with rc and text at once (o freed). */
static int refuse(struct mqc_origin *o, int rc, const char *text)
{
    mqc_plugin__send_err(o->p, &o->to, "req", o->ref, rc, text);
    mqc_plugin__origin_free(o);
    return MQC_OK;
}

int mqc_plugin__attach_request(struct mqc_plugin *p, const struct mqc_req *r, struct mqc_origin *o)
{
    bool upload = r->op == MQC_OP_UPLOAD;
    if (!p->attach)
        return refuse(o, MQC_EUNAVAIL, "attachments are not configured on this server");
    if (upload && r->size > p->cfg.max_upload_bytes) {
        char msg[96];
        snprintf(msg, sizeof msg, "files may be at most %ld bytes", p->cfg.max_upload_bytes);
        return refuse(o, MQC_ETOOLARGE, msg);
    }
    if (!upload && !mqc_attach_key_valid(o->conv, r->key))
        return refuse(o, MQC_ENOTFOUND, "no such attachment in this conversation");
    struct attach_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return MQC_ENOMEM;
    c->upload = upload;
    if (upload) {
        c->size = r->size;
        snprintf(c->type, sizeof c->type, "%s", r->type);
        if (!(c->name = strdup(r->name))) {
            free(c);
            return MQC_ENOMEM;
        }
    } else {
        snprintf(c->key, sizeof c->key, "%s", r->key);
    }
    int rc = mqc_store_members(p->store, o->conv, o->user, mqc_members_version(p->members, o->conv),
                               members_done, c);
    if (rc != MQC_OK) {
        free(c->name);
        free(c);
        return rc;
    }
    c->o = o;
    return MQC_OK;
}
