/* Cluster directory (core/directory.c): users on nodes, removal, a node's
 * death, no duplicates. */
#include <string.h>

#include "core/directory.h"
#include "core/err.h"
#include "tests/unit/test.h"

static bool on(const struct mqc_directory *d, const char *user, const char *node)
{
    size_t n;
    const char *const *v = mqc_directory_nodes(d, user, &n);
    for (size_t i = 0; v && i < n; i++) {
        if (!strcmp(v[i], node))
            return true;
    }
    return false;
}

TEST(add_remove_drop)
{
    struct mqc_directory *d = mqc_directory_new();
    if (!CHECK(d != NULL))
        return;
    CHECK_EQ_INT(mqc_directory_add(d, "alice", "n1"), MQC_OK);
    CHECK_EQ_INT(mqc_directory_add(d, "alice", "n1"), MQC_OK);
    CHECK_EQ_INT(mqc_directory_add(d, "alice", "n2"), MQC_OK);
    CHECK_EQ_INT(mqc_directory_add(d, "bob", "n2"), MQC_OK);
    size_t n;
    mqc_directory_nodes(d, "alice", &n);
    CHECK_EQ_INT((int)n, 2);
    CHECK(on(d, "alice", "n1") && on(d, "alice", "n2") && on(d, "bob", "n2"));
    mqc_directory_remove(d, "alice", "n1");
    CHECK(!on(d, "alice", "n1") && on(d, "alice", "n2"));
    mqc_directory_drop_node(d, "n2");
    CHECK(mqc_directory_nodes(d, "alice", &n) == NULL && n == 0);
    CHECK_EQ_INT((int)mqc_directory_count(d), 0);
    mqc_directory_remove(d, "nobody", "n9");
    mqc_directory_drop_node(d, "n9");
    mqc_directory_free(d);
    mqc_directory_free(NULL);
}

int main(void)
{
    RUN(add_remove_drop);
    return test_finish();
}
