/* config.c: experiment YAML → FrExperiment. The YAML is first read into a
 * small node tree by yaml_tree.c (the libyaml adapter; so includes can be
 * merged and -o overrides applied before anything is interpreted), then one
 * schema walk turns the tree into typed fields, checking types, ranges and
 * unknown keys, and validate() checks the rules that span several keys. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


#include "config/config_internal.h"
#include "featrd/config.h"
#include "featrd/alloc.h"
#include "featrd/experiments.h"
#include "featrd/metrics.h"
#include "featrd/version.h"

#define MAX_INCLUDE 16

/* ------------------------------------------------------------------ */
/* Private storage: file names (locations point into it) and key locations. */

typedef struct LocEntry {
    char *key;
    FrSrcLoc loc;
} LocEntry;

struct FrConfigPriv {
    char **files;
    int n_files, cap_files;
    LocEntry *locs;
    int n_locs, cap_locs;
};

/* Interns a file name; the returned pointer lives as long as priv. */
static const char *priv_file(struct FrConfigPriv *p, const char *name)
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

static int priv_setloc(struct FrConfigPriv *p, const char *key, FrSrcLoc loc)
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

static void priv_free(struct FrConfigPriv *p)
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
    const char *name = priv_file(L->priv, path);
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
    const char *file = priv_file(L->priv, label);
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
/* Enum spellings. */

/* The names of the kinds, allocators and metrics registries
 * (featrd/experiments.h, alloc.h, metrics.h; ids are their positions),
 * NULL-terminated as get_enum wants them, filled once for every thread. */
#define MAX_REG_NAMES 64
static const char *kind_names[MAX_REG_NAMES], *alloc_names[MAX_REG_NAMES],
    *metric_names[MAX_REG_NAMES];
static pthread_once_t reg_names_once = PTHREAD_ONCE_INIT;

static void fill_reg_names(void)
{
    for (int i = 0; i < fr_kind_count() && i < MAX_REG_NAMES - 1; i++)
        kind_names[i] = fr_kind_info((FrExperimentKind)i)->name;
    for (int i = 0; i < fr_alloc_count() && i < MAX_REG_NAMES - 1; i++)
        alloc_names[i] = fr_alloc_info((FrAllocation)i)->name;
    for (int i = 0; i < fr_metric_count() && i < MAX_REG_NAMES - 1; i++)
        metric_names[i] = fr_metric_info((FrMetric)i)->name;
}

static const char *const *reg_names(const char **names)
{
    pthread_once(&reg_names_once, fill_reg_names);
    return names;
}
#define KIND_NAMES (reg_names(kind_names))
#define ALLOC_NAMES (reg_names(alloc_names))
#define METRIC_NAMES (reg_names(metric_names))
static const char *const TASK_NAMES[] = {"auto", "detection", "classification", "dense", NULL};
static const char *const GEMM_NAMES[] = {"openblas", "darknet", NULL};
static const char *const DEVICE_NAMES[] = {"cpu", "gpu", NULL};
static const char *const LABEL_NAMES[] = {"darknet-txt", "voc-xml", "class-list", NULL};
static const char *const RANGE_NAMES[] = {"tensor", "channel", NULL};
static const char *const PACK_NAMES[] = {"tile", "quilt", "frames", "tile-sorted", NULL};

static const char *const SCOPE_NAMES[] = {"image", "dataset", NULL};

static const char *const BD_NAMES[] = {"pchip", "cubic", NULL};
static const char *const ANCHOR_CODEC_NAMES[] = {"hevc", "jpeg", NULL};
static const char *const MODEL_CODER_NAMES[] = {"lzma", "zstd", NULL};
static const char *const ROUNDING_NAMES[] = {"truncate", "nearest", NULL};
/* The registered codecs' names (featrd/codec.h) with all of the
 * capabilities in need, NULL-terminated, into names[cap]. */
static void codec_names(unsigned need, const char **names, int cap)
{
    int k = 0;
    for (int i = 0; i < fr_codec_count() && k < cap - 1; i++)
        if ((fr_codec_at(i)->caps & need) == need)
            names[k++] = fr_codec_at(i)->name;
    names[k] = NULL;
}
#define MAX_CODECS 64

static int count_names(const char *const *names)
{
    int n = 0;
    while (names[n])
        n++;
    return n;
}

static const char *name_at(const char *const *names, int i)
{
    return i >= 0 && i < count_names(names) ? names[i] : NULL;
}

const char *fr_kind_name(FrExperimentKind k) { return name_at(KIND_NAMES, (int)k); }
const char *fr_task_name(FrTask t) { return name_at(TASK_NAMES, (int)t); }
const char *fr_device_name(FrDevice d) { return name_at(DEVICE_NAMES, (int)d); }
const char *fr_allocation_name(FrAllocation a) { return name_at(ALLOC_NAMES, (int)a); }
const char *fr_metric_name(FrMetric m) { return name_at(METRIC_NAMES, (int)m); }
const char *fr_bd_method_name(FrBdMethod m) { return name_at(BD_NAMES, (int)m); }
const char *fr_label_format_name(FrLabelFormat l) { return name_at(LABEL_NAMES, (int)l); }

int fr_metric_from_name(const char *s)
{
    for (int i = 0; s && METRIC_NAMES[i]; i++)
        if (!strcmp(METRIC_NAMES[i], s))
            return i;
    return -1;
}

/* "a, b or c" */
static void or_list(const char *const *names, char *buf, size_t cap)
{
    size_t o = 0;
    int n = count_names(names);
    buf[0] = 0;
    for (int i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ",
                              names[i]);
}

/* Optimal string alignment distance, for "did you mean". */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    int d[41][41];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[la][lb];
}

/* The closest name within a small distance, or NULL. */
static const char *suggest(const char *word, const char *const *names)
{
    const char *best = NULL;
    int bd = 99;
    for (int i = 0; names[i]; i++) {
        int d = edit_distance(word, names[i]);
        if (d < bd) {
            bd = d;
            best = names[i];
        }
    }
    int lim = strlen(word) <= 3 ? 1 : strlen(word) <= 6 ? 2 : 3;
    return bd <= lim ? best : NULL;
}

/* ------------------------------------------------------------------ */
/* Typed getters. Each checks the node, reports "LOC: path: expected X, got Y". */

typedef struct Cx {
    FrExperiment *e;
    FrError *err;
} Cx;

static int rec(Cx *c, const char *path, FrSrcLoc loc)
{
    return priv_setloc(c->e->priv, path, loc);
}

static int expected(Cx *c, const Node *n, const char *path, const char *what)
{
    char b[128];
    return cfg_loc_err(c->err, FR_E_CONFIG, n->loc, path, "expected %s, got %s", what,
                   cfg_describe(n, b, sizeof b));
}

static void join(char *buf, size_t cap, const char *prefix, const char *key)
{
    if (prefix && *prefix)
        cfg_pathf(buf, cap, "%s.%s", prefix, key);
    else
        cfg_pathf(buf, cap, "%s", key);
}

static int parse_ll(const Node *n, long long *v)
{
    if (n->type != N_SCALAR || !n->plain || !n->s[0])
        return -1;
    errno = 0;
    char *end;
    *v = strtoll(n->s, &end, 10);
    return (*end || errno) ? -1 : 0;
}

static int get_int(Cx *c, const Node *n, const char *path, int lo, int hi, int *out)
{
    long long v;
    if (parse_ll(n, &v) || v < lo || v > hi) {
        char w[96];
        if (hi == INT_MAX)
            snprintf(w, sizeof w, "an integer >= %d", lo);
        else
            snprintf(w, sizeof w, "an integer from %d to %d", lo, hi);
        return expected(c, n, path, w);
    }
    *out = (int)v;
    return 0;
}

static int get_u64(Cx *c, const Node *n, const char *path, uint64_t *out)
{
    if (n->type == N_SCALAR && n->plain && n->s[0] && isdigit((unsigned char)n->s[0])) {
        errno = 0;
        char *end;
        unsigned long long v = strtoull(n->s, &end, 10);
        if (!*end && !errno) {
            *out = v;
            return 0;
        }
    }
    return expected(c, n, path, "a non-negative integer");
}

static int get_bool(Cx *c, const Node *n, const char *path, int *out)
{
    static const char *const t[] = {"true", "True", "TRUE", "yes", "Yes", "on", NULL};
    static const char *const f[] = {"false", "False", "FALSE", "no", "No", "off", NULL};
    if (n->type == N_SCALAR && n->plain) {
        for (int i = 0; t[i]; i++)
            if (!strcmp(n->s, t[i])) {
                *out = 1;
                return 0;
            }
        for (int i = 0; f[i]; i++)
            if (!strcmp(n->s, f[i])) {
                *out = 0;
                return 0;
            }
    }
    return expected(c, n, path, "true or false");
}

static int get_double(Cx *c, const Node *n, const char *path, double lo, double hi, int lo_open,
                      double *out)
{
    if (n->type == N_SCALAR && n->plain && n->s[0]) {
        errno = 0;
        char *end;
        double v = strtod(n->s, &end);
        if (!*end && !errno && isfinite(v) && (lo_open ? v > lo : v >= lo) && v <= hi) {
            *out = v;
            return 0;
        }
    }
    char w[96];
    snprintf(w, sizeof w, "a number %s %g and <= %g", lo_open ? ">" : ">=", lo, hi);
    return expected(c, n, path, w);
}

/* A string; null allowed only when nullable (then *out = NULL). Replaces *out. */
static int get_str(Cx *c, const Node *n, const char *path, int nullable, char **out)
{
    if (n->type != N_SCALAR || (cfg_is_null(n) && !nullable) || (!cfg_is_null(n) && !n->s[0]))
        return expected(c, n, path, nullable ? "a string (or ~ for none)" : "a non-empty string");
    char *d = NULL;
    if (!cfg_is_null(n) && !(d = cfg_xstrdup(n->s)))
        return FR_E_NOMEM;
    free(*out);
    *out = d;
    return 0;
}

static int get_enum(Cx *c, const Node *n, const char *path, const char *const *names, int *out)
{
    if (n->type == N_SCALAR)
        for (int i = 0; names[i]; i++)
            if (!strcmp(n->s, names[i])) {
                *out = i;
                return 0;
            }
    char w[256], b[128];
    or_list(names, w, sizeof w);
    const char *s = n->type == N_SCALAR ? suggest(n->s, names) : NULL;
    if (s)
        return cfg_loc_err(c->err, FR_E_CONFIG, n->loc, path, "expected %s, got %s (did you mean '%s'?)",
                       w, cfg_describe(n, b, sizeof b), s);
    return cfg_loc_err(c->err, FR_E_CONFIG, n->loc, path, "expected %s, got %s", w,
                   cfg_describe(n, b, sizeof b));
}

/* A list node's items: a scalar stands for a one-item list (then *items
 * points at *one, which the caller provides). */
static int list_items(Cx *c, const Node *n, const char *path, int allow_empty, const char *what,
                      Node **one, Node *const **items, int *count)
{
    char w[300];
    if (n->type == N_MAP || (n->type == N_SCALAR && cfg_is_null(n) && !allow_empty)) {
        snprintf(w, sizeof w, "a list of %s", what);
        return expected(c, n, path, w);
    }
    if (n->type == N_SCALAR) {
        if (cfg_is_null(n)) {
            *count = 0;
            *items = NULL;
            return 0;
        }
        *one = (Node *)n;
        *items = one;
        *count = 1;
        return 0;
    }
    if (!n->n && !allow_empty) {
        snprintf(w, sizeof w, "a non-empty list of %s", what);
        return expected(c, n, path, w);
    }
    *items = n->kids;
    *count = n->n;
    return 0;
}

static int rec_item(Cx *c, const char *path, int i, FrSrcLoc loc)
{
    char p[300];
    cfg_pathf(p, sizeof p, "%s[%d]", path, i);
    return rec(c, p, loc);
}

/* An integer list; allowed (terminated by INT_MIN) restricts values when set. */
static int get_int_list(Cx *c, const Node *n, const char *path, int lo, int hi,
                        const int *allowed, const char *what, int allow_empty, int **arr,
                        int *cnt)
{
    Node *const *it;
    Node *one;
    int k, rc;
    if ((rc = list_items(c, n, path, allow_empty, what, &one, &it, &k)))
        return rc;
    int *v = k ? malloc((size_t)k * sizeof *v) : NULL;
    if (k && !v)
        return FR_E_NOMEM;
    for (int i = 0; i < k; i++) {
        long long x;
        int ok = !parse_ll(it[i], &x) && x >= lo && x <= hi;
        if (ok && allowed) {
            ok = 0;
            for (int j = 0; allowed[j] != INT_MIN; j++)
                ok |= allowed[j] == x;
        }
        if (!ok) {
            free(v);
            return expected(c, it[i], path, what);
        }
        v[i] = (int)x;
        for (int j = 0; j < i; j++)
            if (v[j] == v[i]) {
                free(v);
                return cfg_loc_err(c->err, FR_E_CONFIG, it[i]->loc, path,
                               "duplicate value %d (also at line %d)", (int)x, it[j]->loc.line);
            }
        if ((rc = rec_item(c, path, i, it[i]->loc))) {
            free(v);
            return rc;
        }
    }
    free(*arr);
    *arr = v;
    *cnt = k;
    return 0;
}

static int get_enum_list(Cx *c, const Node *n, const char *path, const char *const *names,
                         int allow_empty, int **arr, int *cnt)
{
    Node *const *it;
    Node *one;
    int k, rc;
    char w[256];
    or_list(names, w, sizeof w);
    if ((rc = list_items(c, n, path, allow_empty, w, &one, &it, &k)))
        return rc;
    int *v = k ? malloc((size_t)k * sizeof *v) : NULL;
    if (k && !v)
        return FR_E_NOMEM;
    for (int i = 0; i < k; i++) {
        const Node *item = it[i];
        if ((rc = get_enum(c, item, path, names, &v[i]))) {
            free(v);
            return rc;
        }
        for (int j = 0; j < i; j++)
            if (v[j] == v[i]) {
                const char *dup = names[v[i]];
                free(v);
                return cfg_loc_err(c->err, FR_E_CONFIG, item->loc, path,
                               "duplicate value %s (also at line %d)", dup, it[j]->loc.line);
            }
        if ((rc = rec_item(c, path, i, item->loc))) {
            free(v);
            return rc;
        }
    }
    free(*arr);
    *arr = v;
    *cnt = k;
    return 0;
}

static void free_strs(char **s, int n)
{
    for (int i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

/* A list of strings; names (optional) restricts the values. */
static int get_str_list(Cx *c, const Node *n, const char *path, const char *const *names,
                        const char *what, int allow_empty, char ***arr, int *cnt)
{
    Node *const *it;
    Node *one;
    int k, rc;
    if ((rc = list_items(c, n, path, allow_empty, what, &one, &it, &k)))
        return rc;
    char **v = k ? calloc((size_t)k, sizeof *v) : NULL;
    if (k && !v)
        return FR_E_NOMEM;
    for (int i = 0; i < k; i++) {
        const Node *item = it[i];
        if (names) {
            int dummy;
            rc = get_enum(c, item, path, names, &dummy);
        } else if (item->type != N_SCALAR || cfg_is_null(item) || !item->s[0]) {
            rc = expected(c, item, path, what);
        }
        if (!rc && !(v[i] = cfg_xstrdup(item->s)))
            rc = FR_E_NOMEM;
        for (int j = 0; j < i && !rc; j++)
            if (!strcmp(v[j], v[i]))
                rc = cfg_loc_err(c->err, FR_E_CONFIG, item->loc, path,
                             "duplicate value %s (also at line %d)", v[i], it[j]->loc.line);
        if (!rc)
            rc = rec_item(c, path, i, item->loc);
        if (rc) {
            free_strs(v, k);
            return rc;
        }
    }
    free_strs(*arr, *cnt);
    *arr = v;
    *cnt = k;
    return 0;
}

/* Checks that n is a map (null counts as empty) whose keys are all known. */
static int check_map(Cx *c, const Node *n, const char *path, const char *const *known)
{
    char w[400];
    if (n->type == N_SCALAR && cfg_is_null(n))
        return 0;
    if (n->type != N_MAP) {
        snprintf(w, sizeof w, "a map with keys from: ");
        size_t o = strlen(w);
        for (int i = 0; known[i] && o < sizeof w; i++)
            o += (size_t)snprintf(w + o, sizeof w - o, "%s%s", i ? ", " : "", known[i]);
        return expected(c, n, path, w);
    }
    for (int i = 0; i < n->n; i++) {
        int ok = 0;
        for (int j = 0; known[j] && !ok; j++)
            ok = !strcmp(n->keys[i], known[j]);
        if (ok)
            continue;
        char p[300];
        join(p, sizeof p, path, n->keys[i]);
        const char *s = suggest(n->keys[i], known);
        size_t o = 0;
        for (int j = 0; known[j] && o < sizeof w; j++)
            o += (size_t)snprintf(w + o, sizeof w - o, "%s%s", j ? ", " : "", known[j]);
        if (s)
            return cfg_loc_err(c->err, FR_E_CONFIG, n->kloc[i], p,
                           "unknown key (did you mean '%s'?); known keys here: %s", s, w);
        return cfg_loc_err(c->err, FR_E_CONFIG, n->kloc[i], p, "unknown key; known keys here: %s", w);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Sections. */

static const char *const TOP_KEYS[] = {"name", "kind", "model", "dataset", "sweep", "anchors",
                                       "metrics", "map_iou", "det_thresh", "nms", "bd",
                                       "bootstrap", "output", "jobs", "quiet", "lossless",
                                       "model_compression", "features", "include", NULL};
static const char *const MODEL_KEYS[] = {"cfg", "weights", "task", "input",
                                         "names", "seed", "gemm", "device", NULL};
static const char *const DATASET_KEYS[] = {"images", "labels", "annotations", "labels_file",
                                           "names", "class_map", "limit", "seed", NULL};
static const char *const SWEEP_KEYS[] = {"split", "bits", "range", "relu_min0", "packing",
                                         "tile_pad", "qp", "codec", "allocation", "qp_base",
                                         "qp_range", "sensitivity", "rdopt", "weights",
                                         "max_points", NULL};
static const char *const SENS_KEYS[] = {"layer", "scope", "calibration_images", NULL};
static const char *const RDOPT_KEYS[] = {"qps", "qp_step", NULL};
static const char *const ANCHOR_KEYS[] = {"name", "codec", "qp", "quality", "chroma", NULL};
static const char *const BD_KEYS[] = {"anchor", "test", "method", "rate", "quality",
                                      "monotone", "min_span", NULL};
static const char *const BOOT_KEYS[] = {"replicates", "seed", "level", NULL};
static const char *const OUTPUT_KEYS[] = {"dir", "images_csv", "plots", "keep_streams",
                                          "detections", "decoded_dir", NULL};
static const char *const FEATURES_KEYS[] = {"dir", "list", "split", "limit", NULL};
static const char *const LOSSLESS_KEYS[] = {"layers", "coders", "quantized_bits", "repeats", NULL};
static const char *const MC_KEYS[] = {"precision", "coder", "rounding", "dom", NULL};
static const char *const DOM_KEYS[] = {"base", "target", NULL};

static const int BITS_ALLOWED[] = {8, 10, 12, INT_MIN};
static const int DEFAULT_QP[] = {22, 27, 32, 37};

#define QP_WHAT "an integer QP from 0 to 51"

static int parse_model(Cx *c, const Node *m)
{
    FrModelSpec *s = &c->e->model;
    int rc = check_map(c, m, "model", MODEL_KEYS);
    for (int i = 0; !rc && i < m->n; i++) {
        const char *k = m->keys[i];
        const Node *v = m->kids[i];
        char p[300];
        join(p, sizeof p, "model", k);
        if ((rc = rec(c, p, v->loc)))
            break;
        if (!strcmp(k, "cfg"))
            rc = get_str(c, v, p, 0, &s->cfg);
        else if (!strcmp(k, "weights"))
            rc = get_str(c, v, p, 1, &s->weights);
        else if (!strcmp(k, "names"))
            rc = get_str(c, v, p, 1, &s->names);
        else if (!strcmp(k, "seed"))
            rc = get_u64(c, v, p, &s->seed);
        else if (!strcmp(k, "task")) {
            int t = 0;
            rc = get_enum(c, v, p, TASK_NAMES, &t);
            s->task = (FrTask)t;
        } else if (!strcmp(k, "gemm")) {
            int t = 0;
            rc = get_enum(c, v, p, GEMM_NAMES, &t);
            s->gemm = (FrGemm)t;
        } else if (!strcmp(k, "device")) {
            int t = 0;
            rc = get_enum(c, v, p, DEVICE_NAMES, &t);
            s->device = (FrDevice)t;
        } else if (!strcmp(k, "input")) {
            const char *what = "WxH (e.g. 544x544), [w, h] or ~ for the cfg's size";
            int w = 0, h = 0;
            if (cfg_is_null(v)) {
                w = h = 0;
            } else if (v->type == N_SEQ) {
                if (v->n != 2)
                    return expected(c, v, p, what);
                if ((rc = get_int(c, v->kids[0], p, 1, 16384, &w)) ||
                    (rc = get_int(c, v->kids[1], p, 1, 16384, &h)))
                    return rc;
            } else if (v->type == N_SCALAR && v->plain) {
                char tail;
                long long x;
                if (!parse_ll(v, &x) && x >= 1 && x <= 16384) {
                    w = h = (int)x;
                } else if (sscanf(v->s, "%dx%d%c", &w, &h, &tail) != 2 || w < 1 || h < 1 ||
                           w > 16384 || h > 16384) {
                    return expected(c, v, p, what);
                }
            } else {
                return expected(c, v, p, what);
            }
            s->input_w = w;
            s->input_h = h;
        }
    }
    return rc;
}

static int parse_dataset(Cx *c, const Node *m)
{
    FrDatasetSpec *s = &c->e->dataset;
    int rc = check_map(c, m, "dataset", DATASET_KEYS);
    for (int i = 0; !rc && i < m->n; i++) {
        const char *k = m->keys[i];
        const Node *v = m->kids[i];
        char p[300];
        join(p, sizeof p, "dataset", k);
        if ((rc = rec(c, p, v->loc)))
            break;
        if (!strcmp(k, "images"))
            rc = get_str(c, v, p, 1, &s->images);
        else if (!strcmp(k, "annotations"))
            rc = get_str(c, v, p, 1, &s->annotations);
        else if (!strcmp(k, "labels_file"))
            rc = get_str(c, v, p, 1, &s->labels_file);
        else if (!strcmp(k, "names"))
            rc = get_str(c, v, p, 1, &s->names);
        else if (!strcmp(k, "class_map"))
            rc = get_str(c, v, p, 1, &s->class_map);
        else if (!strcmp(k, "limit"))
            rc = get_int(c, v, p, 0, INT_MAX, &s->limit);
        else if (!strcmp(k, "seed"))
            rc = get_u64(c, v, p, &s->seed);
        else if (!strcmp(k, "labels")) {
            int t = 0;
            rc = get_enum(c, v, p, LABEL_NAMES, &t);
            s->labels = (FrLabelFormat)t;
        }
    }
    return rc;
}

/* Keys of a map that may also hold a schema's fields: fixed[] then the
 * schema's keys, NULL-terminated, into keys[cap]. */
static void keys_with_schema(const char *const *fixed, const FrSchema *sch, const char **keys,
                             int cap)
{
    int k = 0;
    for (int i = 0; fixed[i] && k < cap - 1; i++)
        keys[k++] = fixed[i];
    for (int i = 0; sch && i < sch->n_fields && k < cap - 1; i++)
        keys[k++] = sch->fields[i].key;
    keys[k] = NULL;
}

/* One field of a settings schema (featrd/schema.h) from a YAML value. An
 * integer field whose range holds 0 and 1 also takes false/true. */
static int get_schema_field(Cx *c, const FrSchema *sch, const FrField *f, void *obj,
                            const Node *x, const char *path)
{
    int rc, v = 0;
    char w[300];
    FrError e2;
    if (f->type == FR_FIELD_CHOICE) {
        if ((rc = get_enum(c, x, path, f->names, &v)))
            return rc;
        return fr_schema_set_str(sch, f, obj, f->names[v], &e2) ? expected(c, x, path, "a shorter name")
                                                                : 0;
    }
    if (f->type == FR_FIELD_BOOL) {
        if ((rc = get_bool(c, x, path, &v)))
            return rc;
        return fr_schema_set_int(sch, f, obj, v, &e2);
    }
    long long ll;
    fr_schema_describe(f, w, sizeof w);
    if (x->type == N_SCALAR && x->plain && (!strcmp(x->s, "true") || !strcmp(x->s, "false")) &&
        fr_schema_accepts_int(f, 0) && fr_schema_accepts_int(f, 1))
        ll = !strcmp(x->s, "true");
    else if (x->type != N_SCALAR || parse_ll(x, &ll))
        return expected(c, x, path, w);
    if (fr_schema_set_int(sch, f, obj, ll, &e2))
        return expected(c, x, path, w);
    return 0;
}

static void codec_clear(FrCodecSpec *cs)
{
    free_strs(cs->split, cs->n_split);
    free(cs->name);
    free(cs->qp);
    free(cs->settings);
    memset(cs, 0, sizeof *cs);
}

static int codec_init(FrCodecSpec *cs, const FrCodec *codec)
{
    memset(cs, 0, sizeof *cs);
    cs->codec = codec;
    cs->name = cfg_xstrdup(codec->name);
    cs->settings = fr_codec_settings_new(codec);
    cs->n_qp = -1; /* "take sweep.qp", resolved in finish_sweep() */
    return cs->name && cs->settings ? 0 : FR_E_NOMEM;
}

/* sweep.qp holds x265 QPs: a lossy coder with another QP scale (q-index,
 * distance, NEAR, ratio) must list its own, never inherit numbers that mean
 * something else to it. */
static int own_qp_needed(Cx *c, const FrCodec *codec, FrSrcLoc loc, const char *path)
{
    if (!(codec->caps & FR_CODEC_LOSSY) || (codec->caps & FR_CODEC_X265_QP))
        return 0;
    return cfg_loc_err(c->err, FR_E_CONFIG, loc, path,
                       "%s needs its own qp list, e.g. {name: %s, qp: [...]} with qp %d..%d (%s); "
                       "sweep.qp holds x265 QPs", codec->name, codec->name, codec->qp_lo,
                       codec->qp_hi, codec->qp_doc ? codec->qp_doc : "its quality parameter");
}

static int parse_codec_entry(Cx *c, const Node *v, const char *path, FrCodecSpec *cs)
{
    int rc, t;
    const char *names[MAX_CODECS];
    codec_names(0, names, MAX_CODECS);
    if (v->type == N_SCALAR) {
        if ((rc = get_enum(c, v, path, names, &t)))
            return rc;
        if ((rc = codec_init(cs, fr_codec_find(names[t]))))
            return rc;
        cs->loc = v->loc;
        return own_qp_needed(c, cs->codec, v->loc, path);
    }
    if (v->type != N_MAP)
        return expected(c, v, path, "a codec name or a map {name: hevc, qp: [...], ...}");
    int ni = cfg_map_find(v, "name");
    if (ni < 0) {
        char w[300];
        or_list(names, w, sizeof w);
        return cfg_loc_err(c->err, FR_E_CONFIG, v->loc, path, "missing key 'name' (%s)", w);
    }
    char p[300];
    join(p, sizeof p, path, "name");
    if ((rc = get_enum(c, v->kids[ni], p, names, &t)))
        return rc;
    const FrCodec *codec = fr_codec_find(names[t]);
    static const char *const fixed_lossy[] = {"name", "qp", "split", NULL};
    static const char *const fixed[] = {"name", "split", NULL};
    const char *keys[64];
    keys_with_schema(codec->caps & FR_CODEC_LOSSY ? fixed_lossy : fixed, codec->settings, keys, 64);
    int qi = cfg_map_find(v, "qp");
    if (qi >= 0 && !(codec->caps & FR_CODEC_LOSSY)) {
        join(p, sizeof p, path, "qp");
        return cfg_loc_err(c->err, FR_E_CONFIG, v->kloc[qi], p,
                       "%s is lossless and has no QP (use a lossy codec such as hevc for a curve)",
                       codec->name);
    }
    if ((rc = check_map(c, v, path, keys)))
        return rc;
    if (qi < 0 && (rc = own_qp_needed(c, codec, v->loc, path)))
        return rc;
    if ((rc = codec_init(cs, codec)))
        return rc;
    cs->loc = v->loc;
    for (int i = 0; i < v->n; i++) {
        const char *k = v->keys[i];
        const Node *x = v->kids[i];
        join(p, sizeof p, path, k);
        if ((rc = rec(c, p, x->loc)))
            return rc;
        if (!strcmp(k, "name"))
            continue;
        if (!strcmp(k, "split")) {
            if ((rc = get_str_list(c, x, p, NULL, "split names from sweep.split", 0, &cs->split,
                                   &cs->n_split)))
                return rc;
        } else if (!strcmp(k, "qp")) {
            char what[200];
            snprintf(what, sizeof what, "%s QPs from %d to %d (%s)", codec->name, codec->qp_lo,
                     codec->qp_hi, codec->qp_doc ? codec->qp_doc : "its QP");
            if ((rc = get_int_list(c, x, p, codec->qp_lo, codec->qp_hi, NULL, what, 0, &cs->qp,
                                   &cs->n_qp)))
                return rc;
        } else if ((rc = get_schema_field(c, codec->settings, fr_schema_field(codec->settings, k),
                                          cs->settings, x, p))) {
            return rc;
        }
    }
    FrError e2;
    const char *bad = NULL;
    if (fr_schema_validate_key(codec->settings, cs->settings, &bad, &e2)) {
        /* point at the field the rule blames when the entry sets it */
        int at = bad ? cfg_map_find(v, bad) : -1;
        if (at >= 0) {
            join(p, sizeof p, path, v->keys[at]);
            return cfg_loc_err(c->err, FR_E_CONFIG, v->kids[at]->loc, p, "%s", e2.msg);
        }
        return cfg_loc_err(c->err, FR_E_CONFIG, v->loc, path, "%s", e2.msg);
    }
    return 0;
}

static void codecs_free(FrCodecSpec *cs, int n)
{
    for (int i = 0; i < n; i++)
        codec_clear(&cs[i]);
    free(cs);
}

static int parse_codec_list(Cx *c, const Node *v, const char *path)
{
    FrSweepSpec *s = &c->e->sweep;
    Node *const *it;
    Node *one;
    int k, rc;
    char w[300];
    const char *names[MAX_CODECS];
    codec_names(0, names, MAX_CODECS);
    or_list(names, w, sizeof w);
    if ((rc = list_items(c, v, path, 0, w, &one, &it, &k)))
        return rc;
    FrCodecSpec *cs = calloc((size_t)k, sizeof *cs);
    if (!cs)
        return FR_E_NOMEM;
    for (int i = 0; i < k; i++) {
        char p[300];
        cfg_pathf(p, sizeof p, "%s[%d]", path, i);
        if ((rc = rec(c, p, it[i]->loc)) || (rc = parse_codec_entry(c, it[i], p, &cs[i]))) {
            codecs_free(cs, k);
            return rc;
        }
        if (it[i]->type == N_SCALAR)
            for (int j = 0; j < i; j++)
                if (it[j]->type == N_SCALAR && !strcmp(cs[j].name, cs[i].name)) {
                    rc = cfg_loc_err(c->err, FR_E_CONFIG, it[i]->loc, path,
                                 "duplicate value %s (also at line %d)", cs[i].name,
                                 it[j]->loc.line);
                    codecs_free(cs, k);
                    return rc;
                }
    }
    codecs_free(s->codec, s->n_codec);
    s->codec = cs;
    s->n_codec = k;
    return 0;
}

static int parse_sensitivity(Cx *c, const Node *m, const char *path)
{
    FrSensitivity *s = &c->e->sweep.sensitivity;
    int rc = check_map(c, m, path, SENS_KEYS);
    for (int i = 0; !rc && i < m->n; i++) {
        const char *k = m->keys[i];
        const Node *v = m->kids[i];
        char p[300];
        join(p, sizeof p, path, k);
        if ((rc = rec(c, p, v->loc)))
            break;
        if (!strcmp(k, "layer")) {
            char *name = NULL;
            if ((rc = get_str(c, v, p, 0, &name)))
                break;
            free(s->layer_name);
            s->layer_name = NULL;
            if (!strcmp(name, "penultimate")) {
                s->layer = FR_SENS_PENULTIMATE;
                free(name);
            } else if (!strcmp(name, "final")) {
                s->layer = FR_SENS_FINAL;
                free(name);
            } else {
                s->layer = FR_SENS_NAMED;
                s->layer_name = name;
            }
        } else if (!strcmp(k, "scope")) {
            int t = 0;
            rc = get_enum(c, v, p, SCOPE_NAMES, &t);
            s->scope = (FrSensScope)t;
        } else if (!strcmp(k, "calibration_images")) {
            rc = get_int(c, v, p, 1, 1000000, &s->calibration_images);
        }
    }
    return rc;
}

static int parse_rdopt(Cx *c, const Node *m, const char *path)
{
    FrRdoptSpec *s = &c->e->sweep.rdopt;
    int rc = check_map(c, m, path, RDOPT_KEYS);
    for (int i = 0; !rc && i < m->n; i++) {
        const char *k = m->keys[i];
        const Node *v = m->kids[i];
        char p[300];
        join(p, sizeof p, path, k);
        if ((rc = rec(c, p, v->loc)))
            break;
        if (!strcmp(k, "qps"))
            rc = get_int_list(c, v, p, 0, 51, NULL, QP_WHAT, 1, &s->qps, &s->n_qps);
        else if (!strcmp(k, "qp_step"))
            rc = get_int(c, v, p, 1, 51, &s->qp_step);
    }
    return rc;
}

static int parse_sweep(Cx *c, const Node *m)
{
    FrSweepSpec *s = &c->e->sweep;
    int rc = check_map(c, m, "sweep", SWEEP_KEYS);
    for (int i = 0; !rc && i < m->n; i++) {
        const char *k = m->keys[i];
        const Node *v = m->kids[i];
        char p[300];
        join(p, sizeof p, "sweep", k);
        if ((rc = rec(c, p, v->loc)))
            break;
        if (!strcmp(k, "split"))
            rc = get_str_list(c, v, p, NULL, "layer names (max_11), indices (11) or aliases (pool2)",
                              0, &s->split, &s->n_split);
        else if (!strcmp(k, "weights"))
            rc = get_str_list(c, v, p, NULL, "darknet .weights files of model.cfg", 0, &s->weights,
                              &s->n_weights);
        else if (!strcmp(k, "bits"))
            rc = get_int_list(c, v, p, 8, 12, BITS_ALLOWED, "8, 10 or 12", 0, &s->bits, &s->n_bits);
        else if (!strcmp(k, "range")) {
            int t = 0;
            rc = get_enum(c, v, p, RANGE_NAMES, &t);
            s->range = (FrRangeMode)t;
        } else if (!strcmp(k, "relu_min0"))
            rc = get_bool(c, v, p, &s->relu_min0);
        else if (!strcmp(k, "packing"))
            rc = get_enum_list(c, v, p, PACK_NAMES, 0, (int **)&s->packing, &s->n_packing);
        else if (!strcmp(k, "tile_pad")) {
            long long x;
            if (parse_ll(v, &x) || (x != 0 && x != 8 && x != 16))
                rc = expected(c, v, p, "0, 8 or 16");
            else
                s->tile_pad = (int)x;
        } else if (!strcmp(k, "qp"))
            rc = get_int_list(c, v, p, 0, 51, NULL, QP_WHAT, 0, &s->qp, &s->n_qp);
        else if (!strcmp(k, "codec"))
            rc = parse_codec_list(c, v, p);
        else if (!strcmp(k, "allocation"))
            rc = get_enum_list(c, v, p, ALLOC_NAMES, 0, (int **)&s->allocation, &s->n_allocation);
        else if (!strcmp(k, "qp_base"))
            rc = get_int_list(c, v, p, 0, 51, NULL, QP_WHAT, 1, &s->qp_base, &s->n_qp_base);
        else if (!strcmp(k, "qp_range"))
            rc = get_int(c, v, p, 0, 51, &s->qp_range);
        else if (!strcmp(k, "sensitivity"))
            rc = parse_sensitivity(c, v, p);
        else if (!strcmp(k, "rdopt"))
            rc = parse_rdopt(c, v, p);
        else if (!strcmp(k, "max_points")) {
            int x = 0;
            rc = get_int(c, v, p, 1, 1000000000, &x);
            s->max_points = x;
        }
    }
    return rc;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* sweep.rdopt.qps unset: every qp_step-th QP from min(qp_base) - qp_range to
 * max(qp_base) + qp_range (clipped to 0..51), on the grid through
 * min(qp_base), plus every qp_base. */
static int rdopt_default_qps(FrSweepSpec *s)
{
    int lo = 51, hi = 0;
    for (int i = 0; i < s->n_qp_base; i++) {
        lo = s->qp_base[i] < lo ? s->qp_base[i] : lo;
        hi = s->qp_base[i] > hi ? s->qp_base[i] : hi;
    }
    int *v = malloc((size_t)(52 + s->n_qp_base) * sizeof *v), n = 0;
    if (!v)
        return FR_E_NOMEM;
    int step = s->rdopt.qp_step > 0 ? s->rdopt.qp_step : 2;
    int first = lo - (s->qp_range / step) * step;
    for (int q = first; q <= hi + s->qp_range; q += step)
        if (q >= 0 && q <= 51)
            v[n++] = q;
    for (int i = 0; i < s->n_qp_base; i++) {
        int found = 0;
        for (int k = 0; k < n && !found; k++)
            found = v[k] == s->qp_base[i];
        if (!found)
            v[n++] = s->qp_base[i];
    }
    free(s->rdopt.qps);
    s->rdopt.qps = v;
    s->rdopt.n_qps = n;
    return FR_OK;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    return a && b > UINT64_MAX / a ? UINT64_MAX : a * b;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* The points fr_plan_build would make, counted without expanding (the
 * same rules: a codec entry's own splits, no allocation without a QP),
 * saturating instead of overflowing. */
static uint64_t sweep_points(const FrExperiment *e)
{
    const FrSweepSpec *s = &e->sweep;
    uint64_t per = 0, n = 1;
    for (int c = 0; c < s->n_codec; c++) {
        const FrCodecSpec *cs = &s->codec[c];
        int lossy = (cs->codec->caps & FR_CODEC_LOSSY) != 0;
        uint64_t q = 0;
        for (int a = 0; a < s->n_allocation; a++) {
            if (!lossy)
                q = sat_add(q, !fr_alloc_info(s->allocation[a])->per_channel);
            else
                q = sat_add(q, (uint64_t)(fr_alloc_info(s->allocation[a])->rate_from_base
                                              ? s->n_qp_base : cs->n_qp));
        }
        int nsplit = e->kind == FR_KIND_FEATURES ? 1 : s->n_split;
        per = sat_add(per, sat_mul((uint64_t)(cs->n_split ? cs->n_split : nsplit), q));
    }
    n = sat_add(n, sat_mul(sat_mul(per, (uint64_t)s->n_bits), (uint64_t)s->n_packing));
    for (int a = 0; a < e->n_anchors; a++)
        n = sat_add(n, (uint64_t)(e->anchors[a].codec == FR_ANCHOR_JPEG ? e->anchors[a].n_quality
                                                                        : e->anchors[a].n_qp));
    return n;
}

/* hevc entries without their own QP list take sweep.qp. */
static int finish_sweep(FrSweepSpec *s)
{
    for (int i = 0; i < s->n_codec; i++) {
        FrCodecSpec *cs = &s->codec[i];
        if (cs->n_qp >= 0)
            continue;
        cs->n_qp = 0;
        if (!(cs->codec->caps & FR_CODEC_LOSSY))
            continue;
        cs->qp = malloc((size_t)s->n_qp * sizeof *cs->qp);
        if (!cs->qp)
            return FR_E_NOMEM;
        memcpy(cs->qp, s->qp, (size_t)s->n_qp * sizeof *cs->qp);
        cs->n_qp = s->n_qp;
    }
    return 0;
}

static void anchors_free(FrAnchorSpec *a, int n)
{
    for (int i = 0; i < n; i++) {
        free(a[i].name);
        free(a[i].qp);
        free(a[i].quality);
    }
    free(a);
}

static int parse_anchor(Cx *c, const Node *m, const char *path, FrAnchorSpec *a)
{
    const char *keys[64];
    keys_with_schema(ANCHOR_KEYS, &fr_hevc_schema, keys, 64);
    int rc = check_map(c, m, path, keys);
    if (rc)
        return rc;
    if (m->type != N_MAP || cfg_map_find(m, "name") < 0)
        return cfg_loc_err(c->err, FR_E_CONFIG, m->loc, path,
                       "missing key 'name' (the anchor's curve name, e.g. cloud-hevc)");
    int has_qp = 0, has_q = 0, has_hevc = 0;
    fr_hevc_defaults(&a->hevc);
    a->hevc_set = 0;
    a->chroma = 420;
    for (int i = 0; !rc && i < m->n; i++) {
        const char *k = m->keys[i];
        const Node *v = m->kids[i];
        char p[300];
        join(p, sizeof p, path, k);
        if ((rc = rec(c, p, v->loc)))
            break;
        if (!strcmp(k, "name")) {
            rc = get_str(c, v, p, 0, &a->name);
        } else if (!strcmp(k, "codec")) {
            int t = 0;
            rc = get_enum(c, v, p, ANCHOR_CODEC_NAMES, &t);
            a->codec = (FrAnchorCodec)t;
        } else if (!strcmp(k, "qp")) {
            has_qp = i + 1;
            rc = get_int_list(c, v, p, 0, 51, NULL, QP_WHAT, 0, &a->qp, &a->n_qp);
        } else if (!strcmp(k, "quality")) {
            has_q = i + 1;
            rc = get_int_list(c, v, p, 1, 100, NULL, "an integer JPEG quality from 1 to 100", 0,
                              &a->quality, &a->n_quality);
        } else if (fr_schema_field(&fr_hevc_schema, k)) {
            const FrField *f = fr_schema_field(&fr_hevc_schema, k);
            rc = get_schema_field(c, &fr_hevc_schema, f, &a->hevc, v, p);
            a->hevc_set |= 1u << (f - fr_hevc_schema.fields);
            has_hevc = i + 1;
        } else if (!strcmp(k, "chroma")) {
            long long val;
            if (v->type != N_SCALAR || parse_ll(v, &val) || (val != 420 && val != 400))
                rc = expected(c, v, p, "420 (YCbCr 4:2:0) or 400 (luma only)");
            else
                a->chroma = (int)val;
            has_hevc = i + 1;
        }
    }
    if (rc)
        return rc;
    char p[300];
    if (a->codec == FR_ANCHOR_HEVC && has_q) {
        join(p, sizeof p, path, "quality");
        return cfg_loc_err(c->err, FR_E_CONFIG, m->kloc[has_q - 1], p,
                       "only for codec: jpeg (hevc anchors take qp)");
    }
    if (a->codec == FR_ANCHOR_JPEG && has_hevc) {
        join(p, sizeof p, path, m->keys[has_hevc - 1]);
        return cfg_loc_err(c->err, FR_E_CONFIG, m->kloc[has_hevc - 1], p,
                       "only for codec: hevc (x265 settings of the anchor)");
    }
    if (a->codec == FR_ANCHOR_JPEG && has_qp) {
        join(p, sizeof p, path, "qp");
        return cfg_loc_err(c->err, FR_E_CONFIG, m->kloc[has_qp - 1], p,
                       "only for codec: hevc (jpeg anchors take quality)");
    }
    if (a->codec == FR_ANCHOR_JPEG && !has_q) {
        join(p, sizeof p, path, "quality");
        return cfg_loc_err(c->err, FR_E_CONFIG, m->loc, p,
                       "required for codec: jpeg (e.g. quality: [10, 30, 50, 70, 90])");
    }
    if (a->codec == FR_ANCHOR_HEVC && !has_qp) {
        if (!(a->qp = malloc(sizeof DEFAULT_QP)))
            return FR_E_NOMEM;
        memcpy(a->qp, DEFAULT_QP, sizeof DEFAULT_QP);
        a->n_qp = 4;
    }
    return 0;
}

static int parse_anchors(Cx *c, const Node *v)
{
    Node *const *it;
    Node *one;
    int k, rc;
    if ((rc = list_items(c, v, "anchors", 1, "maps {name: cloud-hevc, codec: hevc, qp: [...]}",
                         &one, &it, &k)))
        return rc;
    FrAnchorSpec *a = k ? calloc((size_t)k, sizeof *a) : NULL;
    if (k && !a)
        return FR_E_NOMEM;
    for (int i = 0; i < k && !rc; i++) {
        char p[300];
        cfg_pathf(p, sizeof p, "anchors[%d]", i);
        a[i].loc = it[i]->loc;
        if (it[i]->type != N_MAP)
            rc = expected(c, it[i], p, "a map {name: cloud-hevc, codec: hevc, qp: [...]}");
        else if (!(rc = rec(c, p, it[i]->loc)))
            rc = parse_anchor(c, it[i], p, &a[i]);
        for (int j = 0; j < i && !rc; j++)
            if (!strcmp(a[j].name, a[i].name)) {
                char q[320];
                cfg_pathf(q, sizeof q, "%s.name", p);
                rc = cfg_loc_err(c->err, FR_E_CONFIG, it[i]->loc, q,
                             "duplicate anchor name '%s' (also at line %d)", a[i].name,
                             a[j].loc.line);
            }
    }
    if (rc) {
        anchors_free(a, k);
        return rc;
    }
    anchors_free(c->e->anchors, c->e->n_anchors);
    c->e->anchors = a;
    c->e->n_anchors = k;
    return 0;
}

static void bd_free(FrBdSpec *b, int n)
{
    for (int i = 0; i < n; i++) {
        free(b[i].anchor);
        free(b[i].test);
        free(b[i].rate);
        free(b[i].quality);
    }
    free(b);
}

static int parse_bd_entry(Cx *c, const Node *m, const char *path, FrBdSpec *b)
{
    int rc = check_map(c, m, path, BD_KEYS);
    if (rc)
        return rc;
    if (!(b->rate = cfg_xstrdup("kbpi")))
        return FR_E_NOMEM;
    b->monotone = 1;
    b->min_span = -1;
    for (int i = 0; !rc && i < m->n; i++) {
        const char *k = m->keys[i];
        const Node *v = m->kids[i];
        char p[300];
        join(p, sizeof p, path, k);
        if ((rc = rec(c, p, v->loc)))
            break;
        if (!strcmp(k, "anchor"))
            rc = get_str(c, v, p, 0, &b->anchor);
        else if (!strcmp(k, "test"))
            rc = get_str(c, v, p, 0, &b->test);
        else if (!strcmp(k, "method")) {
            int t = 0;
            rc = get_enum(c, v, p, BD_NAMES, &t);
            b->method = (FrBdMethod)t;
        } else if (!strcmp(k, "rate")) {
            if (!(rc = get_str(c, v, p, 0, &b->rate)))
                for (const char *q = b->rate; *q && !rc; q++)
                    if (!islower((unsigned char)*q) && !isdigit((unsigned char)*q) && *q != '_')
                        rc = expected(c, v, p, "a points.csv column name such as kbpi");
        } else if (!strcmp(k, "monotone")) {
            rc = get_bool(c, v, p, &b->monotone);
        } else if (!strcmp(k, "min_span")) {
            if (cfg_is_null(v) || (v->type == N_SCALAR && !strcmp(v->s, "auto")))
                b->min_span = -1;
            else
                rc = get_double(c, v, p, 0, 1e300, 0, &b->min_span);
        } else if (!strcmp(k, "quality")) {
            int t;
            if (cfg_is_null(v)) {
                free(b->quality);
                b->quality = NULL;
            } else if (v->type == N_SCALAR && fr_metric_from_name(v->s) >= 0) {
                t = fr_metric_from_name(v->s);
                free(b->quality);
                if (!(b->quality = cfg_xstrdup(METRIC_NAMES[t])))
                    rc = FR_E_NOMEM;
            } else if (!(rc = get_str(c, v, p, 0, &b->quality))) {
                /* any points.csv column (psnr_nbit, mse, ...) */
                for (const char *q = b->quality; *q && !rc; q++)
                    if (!islower((unsigned char)*q) && !isdigit((unsigned char)*q) && *q != '_')
                        rc = expected(c, v, p, "a metric (map07, top1, ...) or a points.csv "
                                      "column name such as psnr_nbit");
            }
        }
    }
    if (!rc && (!b->anchor || !b->test))
        rc = cfg_loc_err(c->err, FR_E_CONFIG, m->loc, path,
                     "missing key '%s' (a curve name such as an anchor's name, or a glob "
                     "like \"split=*\")",
                     !b->anchor ? "anchor" : "test");
    return rc;
}

static int parse_bd(Cx *c, const Node *v)
{
    Node *const *it;
    Node *one;
    int k, rc;
    if ((rc = list_items(c, v, "bd", 1, "maps {anchor: NAME, test: NAME-or-glob}", &one, &it, &k)))
        return rc;
    FrBdSpec *b = k ? calloc((size_t)k, sizeof *b) : NULL;
    if (k && !b)
        return FR_E_NOMEM;
    for (int i = 0; i < k && !rc; i++) {
        char p[300];
        cfg_pathf(p, sizeof p, "bd[%d]", i);
        b[i].loc = it[i]->loc;
        if (it[i]->type != N_MAP)
            rc = expected(c, it[i], p, "a map {anchor: NAME, test: NAME-or-glob}");
        else if (!(rc = rec(c, p, it[i]->loc)))
            rc = parse_bd_entry(c, it[i], p, &b[i]);
    }
    if (rc) {
        bd_free(b, k);
        return rc;
    }
    bd_free(c->e->bd, c->e->n_bd);
    c->e->bd = b;
    c->e->n_bd = k;
    return 0;
}

static int parse_bootstrap(Cx *c, const Node *m)
{
    FrBootstrapSpec *s = &c->e->bootstrap;
    int rc = check_map(c, m, "bootstrap", BOOT_KEYS);
    for (int i = 0; !rc && i < m->n; i++) {
        const char *k = m->keys[i];
        const Node *v = m->kids[i];
        char p[300];
        join(p, sizeof p, "bootstrap", k);
        if ((rc = rec(c, p, v->loc)))
            break;
        if (!strcmp(k, "replicates")) {
            rc = get_int(c, v, p, 0, 100000, &s->replicates);
        } else if (!strcmp(k, "seed")) {
            int sd = 0;
            rc = get_int(c, v, p, 0, INT_MAX, &sd);
            s->seed = (uint64_t)sd;
        } else if (!strcmp(k, "level")) {
            rc = get_double(c, v, p, 0, 1, 1, &s->level);
            if (!rc && !(s->level < 1))
                rc = expected(c, v, p, "a confidence level between 0 and 1, e.g. 0.95");
        }
    }
    return rc;
}

static int parse_output(Cx *c, const Node *m, int *dir_set)
{
    FrOutputSpec *s = &c->e->output;
    int rc = check_map(c, m, "output", OUTPUT_KEYS);
    for (int i = 0; !rc && i < m->n; i++) {
        const char *k = m->keys[i];
        const Node *v = m->kids[i];
        char p[300];
        join(p, sizeof p, "output", k);
        if ((rc = rec(c, p, v->loc)))
            break;
        if (!strcmp(k, "dir")) {
            rc = get_str(c, v, p, 0, &s->dir);
            *dir_set = 1;
        } else if (!strcmp(k, "images_csv"))
            rc = get_bool(c, v, p, &s->images_csv);
        else if (!strcmp(k, "plots"))
            rc = get_bool(c, v, p, &s->plots);
        else if (!strcmp(k, "keep_streams"))
            rc = get_bool(c, v, p, &s->keep_streams);
        else if (!strcmp(k, "detections"))
            rc = get_bool(c, v, p, &s->detections);
        else if (!strcmp(k, "decoded_dir"))
            rc = get_str(c, v, p, 1, &s->decoded_dir);
    }
    return rc;
}

static int parse_features(Cx *c, const Node *m)
{
    FrFeaturesSpec *s = &c->e->features;
    int rc = check_map(c, m, "features", FEATURES_KEYS);
    for (int i = 0; !rc && i < m->n; i++) {
        const char *k = m->keys[i];
        const Node *v = m->kids[i];
        char p[300];
        join(p, sizeof p, "features", k);
        if ((rc = rec(c, p, v->loc)))
            break;
        if (!strcmp(k, "dir"))
            rc = get_str(c, v, p, 1, &s->dir);
        else if (!strcmp(k, "list"))
            rc = get_str(c, v, p, 1, &s->list);
        else if (!strcmp(k, "split"))
            rc = get_str(c, v, p, 1, &s->split);
        else if (!strcmp(k, "limit"))
            rc = get_int(c, v, p, 0, INT_MAX, &s->limit);
    }
    return rc;
}

static int parse_lossless(Cx *c, const Node *m)
{
    FrLosslessSpec *s = &c->e->lossless;
    /* coders of any bytes (float32 features); hevc-lossless codes pictures */
    const char *byte_coders[MAX_CODECS];
    codec_names(FR_CODEC_BYTES, byte_coders, MAX_CODECS);
    int rc = check_map(c, m, "lossless", LOSSLESS_KEYS);
    for (int i = 0; !rc && i < m->n; i++) {
        const char *k = m->keys[i];
        const Node *v = m->kids[i];
        char p[300];
        join(p, sizeof p, "lossless", k);
        if ((rc = rec(c, p, v->loc)))
            break;
        if (!strcmp(k, "layers")) {
            if (v->type == N_SCALAR && v->plain && !strcmp(v->s, "all")) {
                free_strs(s->layers, s->n_layers);
                s->layers = NULL;
                s->n_layers = 0;
                s->all_layers = 1;
            } else {
                rc = get_str_list(c, v, p, NULL, "layer names, indices or aliases (or all)", 0,
                                  &s->layers, &s->n_layers);
                s->all_layers = 0;
            }
        } else if (!strcmp(k, "coders"))
            rc = get_str_list(c, v, p, byte_coders, "coder names", 0, &s->coders,
                              &s->n_coders);
        else if (!strcmp(k, "quantized_bits"))
            rc = get_int(c, v, p, 0, 16, &s->quantized_bits);
        else if (!strcmp(k, "repeats"))
            rc = get_int(c, v, p, 1, 1000, &s->repeats);
    }
    return rc;
}

static int parse_model_compression(Cx *c, const Node *m)
{
    FrModelCompressionSpec *s = &c->e->model_compression;
    int rc = check_map(c, m, "model_compression", MC_KEYS);
    for (int i = 0; !rc && i < m->n; i++) {
        const char *k = m->keys[i];
        const Node *v = m->kids[i];
        char p[300];
        join(p, sizeof p, "model_compression", k);
        if ((rc = rec(c, p, v->loc)))
            break;
        if (!strcmp(k, "precision"))
            rc = get_int_list(c, v, p, 1, 8, NULL, "an integer precision p from 1 to 8", 0,
                              &s->precision, &s->n_precision);
        else if (!strcmp(k, "coder")) {
            int t = 0;
            rc = get_enum(c, v, p, MODEL_CODER_NAMES, &t);
            s->coder = (FrModelCoder)t;
        } else if (!strcmp(k, "rounding")) {
            int t = 0;
            rc = get_enum(c, v, p, ROUNDING_NAMES, &t);
            s->rounding = (FrModelRounding)t;
        } else if (!strcmp(k, "dom")) {
            if ((rc = check_map(c, v, p, DOM_KEYS)))
                break;
            for (int j = 0; !rc && j < v->n; j++) {
                char q[320];
                join(q, sizeof q, p, v->keys[j]);
                if ((rc = rec(c, q, v->kids[j]->loc)))
                    break;
                rc = get_str(c, v->kids[j], q, 1,
                             !strcmp(v->keys[j], "base") ? &s->dom_base : &s->dom_target);
            }
        }
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Defaults, free. */

static int int_dup(int **dst, int *n, const int *src, int k)
{
    *dst = malloc((size_t)k * sizeof **dst);
    if (!*dst)
        return FR_E_NOMEM;
    memcpy(*dst, src, (size_t)k * sizeof **dst);
    *n = k;
    return 0;
}

static int set_defaults(FrExperiment *e)
{
    static const int bits[] = {8};
    static const int prec[] = {1, 2, 3, 4, 5, 6, 7, 8};
    static const char *const coders[] = {"gzip", "zlib", "bzip2", "lzma", "zstd"};
    e->name = cfg_xstrdup("experiment");
    e->kind = FR_KIND_RD;
    e->model.seed = 1;
    e->model.task = FR_TASK_AUTO;
    e->model.gemm = FR_GEMM_OPENBLAS;
    e->model.device = FR_DEVICE_CPU;
    e->dataset.labels = FR_LABELS_DARKNET_TXT;
    FrSweepSpec *s = &e->sweep;
    if (int_dup(&s->bits, &s->n_bits, bits, 1) || int_dup(&s->qp, &s->n_qp, DEFAULT_QP, 4))
        return FR_E_NOMEM;
    s->range = FR_RANGE_TENSOR;
    if (!(s->packing = calloc(1, sizeof *s->packing)))
        return FR_E_NOMEM;
    s->packing[0] = FR_PACK_TILE;
    s->n_packing = 1;
    if (!(s->codec = calloc(1, sizeof *s->codec)))
        return FR_E_NOMEM;
    s->n_codec = 1;
    if (codec_init(&s->codec[0], fr_codec_by_id(FR_CODEC_HEVC)))
        return FR_E_NOMEM;
    if (!(s->allocation = calloc(1, sizeof *s->allocation)))
        return FR_E_NOMEM;
    s->allocation[0] = FR_ALLOC_UNIFORM;
    s->n_allocation = 1;
    s->qp_range = 5;
    s->max_points = 100000;
    s->sensitivity.calibration_images = 16;
    s->rdopt.qp_step = 2;
    e->map_iou = 0.5;
    e->bootstrap.replicates = 1000;
    e->bootstrap.seed = 1;
    e->bootstrap.level = 0.95;
    e->det_thresh = 0.005;
    e->nms = 0.45;
    e->output.dir = cfg_xstrdup("results/experiment");
    e->output.plots = 1;
    e->jobs = 1;
    e->lossless.all_layers = 1;
    if (!(e->lossless.coders = calloc(5, sizeof(char *))))
        return FR_E_NOMEM;
    e->lossless.n_coders = 5;
    for (int i = 0; i < 5; i++)
        if (!(e->lossless.coders[i] = cfg_xstrdup(coders[i])))
            return FR_E_NOMEM;
    e->lossless.repeats = 1;
    FrModelCompressionSpec *m = &e->model_compression;
    if (int_dup(&m->precision, &m->n_precision, prec, 8))
        return FR_E_NOMEM;
    m->coder = FR_MODEL_CODER_LZMA;
    if (!e->name || !e->output.dir)
        return FR_E_NOMEM;
    return 0;
}

void fr_experiment_free(FrExperiment **ep)
{
    if (!ep || !*ep)
        return;
    FrExperiment *e = *ep;
    free(e->name);
    free(e->model.cfg);
    free(e->model.weights);
    free(e->model.names);
    free(e->dataset.images);
    free(e->dataset.annotations);
    free(e->dataset.labels_file);
    free(e->dataset.names);
    free(e->dataset.class_map);
    FrSweepSpec *s = &e->sweep;
    free_strs(s->split, s->n_split);
    free_strs(s->weights, s->n_weights);
    free(s->bits);
    free(s->packing);
    free(s->qp);
    codecs_free(s->codec, s->n_codec);
    free(s->allocation);
    free(s->qp_base);
    free(s->sensitivity.layer_name);
    free(s->rdopt.qps);
    anchors_free(e->anchors, e->n_anchors);
    free(e->metrics);
    bd_free(e->bd, e->n_bd);
    free(e->output.dir);
    free_strs(e->lossless.layers, e->lossless.n_layers);
    free_strs(e->lossless.coders, e->lossless.n_coders);
    free(e->model_compression.precision);
    free(e->model_compression.dom_base);
    free(e->model_compression.dom_target);
    free(e->output.decoded_dir);
    free(e->features.dir);
    free(e->features.list);
    free(e->features.split);
    priv_free(e->priv);
    free(e);
    *ep = NULL;
}

/* finish = 0 leaves the default hevc entry's QPs open for sweep.qp. */
static FrExperiment *experiment_new(int finish)
{
    FrExperiment *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->priv = calloc(1, sizeof *e->priv);
    if (!e->priv || set_defaults(e) || (finish && finish_sweep(&e->sweep))) {
        fr_experiment_free(&e);
        return NULL;
    }
    return e;
}

FrExperiment *fr_experiment_defaults(void)
{
    return experiment_new(1);
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

/* ------------------------------------------------------------------ */
/* Top level and cross-key validation. */

/* A section another kind owns (featrd/experiments.h: the kinds registry). */
static int section_kind_err(Cx *c, FrSrcLoc kloc, const char *key)
{
    const FrKindInfo *owner = fr_kind_of_section(key);
    if (!owner || fr_kind_reads_section(fr_kind_info(c->e->kind), key))
        return 0;
    char kinds[128] = "";
    for (int i = 0; i < fr_kind_count(); i++) {
        const FrKindInfo *k = fr_kind_info((FrExperimentKind)i);
        if (!fr_kind_reads_section(k, key))
            continue;
        size_t l = strlen(kinds);
        snprintf(kinds + l, sizeof kinds - l, "%s%s", l ? " or " : "", k->name);
    }
    return cfg_loc_err(c->err, FR_E_CONFIG, kloc, key,
                   "only used with kind: %s (this experiment is kind: %s); remove it or set kind",
                   kinds, KIND_NAMES[c->e->kind]);
}

static int parse_top(Cx *c, const Node *root, int *name_set, int *dir_set)
{
    FrExperiment *e = c->e;
    int rc = check_map(c, root, "", TOP_KEYS);
    if (rc)
        return rc;
    int ki = cfg_map_find(root, "kind");
    if (ki >= 0) {
        int t = 0;
        if ((rc = rec(c, "kind", root->kids[ki]->loc)) ||
            (rc = get_enum(c, root->kids[ki], "kind", KIND_NAMES, &t)))
            return rc;
        e->kind = (FrExperimentKind)t;
    }
    for (int i = 0; !rc && i < root->n; i++) {
        const char *k = root->keys[i];
        const Node *v = root->kids[i];
        FrSrcLoc kl = root->kloc[i];
        if ((rc = rec(c, k, v->loc)))
            break;
        if (!strcmp(k, "name")) {
            if (!(rc = get_str(c, v, "name", 0, &e->name))) {
                for (const char *q = e->name; *q && !rc; q++)
                    if (!isalnum((unsigned char)*q) && !strchr("._-+=,", *q))
                        rc = expected(c, v, "name",
                                      "letters, digits and . _ - + = , only (it names the "
                                      "results directory)");
                if (!rc && strlen(e->name) > 128)
                    rc = expected(c, v, "name",
                                  "at most 128 characters (it names the results directory)");
                *name_set = 1;
            }
        } else if (!strcmp(k, "model"))
            rc = parse_model(c, v);
        else if (!strcmp(k, "dataset"))
            rc = parse_dataset(c, v);
        else if (!strcmp(k, "sweep"))
            rc = (rc = section_kind_err(c, kl, k)) ? rc : parse_sweep(c, v);
        else if (!strcmp(k, "anchors"))
            rc = (rc = section_kind_err(c, kl, k)) ? rc : parse_anchors(c, v);
        else if (!strcmp(k, "bd"))
            rc = (rc = section_kind_err(c, kl, k)) ? rc : parse_bd(c, v);
        else if (!strcmp(k, "lossless"))
            rc = (rc = section_kind_err(c, kl, k)) ? rc : parse_lossless(c, v);
        else if (!strcmp(k, "model_compression"))
            rc = (rc = section_kind_err(c, kl, k)) ? rc : parse_model_compression(c, v);
        else if (!strcmp(k, "features"))
            rc = (rc = section_kind_err(c, kl, k)) ? rc : parse_features(c, v);
        else if (!strcmp(k, "metrics"))
            rc = get_enum_list(c, v, "metrics", METRIC_NAMES, 1, (int **)&e->metrics,
                               &e->n_metrics);
        else if (!strcmp(k, "map_iou"))
            rc = get_double(c, v, k, 0, 1, 1, &e->map_iou);
        else if (!strcmp(k, "det_thresh"))
            rc = get_double(c, v, k, 0, 1, 0, &e->det_thresh);
        else if (!strcmp(k, "nms"))
            rc = get_double(c, v, k, 0, 1, 0, &e->nms);
        else if (!strcmp(k, "output"))
            rc = parse_output(c, v, dir_set);
        else if (!strcmp(k, "bootstrap"))
            rc = (rc = section_kind_err(c, kl, k)) ? rc : parse_bootstrap(c, v);
        else if (!strcmp(k, "jobs"))
            rc = get_int(c, v, k, 1, FR_MAX_JOBS, &e->jobs);
        else if (!strcmp(k, "quiet"))
            rc = get_bool(c, v, k, &e->quiet);
        else if (!strcmp(k, "include"))
            rc = cfg_loc_err(c->err, FR_E_CONFIG, kl, k, "must be at the top of a file");
    }
    return rc;
}

/* kind features: the sweep's coding axes apply; what needs a network
 * (splits, weights, sensitivity allocation, anchors) does not. */
static int validate_features(FrExperiment *e, FrError *err)
{
    const FrFeaturesSpec *f = &e->features;
    const FrSweepSpec *s = &e->sweep;
    if (!f->dir == !f->list)
        return fr_experiment_error(e, err, FR_E_CONFIG, f->dir ? "features.list" : "kind",
                                   "kind features needs exactly one of features.dir (a "
                                   "directory from `featrd features`, or of .npy files) and "
                                   "features.list (a features.txt-style list)");
    if (e->model.cfg)
        return fr_experiment_error(e, err, FR_E_CONFIG, "model.cfg",
                                   "kind features runs no network (the features are given); "
                                   "remove model, or use kind rd to run the model");
    if (e->dataset.images)
        return fr_experiment_error(e, err, FR_E_CONFIG, "dataset.images",
                                   "kind features reads features.dir or features.list, not an "
                                   "image list; remove dataset");
    if (s->n_split)
        return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.split",
                                   "kind features codes the features as given: their split is "
                                   "features.split (default: from the list); remove sweep.split");
    if (s->n_weights)
        return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.weights",
                                   "kind features runs no network, so it has no weights axis");
    for (int i = 0; i < s->n_allocation; i++)
        if (fr_alloc_info(s->allocation[i])->per_channel)
            return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.allocation",
                                       "%s allocation measures each channel's effect on the "
                                       "network output, and kind features has no back half: "
                                       "use allocation: [uniform] (or kind rd with the model)",
                                       fr_allocation_name(s->allocation[i]));
    for (int i = 0; i < s->n_codec; i++)
        if (s->codec[i].n_split) {
            char k[64];
            cfg_pathf(k, sizeof k, "sweep.codec[%d].split", i);
            return fr_experiment_error(e, err, FR_E_CONFIG, k,
                                       "kind features has one split (features.split); remove "
                                       "the entry's split list");
        }
    if (s->n_qp_base)
        return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.qp_base",
                                   "only used with allocation: sensitivity");
    uint64_t np = sweep_points(e);
    if (np > (uint64_t)s->max_points)
        return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.codec",
                                   "the sweep expands to %s%llu points, more than "
                                   "sweep.max_points (%lld); shorten the lists or raise "
                                   "max_points", np == UINT64_MAX ? "over " : "",
                                   (unsigned long long)np, s->max_points);
    return 0;
}

/* Rules that span several keys: all here, so the schema walk stays local. */
static int validate(Cx *c)
{
    FrExperiment *e = c->e;
    FrError *err = c->err;
    for (int k = 0; k < e->sweep.n_weights; k++) {
        for (int j = 0; j < k; j++)
            if (!strcmp(e->sweep.weights[j], e->sweep.weights[k]))
                return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.weights",
                                           "'%s' is listed twice", e->sweep.weights[k]);
        for (int a = 0; a < e->sweep.n_allocation; a++)
            if (fr_alloc_info(e->sweep.allocation[a])->per_channel)
                return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.weights",
                                           "several weights with allocation %s are not supported "
                                           "(sensitivities are cached per image, not per weights): "
                                           "run one config per weights file",
                                           fr_allocation_name(e->sweep.allocation[a]));
    }
    /* anchors take the features' x265 settings unless they name their own:
     * those of the first lossy entry coded with the HEVC settings */
    const FrCodecSpec *fh = NULL;
    for (int k = 0; k < e->sweep.n_codec && !fh; k++)
        if (e->sweep.codec[k].codec->settings == &fr_hevc_schema &&
            (e->sweep.codec[k].codec->caps & FR_CODEC_LOSSY))
            fh = &e->sweep.codec[k];
    for (int k = 0; k < e->n_anchors; k++) {
        FrAnchorSpec *a = &e->anchors[k];
        if (a->codec != FR_ANCHOR_HEVC)
            continue;
        FrHevcSettings h;
        if (fh)
            h = *(const FrHevcSettings *)fh->settings;
        else
            fr_hevc_defaults(&h); /* without an hevc entry: its defaults */
        for (int f = 0; f < fr_hevc_schema.n_fields; f++)
            if (a->hevc_set & (1u << f)) {
                const FrField *fd = &fr_hevc_schema.fields[f];
                memcpy((char *)&h + fd->offset, (const char *)&a->hevc + fd->offset,
                       fd->type == FR_FIELD_CHOICE ? fd->size : sizeof(int));
            }
        a->hevc = h;
        FrError e2;
        if (fr_hevc_validate(&a->hevc, &e2))
            return fr_experiment_error(e, err, FR_E_CONFIG, "anchors", "anchor '%s': %s", a->name,
                                       e2.msg);
    }
    if (e->kind == FR_KIND_FEATURES) {
        int rc = validate_features(e, err);
        if (rc)
            return rc;
    }
    if (!e->model.cfg && fr_kind_info(e->kind)->needs_model)
        return fr_experiment_error(e, err, FR_E_CONFIG, "model.cfg",
                                   "required: the darknet .cfg of the network "
                                   "(e.g. model: {cfg: /usr/share/darknet/cfg/yolo9000.cfg})");
    if (!e->dataset.images && fr_kind_info(e->kind)->needs_images)
        return fr_experiment_error(e, err, FR_E_CONFIG, "dataset.images",
                                   "required for kind %s: a text file listing one image "
                                   "path per line",
                                   KIND_NAMES[e->kind]);
    if (e->dataset.labels == FR_LABELS_VOC_XML && !e->dataset.annotations)
        return fr_experiment_error(e, err, FR_E_CONFIG, "dataset.labels",
                                   "voc-xml needs dataset.annotations (the VOC Annotations "
                                   "directory)");
    if (e->dataset.labels == FR_LABELS_CLASS_LIST && !e->dataset.labels_file)
        return fr_experiment_error(e, err, FR_E_CONFIG, "dataset.labels",
                                   "class-list needs dataset.labels_file (one class id per "
                                   "image, in the order of dataset.images)");
    if (e->dataset.annotations && e->dataset.labels != FR_LABELS_VOC_XML)
        return fr_experiment_error(e, err, FR_E_CONFIG, "dataset.annotations",
                                   "only used with labels: voc-xml (labels is %s)",
                                   LABEL_NAMES[e->dataset.labels]);
    if (e->dataset.labels_file && e->dataset.labels != FR_LABELS_CLASS_LIST)
        return fr_experiment_error(e, err, FR_E_CONFIG, "dataset.labels_file",
                                   "only used with labels: class-list (labels is %s)",
                                   LABEL_NAMES[e->dataset.labels]);
    if ((e->dataset.names || e->dataset.class_map || e->output.detections) &&
        e->kind != FR_KIND_RD)
        return fr_experiment_error(e, err, FR_E_CONFIG,
                                   e->dataset.names       ? "dataset.names"
                                   : e->dataset.class_map ? "dataset.class_map"
                                                          : "output.detections",
                                   "only used with kind: rd (this experiment is kind: %s); "
                                   "remove it", KIND_NAMES[e->kind]);
    if (e->output.keep_streams && e->kind != FR_KIND_RD && e->kind != FR_KIND_FEATURES)
        return fr_experiment_error(e, err, FR_E_CONFIG, "output.keep_streams",
                                   "only used with kind: rd or features (this experiment is "
                                   "kind: %s); remove it", KIND_NAMES[e->kind]);
    if (e->output.decoded_dir && e->kind != FR_KIND_FEATURES)
        return fr_experiment_error(e, err, FR_E_CONFIG, "output.decoded_dir",
                                   "only used with kind: features (this experiment is kind: %s); "
                                   "remove it", KIND_NAMES[e->kind]);
    if ((e->dataset.names || e->dataset.class_map) && !e->model.names)
        return fr_experiment_error(e, err, FR_E_CONFIG,
                                   e->dataset.names ? "dataset.names" : "dataset.class_map",
                                   "needs model.names (the model's class names, one per "
                                   "output class) to compare or map the classes");
    if (e->dataset.class_map && !e->dataset.names)
        return fr_experiment_error(e, err, FR_E_CONFIG, "dataset.class_map",
                                   "needs dataset.names (the class names the map's second "
                                   "column uses)");
    if (e->kind == FR_KIND_RD) {
        FrSweepSpec *s = &e->sweep;
        if (!s->n_split)
            return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.split",
                                       "required for kind rd: the layers to split at "
                                       "(e.g. split: [max_11, max_17])");
        for (int i = 0; i < s->n_codec; i++)
            for (int j = 0; j < s->codec[i].n_split; j++) {
                int found = 0;
                for (int k = 0; k < s->n_split && !found; k++)
                    found = !strcmp(s->split[k], s->codec[i].split[j]);
                if (!found) {
                    char k[96];
                    cfg_pathf(k, sizeof k, "sweep.codec[%d].split[%d]", i, j);
                    return fr_experiment_error(e, err, FR_E_CONFIG, k,
                                               "expected one of sweep.split, got %s",
                                               s->codec[i].split[j]);
                }
            }
        int sens = 0, lossy = 0, rdopt = 0;
        const char *pc_name = "sensitivity"; /* the first per-channel allocation, for messages */
        for (int i = s->n_allocation - 1; i >= 0; i--)
            if (fr_alloc_info(s->allocation[i])->per_channel) {
                sens = 1;
                pc_name = fr_allocation_name(s->allocation[i]);
                if (s->allocation[i] == FR_ALLOC_RDOPT || s->allocation[i] == FR_ALLOC_RDOPT_REFINE)
                    rdopt = 1;
            }
        for (int i = 0; i < s->n_codec; i++)
            lossy |= (s->codec[i].codec->caps & FR_CODEC_BLOCK_QP) != 0;
        if (sens && !s->n_qp_base)
            return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.allocation",
                                       "%s needs sweep.qp_base (e.g. qp_base: [36, 38, "
                                       "40, 42])", pc_name);
        if (sens && !lossy)
            return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.allocation",
                                       "%s needs an entry in sweep.codec whose codec "
                                       "takes a QP per block (hevc)", pc_name);
        for (int i = 0; sens && i < s->n_packing; i++)
            if (s->packing[i] == FR_PACK_QUILT || s->packing[i] == FR_PACK_TILE_SORTED)
                return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.packing",
                                           "allocation %s (a QP per channel) needs "
                                           "packing tile or frames, not %s", pc_name,
                                           s->packing[i] == FR_PACK_QUILT
                                               ? "quilt: it mixes channels within a block"
                                               : "tile-sorted: its channel order depends on the "
                                                 "picture");
        for (int i = 0; rdopt && i < s->n_packing; i++)
            if (s->packing[i] != FR_PACK_FRAMES) {
                char k[48];
                snprintf(k, sizeof k, "sweep.packing[%d]", i);
                return fr_experiment_error(e, err, FR_E_CONFIG, k,
                                           "allocation rdopt needs packing frames (each "
                                           "channel's rate is read from its own frame), not %s; "
                                           "run tile packing in another experiment",
                                           fr_packing_name(s->packing[i]));
            }
        if (!sens && s->n_qp_base)
            return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.qp_base",
                                       "only used with a per-channel allocation (sensitivity, "
                                       "rdopt, rdopt-refine)");
        if (s->sensitivity.layer == FR_SENS_NAMED && !sens)
            return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.sensitivity.layer",
                                       "only used with a per-channel allocation (sensitivity, "
                                       "rdopt, rdopt-refine)");
        if (!rdopt && (s->rdopt.n_qps || fr_experiment_loc(e, "sweep.rdopt.qp_step")))
            return fr_experiment_error(e, err, FR_E_CONFIG,
                                       s->rdopt.n_qps ? "sweep.rdopt.qps" : "sweep.rdopt.qp_step",
                                       "only used with allocation rdopt or rdopt-refine");
        if (rdopt) {
            for (int i = 0; i < s->n_qp_base; i++) {
                int found = !s->rdopt.n_qps;
                for (int k = 0; k < s->rdopt.n_qps && !found; k++)
                    found = s->rdopt.qps[k] == s->qp_base[i];
                if (!found) {
                    char k[48];
                    snprintf(k, sizeof k, "sweep.qp_base[%d]", i);
                    return fr_experiment_error(e, err, FR_E_CONFIG, k,
                                               "qp_base %d is not in sweep.rdopt.qps: rdopt "
                                               "spends uniform QP_base's rate, so it must "
                                               "measure it; add %d to sweep.rdopt.qps",
                                               s->qp_base[i], s->qp_base[i]);
                }
            }
            if (!s->rdopt.n_qps && rdopt_default_qps(s))
                return fr_error(err, FR_E_NOMEM, "out of memory");
            if (s->rdopt.n_qps < 2)
                return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.rdopt.qps",
                                           "rdopt needs at least two QPs to choose from");
            qsort(s->rdopt.qps, (size_t)s->rdopt.n_qps, sizeof *s->rdopt.qps, cmp_int);
        }
        uint64_t np = sweep_points(e);
        if (np > (uint64_t)s->max_points)
            return fr_experiment_error(
                e, err, FR_E_CONFIG, "sweep.split",
                "the sweep expands to %s%llu points (split %d × bits %d × packing %d × %d codec "
                "entries × their QPs/allocations %d/%d, plus %d anchors), more than sweep.max_points "
                "(%lld); shorten the lists, split it into several experiments or raise max_points",
                np == UINT64_MAX ? "over " : "", (unsigned long long)np, s->n_split, s->n_bits,
                s->n_packing, s->n_codec, s->n_qp, s->n_allocation, e->n_anchors, s->max_points);
        for (int i = 0; i < s->n_qp_base; i++)
            if (s->qp_base[i] - s->qp_range < 0) {
                char k[64];
                snprintf(k, sizeof k, "sweep.qp_base[%d]", i);
                return fr_experiment_error(e, err, FR_E_CONFIG, k,
                                           "qp_base %d minus qp_range %d is below QP 0",
                                           s->qp_base[i], s->qp_range);
            }
    }
    if (e->model.task != FR_TASK_AUTO)
        for (int i = 0; i < e->n_metrics; i++) {
            FrMetric m = e->metrics[i];
            FrTask need = fr_metric_info(m) ? fr_metric_info(m)->task : FR_TASK_AUTO;
            if (need != FR_TASK_AUTO && need != e->model.task) {
                char k[64];
                snprintf(k, sizeof k, "metrics[%d]", i);
                return fr_experiment_error(e, err, FR_E_CONFIG, k,
                                           "%s needs task %s, but model.task is %s",
                                           METRIC_NAMES[m], TASK_NAMES[need],
                                           TASK_NAMES[e->model.task]);
            }
        }
    if (e->kind == FR_KIND_MODEL &&
        !e->model_compression.dom_base != !e->model_compression.dom_target)
        return fr_experiment_error(e, err, FR_E_CONFIG, "model_compression.dom",
                                   "needs both base and target weights (or neither)");
    return 0;
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
    FrExperiment *e = experiment_new(0);
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
        const char *name = priv_file(e->priv, path);
        rc = name ? load_tree(&L, name, text, len, &root) : FR_E_NOMEM;
    } else {
        rc = load_file(&L, path, none, &root);
    }
    for (int i = 0; !rc && i < n_overrides; i++)
        rc = apply_override(&L, root, overrides[i]);
    Cx c = {e, err};
    int name_set = 0, dir_set = 0;
    if (!rc)
        rc = parse_top(&c, root, &name_set, &dir_set);
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
        rc = finish_sweep(&e->sweep);
    if (!rc)
        rc = validate(&c);
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

/* ------------------------------------------------------------------ */
/* Canonical dump and hash. */

static void put_str(FILE *f, const char *s)
{
    if (!s) {
        fputc('~', f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        if (*q == '"' || *q == '\\')
            fprintf(f, "\\%c", *q);
        else if (*q < 0x20 || *q == 0x7f)
            fprintf(f, "\\x%02X", *q);
        else
            fputc(*q, f);
    }
    fputc('"', f);
}

static void put_ints(FILE *f, const int *v, int n)
{
    fputc('[', f);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%d", i ? ", " : "", v[i]);
    fputc(']', f);
}

static void put_enums(FILE *f, const int *v, int n, const char *const *names)
{
    fputc('[', f);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%s", i ? ", " : "", names[v[i]]);
    fputc(']', f);
}

static void put_strs(FILE *f, char *const *v, int n)
{
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        if (i)
            fputs(", ", f);
        put_str(f, v[i]);
    }
    fputc(']', f);
}

/* The shortest text that reads back as the same double. */
static void put_double(FILE *f, double x)
{
    char b[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, x);
        if (strtod(b, NULL) == x)
            break;
    }
    /* keep it a float in YAML's eyes */
    if (!strpbrk(b, ".eEn"))
        strcat(b, ".0");
    fputs(b, f);
}

static const char *bool_s(int b)
{
    return b ? "true" : "false";
}

/* ", key: value" for every field of a settings struct, schema order. */
static void put_schema(FILE *f, const FrSchema *sch, const void *obj)
{
    for (int i = 0; i < sch->n_fields; i++) {
        const FrField *fd = &sch->fields[i];
        fprintf(f, ", %s: ", fd->key);
        char v[256];
        fr_schema_field_text(fd, obj, v, sizeof v);
        if (fd->type == FR_FIELD_CHOICE)
            put_str(f, v); /* quoted: a YAML string */
        else
            fputs(v, f);
    }
}

static void dump_model_dataset(const FrExperiment *e, FILE *f, int for_hash)
{
    const FrModelSpec *m = &e->model;
    fputs("model:\n  cfg: ", f);
    put_str(f, m->cfg);
    fputs("\n  weights: ", f);
    put_str(f, m->weights);
    fprintf(f, "\n  task: %s\n  input: ", TASK_NAMES[m->task]);
    if (m->input_w)
        fprintf(f, "[%d, %d]", m->input_w, m->input_h);
    else
        fputc('~', f);
    fputs("\n  names: ", f);
    put_str(f, m->names);
    fprintf(f, "\n  seed: %llu\n  gemm: %s\n", (unsigned long long)m->seed,
            GEMM_NAMES[m->gemm]);
    /* written only when not the default, so CPU configs keep their dump and
     * hash; a GPU run's outputs differ from the CPU's (docs/gpu.md), so the
     * device is part of the hash then */
    if (m->device != FR_DEVICE_CPU)
        fprintf(f, "  device: %s\n", DEVICE_NAMES[m->device]);
    const FrDatasetSpec *d = &e->dataset;
    fputs("dataset:\n  images: ", f);
    put_str(f, d->images);
    fprintf(f, "\n  labels: %s\n  annotations: ", LABEL_NAMES[d->labels]);
    put_str(f, d->annotations);
    fputs("\n  labels_file: ", f);
    put_str(f, d->labels_file);
    /* printed in the hash form only when set, so earlier results keep their hash */
    if (!for_hash || d->names) {
        fputs("\n  names: ", f);
        put_str(f, d->names);
    }
    if (!for_hash || d->class_map) {
        fputs("\n  class_map: ", f);
        put_str(f, d->class_map);
    }
    fprintf(f, "\n  limit: %d\n  seed: %llu\n", d->limit, (unsigned long long)d->seed);
}

static void dump_to(const FrExperiment *e, FILE *f, int for_hash)
{
    fputs("# featrd experiment (canonical form: every key, defaults included)\n", f);
    if (!for_hash) {
        fputs("name: ", f);
        put_str(f, e->name);
        fputc('\n', f);
    }
    fprintf(f, "kind: %s\n", KIND_NAMES[e->kind]);
    /* kind features reads neither a model nor an image list */
    if (e->kind != FR_KIND_FEATURES)
        dump_model_dataset(e, f, for_hash);
    if (e->kind == FR_KIND_FEATURES) {
        const FrFeaturesSpec *fs = &e->features;
        fputs("features:\n  dir: ", f);
        put_str(f, fs->dir);
        fputs("\n  list: ", f);
        put_str(f, fs->list);
        fputs("\n  split: ", f);
        put_str(f, fs->split);
        fprintf(f, "\n  limit: %d\n", fs->limit);
    }
    if (e->kind == FR_KIND_RD || e->kind == FR_KIND_FEATURES) {
        const FrSweepSpec *s = &e->sweep;
        fputs("sweep:", f);
        if (e->kind == FR_KIND_RD) {
            fputs("\n  split: ", f);
            put_strs(f, s->split, s->n_split);
        }
        if (s->n_weights) {
            fputs("\n  weights: ", f);
            put_strs(f, s->weights, s->n_weights);
        }
        fputs("\n  bits: ", f);
        put_ints(f, s->bits, s->n_bits);
        fprintf(f, "\n  range: %s\n  relu_min0: %s\n  packing: ", RANGE_NAMES[s->range],
                bool_s(s->relu_min0));
        put_enums(f, (const int *)s->packing, s->n_packing, PACK_NAMES);
        fprintf(f, "\n  tile_pad: %d\n  qp: ", s->tile_pad);
        put_ints(f, s->qp, s->n_qp);
        fputs("\n  codec:\n", f);
        for (int i = 0; i < s->n_codec; i++) {
            const FrCodecSpec *cs = &s->codec[i];
            fputs("    - {name: ", f);
            put_str(f, cs->name);
            if (cs->codec->caps & FR_CODEC_LOSSY) {
                fputs(", qp: ", f);
                put_ints(f, cs->qp, cs->n_qp);
            }
            put_schema(f, cs->codec->settings, cs->settings);
            if (cs->n_split) {
                fputs(", split: ", f);
                put_strs(f, cs->split, cs->n_split);
            }
            fputs("}\n", f);
        }
        fputs("  allocation: ", f);
        put_enums(f, (const int *)s->allocation, s->n_allocation, ALLOC_NAMES);
        fputs("\n  qp_base: ", f);
        put_ints(f, s->qp_base, s->n_qp_base);
        fprintf(f, "\n  qp_range: %d\n", s->qp_range);
        if (s->max_points != 100000 && !for_hash) /* a limit, not a setting of the results */
            fprintf(f, "  max_points: %lld\n", s->max_points);
        fputs("  sensitivity: {layer: ", f);
        if (s->sensitivity.layer == FR_SENS_NAMED)
            put_str(f, s->sensitivity.layer_name);
        else
            fputs(s->sensitivity.layer == FR_SENS_FINAL ? "final" : "penultimate", f);
        fprintf(f, ", scope: %s, calibration_images: %d}\n", SCOPE_NAMES[s->sensitivity.scope],
                s->sensitivity.calibration_images);
        int rdopt = 0; /* written only when used, so other configs keep their hashes */
        for (int i = 0; i < s->n_allocation; i++)
            rdopt |= s->allocation[i] == FR_ALLOC_RDOPT || s->allocation[i] == FR_ALLOC_RDOPT_REFINE;
        if (rdopt) {
            fputs("  rdopt: {qps: ", f);
            put_ints(f, s->rdopt.qps, s->rdopt.n_qps);
            fputs("}\n", f);
        }
        if (e->kind == FR_KIND_RD)
            fputs(e->n_anchors ? "anchors:\n" : "anchors: []\n", f);
        for (int i = 0; i < e->n_anchors; i++) {
            const FrAnchorSpec *a = &e->anchors[i];
            fputs("  - {name: ", f);
            put_str(f, a->name);
            fprintf(f, ", codec: %s, ", ANCHOR_CODEC_NAMES[a->codec]);
            if (a->codec == FR_ANCHOR_HEVC) {
                fputs("qp: ", f);
                put_ints(f, a->qp, a->n_qp);
                put_schema(f, &fr_hevc_schema, &a->hevc);
                fprintf(f, ", chroma: %d", a->chroma);
            } else {
                fputs("quality: ", f);
                put_ints(f, a->quality, a->n_quality);
            }
            fputs("}\n", f);
        }
    }
    fputs("metrics: ", f);
    put_enums(f, (const int *)e->metrics, e->n_metrics, METRIC_NAMES);
    fputs("\nmap_iou: ", f);
    put_double(f, e->map_iou);
    if (e->kind == FR_KIND_RD || e->kind == FR_KIND_FEATURES) {
        fprintf(f, "\nbootstrap: {replicates: %d, seed: %llu, level: ", e->bootstrap.replicates,
                (unsigned long long)e->bootstrap.seed);
        put_double(f, e->bootstrap.level);
        fputc('}', f);
    }
    fputs("\ndet_thresh: ", f);
    put_double(f, e->det_thresh);
    fputs("\nnms: ", f);
    put_double(f, e->nms);
    fputc('\n', f);
    if ((e->kind == FR_KIND_RD || e->kind == FR_KIND_FEATURES) && !for_hash) {
        fputs(e->n_bd ? "bd:\n" : "bd: []\n", f);
        for (int i = 0; i < e->n_bd; i++) {
            const FrBdSpec *b = &e->bd[i];
            fputs("  - {anchor: ", f);
            put_str(f, b->anchor);
            fputs(", test: ", f);
            put_str(f, b->test);
            fprintf(f, ", method: %s, rate: ", BD_NAMES[b->method]);
            put_str(f, b->rate);
            fputs(", quality: ", f);
            put_str(f, b->quality);
            fprintf(f, ", monotone: %s, min_span: ", bool_s(b->monotone));
            if (b->min_span < 0)
                fputs("auto", f);
            else
                put_double(f, b->min_span);
            fputs("}\n", f);
        }
    }
    if (e->kind == FR_KIND_LOSSLESS) {
        const FrLosslessSpec *l = &e->lossless;
        fputs("lossless:\n  layers: ", f);
        if (l->all_layers)
            fputs("all", f);
        else
            put_strs(f, l->layers, l->n_layers);
        fputs("\n  coders: ", f);
        put_strs(f, l->coders, l->n_coders);
        fprintf(f, "\n  quantized_bits: %d\n  repeats: %d\n", l->quantized_bits, l->repeats);
    }
    if (e->kind == FR_KIND_MODEL) {
        const FrModelCompressionSpec *mc = &e->model_compression;
        fputs("model_compression:\n  precision: ", f);
        put_ints(f, mc->precision, mc->n_precision);
        fprintf(f, "\n  coder: %s\n  dom: {base: ", MODEL_CODER_NAMES[mc->coder]);
        put_str(f, mc->dom_base);
        fputs(", target: ", f);
        put_str(f, mc->dom_target);
        fprintf(f, "}\n  rounding: %s\n", ROUNDING_NAMES[mc->rounding]);
    }
    fputs("output:\n", f);
    if (!for_hash) {
        fputs("  dir: ", f);
        put_str(f, e->output.dir);
        fputc('\n', f);
    }
    fprintf(f, "  images_csv: %s\n  detections: %s\n", bool_s(e->output.images_csv),
            bool_s(e->output.detections));
    if (!for_hash && e->kind == FR_KIND_FEATURES) {
        fputs("  decoded_dir: ", f);
        put_str(f, e->output.decoded_dir);
        fputc('\n', f);
    }
    if (!for_hash)
        fprintf(f, "  plots: %s\n  keep_streams: %s\njobs: %d\nquiet: %s\n",
                bool_s(e->output.plots), bool_s(e->output.keep_streams), e->jobs,
                bool_s(e->quiet));
}

static char *dump_mem(const FrExperiment *e, int for_hash, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return NULL;
    dump_to(e, f, for_hash);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    if (len)
        *len = n;
    return buf;
}

char *fr_experiment_dump_string(const FrExperiment *e)
{
    return e ? dump_mem(e, 0, NULL) : NULL;
}

int fr_experiment_dump(const FrExperiment *e, FILE *f, FrError *err)
{
    size_t n;
    char *s = e ? dump_mem(e, 0, &n) : NULL;
    if (!s)
        return fr_error(err, FR_E_NOMEM, "cannot format the experiment");
    int ok = fwrite(s, 1, n, f) == n && fflush(f) == 0;
    free(s);
    return ok ? 0 : fr_error(err, FR_E_IO, "writing the experiment: %s", strerror(errno));
}

uint64_t fr_experiment_hash(const FrExperiment *e)
{
    size_t n;
    char *s = e ? dump_mem(e, 1, &n) : NULL;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; s && i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    free(s);
    return h;
}

/* ------------------------------------------------------------------ */
/* Files the experiment names. */

static int check_one(const FrExperiment *e, FrError *err, const char *key, const char *path,
                     int want_dir, const char *advice);

static int check_sweep_weights(const FrExperiment *e, FrError *err)
{
    for (int i = 0; i < e->sweep.n_weights; i++) {
        char key[64];
        snprintf(key, sizeof key, "sweep.weights[%d]", i);
        int rc = check_one(e, err, key, e->sweep.weights[i], 0,
                           "a darknet .weights file of model.cfg (e.g. from featrd train "
                           "--augment; tools/train_augmented.sh makes the demo's)");
        if (rc)
            return rc;
    }
    return 0;
}

static int check_one(const FrExperiment *e, FrError *err, const char *key, const char *path,
                     int want_dir, const char *advice)
{
    if (!path)
        return 0;
    struct stat st;
    if (stat(path, &st) != 0) {
        /* what a newcomer needs: where a relative path was looked for, and
         * how the demo's generated data comes about */
        char where[4300] = "", cwd[4096];
        if (path[0] != '/' && getcwd(cwd, sizeof cwd))
            snprintf(where, sizeof where, " (relative paths are taken from the working directory, "
                     "%s: run featrd from the directory the config's paths assume)", cwd);
        const char *demo = strstr(path, "fmnist-det/") || strstr(path, "fmnist-cls/")
                               ? "; it is the built-in demo data: `featrd data --out data` (or "
                                 "`make run`) writes it"
                               : "";
        return fr_experiment_error(e, err, FR_E_NOENT, key, "no such %s '%s'%s: %s%s",
                                   want_dir ? "directory" : "file", path, where, advice, demo);
    }
    if (want_dir && !S_ISDIR(st.st_mode))
        return fr_experiment_error(e, err, FR_E_NOENT, key, "'%s' is not a directory: %s", path,
                                   advice);
    if (!want_dir && S_ISDIR(st.st_mode))
        return fr_experiment_error(e, err, FR_E_NOENT, key, "'%s' is a directory, not a file: %s",
                                   path, advice);
    if (access(path, R_OK) != 0)
        return fr_experiment_error(e, err, FR_E_NOENT, key, "cannot read '%s': %s", path,
                                   strerror(errno));
    return 0;
}

int fr_experiment_check_files(const FrExperiment *e, FrError *err)
{
    if (!e)
        return fr_error(err, FR_E_USAGE, "fr_experiment_check_files: NULL experiment");
    int rc;
    if ((rc = check_one(e, err, "model.cfg", e->model.cfg, 0,
                        "give the darknet .cfg of the network; the stock ones are in "
                        "/usr/share/darknet/cfg")) ||
        (rc = check_one(e, err, "model.weights", e->model.weights, 0,
                        "put the weights file there (the README says where to get them; none "
                        "can be downloaded here) or remove model.weights to run with seeded "
                        "random weights")) ||
        (rc = check_sweep_weights(e, err)) ||
        (rc = check_one(e, err, "model.names", e->model.names, 0,
                        "a text file with one class name per line")) ||
        (rc = check_one(e, err, "dataset.images", e->dataset.images, 0,
                        "a text file listing one image path per line; see the README for the "
                        "data sets")) ||
        (rc = check_one(e, err, "dataset.annotations", e->dataset.annotations, 1,
                        "the VOC Annotations directory with one .xml per image")) ||
        (rc = check_one(e, err, "dataset.labels_file", e->dataset.labels_file, 0,
                        "a text file with one class id per image line")) ||
        (rc = check_one(e, err, "dataset.names", e->dataset.names, 0,
                        "a text file with the data set's class names, one per line (VOC: "
                        "/usr/share/darknet/data/voc.names)")) ||
        (rc = check_one(e, err, "dataset.class_map", e->dataset.class_map, 0,
                        "a text file of 'MODEL<TAB>DATASET' class pairs (configs/9k-voc.map "
                        "maps YOLO9000's WordTree classes to VOC)")))
        return rc;
    if (e->kind == FR_KIND_FEATURES &&
        ((rc = check_one(e, err, "features.dir", e->features.dir, 1,
                         "a directory written by `featrd features CONFIG --split S --out DIR`, "
                         "or one of .npy files")) ||
         (rc = check_one(e, err, "features.list", e->features.list, 0,
                         "a list of .npy files, one `FILE IMAGE LAYER` line each (the format of "
                         "features.txt)"))))
        return rc;
    if (e->kind == FR_KIND_MODEL &&
        ((rc = check_one(e, err, "model_compression.dom.base", e->model_compression.dom_base, 0,
                         "darknet weights of the base model")) ||
         (rc = check_one(e, err, "model_compression.dom.target",
                         e->model_compression.dom_target, 0,
                         "darknet weights of the fine-tuned model"))))
        return rc;
    return 0;
}
