/* mqc_parse_bench: CPU cost of reading one client payload on the broker
 * thread, in ns per payload, for a few typical payloads: the strict scan
 * alone (core/json.c), cJSON alone, the whole mqc_envelope_parse (scan +
 * cJSON + attrs kept as text), and a send's full path (envelope, send
 * parser, msg event parts). Single thread, no I/O; best of several rounds,
 * in thread CPU time, since the machine may be shared. Usage: mqc_parse_bench [rounds]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "core/envelope.h"
#include "core/err.h"
#include "core/event.h"
#include "core/json.h"

static const struct {
    const char *name, *json;
} payloads[] = {
    {"send (short text, reply_to)",
     "{\"id\":\"m-1764294000123-42\",\"body\":\"Hey, are we still on for lunch tomorrow at "
     "12:30? I can book the place near the office.\",\"attrs\":{\"reply_to\":41}}"},
    {"send (no attrs)", "{\"id\":\"m-7\",\"body\":\"ok, see you there\"}"},
    {"send (attachment attrs)",
     "{\"id\":\"m-1764294000999-7\",\"body\":\"the photos from saturday\",\"attrs\":{"
     "\"attachment\":{\"key\":\"g-5f0c2a9e/2026/12/04/7f3a9c1e-cat.jpg\",\"name\":\"cat.jpg\","
     "\"type\":\"image/jpeg\",\"size\":123456,\"width\":1920,\"height\":1080,\"thumb\":"
     "\"iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAYAAAAf8/9hAAAAOklEQVQ4jWNgGAWjYBSMglEwCkbBKBgF"
     "o2AUjIJRMApGwSgYBaNgFIyCUTAKRsEoGAWjYBSMglEAAPuIAAG9r3yXAAAAAElFTkSuQmCC\"},"
     "\"reply_to\":9007199254740993}}"},
    {"receipt", "{\"type\":\"read\",\"seq\":1042}"},
    {"request (history)",
     "{\"op\":\"history\",\"req\":\"r-19\",\"conv\":\"g-5f0c2a9e\",\"limit\":50}"},
};

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

enum what { SCAN, CJSON, ENVELOPE, SEND_PATH };

/* One run of what over json; returns nonzero to keep the optimizer honest. */
static size_t once(enum what w, const char *json, size_t len)
{
    size_t sink = 0;
    if (w == SCAN) {
        struct mqc_json_scan sc = {.max_depth = MQC_ENVELOPE_DEPTH_MAX, .member = "attrs"};
        sink = mqc_json_scan(json, len, &sc) == MQC_OK ? sc.member_len + 1 : 0;
    } else if (w == CJSON) {
        cJSON *j = cJSON_ParseWithLength(json, len);
        sink = j != NULL;
        cJSON_Delete(j);
    } else {
        cJSON *root = NULL;
        if (mqc_envelope_parse(json, len, 65536, &root, NULL) != MQC_OK)
            return 0;
        sink = 1;
        struct mqc_send m;
        const char *why;
        char *prefix = NULL, *suffix = NULL;
        if (w == SEND_PATH && mqc_send_parse(root, &m, &why) == MQC_OK &&
            mqc_event_msg_parts("g-5f0c2a9e", m.id, "alice", 1764294000123, m.body, m.attrs,
                                &prefix, &suffix) == MQC_OK)
            sink += strlen(suffix);
        free(prefix);
        free(suffix);
        cJSON_Delete(root);
    }
    return sink;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 7;
    if (rounds < 1)
        rounds = 1;
    size_t sink = 0;
    printf("%-30s %6s %10s %10s %10s %10s\n", "payload", "bytes", "scan", "cJSON", "envelope",
           "send path");
    for (size_t p = 0; p < sizeof payloads / sizeof payloads[0]; p++) {
        const char *json = payloads[p].json;
        size_t len = strlen(json);
        printf("%-30s %6zu", payloads[p].name, len);
        for (int w = SCAN; w <= SEND_PATH; w++) {
            if (w == SEND_PATH && strncmp(payloads[p].name, "send", 4) != 0) {
                printf(" %10s", "-");
                continue;
            }
            double best = 1e30;
            for (int r = 0; r < rounds; r++) {
                int n = 5000;
                double t0 = now_ns();
                for (int i = 0; i < n; i++)
                    sink += once((enum what)w, json, len);
                double ns = (now_ns() - t0) / n;
                if (ns < best)
                    best = ns;
            }
            printf(" %8.0fns", best);
        }
        printf("\n");
    }
    return sink == 0; /* never: every payload parses */
}
