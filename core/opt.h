/* Option tables: the one way mqchat programs declare and read their
 * settings (the plugin's plugin_opt_* pairs, the push bridge's config
 * file). A program describes each option as a row, as nginx modules do with
 * ngx_command_t: its name, a setter (which also says the type), where the
 * value lives in the program's config struct, bounds, the default, an extra
 * check and a line of help. This module applies values and defaults, frees
 * the strings, finds rows by name and formats the errors; how a program
 * gets its key/value pairs (mosquitto options, a text file) stays with the
 * program. Defaults live only in the tables. Pure, no I/O. */
#ifndef MQC_OPT_H
#define MQC_OPT_H

#include <stdbool.h>
#include <stddef.h>

struct mqc_opt;

/* Setter of one option type. Parses value (borrowed, NUL-terminated) into
 * the field at conf + o->offset (conf borrowed), honouring o's bounds and
 * check. MQC_OK; MQC_EBADREQ with a reason to follow the quoted value in why
 * (borrowed, whylen bytes, e.g. "is not true or false"); MQC_ENOMEM. On
 * failure the field keeps its old value. */
typedef int (*mqc_opt_setter)(const struct mqc_opt *o, void *conf, const char *value, char *why,
                              size_t whylen);

struct mqc_opt {
    const char *name;
    mqc_opt_setter set; /* mqc_opt_set_str, _long or _bool */
    size_t offset;      /* of the field in the program's config struct */
    long min, max;      /* numbers: the range; strings: the length range */
    const char *def;    /* default as it would be written; NULL = unset */
    unsigned flags;     /* MQC_OPT_SECRET */
    /* Extra check of a string value: NULL if fine, else a reason (static). */
    const char *(*check)(const char *value);
    const char *help;
};

/* The value may hold a secret (a password): never echoed in errors. */
#define MQC_OPT_SECRET 1u

/* The setters. Strings: a char * field (owned by the config, replaced by a
 * malloc'd copy); longs: a long field, whole decimal numbers; booleans: a
 * bool field, true/1/yes/on or false/0/no/off. */
int mqc_opt_set_str(const struct mqc_opt *o, void *conf, const char *value, char *why,
                    size_t whylen);
int mqc_opt_set_long(const struct mqc_opt *o, void *conf, const char *value, char *why,
                     size_t whylen);
int mqc_opt_set_bool(const struct mqc_opt *o, void *conf, const char *value, char *why,
                     size_t whylen);

/* Shared checks. key prefixes: printable ASCII without spaces or braces
 * (braces would break Redis Cluster hash tags); ids: mqc_id_valid_str();
 * file paths: no control characters. */
const char *mqc_opt_check_prefix(const char *value);
const char *mqc_opt_check_id(const char *value);
const char *mqc_opt_check_path(const char *value);
/* Redis Cluster seeds: one or more "host:port" (port 1-65535, host without
 * spaces, commas or control characters), separated by spaces or commas. */
const char *mqc_opt_check_seeds(const char *value);

/* The row of rows[0..n) (borrowed) named key (borrowed, len bytes, not
 * necessarily terminated), or NULL. */
const struct mqc_opt *mqc_opt_find(const struct mqc_opt *rows, size_t n, const char *key,
                                   size_t len);

/* Set option o (borrowed) of conf (borrowed) to value (borrowed). Errors go
 * to err (borrowed, errlen bytes, always terminated) as
 * "<where><name>: '<value>' <reason>", where (borrowed) being what the
 * program puts before a name ("plugin_opt_", "line 3: "); a secret value is
 * shown as (hidden). Returns as the setter. */
int mqc_opt_apply(const struct mqc_opt *o, void *conf, const char *value, const char *where,
                  char *err, size_t errlen);

/* Set every option of rows[0..n) that has a default; the others stay as
 * they are (the caller zeroes conf first). MQC_OK or MQC_ENOMEM (then the
 * strings set so far are freed again). A default the table refuses is a
 * programming error: MQC_EINTERNAL. */
int mqc_opt_defaults(const struct mqc_opt *rows, size_t n, void *conf);

/* Free every string field of conf (borrowed) that rows[0..n) name and set it
 * to NULL. conf NULL is fine. */
void mqc_opt_cleanup(const struct mqc_opt *rows, size_t n, void *conf);

/* Does row o hold a string (char *) field? */
bool mqc_opt_is_str(const struct mqc_opt *o);

#endif
