/* getters.c: typed readers of one YAML node (integers, booleans, numbers,
 * strings, enums and lists of them), each reporting "FILE:LINE:COL: key.path:
 * expected X, got Y", and the known-key check of a map. */
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

int cfg_rec(CfgCx *c, const char *path, FrSrcLoc loc)
{
    return cfg_priv_setloc(c->e->priv, path, loc);
}

int cfg_expected(CfgCx *c, const Node *n, const char *path, const char *what)
{
    char b[128];
    return cfg_loc_err(c->err, FR_E_CONFIG, n->loc, path, "expected %s, got %s", what,
                   cfg_describe(n, b, sizeof b));
}

void cfg_join(char *buf, size_t cap, const char *prefix, const char *key)
{
    if (prefix && *prefix)
        cfg_pathf(buf, cap, "%s.%s", prefix, key);
    else
        cfg_pathf(buf, cap, "%s", key);
}

int cfg_parse_ll(const Node *n, long long *v)
{
    if (n->type != N_SCALAR || !n->plain || !n->s[0])
        return -1;
    errno = 0;
    char *end;
    *v = strtoll(n->s, &end, 10);
    return (*end || errno) ? -1 : 0;
}

int cfg_get_int(CfgCx *c, const Node *n, const char *path, int lo, int hi, int *out)
{
    long long v;
    if (cfg_parse_ll(n, &v) || v < lo || v > hi) {
        char w[96];
        if (hi == INT_MAX)
            snprintf(w, sizeof w, "an integer >= %d", lo);
        else
            snprintf(w, sizeof w, "an integer from %d to %d", lo, hi);
        return cfg_expected(c, n, path, w);
    }
    *out = (int)v;
    return 0;
}

int cfg_get_u64(CfgCx *c, const Node *n, const char *path, uint64_t *out)
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
    return cfg_expected(c, n, path, "a non-negative integer");
}

int cfg_get_bool(CfgCx *c, const Node *n, const char *path, int *out)
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
    return cfg_expected(c, n, path, "true or false");
}

int cfg_get_double(CfgCx *c, const Node *n, const char *path, double lo, double hi, int lo_open,
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
    return cfg_expected(c, n, path, w);
}

/* A string; null allowed only when nullable (then *out = NULL). Replaces *out. */
int cfg_get_str(CfgCx *c, const Node *n, const char *path, int nullable, char **out)
{
    if (n->type != N_SCALAR || (cfg_is_null(n) && !nullable) || (!cfg_is_null(n) && !n->s[0]))
        return cfg_expected(c, n, path, nullable ? "a string (or ~ for none)" : "a non-empty string");
    char *d = NULL;
    if (!cfg_is_null(n) && !(d = cfg_xstrdup(n->s)))
        return FR_E_NOMEM;
    free(*out);
    *out = d;
    return 0;
}

int cfg_get_enum(CfgCx *c, const Node *n, const char *path, const char *const *names, int *out)
{
    if (n->type == N_SCALAR)
        for (int i = 0; names[i]; i++)
            if (!strcmp(n->s, names[i])) {
                *out = i;
                return 0;
            }
    char w[256], b[128];
    cfg_or_list(names, w, sizeof w);
    const char *s = n->type == N_SCALAR ? cfg_suggest(n->s, names) : NULL;
    if (s)
        return cfg_loc_err(c->err, FR_E_CONFIG, n->loc, path, "expected %s, got %s (did you mean '%s'?)",
                       w, cfg_describe(n, b, sizeof b), s);
    return cfg_loc_err(c->err, FR_E_CONFIG, n->loc, path, "expected %s, got %s", w,
                   cfg_describe(n, b, sizeof b));
}

/* A list node's items: a scalar stands for a one-item list (then *items
 * points at *one, which the caller provides). */
int cfg_list_items(CfgCx *c, const Node *n, const char *path, int allow_empty, const char *what,
                      Node **one, Node *const **items, int *count)
{
    char w[300];
    if (n->type == N_MAP || (n->type == N_SCALAR && cfg_is_null(n) && !allow_empty)) {
        snprintf(w, sizeof w, "a list of %s", what);
        return cfg_expected(c, n, path, w);
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
        return cfg_expected(c, n, path, w);
    }
    *items = n->kids;
    *count = n->n;
    return 0;
}

int cfg_rec_item(CfgCx *c, const char *path, int i, FrSrcLoc loc)
{
    char p[300];
    cfg_pathf(p, sizeof p, "%s[%d]", path, i);
    return cfg_rec(c, p, loc);
}

/* An integer list; allowed (terminated by INT_MIN) restricts values when set. */
int cfg_get_int_list(CfgCx *c, const Node *n, const char *path, int lo, int hi,
                        const int *allowed, const char *what, int allow_empty, int **arr,
                        int *cnt)
{
    Node *const *it;
    Node *one;
    int k, rc;
    if ((rc = cfg_list_items(c, n, path, allow_empty, what, &one, &it, &k)))
        return rc;
    int *v = k ? malloc((size_t)k * sizeof *v) : NULL;
    if (k && !v)
        return FR_E_NOMEM;
    for (int i = 0; i < k; i++) {
        long long x;
        int ok = !cfg_parse_ll(it[i], &x) && x >= lo && x <= hi;
        if (ok && allowed) {
            ok = 0;
            for (int j = 0; allowed[j] != INT_MIN; j++)
                ok |= allowed[j] == x;
        }
        if (!ok) {
            free(v);
            return cfg_expected(c, it[i], path, what);
        }
        v[i] = (int)x;
        for (int j = 0; j < i; j++)
            if (v[j] == v[i]) {
                free(v);
                return cfg_loc_err(c->err, FR_E_CONFIG, it[i]->loc, path,
                               "duplicate value %d (also at line %d)", (int)x, it[j]->loc.line);
            }
        if ((rc = cfg_rec_item(c, path, i, it[i]->loc))) {
            free(v);
            return rc;
        }
    }
    free(*arr);
    *arr = v;
    *cnt = k;
    return 0;
}

int cfg_get_enum_list(CfgCx *c, const Node *n, const char *path, const char *const *names,
                         int allow_empty, int **arr, int *cnt)
{
    Node *const *it;
    Node *one;
    int k, rc;
    char w[256];
    cfg_or_list(names, w, sizeof w);
    if ((rc = cfg_list_items(c, n, path, allow_empty, w, &one, &it, &k)))
        return rc;
    int *v = k ? malloc((size_t)k * sizeof *v) : NULL;
    if (k && !v)
        return FR_E_NOMEM;
    for (int i = 0; i < k; i++) {
        const Node *item = it[i];
        if ((rc = cfg_get_enum(c, item, path, names, &v[i]))) {
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
        if ((rc = cfg_rec_item(c, path, i, item->loc))) {
            free(v);
            return rc;
        }
    }
    free(*arr);
    *arr = v;
    *cnt = k;
    return 0;
}

void cfg_free_strs(char **s, int n)
{
    for (int i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

/* A list of strings; names (optional) restricts the values. */
int cfg_get_str_list(CfgCx *c, const Node *n, const char *path, const char *const *names,
                        const char *what, int allow_empty, char ***arr, int *cnt)
{
    Node *const *it;
    Node *one;
    int k, rc;
    if ((rc = cfg_list_items(c, n, path, allow_empty, what, &one, &it, &k)))
        return rc;
    char **v = k ? calloc((size_t)k, sizeof *v) : NULL;
    if (k && !v)
        return FR_E_NOMEM;
    for (int i = 0; i < k; i++) {
        const Node *item = it[i];
        if (names) {
            int dummy;
            rc = cfg_get_enum(c, item, path, names, &dummy);
        } else if (item->type != N_SCALAR || cfg_is_null(item) || !item->s[0]) {
            rc = cfg_expected(c, item, path, what);
        }
        if (!rc && !(v[i] = cfg_xstrdup(item->s)))
            rc = FR_E_NOMEM;
        for (int j = 0; j < i && !rc; j++)
            if (!strcmp(v[j], v[i]))
                rc = cfg_loc_err(c->err, FR_E_CONFIG, item->loc, path,
                             "duplicate value %s (also at line %d)", v[i], it[j]->loc.line);
        if (!rc)
            rc = cfg_rec_item(c, path, i, item->loc);
        if (rc) {
            cfg_free_strs(v, k);
            return rc;
        }
    }
    cfg_free_strs(*arr, *cnt);
    *arr = v;
    *cnt = k;
    return 0;
}

/* Checks that n is a map (null counts as empty) whose keys are all known. */
int cfg_check_map(CfgCx *c, const Node *n, const char *path, const char *const *known)
{
    char w[400];
    if (n->type == N_SCALAR && cfg_is_null(n))
        return 0;
    if (n->type != N_MAP) {
        snprintf(w, sizeof w, "a map with keys from: ");
        size_t o = strlen(w);
        for (int i = 0; known[i] && o < sizeof w; i++)
            o += (size_t)snprintf(w + o, sizeof w - o, "%s%s", i ? ", " : "", known[i]);
        return cfg_expected(c, n, path, w);
    }
    for (int i = 0; i < n->n; i++) {
        int ok = 0;
        for (int j = 0; known[j] && !ok; j++)
            ok = !strcmp(n->keys[i], known[j]);
        if (ok)
            continue;
        char p[300];
        cfg_join(p, sizeof p, path, n->keys[i]);
        const char *s = cfg_suggest(n->keys[i], known);
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

