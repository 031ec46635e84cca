/* Attachments in an S3-compatible object store (PROTOCOL.md "Attachments"):
 * the store's address (endpoint, bucket, path or virtual-host style),
 * object keys (`<conv>/<32 hex random>/<sanitised name>`: unguessable, no
 * path part a user chose), and the presigned PUT and GET URLs the plugin
 * hands out (core/sigv4.h). Pure but for the random bytes of a key
 * (libsodium); no network. */
#ifndef MQC_ATTACH_H
#define MQC_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest sanitised file name kept in a key, and the longest key. */
#define MQC_ATTACH_NAME_MAX 64
#define MQC_ATTACH_KEY_MAX (64 + 1 + 32 + 1 + MQC_ATTACH_NAME_MAX)
/* Longest content type accepted ("type/subtype", RFC 6838 limits). */
#define MQC_ATTACH_TYPE_MAX 127

/* Where objects go and who signs. Owned strings (mqc_attach_store_free). */
struct mqc_attach_store {
    char *scheme; /* "http" | "https" */
    char *host;   /* endpoint host[:port], as the Host header carries it */
    char *base;   /* endpoint path without a trailing '/' ("" mostly) */
    char *bucket;
    char *region;
    char *access_key;
    char *secret_key;
    bool path_style; /* http://host/bucket/key; else http://bucket.host/key */
};

/* Why endpoint (borrowed) is not an S3 endpoint URL
 * ("http[s]://host[:port][/path]", no query, user or fragment), or NULL. */
const char *mqc_attach_check_endpoint(const char *endpoint);
/* Why bucket is not an S3 bucket name (3-63 of [a-z0-9.-], starting and
 * ending with a letter or digit), or NULL. */
const char *mqc_attach_check_bucket(const char *bucket);

/* A store from its parts (all borrowed, copied; endpoint must pass
 * mqc_attach_check_endpoint). Returns it owned, or NULL (bad endpoint or
 * out of memory). */
struct mqc_attach_store *mqc_attach_store_new(const char *endpoint, const char *bucket,
                                              const char *region, const char *access_key,
                                              const char *secret_key, bool path_style);
/* Frees s (the secret wiped first); NULL does nothing. */
void mqc_attach_store_free(struct mqc_attach_store *s);

/* Is type (borrowed) a plain MIME type "type/subtype" of token characters,
 * at most MQC_ATTACH_TYPE_MAX bytes, without parameters? */
bool mqc_attach_type_valid(const char *type);

/* The file name as a key keeps it: bytes outside [A-Za-z0-9._-] become
 * '_' (a run of them one), leading dots and underscores go, at most
 * MQC_ATTACH_NAME_MAX bytes (the end, where the extension is, kept). out
 * gets "" when nothing is left. name borrowed; outsize >
 * MQC_ATTACH_NAME_MAX. */
void mqc_attach_sanitise_name(const char *name, char *out, size_t outsize);

/* A new key for conv (a valid id) and name (borrowed, sanitised here):
 * "<conv>/<32 random hex>/<name>", or "<conv>/<32 random hex>" when the
 * name sanitises to nothing. outsize > MQC_ATTACH_KEY_MAX. MQC_OK or
 * MQC_EBADREQ (bad conv). */
int mqc_attach_key_new(const char *conv, const char *name, char *out, size_t outsize);

/* Is key (borrowed) one mqc_attach_key_new could have made for conv? So a
 * key of another conversation, or any path a user made up, is not. */
bool mqc_attach_key_valid(const char *conv, const char *key);

/* Presigned URLs valid expires_s seconds from now_s (unix seconds). PUT:
 * signs host, content-type = type and content-length = size, so the store
 * refuses any other upload. *url returned owned. MQC_OK, MQC_ENOMEM,
 * MQC_EINTERNAL. */
int mqc_attach_put_url(const struct mqc_attach_store *s, const char *key, const char *type,
                       int64_t size, int64_t now_s, long expires_s, char **url);
int mqc_attach_get_url(const struct mqc_attach_store *s, const char *key, int64_t now_s,
                       long expires_s, char **url);

#endif
