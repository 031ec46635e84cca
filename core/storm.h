/* Storm detection for one kind of event (token logins that need a Redis
 * read, plugin/session_prefetch.c): a count in the current 1-s window and
 * the count of the window before, nothing else. In a storm while the
 * current window or the one before has seen more than limit events (a
 * storm does not end at a window edge). Time comes from the
 * caller. Zero-initialised is "no events yet". */
#ifndef MQC_STORM_H
#define MQC_STORM_H

#include <stdbool.h>
#include <stdint.h>

#define MQC_STORM_WINDOW_MS 1000

struct mqc_storm {
    int64_t window_ms; /* start of the current window */
    long cur, prev;
};

/* Count one event at now_ms (monotonic); true while in a storm. limit <= 0:
 * always a storm. */
bool mqc_storm_note(struct mqc_storm *s, int64_t now_ms, long limit);

#endif
