/* load.c: a config file (and its include:s) or text, plus -o overrides,
 * becomes one node tree (yaml_tree.c reads the YAML), which parse.c turns
 * into an FrExperiment and validate.c checks; the experiment's private
 * storage (interned file names, where every key was set) and the location
 * look-ups later stages use for FILE:LINE:COL messages. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "featrd/alloc.h"
#include "featrd/experiments.h"
#include "featrd/metrics.h"
#include "config/config.h"
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_INCLUDE 16

/* Interns a file name; the returned pointer lives as long as priv. */
const char *cfg_priv_file(struct FrConfigPriv *p, const char *name)
{
    for (int i = 0; i < p->n_files; i++)
        if (!strcmp(p->files[i], name))
            return p->files[i];
    char **f = cfg_xgrow(p->files, &p->cap_files, p->n_files + 1, sizeof *f);
    if (!f)
        return NULL;
    p->files = f;
    char *d = cfg_xstrdup(name);
    if (!d)
        return NULL;
    p->files[p->n_files++] = d;
    return d;
}

int cfg_priv_setloc(struct FrConfigPriv *p, const char *key, FrSrcLoc loc)
{
    for (int i = 0; i < p->n_locs; i++)
        if (!strcmp(p->locs[i].key, key)) {
            p->locs[i].loc = loc;
            return 0;
        }
    LocEntry *l = cfg_xgrow(p->locs, &p->cap_locs, p->n_locs + 1, sizeof *l);
    if (!l)
        return FR_E_NOMEM;
    p->locs = l;
    char *k = cfg_xstrdup(key);
    if (!k)
        return FR_E_NOMEM;
    p->locs[p->n_locs].key = k;
    p->locs[p->n_locs].loc = loc;
    p->n_locs++;
    return 0;
}

void cfg_priv_free(struct FrConfigPriv *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n_files; i++)
        free(p->files[i]);
    free(p->files);
    for (int i = 0; i < p->n_locs; i++)
        free(p->locs[i].key);
    free(p->locs);
    free(p);
}

/* ------------------------------------------------------------------ */
/* Files, includes, merging, overrides. */

typedef struct Loader {
    struct FrConfigPriv *priv;
    FrError *err;
    const char *chain[MAX_INCLUDE + 1]; /* display names, outermost first */
    char *real[MAX_INCLUDE + 1];        /* realpath of each, for cycle checks */
    int depth;
} Loader;

/* Deep merge: keys of src override dst's; maps merge recursively, anything
 * else is replaced whole. Consumes src. */
static int merge(Node *dst, Node *src)
{
    int rc = 0;
    for (int i = 0; i < src->n && !rc; i++) {
        int j = cfg_map_find(dst, src->keys[i]);
        if (j >= 0 && dst->kids[j]->type == N_MAP && src->kids[i]->type == N_MAP) {
            rc = merge(dst->kids[j], src->kids[i]);
            src->kids[i] = NULL;
        } else if (j >= 0) {
            cfg_node_free(dst->kids[j]);
            dst->kids[j] = src->kids[i];
            dst->kloc[j] = src->kloc[i];
            src->kids[i] = NULL;
        } else {
            rc = cfg_node_add(dst, src->keys[i], src->kloc[i], src->kids[i]);
            src->kids[i] = NULL;
        }
    }
    cfg_node_free(src);
    return rc;
}

static Node *empty_map(FrSrcLoc loc)
{
    return cfg_node_new(N_MAP, loc);
}

static int load_tree(Loader *L, const char *path, const char *text, size_t len, Node **out);

/* Loads path (named by `include:` at from, or the top file when from.file is
 * NULL) with its own includes merged in. */
static int load_file(Loader *L, const char *path, FrSrcLoc from, Node **out)
{
    *out = NULL;
    struct stat st;
    int sr = stat(path, &st);
    if (sr != 0 || S_ISDIR(st.st_mode)) {
        const char *why = sr != 0 ? "no such file" : "is a directory";
        if (from.file)
            return cfg_loc_err(L->err, FR_E_NOENT, from, "include", "%s '%s'", why, path);
        return fr_error(L->err, FR_E_NOENT, "%s: %s (give the path of an experiment YAML)", path,
                        why);
    }
    char *real = realpath(path, NULL);
    if (!real)
        return fr_error(L->err, FR_E_NOENT, "%s: cannot resolve the path: %s", path,
                        strerror(errno));
    for (int i = 0; i < L->depth; i++)
        if (!strcmp(L->real[i], real)) {
            char chain[700] = "";
            size_t o = 0;
            for (int j = i; j < L->depth; j++)
                o += (size_t)snprintf(chain + o, o < sizeof chain ? sizeof chain - o : 0, "%s -> ",
                                      L->chain[j]);
            if (o < sizeof chain)
                snprintf(chain + o, sizeof chain - o, "%s", path);
            free(real);
            return cfg_loc_err(L->err, FR_E_CONFIG, from, "include", "include cycle: %s", chain);
        }
    if (L->depth >= MAX_INCLUDE) {
        free(real);
        return cfg_loc_err(L->err, FR_E_CONFIG, from, "include", "includes nested deeper than %d",
                       MAX_INCLUDE);
    }
    uint8_t *data = NULL;
    size_t len = 0;
    FrError e2;
    int rc = fr_read_file(path, &data, &len, &e2);
    if (rc) {
        free(real);
        if (from.file)
            return cfg_loc_err(L->err, rc, from, "include", "cannot read '%s': %s", path, e2.msg);
        return fr_error(L->err, rc, "%s", e2.msg);
    }
    const char *name = cfg_priv_file(L->priv, path);
    if (!name) {
        free(real);
        free(data);
        return FR_E_NOMEM;
    }
    L->chain[L->depth] = name;
    L->real[L->depth] = real;
    L->depth++;
    rc = load_tree(L, name, (const char *)data, len, out);
    L->depth--;
    free(real);
    free(data);
    return rc;
}

/* dir of file + rel, unless rel is absolute. */
static char *join_dir(const char *file, const char *rel)
{
    if (rel[0] == '/')
        return cfg_xstrdup(rel);
    const char *slash = strrchr(file, '/');
    size_t dl = slash ? (size_t)(slash - file + 1) : 0;
    char *p = malloc(dl + strlen(rel) + 1);
    if (!p)
        return NULL;
    memcpy(p, file, dl);
    strcpy(p + dl, rel);
    return p;
}

static int load_tree(Loader *L, const char *name, const char *text, size_t len, Node **out)
{
    Node *root;
    int rc = cfg_read_yaml(text, len, name, L->err, &root);
    if (rc)
        return rc;
    FrSrcLoc top = {name, 1, 1};
    if (!root || cfg_is_null(root)) {
        cfg_node_free(root);
        root = empty_map(top);
        if (!root)
            return FR_E_NOMEM;
    }
    if (root->type != N_MAP) {
        char b[128];
        rc = cfg_loc_err(L->err, FR_E_CONFIG, root->loc, NULL,
                     "expected a map of keys (name:, model:, dataset:, ...) at the top level, got %s",
                     cfg_describe(root, b, sizeof b));
        cfg_node_free(root);
        return rc;
    }
    int ii = cfg_map_find(root, "include");
    if (ii < 0) {
        *out = root;
        return 0;
    }
    Node *inc = root->kids[ii];
    FrSrcLoc iloc = root->kloc[ii];
    Node *base = NULL;
    int n_inc = inc->type == N_SEQ ? inc->n : 1;
    for (int k = 0; k < n_inc && !rc; k++) {
        Node *item = inc->type == N_SEQ ? inc->kids[k] : inc;
        char b[128];
        if (item->type != N_SCALAR || cfg_is_null(item) || !item->s[0]) {
            rc = cfg_loc_err(L->err, FR_E_CONFIG, item->loc, "include",
                         "expected a file name or a list of file names, got %s",
                         cfg_describe(item, b, sizeof b));
            break;
        }
        char *p = join_dir(name, item->s);
        if (!p) {
            rc = FR_E_NOMEM;
            break;
        }
        Node *sub = NULL;
        FrSrcLoc from = item->loc;
        (void)iloc;
        rc = load_file(L, p, from, &sub);
        free(p);
        if (rc)
            break;
        if (!base)
            base = sub;
        else
            rc = merge(base, sub);
    }
    if (rc) {
        cfg_node_free(base);
        cfg_node_free(root);
        return rc;
    }
    cfg_map_remove(root, ii);
    if (!base) {
        *out = root;
        return 0;
    }
    rc = merge(base, root);
    if (rc) {
        cfg_node_free(base);
        return rc;
    }
    *out = base;
    return 0;
}

static void set_loc_all(Node *n, FrSrcLoc loc)
{
    n->loc = loc;
    for (int i = 0; i < n->n; i++) {
        set_loc_all(n->kids[i], loc);
        if (n->kloc)
            n->kloc[i] = loc;
    }
}

/* "-o key.path=value": sets the value in the tree, creating maps on the way. */
static int apply_override(Loader *L, Node *root, const char *ov)
{
    char label[600];
    snprintf(label, sizeof label, "-o %s", ov);
    const char *file = cfg_priv_file(L->priv, label);
    if (!file)
        return FR_E_NOMEM;
    FrSrcLoc loc = {file, 0, 0};
    const char *eq = strchr(ov, '=');
    if (!eq || eq == ov)
        return fr_error(L->err, FR_E_CONFIG,
                        "%s: expected key.path=value (e.g. -o output.dir=/tmp/x or "
                        "-o sweep.bits=[8,10])",
                        file);
    size_t klen = (size_t)(eq - ov);
    char key[256];
    if (klen >= sizeof key)
        return fr_error(L->err, FR_E_CONFIG, "%s: key path too long", file);
    memcpy(key, ov, klen);
    key[klen] = 0;
    if (key[0] == '.' || key[klen - 1] == '.' || strstr(key, ".."))
        return fr_error(L->err, FR_E_CONFIG, "%s: key path '%s' has an empty part (e.g. -o sweep.bits=[8,10])",
                        file, key);
    if (!strcmp(key, "include") || !strncmp(key, "include.", 8) || !strncmp(key, "include[", 8))
        return fr_error(L->err, FR_E_CONFIG, "%s: include: cannot be overridden; name the base "
                                             "file in the YAML",
                        file);

    FrError verr;
    Node *val = NULL;
    int rc = cfg_read_yaml(eq + 1, strlen(eq + 1), "value", &verr, &val);
    if (rc)
        return fr_error(L->err, rc, "%s: %s: cannot read the value as YAML (%s)", file, key,
                        verr.msg);
    if (!val) {
        val = cfg_node_new(N_SCALAR, loc);
        if (!val || !(val->s = cfg_xstrdup(""))) {
            cfg_node_free(val);
            return FR_E_NOMEM;
        }
        val->plain = 1;
    }
    set_loc_all(val, loc);

    /* walk: segments separated by '.', each "name" or "name[i]" */
    Node *cur = root;
    char path[256] = "";
    char *save = NULL;
    char *seg = strtok_r(key, ".", &save);
    if (!seg) {
        cfg_node_free(val);
        return fr_error(L->err, FR_E_CONFIG, "%s: empty key path", file);
    }
    while (seg) {
        char *next = strtok_r(NULL, ".", &save);
        int idx = -1;
        char *br = strchr(seg, '[');
        if (br) {
            char *end;
            long v = strtol(br + 1, &end, 10);
            if (end == br + 1 || *end != ']' || end[1] || v < 0 || v > 100000) {
                cfg_node_free(val);
                return fr_error(L->err, FR_E_CONFIG, "%s: bad list index in '%s' (write key[N])",
                                file, seg);
            }
            idx = (int)v;
            *br = 0;
        }
        if (!seg[0]) {
            cfg_node_free(val);
            return fr_error(L->err, FR_E_CONFIG, "%s: empty key in the key path", file);
        }
        if (cur->type != N_MAP) {
            char b[128];
            cfg_node_free(val);
            return fr_error(L->err, FR_E_CONFIG, "%s: %s: cannot set a key inside %s (key '%s')",
                            file, path, cfg_describe(cur, b, sizeof b), seg);
        }
        size_t pl = strlen(path);
        snprintf(path + pl, sizeof path - pl, "%s%s", pl ? "." : "", seg);
        int j = cfg_map_find(cur, seg);
        int last = !next && idx < 0;
        if (last) {
            if (j >= 0) {
                cfg_node_free(cur->kids[j]);
                cur->kids[j] = val;
                cur->kloc[j] = loc;
                return 0;
            }
            return cfg_node_add(cur, seg, loc, val);
        }
        if (j < 0) {
            if (idx >= 0) {
                cfg_node_free(val);
                return fr_error(L->err, FR_E_CONFIG, "%s: %s: no list to index (set the whole "
                                                     "list: -o %s=[...])",
                                file, path, path);
            }
            Node *m = empty_map(loc);
            if (!m) {
                cfg_node_free(val);
                return FR_E_NOMEM;
            }
            if ((rc = cfg_node_add(cur, seg, loc, m))) {
                cfg_node_free(val);
                return rc;
            }
            j = cur->n - 1;
        }
        Node *child = cur->kids[j];
        if (idx >= 0) {
            if (child->type != N_SEQ || idx > child->n) {
                cfg_node_free(val);
                return fr_error(L->err, FR_E_CONFIG, "%s: %s: index %d is past the end of the "
                                                     "list (%d item%s)",
                                file, path, idx, child->type == N_SEQ ? child->n : 0,
                                child->type == N_SEQ && child->n == 1 ? "" : "s");
            }
            pl = strlen(path);
            snprintf(path + pl, sizeof path - pl, "[%d]", idx);
            if (!next) {
                if (idx == child->n)
                    return cfg_node_add(child, NULL, loc, val);
                cfg_node_free(child->kids[idx]);
                child->kids[idx] = val;
                return 0;
            }
            if (idx == child->n) {
                cfg_node_free(val);
                return fr_error(L->err, FR_E_CONFIG, "%s: %s: index %d is past the end of the "
                                                     "list",
                                file, path, idx);
            }
            child = child->kids[idx];
        }
        cur = child;
        seg = next;
    }
    cfg_node_free(val);
    return 0;
}


/* ------------------------------------------------------------------ */
/* Locations. */

const FrSrcLoc *fr_experiment_loc(const FrExperiment *e, const char *key)
{
    if (!e || !e->priv || !key)
        return NULL;
    for (int i = 0; i < e->priv->n_locs; i++)
        if (!strcmp(e->priv->locs[i].key, key))
            return &e->priv->locs[i].loc;
    return NULL;
}

/* The location of key, else of its closest parent that has one. */
static FrSrcLoc find_loc(const FrExperiment *e, const char *key)
{
    char k[300];
    snprintf(k, sizeof k, "%s", key);
    for (;;) {
        const FrSrcLoc *l = fr_experiment_loc(e, k);
        if (l)
            return *l;
        char *cut = NULL;
        for (char *q = k; *q; q++)
            if (*q == '.' || *q == '[')
                cut = q;
        if (!cut)
            break;
        *cut = 0;
    }
    FrSrcLoc none = {NULL, 0, 0};
    if (e && e->priv && e->priv->n_files) {
        /* the top file is interned first */
        none.file = e->priv->files[0];
        if (strncmp(none.file, "-o ", 3))
            none.line = none.col = 1;
        else
            none.file = NULL;
    }
    return none;
}

int fr_experiment_error(const FrExperiment *e, FrError *err, int code, const char *key,
                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = cfg_vloc_err(err, code, find_loc(e, key), key, fmt, ap);
    va_end(ap);
    return r;
}


static const char *base_name(const char *path, char *buf, size_t cap)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(buf, cap, "%s", b);
    char *dot = strrchr(buf, '.');
    if (dot && (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml")))
        *dot = 0;
    return buf[0] ? buf : "experiment";
}

static int load_common(const char *path, const char *text, size_t len,
                       const char *const *overrides, int n_overrides, FrExperiment **out,
                       FrError *err)
{
    *out = NULL;
    FrExperiment *e = cfg_experiment_new(0);
    if (!e)
        return fr_error(err, FR_E_NOMEM, "%s: out of memory", path);
    Loader L;
    memset(&L, 0, sizeof L);
    L.priv = e->priv;
    L.err = err;
    Node *root = NULL;
    int rc;
    FrSrcLoc none = {NULL, 0, 0};
    if (text) {
        const char *name = cfg_priv_file(e->priv, path);
        rc = name ? load_tree(&L, name, text, len, &root) : FR_E_NOMEM;
    } else {
        rc = load_file(&L, path, none, &root);
    }
    for (int i = 0; !rc && i < n_overrides; i++)
        rc = apply_override(&L, root, overrides[i]);
    CfgCx c = {e, err};
    int name_set = 0, dir_set = 0;
    if (!rc)
        rc = cfg_parse_top(&c, root, &name_set, &dir_set);
    cfg_node_free(root);
    if (!rc && !name_set) {
        char b[256];
        free(e->name);
        if (!(e->name = cfg_xstrdup(base_name(path, b, sizeof b))))
            rc = FR_E_NOMEM;
    }
    if (!rc && !dir_set) {
        free(e->output.dir);
        size_t n = strlen(e->name) + 16;
        if ((e->output.dir = malloc(n)))
            snprintf(e->output.dir, n, "results/%s", e->name);
        else
            rc = FR_E_NOMEM;
    }
    if (!rc)
        rc = cfg_finish_sweep(&e->sweep);
    if (!rc)
        rc = cfg_validate(&c);
    if (rc) {
        if (rc == FR_E_NOMEM && err && !err->msg[0])
            fr_error(err, rc, "%s: out of memory", path);
        fr_experiment_free(&e);
        return rc;
    }
    *out = e;
    return 0;
}

int fr_config_load(const char *path, const char *const *overrides, int n_overrides,
                   FrExperiment **out, FrError *err)
{
    if (err)
        err->msg[0] = 0;
    if (!out || !path)
        return fr_error(err, FR_E_USAGE, "fr_config_load: NULL argument");
    return load_common(path, NULL, 0, overrides, n_overrides, out, err);
}

int fr_config_load_string(const char *yaml, const char *name, const char *const *overrides,
                          int n_overrides, FrExperiment **out, FrError *err)
{
    if (err)
        err->msg[0] = 0;
    if (!out || !yaml || !name)
        return fr_error(err, FR_E_USAGE, "fr_config_load_string: NULL argument");
    return load_common(name, yaml, strlen(yaml), overrides, n_overrides, out, err);
}

