/* Line input for the interactive client (see lineedit.h). The terminal mode
 * change is the smallest that works: ICANON and ECHO off, ISIG kept (Ctrl-C
 * still raises SIGINT), output processing kept (so "\n" still moves to the
 * start of the next line). Redrawing is "\r, clear to end of line, prompt,
 * text": good enough while the typed line fits one screen row.
 *
 * Pointer parameters of the static functions here are borrowed unless their
 * comment says otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/lineedit.h"
#include "core/err.h"

void mqc_lineedit_init(struct mqc_lineedit *e, int fd)
{
    memset(e, 0, sizeof *e);
    e->fd = fd;
    e->tty = isatty(fd) && isatty(STDOUT_FILENO);
}

static void redraw(struct mqc_lineedit *e)
{
    if (!e->raw)
        return;
    printf("\r\033[K%s%.*s", e->prompt, (int)e->len, e->buf);
    (void)fflush(stdout);
}

int mqc_lineedit_start(struct mqc_lineedit *e)
{
    if (!e->tty || e->raw)
        return MQC_OK;
    if (tcgetattr(e->fd, &e->saved) != 0)
        return MQC_EINTERNAL;
    struct termios t = e->saved;
    t.c_lflag &= ~(tcflag_t)(ICANON | ECHO | IEXTEN);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(e->fd, TCSANOW, &t) != 0)
        return MQC_EINTERNAL;
    e->raw = true;
    redraw(e);
    return MQC_OK;
}

void mqc_lineedit_cleanup(struct mqc_lineedit *e)
{
    if (e->raw) {
        printf("\r\033[K");
        (void)fflush(stdout);
        (void)tcsetattr(e->fd, TCSANOW, &e->saved);
        e->raw = false;
    }
    for (size_t i = 0; i < e->count; i++)
        free(e->lines[(e->head + i) % e->cap]);
    free(e->lines);
    e->lines = NULL;
    e->head = e->count = e->cap = 0;
}

void mqc_lineedit_set_prompt(struct mqc_lineedit *e, const char *prompt)
{
    snprintf(e->prompt, sizeof e->prompt, "%s", prompt);
    redraw(e);
}

/* Queue a copy of the first len bytes of s (borrowed). */
static int push_line(struct mqc_lineedit *e, const char *s, size_t len)
{
    if (e->count == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 16;
        char **lines = malloc(cap * sizeof *lines);
        if (!lines)
            return MQC_ENOMEM;
        for (size_t i = 0; i < e->count; i++)
            lines[i] = e->lines[(e->head + i) % e->cap];
        free(e->lines);
        e->lines = lines;
        e->cap = cap;
        e->head = 0;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return MQC_ENOMEM;
    memcpy(copy, s, len);
    copy[len] = '\0';
    e->lines[(e->head + e->count) % e->cap] = copy;
    e->count++;
    return MQC_OK;
}

/* Add one byte to the line being built, cutting at the limit. */
static bool add_byte(struct mqc_lineedit *e, char ch)
{
    if (e->len >= MQC_LINEEDIT_MAX) {
        e->overflow = true;
        return false;
    }
    e->buf[e->len++] = ch;
    return true;
}

/* The line being built is done: queue it and start a new one. */
static int finish_line(struct mqc_lineedit *e)
{
    size_t len = e->len;
    if (len > 0 && e->buf[len - 1] == '\r')
        len--;
    if (e->overflow)
        fprintf(stderr, "mqchat: input line longer than %d bytes was cut\n", MQC_LINEEDIT_MAX);
    int rc = push_line(e, e->buf, len);
    e->len = 0;
    e->overflow = false;
    return rc;
}

/* Drop the last UTF-8 character of the line. */
static void rubout(struct mqc_lineedit *e)
{
    while (e->len > 0 && ((unsigned char)e->buf[e->len - 1] & 0xC0) == 0x80)
        e->len--;
    if (e->len > 0)
        e->len--;
}

/* One byte typed on the terminal. */
static int key(struct mqc_lineedit *e, unsigned char ch, bool *typed)
{
    if (e->esc == 1) {
        e->esc = (ch == '[' || ch == 'O') ? 2 : 0;
        return MQC_OK;
    }
    if (e->esc == 2) {
        if (ch >= 0x40 && ch <= 0x7E)
            e->esc = 0;
        return MQC_OK;
    }
    switch (ch) {
    case '\r':
    case '\n': {
        printf("\r\n");
        int rc = finish_line(e);
        redraw(e);
        return rc;
    }
    case 0x7F:
    case 0x08:
        rubout(e);
        break;
    case 0x15: /* Ctrl-U */
        e->len = 0;
        break;
    case 0x17: /* Ctrl-W */
        while (e->len > 0 && e->buf[e->len - 1] == ' ')
            e->len--;
        while (e->len > 0 && e->buf[e->len - 1] != ' ')
            e->len--;
        break;
    case 0x0C: /* Ctrl-L */
        printf("\033[H\033[2J");
        break;
    case 0x04: /* Ctrl-D */
        if (e->len == 0)
            e->eof = true;
        return MQC_OK;
    case 0x1B:
        e->esc = 1;
        return MQC_OK;
    case '\t':
        ch = ' ';
        /* fall through */
    default:
        if (ch < 0x20)
            return MQC_OK;
        if (add_byte(e, (char)ch)) {
            *typed = true;
            /* Echo the byte alone: cheaper than a redraw per key. */
            (void)putchar(ch);
            (void)fflush(stdout);
        }
        return MQC_OK;
    }
    redraw(e);
    return MQC_OK;
}

int mqc_lineedit_read(struct mqc_lineedit *e, bool *typed)
{
    char chunk[4096];
    *typed = false;
    if (e->eof)
        return MQC_OK;
    ssize_t n = read(e->fd, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return MQC_OK;
    if (n <= 0) {
        /* End of input: a last line without '\n' still counts. */
        e->eof = true;
        if (e->len > 0 && !e->raw)
            return finish_line(e);
        return MQC_OK;
    }
    for (ssize_t i = 0; i < n; i++) {
        int rc;
        if (e->raw)
            rc = key(e, (unsigned char)chunk[i], typed);
        else if (chunk[i] == '\n')
            rc = finish_line(e);
        else {
            (void)add_byte(e, chunk[i]);
            rc = MQC_OK;
        }
        if (rc != MQC_OK) {
            e->eof = true;
            return rc;
        }
    }
    return MQC_OK;
}

char *mqc_lineedit_next(struct mqc_lineedit *e)
{
    if (e->count == 0)
        return NULL;
    char *line = e->lines[e->head];
    e->head = (e->head + 1) % e->cap;
    e->count--;
    return line;
}

size_t mqc_lineedit_pending(const struct mqc_lineedit *e)
{
    return e->count;
}

const char *mqc_lineedit_current(struct mqc_lineedit *e)
{
    if (!e->raw)
        return "";
    e->buf[e->len] = '\0'; /* buf always has room for the terminator */
    return e->buf;
}

void mqc_lineedit_print(struct mqc_lineedit *e, const char *text)
{
    if (e->raw) {
        printf("\r\033[K");
        for (const char *p = text; *p; p++) {
            if (*p == '\n')
                (void)putchar('\r');
            (void)putchar(*p);
        }
        printf("\r\n");
        redraw(e);
        return;
    }
    (void)puts(text);
    (void)fflush(stdout);
}
