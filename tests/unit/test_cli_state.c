/* Unit tests for cli/state.h: where the terminal client keeps its sync
 * position (directory choice, file name from user, host and port), the
 * atomic write and read back with private modes, and that a missing,
 * garbage or oversized file is told apart from a good one. Works in a
 * fresh directory under $TMPDIR (or /tmp), removed at the end. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/state.h"
#include "core/err.h"
#include "tests/unit/test.h"

static char root[512]; /* the test's temporary directory */

/* Write len bytes of text to path (replacing it); false on failure. */
static bool put_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(text, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

/* Mode bits (0777) of path, or -1. */
static int mode_of(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (int)(sb.st_mode & 0777) : -1;
}

/* Remove path and, if a directory, everything under it. */
static void rm_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char sub[1024];
            if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) < (int)sizeof sub)
                rm_tree(sub);
        }
        closedir(d);
        (void)rmdir(path);
    } else {
        (void)unlink(path);
    }
}

TEST(dir_precedence)
{
    char dir[MQC_STATE_PATH_MAX];
    struct mqc_state_env env = {"/s/dir", "/x/state", "/home/u"};
    CHECK_EQ_INT(mqc_state_dir(&env, dir, sizeof dir), MQC_OK);
    CHECK_STR(dir, "/s/dir");
    env.state_dir = "";
    CHECK_EQ_INT(mqc_state_dir(&env, dir, sizeof dir), MQC_OK);
    CHECK_STR(dir, "/x/state/mqchat");
    env.state_dir = NULL;
    env.xdg_state_home = "relative/state"; /* the XDG spec says: ignore */
    CHECK_EQ_INT(mqc_state_dir(&env, dir, sizeof dir), MQC_OK);
    CHECK_STR(dir, "/home/u/.local/state/mqchat");
    env.xdg_state_home = NULL;
    CHECK_EQ_INT(mqc_state_dir(&env, dir, sizeof dir), MQC_OK);
    CHECK_STR(dir, "/home/u/.local/state/mqchat");
    env.home = "";
    CHECK_EQ_INT(mqc_state_dir(&env, dir, sizeof dir), MQC_ENOTFOUND);
    env.home = "/home/u";
    char small[10];
    CHECK_EQ_INT(mqc_state_dir(&env, small, sizeof small), MQC_ETOOLARGE);
}

TEST(path_building)
{
    char p[MQC_STATE_PATH_MAX];
    CHECK_EQ_INT(mqc_state_path("/d", "alice", "127.0.0.1", 1883, p, sizeof p), MQC_OK);
    CHECK_STR(p, "/d/alice@127.0.0.1_1883.state");
    CHECK_EQ_INT(mqc_state_path("/d/", "bob", "chat.example.com", 8883, p, sizeof p), MQC_OK);
    CHECK_STR(p, "/d/bob@chat.example.com_8883.state");
    /* An IPv6 address keeps its digits; nothing in a host makes a '/'. */
    CHECK_EQ_INT(mqc_state_path("/d", "a.b-c_d", "::1", 1, p, sizeof p), MQC_OK);
    CHECK_STR(p, "/d/a.b-c_d@__1_1.state");
    CHECK_EQ_INT(mqc_state_path("/d", "u", "../../etc/x", 65535, p, sizeof p), MQC_OK);
    CHECK_STR(p, "/d/u@.._.._etc_x_65535.state");
    CHECK_EQ_INT(mqc_state_path("/d", "bad/user", "h", 1883, p, sizeof p), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_state_path("/d", "", "h", 1883, p, sizeof p), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_state_path("/d", "u", "", 1883, p, sizeof p), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_state_path("/d", "u", "h", 0, p, sizeof p), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_state_path("/d", "u", "h", 65536, p, sizeof p), MQC_EBADREQ);
    char small[16];
    CHECK_EQ_INT(mqc_state_path("/d", "alice", "127.0.0.1", 1883, small, sizeof small),
                 MQC_ETOOLARGE);
}

TEST(token_valid)
{
    CHECK(mqc_state_token_valid("t1.1764294000123-0.5e1f0a3b"));
    CHECK(!mqc_state_token_valid(""));
    CHECK(!mqc_state_token_valid("has space"));
    CHECK(!mqc_state_token_valid("tab\there"));
    CHECK(!mqc_state_token_valid("caf\xc3\xa9"));
    char big[MQC_STATE_TOKEN_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK(!mqc_state_token_valid(big));
    big[MQC_STATE_TOKEN_MAX] = '\0';
    CHECK(mqc_state_token_valid(big));
}

TEST(mkdir_creates_private_parents)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/a/b/c", root);
    if (!CHECK_EQ_INT(mqc_state_mkdir(dir), MQC_OK))
        return;
    CHECK_EQ_INT(mode_of(dir), 0700);
    char mid[1024];
    snprintf(mid, sizeof mid, "%s/a", root);
    CHECK_EQ_INT(mode_of(mid), 0700);
    CHECK_EQ_INT(mqc_state_mkdir(dir), MQC_OK); /* again: already there */
    /* A file in the way is not a directory. */
    char file[1024];
    snprintf(file, sizeof file, "%s/plainfile", root);
    CHECK(put_file(file, "x", 1));
    CHECK_EQ_INT(mqc_state_mkdir(file), MQC_EINTERNAL);
    CHECK_EQ_INT(errno, ENOTDIR);
}

TEST(round_trip_atomic_private)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/alice@h_1883.state", root);
    struct mqc_state st = {.nshown = 0}, back;
    snprintf(st.token, sizeof st.token, "t1.1764294000123-0.5e1f0a3b");
    if (!CHECK_EQ_INT(mqc_state_save(p, &st), MQC_OK))
        return;
    CHECK_EQ_INT(mode_of(p), 0600);
    CHECK_EQ_INT(mqc_state_load(p, &back), MQC_OK);
    CHECK_STR(back.token, st.token);
    /* Overwrite: the new token replaces the old, no temporary file stays. */
    snprintf(st.token, sizeof st.token, "t1.1764294000999-3.5e1f0a3b");
    CHECK_EQ_INT(mqc_state_save(p, &st), MQC_OK);
    CHECK_EQ_INT(mqc_state_load(p, &back), MQC_OK);
    CHECK_STR(back.token, "t1.1764294000999-3.5e1f0a3b");
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", p, (long)getpid());
    CHECK_EQ_INT(access(tmp, F_OK), -1);
    /* An empty state is written and read as such. */
    st.token[0] = '\0';
    CHECK_EQ_INT(mqc_state_save(p, &st), MQC_OK);
    CHECK_EQ_INT(mqc_state_load(p, &back), MQC_OK);
    CHECK_STR(back.token, "");
    /* A bad token is refused and the file left as it was. */
    snprintf(st.token, sizeof st.token, "two words");
    CHECK_EQ_INT(mqc_state_save(p, &st), MQC_EBADREQ);
    CHECK_EQ_INT(mqc_state_load(p, &back), MQC_OK);
    CHECK_STR(back.token, "");
}

TEST(save_into_missing_dir_fails_cleanly)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/no/such/dir/u@h_1.state", root);
    struct mqc_state st = {.nshown = 0};
    snprintf(st.token, sizeof st.token, "tok");
    CHECK_EQ_INT(mqc_state_save(p, &st), MQC_EINTERNAL);
    CHECK_EQ_INT(errno, ENOENT);
}

TEST(missing_file)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/nobody@h_1.state", root);
    struct mqc_state st;
    memset(&st, 'x', sizeof st);
    CHECK_EQ_INT(mqc_state_load(p, &st), MQC_ENOTFOUND);
    CHECK_STR(st.token, "");
}

/* Load text as a state file; returns the result, *st filled. */
static int load_text(const char *text, size_t len, struct mqc_state *st)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/g.state", root);
    if (!CHECK(put_file(p, text, len)))
        return MQC_EINTERNAL;
    return mqc_state_load(p, st);
}

TEST(garbage_files)
{
    struct mqc_state st;
    static const char *const bad[] = {
        "",                                  /* empty */
        "token t1.1-0.aa\n",                 /* no magic line */
        "mqchat-state 2\ntoken t1.1-0.aa\n", /* another version */
        "mqchat-state 1\ntoken \n",          /* empty token */
        "mqchat-state 1\ntoken a b\n",       /* token with a space */
        "mqchat-state 1\nnonsense\n",        /* a line without a value */
        "\x7f\x45LF\x02\x01",                /* binary */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_EQ_INT(load_text(bad[i], strlen(bad[i]), &st), MQC_EBADREQ);
        CHECK_STR(st.token, "");
    }
    /* A NUL inside. */
    static const char nul[] = "mqchat-state 1\ntoken t1\0x\n";
    CHECK_EQ_INT(load_text(nul, sizeof nul - 1, &st), MQC_EBADREQ);
    /* Far too large to be ours. */
    size_t n = 100000;
    char *big = malloc(n);
    if (CHECK(big != NULL)) {
        memset(big, 'a', n);
        memcpy(big, "mqchat-state 1\ntoken ", 21);
        CHECK_EQ_INT(load_text(big, n, &st), MQC_EBADREQ);
        CHECK_STR(st.token, "");
    }
    free(big);
}

TEST(unknown_keys_ignored)
{
    struct mqc_state st;
    static const char text[] = "mqchat-state 1\nclient mqchat-bob-1\ntoken t1.5-0.ab\n";
    CHECK_EQ_INT(load_text(text, strlen(text), &st), MQC_OK);
    CHECK_STR(st.token, "t1.5-0.ab");
    static const char noeol[] = "mqchat-state 1\ntoken t1.6-0.ab";
    CHECK_EQ_INT(load_text(noeol, strlen(noeol), &st), MQC_OK);
    CHECK_STR(st.token, "t1.6-0.ab");
}

/* The device session token is kept beside the sync token, and alone. */
TEST(session_round_trip)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/carol@h_1883.state", root);
    struct mqc_state st = {.nshown = 0}, back;
    snprintf(st.session, sizeof st.session,
             "s1.AbCdEfGhIjK.0123456789abcdefghijklmnopqrstuvwxyzABCDEFG");
    if (!CHECK_EQ_INT(mqc_state_save(p, &st), MQC_OK))
        return;
    CHECK_EQ_INT(mqc_state_load(p, &back), MQC_OK);
    CHECK_STR(back.session, st.session);
    CHECK_STR(back.token, "");
    snprintf(st.token, sizeof st.token, "t1.5-0.ab");
    CHECK_EQ_INT(mqc_state_save(p, &st), MQC_OK);
    CHECK_EQ_INT(mqc_state_load(p, &back), MQC_OK);
    CHECK_STR(back.session, st.session);
    CHECK_STR(back.token, "t1.5-0.ab");
    st.session[0] = '\0';
    CHECK_EQ_INT(mqc_state_save(p, &st), MQC_OK);
    CHECK_EQ_INT(mqc_state_load(p, &back), MQC_OK);
    CHECK_STR(back.session, "");
    snprintf(st.session, sizeof st.session, "two words");
    CHECK_EQ_INT(mqc_state_save(p, &st), MQC_EBADREQ);
    static const char bad[] = "mqchat-state 1\nsession \x01\n";
    CHECK_EQ_INT(load_text(bad, strlen(bad), &back), MQC_EBADREQ);
}

TEST(shown_runs)
{
    static struct mqc_state st;
    memset(&st, 0, sizeof st);
    CHECK(!mqc_state_shown_has(&st, "c1", 1));
    CHECK(mqc_state_shown_add(&st, "c1", 5));
    CHECK(!mqc_state_shown_add(&st, "c1", 5)); /* already */
    CHECK(mqc_state_shown_add(&st, "c1", 6));  /* grows up */
    CHECK(mqc_state_shown_add(&st, "c1", 4));  /* grows down */
    CHECK(mqc_state_shown_add(&st, "c2", 6));  /* another conv: its own run */
    CHECK(mqc_state_shown_add(&st, "c1", 9));  /* a gap: a new run */
    CHECK_EQ_INT((long)st.nshown, 3);
    CHECK(mqc_state_shown_has(&st, "c1", 4) && mqc_state_shown_has(&st, "c1", 6));
    CHECK(!mqc_state_shown_has(&st, "c1", 7) && !mqc_state_shown_has(&st, "c2", 5));
    /* 8 then 7 join the two runs of c1 into 4..9. */
    CHECK(mqc_state_shown_add(&st, "c1", 8));
    CHECK(mqc_state_shown_add(&st, "c1", 7));
    CHECK_EQ_INT((long)st.nshown, 2);
    CHECK_STR(st.shown[1].conv, "c1"); /* the most recent last */
    CHECK_EQ_INT(st.shown[1].lo, 4);
    CHECK_EQ_INT(st.shown[1].hi, 9);
    /* Unusable arguments. */
    CHECK(!mqc_state_shown_add(&st, "c1", 0));
    CHECK(!mqc_state_shown_add(&st, "bad/conv", 1));
    /* Full: the least recently grown run goes. */
    for (int i = 0; i < MQC_STATE_SHOWN_MAX; i++) {
        char conv[16];
        snprintf(conv, sizeof conv, "x%d", i);
        CHECK(mqc_state_shown_add(&st, conv, 1));
    }
    CHECK_EQ_INT((long)st.nshown, MQC_STATE_SHOWN_MAX);
    CHECK(!mqc_state_shown_has(&st, "c2", 6));
    CHECK(!mqc_state_shown_has(&st, "c1", 4));
    CHECK(mqc_state_shown_has(&st, "x0", 1));
}

TEST(shown_round_trip)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/shown@h_1883.state", root);
    static struct mqc_state st, back;
    memset(&st, 0, sizeof st);
    snprintf(st.token, sizeof st.token, "t1.5-0.ab");
    for (int i = 0; i < MQC_STATE_SHOWN_MAX; i++) {
        char conv[MQC_ID_MAX + 1];
        memset(conv, 'g', MQC_ID_MAX); /* the longest ids still fit the file */
        snprintf(conv + MQC_ID_MAX - 4, 5, "%04d", i);
        CHECK(mqc_state_shown_add(&st, conv, 1000000000000LL + i));
    }
    if (!CHECK_EQ_INT(mqc_state_save(p, &st), MQC_OK))
        return;
    CHECK_EQ_INT(mqc_state_load(p, &back), MQC_OK);
    CHECK_STR(back.token, "t1.5-0.ab");
    CHECK_EQ_INT((long)back.nshown, MQC_STATE_SHOWN_MAX);
    CHECK(memcmp(back.shown, st.shown, sizeof st.shown) == 0);
    /* Bad shown lines make the file garbage. */
    static const char *const bad[] = {
        "mqchat-state 1\nshown c1 0 3\n",   /* seq 0 */
        "mqchat-state 1\nshown c1 5 3\n",   /* hi < lo */
        "mqchat-state 1\nshown c/1 1 3\n",  /* not an id */
        "mqchat-state 1\nshown c1 1\n",     /* no hi */
        "mqchat-state 1\nshown c1 1 2 3\n", /* extra */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_EQ_INT(load_text(bad[i], strlen(bad[i]), &back), MQC_EBADREQ);
        CHECK_EQ_INT((long)back.nshown, 0);
    }
    static const char good[] = "mqchat-state 1\ntoken t1.7-0.ab\nshown c1 2 4\n";
    CHECK_EQ_INT(load_text(good, strlen(good), &back), MQC_OK);
    CHECK(mqc_state_shown_has(&back, "c1", 3) && !mqc_state_shown_has(&back, "c1", 5));
}

int main(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/mqc-state-test-XXXXXX", t && t[0] ? t : "/tmp");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(dir_precedence);
    RUN(path_building);
    RUN(token_valid);
    RUN(mkdir_creates_private_parents);
    RUN(round_trip_atomic_private);
    RUN(save_into_missing_dir_fails_cleanly);
    RUN(missing_file);
    RUN(garbage_files);
    RUN(unknown_keys_ignored);
    RUN(session_round_trip);
    RUN(shown_runs);
    RUN(shown_round_trip);
    rm_tree(root);
    return test_finish();
}
