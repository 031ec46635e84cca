/* A small string-keyed hash map (chained, grows by doubling). Keys are
 * copied; values are borrowed pointers the caller manages. Not thread-safe. */
#ifndef MQC_MAP_H
#define MQC_MAP_H

#include <stdbool.h>
#include <stddef.h>

struct mqc_map;

struct mqc_map *mqc_map_new(void);
/* Frees the map and its keys, not the values. */
void mqc_map_free(struct mqc_map *m);
void *mqc_map_get(const struct mqc_map *m, const char *key);
/* Insert or replace. MQC_OK or MQC_ENOMEM. */
int mqc_map_put(struct mqc_map *m, const char *key, void *value);
/* Remove key; returns its value (or NULL). */
void *mqc_map_del(struct mqc_map *m, const char *key);
size_t mqc_map_count(const struct mqc_map *m);
/* Call fn for every entry (the map must not change meanwhile). */
void mqc_map_each(const struct mqc_map *m, void (*fn)(const char *key, void *value, void *ctx),
                  void *ctx);

/* Remove every entry for which fn returns true, in one walk; fn sees each
 * entry once and, when it selects one, disposes of its value (the map frees
 * only the key). fn must not change the map. Returns how many went. */
size_t mqc_map_remove_if(struct mqc_map *m, bool (*fn)(const char *key, void *value, void *ctx),
                         void *ctx);

#endif
