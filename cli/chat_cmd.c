/* `mqchat chat`: the typed commands (see chat.h). Each either answers at
 * once (usage, a check the client can make itself, such as leaving a direct
 * chat) or sends one request whose reply chat.c handles; input waits for
 * that reply.
 *
 * Pointer parameters of the static functions here are borrowed unless their
 * comment says otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/chat.h"
#include "core/clock.h"
#include "core/err.h"

#define TYPING_EVERY_MS 3000
#define HISTORY_DEFAULT 20

/* A request {"op":op} (+ "conv": conv when conv is not NULL). NULL on OOM. */
cJSON *mqc_chat__new_req(const char *op, const char *conv)
{
    cJSON *r = cJSON_CreateObject();
    if (!r || !cJSON_AddStringToObject(r, "op", op) ||
        (conv && !cJSON_AddStringToObject(r, "conv", conv))) {
        cJSON_Delete(r);
        return NULL;
    }
    return r;
}

/* Add the users in list (borrowed: names split by ',' and spaces) to a new
 * "members" array of r (borrowed). Prints and returns false on a bad name. */
static bool add_members(struct chat *ch, cJSON *r, const char *list)
{
    cJSON *arr = cJSON_AddArrayToObject(r, "members");
    char *copy = strdup(list);
    bool ok = arr && copy;
    char *save = NULL;
    int n = 0;
    for (char *tok = ok ? strtok_r(copy, ", ", &save) : NULL; ok && tok;
         tok = strtok_r(NULL, ", ", &save)) {
        if (!mqc_id_valid_str(tok)) {
            mqc_chat__sayf(ch, "invalid user name '%.64s'", tok);
            ok = false;
        } else if (!cJSON_AddItemToArray(arr, cJSON_CreateString(tok))) {
            ok = false;
        } else {
            n++;
        }
    }
    free(copy);
    if (ok && n == 0) {
        mqc_chat__say(ch, "name at least one user");
        ok = false;
    }
    return ok;
}

static bool need_current(struct chat *ch)
{
    if (ch->current[0])
        return true;
    mqc_chat__say(ch, "no conversation open: /open USER, /group TITLE USERS or /join CONV");
    return false;
}

static void cmd_help(struct chat *ch)
{
    mqc_chat__say(ch,
                  "commands:\n"
                  "  /convs                 list your conversations\n"
                  "  /open USER             open (create) a direct chat with USER\n"
                  "  /group TITLE U1,U2...  create a group and open it\n"
                  "  /join CONV             open one of your conversations\n"
                  "  /history [N]           N earlier events (again: further back)\n"
                  "  /add USER[,USER...]    add members (group admins)\n"
                  "  /remove USER[,USER...] remove members (group admins)\n"
                  "  /leave                 leave the current group (direct chats cannot be left)\n"
                  "  /read                  mark everything seen here as read\n"
                  "  /file PATH             send a file (photo, document...)\n"
                  "  /get SEQ [PATH]        save the file of message SEQ (default: its name)\n"
                  "  /quit                  leave (after unsent messages are confirmed)\n"
                  "  /logout                end this device's session (the password is asked\n"
                  "                         next time) and leave\n"
                  "  anything else is sent to the current conversation (//text sends /text)");
    mqc_chat__say(ch, mqc_chat__relation_help);
}

static void cmd_history(struct chat *ch, const char *arg)
{
    if (!need_current(ch))
        return;
    long n = HISTORY_DEFAULT;
    if (*arg) {
        char *end;
        n = strtol(arg, &end, 10);
        if (end == arg || *end != '\0' || n < 1 || n > 200) {
            mqc_chat__say(ch, "usage: /history [N], N from 1 to 200");
            return;
        }
    }
    if (ch->hist_before < 0) {
        mqc_chat__say(ch, "(no older messages)");
        return;
    }
    cJSON *r = mqc_chat__new_req("history", ch->current);
    if (r &&
        (!cJSON_AddNumberToObject(r, "limit", (double)n) ||
         (ch->hist_before > 0 && !cJSON_AddNumberToObject(r, "before", (double)ch->hist_before)))) {
        cJSON_Delete(r);
        r = NULL;
    }
    mqc_chat__request(ch, r, RQ_HISTORY, ch->current);
}

static void cmd_read(struct chat *ch)
{
    if (!need_current(ch))
        return;
    struct seen *s = mqc_chat__seen(ch, ch->current, false);
    if (!s || s->seq <= 0) {
        mqc_chat__say(ch, "nothing to mark read here yet");
        return;
    }
    int rc = mqc_chat__post_receipt(ch, ch->current, "read", s->seq);
    if (rc != MQC_OK) {
        mqc_chat__sayf(ch, "/read in %s: cannot send the receipt: %s", ch->current,
                       mqc_err_str(rc));
        return;
    }
    /* Said here once; its echo from the server is not printed again. */
    if (s->seq > s->read_sent)
        s->read_sent = s->seq;
    mqc_chat__sayf(ch, "marked read up to %lld", s->seq);
}

static void cmd_group(struct chat *ch, char *arg)
{
    /* The last word is the member list; everything before it the title. */
    size_t len = strlen(arg);
    while (len > 0 && arg[len - 1] == ' ')
        arg[--len] = '\0';
    char *sp = strrchr(arg, ' ');
    if (!sp) {
        mqc_chat__say(ch, "usage: /group TITLE USER[,USER...]");
        return;
    }
    *sp = '\0';
    cJSON *r = mqc_chat__new_req("create", NULL);
    if (!r || !cJSON_AddStringToObject(r, "kind", "group") ||
        !cJSON_AddStringToObject(r, "title", arg)) {
        cJSON_Delete(r);
        mqc_chat__say(ch, "out of memory");
        return;
    }
    if (!add_members(ch, r, sp + 1)) {
        cJSON_Delete(r);
        return;
    }
    mqc_chat__request(ch, r, RQ_CREATE, NULL);
}

static void cmd_open(struct chat *ch, const char *arg)
{
    if (!mqc_id_valid_str(arg)) {
        mqc_chat__say(ch, "usage: /open USER");
        return;
    }
    cJSON *r = mqc_chat__new_req("create", NULL);
    if (r && (!cJSON_AddStringToObject(r, "kind", "direct") ||
              !cJSON_AddStringToObject(r, "with", arg))) {
        cJSON_Delete(r);
        r = NULL;
    }
    mqc_chat__request(ch, r, RQ_CREATE, arg);
}

/* /join CONV: opened only when the server lists it among mine (the reply
 * to a convs request, chat.c), so a typo never becomes the prompt. */
static void cmd_join(struct chat *ch, const char *arg)
{
    if (!mqc_id_valid_str(arg)) {
        mqc_chat__say(ch, "usage: /join CONV (/convs lists yours)");
        return;
    }
    mqc_chat__request(ch, mqc_chat__new_req("convs", NULL), RQ_JOIN, arg);
}

/* /add and /remove (cmd is the op). */
static void cmd_members(struct chat *ch, const char *cmd, const char *arg)
{
    if (!need_current(ch))
        return;
    if (ch->current_kind == 'd') {
        mqc_chat__sayf(ch,
                       "/%s: a direct conversation has no members to change (/group makes "
                       "a group)",
                       cmd);
        return;
    }
    cJSON *r = mqc_chat__new_req(cmd, ch->current);
    if (!r || !add_members(ch, r, arg)) {
        cJSON_Delete(r);
        return;
    }
    mqc_chat__request(ch, r, RQ_OTHER, ch->current);
}

static void cmd_leave(struct chat *ch)
{
    if (!need_current(ch))
        return;
    if (ch->current_kind == 'd') {
        mqc_chat__sayf(ch, "/leave in %s: direct conversations cannot be left (only groups can)",
                       ch->current);
        return;
    }
    mqc_chat__request(ch, mqc_chat__new_req("leave", ch->current), RQ_LEAVE, ch->current);
}

/* Split "/cmd arg" (line modified): *cmd and *arg point into it, arg
 * without surrounding spaces. */
static void split_command(char *line, char **cmd, char **arg)
{
    *cmd = line + 1;
    char *a = *cmd + strcspn(*cmd, " ");
    if (*a)
        *a++ = '\0';
    while (*a == ' ')
        a++;
    size_t alen = strlen(a);
    while (alen > 0 && a[alen - 1] == ' ')
        a[--alen] = '\0';
    *arg = a;
}

void mqc_chat__handle_line(struct chat *ch, char *line)
{
    if (line[0] != '/' || line[1] == '/') {
        if (line[0])
            mqc_chat__send_text(ch, line[0] == '/' ? line + 1 : line);
        return;
    }
    char *cmd, *arg;
    split_command(line, &cmd, &arg);
    if (!strcmp(cmd, "quit") || !strcmp(cmd, "exit"))
        ch->quitting = true;
    else if (!strcmp(cmd, "help"))
        cmd_help(ch);
    else if (!strcmp(cmd, "convs"))
        mqc_chat__request(ch, mqc_chat__new_req("convs", NULL), RQ_CONVS, NULL);
    else if (!strcmp(cmd, "open"))
        cmd_open(ch, arg);
    else if (!strcmp(cmd, "group"))
        cmd_group(ch, arg);
    else if (!strcmp(cmd, "join"))
        cmd_join(ch, arg);
    else if (!strcmp(cmd, "history"))
        cmd_history(ch, arg);
    else if (!strcmp(cmd, "add") || !strcmp(cmd, "remove"))
        cmd_members(ch, cmd, arg);
    else if (!strcmp(cmd, "leave"))
        cmd_leave(ch);
    else if (!strcmp(cmd, "read"))
        cmd_read(ch);
    else if (mqc_chat__relation_cmd(ch, cmd, arg))
        ;
    else if (!strcmp(cmd, "file"))
        mqc_chat__cmd_file(ch, arg);
    else if (!strcmp(cmd, "get"))
        mqc_chat__cmd_get(ch, arg);
    else if (!strcmp(cmd, "logout"))
        mqc_chat__device_logout(ch);
    else
        mqc_chat__sayf(ch, "unknown command /%.32s (/help lists them; //text sends /text)", cmd);
}

void mqc_chat__maybe_typing(struct chat *ch)
{
    const char *typed = mqc_lineedit_current(&ch->ed);
    if (!ch->current[0] || typed[0] == '/' || !mqc_client_is_ready(ch->c))
        return;
    int64_t now = mqc_clock_mono_ms();
    if (!strcmp(ch->typing_conv, ch->current) && now - ch->typing_at < TYPING_EVERY_MS)
        return;
    cJSON *t = cJSON_CreateObject();
    if (t && cJSON_AddStringToObject(t, "state", "composing") &&
        mqc_client_publish_conv(ch->c, ch->current, "typing", t, 0) == MQC_OK) {
        ch->typing_at = now;
        snprintf(ch->typing_conv, sizeof ch->typing_conv, "%s", ch->current);
        snprintf(ch->post_ctx, sizeof ch->post_ctx, "typing notice in %s", ch->current);
    }
    cJSON_Delete(t);
}
