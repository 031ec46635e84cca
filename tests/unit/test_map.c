/* Unit tests for core/map.h: the string-keyed hash map. A new map is empty;
 * put inserts a copied key or replaces the value; get finds it; del returns
 * the value once and NULL for a missing key; count follows; each visits every
 * entry exactly once; 10000 keys (many doublings) all stay reachable, also
 * after deleting half; remove_if removes exactly the entries it selects,
 * in one walk, and the rest stay reachable; free(NULL) is safe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/map.h"
#include "tests/unit/test.h"

TEST(empty)
{
    struct mqc_map *m = mqc_map_new();
    if (!CHECK(m != NULL))
        return;
    CHECK_EQ_INT(mqc_map_count(m), 0);
    CHECK(mqc_map_get(m, "a") == NULL);
    CHECK(mqc_map_get(m, "") == NULL);
    CHECK(mqc_map_del(m, "a") == NULL);
    CHECK_EQ_INT(mqc_map_count(m), 0);
    mqc_map_free(m);
}

TEST(put_get_replace)
{
    struct mqc_map *m = mqc_map_new();
    if (!CHECK(m != NULL))
        return;
    int a = 1, b = 2, c = 3;
    char key[] = "alpha";
    CHECK_EQ_INT(mqc_map_put(m, key, &a), MQC_OK);
    key[0] = 'X'; /* the key was copied */
    CHECK(mqc_map_get(m, "alpha") == &a);
    CHECK(mqc_map_get(m, "Xlpha") == NULL);
    CHECK_EQ_INT(mqc_map_put(m, "beta", &b), MQC_OK);
    CHECK_EQ_INT(mqc_map_put(m, "", &c), MQC_OK); /* the empty key is a key */
    CHECK_EQ_INT(mqc_map_count(m), 3);
    CHECK(mqc_map_get(m, "beta") == &b);
    CHECK(mqc_map_get(m, "") == &c);
    /* no prefix or extension matches */
    CHECK(mqc_map_get(m, "alph") == NULL);
    CHECK(mqc_map_get(m, "alphaa") == NULL);
    CHECK(mqc_map_get(m, "Alpha") == NULL);
    /* replace: same count, new value */
    CHECK_EQ_INT(mqc_map_put(m, "alpha", &c), MQC_OK);
    CHECK_EQ_INT(mqc_map_count(m), 3);
    CHECK(mqc_map_get(m, "alpha") == &c);
    CHECK(mqc_map_get(m, "beta") == &b);
    mqc_map_free(m);
}

TEST(del)
{
    struct mqc_map *m = mqc_map_new();
    if (!CHECK(m != NULL))
        return;
    int a = 1, b = 2;
    CHECK_EQ_INT(mqc_map_put(m, "a", &a), MQC_OK);
    CHECK_EQ_INT(mqc_map_put(m, "b", &b), MQC_OK);
    CHECK(mqc_map_del(m, "missing") == NULL);
    CHECK(mqc_map_del(m, "") == NULL);
    CHECK_EQ_INT(mqc_map_count(m), 2);
    CHECK(mqc_map_del(m, "a") == &a);
    CHECK_EQ_INT(mqc_map_count(m), 1);
    CHECK(mqc_map_get(m, "a") == NULL);
    CHECK(mqc_map_get(m, "b") == &b);
    CHECK(mqc_map_del(m, "a") == NULL); /* only once */
    CHECK_EQ_INT(mqc_map_count(m), 1);
    /* put again after del */
    CHECK_EQ_INT(mqc_map_put(m, "a", &b), MQC_OK);
    CHECK(mqc_map_get(m, "a") == &b);
    CHECK_EQ_INT(mqc_map_count(m), 2);
    CHECK(mqc_map_del(m, "b") == &b);
    CHECK(mqc_map_del(m, "a") == &b);
    CHECK_EQ_INT(mqc_map_count(m), 0);
    mqc_map_free(m);
}

struct seen {
    int n;
    int *hits; /* per index */
    int wrong;
    int size;
};

static void visit(const char *key, void *value, void *ctx)
{
    struct seen *s = ctx;
    int i = -1;
    s->n++;
    if (sscanf(key, "k%d", &i) != 1 || i < 0 || i >= s->size || value != (void *)&s->hits[i]) {
        s->wrong++;
        return;
    }
    s->hits[i]++;
}

TEST(each)
{
    struct mqc_map *m = mqc_map_new();
    if (!CHECK(m != NULL))
        return;
    int hits[5] = {0};
    struct seen s = {.hits = hits, .size = 5};
    mqc_map_each(m, visit, &s); /* empty: never called */
    CHECK_EQ_INT(s.n, 0);
    char key[16];
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "k%d", i);
        CHECK_EQ_INT(mqc_map_put(m, key, &hits[i]), MQC_OK);
    }
    CHECK(mqc_map_del(m, "k2") == &hits[2]);
    mqc_map_each(m, visit, &s);
    CHECK_EQ_INT(s.n, 4);
    CHECK_EQ_INT(s.wrong, 0);
    CHECK_EQ_INT(hits[0], 1);
    CHECK_EQ_INT(hits[1], 1);
    CHECK_EQ_INT(hits[2], 0);
    CHECK_EQ_INT(hits[3], 1);
    CHECK_EQ_INT(hits[4], 1);
    mqc_map_free(m);
}

TEST(growth_10000)
{
    enum { N = 10000 };
    struct mqc_map *m = mqc_map_new();
    int *vals = calloc(N, sizeof *vals);
    if (!CHECK(m != NULL) || !CHECK(vals != NULL)) {
        mqc_map_free(m);
        free(vals);
        return;
    }
    char key[16];
    int failed = 0;
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "k%d", i);
        if (mqc_map_put(m, key, &vals[i]) != MQC_OK)
            failed++;
        if (mqc_map_count(m) != (size_t)i + 1)
            failed++;
    }
    CHECK_EQ_INT(failed, 0);
    CHECK_EQ_INT(mqc_map_count(m), N);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "k%d", i);
        if (mqc_map_get(m, key) != &vals[i])
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(mqc_map_get(m, "k10000") == NULL);
    /* replacing every key after growth keeps the count */
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "k%d", i);
        if (mqc_map_put(m, key, &vals[N - 1 - i]) != MQC_OK)
            failed++;
    }
    CHECK_EQ_INT(failed, 0);
    CHECK_EQ_INT(mqc_map_count(m), N);
    bad = 0;
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "k%d", i);
        if (mqc_map_get(m, key) != &vals[N - 1 - i])
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    /* delete the even ones: they go, the odd ones stay */
    for (int i = 0; i < N; i += 2) {
        snprintf(key, sizeof key, "k%d", i);
        if (mqc_map_del(m, key) != &vals[N - 1 - i])
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(mqc_map_count(m), N / 2);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "k%d", i);
        void *want = (i % 2) ? &vals[N - 1 - i] : NULL;
        if (mqc_map_get(m, key) != want)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    /* back to identity values; each sees all N once */
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "k%d", i);
        if (mqc_map_put(m, key, &vals[i]) != MQC_OK)
            failed++;
    }
    CHECK_EQ_INT(failed, 0);
    CHECK_EQ_INT(mqc_map_count(m), N);
    struct seen s = {.hits = vals, .size = N};
    mqc_map_each(m, visit, &s);
    CHECK_EQ_INT(s.n, N);
    CHECK_EQ_INT(s.wrong, 0);
    int not_once = 0;
    for (int i = 0; i < N; i++)
        not_once += vals[i] != 1;
    CHECK_EQ_INT(not_once, 0);
    mqc_map_free(m);
    free(vals);
}

TEST(long_and_similar_keys)
{
    struct mqc_map *m = mqc_map_new();
    if (!CHECK(m != NULL))
        return;
    char big[2048];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    int a = 1, b = 2;
    CHECK_EQ_INT(mqc_map_put(m, big, &a), MQC_OK);
    big[sizeof big - 2] = 'y'; /* differs in the last byte only */
    CHECK_EQ_INT(mqc_map_put(m, big, &b), MQC_OK);
    CHECK_EQ_INT(mqc_map_count(m), 2);
    CHECK(mqc_map_get(m, big) == &b);
    big[sizeof big - 2] = 'x';
    CHECK(mqc_map_get(m, big) == &a);
    mqc_map_free(m);
}

TEST(free_null)
{
    mqc_map_free(NULL);
    struct mqc_map *m = mqc_map_new();
    if (!CHECK(m != NULL))
        return;
    int a = 0;
    CHECK_EQ_INT(mqc_map_put(m, "a", &a), MQC_OK);
    mqc_map_free(m); /* frees keys, not values (ASan checks) */
    CHECK_EQ_INT(a, 0);
}

static bool select_odd(const char *key, void *value, void *ctx)
{
    int *calls = ctx, *v = value;
    (*calls)++;
    (void)key;
    if (*v % 2 == 0)
        return false;
    *v = -1; /* disposed of */
    return true;
}

static bool select_none(const char *key, void *value, void *ctx)
{
    (void)key;
    (void)value;
    (*(int *)ctx)++;
    return false;
}

TEST(remove_if)
{
    enum { N = 1000 };
    static int vals[N];
    struct mqc_map *m = mqc_map_new();
    if (!CHECK(m != NULL))
        return;
    char key[16];
    int calls = 0;
    CHECK_EQ_INT(mqc_map_remove_if(m, select_odd, &calls), 0); /* empty */
    CHECK_EQ_INT(calls, 0);
    for (int i = 0; i < N; i++) {
        vals[i] = i;
        snprintf(key, sizeof key, "r%d", i);
        CHECK_EQ_INT(mqc_map_put(m, key, &vals[i]), MQC_OK);
    }
    CHECK_EQ_INT(mqc_map_remove_if(m, select_odd, &calls), N / 2);
    CHECK_EQ_INT(calls, N); /* every entry seen once */
    CHECK_EQ_INT(mqc_map_count(m), N / 2);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "r%d", i);
        void *want = (i % 2) ? NULL : &vals[i];
        if (mqc_map_get(m, key) != want || vals[i] != ((i % 2) ? -1 : i))
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    calls = 0;
    CHECK_EQ_INT(mqc_map_remove_if(m, select_none, &calls), 0);
    CHECK_EQ_INT(calls, N / 2);
    CHECK_EQ_INT(mqc_map_count(m), N / 2);
    /* a removed key can be put again */
    CHECK_EQ_INT(mqc_map_put(m, "r1", &vals[1]), MQC_OK);
    CHECK(mqc_map_get(m, "r1") == &vals[1]);
    CHECK_EQ_INT(mqc_map_count(m), N / 2 + 1);
    mqc_map_free(m);
}

int main(void)
{
    RUN(empty);
    RUN(put_get_replace);
    RUN(del);
    RUN(each);
    RUN(growth_10000);
    RUN(remove_if);
    RUN(long_and_similar_keys);
    RUN(free_null);
    return test_finish();
}
