/* `mqchat user add|passwd|del|list|sessions|revoke`: user administration
 * straight against Redis (a password change, a revoke and a delete end
 * device sessions and disconnect their devices on every node). Passwords come from stdin only
 * (never argv, which other users can see in ps), are hashed with argon2id here and never stored or
 * printed. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cli/cli.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/id.h"
#include "core/password.h"
#include "core/session_token.h"

/* Read one password line from stdin into buf; strips the trailing newline. */
static int read_password(char *buf, size_t size)
{
    if (!fgets(buf, (int)size, stdin)) {
        fprintf(stderr, "mqchat: no password on stdin\n");
        return MQC_EBADREQ;
    }
    size_t len = strcspn(buf, "\r\n");
    if (buf[len] == '\0' && len == size - 1) {
        fprintf(stderr, "mqchat: password longer than %d bytes\n", MQC_PASSWORD_MAX);
        return MQC_EBADREQ;
    }
    buf[len] = '\0';
    if (len == 0) {
        fprintf(stderr, "mqchat: empty password\n");
        return MQC_EBADREQ;
    }
    return MQC_OK;
}

static int check_name(const char *name)
{
    if (mqc_id_valid_str(name))
        return MQC_OK;
    fprintf(stderr, "mqchat: invalid user name '%s': use 1-64 characters of A-Z a-z 0-9 _ . -\n",
            name);
    return MQC_EBADREQ;
}

static int report(int rc, const char *what, const char *name, struct mqc_store *s)
{
    switch (rc) {
    case MQC_OK:
        printf("%s %s\n", what, name);
        return 0;
    case MQC_EEXIST:
        fprintf(stderr, "mqchat: user '%s' already exists\n", name);
        return 1;
    case MQC_ENOTFOUND:
        fprintf(stderr, "mqchat: no such user '%s'\n", name);
        return 1;
    case MQC_EUNAVAIL:
        fprintf(stderr, "mqchat: Redis failed: %s\n", mqc_store_last_error(s));
        return 1;
    default:
        fprintf(stderr, "mqchat: %s\n", mqc_err_str(rc));
        return 1;
    }
}

/* add and passwd: name, --password-stdin, hash, store. */
static int set_password(const struct mqc_cli *cli, int argc, char **argv, int adding)
{
    if (argc != 4 || strcmp(argv[3], "--password-stdin") != 0) {
        fprintf(stderr, "usage: mqchat user %s NAME --password-stdin\n", argv[1]);
        return 2;
    }
    const char *name = argv[2];
    char pw[MQC_PASSWORD_MAX + 2], hash[MQC_PASSWORD_HASH_MAX];
    if (check_name(name) != MQC_OK || read_password(pw, sizeof pw) != MQC_OK)
        return 2;
    if (mqc_password_init() != MQC_OK ||
        mqc_password_hash(pw, strlen(pw), hash, sizeof hash) != MQC_OK) {
        sodium_memzero(pw, sizeof pw);
        fprintf(stderr, "mqchat: cannot hash the password\n");
        return 1;
    }
    sodium_memzero(pw, sizeof pw);
    struct mqc_store *s = mqc_cli_store(cli);
    if (!s)
        return 1;
    int rc = adding ? mqc_store_user_add(s, name, hash, mqc_clock_wall_ms())
                    : mqc_store_user_passwd(s, name, hash);
    int code = report(rc, adding ? "added user" : "changed password (and ended every session) of",
                      name, s);
    mqc_store_free(s);
    return code;
}

/* ---- sessions, revoke: queued store calls run by one flush ---- */

struct sess_out {
    int rc;
    long long n;
};

static void iso_time(int64_t ms, char *buf, size_t size)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, size, "%lld", (long long)ms);
}

static void print_sessions(void *ctx, int rc, const char *const *v, const size_t *lens, size_t n)
{
    struct sess_out *o = ctx;
    o->rc = rc;
    int64_t now = mqc_clock_wall_ms();
    for (size_t i = 0; rc == MQC_OK && i < n; i++) {
        struct mqc_sess_record r;
        if (mqc_sess_record_parse(v[2 * i + 1], lens[2 * i + 1], &r) != MQC_OK || r.expires <= now)
            continue;
        char c[32], u[32], e[32];
        iso_time(r.created, c, sizeof c);
        iso_time(r.last_used, u, sizeof u);
        iso_time(r.expires, e, sizeof e);
        printf("%s\t%s\t%s\t%s\t%s\n", v[2 * i], r.label[0] ? r.label : "-", c, u, e);
        o->n++;
    }
}

static void count_ended(void *ctx, int rc, long long n)
{
    struct sess_out *o = ctx;
    o->rc = rc;
    o->n = n;
}

/* user sessions NAME; user revoke NAME DEVICE|--all. */
static int sessions_cmd(const struct mqc_cli *cli, char **argv)
{
    bool revoke = !strcmp(argv[1], "revoke");
    if (check_name(argv[2]) != MQC_OK)
        return 2;
    const char *device = revoke && strcmp(argv[3], "--all") != 0 ? argv[3] : NULL;
    if (device && !mqc_sess_device_valid(device)) {
        fprintf(stderr, "mqchat: '%s' is not a device id (see mqchat user sessions %s)\n", device,
                argv[2]);
        return 2;
    }
    struct mqc_store *s = mqc_cli_store(cli);
    if (!s)
        return 1;
    struct sess_out o = {MQC_EUNAVAIL, 0};
    int rc = revoke ? mqc_store_session_end(s, argv[2], device, count_ended, &o)
                    : mqc_store_sessions(s, argv[2], print_sessions, &o);
    if (rc == MQC_OK) {
        mqc_store_flush(s, mqc_clock_mono_ms());
        /* On a cluster the revoke's reply queues the kick (store/session.c):
         * send it too. */
        mqc_store_flush(s, mqc_clock_mono_ms());
    } else
        o.rc = rc;
    int code = 0;
    if (o.rc != MQC_OK)
        code = report(o.rc, "", argv[2], s);
    else if (revoke && device && o.n == 0) {
        fprintf(stderr, "mqchat: user '%s' has no session on device '%s'\n", argv[2], device);
        code = 1;
    } else if (revoke)
        printf("ended %lld session(s) of %s\n", o.n, argv[2]);
    mqc_store_free(s);
    return code;
}

static void print_user(const char *user, void *ctx)
{
    (void)ctx;
    printf("%s\n", user);
}

/* `user del` says what it did in each conversation (a run stopped half-way
 * and run again shows "already done" for those the first run did). */
static void del_step(const char *conv, const char *what, void *ctx)
{
    (void)ctx;
    const char *text = !strcmp(what, "left")      ? "left group"
                       : !strcmp(what, "direct")  ? "left direct conversation"
                       : !strcmp(what, "deleted") ? "deleted conversation (no member left)"
                                                  : "already out of conversation";
    printf("%s %s\n", text, conv);
}

int mqc_cli_user(const struct mqc_cli *cli, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";
    if (!strcmp(sub, "add") || !strcmp(sub, "passwd"))
        return set_password(cli, argc, argv, !strcmp(sub, "add"));
    if (!strcmp(sub, "del") && argc == 3) {
        if (check_name(argv[2]) != MQC_OK)
            return 2;
        struct mqc_store *s = mqc_cli_store(cli);
        if (!s)
            return 1;
        long long groups = 0;
        int code = report(
            mqc_store_user_del_steps(s, argv[2], mqc_clock_wall_ms(), &groups, del_step, NULL),
            "deleted user", argv[2], s);
        if (code == 0 && groups > 0)
            printf("left %lld group(s)\n", groups);
        mqc_store_free(s);
        return code;
    }
    if ((!strcmp(sub, "sessions") && argc == 3) || (!strcmp(sub, "revoke") && argc == 4))
        return sessions_cmd(cli, argv);
    if (!strcmp(sub, "list") && argc == 2) {
        struct mqc_store *s = mqc_cli_store(cli);
        if (!s)
            return 1;
        int rc = mqc_store_user_list(s, print_user, NULL);
        int code = rc == MQC_OK ? 0 : report(rc, "", "", s);
        mqc_store_free(s);
        return code;
    }
    fprintf(stderr, "usage: mqchat user add NAME --password-stdin | user passwd NAME "
                    "--password-stdin | user del NAME | user list | user sessions NAME | "
                    "user revoke NAME DEVICE|--all\n");
    return 2;
}
