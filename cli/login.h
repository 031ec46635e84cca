/* Who the terminal client signs in as and where: the options every MQTT
 * subcommand shares (--user NAME, --mqtt HOST:PORT) and the password, which
 * comes from $MQCHAT_PASSWORD or a prompt on the terminal with echo off,
 * never from argv (other users can read argv in ps). */
#ifndef MQC_LOGIN_H
#define MQC_LOGIN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/id.h"

#define MQC_LOGIN_HOST_MAX 255
#define MQC_LOGIN_DEFAULT_HOST "127.0.0.1"
#define MQC_LOGIN_DEFAULT_PORT 1883

struct mqc_login {
    char user[MQC_ID_MAX + 1];
    char host[MQC_LOGIN_HOST_MAX + 1];
    int port;
    char *password;      /* owned; wiped and freed by mqc_login_cleanup */
    bool mqtt_given;     /* --mqtt was given: the default from the environment is moot */
    const char *bad_env; /* borrowed: an unusable $MQCHAT_MQTT, or NULL */
};

/* Set the defaults (no user, 127.0.0.1:1883, no password). */
void mqc_login_init(struct mqc_login *l);
/* Wipe and free the password. Safe to call twice. */
void mqc_login_cleanup(struct mqc_login *l);

/* If argv[*i] is --user or --mqtt (with its value at argv[*i + 1]), take it
 * into l, advance *i past the value and return 1; return 0 if argv[*i] is
 * some other argument; print why and return -1 when the value is missing or
 * bad. argv is borrowed. */
int mqc_login_option(struct mqc_login *l, int argc, char **argv, int *i);

/* Split "HOST:PORT", "HOST" (port 1883) or "[V6ADDR]:PORT" (s borrowed) into
 * host (a buffer of host_size bytes) and *port. Returns MQC_OK or
 * MQC_EBADREQ (empty host, port not in 1..65535, host too long). */
int mqc_login_parse_hostport(const char *s, char *host, size_t host_size, int *port);

/* Take hostport (borrowed from $MQCHAT_MQTT, may be NULL) as the default
 * broker. An unusable value is remembered, not fatal yet: mqc_login_finish
 * refuses it unless --mqtt replaced it. */
void mqc_login_default_mqtt(struct mqc_login *l, const char *hostport);

/* Check that a user was given and get the password: $MQCHAT_PASSWORD, else a
 * prompt on /dev/tty with echo off. Prints why and returns MQC_EBADREQ when
 * there is no user, $MQCHAT_MQTT is unusable (and no --mqtt), no password
 * can be had, or it is empty; MQC_ENOMEM when out of memory. */
int mqc_login_finish(struct mqc_login *l);
/* The same, but with token (borrowed; a device session token, or NULL)
 * taken as the password instead of $MQCHAT_PASSWORD or a prompt. */
int mqc_login_finish_with(struct mqc_login *l, const char *token);

#endif
