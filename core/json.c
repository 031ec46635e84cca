/* The strict JSON scanner: one pass over the text with an explicit stack of
 * open objects and arrays (no recursion, so no depth can exhaust the C
 * stack). The keys of every open object are kept on one stack (pointers into
 * the text, or into a scratch buffer for keys that hold escapes and must be
 * decoded before they can be compared); when an object closes, its keys are
 * checked for duplicates (pairwise when few, sorted when many) and popped. */
#include "core/json.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/utf8.h"

/* An object key, decoded: in the text itself (no escapes) or in scratch. */
struct key {
    const char *p;
    size_t n;
};

struct frame {
    bool object;
    size_t key0;     /* first key of this object on the key stack */
    size_t scratch0; /* scratch in use when it opened */
};

#define INLINE_KEYS 32
#define PAIRWISE_MAX 8 /* objects with at most this many keys: compare pairwise */

struct st {
    const char *s;
    size_t len, i;
    struct key *keys; /* inline_keys, or malloc'd once it outgrew them */
    size_t nkeys, capkeys;
    char *scratch; /* len bytes, malloc'd at the first escaped key */
    size_t nscratch;
    const char *why;
    struct key inline_keys[INLINE_KEYS];
};

static int fail(struct st *st, size_t at, const char *why)
{
    st->i = at;
    st->why = why;
    return MQC_EBADREQ;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static void skip_ws(struct st *st)
{
    while (st->i < st->len && is_ws(st->s[st->i]))
        st->i++;
}

/* The 4 hex digits at p (4 bytes readable) into *cp; false if not hex. */
static bool hex4(const char *p, unsigned *cp)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return false;
    }
    *cp = v;
    return true;
}

/* The string starting at st->i (a '"'): its contents are [*a, *b), *esc
 * tells whether they hold escapes. Leaves st->i after the closing quote. */
static int scan_string(struct st *st, size_t *a, size_t *b, bool *esc)
{
    const char *s = st->s;
    size_t i = st->i + 1, len = st->len;
    *a = i;
    *esc = false;
    for (;;) {
        if (i >= len)
            return fail(st, i, "unterminated string");
        unsigned char c = (unsigned char)s[i];
        if (c == '"')
            break;
        if (c < 0x20)
            return fail(st, i, "control character in a string (it must be escaped)");
        if (c != '\\') {
            i++;
            continue;
        }
        *esc = true;
        if (i + 1 >= len)
            return fail(st, i, "unterminated string");
        c = (unsigned char)s[i + 1];
        if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' ||
            c == 't') {
            i += 2;
            continue;
        }
        unsigned cp, lo;
        if (c != 'u' || i + 6 > len || !hex4(s + i + 2, &cp))
            return fail(st, i, "invalid escape in a string");
        if (cp == 0)
            return fail(st, i, "escaped NUL (\\u0000) in a string");
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return fail(st, i, "lone surrogate escape in a string");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (i + 12 > len || s[i + 6] != '\\' || s[i + 7] != 'u' || !hex4(s + i + 8, &lo) ||
                lo < 0xDC00 || lo > 0xDFFF)
                return fail(st, i, "lone surrogate escape in a string");
            i += 12;
            continue;
        }
        i += 6;
    }
    *b = i;
    st->i = i + 1;
    return MQC_OK;
}

/* Decode the contents of a string that scan_string accepted (s, n bytes) to
 * out, which has room for n bytes (decoding never grows). Returns the length. */
static size_t decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] != '\\') {
            out[o++] = s[i++];
            continue;
        }
        char c = s[i + 1];
        i += 2;
        switch (c) {
        case 'b':
            out[o++] = '\b';
            continue;
        case 'f':
            out[o++] = '\f';
            continue;
        case 'n':
            out[o++] = '\n';
            continue;
        case 'r':
            out[o++] = '\r';
            continue;
        case 't':
            out[o++] = '\t';
            continue;
        case 'u':
            break;
        default:
            out[o++] = c;
            continue;
        }
        unsigned cp, lo;
        hex4(s + i, &cp);
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            hex4(s + i + 2, &lo);
            i += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (cp < 0x80) {
            out[o++] = (char)cp;
        } else if (cp < 0x800) {
            out[o++] = (char)(0xC0 | (cp >> 6));
            out[o++] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out[o++] = (char)(0xE0 | (cp >> 12));
            out[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            out[o++] = (char)(0x80 | (cp & 0x3F));
        } else {
            out[o++] = (char)(0xF0 | (cp >> 18));
            out[o++] = (char)(0x80 | ((cp >> 12) & 0x3F));
            out[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            out[o++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    return o;
}

static int scan_number(struct st *st)
{
    const char *s = st->s;
    size_t i = st->i, b = i, len = st->len;
    if (s[i] == '-')
        i++;
    if (i >= len || !is_digit(s[i]))
        return fail(st, b, "invalid number");
    if (s[i] == '0') {
        if (++i < len && is_digit(s[i]))
            return fail(st, b, "leading zero in a number");
    } else {
        while (i < len && is_digit(s[i]))
            i++;
    }
    if (i < len && s[i] == '.') {
        if (++i >= len || !is_digit(s[i]))
            return fail(st, b, "invalid number");
        while (i < len && is_digit(s[i]))
            i++;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        if (++i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= len || !is_digit(s[i]))
            return fail(st, b, "invalid number");
        while (i < len && is_digit(s[i]))
            i++;
    }
    if (i - b > MQC_JSON_NUMBER_MAX)
        return fail(st, b, "number longer than 63 characters");
    st->i = i;
    return MQC_OK;
}

static int scan_literal(struct st *st)
{
    static const char *const words[] = {"true", "false", "null"};
    for (size_t k = 0; k < 3; k++) {
        size_t n = strlen(words[k]);
        if (st->len - st->i >= n && memcmp(st->s + st->i, words[k], n) == 0) {
            st->i += n;
            return MQC_OK;
        }
    }
    return fail(st, st->i, "invalid literal");
}

/* Push the key whose contents are [a, b) of the text. */
static int push_key(struct st *st, size_t a, size_t b, bool esc)
{
    if (st->nkeys == st->capkeys) {
        size_t cap = st->capkeys * 2;
        struct key *k = st->keys == st->inline_keys ? malloc(cap * sizeof *k)
                                                    : realloc(st->keys, cap * sizeof *k);
        if (!k)
            return MQC_ENOMEM;
        if (st->keys == st->inline_keys)
            memcpy(k, st->inline_keys, sizeof st->inline_keys);
        st->keys = k;
        st->capkeys = cap;
    }
    struct key *k = &st->keys[st->nkeys++];
    if (!esc) {
        k->p = st->s + a;
        k->n = b - a;
        return MQC_OK;
    }
    /* Every decoded key is shorter than its text, so len bytes hold all. */
    if (!st->scratch && !(st->scratch = malloc(st->len)))
        return MQC_ENOMEM;
    k->p = st->scratch + st->nscratch;
    k->n = decode(st->s + a, b - a, st->scratch + st->nscratch);
    st->nscratch += k->n;
    return MQC_OK;
}

static bool key_eq(const struct key *x, const struct key *y)
{
    return x->n == y->n && memcmp(x->p, y->p, x->n) == 0;
}

static int key_cmp(const void *a, const void *b)
{
    const struct key *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->p, y->p, n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* Does the object whose keys are keys[0..n) hold one twice? Reorders them. */
static bool has_duplicate(struct key *keys, size_t n)
{
    if (n <= PAIRWISE_MAX) {
        for (size_t i = 1; i < n; i++)
            for (size_t j = 0; j < i; j++)
                if (key_eq(&keys[i], &keys[j]))
                    return true;
        return false;
    }
    qsort(keys, n, sizeof *keys, key_cmp);
    for (size_t i = 1; i < n; i++)
        if (key_eq(&keys[i], &keys[i - 1]))
            return true;
    return false;
}

enum state { VALUE, KEY, AFTER };

static int scan(struct st *st, struct mqc_json_scan *sc, int max_depth)
{
    struct frame frames[MQC_JSON_DEPTH_LIMIT];
    int depth = 0, rc;
    bool want = false; /* the next value at depth 1 is sc->member's */
    size_t want_off = 0, a, b;
    bool esc;
    size_t mlen = sc->member ? strlen(sc->member) : 0;
    enum state state = VALUE;

    skip_ws(st);
    if (st->i >= st->len)
        return fail(st, st->i, "no JSON value");
    switch (st->s[st->i]) {
    case '{':
        sc->type = MQC_JSON_OBJECT;
        break;
    case '[':
        sc->type = MQC_JSON_ARRAY;
        break;
    case '"':
        sc->type = MQC_JSON_STRING;
        break;
    case 't':
    case 'f':
    case 'n':
        sc->type = MQC_JSON_LITERAL;
        break;
    default:
        sc->type = MQC_JSON_NUMBER;
        break;
    }
    for (;;) {
        if (state == VALUE) {
            if (st->i >= st->len)
                return fail(st, st->i, "unexpected end of the JSON text");
            char c = st->s[st->i];
            if (want && depth == 1)
                want_off = st->i;
            if (c == '{' || c == '[') {
                if (depth >= max_depth)
                    return fail(st, st->i, "JSON nested too deep");
                frames[depth].object = c == '{';
                frames[depth].key0 = st->nkeys;
                frames[depth].scratch0 = st->nscratch;
                depth++;
                st->i++;
                skip_ws(st);
                if (st->i < st->len && st->s[st->i] == (c == '{' ? '}' : ']')) {
                    st->i++;
                    depth--;
                    state = AFTER;
                } else {
                    state = c == '{' ? KEY : VALUE;
                }
                continue;
            }
            if (c == '"')
                rc = scan_string(st, &a, &b, &esc);
            else if (c == '-' || is_digit(c))
                rc = scan_number(st);
            else if (c == 't' || c == 'f' || c == 'n')
                rc = scan_literal(st);
            else
                rc = fail(st, st->i, "unexpected character");
            if (rc != MQC_OK)
                return rc;
            state = AFTER;
        } else if (state == KEY) {
            if (st->i >= st->len)
                return fail(st, st->i, "unexpected end of the JSON text");
            if (st->s[st->i] != '"')
                return fail(st, st->i, "expected a string as object key");
            if ((rc = scan_string(st, &a, &b, &esc)) != MQC_OK ||
                (rc = push_key(st, a, b, esc)) != MQC_OK)
                return rc;
            const struct key *k = &st->keys[st->nkeys - 1];
            if (depth == 1 && sc->member && k->n == mlen && memcmp(k->p, sc->member, mlen) == 0)
                want = true;
            skip_ws(st);
            if (st->i >= st->len || st->s[st->i] != ':')
                return fail(st, st->i, "expected ':' after an object key");
            st->i++;
            skip_ws(st);
            state = VALUE;
        } else { /* AFTER a value */
            if (want && depth == 1) {
                sc->member_off = want_off;
                sc->member_len = st->i - want_off;
                want = false;
            }
            skip_ws(st);
            if (depth == 0) {
                if (st->i != st->len)
                    return fail(st, st->i, "data after the JSON value");
                return MQC_OK;
            }
            if (st->i >= st->len)
                return fail(st, st->i, "unexpected end of the JSON text");
            char c = st->s[st->i];
            struct frame *f = &frames[depth - 1];
            if (c == ',') {
                st->i++;
                skip_ws(st);
                state = f->object ? KEY : VALUE;
            } else if (c == (f->object ? '}' : ']')) {
                if (f->object && has_duplicate(st->keys + f->key0, st->nkeys - f->key0))
                    return fail(st, st->i, "duplicate key in a JSON object");
                st->nkeys = f->key0;
                st->nscratch = f->scratch0;
                st->i++;
                depth--;
            } else {
                return fail(st, st->i,
                            f->object ? "expected ',' or '}' in an object"
                                      : "expected ',' or ']' in an array");
            }
        }
    }
}

int mqc_json_scan(const char *text, size_t len, struct mqc_json_scan *sc)
{
    struct st st;
    memset(&st, 0, offsetof(struct st, inline_keys));
    st.s = text;
    st.len = len;
    st.keys = st.inline_keys;
    st.capkeys = INLINE_KEYS;
    sc->member_off = sc->member_len = 0;
    sc->err_off = 0;
    sc->why = NULL;
    int max_depth = sc->max_depth;
    if (max_depth < 1 || max_depth > MQC_JSON_DEPTH_LIMIT)
        max_depth = MQC_JSON_DEPTH_LIMIT;
    if (len && !text)
        return MQC_EBADREQ;
    if (!mqc_utf8_valid(text, len)) {
        sc->why = "not valid UTF-8";
        return MQC_EBADREQ;
    }
    int rc = scan(&st, sc, max_depth);
    if (rc == MQC_EBADREQ) {
        sc->why = st.why;
        sc->err_off = st.i;
    }
    if (st.keys != st.inline_keys)
        free(st.keys);
    free(st.scratch);
    return rc;
}

size_t mqc_json_minify(const char *text, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (is_ws(c))
            continue;
        out[o++] = c;
        if (c != '"')
            continue;
        /* A string: copied as it is, escapes included, to its closing quote. */
        for (i++; i < len; i++) {
            c = text[i];
            out[o++] = c;
            if (c == '"')
                break;
            if (c == '\\' && i + 1 < len)
                out[o++] = text[++i];
        }
    }
    return o;
}
