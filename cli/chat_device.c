/* The terminal client's device session (PROTOCOL.md "Device sessions"):
 * after a password sign-in, `mqchat chat` asks for a session token and keeps
 * it in its state file (cli/state.h), never the password; the next run signs
 * in with it, and so do this run's reconnects. /logout ends it on the server
 * and here. A refused token is forgotten: the next run asks for the
 * password again. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/chat.h"
#include "core/err.h"

/* Save the state now, saying so once if it fails. */
static void save(struct chat *ch)
{
    if (!ch->state_path[0])
        return;
    if (mqc_state_save(ch->state_path, &ch->st) != MQC_OK)
        mqc_chat__sayf(ch, "cannot write %s: the device session is not kept", ch->state_path);
}

void mqc_chat__device_ask(struct chat *ch)
{
    if (ch->token_login || !ch->sync_on || !ch->state_path[0])
        return;
    char host[64] = "", label[96];
    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    /* At most 64 characters of printable ASCII: a valid label. */
    snprintf(label, sizeof label, "mqchat on %s", host[0] ? host : "a terminal");
    for (char *c = label; *c; c++) {
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
            *c = '?';
    }
    label[64] = '\0';
    cJSON *r = mqc_chat__new_req("session", NULL);
    if (r && !cJSON_AddStringToObject(r, "device", label)) {
        cJSON_Delete(r);
        r = NULL;
    }
    (void)mqc_chat__request(ch, r, RQ_SESSION, NULL);
}

void mqc_chat__device_forget(struct chat *ch)
{
    if (!ch->st.session[0])
        return;
    ch->st.session[0] = '\0';
    save(ch);
}

void mqc_chat__device_reply(struct chat *ch, const cJSON *res, enum req_kind kind)
{
    if (kind == RQ_LOGOUT) {
        mqc_chat__device_forget(ch);
        mqc_chat__say(ch, "signed out of this device");
        ch->quitting = true;
        return;
    }
    const char *tok = str_of(res, "token");
    if (!tok || !mqc_state_token_valid(tok)) {
        mqc_chat__say(ch,
                      "the server sent no usable session token: the password is asked next time");
        return;
    }
    snprintf(ch->st.session, sizeof ch->st.session, "%s", tok);
    save(ch);
    /* This run's reconnects use the token too. */
    if (mqc_client_set_password(ch->c, tok) != MQC_OK)
        mqc_chat__say(ch, "cannot switch this connection to the session token");
    mqc_chat__say(ch, "this device stays signed in (/logout ends that)");
}

void mqc_chat__device_logout(struct chat *ch)
{
    if (!ch->st.session[0]) {
        mqc_chat__say(ch, "this device keeps no session; leaving");
        ch->quitting = true;
        return;
    }
    if (!mqc_chat__request(ch, mqc_chat__new_req("logout", NULL), RQ_LOGOUT, NULL)) {
        /* Not connected: forget it here at least (the server's copy
         * expires, or `mqchat user revoke` ends it). */
        mqc_chat__device_forget(ch);
        ch->quitting = true;
    }
}
