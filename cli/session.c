/* Shared sign-in, error wording and signal handling for the MQTT
 * subcommands (see session.h). The signal handler only counts: the loops
 * check the count between polls.
 *
 * Pointer parameters of the static functions here are borrowed unless their
 * comment says otherwise.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/session.h"
#include "core/err.h"

static volatile sig_atomic_t stops;

static void on_stop_signal(int sig)
{
    (void)sig;
    if (stops < 100)
        stops++;
}

int mqc_session_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    if (sigemptyset(&sa.sa_mask) != 0 || sigaction(SIGINT, &sa, NULL) != 0 ||
        sigaction(SIGTERM, &sa, NULL) != 0) {
        perror("mqchat: sigaction");
        return MQC_EINTERNAL;
    }
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) != 0) {
        perror("mqchat: sigaction");
        return MQC_EINTERNAL;
    }
    return MQC_OK;
}

int mqc_session_stop_count(void)
{
    return (int)stops;
}

int mqc_session_open(const struct mqc_login *l, const struct mqc_client_cb *cb, int timeout_ms,
                     struct mqc_client **out)
{
    struct mqc_client *c = NULL;
    *out = NULL;
    int rc = mqc_client_new(l->host, l->port, l->user, l->password, cb, &c);
    if (rc != MQC_OK) {
        fprintf(stderr, "mqchat: cannot set up the MQTT client: %s\n", mqc_err_str(rc));
        return rc;
    }
    *out = c;
    rc = mqc_client_start(c, timeout_ms);
    if (rc == MQC_OK)
        return MQC_OK;
    *out = NULL;
    if (rc == MQC_EAUTH)
        fprintf(stderr, "mqchat: %s:%d refused user '%s': wrong user name or password\n", l->host,
                l->port, l->user);
    else
        fprintf(stderr, "mqchat: cannot sign in at %s:%d as '%s': %s\n", l->host, l->port, l->user,
                mqc_client_last_error(c));
    mqc_client_free(c);
    return rc;
}

int mqc_session_timeout_option(int argc, char **argv, int *i, int *seconds)
{
    if (strcmp(argv[*i], "--timeout") != 0)
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "mqchat: --timeout needs a value\n");
        return -1;
    }
    char *end;
    long v = strtol(argv[++*i], &end, 10);
    if (end == argv[*i] || *end != '\0' || v < 1 || v > 3600) {
        fprintf(stderr, "mqchat: bad --timeout '%s' (want 1-3600 seconds)\n", argv[*i]);
        return -1;
    }
    *seconds = (int)v;
    return 1;
}
