/* Which slot a command is routed by (see router.h, mqc_router_slot_of): its
 * first key, found by the command's shape (FCALL/EVAL numkeys, XREAD
 * STREAMS), or none for the commands that take no key. Sharded pub/sub
 * (SPUBLISH, SSUBSCRIBE: the bus on a cluster, store/bus.c) is routed by its
 * channel, which hashes like a key; plain PUBLISH goes to any node. No
 * I/O. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/slot.h"
#include "store/router.h"

static bool named(const char *arg, size_t len, const char *name)
{
    return strlen(name) == len && !strncasecmp(arg, name, len);
}

static size_t arg_len(const char **argv, const size_t *lens, int i)
{
    return lens ? lens[i] : strlen(argv[i]);
}

/* A decimal numkeys > 0 (len bytes, not NUL-terminated). */
static bool positive(const char *s, size_t len)
{
    bool nonzero = false;
    if (len == 0 || len > 9)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        nonzero |= s[i] != '0';
    }
    return nonzero;
}

int mqc_router_slot_of(int argc, const char **argv, const size_t *lens)
{
    static const char *const keyless[] = {
        "PING",   "INFO",      "FUNCTION",  "SCRIPT",  "CLUSTER",  "WAIT",    "TIME",
        "DBSIZE", "CONFIG",    "COMMAND",   "ECHO",    "AUTH",     "HELLO",   "CLIENT",
        "SELECT", "READONLY",  "READWRITE", "ASKING",  "FLUSHALL", "FLUSHDB", "KEYS",
        "SCAN",   "RANDOMKEY", "PUBLISH",   "LATENCY", "SLOWLOG",  "ACL",     "MEMORY"};
    if (argc < 1)
        return -1;
    size_t n0 = arg_len(argv, lens, 0);
    for (size_t i = 0; i < sizeof keyless / sizeof *keyless; i++)
        if (named(argv[0], n0, keyless[i]))
            return -1;
    int key = 1; /* most commands, SPUBLISH's channel too */
    if (named(argv[0], n0, "FCALL") || named(argv[0], n0, "FCALL_RO") ||
        named(argv[0], n0, "EVAL") || named(argv[0], n0, "EVALSHA") ||
        named(argv[0], n0, "EVAL_RO") || named(argv[0], n0, "EVALSHA_RO")) {
        if (argc < 4 || !positive(argv[2], arg_len(argv, lens, 2)))
            return -1;
        key = 3;
    } else if (named(argv[0], n0, "XREAD") || named(argv[0], n0, "XREADGROUP")) {
        key = -1;
        for (int i = 1; i + 1 < argc && key < 0; i++)
            if (named(argv[i], arg_len(argv, lens, i), "STREAMS"))
                key = i + 1;
        if (key < 0)
            return -1;
    }
    if (key >= argc)
        return -1;
    return (int)mqc_slot_of(argv[key], arg_len(argv, lens, key));
}
