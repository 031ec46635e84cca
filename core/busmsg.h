/* The cluster bus message format (plugin/cluster_send.c writes it,
 * plugin/cluster_recv.c reads it; Redis functions write some too). Text:
 * one header line, then an optional body after '\n':
 *
 *   e <qos> <conv> <seq> <user>,...\n<ev>  (node channel) deliver to these users
 *                                         (conv "-" and seq -1: no order)
 *   on <node> <user> / off <node> <user>  a user's first / last device there
 *   hello <node>                          node (re)started: forget its users
 *   dead <node>                           node declared dead: forget its users
 *   mv <node> <conv>                      membership changed: drop the cache
 *   pr <node> <user>\n<state json>        retained presence to publish
 *   bc\n<event>                           system broadcast to every user
 *   kick <node> <user>                    user deleted: disconnect their devices
 *   skick <node> <user> <device>          session(s) ended: disconnect the devices
 *                                         logged in with them (device "*": all)
 *   vis <node>\n<user>,...\n<other>,...    presence visibility: split these
 *                                         users from the others, re-check them
 *
 * <node> is a node id, or "*" (nobody's: Redis functions, store/mqchat.lua).
 * Pure: no I/O; bus input is untrusted and fuzzed (tests/fuzz). */
#ifndef MQC_BUSMSG_H
#define MQC_BUSMSG_H

#include <stddef.h>
#include <stdint.h>

#include "core/id.h"

enum mqc_busmsg_kind {
    MQC_BUS_EVENT,
    MQC_BUS_ON,
    MQC_BUS_OFF,
    MQC_BUS_HELLO,
    MQC_BUS_DEAD,
    MQC_BUS_MV,
    MQC_BUS_PR,
    MQC_BUS_BC,
    MQC_BUS_KICK,
    MQC_BUS_VIS,
    MQC_BUS_SKICK,
};

struct mqc_busmsg {
    enum mqc_busmsg_kind kind;
    char node[MQC_ID_MAX + 1]; /* all but e and bc */
    char arg[MQC_ID_MAX + 1];  /* the user (on, off, pr, kick, skick) or conv (mv) */
    char dev[MQC_ID_MAX + 1];  /* skick: the session's device id, or "*" */
    /* e only: qos 0/1; conv "" and seq -1 when the event has no order. */
    int qos;
    char conv[MQC_ID_MAX + 1];
    int64_t seq;
    const char *users; /* borrowed from the input: "u1,u2,..." */
    size_t users_len;
    const char *body; /* borrowed from the input; "" when none */
    size_t blen;
};

/* Parse len bytes of data (borrowed; need not be NUL-terminated) into *m,
 * whose pointers borrow data. MQC_OK, or MQC_EBADREQ for anything not in
 * the table above (unknown kind, bad id, missing field, bad number). */
int mqc_busmsg_parse(const char *data, size_t len, struct mqc_busmsg *m);

/* The next valid user id of a recipient list: *pos (start at 0) advances
 * over m->users; invalid entries are skipped. Writes it into out (at least
 * MQC_ID_MAX + 1 bytes) and returns 1, or 0 at the end. */
int mqc_busmsg_next_user(const struct mqc_busmsg *m, size_t *pos, char *out);

/* Build a message: the header (borrowed) then, when body is not NULL, '\n'
 * and blen bytes of body (borrowed). Returns it malloc'd and NUL-terminated
 * (the caller frees) with its length in *len, or NULL (out of memory). */
char *mqc_busmsg_build(const char *head, const char *body, size_t blen, size_t *len);

/* The header of an "e" message: conv NULL or seq < 0 makes it unordered.
 * users is the comma-separated list (borrowed). Returned malloc'd, or NULL. */
char *mqc_busmsg_event_head(int qos, const char *conv, int64_t seq, const char *users);

#endif
