/* Wall-clock and monotonic time in milliseconds. Callers of pure modules pass
 * time in explicitly so tests can use a fake clock. */
#ifndef MQC_CLOCK_H
#define MQC_CLOCK_H

#include <stdint.h>

/* Milliseconds since the UNIX epoch (for `ts`, `last_seen`). */
int64_t mqc_clock_wall_ms(void);
/* Monotonic milliseconds (for timeouts, caches, backoff). */
int64_t mqc_clock_mono_ms(void);

#endif
