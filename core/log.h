/* The logging sink. Core code logs through mqc_log(); the program that embeds
 * it (plugin, cli, bridge) installs a sink once at start. Lines follow
 * "component: what failed: why (key=value)" and never contain passwords,
 * tokens or message bodies. */
#ifndef MQC_LOG_H
#define MQC_LOG_H

enum mqc_log_level { MQC_LOG_DEBUG, MQC_LOG_INFO, MQC_LOG_NOTICE, MQC_LOG_WARNING, MQC_LOG_ERR };

/* line is borrowed for the duration of the call. */
typedef void (*mqc_log_sink)(enum mqc_log_level level, const char *line);

/* Install the sink; NULL restores the default (stderr). */
void mqc_log_set_sink(mqc_log_sink sink);
void mqc_log(enum mqc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
