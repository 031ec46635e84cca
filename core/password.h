/* Password hashing for user accounts: argon2id via libsodium, in the PHC
 * string format ($argon2id$v=19$m=...,t=...,p=...$salt$hash). Parameters are
 * OWASP's argon2id baseline (m=19 MiB, t=2); verification reads them from the
 * stored string, so they can be raised later without breaking old hashes. */
#ifndef MQC_PASSWORD_H
#define MQC_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#define MQC_PASSWORD_HASH_MAX 128 /* crypto_pwhash_STRBYTES */
#define MQC_PASSWORD_MAX 1024     /* longest password accepted */

/* Initialise libsodium; call once before anything else here. */
int mqc_password_init(void);
/* Hash pw (borrowed, len bytes) into out (size >= MQC_PASSWORD_HASH_MAX).
 * Returns MQC_OK, MQC_EBADREQ (empty/too long) or MQC_ENOMEM. */
int mqc_password_hash(const char *pw, size_t len, char *out, size_t size);
/* Does pw match the stored hash string? False for malformed hashes. */
bool mqc_password_verify(const char *stored, const char *pw, size_t len);

#endif
