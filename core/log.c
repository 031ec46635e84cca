/* Logging sink: formats a line and hands it to the installed sink. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>

static void stderr_sink(enum mqc_log_level level, const char *line)
{
    static const char *names[] = {"debug", "info", "notice", "warning", "error"};
    fprintf(stderr, "mqchat %s: %s\n", names[level], line);
}

static mqc_log_sink current = stderr_sink;

void mqc_log_set_sink(mqc_log_sink sink)
{
    current = sink ? sink : stderr_sink;
}

void mqc_log(enum mqc_log_level level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    current(level, line);
}
