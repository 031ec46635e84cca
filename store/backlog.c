/* How far Redis is behind the broker: the age of the oldest pipelined
 * request whose reply has not been taken yet (store/batch.c writes them in
 * order and takes replies in order). Read by login pacing
 * (plugin/login_pace.c): while Redis is behind, new logins, which each add
 * work for it, wait. */
#include <time.h>

#include "store/internal.h"

/* Age in ms of the oldest request written to Redis and not yet answered
 * (its reply taken); 0 when nothing is in flight or s is NULL. Replies that
 * arrived but are not harvested yet (the next tick does) still count. */
int64_t mqc_store_backlog_ms(const struct mqc_store *s)
{
    const struct mqc_store__job *j = s ? s->inflight : NULL;
    while (j && j->nowait) /* a hint sent at a tick's end: nobody waits for it */
        j = j->next;
    if (!j || !j->sent_ns)
        return 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    int64_t age = now - j->sent_ns;
    return age > 0 ? age / 1000000 : 0;
}
