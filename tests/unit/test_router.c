/* store/router.c without a cluster: which slot a command is routed by, seed
 * parsing, and what callers get when no node answers (every command
 * answered once, `unavailable`, with the reason). Behaviour against a real
 * Redis Cluster is tests/integration/test_redis_cluster.py. */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/err.h"
#include "core/slot.h"
#include "store/router.h"
#include "test.h"

static int slot_of(int argc, const char **argv)
{
    return mqc_router_slot_of(argc, argv, NULL);
}

static int key_slot(const char *k)
{
    return (int)mqc_slot_of(k, strlen(k));
}

TEST(slot_of_commands)
{
    const char *get[] = {"GET", "k1"};
    CHECK_EQ_INT(slot_of(2, get), key_slot("k1"));
    const char *lower[] = {"hset", "{u:alice}:devices", "f", "v"};
    CHECK_EQ_INT(slot_of(4, lower), key_slot("{u:alice}"));
    const char *fcall[] = {"FCALL", "mqc1_send", "2", "{c:x}:meta", "{c:x}:log", "a"};
    CHECK_EQ_INT(slot_of(6, fcall), key_slot("{c:x}:meta"));
    const char *fcall0[] = {"FCALL_RO", "f", "0", "a"};
    CHECK_EQ_INT(slot_of(4, fcall0), -1);
    const char *fcallbad[] = {"FCALL", "f", "x", "k"};
    CHECK_EQ_INT(slot_of(4, fcallbad), -1);
    const char *eval[] = {"EVAL", "return 1", "1", "k2"};
    CHECK_EQ_INT(slot_of(4, eval), key_slot("k2"));
    const char *xread[] = {"XREAD", "COUNT", "10", "STREAMS", "s1", "0"};
    CHECK_EQ_INT(slot_of(6, xread), key_slot("s1"));
    const char *xrg[] = {"XREADGROUP", "GROUP", "g", "c", "streams", "s2", ">"};
    CHECK_EQ_INT(slot_of(7, xrg), key_slot("s2"));
    /* Sharded pub/sub by its channel (the bus on a cluster); PUBLISH anywhere. */
    const char *spub[] = {"SPUBLISH", "mqchat:bus:n:n1", "m"};
    CHECK_EQ_INT(slot_of(3, spub), key_slot("mqchat:bus:n:n1"));
    const char *pub[] = {"PUBLISH", "mqchat:bus:all", "m"};
    CHECK_EQ_INT(slot_of(3, pub), -1);
    const char *ping[] = {"PING"};
    CHECK_EQ_INT(slot_of(1, ping), -1);
    const char *wait[] = {"WAIT", "1", "100"};
    CHECK_EQ_INT(slot_of(3, wait), -1);
    const char *flist[] = {"FUNCTION", "LIST"};
    CHECK_EQ_INT(slot_of(2, flist), -1);
    /* Arguments with lengths need not be NUL-terminated: "1x" read as "1". */
    const char *bin[] = {"FCALL", "f", "1x", "k3"};
    size_t lens[] = {5, 1, 1, 2};
    CHECK_EQ_INT(mqc_router_slot_of(4, bin, lens), key_slot("k3"));
}

TEST(seeds)
{
    const char *bad[] = {"", "  ,", "host", "host:", ":6379", "h:0", "h:70000", "h:12ab"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct mqc_router_opts o = {.seeds = bad[i]};
        struct mqc_router *r = mqc_router_new(&o);
        if (!CHECK(r == NULL))
            fprintf(stderr, "  seeds accepted: '%s'\n", bad[i]);
        mqc_router_free(r);
    }
    struct mqc_router_opts o = {.seeds = "127.0.0.1:7000,127.0.0.1:7001 [::1]:7002"};
    struct mqc_router *r = mqc_router_new(&o);
    CHECK(r != NULL);
    mqc_router_free(r);
    mqc_router_free(NULL);
}

/* A loopback port nobody listens on (bound, then closed). */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return 1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

struct count {
    int calls, unavail, maybe_run;
};

static void counted(void *ctx, struct mqc_router_result *res)
{
    struct count *c = ctx;
    c->calls++;
    c->unavail += res->rc == MQC_EUNAVAIL && res->error && res->error[0];
    c->maybe_run += res->maybe_run;
}

TEST(no_node_answers)
{
    char seeds[64];
    snprintf(seeds, sizeof seeds, "127.0.0.1:%d", dead_port());
    struct mqc_router_opts o = {.seeds = seeds, .timeout_ms = 200, .retry_ms = 50};
    struct mqc_router *r = mqc_router_new(&o);
    if (!CHECK(r != NULL))
        return;
    CHECK(mqc_router_refresh(r) == MQC_EUNAVAIL);
    CHECK(mqc_router_node_of(r, 0) == NULL);
    redisReply *rep = (redisReply *)1;
    const char *get[] = {"GET", "k"};
    CHECK_EQ_INT(mqc_router_call(r, 2, get, NULL, &rep), MQC_EUNAVAIL);
    CHECK(rep == NULL);
    CHECK(strstr(mqc_router_last_error(r), "slot map") != NULL);
    CHECK(strstr(mqc_router_last_error(r), seeds) != NULL);
    /* Pipelined: every command answered once, none "maybe run". */
    struct count c = {0};
    for (int i = 0; i < 10; i++)
        CHECK_EQ_INT(mqc_router_append(r, 2, get, NULL, i % 2, counted, &c), MQC_OK);
    CHECK_EQ_INT(mqc_router_pending(r), 10);
    mqc_router_flush(r);
    CHECK_EQ_INT(c.calls, 10);
    CHECK_EQ_INT(c.unavail, 10);
    CHECK_EQ_INT(c.maybe_run, 0);
    CHECK_EQ_INT(mqc_router_pending(r), 0);
    /* Queued and never sent: answered by _free. */
    struct count d = {0};
    CHECK_EQ_INT(mqc_router_append(r, 2, get, NULL, 0, counted, &d), MQC_OK);
    mqc_router_free(r);
    CHECK_EQ_INT(d.calls, 1);
    CHECK_EQ_INT(d.unavail, 1);
}

int main(void)
{
    RUN(slot_of_commands);
    RUN(seeds);
    RUN(no_node_answers);
    return test_finish();
}
