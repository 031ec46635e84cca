/* A tiny header-only unit test harness, so the unit tests need no framework.
 * A test file defines its cases with TEST(name) { ... CHECK(...); ... } and a
 * main() that calls RUN(name) for each case and returns test_finish(). A
 * failed check prints "file:line: <macro> failed: <expression>" (with both
 * values for the _EQ forms) and marks the running case failed; the case goes
 * on, so one run shows every broken check. A case that makes no check at all
 * counts as failed: every test must assert what it claims. test_finish()
 * prints exactly "unit: N passed, M failed" (N, M = cases) and returns the
 * process exit status: 0 only if something ran and nothing failed.
 *
 * Each check macro is an expression worth true when the check held, so a case
 * can stop early when going on would only crash:
 *     if (!CHECK(p != NULL)) return;
 * All state lives in one function-local static, so including this header in a
 * file that uses only part of it causes no unused-symbol warnings. */
#ifndef MQC_TEST_H
#define MQC_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct test_state {
    int passed, failed; /* cases */
    long checks_failed; /* checks, over the whole run */
    int case_checks;    /* checks made by the running case */
    bool case_failed;   /* has the running case failed a check? */
};

static inline struct test_state *test_state(void)
{
    static struct test_state s;
    return &s;
}

/* Record one check; file/line/expr are where and what, for the message. */
static inline bool test_check(bool ok, const char *file, int line, const char *expr)
{
    struct test_state *s = test_state();
    s->case_checks++;
    if (!ok) {
        s->case_failed = true;
        s->checks_failed++;
        fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, expr);
    }
    return ok;
}

static inline bool test_check_eq_int(long long got, long long want, const char *file, int line,
                                     const char *got_expr, const char *want_expr)
{
    struct test_state *s = test_state();
    s->case_checks++;
    if (got != want) {
        s->case_failed = true;
        s->checks_failed++;
        fprintf(stderr, "%s:%d: CHECK_EQ_INT failed: %s == %s (got %lld, expected %lld)\n", file,
                line, got_expr, want_expr, got, want);
        return false;
    }
    return true;
}

/* Strings compare equal when both are NULL or both hold the same bytes. */
static inline bool test_check_str(const char *got, const char *want, const char *file, int line,
                                  const char *got_expr, const char *want_expr)
{
    struct test_state *s = test_state();
    bool ok = (!got && !want) || (got && want && strcmp(got, want) == 0);
    s->case_checks++;
    if (!ok) {
        s->case_failed = true;
        s->checks_failed++;
        fprintf(stderr, "%s:%d: CHECK_STR failed: %s == %s (got %s%s%s, expected %s%s%s)\n", file,
                line, got_expr, want_expr, got ? "\"" : "", got ? got : "NULL", got ? "\"" : "",
                want ? "\"" : "", want ? want : "NULL", want ? "\"" : "");
    }
    return ok;
}

/* Does haystack contain needle? NULL contains nothing. For CHECK(). */
static inline bool test_contains(const char *haystack, const char *needle)
{
    return haystack && needle && strstr(haystack, needle) != NULL;
}

#define CHECK(cond) test_check((cond) ? true : false, __FILE__, __LINE__, #cond)
#define CHECK_EQ_INT(got, want)                                                                    \
    test_check_eq_int((long long)(got), (long long)(want), __FILE__, __LINE__, #got, #want)
#define CHECK_STR(got, want) test_check_str((got), (want), __FILE__, __LINE__, #got, #want)

#define TEST(name) static void test_##name(void)
#define RUN(name) test_run(#name, test_##name)

/* Run one case and record its outcome. */
static inline void test_run(const char *name, void (*fn)(void))
{
    struct test_state *s = test_state();
    s->case_checks = 0;
    s->case_failed = false;
    fn();
    if (s->case_checks == 0) {
        fprintf(stderr, "%s: made no checks\n", name);
        s->case_failed = true;
    }
    if (s->case_failed) {
        s->failed++;
        fprintf(stderr, "FAIL %s\n", name);
    } else {
        s->passed++;
        printf("ok   %s\n", name);
    }
}

/* Print the summary line; returns main()'s exit status. */
static inline int test_finish(void)
{
    struct test_state *s = test_state();
    fflush(stdout);
    fflush(stderr);
    printf("unit: %d passed, %d failed\n", s->passed, s->failed);
    fflush(stdout);
    return (s->failed == 0 && s->passed > 0) ? 0 : 1;
}

#endif
