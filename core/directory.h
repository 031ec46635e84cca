/* Where users are connected in a cluster: user -> the other nodes holding at
 * least one of their devices, as the nodes announce it on the bus. Fan-out
 * uses it to send an event only to nodes with a recipient online. An entry
 * that is briefly wrong costs one useless bus message, or a live delivery
 * that the client's sync makes up for. Pure; broker thread only. */
#ifndef MQC_DIRECTORY_H
#define MQC_DIRECTORY_H

#include <stddef.h>

/* Nodes one user may be on at once; more are ignored (they get events
 * through sync). */
#define MQC_DIRECTORY_MAX_NODES 16

struct mqc_directory;

struct mqc_directory *mqc_directory_new(void);
void mqc_directory_free(struct mqc_directory *d);
/* user is on node (both borrowed, copied). MQC_OK or MQC_ENOMEM. */
int mqc_directory_add(struct mqc_directory *d, const char *user, const char *node);
/* user left node. */
void mqc_directory_remove(struct mqc_directory *d, const char *user, const char *node);
/* node is gone: forget it for every user. */
void mqc_directory_drop_node(struct mqc_directory *d, const char *node);
/* The nodes user is on (borrowed until the next change), *n of them; NULL
 * when none. */
const char *const *mqc_directory_nodes(const struct mqc_directory *d, const char *user, size_t *n);
/* node's name as the directory keeps it (interned: the same pointer for
 * the same name, valid until mqc_directory_free), or NULL when never seen. */
const char *mqc_directory_name(const struct mqc_directory *d, const char *node);
/* Users with at least one node. */
size_t mqc_directory_count(const struct mqc_directory *d);

#endif
