/* What every MQTT subcommand of mqchat (chat, send, listen, req) does the
 * same way: sign in with the shared options, report connection failures in
 * one wording, and stop cleanly on Ctrl-C or SIGTERM. */
#ifndef MQC_SESSION_H
#define MQC_SESSION_H

#include <stdbool.h>

#include "cli/login.h"
#include "cli/mqtt_client.h"

/* Seconds to wait for the broker and for answers unless told otherwise. */
#define MQC_SESSION_TIMEOUT_S 10

/* Route SIGINT and SIGTERM to a flag (no SA_RESTART, so a blocking poll
 * returns) and ignore SIGPIPE. Prints why and returns MQC_EINTERNAL if the
 * handlers cannot be installed. */
int mqc_session_catch_signals(void);
/* Has SIGINT or SIGTERM arrived since mqc_session_catch_signals? How many. */
int mqc_session_stop_count(void);

/* Make a client for l (borrowed; mqc_login_finish done) with cb (copied) and
 * connect it within timeout_ms. *out is set to the client before connecting,
 * so callbacks run during the connect may use it. On MQC_OK *out is returned
 * owned (mqc_client_free). Otherwise *out is NULL again, a line on stderr
 * names the broker and the cause (refused credentials, unreachable, timeout)
 * and the error is returned. */
int mqc_session_open(const struct mqc_login *l, const struct mqc_client_cb *cb, int timeout_ms,
                     struct mqc_client **out);

/* Parse "--timeout SECONDS" at argv[*i] like mqc_login_option: 1 taken (into
 * *seconds, 1..3600), 0 not this option, -1 bad (printed). argv borrowed. */
int mqc_session_timeout_option(int argc, char **argv, int *i, int *seconds);

#endif
