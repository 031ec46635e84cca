/* Redis Cluster key slots (the cluster specification: CRC16-CCITT/XMODEM of
 * the key, or of its hash tag, modulo 16384) and, for every slot, a short
 * hash tag that lands in it. The store keeps a conversation's push jobs in a
 * stream whose hash tag is the tag of the conversation's own slot, so the
 * message and its job are written by one single-slot call (store/keys.h);
 * the slot router of a clustered store uses the same function. Pure. */
#ifndef MQC_SLOT_H
#define MQC_SLOT_H

#include <stddef.h>

#define MQC_SLOTS 16384
/* Longest slot tag, without the terminating NUL. */
#define MQC_SLOT_TAG_MAX 7

/* The slot of key (len bytes, borrowed): the hash tag between the first '{'
 * and the next '}' when that is non-empty, else the whole key. */
unsigned mqc_slot_of(const char *key, size_t len);

/* A tag (borrowed, static, "j" + decimal digits) whose slot is slot
 * (0..MQC_SLOTS-1); NULL for a slot out of range. The table is built on the
 * first call (about 1 ms): call it once from the thread that owns the
 * program before sharing it. Deterministic: every program computes the same
 * tag for a slot. */
const char *mqc_slot_tag(unsigned slot);

#endif
