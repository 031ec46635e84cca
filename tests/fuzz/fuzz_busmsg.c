/* Fuzz target for cluster bus messages (core/busmsg.h), which arrive from
 * Redis pub/sub: parse the input; what parses has ids that are valid, a body
 * inside the input, and a recipient list whose users are valid ids; an
 * event's header rebuilt from its fields parses to the same fields. */
#include <stdlib.h>
#include <string.h>

#include "core/busmsg.h"
#include "core/err.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        fuzz_quiet();
        ready = 1;
    }
    const char *in = (const char *)data;
    struct mqc_busmsg m;
    if (mqc_busmsg_parse(in, size, &m) != MQC_OK)
        return 0;
    FUZZ_CHECK(m.blen == 0 || (m.body >= in && m.body + m.blen <= in + size));
    if (m.kind != MQC_BUS_EVENT && m.kind != MQC_BUS_BC)
        FUZZ_CHECK(strcmp(m.node, "*") == 0 || mqc_id_valid_str(m.node));
    if (m.kind != MQC_BUS_EVENT)
        return 0;
    char u[MQC_ID_MAX + 1];
    size_t pos = 0;
    while (mqc_busmsg_next_user(&m, &pos, u))
        FUZZ_CHECK(mqc_id_valid_str(u));
    char *list = fuzz_strndup((const uint8_t *)m.users, m.users_len);
    char *head = mqc_busmsg_event_head(m.qos, m.conv[0] ? m.conv : NULL, m.seq, list);
    FUZZ_CHECK(head != NULL);
    struct mqc_busmsg again;
    FUZZ_CHECK(mqc_busmsg_parse(head, strlen(head), &again) == MQC_OK);
    FUZZ_CHECK(again.qos == m.qos && again.seq == m.seq && strcmp(again.conv, m.conv) == 0);
    FUZZ_CHECK(again.users_len == m.users_len && memcmp(again.users, m.users, m.users_len) == 0);
    free(head);
    free(list);
    return 0;
}
