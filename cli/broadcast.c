/* `mqchat broadcast --text TEXT`: a system event ({"t":"system",...}) to
 * every user connected to any node of the cluster, through the Redis bus.
 * Live only: users who are not connected do not get it later. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/event.h"
#include "core/utf8.h"
#include "store/bus.h"

#define MAX_TEXT 4096

int mqc_cli_broadcast(const struct mqc_cli *cli, int argc, char **argv)
{
    const char *text = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--text") && i + 1 < argc)
            text = argv[++i];
        else {
            fprintf(stderr, "usage: mqchat broadcast --text TEXT\n");
            return 2;
        }
    }
    if (!text || !*text || strlen(text) > MAX_TEXT || !mqc_utf8_valid(text, strlen(text))) {
        fprintf(stderr, "mqchat: broadcast needs --text with 1-%d bytes of UTF-8\n", MAX_TEXT);
        return 2;
    }
    struct mqc_store *s = mqc_cli_store(cli);
    if (!s)
        return 1;
    char *ev = mqc_event_system(text, mqc_clock_wall_ms());
    long long nodes = 0;
    int rc = ev ? mqc_store_broadcast(s, ev, &nodes) : MQC_ENOMEM;
    free(ev);
    mqc_store_free(s);
    if (rc != MQC_OK) {
        fprintf(stderr, "mqchat: broadcast failed: %s\n", mqc_err_str(rc));
        return 1;
    }
    printf("broadcast sent to %lld node%s\n", nodes, nodes == 1 ? "" : "s");
    return 0;
}
