/* The shared sign-in options of the MQTT subcommands and the password
 * prompt (see login.h). The prompt talks to /dev/tty, not stdin/stdout, so
 * it works when stdin is a pipe of chat lines and stdout is captured; the
 * terminal's echo flag is restored on every path out.
 *
 * Pointer parameters of the static functions here are borrowed unless their
 * comment says otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/login.h"
#include "core/err.h"
#include "core/password.h"

void mqc_login_init(struct mqc_login *l)
{
    memset(l, 0, sizeof *l);
    snprintf(l->host, sizeof l->host, "%s", MQC_LOGIN_DEFAULT_HOST);
    l->port = MQC_LOGIN_DEFAULT_PORT;
}

void mqc_login_cleanup(struct mqc_login *l)
{
    if (l->password) {
        sodium_memzero(l->password, strlen(l->password));
        free(l->password);
        l->password = NULL;
    }
}

int mqc_login_parse_hostport(const char *s, char *host, size_t host_size, int *port)
{
    const char *h = s, *colon;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close)
            return MQC_EBADREQ;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close[1] == ':' ? close + 1 : NULL;
        if (!colon && close[1] != '\0')
            return MQC_EBADREQ;
    } else {
        colon = strrchr(s, ':');
        hlen = colon ? (size_t)(colon - s) : strlen(s);
        if (colon && memchr(s, ':', hlen)) /* a bare IPv6 address needs [] */
            return MQC_EBADREQ;
    }
    if (hlen == 0 || hlen >= host_size)
        return MQC_EBADREQ;
    long p = MQC_LOGIN_DEFAULT_PORT;
    if (colon) {
        char *end;
        errno = 0;
        p = strtol(colon + 1, &end, 10);
        if (errno || end == colon + 1 || *end != '\0' || p < 1 || p > 65535)
            return MQC_EBADREQ;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return MQC_OK;
}

int mqc_login_option(struct mqc_login *l, int argc, char **argv, int *i)
{
    const char *opt = argv[*i];
    if (strcmp(opt, "--user") != 0 && strcmp(opt, "--mqtt") != 0)
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "mqchat: %s needs a value\n", opt);
        return -1;
    }
    const char *v = argv[++*i];
    if (!strcmp(opt, "--user")) {
        if (!mqc_id_valid_str(v)) {
            fprintf(stderr,
                    "mqchat: invalid user name '%s': use 1-64 characters of A-Z a-z 0-9 _ . -\n",
                    v);
            return -1;
        }
        snprintf(l->user, sizeof l->user, "%s", v);
        return 1;
    }
    if (mqc_login_parse_hostport(v, l->host, sizeof l->host, &l->port) != MQC_OK) {
        fprintf(stderr, "mqchat: bad --mqtt '%s' (want HOST:PORT, e.g. 127.0.0.1:1883)\n", v);
        return -1;
    }
    l->mqtt_given = true;
    return 1;
}

void mqc_login_default_mqtt(struct mqc_login *l, const char *hostport)
{
    if (hostport &&
        mqc_login_parse_hostport(hostport, l->host, sizeof l->host, &l->port) != MQC_OK) {
        l->bad_env = hostport;
        snprintf(l->host, sizeof l->host, "%s", MQC_LOGIN_DEFAULT_HOST);
        l->port = MQC_LOGIN_DEFAULT_PORT;
    }
}

/* Prompt on tty (borrowed, open for reading and writing) with echo off and
 * read one line into buf. The terminal settings are restored before
 * returning. */
static int prompt_tty(FILE *tty, const char *user, char *buf, size_t size)
{
    int fd = fileno(tty);
    struct termios old, quiet;
    if (tcgetattr(fd, &old) != 0)
        return MQC_EBADREQ;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= ICANON;
    if (fprintf(tty, "Password for %s: ", user) < 0 || fflush(tty) != 0)
        return MQC_EBADREQ;
    if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0)
        return MQC_EBADREQ;
    char *got = fgets(buf, (int)size, tty);
    int restore = tcsetattr(fd, TCSAFLUSH, &old);
    (void)fputs("\n", tty);
    (void)fflush(tty);
    if (!got || restore != 0)
        return MQC_EBADREQ;
    return MQC_OK;
}

int mqc_login_finish(struct mqc_login *l)
{
    return mqc_login_finish_with(l, NULL);
}

int mqc_login_finish_with(struct mqc_login *l, const char *token)
{
    if (!l->user[0]) {
        fprintf(stderr, "mqchat: --user NAME is required\n");
        return MQC_EBADREQ;
    }
    if (l->bad_env && !l->mqtt_given) {
        fprintf(stderr, "mqchat: bad $MQCHAT_MQTT '%s' (want HOST:PORT, e.g. 127.0.0.1:1883)\n",
                l->bad_env);
        return MQC_EBADREQ;
    }
    char buf[MQC_PASSWORD_MAX + 2];
    const char *env = getenv("MQCHAT_PASSWORD");
    if (token) {
        if (strlen(token) > MQC_PASSWORD_MAX)
            return MQC_EBADREQ;
        snprintf(buf, sizeof buf, "%s", token);
    } else if (env) {
        if (strlen(env) > MQC_PASSWORD_MAX) {
            fprintf(stderr, "mqchat: password longer than %d bytes\n", MQC_PASSWORD_MAX);
            return MQC_EBADREQ;
        }
        snprintf(buf, sizeof buf, "%s", env);
    } else {
        FILE *tty = fopen("/dev/tty", "r+");
        if (!tty) {
            fprintf(stderr, "mqchat: no password: set MQCHAT_PASSWORD or run on a terminal\n");
            return MQC_EBADREQ;
        }
        int rc = prompt_tty(tty, l->user, buf, sizeof buf);
        if (fclose(tty) != 0)
            rc = MQC_EBADREQ;
        if (rc != MQC_OK) {
            sodium_memzero(buf, sizeof buf);
            fprintf(stderr, "mqchat: could not read a password from the terminal\n");
            return MQC_EBADREQ;
        }
        size_t len = strcspn(buf, "\r\n");
        if (buf[len] == '\0' && len == sizeof buf - 1) {
            sodium_memzero(buf, sizeof buf);
            fprintf(stderr, "mqchat: password longer than %d bytes\n", MQC_PASSWORD_MAX);
            return MQC_EBADREQ;
        }
        buf[len] = '\0';
    }
    if (!buf[0]) {
        fprintf(stderr, "mqchat: empty password\n");
        return MQC_EBADREQ;
    }
    mqc_login_cleanup(l);
    l->password = strdup(buf);
    sodium_memzero(buf, sizeof buf);
    if (!l->password) {
        fprintf(stderr, "mqchat: out of memory\n");
        return MQC_ENOMEM;
    }
    return MQC_OK;
}
