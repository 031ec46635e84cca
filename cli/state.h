/* The terminal client's small per-device state file: where it lives and how
 * it is read and written. It holds the `sync` token of one user at one
 * broker (PROTOCOL.md "sync"), so that `mqchat chat` can show on start what
 * arrived while it was away, and the msg and member events shown on screen
 * since that position (runs of seqs per conversation), so that they are
 * never shown again under "while you were away" even when the position
 * could not be moved past them (the last sync failed, the client was
 * killed). Pure file I/O and path building: no MQTT, no
 * JSON, and the environment is passed in, so it is unit-tested.
 *
 * Location: $MQCHAT_STATE_DIR, else $XDG_STATE_HOME/mqchat (only when it is
 * an absolute path, as the XDG spec asks), else $HOME/.local/state/mqchat;
 * file "<user>@<host>_<port>.state" (mode 0600; missing directories are
 * created with mode 0700). File format, text, one "key value" per line:
 *
 *     mqchat-state 1
 *     token t1.1764294000123-0.5e1f0a3b
 *     shown d-8d9c4e3f0a7b1c2d5e6f708192a3b4c5 4 9
 *     session s1.AbCdEfGhIjK.<43 characters>
 *
 * ("session": the device session token `mqchat chat` signs in with instead
 * of the password, PROTOCOL.md "Device sessions"; the password is never
 * kept.)
 * ("shown CONV LO HI": seqs LO..HI of CONV were shown; at most
 * MQC_STATE_SHOWN_MAX lines, oldest first.) Unknown keys are ignored so
 * later versions may add some; a file that does not start with the magic
 * line, or holds a bad token or shown line, is garbage. */
#ifndef MQC_CLI_STATE_H
#define MQC_CLI_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/id.h"

/* Longest token kept; tokens are opaque, the server's are far shorter. */
#define MQC_STATE_TOKEN_MAX 512
/* Longest path built here, NUL included. */
#define MQC_STATE_PATH_MAX 4096

/* Most runs of shown seqs kept; the least recently grown is dropped first. */
#define MQC_STATE_SHOWN_MAX 128

/* Seqs lo..hi (1 <= lo <= hi) of conv were shown. */
struct mqc_state_range {
    char conv[MQC_ID_MAX + 1];
    long long lo, hi;
};

struct mqc_state {
    char token[MQC_STATE_TOKEN_MAX + 1];               /* "" = none */
    char session[MQC_STATE_TOKEN_MAX + 1];             /* device session token; "" = none */
    struct mqc_state_range shown[MQC_STATE_SHOWN_MAX]; /* least recently grown first */
    size_t nshown;
};

/* The environment the directory is chosen from; each field borrowed, NULL
 * or "" when unset. */
struct mqc_state_env {
    const char *state_dir; /* $MQCHAT_STATE_DIR */
    const char *xdg_state_home;
    const char *home;
};

/* Fill env (returned borrowing from the process environment) from getenv. */
void mqc_state_env_from_process(struct mqc_state_env *env);

/* The state directory for env (borrowed) into dir (size bytes). MQC_OK,
 * MQC_ENOTFOUND when no variable gives one, MQC_ETOOLARGE when it does not
 * fit. */
int mqc_state_dir(const struct mqc_state_env *env, char *dir, size_t size);

/* The file name "<user>@<host>_<port>.state" in dir (all borrowed) into
 * path (size bytes). Bytes of host outside [A-Za-z0-9.-] become '_' (an IPv6
 * address keeps its hex digits, nothing can make a '/'); a user outside the
 * id alphabet (core/id.h) or a port outside 1..65535 is MQC_EBADREQ; a path
 * that does not fit MQC_ETOOLARGE. */
int mqc_state_path(const char *dir, const char *user, const char *host, int port, char *path,
                   size_t size);

/* Create dir (borrowed) and any missing parent with mode 0700 (an existing
 * one is left as it is). MQC_OK, or MQC_EINTERNAL with errno set. */
int mqc_state_mkdir(const char *dir);

/* Is tok (borrowed) acceptable as a stored token: 1..MQC_STATE_TOKEN_MAX
 * printable ASCII characters other than space? */
bool mqc_state_token_valid(const char *tok);

/* Was seq of conv (borrowed) shown: inside one of st's runs? */
bool mqc_state_shown_has(const struct mqc_state *st, const char *conv, long long seq);

/* Record seq (>= 1) of conv (borrowed, a valid id) as shown: grows the run
 * it touches (merging two that then meet) or starts one, and makes that run
 * the most recent; when all MQC_STATE_SHOWN_MAX are used the least recent is
 * dropped. Returns true when it was not recorded before, false when it was
 * or the arguments are unusable. */
bool mqc_state_shown_add(struct mqc_state *st, const char *conv, long long seq);

/* Read the state at path (borrowed) into *st. MQC_OK; MQC_ENOTFOUND when
 * the file does not exist (*st is then empty); MQC_EBADREQ when it is
 * garbage (too large, wrong magic, bad token; *st empty); MQC_EINTERNAL
 * with errno set when it cannot be read. */
int mqc_state_load(const char *path, struct mqc_state *st);

/* Write st (borrowed; its token "" or valid) to path (borrowed)
 * atomically: a temporary file in the same directory with mode 0600,
 * written, flushed to disk and renamed over path, so a reader sees the old
 * state or the new one, never a part. The directory must exist
 * (mqc_state_mkdir). MQC_OK, MQC_EBADREQ for an invalid token, MQC_ETOOLARGE
 * when the temporary name does not fit, MQC_EINTERNAL with errno set when
 * writing failed (the temporary file is then removed). */
int mqc_state_save(const char *path, const struct mqc_state *st);

#endif
