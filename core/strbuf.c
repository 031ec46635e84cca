/* A growing NUL-terminated string (see strbuf.h). */
#include "core/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for more bytes and the NUL; false (oom set) if it cannot be had. */
static bool reserve(struct mqc_strbuf *b, size_t more)
{
    if (b->oom)
        return false;
    if (b->len + more + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 128;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void mqc_strbuf_putn(struct mqc_strbuf *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void mqc_strbuf_puts(struct mqc_strbuf *b, const char *s)
{
    mqc_strbuf_putn(b, s, strlen(s));
}

void mqc_strbuf_printf(struct mqc_strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if (!reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *mqc_strbuf_take(struct mqc_strbuf *b)
{
    char *out = NULL;
    if (!b->oom && reserve(b, 0)) {
        b->p[b->len] = '\0';
        out = b->p;
    } else {
        free(b->p);
    }
    *b = (struct mqc_strbuf){0};
    return out;
}

void mqc_strbuf_free(struct mqc_strbuf *b)
{
    free(b->p);
    *b = (struct mqc_strbuf){0};
}
