/* A fixed-window rate limiter over many keys (e.g. "user\nconv"), in a
 * fixed-size direct-mapped table: bounded memory whatever clients do. Keys
 * are remembered by a keyed 64-bit hash; two keys colliding in one slot
 * simply take turns owning it. Time comes from the caller. */
#ifndef MQC_RATELIMIT_H
#define MQC_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mqc_ratelimit;

/* At most max events per window_ms per key. NULL when out of memory. */
struct mqc_ratelimit *mqc_ratelimit_new(size_t slots, uint64_t max, int64_t window_ms);
void mqc_ratelimit_free(struct mqc_ratelimit *rl);
/* Count one event for key (borrowed, len bytes); false when over the limit. */
bool mqc_ratelimit_allow(struct mqc_ratelimit *rl, const char *key, size_t len, int64_t now_ms);
/* Count n units (e.g. bytes) for key; false (and nothing counted) when they
 * would pass the limit. A limiter whose max is 0 allows everything. */
bool mqc_ratelimit_allow_n(struct mqc_ratelimit *rl, const char *key, size_t len, uint64_t n,
                           int64_t now_ms);

#endif
