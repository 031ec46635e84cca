/* A reader of mosquitto.conf text for `mqchat doctor`: the directives in
 * file order as (key, value, file, line), the way mosquitto 2.0 splits them
 * (`#` lines and blank lines skipped, the key is the first word, the value
 * the rest of the line without surrounding blanks). Pure: the caller reads
 * files and follows include_dir by parsing each included file in place. */
#ifndef MQC_MOSQCONF_H
#define MQC_MOSQCONF_H

#include <stddef.h>

struct mqc_mosqconf_line {
    char *key, *value; /* owned; value "" when the line has none */
    char *file;        /* owned: the file it came from */
    int line;
};

struct mqc_mosqconf {
    struct mqc_mosqconf_line *v;
    size_t n, cap;
};

/* Append the directives of text (borrowed, NUL-terminated; lines end in \n
 * or \r\n) read from file (borrowed, for messages) to *c (borrowed; zeroed
 * or from earlier calls). Returns MQC_OK or MQC_ENOMEM. */
int mqc_mosqconf_parse(struct mqc_mosqconf *c, const char *text, const char *file);
/* Append one directive (all strings borrowed, copied). MQC_OK or
 * MQC_ENOMEM. */
int mqc_mosqconf_add(struct mqc_mosqconf *c, const char *key, const char *value, const char *file,
                     int line);
/* The value of the last directive key (borrowed) at or after index from,
 * up to (not including) index to, or NULL. Borrowed from *c. */
const char *mqc_mosqconf_get(const struct mqc_mosqconf *c, const char *key, size_t from, size_t to);
/* Free everything *c holds and zero it. NULL is fine. */
void mqc_mosqconf_cleanup(struct mqc_mosqconf *c);

#endif
