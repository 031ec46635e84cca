/* `mqchat chat` attachments (PROTOCOL.md "Attachments"): /file PATH asks
 * for an upload URL, PUTs the file to the object store with libcurl and
 * sends the message that carries it; /get SEQ [PATH] finds message SEQ of
 * the open conversation (a one-event history page), asks for its download
 * URL and saves the object, never over an existing file. One transfer at a
 * time; it runs on the client's one thread, so the chat pauses while a
 * file moves (the MQTT client catches up, or reconnects, afterwards).
 *
 * Pointer parameters of the static functions here are borrowed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli/chat.h"
#include "core/attach.h"
#include "core/err.h"

/* Slower than this many bytes a second for LOW_SPEED_S: give up. */
#define LOW_SPEED_BYTES 1L
#define LOW_SPEED_S 30L

/* MIME types by extension (lower case); anything else is
 * application/octet-stream. */
static const struct {
    const char *ext, *type;
} mime[] = {
    {"jpg", "image/jpeg"},      {"jpeg", "image/jpeg"},       {"png", "image/png"},
    {"gif", "image/gif"},       {"webp", "image/webp"},       {"heic", "image/heic"},
    {"pdf", "application/pdf"}, {"txt", "text/plain"},        {"md", "text/markdown"},
    {"csv", "text/csv"},        {"json", "application/json"}, {"zip", "application/zip"},
    {"gz", "application/gzip"}, {"mp3", "audio/mpeg"},        {"ogg", "audio/ogg"},
    {"m4a", "audio/mp4"},       {"mp4", "video/mp4"},         {"webm", "video/webm"},
    {"mov", "video/quicktime"},
};

static const char *mime_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof mime / sizeof mime[0]; i++) {
        if (!strcasecmp(dot + 1, mime[i].ext))
            return mime[i].type;
    }
    return "application/octet-stream";
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static bool curl_ready(struct chat *ch)
{
    static bool done, ok;
    if (!done) {
        ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
        done = true;
    }
    if (!ok)
        mqc_chat__say(ch, "cannot start libcurl: files cannot be sent or fetched");
    return ok;
}

/* A curl handle for url, limited to http(s), or NULL. */
static CURL *easy(const char *url)
{
    CURL *c = curl_easy_init();
    if (c && (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
              curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
              curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
              curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED_BYTES) != CURLE_OK ||
              curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_S) != CURLE_OK)) {
        curl_easy_cleanup(c);
        return NULL;
    }
    return c;
}

/* Run c; the HTTP status into *status. A sentence on failure, else NULL. */
static const char *perform(CURL *c, long *status, char *why, size_t size)
{
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        snprintf(why, size, "%s", curl_easy_strerror(rc));
        return why;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (*status < 200 || *status > 299) {
        snprintf(why, size, "the file store answered HTTP %ld", *status);
        return why;
    }
    return NULL;
}

static void op_clear(struct chat *ch)
{
    memset(&ch->file, 0, sizeof ch->file);
}

/* ---- /file PATH ---- */

void mqc_chat__cmd_file(struct chat *ch, const char *arg)
{
    if (!ch->current[0]) {
        mqc_chat__say(ch, "no conversation open: /open USER, /group TITLE USERS or /join CONV");
        return;
    }
    if (!*arg) {
        mqc_chat__say(ch, "usage: /file PATH");
        return;
    }
    if (ch->file.step != FO_NONE) {
        mqc_chat__say(ch, "one file at a time: wait for the last one");
        return;
    }
    struct stat st;
    if (stat(arg, &st) != 0) {
        mqc_chat__sayf(ch, "/file: cannot read %.200s: %s", arg, strerror(errno));
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        mqc_chat__sayf(ch, "/file: %.200s is not a regular file", arg);
        return;
    }
    const char *name = base_name(arg);
    if (!*name || strlen(arg) >= sizeof ch->file.path || strlen(name) > 255) {
        mqc_chat__say(ch, "/file: the path or the file name is too long");
        return;
    }
    struct file_op *f = &ch->file;
    snprintf(f->path, sizeof f->path, "%s", arg);
    snprintf(f->name, sizeof f->name, "%s", name);
    snprintf(f->type, sizeof f->type, "%s", mime_of(name));
    snprintf(f->conv, sizeof f->conv, "%s", ch->current);
    f->size = (long long)st.st_size;
    cJSON *r = mqc_chat__new_req("upload", ch->current);
    if (r && (!cJSON_AddStringToObject(r, "name", f->name) ||
              !cJSON_AddStringToObject(r, "type", f->type) ||
              !cJSON_AddNumberToObject(r, "size", (double)f->size))) {
        cJSON_Delete(r);
        r = NULL;
    }
    f->step = FO_UPLOAD;
    if (!mqc_chat__request(ch, r, RQ_UPLOAD, ch->current))
        op_clear(ch);
}

/* The upload reply: PUT the file, then send the message. */
static void uploaded(struct chat *ch, const cJSON *ev)
{
    struct file_op *f = &ch->file;
    const char *key = str_of(ev, "key"), *url = str_of(ev, "put_url");
    const cJSON *hdrs = cJSON_GetObjectItemCaseSensitive(ev, "headers");
    if (!key || !url || !curl_ready(ch)) {
        mqc_chat__say(ch, "/file: the server's upload answer is incomplete");
        return;
    }
    FILE *in = fopen(f->path, "rb");
    CURL *c = in ? easy(url) : NULL;
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    const cJSON *it;
    char line[512];
    cJSON_ArrayForEach(it, hdrs)
    {
        if (cJSON_IsString(it) && it->string && !strpbrk(it->valuestring, "\r\n")) {
            snprintf(line, sizeof line, "%s: %s", it->string, it->valuestring);
            struct curl_slist *n = curl_slist_append(h, line);
            if (n)
                h = n;
        }
    }
    long status = 0;
    char why[256];
    const char *bad = "out of memory";
    if (!in) {
        snprintf(why, sizeof why, "cannot read %.200s: %s", f->path, strerror(errno));
        bad = why;
    } else if (c && h && curl_easy_setopt(c, CURLOPT_UPLOAD, 1L) == CURLE_OK &&
               curl_easy_setopt(c, CURLOPT_READDATA, in) == CURLE_OK &&
               curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)f->size) == CURLE_OK &&
               curl_easy_setopt(c, CURLOPT_HTTPHEADER, h) == CURLE_OK) {
        mqc_chat__sayf(ch, "uploading %s (%lld bytes)...", f->name, f->size);
        bad = perform(c, &status, why, sizeof why);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (in)
        fclose(in);
    if (bad) {
        mqc_chat__sayf(ch, "/file %s: not sent: %s", f->name, bad);
        return;
    }
    cJSON *attrs = cJSON_CreateObject(), *a = cJSON_AddObjectToObject(attrs, "attachment");
    if (!a || !cJSON_AddStringToObject(a, "key", key) ||
        !cJSON_AddStringToObject(a, "name", f->name) ||
        !cJSON_AddStringToObject(a, "type", f->type) ||
        !cJSON_AddNumberToObject(a, "size", (double)f->size)) {
        cJSON_Delete(attrs);
        mqc_chat__say(ch, "out of memory: message not sent");
        return;
    }
    mqc_chat__send_msg(ch, f->conv, "", attrs);
}

/* ---- /get SEQ [PATH] ---- */

void mqc_chat__cmd_get(struct chat *ch, const char *arg)
{
    if (!ch->current[0]) {
        mqc_chat__say(ch, "no conversation open: /open USER, /group TITLE USERS or /join CONV");
        return;
    }
    char *end;
    long long seq = strtoll(arg, &end, 10);
    if (end == arg || seq < 1 || (*end && *end != ' ')) {
        mqc_chat__say(ch, "usage: /get SEQ [PATH] (SEQ: the message's seq, shown after it)");
        return;
    }
    if (ch->file.step != FO_NONE) {
        mqc_chat__say(ch, "one file at a time: wait for the last one");
        return;
    }
    while (*end == ' ')
        end++;
    struct file_op *f = &ch->file;
    if (strlen(end) >= sizeof f->path) {
        mqc_chat__say(ch, "/get: the path is too long");
        return;
    }
    snprintf(f->path, sizeof f->path, "%s", end);
    snprintf(f->conv, sizeof f->conv, "%s", ch->current);
    f->seq = seq;
    cJSON *r = mqc_chat__new_req("history", ch->current);
    if (r && (!cJSON_AddNumberToObject(r, "before", (double)(seq + 1)) ||
              !cJSON_AddNumberToObject(r, "limit", 1))) {
        cJSON_Delete(r);
        r = NULL;
    }
    f->step = FO_FIND;
    if (!mqc_chat__request(ch, r, RQ_FIND, ch->current))
        op_clear(ch);
}

/* The one-event history page: the attachment of message seq. */
static void found(struct chat *ch, const cJSON *ev)
{
    struct file_op *f = &ch->file;
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(ev, "items");
    const cJSON *m = cJSON_GetArrayItem(items, 0);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "attrs"),
                                                      "attachment");
    const char *key = str_of(a, "key");
    if (!m || seq_of(m, "seq") != f->seq || !key) {
        mqc_chat__sayf(ch, "/get: message %lld in %s has no file", f->seq, f->conv);
        op_clear(ch);
        return;
    }
    if (!f->path[0]) {
        /* The sender chose the name: keep only what is safe in a file name. */
        mqc_attach_sanitise_name(str_of(a, "name"), f->name, sizeof f->name);
        if (!f->name[0])
            snprintf(f->name, sizeof f->name, "attachment-%lld", f->seq);
        snprintf(f->path, sizeof f->path, "%s", f->name);
    }
    cJSON *r = mqc_chat__new_req("download", f->conv);
    if (r && !cJSON_AddStringToObject(r, "key", key)) {
        cJSON_Delete(r);
        r = NULL;
    }
    f->step = FO_DOWNLOAD;
    if (!mqc_chat__request(ch, r, RQ_DOWNLOAD, f->conv))
        op_clear(ch);
}

static size_t write_out(char *p, size_t size, size_t n, void *ctx)
{
    return fwrite(p, size, n, ctx);
}

/* The download reply: GET into PATH.part (created, never over a file),
 * renamed to PATH (refused if PATH exists) when complete. */
static void downloaded(struct chat *ch, const cJSON *ev)
{
    struct file_op *f = &ch->file;
    const char *url = str_of(ev, "url");
    char part[sizeof f->path + 8];
    snprintf(part, sizeof part, "%s.part", f->path);
    if (!url || !curl_ready(ch)) {
        mqc_chat__say(ch, "/get: the server's download answer is incomplete");
        return;
    }
    if (access(f->path, F_OK) == 0) {
        mqc_chat__sayf(ch, "/get: %.200s exists; give another PATH: /get %lld PATH", f->path,
                       f->seq);
        return;
    }
    int fd = open(part, O_WRONLY | O_CREAT | O_EXCL, 0644);
    FILE *out = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!out) {
        mqc_chat__sayf(ch, "/get: cannot create %.200s: %s", part, strerror(errno));
        if (fd >= 0)
            close(fd);
        return;
    }
    CURL *c = easy(url);
    long status = 0;
    char why[256];
    const char *bad = "out of memory";
    if (c && curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_out) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_WRITEDATA, out) == CURLE_OK)
        bad = perform(c, &status, why, sizeof why);
    curl_off_t got = 0;
    if (c)
        curl_easy_getinfo(c, CURLINFO_SIZE_DOWNLOAD_T, &got);
    curl_easy_cleanup(c);
    if (fclose(out) != 0 && !bad)
        bad = strerror(errno);
    if (!bad && link(part, f->path) != 0) {
        snprintf(why, sizeof why, "cannot save as %.200s: %s", f->path, strerror(errno));
        bad = why;
    }
    unlink(part);
    if (bad)
        mqc_chat__sayf(ch, "/get %lld: not saved: %s", f->seq, bad);
    else
        mqc_chat__sayf(ch, "saved %s (%lld bytes)", f->path, (long long)got);
}

void mqc_chat__file_reply(struct chat *ch, enum req_kind kind, const cJSON *ev)
{
    if (kind == RQ_UPLOAD)
        uploaded(ch, ev);
    else if (kind == RQ_DOWNLOAD)
        downloaded(ch, ev);
    else if (kind == RQ_FIND) {
        found(ch, ev);
        return; /* the download goes on */
    }
    op_clear(ch);
}

void mqc_chat__file_failed(struct chat *ch)
{
    op_clear(ch);
}
