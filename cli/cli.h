/* Shared pieces of the mqchat command-line tool: global options and the
 * subcommand entry points. Each subcommand returns a process exit code. */
#ifndef MQC_CLI_H
#define MQC_CLI_H

#include "store/store.h"

struct mqc_cli {
    const char *redis_url;     /* borrowed from argv/env */
    const char *redis_cluster; /* Redis Cluster seeds (--redis-cluster or
                                * $MQCHAT_REDIS_CLUSTER), or NULL; the URL
                                * then gives only the password */
    const char *prefix;
    const char *mqtt; /* borrowed from $MQCHAT_MQTT: default HOST:PORT of the
                       * MQTT subcommands, or NULL (127.0.0.1:1883) */
};

/* Open the store named by the options; prints an error and returns NULL when
 * the URL is bad or Redis is unreachable. */
struct mqc_store *mqc_cli_store(const struct mqc_cli *cli);

/* `mqchat user ...`: argv[0] is "user". */
int mqc_cli_user(const struct mqc_cli *cli, int argc, char **argv);

/* `mqchat store upgrade` (store_cmd.c): argv[0] is "store". */
int mqc_cli_store_cmd(const struct mqc_cli *cli, int argc, char **argv);

/* `mqchat broadcast --text TEXT`: a system event to every connected user,
 * on every node (broadcast.c). */
int mqc_cli_broadcast(const struct mqc_cli *cli, int argc, char **argv);

/* `mqchat doctor --config FILE [--push-config FILE]`: one line per check
 * of a deployment; 0 when every check passed (doctor.c). */
int mqc_cli_doctor(const struct mqc_cli *cli, int argc, char **argv);

/* The terminal client over MQTT; argv[0] is the subcommand name. cli is
 * borrowed. Exit codes: 0 done, 1 failed, 2 bad usage. */
/* `mqchat chat ...`: interactive (chat.c). */
int mqc_cli_chat(const struct mqc_cli *cli, int argc, char **argv);
/* `mqchat send ...`: one message, wait for its echo (oneshot.c). */
int mqc_cli_send(const struct mqc_cli *cli, int argc, char **argv);
/* `mqchat listen ...`: inbox events as JSON lines (oneshot.c). */
int mqc_cli_listen(const struct mqc_cli *cli, int argc, char **argv);
/* `mqchat req ...`: one request, print its reply (oneshot.c). */
int mqc_cli_req(const struct mqc_cli *cli, int argc, char **argv);

#endif
