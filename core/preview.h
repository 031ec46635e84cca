/* The push preview of a message: what a notification shows (PROTOCOL.md
 * "Attachments"). The start of the body; for a message with an empty body
 * whose attrs carry an attachment, "📷 Photo" (image/...) or "📎 <name>".
 * Pure. */
#ifndef MQC_PREVIEW_H
#define MQC_PREVIEW_H

#include <stddef.h>

/* Bytes of a preview at most (the push bridge may cut further). */
#define MQC_PREVIEW_MAX 240

/* Write the preview of body (borrowed, valid UTF-8) and attrs (borrowed:
 * the raw JSON text of the message's attrs object, or NULL) into out
 * (outsize > MQC_PREVIEW_MAX), cut on a character boundary. Bad or
 * unrelated attrs leave just the body (maybe ""). */
void mqc_preview_make(const char *body, const char *attrs, char *out, size_t outsize);

#endif
