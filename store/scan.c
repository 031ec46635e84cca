/* Walking the keys of the store with SCAN (a thousand keys per call, so
 * Redis is never blocked for long): the admin commands' one loop (user
 * deletion finds a user's keys, the upgrade every conversation and user). */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "store/internal.h"
#include "store/keys.h"

int mqc_store__scan(struct mqc_store *s, const char *suffix,
                    int (*fn)(const char *key, size_t len, void *ctx), void *ctx)
{
    /* The prefix is matched literally: its glob characters are escaped. */
    char pattern[2 * MQC_KEY_MAX];
    size_t n = 0;
    for (const char *c = s->prefix; *c && n + 3 < sizeof pattern; c++) {
        if (strchr("*?[]\\", *c))
            pattern[n++] = '\\';
        pattern[n++] = *c;
    }
    pattern[n] = '\0';
    snprintf(pattern + n, sizeof pattern - n, "%s", suffix);
    char cursor[32] = "0";
    do {
        const char *argv[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
        redisReply *r = mqc_store__cmd(s, 6, argv);
        if (!r)
            return MQC_EUNAVAIL;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            return MQC_EUNAVAIL;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        int rc = MQC_OK;
        for (size_t i = 0; rc == MQC_OK && i < r->element[1]->elements; i++) {
            const redisReply *k = r->element[1]->element[i];
            if (k->type == REDIS_REPLY_STRING)
                rc = fn(k->str, k->len, ctx);
        }
        freeReplyObject(r);
        if (rc != MQC_OK)
            return rc;
    } while (strcmp(cursor, "0") != 0);
    return MQC_OK;
}
