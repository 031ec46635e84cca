/* `mqchat store upgrade`: convert a Redis store written by an older mqchat
 * to this version's layout in place (store/upgrade.c: lazy fan-out, issue
 * #15). Idempotent: running it again, or after an interruption, finishes
 * the job and changes nothing already converted. Brokers and mqchat-push
 * refuse a store with data and no version key until it has run. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/err.h"
#include "store/store.h"

int mqc_cli_store_cmd(const struct mqc_cli *cli, int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "upgrade") != 0) {
        fprintf(stderr, "usage: mqchat store upgrade\n");
        return 2;
    }
    struct mqc_store *s = mqc_cli_store(cli);
    if (!s)
        return 1;
    long long convs = 0, users = 0;
    int rc = mqc_store_upgrade(s, &convs, &users);
    if (rc != MQC_OK) {
        fprintf(stderr, "mqchat: store upgrade failed (%s): %s; run it again\n", mqc_err_str(rc),
                mqc_store_last_error(s));
        mqc_store_free(s);
        return 1;
    }
    printf("store upgraded to version %d: %lld conversations and %lld users converted\n",
           MQC_STORE_VERSION, convs, users);
    mqc_store_free(s);
    return 0;
}
