/* Unit tests for cli/relstate.h: the terminal client's memory of message
 * relations applies edits, deletes and reactions in seq order whatever
 * order they arrive in, repeats change nothing, an edit of a deleted
 * message shows nothing, reaction sets toggled many times end as the last
 * one, quotes keep the first 40 characters, and the memory stays bounded. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/relstate.h"
#include "core/err.h"
#include "tests/unit/test.h"

/* Apply the event JSON text json to r. */
static void feed(struct mqc_relstate *r, const char *json)
{
    cJSON *ev = cJSON_Parse(json);
    if (!CHECK(ev != NULL))
        return;
    CHECK_EQ_INT(mqc_relstate_apply(r, ev), MQC_OK);
    cJSON_Delete(ev);
}

/* r's view of seq 1 in conv c as "from|text|edited|deleted|reacts-json". */
static char *show(const struct mqc_relstate *r)
{
    const struct mqc_relmsg *m = mqc_relstate_get(r, "c", 1);
    if (!m)
        return strdup("none");
    char *re = m->reacts ? cJSON_PrintUnformatted(m->reacts) : NULL;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s|%s|%d|%d|%s", m->from, m->text ? m->text : "-", m->edited,
             m->deleted, re ? re : "{}");
    free(re);
    return strdup(buf);
}

static const char *const EVS[] = {
    "{\"t\":\"msg\",\"conv\":\"c\",\"seq\":1,\"from\":\"bob\",\"body\":\"first\"}",
    "{\"t\":\"edit\",\"conv\":\"c\",\"seq\":2,\"from\":\"bob\",\"target\":1,\"body\":\"second\"}",
    "{\"t\":\"react\",\"conv\":\"c\",\"seq\":3,\"from\":\"al\",\"target\":1,\"emojis\":[\"a\"]}",
    "{\"t\":\"edit\",\"conv\":\"c\",\"seq\":4,\"from\":\"bob\",\"target\":1,\"body\":\"third\"}",
    "{\"t\":\"react\",\"conv\":\"c\",\"seq\":5,\"from\":\"al\",\"target\":1,\"emojis\":[\"b\"]}",
};

/* Each of the 120 orders of the five events gives one view. */
TEST(any_order_same_view)
{
    char *want = NULL;
    for (int perm = 0; perm < 120; perm++) {
        /* perm in the factorial number system picks one order of the five */
        int pool[5] = {0, 1, 2, 3, 4}, idx[5], p = perm;
        for (int i = 0; i < 5; i++) {
            int left = 5 - i, j = p % left;
            p /= left;
            idx[i] = pool[j];
            memmove(pool + j, pool + j + 1, (size_t)(left - j - 1) * sizeof *pool);
        }
        struct mqc_relstate *r = mqc_relstate_new();
        for (int i = 0; i < 5; i++)
            feed(r, EVS[idx[i]]);
        feed(r, EVS[idx[0]]); /* a repeat changes nothing */
        char *got = show(r);
        if (!want)
            want = strdup(got);
        CHECK_STR(got, want);
        free(got);
        mqc_relstate_free(r);
    }
    CHECK_STR(want, "bob|third|1|0|{\"al\":{\"emojis\":[\"b\"],\"seq\":5}}");
    free(want);
}

TEST(delete_is_final)
{
    struct mqc_relstate *r = mqc_relstate_new();
    feed(r, "{\"t\":\"delete\",\"conv\":\"c\",\"seq\":3,\"from\":\"bob\",\"target\":1}");
    feed(r, EVS[1]);
    feed(r, EVS[0]);
    feed(r,
         "{\"t\":\"edit\",\"conv\":\"c\",\"seq\":5,\"from\":\"bob\",\"target\":1,\"body\":\"x\"}");
    char *got = show(r);
    CHECK_STR(got, "bob|-|0|1|{}");
    free(got);
    mqc_relstate_free(r);
    /* history's erased copy, after the live one */
    r = mqc_relstate_new();
    feed(r, EVS[0]);
    feed(r, "{\"t\":\"msg\",\"conv\":\"c\",\"seq\":1,\"from\":\"bob\",\"deleted\":true}");
    got = show(r);
    CHECK_STR(got, "bob|-|0|1|{}");
    free(got);
    mqc_relstate_free(r);
}

TEST(toggled_many_times_converge)
{
    struct mqc_relstate *r = mqc_relstate_new();
    feed(r, EVS[0]);
    /* seqs 2..31 arrive newest first: the set of seq 31 wins */
    for (int s = 31; s >= 2; s--) {
        char ev[200];
        snprintf(ev, sizeof ev,
                 "{\"t\":\"react\",\"conv\":\"c\",\"seq\":%d,\"from\":\"al\",\"target\":1,"
                 "\"emojis\":[%s]}",
                 s, s == 31 ? "" : "\"x\"");
        feed(r, ev);
    }
    cJSON *mine = mqc_relstate_set_of(r, "c", 1, "al");
    CHECK_EQ_INT(cJSON_GetArraySize(mine), 0);
    cJSON_Delete(mine);
    mine = mqc_relstate_set_of(r, "c", 7, "al");
    CHECK(mine && cJSON_GetArraySize(mine) == 0);
    cJSON_Delete(mine);
    mqc_relstate_free(r);
}

TEST(quote_is_cut_at_40_characters)
{
    struct mqc_relstate *r = mqc_relstate_new();
    /* 41 snowmen (3 bytes each) */
    char ev[400] = "{\"t\":\"msg\",\"conv\":\"c\",\"seq\":1,\"from\":\"bob\",\"body\":\"";
    for (int i = 0; i < 41; i++)
        strcat(ev, "\xe2\x98\x83");
    strcat(ev, "\"}");
    feed(r, ev);
    const struct mqc_relmsg *m = mqc_relstate_get(r, "c", 1);
    if (CHECK(m && m->text)) {
        CHECK_EQ_INT((int)strlen(m->text), 40 * 3 + 3);
        CHECK(!strcmp(m->text + 120, "..."));
    }
    feed(r, "{\"t\":\"msg\",\"conv\":\"c\",\"seq\":2,\"from\":\"bob\",\"body\":\"short\"}");
    m = mqc_relstate_get(r, "c", 2);
    CHECK(m && m->text && !strcmp(m->text, "short"));
    CHECK(mqc_relstate_get(r, "other", 2) == NULL);
    mqc_relstate_free(r);
}

TEST(bounded)
{
    struct mqc_relstate *r = mqc_relstate_new();
    for (int s = 1; s <= MQC_RELSTATE_MAX + 10; s++) {
        char ev[120];
        snprintf(ev, sizeof ev,
                 "{\"t\":\"msg\",\"conv\":\"c\",\"seq\":%d,\"from\":\"b\",\"body\":\"x\"}", s);
        feed(r, ev);
    }
    CHECK(mqc_relstate_get(r, "c", 1) == NULL);
    CHECK(mqc_relstate_get(r, "c", MQC_RELSTATE_MAX + 10) != NULL);
    /* junk is ignored */
    feed(r, "{\"t\":\"react\",\"conv\":\"c\",\"seq\":3,\"target\":5,\"emojis\":[\"a\"]}");
    feed(r, "{\"t\":\"edit\",\"conv\":\"c\",\"seq\":3,\"target\":3,\"body\":\"a\"}");
    feed(r, "{\"t\":\"msg\",\"seq\":3}");
    feed(r, "[1]");
    mqc_relstate_free(r);
    mqc_relstate_free(NULL);
}

int main(void)
{
    RUN(any_order_same_view);
    RUN(delete_is_final);
    RUN(toggled_many_times_converge);
    RUN(quote_is_cut_at_40_characters);
    RUN(bounded);
    return test_finish();
}
