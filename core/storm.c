/* Storm detection (see storm.h). */
#include "core/storm.h"

bool mqc_storm_note(struct mqc_storm *s, int64_t now_ms, long limit)
{
    if (limit <= 0)
        return true;
    int64_t since = now_ms - s->window_ms;
    if (since >= MQC_STORM_WINDOW_MS || since < 0) {
        /* the window just ended is the previous one only if adjacent */
        s->prev = since >= 0 && since < 2 * MQC_STORM_WINDOW_MS ? s->cur : 0;
        s->cur = 0;
        s->window_ms = now_ms;
    }
    s->cur++;
    return s->cur > limit || s->prev > limit;
}
