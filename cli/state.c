/* The terminal client's state file (see state.h): path building, a mkdir -p
 * with private modes, and an atomic write (temporary file, fsync, rename)
 * so a crash or a second client never leaves half a token behind.
 *
 * Pointer parameters of the static functions here are borrowed unless their
 * comment says otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/state.h"
#include "core/err.h"
#include "core/id.h"

#define MAGIC "mqchat-state 1"
/* A state file is a token and at most MQC_STATE_SHOWN_MAX short lines;
 * anything bigger is not ours. */
#define FILE_MAX 32768

static bool set(const char *s)
{
    return s && s[0];
}

void mqc_state_env_from_process(struct mqc_state_env *env)
{
    env->state_dir = getenv("MQCHAT_STATE_DIR");
    env->xdg_state_home = getenv("XDG_STATE_HOME");
    env->home = getenv("HOME");
}

int mqc_state_dir(const struct mqc_state_env *env, char *dir, size_t size)
{
    int n;
    if (set(env->state_dir))
        n = snprintf(dir, size, "%s", env->state_dir);
    else if (set(env->xdg_state_home) && env->xdg_state_home[0] == '/')
        n = snprintf(dir, size, "%s/mqchat", env->xdg_state_home);
    else if (set(env->home))
        n = snprintf(dir, size, "%s/.local/state/mqchat", env->home);
    else
        return MQC_ENOTFOUND;
    if (n < 0 || (size_t)n >= size)
        return MQC_ETOOLARGE;
    return MQC_OK;
}

int mqc_state_path(const char *dir, const char *user, const char *host, int port, char *path,
                   size_t size)
{
    if (!mqc_id_valid_str(user) || port < 1 || port > 65535 || !host || !host[0])
        return MQC_EBADREQ;
    char safe[256];
    size_t i = 0;
    for (; host[i] && i < sizeof safe - 1; i++) {
        char b = host[i];
        bool ok = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
                  b == '.' || b == '-';
        safe[i] = ok ? b : '_';
    }
    if (host[i])
        return MQC_ETOOLARGE;
    safe[i] = '\0';
    /* No trailing '/' doubled: "dir/" and "dir" give the same path. */
    size_t dl = strlen(dir);
    const char *sep = dl && dir[dl - 1] == '/' ? "" : "/";
    int n = snprintf(path, size, "%s%s%s@%s_%d.state", dir, sep, user, safe, port);
    if (n < 0 || (size_t)n >= size)
        return MQC_ETOOLARGE;
    return MQC_OK;
}

int mqc_state_mkdir(const char *dir)
{
    char p[MQC_STATE_PATH_MAX];
    int n = snprintf(p, sizeof p, "%s", dir);
    if (n <= 0 || (size_t)n >= sizeof p) {
        errno = ENAMETOOLONG;
        return MQC_EINTERNAL;
    }
    /* Each prefix ending before a '/', then the whole path. */
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST)
            return MQC_EINTERNAL;
        *s = c;
        if (c == '\0')
            break;
    }
    struct stat sb;
    if (stat(p, &sb) != 0)
        return MQC_EINTERNAL;
    if (!S_ISDIR(sb.st_mode)) {
        errno = ENOTDIR;
        return MQC_EINTERNAL;
    }
    return MQC_OK;
}

bool mqc_state_token_valid(const char *tok)
{
    size_t n = 0;
    for (; tok[n]; n++)
        if ((unsigned char)tok[n] <= 0x20 || (unsigned char)tok[n] >= 0x7F)
            return false;
    return n >= 1 && n <= MQC_STATE_TOKEN_MAX;
}

bool mqc_state_shown_has(const struct mqc_state *st, const char *conv, long long seq)
{
    for (size_t i = 0; i < st->nshown; i++)
        if (seq >= st->shown[i].lo && seq <= st->shown[i].hi && !strcmp(st->shown[i].conv, conv))
            return true;
    return false;
}

/* Move run i to the end (the most recent place). */
static void make_recent(struct mqc_state *st, size_t i)
{
    struct mqc_state_range r = st->shown[i];
    memmove(st->shown + i, st->shown + i + 1, (st->nshown - i - 1) * sizeof r);
    st->shown[st->nshown - 1] = r;
}

bool mqc_state_shown_add(struct mqc_state *st, const char *conv, long long seq)
{
    if (seq < 1 || !mqc_id_valid_str(conv) || mqc_state_shown_has(st, conv, seq))
        return false;
    size_t grown = st->nshown;
    for (size_t i = 0; i < st->nshown && grown == st->nshown; i++) {
        struct mqc_state_range *r = &st->shown[i];
        if (strcmp(r->conv, conv) != 0)
            continue;
        if (r->hi + 1 == seq)
            r->hi = seq, grown = i;
        else if (r->lo - 1 == seq)
            r->lo = seq, grown = i;
    }
    if (grown == st->nshown) {
        if (st->nshown == MQC_STATE_SHOWN_MAX) {
            memmove(st->shown, st->shown + 1, (st->nshown - 1) * sizeof *st->shown);
            st->nshown--;
        }
        struct mqc_state_range *r = &st->shown[st->nshown];
        snprintf(r->conv, sizeof r->conv, "%s", conv);
        r->lo = r->hi = seq;
        grown = st->nshown++;
    }
    /* A run that now meets another of the same conv swallows it. */
    struct mqc_state_range *g = &st->shown[grown];
    for (size_t i = 0; i < st->nshown; i++) {
        struct mqc_state_range *r = &st->shown[i];
        if (i == grown || strcmp(r->conv, conv) != 0 || (r->hi + 1 != g->lo && g->hi + 1 != r->lo))
            continue;
        if (r->lo < g->lo)
            g->lo = r->lo;
        if (r->hi > g->hi)
            g->hi = r->hi;
        memmove(st->shown + i, st->shown + i + 1, (st->nshown - i - 1) * sizeof *r);
        st->nshown--;
        if (i < grown)
            grown--;
        break; /* seq joins at most two runs */
    }
    make_recent(st, grown);
    return true;
}

/* One "shown CONV LO HI" value (val, modified) into st. */
static int parse_shown(char *val, struct mqc_state *st)
{
    char conv[MQC_ID_MAX + 2];
    long long lo, hi;
    char extra;
    if (st->nshown == MQC_STATE_SHOWN_MAX ||
        sscanf(val, "%65s %lld %lld %c", conv, &lo, &hi, &extra) != 3 || !mqc_id_valid_str(conv) ||
        lo < 1 || hi < lo)
        return MQC_EBADREQ;
    struct mqc_state_range *r = &st->shown[st->nshown++];
    memcpy(r->conv, conv, strlen(conv) + 1); /* a valid id fits */
    r->lo = lo;
    r->hi = hi;
    return MQC_OK;
}

/* Parse the text of a state file (buf, NUL-terminated, modified) into st. */
static int parse(char *buf, struct mqc_state *st)
{
    char *save = NULL;
    char *line = strtok_r(buf, "\n", &save);
    if (!line || strcmp(line, MAGIC) != 0)
        return MQC_EBADREQ;
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        char *val = strchr(line, ' ');
        if (!val)
            return MQC_EBADREQ;
        *val++ = '\0';
        if (!strcmp(line, "shown")) {
            if (parse_shown(val, st) != MQC_OK)
                return MQC_EBADREQ;
            continue;
        }
        bool session = !strcmp(line, "session");
        if (strcmp(line, "token") != 0 && !session)
            continue; /* a later version's key */
        if (!mqc_state_token_valid(val))
            return MQC_EBADREQ;
        if (session)
            snprintf(st->session, sizeof st->session, "%s", val);
        else
            snprintf(st->token, sizeof st->token, "%s", val);
    }
    return MQC_OK;
}

int mqc_state_load(const char *path, struct mqc_state *st)
{
    char buf[FILE_MAX + 1];
    size_t len = 0;
    memset(st, 0, sizeof *st);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? MQC_ENOTFOUND : MQC_EINTERNAL;
    for (;;) {
        ssize_t r = read(fd, buf + len, sizeof buf - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            (void)close(fd);
            errno = e;
            return MQC_EINTERNAL;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len == sizeof buf)
            break; /* more than FILE_MAX bytes */
    }
    (void)close(fd);
    if (len > FILE_MAX || memchr(buf, '\0', len))
        return MQC_EBADREQ;
    buf[len] = '\0';
    int rc = parse(buf, st);
    if (rc != MQC_OK)
        memset(st, 0, sizeof *st);
    return rc;
}

/* Write all of buf (len bytes) to fd. MQC_OK or MQC_EINTERNAL with errno. */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return MQC_EINTERNAL;
        buf += w;
        len -= (size_t)w;
    }
    return MQC_OK;
}

/* The text of st into text (size bytes): its length, or -1 when it does not
 * fit. */
static int format_state(const struct mqc_state *st, char *text, size_t size)
{
    int n = st->token[0] ? snprintf(text, size, MAGIC "\ntoken %s\n", st->token)
                         : snprintf(text, size, MAGIC "\n");
    if (st->session[0] && n >= 0 && (size_t)n < size) {
        int m = snprintf(text + n, size - (size_t)n, "session %s\n", st->session);
        n = m < 0 ? -1 : n + m;
    }
    for (size_t i = 0; i < st->nshown && n >= 0 && (size_t)n < size; i++) {
        const struct mqc_state_range *r = &st->shown[i];
        int m = snprintf(text + n, size - (size_t)n, "shown %s %lld %lld\n", r->conv, r->lo, r->hi);
        n = m < 0 ? -1 : n + m;
    }
    return n >= 0 && (size_t)n < size ? n : -1;
}

int mqc_state_save(const char *path, const struct mqc_state *st)
{
    if ((st->token[0] && !mqc_state_token_valid(st->token)) ||
        (st->session[0] && !mqc_state_token_valid(st->session)))
        return MQC_EBADREQ;
    if (st->nshown > MQC_STATE_SHOWN_MAX)
        return MQC_EBADREQ;
    for (size_t i = 0; i < st->nshown; i++)
        if (!mqc_id_valid_str(st->shown[i].conv) || st->shown[i].lo < 1 ||
            st->shown[i].hi < st->shown[i].lo)
            return MQC_EBADREQ;
    static char text[FILE_MAX + 1]; /* one thread */
    int n = format_state(st, text, sizeof text);
    if (n < 0)
        return MQC_ETOOLARGE;
    /* Unique per process: two clients of one user never share a temp file. */
    char tmp[MQC_STATE_PATH_MAX];
    int tn = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (tn < 0 || (size_t)tn >= sizeof tmp)
        return MQC_ETOOLARGE;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return MQC_EINTERNAL;
    /* A stale temporary file left by a crash keeps its mode under O_TRUNC. */
    int rc = fchmod(fd, 0600) == 0 ? write_all(fd, text, (size_t)n) : MQC_EINTERNAL;
    if (rc == MQC_OK && fsync(fd) != 0)
        rc = MQC_EINTERNAL;
    int e = errno;
    if (close(fd) != 0 && rc == MQC_OK) {
        rc = MQC_EINTERNAL;
        e = errno;
    }
    if (rc == MQC_OK && rename(tmp, path) != 0) {
        rc = MQC_EINTERNAL;
        e = errno;
    }
    if (rc != MQC_OK) {
        (void)unlink(tmp);
        errno = e;
    }
    return rc;
}
