/* Conversation ids minted by the server. A direct conversation's id is
 * derived from the pair (so creating it twice, from either side, gives the
 * same id): "d-" + 32 hex digits of SHA-256(min "\n" max). A group's id is
 * random: "g-" + 32 hex digits (128 bits). Both are valid ids (core/id.h). */
#ifndef MQC_CONVID_H
#define MQC_CONVID_H

#include <stddef.h>

#define MQC_CONVID_LEN 34 /* without the NUL */

/* a, b borrowed valid user ids; out has room for MQC_CONVID_LEN + 1. */
int mqc_convid_direct(const char *a, const char *b, char *out, size_t size);
int mqc_convid_group(char *out, size_t size);

#endif
