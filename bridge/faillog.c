/* Failure classes logged once per interval (see faillog.h). */
#include "bridge/faillog.h"

#include <stdio.h>
#include <string.h>

void mqc_faillog_init(struct mqc_faillog *f, int64_t interval_ms)
{
    memset(f, 0, sizeof *f);
    f->interval_ms = interval_ms > 0 ? interval_ms : 1;
}

bool mqc_faillog_note(struct mqc_faillog *f, const char *name, int64_t now_ms, long *quiet)
{
    size_t i = 0;
    for (; i < MQC_FAILLOG_CLASSES - 1; i++) {
        if (!f->cls[i].name[0] || strncmp(f->cls[i].name, name, sizeof f->cls[i].name - 1) == 0)
            break;
    }
    if (!f->cls[i].name[0]) {
        snprintf(f->cls[i].name, sizeof f->cls[i].name, "%s", name);
        f->cls[i].next_ms = now_ms;
    }
    if (now_ms < f->cls[i].next_ms) {
        f->cls[i].quiet++;
        return false;
    }
    *quiet = f->cls[i].quiet;
    f->cls[i].quiet = 0;
    f->cls[i].next_ms = now_ms + f->interval_ms;
    return true;
}
