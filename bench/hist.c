/* Log-linear latency histogram (see hist.h). Bucket i < 256 holds exactly i ns;
 * above, bucket (shift << 7) + (v >> shift) holds [v >> shift << shift, +2^shift). */
#include "bench/hist.h"

#include <string.h>

void mqc_hist_init(struct mqc_hist *h)
{
    memset(h, 0, sizeof(*h));
}

static unsigned bucket_of(uint64_t v)
{
    unsigned shift = 0;
    if (v >= (1u << (MQC_HIST_SUB_BITS + 1))) {
        unsigned top = 63u - (unsigned)__builtin_clzll(v);
        shift = top - MQC_HIST_SUB_BITS;
        if (shift > MQC_HIST_MAX_SHIFT)
            return MQC_HIST_BUCKETS - 1;
    }
    return (shift << MQC_HIST_SUB_BITS) + (unsigned)(v >> shift);
}

void mqc_hist_add(struct mqc_hist *h, int64_t ns)
{
    uint64_t v = ns > 0 ? (uint64_t)ns : 0;
    h->bucket[bucket_of(v)]++;
    h->count++;
    h->sum_ns += v;
    if (v > h->max_ns)
        h->max_ns = v;
}

uint64_t mqc_hist_quantile(const struct mqc_hist *h, double q)
{
    if (h->count == 0)
        return 0;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999);
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < MQC_HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen < rank)
            continue;
        if (i < (2u << MQC_HIST_SUB_BITS))
            return i; /* exact region */
        unsigned shift = (i >> MQC_HIST_SUB_BITS) - 1;
        uint64_t sub = i - (shift << MQC_HIST_SUB_BITS);
        uint64_t lo = sub << shift;
        uint64_t mid = lo + ((1ull << shift) >> 1);
        return mid > h->max_ns ? h->max_ns : mid;
    }
    return h->max_ns;
}
