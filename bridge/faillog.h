/* How the bridge reports push failures without flooding its log: each
 * class of failure (APNs transport errors, APNs refusals, FCM OAuth, ...)
 * is logged the first time it happens and then at most once per interval,
 * with the latest reason and how many were not logged since. Pure: the
 * caller passes the clock and does the logging. */
#ifndef MQC_BRIDGE_FAILLOG_H
#define MQC_BRIDGE_FAILLOG_H

#include <stdbool.h>
#include <stdint.h>

#define MQC_FAILLOG_CLASSES 16

struct mqc_faillog {
    int64_t interval_ms;
    struct {
        char name[32];   /* "" = free slot */
        int64_t next_ms; /* no line for this class before this time */
        long quiet;      /* failures not logged since the last line */
    } cls[MQC_FAILLOG_CLASSES];
};

/* Start with no failures seen; interval_ms > 0. */
void mqc_faillog_init(struct mqc_faillog *f, int64_t interval_ms);

/* One failure of class name (borrowed; cut to 31 bytes) at now_ms. Returns
 * true when it is to be logged now, with *quiet (borrowed) = how many of
 * this class were not logged before it; false when it was only counted.
 * Classes beyond MQC_FAILLOG_CLASSES share the last slot. */
bool mqc_faillog_note(struct mqc_faillog *f, const char *name, int64_t now_ms, long *quiet);

#endif
