/* Redis URL parser for the admin tool and the bridge. */
#include "core/redis_url.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

static int parse_num(const char *s, size_t len, long max, int *out)
{
    char buf[16];
    if (len == 0 || len >= sizeof buf)
        return MQC_EBADREQ;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    long n = strtol(buf, &end, 10);
    if (errno || *end || n < 0 || n > max)
        return MQC_EBADREQ;
    *out = (int)n;
    return MQC_OK;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static int parse_tcp(const char *p, struct mqc_redis_url *out)
{
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p; /* redis://user:pw@ or redis://pw@ */
        if (at > pw && !(out->password = dup_n(pw, (size_t)(at - pw))))
            return MQC_ENOMEM;
        p = at + 1;
    }
    size_t hostlen = strcspn(p, ":/");
    if (hostlen == 0)
        return MQC_EBADREQ;
    if (!(out->host = dup_n(p, hostlen)))
        return MQC_ENOMEM;
    p += hostlen;
    if (*p == ':') {
        p++;
        size_t n = strcspn(p, "/");
        if (parse_num(p, n, 65535, &out->port) != MQC_OK || out->port == 0)
            return MQC_EBADREQ;
        p += n;
    }
    if (*p == '/' && p[1])
        return parse_num(p + 1, strlen(p + 1), 1000000, &out->db);
    return (*p == '\0' || (*p == '/' && !p[1])) ? MQC_OK : MQC_EBADREQ;
}

static int parse_unix(const char *p, struct mqc_redis_url *out)
{
    size_t n = strcspn(p, "?");
    if (n == 0 || p[0] != '/')
        return MQC_EBADREQ;
    if (!(out->unix_path = dup_n(p, n)))
        return MQC_ENOMEM;
    p += n;
    if (*p == '\0')
        return MQC_OK;
    if (strncmp(p, "?db=", 4) != 0)
        return MQC_EBADREQ;
    return parse_num(p + 4, strlen(p + 4), 1000000, &out->db);
}

int mqc_redis_url_parse(const char *url, struct mqc_redis_url *out)
{
    memset(out, 0, sizeof *out);
    out->port = 6379;
    int rc = MQC_EBADREQ;
    if (url && strncmp(url, "redis://", 8) == 0)
        rc = parse_tcp(url + 8, out);
    else if (url && strncmp(url, "unix://", 7) == 0)
        rc = parse_unix(url + 7, out);
    if (rc != MQC_OK)
        mqc_redis_url_cleanup(out);
    return rc;
}

void mqc_redis_url_cleanup(struct mqc_redis_url *u)
{
    if (!u)
        return;
    free(u->host);
    free(u->unix_path);
    free(u->password);
    u->host = u->unix_path = u->password = NULL;
}

const char *mqc_redis_url_describe(const struct mqc_redis_url *u, char *buf, size_t len)
{
    if (!buf || len == 0)
        return buf;
    const char *auth = u->password ? ":***@" : "";
    if (u->unix_path)
        snprintf(buf, len, "unix://%s?db=%d", u->unix_path, u->db);
    else
        snprintf(buf, len, "redis://%s%s:%d/%d", auth, u->host ? u->host : "", u->port, u->db);
    return buf;
}
