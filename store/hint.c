/* Job hints for mqchat-push (lazy fan-out, docs/ARCHITECTURE.md): after a
 * msg or member event is stored, its job is already in the job stream of
 * the conversation's slot; the broker then PUBLISHes the slot numbers on
 * "<prefix>jobs", each slot once per loop pass (with the next pass's
 * batch, or at the end of the tick that learnt of them: mqc_store_hints_send),
 * so that mqchat-push reads
 * the streams that changed without polling them all. Hints are not durable
 * (a lost one only delays a job until mqchat-push's periodic scan). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/slot.h"
#include "store/internal.h"
#include "store/keys.h"

void mqc_store__hint(struct mqc_store *s, const char *conv, size_t len)
{
    char tag[MQC_ID_MAX + 3];
    if (len > MQC_ID_MAX)
        return;
    memcpy(tag, "c:", 2);
    memcpy(tag + 2, conv, len);
    unsigned slot = mqc_slot_of(tag, len + 2);
    if (!s->hint_bits) {
        s->hint_bits = calloc(MQC_SLOTS / 8, 1);
        s->hint_slots = calloc(MQC_SLOTS, sizeof *s->hint_slots);
        if (!s->hint_bits || !s->hint_slots) {
            free(s->hint_bits);
            free(s->hint_slots);
            s->hint_bits = NULL;
            s->hint_slots = NULL;
            return; /* mqchat-push finds the job by its scan */
        }
    }
    unsigned char bit = (unsigned char)(1u << (slot % 8));
    if (s->hint_bits[slot / 8] & bit)
        return;
    s->hint_bits[slot / 8] |= bit;
    s->hint_slots[s->nhints++] = slot;
}

static void hint_done(struct mqc_store__job *j, int rc, redisReply *r)
{
    (void)j;
    (void)r;
    if (rc != MQC_OK)
        mqc_log(MQC_LOG_DEBUG, "store: a job hint was not published");
}

void mqc_store_hints_flush(struct mqc_store *s)
{
    if (!s || s->nhints == 0)
        return;
    char *body = malloc(s->nhints * 6 + 1), *w = body;
    for (size_t i = 0; body && i < s->nhints; i++)
        w += sprintf(w, i ? " %u" : "%u", s->hint_slots[i]);
    for (size_t i = 0; i < s->nhints; i++)
        s->hint_bits[s->hint_slots[i] / 8] = 0;
    s->nhints = 0;
    if (!body)
        return;
    char chan[MQC_KEY_MAX];
    snprintf(chan, sizeof chan, "%sjobs", s->prefix);
    const char *argv[] = {"PUBLISH", chan, body};
    size_t lens[] = {7, strlen(chan), (size_t)(w - body)};
    if (mqc_store__enqueue(s, 3, argv, lens, hint_done, NULL, NULL) != MQC_OK)
        mqc_log(MQC_LOG_ERR, "store: cannot queue a job hint");
    free(body);
}

void mqc_store_hints_send(struct mqc_store *s, int64_t now_mono_ms)
{
    if (!s || s->nhints == 0)
        return;
    bool alone = s->njobs == 0;
    mqc_store_hints_flush(s);
    if (!alone || s->njobs == 0 || !s->last_job)
        return; /* it rides with the jobs queued (the caller wakes the loop for them) */
    s->last_job->nowait = true;
    mqc_store__send_queued(s, now_mono_ms);
}
