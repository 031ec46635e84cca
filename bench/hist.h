/* Latency histogram for the load generator: log-linear buckets over
 * nanoseconds (exact below 256 ns, then 128 buckets per power of two, so any
 * reported percentile is within 0.8% of the true value), fixed size whatever
 * the number of samples, so a long run costs no more memory than a short one. */
#ifndef MQC_BENCH_HIST_H
#define MQC_BENCH_HIST_H

#include <stdint.h>

#define MQC_HIST_SUB_BITS 7
#define MQC_HIST_MAX_SHIFT 33 /* values up to 2^41 ns (~36 min) */
#define MQC_HIST_BUCKETS ((MQC_HIST_MAX_SHIFT + 2) << MQC_HIST_SUB_BITS)

struct mqc_hist {
    uint64_t count;
    uint64_t max_ns;
    uint64_t sum_ns;
    uint64_t bucket[MQC_HIST_BUCKETS];
};

/* Zero h (borrowed). */
void mqc_hist_init(struct mqc_hist *h);
/* Record one value; negative values (clock misuse) count as 0. */
void mqc_hist_add(struct mqc_hist *h, int64_t ns);
/* The value at quantile q (0..1) in nanoseconds: the middle of the bucket that
 * holds the ceil(q * count)-th smallest sample; 0 when h is empty. */
uint64_t mqc_hist_quantile(const struct mqc_hist *h, double q);

#endif
