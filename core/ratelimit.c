/* Fixed-window rate limiter (see ratelimit.h). */
#include "core/ratelimit.h"

#include <sodium.h>
#include <stdlib.h>

struct slot {
    uint64_t key;
    int64_t window_start;
    uint64_t count;
};

struct mqc_ratelimit {
    struct slot *slots;
    size_t mask;
    uint64_t max;
    int64_t window_ms;
    unsigned char hkey[crypto_shorthash_KEYBYTES];
};

struct mqc_ratelimit *mqc_ratelimit_new(size_t slots, uint64_t max, int64_t window_ms)
{
    size_t n = 1;
    while (n < slots && n < ((size_t)1 << 24))
        n <<= 1;
    struct mqc_ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl || !(rl->slots = calloc(n, sizeof *rl->slots))) {
        free(rl);
        return NULL;
    }
    rl->mask = n - 1;
    rl->max = max;
    rl->window_ms = window_ms;
    randombytes_buf(rl->hkey, sizeof rl->hkey);
    return rl;
}

void mqc_ratelimit_free(struct mqc_ratelimit *rl)
{
    if (!rl)
        return;
    free(rl->slots);
    free(rl);
}

bool mqc_ratelimit_allow_n(struct mqc_ratelimit *rl, const char *key, size_t len, uint64_t n,
                           int64_t now_ms)
{
    if (rl->max == 0)
        return true;
    uint64_t h;
    crypto_shorthash((unsigned char *)&h, (const unsigned char *)key, len, rl->hkey);
    struct slot *s = &rl->slots[h & rl->mask];
    h |= 1; /* 0 marks an empty slot */
    if (s->key != h || now_ms - s->window_start >= rl->window_ms || now_ms < s->window_start) {
        s->key = h;
        s->window_start = now_ms;
        s->count = 0;
    }
    if (n > rl->max - s->count)
        return false;
    s->count += n;
    return true;
}

bool mqc_ratelimit_allow(struct mqc_ratelimit *rl, const char *key, size_t len, int64_t now_ms)
{
    return mqc_ratelimit_allow_n(rl, key, len, 1, now_ms);
}
