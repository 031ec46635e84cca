/* Redis addresses as the admin tool takes them: redis://[:password@]host[:port][/db]
 * or unix:///path/to/socket[?db=N]. Pure parsing, no connection. */
#ifndef MQC_REDIS_URL_H
#define MQC_REDIS_URL_H

#include <stddef.h>

struct mqc_redis_url {
    char *host;      /* owned; NULL for unix */
    int port;        /* default 6379 */
    char *unix_path; /* owned; NULL for tcp */
    char *password;  /* owned; NULL = none */
    int db;
};

/* Parse url (borrowed) into *out. Returns MQC_OK or MQC_EBADREQ. */
int mqc_redis_url_parse(const char *url, struct mqc_redis_url *out);
void mqc_redis_url_cleanup(struct mqc_redis_url *u);

/* Write u (borrowed, parsed) to buf (borrowed, len bytes, always terminated
 * when len > 0) as a URL for logs: redis://host:port/db or
 * unix:///path?db=N, never with the password (":***@" marks that there is
 * one). Returns buf. */
const char *mqc_redis_url_describe(const struct mqc_redis_url *u, char *buf, size_t len);

#endif
