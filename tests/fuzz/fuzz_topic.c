/* Fuzz target for the topic grammar and the decisions built on it: the input
 * as one NUL-terminated topic through mqc_topic_parse() and mqc_acl_check()
 * (every access kind, user alice, a fake membership table, the operator
 * filters "devices/%u/# public/#"); then split at the first newline into a
 * filter and a topic/filter pair for mqc_filter_valid/matches/covers, with
 * the oracle that a filter covering a concrete topic also matches it. */
#include <stdbool.h>
#include <string.h>

#include "acl/acl.h"
#include "core/filter.h"
#include "core/topic.h"
#include "tests/fuzz/fuzz.h"

/* alice shares a conversation with bob only. */
static bool shares_conv(void *ctx, const char *user, const char *other)
{
    (void)ctx;
    FUZZ_CHECK(user != NULL && other != NULL);
    return (!strcmp(user, "alice") && !strcmp(other, "bob")) ||
           (!strcmp(user, "bob") && !strcmp(other, "alice"));
}

static struct mqc_filter_list other;

static void check_topic(const char *s)
{
    struct mqc_topic t;
    enum mqc_topic_kind k = mqc_topic_parse(s, &t);
    FUZZ_CHECK(k == t.kind);
    FUZZ_CHECK(memchr(t.id, '\0', sizeof t.id) != NULL);
    if (k == MQC_TOPIC_OTHER || k == MQC_TOPIC_INVALID)
        FUZZ_CHECK(t.id[0] == '\0');
    (void)mqc_topic_is_chat(s);

    static bool ready;
    if (!ready) {
        char err[256];
        FUZZ_CHECK(mqc_filter_list_parse("devices/%u/# public/#", &other, err, sizeof err) == 0);
        ready = true;
    }
    struct mqc_acl acl = {.other = &other, .members = {.ctx = NULL, .shares_conv = shares_conv}};
    static const enum mqc_acl_access kinds[] = {MQC_ACL_SUBSCRIBE, MQC_ACL_UNSUBSCRIBE,
                                                MQC_ACL_WRITE, MQC_ACL_READ};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        enum mqc_acl_verdict v = mqc_acl_check(&acl, kinds[i], "alice", s, false);
        FUZZ_CHECK(v == MQC_ACL_ALLOW || v == MQC_ACL_DENY);
        FUZZ_CHECK(mqc_acl_check(&acl, kinds[i], NULL, s, false) == MQC_ACL_DENY);
    }
    (void)mqc_acl_check(&acl, MQC_ACL_WRITE, "alice", s, true);
}

static void check_filters(const char *a, const char *b)
{
    bool va = mqc_filter_valid(a), vb = mqc_filter_valid(b);
    (void)mqc_filter_reaches_chat(a);
    (void)mqc_filter_reaches_chat(b);
    bool concrete = vb && strpbrk(b, "+#") == NULL;
    if (va && concrete) {
        bool m = mqc_filter_matches(a, b);
        bool c = mqc_filter_covers(a, b);
        /* A concrete b matches exactly itself, so covering it means matching it. */
        FUZZ_CHECK(!c || m);
    }
    if (va && vb)
        (void)mqc_filter_covers(a, b);
    if (vb)
        FUZZ_CHECK(mqc_filter_covers(b, b)); /* every valid filter covers itself */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    char *s = fuzz_strndup(data, size);
    check_topic(s);
    char *nl = strchr(s, '\n');
    if (nl) {
        *nl = '\0';
        check_filters(s, nl + 1);
        check_filters(nl + 1, s);
    }
    free(s);
    return 0;
}
