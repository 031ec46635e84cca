/* Attachments (see attach.h): the store's address, keys, and the URLs. */
#include "core/attach.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/err.h"
#include "core/id.h"
#include "core/sigv4.h"

/* Split "scheme://authority/path" (no query etc.): lengths into *sl, *al,
 * the path start into *path. false if it is not such a URL. */
static bool split_endpoint(const char *e, size_t *sl, const char **auth, size_t *al,
                           const char **path)
{
    if (!strncmp(e, "http://", 7))
        *sl = 4;
    else if (!strncmp(e, "https://", 8))
        *sl = 5;
    else
        return false;
    *auth = e + *sl + 3;
    *al = strcspn(*auth, "/");
    *path = *auth + *al;
    return true;
}

const char *mqc_attach_check_endpoint(const char *e)
{
    size_t sl, al;
    const char *auth, *path;
    if (!split_endpoint(e, &sl, &auth, &al, &path))
        return "must start with http:// or https://";
    if (al == 0)
        return "has no host";
    for (size_t i = 0; i < al; i++) {
        char c = auth[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
        if (!ok)
            return "must be http[s]://host[:port][/path] (no user, query or fragment)";
    }
    for (const char *p = path; *p; p++) {
        if (*p == '?' || *p == '#' || *p == '%' || (unsigned char)*p <= 0x20 || *p == 0x7f)
            return "must be http[s]://host[:port][/path] (no user, query or fragment)";
    }
    return NULL;
}

const char *mqc_attach_check_bucket(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return "must be 3-63 characters";
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (c != '.' && c != '-'))
            return "must be lower-case letters, digits, '.' and '-'";
        if (!alnum && (i == 0 || i == n - 1))
            return "must start and end with a letter or a digit";
    }
    return NULL;
}

struct mqc_attach_store *mqc_attach_store_new(const char *endpoint, const char *bucket,
                                              const char *region, const char *access_key,
                                              const char *secret_key, bool path_style)
{
    size_t sl, al;
    const char *auth, *path;
    if (mqc_attach_check_endpoint(endpoint) || !split_endpoint(endpoint, &sl, &auth, &al, &path))
        return NULL;
    struct mqc_attach_store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    size_t pl = strlen(path);
    while (pl > 0 && path[pl - 1] == '/')
        pl--;
    /* Clients leave the scheme's default port out of the Host header, and
     * the signature covers that header: so must the signed host. */
    const char *dflt = sl == 4 ? ":80" : ":443";
    size_t dl = strlen(dflt);
    if (al > dl && !strncmp(auth + al - dl, dflt, dl))
        al -= dl;
    s->scheme = strndup(endpoint, sl);
    s->host = strndup(auth, al);
    s->base = strndup(path, pl);
    s->bucket = strdup(bucket);
    s->region = strdup(region);
    s->access_key = strdup(access_key);
    s->secret_key = strdup(secret_key);
    s->path_style = path_style;
    if (!s->scheme || !s->host || !s->base || !s->bucket || !s->region || !s->access_key ||
        !s->secret_key) {
        mqc_attach_store_free(s);
        return NULL;
    }
    return s;
}

void mqc_attach_store_free(struct mqc_attach_store *s)
{
    if (!s)
        return;
    if (s->secret_key)
        sodium_memzero(s->secret_key, strlen(s->secret_key));
    free(s->scheme);
    free(s->host);
    free(s->base);
    free(s->bucket);
    free(s->region);
    free(s->access_key);
    free(s->secret_key);
    free(s);
}

/* RFC 6838 restricted-name characters. */
static bool type_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("!#$&^_.+-", c) != NULL;
}

bool mqc_attach_type_valid(const char *t)
{
    if (!t || strlen(t) > MQC_ATTACH_TYPE_MAX)
        return false;
    size_t a = 0, b = 0;
    while (t[a] && type_char(t[a]))
        a++;
    if (a == 0 || t[a] != '/')
        return false;
    const char *sub = t + a + 1;
    while (sub[b] && type_char(sub[b]))
        b++;
    return b > 0 && sub[b] == '\0';
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

void mqc_attach_sanitise_name(const char *name, char *out, size_t outsize)
{
    /* Work on a copy as long as the name, then keep its end. */
    size_t n = name ? strlen(name) : 0, o = 0;
    char *tmp = malloc(n + 1);
    out[0] = '\0';
    if (!tmp || outsize <= MQC_ATTACH_NAME_MAX) {
        free(tmp);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name_char(name[i]) ? name[i] : '_';
        if (c == '_' && o > 0 && tmp[o - 1] == '_')
            continue;
        if ((c == '.' || c == '_') && o == 0)
            continue;
        tmp[o++] = c;
    }
    tmp[o] = '\0';
    const char *keep = tmp;
    if (o > MQC_ATTACH_NAME_MAX)
        keep = tmp + (o - MQC_ATTACH_NAME_MAX);
    while (*keep == '.' || *keep == '_')
        keep++;
    snprintf(out, outsize, "%s", keep);
    free(tmp);
}

int mqc_attach_key_new(const char *conv, const char *name, char *out, size_t outsize)
{
    if (!mqc_id_valid_str(conv) || outsize <= MQC_ATTACH_KEY_MAX)
        return MQC_EBADREQ;
    unsigned char r[16];
    char hex[33], clean[MQC_ATTACH_NAME_MAX + 1];
    randombytes_buf(r, sizeof r);
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(hex + 2 * i, 3, "%02x", r[i]);
    mqc_attach_sanitise_name(name, clean, sizeof clean);
    snprintf(out, outsize, "%s/%s%s%s", conv, hex, clean[0] ? "/" : "", clean);
    return MQC_OK;
}

bool mqc_attach_key_valid(const char *conv, const char *key)
{
    size_t cl = conv ? strlen(conv) : 0;
    if (!key || !mqc_id_valid_str(conv) || strlen(key) > MQC_ATTACH_KEY_MAX ||
        strncmp(key, conv, cl) != 0 || key[cl] != '/')
        return false;
    const char *h = key + cl + 1;
    for (int i = 0; i < 32; i++) {
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
            return false;
    }
    const char *rest = h + 32;
    if (*rest == '\0')
        return true;
    if (*rest != '/' || !rest[1] || rest[1] == '.' || rest[1] == '_' ||
        strlen(rest + 1) > MQC_ATTACH_NAME_MAX)
        return false;
    for (const char *p = rest + 1; *p; p++) {
        if (!name_char(*p))
            return false;
    }
    return true;
}

/* Host and path of key's object, path-style or virtual-host style. */
static int object_at(const struct mqc_attach_store *s, const char *key, char **host, char **path)
{
    size_t hl = strlen(s->host) + strlen(s->bucket) + 2;
    size_t pl = strlen(s->base) + strlen(s->bucket) + strlen(key) + 3;
    *host = malloc(hl);
    *path = malloc(pl);
    if (!*host || !*path) {
        free(*host);
        free(*path);
        return MQC_ENOMEM;
    }
    if (s->path_style) {
        snprintf(*host, hl, "%s", s->host);
        snprintf(*path, pl, "%s/%s/%s", s->base, s->bucket, key);
    } else {
        snprintf(*host, hl, "%s.%s", s->bucket, s->host);
        snprintf(*path, pl, "%s/%s", s->base, key);
    }
    return MQC_OK;
}

static int presign(const struct mqc_attach_store *s, const char *method, const char *key,
                   const struct mqc_sigv4_kv *h, size_t nh, int64_t now_s, long expires_s,
                   char **url)
{
    char date[MQC_SIGV4_DATE_LEN + 1];
    *url = NULL;
    if (mqc_sigv4_date(now_s, date, sizeof date) != MQC_OK)
        return MQC_EINTERNAL;
    struct mqc_sigv4 sig = {s->access_key, s->secret_key, s->region, "s3", date};
    char *host, *path;
    int rc = object_at(s, key, &host, &path);
    if (rc != MQC_OK)
        return rc;
    rc = mqc_sigv4_presign(&sig, method, s->scheme, host, path, expires_s, h, nh, url);
    free(host);
    free(path);
    return rc;
}

int mqc_attach_put_url(const struct mqc_attach_store *s, const char *key, const char *type,
                       int64_t size, int64_t now_s, long expires_s, char **url)
{
    char len[24];
    snprintf(len, sizeof len, "%lld", (long long)size);
    struct mqc_sigv4_kv h[] = {{"content-length", len}, {"content-type", type}};
    return presign(s, "PUT", key, h, 2, now_s, expires_s, url);
}

int mqc_attach_get_url(const struct mqc_attach_store *s, const char *key, int64_t now_s,
                       long expires_s, char **url)
{
    return presign(s, "GET", key, NULL, 0, now_s, expires_s, url);
}
