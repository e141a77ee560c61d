/* yaml_tree.c: the YAML reader of the config: libyaml's events (the only
 * file that includes yaml.h; libyaml returns 1 on success, translated here
 * to 0 / FR_E_*) become a small node tree with a location on every node and
 * key (duplicate keys found in linear time, alias expansion bounded), and
 * the error and allocation helpers the loader shares. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config/config_internal.h"
#include "featrd/version.h"
#include "util/version.h"

void *cfg_xgrow(void *p, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return p;
    int nc = *cap ? *cap * 2 : 8;
    while (nc < need)
        nc *= 2;
    void *q = realloc(p, (size_t)nc * elem);
    if (!q)
        return NULL;
    *cap = nc;
    return q;
}

char *cfg_xstrdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* ------------------------------------------------------------------ */
/* Error text. */

/* "FILE:LINE:COL: path: " or "-o k=v: path: " or "path: " */
int cfg_vloc_err(FrError *err, int code, FrSrcLoc loc, const char *path, const char *fmt,
                    va_list ap)
{
    char body[768];
    vsnprintf(body, sizeof body, fmt, ap);
    char pre[512];
    if (loc.file && loc.line > 0)
        snprintf(pre, sizeof pre, "%s:%d:%d: ", loc.file, loc.line, loc.col);
    else if (loc.file)
        snprintf(pre, sizeof pre, "%s: ", loc.file);
    else
        pre[0] = 0;
    if (path && *path)
        return fr_error(err, code, "%s%s: %s", pre, path, body);
    return fr_error(err, code, "%s%s", pre, body);
}

#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
int cfg_loc_err(FrError *err, int code, FrSrcLoc loc, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = cfg_vloc_err(err, code, loc, path, fmt, ap);
    va_end(ap);
    return r;
}

/* snprintf for key paths; long paths are cut (they only appear in messages). */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void cfg_pathf(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------ */
/* The node tree. */


void cfg_node_free(Node *n)
{
    if (!n)
        return;
    for (int i = 0; i < n->n; i++) {
        cfg_node_free(n->kids[i]);
        if (n->keys)
            free(n->keys[i]);
    }
    free(n->kids);
    free(n->keys);
    free(n->kloc);
    free(n->s);
    free(n);
}

Node *cfg_node_new(int type, FrSrcLoc loc)
{
    Node *n = calloc(1, sizeof *n);
    if (n) {
        n->type = type;
        n->loc = loc;
    }
    return n;
}

static Node *node_copy(const Node *n)
{
    Node *c = cfg_node_new(n->type, n->loc);
    if (!c)
        return NULL;
    c->plain = n->plain;
    if (n->s && !(c->s = cfg_xstrdup(n->s)))
        goto fail;
    if (n->n) {
        c->kids = calloc((size_t)n->n, sizeof *c->kids);
        if (!c->kids)
            goto fail;
        c->cap = n->n;
        if (n->type == N_MAP) {
            c->keys = calloc((size_t)n->n, sizeof *c->keys);
            c->kloc = calloc((size_t)n->n, sizeof *c->kloc);
            if (!c->keys || !c->kloc)
                goto fail;
        }
        for (int i = 0; i < n->n; i++) {
            c->n = i + 1;
            if (!(c->kids[i] = node_copy(n->kids[i])))
                goto fail;
            if (n->type == N_MAP) {
                if (!(c->keys[i] = cfg_xstrdup(n->keys[i])))
                    goto fail;
                c->kloc[i] = n->kloc[i];
            }
        }
    }
    return c;
fail:
    cfg_node_free(c);
    return NULL;
}

/* Appends kid (and key for maps). Takes ownership of kid even on failure. */
int cfg_node_add(Node *n, const char *key, FrSrcLoc kloc, Node *kid)
{
    if (n->n == n->cap) {
        /* a failure part-way leaves some arrays larger than cap: harmless */
        int nc = n->cap ? n->cap * 2 : 4;
        Node **k = realloc(n->kids, (size_t)nc * sizeof *k);
        if (!k)
            goto nomem;
        n->kids = k;
        if (n->type == N_MAP) {
            char **ks = realloc(n->keys, (size_t)nc * sizeof *ks);
            if (!ks)
                goto nomem;
            n->keys = ks;
            FrSrcLoc *kl = realloc(n->kloc, (size_t)nc * sizeof *kl);
            if (!kl)
                goto nomem;
            n->kloc = kl;
        }
        n->cap = nc;
    }
    if (n->type == N_MAP) {
        if (!(n->keys[n->n] = cfg_xstrdup(key)))
            goto nomem;
        n->kloc[n->n] = kloc;
    }
    n->kids[n->n++] = kid;
    return 0;
nomem:
    cfg_node_free(kid);
    return FR_E_NOMEM;
}

int cfg_map_find(const Node *n, const char *key)
{
    if (!n || n->type != N_MAP)
        return -1;
    for (int i = 0; i < n->n; i++)
        if (!strcmp(n->keys[i], key))
            return i;
    return -1;
}

/* Index of the keys of a mapping being read (open addressing over
 * n->keys): duplicate detection stays linear in the number of keys where a
 * scan per key was quadratic (200,000 keys took over 10 minutes). */
typedef struct KeySet {
    int *slot; /* key index + 1; 0 = empty */
    size_t cap;
} KeySet;

static size_t key_hash(const char *k)
{
    uint64_t h = 1469598103934665603ull;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

/* The index of key in n, or -1. */
static int keyset_find(const KeySet *ks, const Node *n, const char *key)
{
    if (!ks->cap)
        return cfg_map_find(n, key);
    for (size_t i = key_hash(key) & (ks->cap - 1);; i = (i + 1) & (ks->cap - 1)) {
        int j = ks->slot[i];
        if (!j)
            return -1;
        if (!strcmp(n->keys[j - 1], key))
            return j - 1;
    }
}

/* Records n's last key (from 16 keys on; shorter maps are scanned). */
static int keyset_add(KeySet *ks, const Node *n)
{
    if (n->n < 16)
        return 0;
    if ((size_t)n->n * 2 > ks->cap) {
        size_t cap = ks->cap ? ks->cap * 2 : 64;
        while ((size_t)n->n * 2 > cap)
            cap *= 2;
        int *slot = calloc(cap, sizeof *slot);
        if (!slot)
            return FR_E_NOMEM;
        free(ks->slot);
        ks->slot = slot;
        ks->cap = cap;
        for (int j = 0; j < n->n; j++) {
            size_t i = key_hash(n->keys[j]) & (cap - 1);
            while (slot[i])
                i = (i + 1) & (cap - 1);
            slot[i] = j + 1;
        }
        return 0;
    }
    size_t i = key_hash(n->keys[n->n - 1]) & (ks->cap - 1);
    while (ks->slot[i])
        i = (i + 1) & (ks->cap - 1);
    ks->slot[i] = n->n;
    return 0;
}

void cfg_map_remove(Node *n, int i)
{
    cfg_node_free(n->kids[i]);
    free(n->keys[i]);
    memmove(n->kids + i, n->kids + i + 1, (size_t)(n->n - i - 1) * sizeof *n->kids);
    memmove(n->keys + i, n->keys + i + 1, (size_t)(n->n - i - 1) * sizeof *n->keys);
    memmove(n->kloc + i, n->kloc + i + 1, (size_t)(n->n - i - 1) * sizeof *n->kloc);
    n->n--;
}

int cfg_is_null(const Node *n)
{
    return n->type == N_SCALAR && n->plain &&
           (!n->s[0] || !strcmp(n->s, "~") || !strcmp(n->s, "null") || !strcmp(n->s, "Null") ||
            !strcmp(n->s, "NULL"));
}

/* How a node reads in "got ..." text. */
const char *cfg_describe(const Node *n, char *buf, size_t cap)
{
    if (n->type == N_SEQ)
        return n->n ? "a list" : "an empty list";
    if (n->type == N_MAP)
        return n->n ? "a map" : "an empty map";
    if (cfg_is_null(n))
        return "nothing";
    if (n->plain)
        snprintf(buf, cap, "%.80s%s", n->s, strlen(n->s) > 80 ? "..." : "");
    else
        snprintf(buf, cap, "\"%.80s%s\"", n->s, strlen(n->s) > 80 ? "..." : "");
    return buf;
}

/* ------------------------------------------------------------------ */
/* libyaml → node tree. */

typedef struct Anchor {
    char *name;
    Node *node; /* a copy kept for aliases */
} Anchor;

typedef struct Reader {
    yaml_parser_t parser;
    const char *file; /* interned */
    FrError *err;
    Anchor *anchors;
    int n_anchors, cap_anchors;
    long alias_nodes; /* nodes copied for aliases so far ("billion laughs" guard) */
    const char *text; /* the input, for the position of reader errors */
    size_t len;
} Reader;

#define MAX_ALIAS_NODES 100000

static long node_count(const Node *n)
{
    long k = 1;
    for (int i = 0; i < n->n; i++)
        k += node_count(n->kids[i]);
    return k;
}

static FrSrcLoc mark_loc(const Reader *r, yaml_mark_t m)
{
    FrSrcLoc l = {r->file, (int)m.line + 1, (int)m.column + 1};
    return l;
}

static int syntax_err(Reader *r)
{
    yaml_parser_t *p = &r->parser;
    FrSrcLoc l = mark_loc(r, p->problem_mark);
    if (p->error == YAML_READER_ERROR && r->text) {
        /* libyaml gives a byte offset, not a mark, for bad bytes (invalid
         * UTF-8, NUL, control characters) */
        size_t off = p->problem_offset < r->len ? p->problem_offset : r->len;
        l.line = 1;
        l.col = 1;
        for (size_t i = 0; i < off; i++) {
            if (r->text[i] == '\n') {
                l.line++;
                l.col = 1;
            } else if (((unsigned char)r->text[i] & 0xC0) != 0x80) {
                l.col++;
            }
        }
        return cfg_loc_err(r->err, FR_E_CONFIG, l, NULL, "%s (byte 0x%02x); save the file as UTF-8 text",
                       p->problem ? p->problem : "bad character",
                       off < r->len ? (unsigned)(unsigned char)r->text[off] : 0u);
    }
    if (p->error == YAML_MEMORY_ERROR)
        return fr_error(r->err, FR_E_NOMEM, "%s: out of memory reading YAML", r->file);
    if (p->context)
        return cfg_loc_err(r->err, FR_E_CONFIG, l, NULL, "YAML syntax error: %s %s (line %d)",
                       p->problem ? p->problem : "bad YAML", p->context,
                       (int)p->context_mark.line + 1);
    return cfg_loc_err(r->err, FR_E_CONFIG, l, NULL, "YAML syntax error: %s",
                   p->problem ? p->problem : "bad YAML");
}

static int next_event(Reader *r, yaml_event_t *ev)
{
    if (yaml_parser_parse(&r->parser, ev) != 1)
        return syntax_err(r);
    return 0;
}

static int remember_anchor(Reader *r, const yaml_char_t *name, const Node *n)
{
    if (!name)
        return 0;
    Anchor *a = cfg_xgrow(r->anchors, &r->cap_anchors, r->n_anchors + 1, sizeof *a);
    if (!a)
        return FR_E_NOMEM;
    r->anchors = a;
    Node *c = node_copy(n);
    char *nm = cfg_xstrdup((const char *)name);
    if (!c || !nm) {
        cfg_node_free(c);
        free(nm);
        return FR_E_NOMEM;
    }
    r->anchors[r->n_anchors].name = nm;
    r->anchors[r->n_anchors].node = c;
    r->n_anchors++;
    return 0;
}

/* Builds the node for the event ev (already read; consumed here); path is
 * the node's key path, for messages. */
static int read_node(Reader *r, yaml_event_t *ev, const char *path, int depth, Node **out)
{
    *out = NULL;
    FrSrcLoc loc = mark_loc(r, ev->start_mark);
    int rc = 0;
    if (depth > MAX_DEPTH) {
        yaml_event_delete(ev);
        return cfg_loc_err(r->err, FR_E_CONFIG, loc, NULL, "nesting deeper than %d levels",
                       MAX_DEPTH);
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        Node *n = cfg_node_new(N_SCALAR, loc);
        if (!n || !(n->s = malloc(ev->data.scalar.length + 1))) {
            cfg_node_free(n);
            yaml_event_delete(ev);
            return FR_E_NOMEM;
        }
        memcpy(n->s, ev->data.scalar.value, ev->data.scalar.length);
        n->s[ev->data.scalar.length] = 0;
        if (strlen(n->s) != ev->data.scalar.length) {
            yaml_event_delete(ev);
            cfg_node_free(n);
            return cfg_loc_err(r->err, FR_E_CONFIG, loc, NULL, "a NUL character inside a value");
        }
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        rc = remember_anchor(r, ev->data.scalar.anchor, n);
        yaml_event_delete(ev);
        if (rc) {
            cfg_node_free(n);
            return rc;
        }
        *out = n;
        return 0;
    }
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)ev->data.alias.anchor;
        for (int i = r->n_anchors - 1; i >= 0; i--)
            if (!strcmp(r->anchors[i].name, name)) {
                r->alias_nodes += node_count(r->anchors[i].node);
                if (r->alias_nodes > MAX_ALIAS_NODES) {
                    rc = cfg_loc_err(r->err, FR_E_CONFIG, loc, NULL,
                                 "aliases expand to more than %d values; write the values out",
                                 MAX_ALIAS_NODES);
                    yaml_event_delete(ev);
                    return rc;
                }
                yaml_event_delete(ev);
                *out = node_copy(r->anchors[i].node);
                return *out ? 0 : FR_E_NOMEM;
            }
        rc = cfg_loc_err(r->err, FR_E_CONFIG, loc, NULL, "unknown alias *%s", name);
        yaml_event_delete(ev);
        return rc;
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int is_map = ev->type == YAML_MAPPING_START_EVENT;
        yaml_char_t *anchor = is_map ? ev->data.mapping_start.anchor
                                     : ev->data.sequence_start.anchor;
        char *anchor_name = anchor ? cfg_xstrdup((const char *)anchor) : NULL;
        yaml_event_delete(ev);
        Node *n = cfg_node_new(is_map ? N_MAP : N_SEQ, loc);
        if (!n) {
            free(anchor_name);
            return FR_E_NOMEM;
        }
        KeySet ks = {NULL, 0};
        for (;;) {
            yaml_event_t e;
            if ((rc = next_event(r, &e)))
                goto fail;
            if (e.type == YAML_SEQUENCE_END_EVENT || e.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&e);
                break;
            }
            char *key = NULL;
            FrSrcLoc kloc = mark_loc(r, e.start_mark);
            if (is_map) {
                Node *k;
                if ((rc = read_node(r, &e, path, depth + 1, &k)))
                    goto fail;
                if (k->type != N_SCALAR) {
                    cfg_node_free(k);
                    rc = cfg_loc_err(r->err, FR_E_CONFIG, kloc, NULL,
                                 "a key must be a plain name, not a list or map");
                    goto fail;
                }
                key = k->s;
                k->s = NULL;
                cfg_node_free(k);
                int dup = keyset_find(&ks, n, key);
                if (dup >= 0) {
                    FrSrcLoc first = n->kloc[dup];
                    char kp[300];
                    if (*path)
                        cfg_pathf(kp, sizeof kp, "%s.%s", path, key);
                    else
                        cfg_pathf(kp, sizeof kp, "%s", key);
                    rc = cfg_loc_err(r->err, FR_E_CONFIG, kloc, kp,
                                 "duplicate key (first set at line %d)", first.line);
                    free(key);
                    goto fail;
                }
                if ((rc = next_event(r, &e))) {
                    free(key);
                    goto fail;
                }
            }
            Node *v;
            char cp[300];
            if (!is_map)
                cfg_pathf(cp, sizeof cp, "%s[%d]", path, n->n);
            else if (*path)
                cfg_pathf(cp, sizeof cp, "%s.%s", path, key);
            else
                cfg_pathf(cp, sizeof cp, "%s", key);
            if ((rc = read_node(r, &e, cp, depth + 1, &v))) {
                free(key);
                goto fail;
            }
            rc = cfg_node_add(n, key, kloc, v);
            free(key);
            if (!rc && is_map)
                rc = keyset_add(&ks, n);
            if (rc)
                goto fail;
        }
        free(ks.slot);
        ks.slot = NULL;
        if (anchor_name) {
            rc = remember_anchor(r, (const yaml_char_t *)anchor_name, n);
            free(anchor_name);
            anchor_name = NULL;
            if (rc)
                goto fail;
        }
        *out = n;
        return 0;
    fail:
        free(ks.slot);
        free(anchor_name);
        cfg_node_free(n);
        return rc;
    }
    default: {
        int type = (int)ev->type;
        yaml_event_delete(ev);
        return cfg_loc_err(r->err, FR_E_INTERNAL, loc, NULL, "unexpected YAML event %d", type);
    }
    }
}

/* Parses text into a tree. An empty document gives NULL in *out and 0. */
int cfg_read_yaml(const char *text, size_t len, const char *file, FrError *err, Node **out)
{
    *out = NULL;
    Reader r;
    memset(&r, 0, sizeof r);
    r.file = file;
    r.err = err;
    r.text = text;
    r.len = len;
    if (yaml_parser_initialize(&r.parser) != 1)
        return fr_error(err, FR_E_NOMEM, "%s: cannot start the YAML parser", file);
    yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, len);
    int rc = 0, docs = 0;
    Node *root = NULL;
    for (;;) {
        yaml_event_t ev;
        if ((rc = next_event(&r, &ev)))
            break;
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (ev.type == YAML_DOCUMENT_START_EVENT) {
            if (++docs > 1) {
                rc = cfg_loc_err(err, FR_E_CONFIG, mark_loc(&r, ev.start_mark), NULL,
                             "more than one YAML document ('---'); put one experiment per file");
                yaml_event_delete(&ev);
                break;
            }
            yaml_event_delete(&ev);
            continue;
        }
        if (ev.type == YAML_STREAM_START_EVENT || ev.type == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        if ((rc = read_node(&r, &ev, "", 0, &root)))
            break;
    }
    for (int i = 0; i < r.n_anchors; i++) {
        free(r.anchors[i].name);
        cfg_node_free(r.anchors[i].node);
    }
    free(r.anchors);
    yaml_parser_delete(&r.parser);
    if (rc) {
        cfg_node_free(root);
        return rc;
    }
    *out = root;
    return 0;
}


const char *fr_config_yaml_version(void)
{
    return yaml_get_version_string();
}
