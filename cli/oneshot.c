/* The one-shot MQTT subcommands, for scripts and tests:
 *   mqchat send   publish one message, wait for its own echo ("sent seq N")
 *   mqchat listen print every inbox event as one JSON line
 *   mqchat req    send one request, print the res/err reply
 * Each signs in, subscribes to its inbox, does its one thing from the ready
 * callback and then drives the connection until its answer arrives or its
 * deadline passes; send and req share that runner (run_until_answer).
 * Exit codes: 0 done, 1 failed (refused, error event, timeout), 2 bad usage.
 *
 * Pointer parameters of the static functions here are borrowed unless their
 * comment says otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "cli/session.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/id.h"

/* The string member key of o, or NULL if absent or not a string. Borrowed. */
static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool str_eq(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

/* Common argument loop state: --user, --mqtt, --timeout and the rest. */
struct args {
    struct mqc_login login;
    int timeout_s;
};

static void args_init(struct args *a, const struct mqc_cli *cli)
{
    mqc_login_init(&a->login);
    mqc_login_default_mqtt(&a->login, cli->mqtt);
    a->timeout_s = MQC_SESSION_TIMEOUT_S;
}

/* Finish the sign-in options and catch signals: 0 ready, else the exit code
 * (2 for a usage problem such as no user or password, 1 otherwise). */
static int args_finish(struct args *a)
{
    int rc = mqc_login_finish(&a->login);
    if (rc != MQC_OK)
        return rc == MQC_ENOMEM ? 1 : 2;
    return mqc_session_catch_signals() == MQC_OK ? 0 : 1;
}

/* 1 taken, 0 not a shared option, -1 bad (printed). */
static int args_shared(struct args *a, int argc, char **argv, int *i)
{
    int r = mqc_login_option(&a->login, argc, argv, i);
    if (r != 0)
        return r;
    return mqc_session_timeout_option(argc, argv, i, &a->timeout_s);
}

/* Drive c until *done is set, the deadline passes or a signal arrives.
 * Returns MQC_OK when done, MQC_EUNAVAIL on timeout, MQC_EINTERNAL on a
 * signal, or the client's fatal error. */
static int drive(struct mqc_client *c, const bool *done, int64_t deadline)
{
    while (!*done) {
        if (mqc_session_stop_count())
            return MQC_EINTERNAL;
        int64_t left = deadline - mqc_clock_mono_ms();
        if (left <= 0)
            return MQC_EUNAVAIL;
        int rc = mqc_client_run(c, -1, left > 1000 ? 1000 : (int)left, NULL);
        if (rc != MQC_OK)
            return rc;
    }
    return MQC_OK;
}

/* The outcome a command waiting for one answer fills in from its
 * callbacks. */
struct answer {
    bool done;
    int exit_code; /* when done */
};

/* The runner of send and req: sign in as a->login, let cb (borrowed; its
 * ready callback publishes) work until ans->done or a->timeout_s pass, then
 * disconnect. what and ref (borrowed) name the awaited answer in the
 * timeout message: "no <what> within N s (<ref>)". Returns the exit code. */
static int run_until_answer(struct args *a, const struct mqc_client_cb *cb,
                            const struct answer *ans, const char *what, const char *ref)
{
    int code = args_finish(a);
    if (code != 0)
        return code;
    struct mqc_client *c = NULL;
    int64_t deadline = mqc_clock_mono_ms() + (int64_t)a->timeout_s * 1000;
    if (mqc_session_open(&a->login, cb, a->timeout_s * 1000, &c) != MQC_OK)
        return 1;
    int rc = drive(c, &ans->done, deadline);
    if (rc == MQC_EUNAVAIL)
        fprintf(stderr, "mqchat: no %s within %d s (%s)\n", what, a->timeout_s, ref);
    else if (rc == MQC_EAUTH)
        fprintf(stderr, "mqchat: the broker refused the user on reconnect\n");
    else if (rc == MQC_EINTERNAL)
        fprintf(stderr, "mqchat: interrupted before the %s came (%s)\n", what, ref);
    else if (rc != MQC_OK)
        fprintf(stderr, "mqchat: %s\n", mqc_client_last_error(c));
    code = ans->done ? ans->exit_code : 1;
    (void)mqc_client_close(c, 1000);
    mqc_client_free(c);
    return code;
}

/* ---- send ---- */

struct send_op {
    struct answer ans;
    const char *conv; /* borrowed from argv */
    char id[MQC_CLIENT_ID_SIZE];
    cJSON *payload; /* owned */
};

/* (Re)publish on every ready: the server keeps one copy per id, so a resend
 * after a reconnect cannot duplicate the message. */
static void send_ready(void *ctx, struct mqc_client *c, bool first)
{
    (void)first;
    struct send_op *s = ctx;
    int rc = mqc_client_publish_conv(c, s->conv, "send", s->payload, 1);
    if (rc != MQC_OK && rc != MQC_EUNAVAIL) {
        fprintf(stderr, "mqchat: cannot publish: %s\n", mqc_err_str(rc));
        s->ans = (struct answer){.done = true, .exit_code = 1};
    }
}

static void send_event(void *ctx, struct mqc_client *c, const char *payload, size_t len)
{
    (void)len;
    struct send_op *s = ctx;
    cJSON *ev = cJSON_Parse(payload);
    const char *t = str_of(ev, "t");
    if (str_eq(t, "msg") && str_eq(str_of(ev, "id"), s->id) &&
        str_eq(str_of(ev, "from"), mqc_client_user(c)) && str_eq(str_of(ev, "conv"), s->conv)) {
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(ev, "seq");
        printf("sent seq %lld\n", cJSON_IsNumber(seq) ? (long long)seq->valuedouble : -1LL);
        s->ans = (struct answer){.done = true, .exit_code = 0};
    } else if (str_eq(t, "err") && str_eq(str_of(ev, "id"), s->id)) {
        const char *code = str_of(ev, "code"), *msg = str_of(ev, "msg");
        fprintf(stderr, "mqchat: %s: %s\n", code ? code : "error", msg ? msg : "");
        s->ans = (struct answer){.done = true, .exit_code = 1};
    }
    cJSON_Delete(ev);
}

/* Join argv[from..argc) with single spaces into an owned string. */
static char *join_args(int argc, char **argv, int from)
{
    size_t len = 1;
    for (int i = from; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *s = malloc(len), *p = s;
    if (!s)
        return NULL;
    for (int i = from; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (i > from)
            *p++ = ' ';
        memcpy(p, argv[i], n);
        p += n;
    }
    *p = '\0';
    return s;
}

int mqc_cli_send(const struct mqc_cli *cli, int argc, char **argv)
{
    static const char use[] =
        "usage: mqchat send --user NAME [--mqtt HOST:PORT] [--timeout S] --conv CONV TEXT...\n";
    struct args a;
    struct send_op s = {.ans.exit_code = 1};
    char *body = NULL;
    int code = 2, i = 1;
    args_init(&a, cli);
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        int r = args_shared(&a, argc, argv, &i);
        if (r < 0)
            goto out;
        if (r == 0 && !strcmp(argv[i], "--conv") && i + 1 < argc)
            s.conv = argv[++i];
        else if (r == 0 && !strcmp(argv[i], "--")) {
            i++;
            break;
        } else if (r == 0) {
            fprintf(stderr, "mqchat: unknown or incomplete option '%s'\n%s", argv[i], use);
            goto out;
        }
    }
    if (!s.conv || i >= argc) {
        fputs(use, stderr);
        goto out;
    }
    if (!mqc_id_valid_str(s.conv)) {
        fprintf(stderr, "mqchat: invalid conversation id '%s'\n", s.conv);
        goto out;
    }
    code = 1;
    body = join_args(argc, argv, i);
    s.payload = cJSON_CreateObject();
    if (!body || !s.payload || mqc_client_make_id("m", s.id, sizeof s.id) != MQC_OK ||
        !cJSON_AddStringToObject(s.payload, "id", s.id) ||
        !cJSON_AddStringToObject(s.payload, "body", body)) {
        fprintf(stderr, "mqchat: out of memory\n");
        goto out;
    }
    char ref[MQC_CLIENT_ID_SIZE + 8];
    snprintf(ref, sizeof ref, "id %s", s.id);
    struct mqc_client_cb cb = {.ready = send_ready, .event = send_event, .ctx = &s};
    code = run_until_answer(&a, &cb, &s.ans, "acknowledgement", ref);
out:
    cJSON_Delete(s.payload);
    free(body);
    mqc_login_cleanup(&a.login);
    return code;
}

/* ---- listen ---- */

struct listen_op {
    long count; /* stop after this many events; 0 = never */
    long seen;
    bool done;
    bool failed; /* stdout went away */
};

static void listen_ready(void *ctx, struct mqc_client *c, bool first)
{
    (void)ctx;
    /* On stderr, so stdout stays pure JSON lines; scripts may wait for it. */
    if (first)
        fprintf(stderr, "mqchat: listening as %s\n", mqc_client_user(c));
    else
        fprintf(stderr, "mqchat: reconnected\n");
}

static void listen_lost(void *ctx, const char *why)
{
    (void)ctx;
    fprintf(stderr, "mqchat: %s; reconnecting\n", why);
}

/* Print the event as one line: the payload as it came when it is a JSON
 * object on one line (the server's are), else re-encoded compactly; what is
 * not JSON is skipped with a note on stderr. */
static void listen_event(void *ctx, struct mqc_client *c, const char *payload, size_t len)
{
    (void)c;
    struct listen_op *l = ctx;
    if (l->done)
        return;
    cJSON *ev = cJSON_ParseWithLength(payload, len);
    if (!cJSON_IsObject(ev)) {
        fprintf(stderr, "mqchat: skipped an inbox message that is not a JSON object\n");
        cJSON_Delete(ev);
        return;
    }
    int ok;
    if (!memchr(payload, '\n', len) && !memchr(payload, '\r', len)) {
        ok = fwrite(payload, 1, len, stdout) == len;
    } else {
        char *compact = cJSON_PrintUnformatted(ev);
        ok = compact && fputs(compact, stdout) >= 0;
        cJSON_free(compact);
    }
    cJSON_Delete(ev);
    if (!ok || putchar('\n') == EOF || fflush(stdout) != 0) {
        l->failed = true;
        l->done = true;
        return;
    }
    if (l->count > 0 && ++l->seen >= l->count)
        l->done = true;
}

int mqc_cli_listen(const struct mqc_cli *cli, int argc, char **argv)
{
    static const char use[] = "usage: mqchat listen --user NAME [--mqtt HOST:PORT] [--count N]\n";
    struct args a;
    struct listen_op l = {0};
    struct mqc_client *c = NULL;
    int code = 2;
    args_init(&a, cli);
    for (int i = 1; i < argc; i++) {
        int r = args_shared(&a, argc, argv, &i);
        if (r < 0)
            goto out;
        if (r == 1)
            continue;
        if (!strcmp(argv[i], "--count") && i + 1 < argc) {
            char *end;
            l.count = strtol(argv[++i], &end, 10);
            if (end == argv[i] || *end != '\0' || l.count < 1) {
                fprintf(stderr, "mqchat: bad --count '%s' (want a number >= 1)\n", argv[i]);
                goto out;
            }
        } else {
            fprintf(stderr, "mqchat: unknown or incomplete option '%s'\n%s", argv[i], use);
            goto out;
        }
    }
    code = args_finish(&a);
    if (code != 0)
        goto out;
    code = 1;
    struct mqc_client_cb cb = {
        .ready = listen_ready, .event = listen_event, .lost = listen_lost, .ctx = &l};
    if (mqc_session_open(&a.login, &cb, a.timeout_s * 1000, &c) != MQC_OK)
        goto out;
    while (!l.done && !mqc_session_stop_count()) {
        int rc = mqc_client_run(c, -1, 1000, NULL);
        if (rc == MQC_EAUTH) {
            fprintf(stderr, "mqchat: the broker refused the user on reconnect\n");
            goto out;
        } else if (rc != MQC_OK) {
            fprintf(stderr, "mqchat: %s\n", mqc_client_last_error(c));
            goto out;
        }
    }
    code = l.failed ? 1 : 0;
    (void)mqc_client_close(c, 1000);
out:
    mqc_client_free(c);
    mqc_login_cleanup(&a.login);
    return code;
}

/* ---- req ---- */

struct req_op {
    struct answer ans;
    cJSON *request; /* owned */
    char req[MQC_ID_MAX + 1];
    bool sent;
};

/* Publish the request once: a reconnect does not repeat it, since requests
 * like a group create are not idempotent. */
static void req_ready(void *ctx, struct mqc_client *c, bool first)
{
    (void)first;
    struct req_op *r = ctx;
    if (r->sent)
        return;
    int rc = mqc_client_publish_req(c, r->request);
    if (rc != MQC_OK) {
        fprintf(stderr, "mqchat: cannot publish the request: %s\n", mqc_err_str(rc));
        r->ans = (struct answer){.done = true, .exit_code = 1};
        return;
    }
    r->sent = true;
}

/* The reply is the res or err carrying our req; an err carrying neither req
 * nor id is the server saying our req field itself was unusable. */
static void req_event(void *ctx, struct mqc_client *c, const char *payload, size_t len)
{
    (void)c;
    struct req_op *r = ctx;
    if (r->ans.done)
        return;
    cJSON *ev = cJSON_ParseWithLength(payload, len);
    const char *t = str_of(ev, "t");
    const char *req = str_of(ev, "req");
    bool ours =
        str_eq(req, r->req) || (str_eq(t, "err") && !cJSON_GetObjectItemCaseSensitive(ev, "req") &&
                                !cJSON_GetObjectItemCaseSensitive(ev, "id"));
    if (ours && (str_eq(t, "res") || str_eq(t, "err"))) {
        printf("%.*s\n", (int)len, payload);
        (void)fflush(stdout);
        r->ans = (struct answer){.done = true, .exit_code = str_eq(t, "res") ? 0 : 1};
    }
    cJSON_Delete(ev);
}

int mqc_cli_req(const struct mqc_cli *cli, int argc, char **argv)
{
    static const char use[] =
        "usage: mqchat req --user NAME [--mqtt HOST:PORT] [--timeout S] JSON\n"
        "  e.g. mqchat req --user alice "
        "'{\"op\":\"create\",\"kind\":\"direct\",\"with\":\"bob\"}'\n";
    struct args a;
    struct req_op r = {.ans.exit_code = 1};
    const char *json = NULL;
    int code = 2;
    args_init(&a, cli);
    for (int i = 1; i < argc; i++) {
        int got = args_shared(&a, argc, argv, &i);
        if (got < 0)
            goto out;
        if (got == 1)
            continue;
        if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "mqchat: unknown or incomplete option '%s'\n%s", argv[i], use);
            goto out;
        }
        if (json) {
            fprintf(stderr, "mqchat: one JSON request only\n%s", use);
            goto out;
        }
        json = argv[i];
    }
    if (!json) {
        fputs(use, stderr);
        goto out;
    }
    r.request = cJSON_Parse(json);
    if (!cJSON_IsObject(r.request)) {
        fprintf(stderr, "mqchat: the request is not a JSON object: %s\n", json);
        goto out;
    }
    code = 1;
    const cJSON *given = cJSON_GetObjectItemCaseSensitive(r.request, "req");
    if (cJSON_IsString(given)) {
        snprintf(r.req, sizeof r.req, "%s", given->valuestring);
    } else if (!given) {
        if (mqc_client_make_id("r", r.req, sizeof r.req) != MQC_OK ||
            !cJSON_AddStringToObject(r.request, "req", r.req)) {
            fprintf(stderr, "mqchat: out of memory\n");
            goto out;
        }
    } /* a non-string req is sent as is: the server answers with an err */
    char ref[MQC_ID_MAX + 8];
    snprintf(ref, sizeof ref, "req %s", r.req);
    struct mqc_client_cb cb = {.ready = req_ready, .event = req_event, .ctx = &r};
    code = run_until_answer(&a, &cb, &r.ans, "reply", ref);
out:
    cJSON_Delete(r.request);
    mqc_login_cleanup(&a.login);
    return code;
}
