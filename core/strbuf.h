/* A growing NUL-terminated string for building text (events, signed
 * requests, terminal lines). Zero-initialised is empty. An append never
 * reports an error: the first failed allocation sets oom, every later
 * append does nothing, and the builder checks once at the end (take). */
#ifndef MQC_STRBUF_H
#define MQC_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct mqc_strbuf {
    char *p; /* NULL until the first append; else NUL-terminated */
    size_t len, cap;
    bool oom;
};

/* Append n bytes of s (borrowed) verbatim. */
void mqc_strbuf_putn(struct mqc_strbuf *b, const char *s, size_t n);
/* Append the string s (borrowed). */
void mqc_strbuf_puts(struct mqc_strbuf *b, const char *s);
/* Append printf-formatted text (any length). */
void mqc_strbuf_printf(struct mqc_strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The text, owned by the caller ("" when nothing was appended), or NULL
 * after a failed allocation; either way b is left empty. */
char *mqc_strbuf_take(struct mqc_strbuf *b);
/* Drop the text (b left empty). */
void mqc_strbuf_free(struct mqc_strbuf *b);

#endif
