/* Line input for the interactive client. On a terminal it puts the tty in
 * non-canonical mode and edits the line itself (printable text, backspace,
 * Ctrl-U, Ctrl-W, Ctrl-L, Ctrl-D on an empty line; arrow keys and other
 * escape sequences are ignored), so output printed while the user types goes
 * on its own line above a redrawn prompt instead of cutting the typed text.
 * On a pipe or file it just splits the input into lines. Either way finished
 * lines wait in a queue until the caller takes them, so the caller may hold
 * input back while it waits for a reply. */
#ifndef MQC_LINEEDIT_H
#define MQC_LINEEDIT_H

#include <stdbool.h>
#include <stddef.h>

#include <termios.h>

/* Longest input line, in bytes; longer lines are cut there (noted once). */
#define MQC_LINEEDIT_MAX 16384

struct mqc_lineedit {
    int fd;   /* input; not owned (not closed) */
    bool tty; /* fd and stdout are terminals */
    bool raw; /* the terminal is in our mode; saved holds the old one */
    struct termios saved;
    char prompt[128];
    char buf[MQC_LINEEDIT_MAX + 1]; /* the line being typed (tty) or the partial line (pipe) */
    size_t len;
    bool overflow; /* the current line was cut */
    int esc;       /* escape-sequence state: 0 none, 1 after ESC, 2 in CSI/SS3 */
    char **lines;  /* owned queue of finished lines, each owned */
    size_t head, count, cap;
    bool eof; /* no more input will come (EOF, Ctrl-D, read error) */
};

/* Set up e for input from fd (not taken). Does not touch the terminal yet.
 * Always succeeds. */
void mqc_lineedit_init(struct mqc_lineedit *e, int fd);
/* On a terminal, switch to line editing mode (and show the prompt). Returns
 * MQC_OK (also when not a terminal) or MQC_EINTERNAL if the terminal cannot
 * be set. */
int mqc_lineedit_start(struct mqc_lineedit *e);
/* Restore the terminal and free the queue. Safe to call twice. */
void mqc_lineedit_cleanup(struct mqc_lineedit *e);

/* Change the prompt (borrowed, copied; cut to fit) and redraw it. */
void mqc_lineedit_set_prompt(struct mqc_lineedit *e, const char *prompt);

/* Read what is available on the input (call when poll said readable).
 * Finished lines go to the queue. *typed is set when text was added to the
 * line being typed (for "is typing" notices). Returns MQC_OK, or MQC_ENOMEM
 * (the input is then treated as ended). */
int mqc_lineedit_read(struct mqc_lineedit *e, bool *typed);

/* Take the oldest finished line: returned owned (free()), or NULL if none. */
char *mqc_lineedit_next(struct mqc_lineedit *e);
/* Number of finished lines waiting. */
size_t mqc_lineedit_pending(const struct mqc_lineedit *e);
/* The line being typed (borrowed from e; "" when none or not a terminal). */
const char *mqc_lineedit_current(struct mqc_lineedit *e);

/* Print text (borrowed; may hold '\n') on its own line(s) above the line
 * being typed, which is then redrawn; flushes stdout. */
void mqc_lineedit_print(struct mqc_lineedit *e, const char *text);

#endif
