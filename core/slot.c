/* Key slots and per-slot hash tags (see slot.h). */
#include "core/slot.h"

#include <stdio.h>
#include <string.h>

/* CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, no reflection. */
static unsigned crc16(const unsigned char *p, size_t len)
{
    unsigned crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (unsigned)p[i] << 8;
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
    return crc;
}

unsigned mqc_slot_of(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t rest = len - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1)
            return crc16((const unsigned char *)open + 1, (size_t)(close - open - 1)) % MQC_SLOTS;
    }
    return crc16((const unsigned char *)key, len) % MQC_SLOTS;
}

static char tags[MQC_SLOTS][MQC_SLOT_TAG_MAX + 1];
static int built;

/* The first "j<n>" (n = 0, 1, ...) that falls in each slot. Every slot is
 * reached well before n = 10^6 (about 16384 * ln 16384 tries are needed). */
static void build(void)
{
    size_t left = MQC_SLOTS;
    for (unsigned n = 0; left > 0 && n < 1000000; n++) {
        char t[MQC_SLOT_TAG_MAX + 1];
        int len = snprintf(t, sizeof t, "j%u", n);
        unsigned s = crc16((const unsigned char *)t, (size_t)len) % MQC_SLOTS;
        if (tags[s][0] == '\0') {
            memcpy(tags[s], t, (size_t)len + 1);
            left--;
        }
    }
    built = 1;
}

const char *mqc_slot_tag(unsigned slot)
{
    if (slot >= MQC_SLOTS)
        return NULL;
    if (!built)
        build();
    return tags[slot][0] ? tags[slot] : NULL;
}
