/* Shared pieces of the mqchat command-line tool: global options and the
 * subcommand entry points. Each subcommand returns a process exit code. */
#ifndef MQC_CLI_H
#define MQC_CLI_H

#include "store/store.h"

struct mqc_cli {
    const char *redis_url; /* borrowed from argv/env */
    const char *prefix;
};

/* Open the store named by the options; prints an error and returns NULL when
 * the URL is bad or Redis is unreachable. */
struct mqc_store *mqc_cli_store(const struct mqc_cli *cli);

/* `mqchat user ...`: argv[0] is "user". */
int mqc_cli_user(const struct mqc_cli *cli, int argc, char **argv);

#endif
