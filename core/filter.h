/* MQTT topic filters: validity, matching a topic, whether one filter covers
 * another, and the operator's list of extra filters (plugin_opt_other_topics)
 * in which "%u" stands for the user id. Pure. */
#ifndef MQC_FILTER_H
#define MQC_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#define MQC_FILTER_MAX 512 /* longest filter or topic we reason about */

/* Is f (borrowed) a well-formed MQTT filter ('+' and '#' whole levels, '#'
 * last)? Wildcards are allowed. */
bool mqc_filter_valid(const char *f);
/* Does the concrete topic match filter? '$'-topics never match a wildcard in
 * the first level (MQTT 4.7.2). */
bool mqc_filter_matches(const char *filter, const char *topic);
/* Does every topic that sub matches also match allowed? Used to decide a
 * SUBSCRIBE against an allow-list: "a/+/c" covers "a/b/c", "a/#" covers
 * "a/+/x/#", "a/+" does not cover "a/#". */
bool mqc_filter_covers(const char *allowed, const char *sub);
/* Could sub match any topic under chat/ (first level "chat", "+" or "#")? */
bool mqc_filter_reaches_chat(const char *sub);

struct mqc_filter_list {
    char **items; /* owned; each a filter that may contain "%u" */
    size_t count;
};

/* Parse the space-separated list text (borrowed; NULL or "" = empty list) into
 * *out. Each filter must be valid with %u replaced, and must not start with
 * '$', '+', '#' or the chat/ level (those are decided by the chat rules).
 * On error returns MQC_EBADREQ and writes a reason naming the filter into err. */
int mqc_filter_list_parse(const char *text, struct mqc_filter_list *out, char *err, size_t errlen);
void mqc_filter_list_cleanup(struct mqc_filter_list *list);
/* With user substituted for %u: does any filter match topic? */
bool mqc_filter_list_allows_topic(const struct mqc_filter_list *list, const char *user,
                                  const char *topic);
/* With user substituted for %u: does any filter cover the filter sub? */
bool mqc_filter_list_allows_filter(const struct mqc_filter_list *list, const char *user,
                                   const char *sub);

#endif
