/* Unit tests for core/opt.h, the option-table module both configs use:
 * each setter's parsing, bounds and refusals (the field keeps its value),
 * the error format with a program's prefix and hidden secrets, lookup by
 * name and length, defaults and cleanup. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/opt.h"
#include "tests/unit/test.h"

struct conf {
    char *name, *secret, *prefix;
    long count;
    bool flag;
};

#define F(field) offsetof(struct conf, field)
static const struct mqc_opt rows[] = {
    {"name", mqc_opt_set_str, F(name), 1, 8, "anon", 0, mqc_opt_check_id, "a name"},
    {"secret", mqc_opt_set_str, F(secret), 1, 64, NULL, MQC_OPT_SECRET, NULL, "a password"},
    {"prefix", mqc_opt_set_str, F(prefix), 1, 16, NULL, 0, mqc_opt_check_prefix, "a prefix"},
    {"count", mqc_opt_set_long, F(count), 2, 10, "5", 0, NULL, "a number"},
    {"flag", mqc_opt_set_bool, F(flag), 0, 1, "true", 0, NULL, "a switch"},
};
#undef F
#define NROWS (sizeof rows / sizeof rows[0])

static const struct mqc_opt *row(const char *name)
{
    return mqc_opt_find(rows, NROWS, name, strlen(name));
}

TEST(defaults_and_cleanup)
{
    struct conf c = {0};
    if (!CHECK_EQ_INT(mqc_opt_defaults(rows, NROWS, &c), MQC_OK))
        return;
    CHECK_STR(c.name, "anon");
    CHECK(c.secret == NULL && c.prefix == NULL);
    CHECK_EQ_INT(c.count, 5);
    CHECK(c.flag);
    mqc_opt_cleanup(rows, NROWS, &c);
    CHECK(c.name == NULL);
    mqc_opt_cleanup(rows, NROWS, &c); /* twice is fine */
    mqc_opt_cleanup(rows, NROWS, NULL);
}

TEST(find_by_name_and_length)
{
    CHECK(row("count") == &rows[3]);
    CHECK(mqc_opt_find(rows, NROWS, "countdown", 5) == &rows[3]); /* len, not the NUL */
    CHECK(mqc_opt_find(rows, NROWS, "coun", 4) == NULL);
    CHECK(mqc_opt_find(rows, NROWS, NULL, 0) == NULL);
    CHECK(mqc_opt_is_str(row("name")) && !mqc_opt_is_str(row("count")));
}

TEST(numbers)
{
    struct conf c = {0};
    char err[256] = "";
    CHECK_EQ_INT(mqc_opt_apply(row("count"), &c, "10", "line 1: ", err, sizeof err), MQC_OK);
    CHECK_EQ_INT(c.count, 10);
    static const char *const bad[] = {"11", "1", "-3", "", "7x", "x", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_INT(mqc_opt_apply(row("count"), &c, bad[i], "line 4: ", err, sizeof err),
                     MQC_EBADREQ);
        char want[128];
        snprintf(want, sizeof want, "line 4: count: '%s' is not a whole number from 2 to 10",
                 bad[i]);
        CHECK_STR(err, want);
    }
    CHECK_EQ_INT(c.count, 10); /* unchanged by the refusals */
}

TEST(booleans)
{
    struct conf c = {0};
    char err[256] = "";
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        CHECK_EQ_INT(mqc_opt_apply(row("flag"), &c, yes[i], "", err, sizeof err), MQC_OK);
        CHECK(c.flag);
        CHECK_EQ_INT(mqc_opt_apply(row("flag"), &c, no[i], "", err, sizeof err), MQC_OK);
        CHECK(!c.flag);
    }
    CHECK_EQ_INT(mqc_opt_apply(row("flag"), &c, "TRUE", "plugin_opt_", err, sizeof err),
                 MQC_EBADREQ);
    CHECK_STR(err, "plugin_opt_flag: 'TRUE' is not true or false");
    CHECK(!c.flag);
}

TEST(strings_lengths_checks_and_secrets)
{
    struct conf c = {0};
    char err[256] = "";
    CHECK_EQ_INT(mqc_opt_apply(row("name"), &c, "bob", "", err, sizeof err), MQC_OK);
    CHECK_STR(c.name, "bob");
    CHECK_EQ_INT(mqc_opt_apply(row("name"), &c, "ninechars", "", err, sizeof err), MQC_EBADREQ);
    CHECK_STR(err, "name: 'ninechars' has the wrong length");
    CHECK_EQ_INT(mqc_opt_apply(row("name"), &c, "a/b", "", err, sizeof err), MQC_EBADREQ);
    CHECK_STR(err, "name: 'a/b' must be 1-64 characters of [A-Za-z0-9_.-]");
    CHECK_EQ_INT(mqc_opt_apply(row("prefix"), &c, "a{b}", "", err, sizeof err), MQC_EBADREQ);
    CHECK(test_contains(err, "without spaces or braces"));
    CHECK_STR(c.name, "bob"); /* unchanged by the refusals */
    char big[100];
    memset(big, 's', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_EQ_INT(mqc_opt_apply(row("secret"), &c, big, "plugin_opt_", err, sizeof err),
                 MQC_EBADREQ);
    CHECK_STR(err, "plugin_opt_secret: '(hidden)' has the wrong length");
    CHECK(mqc_opt_check_path("/etc/x y.pem") == NULL);
    CHECK(mqc_opt_check_path("/etc/x\ty") != NULL);
    mqc_opt_cleanup(rows, NROWS, &c);
}

int main(void)
{
    RUN(defaults_and_cleanup);
    RUN(find_by_name_and_length);
    RUN(numbers);
    RUN(booleans);
    RUN(strings_lengths_checks_and_secrets);
    return test_finish();
}
