/* mqc_bench_tokens: device sessions for benchmark users without 19,900
 * password logins. Reads user names (one a line) on stdin; for each, makes
 * a token exactly as the `session` request does (core/session_token.h),
 * writes "user token" to --out, and prints on stdout the Redis commands
 * (RESP, for redis-cli --pipe) that store its record in <prefix>{u:U}:sess,
 * hashed with the key the broker is given as plugin_opt_session_secret
 * ($MQC_BENCH_SESSION_SECRET: never on the command line).
 * Usage: mqc_bench_tokens --out PATH [--prefix P] [--days N] < names */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/id.h"
#include "core/password.h"
#include "core/session_token.h"

static void arg(const char *s)
{
    printf("$%zu\r\n%s\r\n", strlen(s), s);
}

int main(int argc, char **argv)
{
    const char *out = NULL, *prefix = "mqchat:";
    long days = 90;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--out"))
            out = argv[i + 1];
        else if (!strcmp(argv[i], "--prefix"))
            prefix = argv[i + 1];
        else if (!strcmp(argv[i], "--days"))
            days = atol(argv[i + 1]);
    }
    const char *secret = getenv("MQC_BENCH_SESSION_SECRET");
    if (!out || !secret || !*secret || days < 1 || mqc_password_init() != MQC_OK) {
        fprintf(stderr, "usage: MQC_BENCH_SESSION_SECRET=... mqc_bench_tokens --out PATH "
                        "[--prefix P] [--days N] < names\n");
        return 2;
    }
    FILE *f = fopen(out, "w");
    if (!f) {
        perror(out);
        return 1;
    }
    unsigned char key[MQC_SESS_KEY_BYTES];
    mqc_sess_key(secret, key);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    char user[256];
    while (fgets(user, sizeof user, stdin)) {
        user[strcspn(user, "\r\n")] = '\0';
        if (!mqc_id_valid_str(user))
            continue;
        struct mqc_sess_token t;
        char tok[MQC_SESS_TOKEN_LEN + 1], key_name[600], rec[MQC_SESS_RECORD_MAX];
        struct mqc_sess_record r = {
            .created = now, .last_used = now, .expires = now + days * 86400000LL};
        snprintf(r.label, sizeof r.label, "bench");
        if (mqc_sess_new(NULL, &t, tok, sizeof tok) != MQC_OK)
            return 1;
        mqc_sess_hash(key, user, &t, r.hash);
        if (mqc_sess_record_format(&r, rec, sizeof rec) != MQC_OK)
            return 1;
        snprintf(key_name, sizeof key_name, "%s{u:%s}:sess", prefix, user);
        printf("*4\r\n");
        arg("HSET");
        arg(key_name);
        arg(t.device);
        arg(rec);
        fprintf(f, "%s %s\n", user, tok);
    }
    return fclose(f) == 0 ? 0 : 1;
}
