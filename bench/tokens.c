/* --tokens-file: per-user passwords for mqchat mode (device session tokens
 * from mqc_bench_tokens), "user token" a line, kept sorted by user. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "core/err.h"

static int by_user(const void *a, const void *b)
{
    return strcmp(((const struct mqc_bench_token *)a)->user,
                  ((const struct mqc_bench_token *)b)->user);
}

int mqc_bench__tokens_load(struct mqc_bench *b, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return MQC_EBADREQ;
    char line[512];
    size_t cap = 0;
    int rc = MQC_OK;
    while (rc == MQC_OK && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *sp = strchr(line, ' ');
        if (!sp)
            continue;
        *sp = '\0';
        if (b->ntokens == cap) {
            cap = cap ? 2 * cap : 1024;
            struct mqc_bench_token *t = realloc(b->tokens, cap * sizeof *t);
            if (!t) {
                rc = MQC_ENOMEM;
                break;
            }
            b->tokens = t;
        }
        struct mqc_bench_token *t = &b->tokens[b->ntokens];
        t->user = strdup(line);
        t->token = strdup(sp + 1);
        if (!t->user || !t->token) {
            free(t->user);
            free(t->token);
            rc = MQC_ENOMEM;
            break;
        }
        b->ntokens++;
    }
    fclose(f);
    if (b->ntokens)
        qsort(b->tokens, b->ntokens, sizeof *b->tokens, by_user);
    return rc;
}

const char *mqc_bench__token(const struct mqc_bench *b, const char *user)
{
    if (!b->ntokens)
        return NULL;
    struct mqc_bench_token key = {(char *)user, NULL};
    const struct mqc_bench_token *t =
        bsearch(&key, b->tokens, b->ntokens, sizeof *b->tokens, by_user);
    return t ? t->token : NULL;
}

void mqc_bench__tokens_free(struct mqc_bench *b)
{
    for (size_t i = 0; i < b->ntokens; i++) {
        free(b->tokens[i].user);
        free(b->tokens[i].token);
    }
    free(b->tokens);
    b->tokens = NULL;
    b->ntokens = 0;
}
