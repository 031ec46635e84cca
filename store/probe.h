/* Read-only health probes of a Redis server for `mqchat doctor`: a plain
 * connection that, unlike struct mqc_store, never loads the function library
 * (the doctor must see Redis as the brokers left it), and questions answered
 * in core types: server facts, settings, clock, the library's presence and
 * code, and which key prefixes hold mqchat users. Blocking, one thread. */
#ifndef MQC_STORE_PROBE_H
#define MQC_STORE_PROBE_H

#include <stddef.h>
#include <stdint.h>

struct mqc_store_probe;

/* Connect (unix_path wins over host/port), AUTH when password is set, SELECT
 * db. All strings borrowed. Returns the probe (owned: _free) or NULL with the
 * reason in err (errlen bytes); *auth_failed (may be NULL) tells a refused
 * AUTH/SELECT from an unreachable server. */
struct mqc_store_probe *mqc_store_probe_new(const char *host, int port, const char *unix_path,
                                            const char *password, int db, int timeout_ms,
                                            int *auth_failed, char *err, size_t errlen);
void mqc_store_probe_free(struct mqc_store_probe *p);

/* The value of `field` (e.g. "redis_version", "cluster_enabled") from INFO
 * section (both borrowed) into out. MQC_OK, MQC_ENOTFOUND (no such field),
 * MQC_EUNAVAIL (no answer or an error reply, reason in out). */
int mqc_store_probe_info(struct mqc_store_probe *p, const char *section, const char *field,
                         char *out, size_t size);
/* CONFIG GET name (borrowed) into out. MQC_OK, MQC_ENOTFOUND, MQC_EFORBIDDEN
 * (CONFIG refused, e.g. renamed on a managed Redis; reason in out),
 * MQC_EUNAVAIL. */
int mqc_store_probe_config(struct mqc_store_probe *p, const char *name, char *out, size_t size);
/* Redis' wall clock (TIME) in ms, and how long the round trip took. */
int mqc_store_probe_time(struct mqc_store_probe *p, int64_t *redis_ms, int64_t *rtt_ms);
/* CLUSTER INFO's cluster_state ("ok", "fail") into out. */
int mqc_store_probe_cluster_state(struct mqc_store_probe *p, char *out, size_t size);
/* Is the mqchat function library loaded, and is it this build's code?
 * MQC_OK: loaded, the same code; MQC_ENOTFOUND: not loaded; MQC_EEXIST:
 * loaded with other code; MQC_EUNAVAIL. The library name goes to name. */
int mqc_store_probe_library(struct mqc_store_probe *p, char *name, size_t size);
/* The store layout version ("<prefix>version", store/upgrade.c) into out:
 * "" when the key is absent (an empty store, or one written by v1). */
int mqc_store_probe_version(struct mqc_store_probe *p, const char *prefix, char *out, size_t size);
/* How many users the users set of prefix (borrowed) holds. */
int mqc_store_probe_users(struct mqc_store_probe *p, const char *prefix, long long *n);
/* Other key prefixes holding an mqchat users set: fn(prefix, users, ctx)
 * for each (prefix borrowed for the call), found by SCAN of at most
 * max_keys keys. MQC_OK or MQC_EUNAVAIL. */
int mqc_store_probe_prefixes(struct mqc_store_probe *p, long max_keys,
                             void (*fn)(const char *prefix, long long users, void *ctx), void *ctx);

/* Redis Cluster: the primaries of the slot map loaded from seeds ("host:port"
 * separated by spaces or commas; borrowed), fn(host, port, ctx) for each
 * (host borrowed for the call). A router with no hook: nothing is loaded or
 * written. MQC_OK, or MQC_EUNAVAIL with the reason in err (no seed answered,
 * or a primary did not answer PING: fn is still called for every primary,
 * and *down (may be NULL) counts those that did not answer). */
int mqc_store_probe_cluster_primaries(const char *seeds, const char *password, int timeout_ms,
                                      void (*fn)(const char *host, int port, void *ctx), void *ctx,
                                      int *down, char *err, size_t errlen);

#endif
