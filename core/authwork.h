/* Password verification off the broker thread. argon2id costs ~12 ms of CPU
 * by design; a cold reconnect storm (a broker restart: thousands of users,
 * an empty cache) verified on the broker thread would freeze every connected
 * client for seconds. Mosquitto 2.0.11's basic-auth event must answer at
 * once, so the plugin answers "busy" (no CONNACK: clients retry), hands the
 * check to these worker threads, and takes the verdicts back on the broker
 * thread (tick) into its caches, where the client's retry finds them.
 *
 * The queue is bounded and a triple already queued is not queued twice, so a
 * flood of connects costs memory and worker time in proportion to the limit,
 * never broker-thread time. Copies of passwords are wiped when freed. */
#ifndef MQC_AUTHWORK_H
#define MQC_AUTHWORK_H

#include <stdbool.h>
#include <stddef.h>

struct mqc_authwork;

/* threads workers (1-16), at most max_jobs verifications queued or waiting
 * to be drained. NULL on failure (allocation, thread creation). */
struct mqc_authwork *mqc_authwork_new(int threads, size_t max_jobs);
/* Stop the workers (a running verification finishes first), join them and
 * wipe every job. NULL does nothing. */
void mqc_authwork_free(struct mqc_authwork *w);

/* Queue a check of pw (pwlen bytes) against the stored hash for user (all
 * borrowed and copied). MQC_OK queued; MQC_EEXIST the same triple is already
 * queued or its verdict not yet drained; MQC_ERATE the queue is full;
 * MQC_EBADREQ a string too long; MQC_ENOMEM. */
int mqc_authwork_submit(struct mqc_authwork *w, const char *user, const char *stored,
                        const char *pw, size_t pwlen);

/* Verifications queued, running or finished but not yet drained. */
size_t mqc_authwork_pending(struct mqc_authwork *w);

/* Called once per finished verification, on the draining thread; the
 * strings are borrowed for the call and wiped after it. */
typedef void (*mqc_authwork_verdict_fn)(void *ctx, const char *user, const char *stored,
                                        const char *pw, size_t pwlen, bool ok);
/* Hand every finished verification to fn, oldest first. Returns how many. */
size_t mqc_authwork_drain(struct mqc_authwork *w, mqc_authwork_verdict_fn fn, void *ctx);

#endif
