/* mqchat: the admin tool (users, straight against Redis) and the terminal
 * client (chat, send, listen, req, over MQTT). Parses the global options and
 * dispatches to a subcommand. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/opt.h"
#include "core/redis_url.h"
#include "store/store.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mqchat [--redis URL | --redis-cluster SEEDS] [--prefix PREFIX] COMMAND ...\n"
               "\n"
               "commands:\n"
               "  user add NAME --password-stdin   create a user (password read from stdin)\n"
               "  user passwd NAME --password-stdin  change a user's password (ends every\n"
               "                                   device session of NAME)\n"
               "  user del NAME                    delete a user\n"
               "  user list                        list users\n"
               "  user sessions NAME               NAME's device sessions: device, label,\n"
               "                                   created, last used, expires\n"
               "  user revoke NAME DEVICE|--all    end one device session (or all of them)\n"
               "  store upgrade                    convert a store written by an older mqchat\n"
               "                                   (stop brokers and mqchat-push first)\n"
               "  broadcast --text TEXT            a system event to every connected user, on\n"
               "                                   every node\n"
               "  doctor --config MOSQUITTO_CONF [--push-config PUSH_CONF]\n"
               "        check a deployment: one ok/FAIL line per check, exit 0 when all pass\n"
               "\n"
               "  chat --user NAME [--mqtt HOST:PORT] [--no-sync]\n"
               "        interactive client (/help inside lists its commands); on start it\n"
               "        shows what arrived while it was away and was not shown before (kept\n"
               "        in $MQCHAT_STATE_DIR, else $XDG_STATE_HOME/mqchat or\n"
               "        ~/.local/state/mqchat)\n"
               "  send --user NAME [--mqtt HOST:PORT] [--timeout S] --conv CONV TEXT...\n"
               "        send one message; prints \"sent seq N\" once the server stored it\n"
               "  listen --user NAME [--mqtt HOST:PORT] [--count N]\n"
               "        print inbox events as JSON lines until N events or Ctrl-C\n"
               "  req --user NAME [--mqtt HOST:PORT] [--timeout S] JSON\n"
               "        send a request (\"req\" added if missing), print the reply\n"
               "\n"
               "URL: redis://[:password@]host[:port][/db] or unix:///path[?db=N]\n"
               "     (default redis://127.0.0.1:6379/0, or $MQCHAT_REDIS)\n"
               "SEEDS: a Redis Cluster, host:port[,host:port...] (or $MQCHAT_REDIS_CLUSTER);\n"
               "     the URL then only gives the password\n"
               "PREFIX: Redis key prefix (default mqchat:, or $MQCHAT_PREFIX)\n"
               "HOST:PORT: MQTT broker (default 127.0.0.1:1883, or $MQCHAT_MQTT)\n"
               "The MQTT password comes from $MQCHAT_PASSWORD, else a terminal prompt.\n"
               "Exit codes: 0 done, 1 failed (refused, unreachable, timeout), 2 usage error.\n");
}

/* Is url (borrowed) a Redis URL mqc_redis_url_parse accepts? */
static bool redis_url_ok(const char *url)
{
    struct mqc_redis_url u;
    if (mqc_redis_url_parse(url, &u) != MQC_OK)
        return false;
    mqc_redis_url_cleanup(&u);
    return true;
}

/* The subcommands that talk to Redis (the others speak MQTT only). */
static bool uses_redis(const char *cmd)
{
    return !strcmp(cmd, "user") || !strcmp(cmd, "broadcast") || !strcmp(cmd, "store");
}

struct mqc_store *mqc_cli_store(const struct mqc_cli *cli)
{
    struct mqc_redis_url u;
    if (mqc_redis_url_parse(cli->redis_url, &u) != MQC_OK) { /* main() checked it */
        fprintf(stderr, "mqchat: bad Redis URL\n");
        return NULL;
    }
    /* Where, without the password the URL may hold. */
    char where[300];
    if (u.unix_path)
        snprintf(where, sizeof where, "unix:%s", u.unix_path);
    else
        snprintf(where, sizeof where, "%s:%d", u.host, u.port);
    if (cli->redis_cluster)
        snprintf(where, sizeof where, "cluster %.280s", cli->redis_cluster);
    struct mqc_store_opts o = {
        .host = u.host,
        .port = u.port,
        .unix_path = u.unix_path,
        .password = u.password,
        .db = u.db,
        .prefix = cli->prefix,
        .timeout_ms = 5000,
        .retry_ms = 1,
        .cluster_nodes = cli->redis_cluster,
    };
    struct mqc_store *s = mqc_store_new(&o);
    mqc_redis_url_cleanup(&u);
    if (!s) {
        fprintf(stderr, "mqchat: out of memory\n");
        return NULL;
    }
    if (mqc_store_ensure(s, mqc_clock_mono_ms()) != MQC_OK) {
        fprintf(stderr, "mqchat: cannot reach Redis at %s: %s\n", where, mqc_store_last_error(s));
        mqc_store_free(s);
        return NULL;
    }
    /* A store the CLI writes first (users added before any broker ran) is
     * marked with this layout's version, like the brokers do; a v1 store is
     * left alone (only `mqchat store upgrade` converts it). */
    (void)mqc_store_check_version(s);
    return s;
}

/* The CLI reports failures itself, in its own words; store log lines would
 * only repeat them. */
static void quiet_sink(enum mqc_log_level level, const char *line)
{
    (void)level;
    (void)line;
}

int main(int argc, char **argv)
{
    mqc_log_set_sink(quiet_sink);
    struct mqc_cli cli = {
        .redis_url = getenv("MQCHAT_REDIS") ? getenv("MQCHAT_REDIS") : "redis://127.0.0.1:6379/0",
        .prefix = getenv("MQCHAT_PREFIX") ? getenv("MQCHAT_PREFIX") : "mqchat:",
        .mqtt = getenv("MQCHAT_MQTT"),
        .redis_cluster = getenv("MQCHAT_REDIS_CLUSTER") && getenv("MQCHAT_REDIS_CLUSTER")[0]
                             ? getenv("MQCHAT_REDIS_CLUSTER")
                             : NULL,
    };
    bool cluster_given = false;
    bool redis_given = false;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--redis") && i + 1 < argc) {
            cli.redis_url = argv[++i];
            redis_given = true;
        } else if (!strcmp(argv[i], "--redis-cluster") && i + 1 < argc) {
            cli.redis_cluster = argv[++i];
            cluster_given = true;
        } else if (!strcmp(argv[i], "--prefix") && i + 1 < argc) {
            cli.prefix = argv[++i];
        } else {
            fprintf(stderr, "mqchat: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    /* A bad URL is a usage error (exit 2), found before anything is done:
     * given with --redis it is refused whatever the command; from
     * $MQCHAT_REDIS only where it would be used. */
    if ((redis_given || uses_redis(argv[i])) && !redis_url_ok(cli.redis_url)) {
        /* Not echoed: the URL may hold a password. */
        fprintf(stderr,
                "mqchat: bad Redis URL in %s (want redis://[:password@]host[:port][/db] "
                "or unix:///path[?db=N])\n",
                redis_given ? "--redis" : "$MQCHAT_REDIS");
        return 2;
    }
    if (cli.redis_cluster && (cluster_given || uses_redis(argv[i])) &&
        mqc_opt_check_seeds(cli.redis_cluster)) {
        fprintf(stderr, "mqchat: bad Redis Cluster seeds in %s: %s\n",
                cluster_given ? "--redis-cluster" : "$MQCHAT_REDIS_CLUSTER",
                mqc_opt_check_seeds(cli.redis_cluster));
        return 2;
    }
    if (!strcmp(argv[i], "user"))
        return mqc_cli_user(&cli, argc - i, argv + i);
    if (!strcmp(argv[i], "store"))
        return mqc_cli_store_cmd(&cli, argc - i, argv + i);
    if (!strcmp(argv[i], "broadcast"))
        return mqc_cli_broadcast(&cli, argc - i, argv + i);
    if (!strcmp(argv[i], "doctor"))
        return mqc_cli_doctor(&cli, argc - i, argv + i);
    if (!strcmp(argv[i], "chat"))
        return mqc_cli_chat(&cli, argc - i, argv + i);
    if (!strcmp(argv[i], "send"))
        return mqc_cli_send(&cli, argc - i, argv + i);
    if (!strcmp(argv[i], "listen"))
        return mqc_cli_listen(&cli, argc - i, argv + i);
    if (!strcmp(argv[i], "req"))
        return mqc_cli_req(&cli, argc - i, argv + i);
    fprintf(stderr, "mqchat: unknown command '%s'\n", argv[i]);
    usage(stderr);
    return 2;
}
