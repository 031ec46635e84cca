/* Shared bits of the libFuzzer targets in tests/fuzz: the entry point every
 * fuzz_<name>.c defines, an oracle check that aborts (so libFuzzer and the
 * corpus replay both report it), a NUL-terminated copy of the input and a
 * log sink that keeps the parsers' operator messages out of the output. */
#ifndef MQC_FUZZ_H
#define MQC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* Defined by each target; called by libFuzzer or by replay_main.c with data
 * (borrowed, size bytes) in a buffer of exactly that size. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An oracle failed: the code under test broke one of its own promises. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A malloc'd copy of data with a NUL after it (returned owned; free()). The
 * text ends at the first NUL the input holds. Aborts when out of memory. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    FUZZ_CHECK(s != NULL);
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static inline void fuzz_quiet_sink(enum mqc_log_level level, const char *line)
{
    (void)level;
    (void)line;
}

/* Silence mqc_log once per process. */
static inline void fuzz_quiet(void)
{
    static int done;
    if (!done) {
        mqc_log_set_sink(fuzz_quiet_sink);
        done = 1;
    }
}

#endif
