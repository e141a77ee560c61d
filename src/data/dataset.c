/* dataset.c: image lists, names files, darknet label files, VOC XML
 * annotations, classification labels and the seeded subset of
 * featrd/dataset.h. The XML reader handles the flat VOC annotation layout
 * only (no entities, no CDATA), which is all VOC and its converters write. */
#define _POSIX_C_SOURCE 200809L
#include "featrd.h"
#include "data/dataset.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---------------- small helpers ---------------- */

/* Splits text in place into lines; calls fn(line, lineno) for each with
 * trailing CR/space/tab removed. Stops at the first non-zero return. */
typedef int (*LineFn)(char *line, int lineno, void *ctx);

static int for_lines(char *text, size_t len, LineFn fn, void *ctx)
{
    int lineno = 0;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && text[j] != '\n')
            j++;
        text[j] = 0; /* text has len + 1 bytes */
        lineno++;
        size_t e = j;
        while (e > i && (text[e - 1] == '\r' || text[e - 1] == ' ' || text[e - 1] == '\t'))
            text[--e] = 0;
        int rc = fn(text + i, lineno, ctx);
        if (rc)
            return rc;
        i = j + 1;
    }
    return 0;
}

static int read_text(const char *path, char **text, size_t *len, FrError *err)
{
    uint8_t *data;
    int rc = fr_read_file(path, &data, len, err);
    if (rc)
        return rc;
    char *t = realloc(data, *len + 1);
    if (!t) {
        free(data);
        return fr_error(err, FR_E_NOMEM, "%s: out of memory", path);
    }
    t[*len] = 0;
    *text = t;
    return 0;
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---------------- names ---------------- */

typedef struct NamesCtx {
    FrNames *names;
    int cap;
    const char *path;
    FrError *err;
    int allow_dups;
} NamesCtx;

static int names_line(char *line, int lineno, void *vctx)
{
    NamesCtx *c = vctx;
    if (!*line)
        return 0;
    if (!c->allow_dups && fr_names_find(c->names, line) >= 0)
        return fr_error(c->err, FR_E_FORMAT, "%s:%d: class name '%s' appears twice", c->path, lineno, line);
    if (c->names->n == c->cap) {
        int nc = c->cap ? c->cap * 2 : 32;
        char **q = realloc(c->names->names, (size_t)nc * sizeof *q);
        if (!q)
            return fr_error(c->err, FR_E_NOMEM, "%s: out of memory", c->path);
        c->names->names = q;
        c->cap = nc;
    }
    if (!(c->names->names[c->names->n] = strdup(line)))
        return fr_error(c->err, FR_E_NOMEM, "%s: out of memory", c->path);
    c->names->n++;
    return 0;
}

static int names_read(const char *path, int allow_dups, FrNames *out, FrError *err)
{
    memset(out, 0, sizeof *out);
    char *text;
    size_t len;
    int rc = read_text(path, &text, &len, err);
    if (rc)
        return rc;
    NamesCtx c = {out, 0, path, err, allow_dups};
    rc = for_lines(text, len, names_line, &c);
    free(text);
    if (!rc && out->n == 0)
        rc = fr_error(err, FR_E_FORMAT, "%s: no class names (expected one name per line)", path);
    if (rc)
        fr_names_free(out);
    return rc;
}

int fr_names_read(const char *path, FrNames *out, FrError *err)
{
    return names_read(path, 0, out, err);
}

int fr_names_read_model(const char *path, FrNames *out, FrError *err)
{
    return names_read(path, 1, out, err);
}

void fr_names_free(FrNames *names)
{
    if (!names)
        return;
    for (int i = 0; i < names->n; i++)
        free(names->names[i]);
    free(names->names);
    memset(names, 0, sizeof *names);
}

int fr_names_find(const FrNames *names, const char *name)
{
    for (int i = 0; i < names->n; i++)
        if (!strcmp(names->names[i], name))
            return i;
    return -1;
}

/* ---------------- image lists ---------------- */

typedef struct ListCtx {
    FrImageList *list;
    size_t cap;
    char *dir;      /* directory of the list file, "" for the current one */
    FrError *err;
} ListCtx;

static char *join(const char *dir, const char *p)
{
    size_t n = strlen(dir) + strlen(p) + 2;
    char *r = malloc(n);
    if (!r)
        return NULL;
    if (p[0] == '/' || !*dir)
        snprintf(r, n, "%s", p);
    else
        snprintf(r, n, "%s/%s", dir, p);
    return r;
}

static int list_line(char *line, int lineno, void *vctx)
{
    ListCtx *c = vctx;
    FrImageList *l = c->list;
    while (*line == ' ' || *line == '\t')
        line++;
    if (!*line || *line == '#')
        return 0;
    char *label = NULL;
    char *path = join(c->dir, line);
    if (!path)
        return fr_error(c->err, FR_E_NOMEM, "%s: out of memory", l->list_path);
    if (!is_file(path)) {
        /* `path label`: the label is the text after the last blank run */
        char *sp = line + strlen(line);
        while (sp > line && sp[-1] != ' ' && sp[-1] != '\t')
            sp--;
        if (sp > line) {
            char *e = sp;
            while (e > line && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            char saved = *e;
            *e = 0;
            char *p2 = join(c->dir, line);
            if (p2 && e > line && is_file(p2)) {
                free(path);
                path = p2;
                label = sp;
            } else {
                free(p2);
                *e = saved;
            }
        }
    }
    if (!is_file(path)) {
        int rc = fr_error(c->err, FR_E_NOENT, "%s:%d: image '%s' not found (looked for %s); fix the "
                          "list or the path (relative paths are relative to the list's directory)",
                          l->list_path, lineno, line, path);
        free(path);
        return rc;
    }
    if (l->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 64;
        FrImageEntry *q = realloc(l->items, nc * sizeof *q);
        if (!q) {
            free(path);
            return fr_error(c->err, FR_E_NOMEM, "%s: out of memory", l->list_path);
        }
        l->items = q;
        c->cap = nc;
    }
    FrImageEntry *e = &l->items[l->n];
    e->path = path;
    e->given = strdup(line);
    e->label = label ? strdup(label) : NULL;
    e->line = lineno;
    l->n++;
    if (!e->given || (label && !e->label))
        return fr_error(c->err, FR_E_NOMEM, "%s: out of memory", l->list_path);
    return 0;
}

int fr_image_list_read(const char *list_path, FrImageList *out, FrError *err)
{
    memset(out, 0, sizeof *out);
    char *text;
    size_t len;
    int rc = read_text(list_path, &text, &len, err);
    if (rc)
        return rc;
    ListCtx c = {out, 0, NULL, err};
    out->list_path = strdup(list_path);
    c.dir = strdup(list_path);
    if (!out->list_path || !c.dir) {
        rc = fr_error(err, FR_E_NOMEM, "%s: out of memory", list_path);
    } else {
        char *slash = strrchr(c.dir, '/');
        if (slash)
            slash[slash == c.dir ? 1 : 0] = 0;
        else
            c.dir[0] = 0;
        rc = for_lines(text, len, list_line, &c);
        if (!rc && out->n == 0)
            rc = fr_error(err, FR_E_FORMAT, "%s: the image list is empty (one image path per line)",
                          list_path);
    }
    free(text);
    free(c.dir);
    if (rc)
        fr_image_list_free(out);
    return rc;
}

void fr_image_list_free(FrImageList *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++) {
        free(list->items[i].path);
        free(list->items[i].given);
        free(list->items[i].label);
    }
    free(list->items);
    free(list->list_path);
    memset(list, 0, sizeof *list);
}

uint64_t fr_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t fr_rand_below(uint64_t *state, uint64_t n)
{
    /* reject the top partial block so every residue is equally likely */
    uint64_t lim = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do
        v = fr_splitmix64(state);
    while (v >= lim);
    return v % n;
}

int fr_image_list_subset(FrImageList *list, size_t limit, uint64_t seed, FrError *err)
{
    if (limit == 0 || limit >= list->n)
        return 0;
    size_t n = list->n;
    size_t *idx = malloc(n * sizeof *idx);
    uint8_t *keep = calloc(n, 1);
    if (!idx || !keep) {
        free(idx);
        free(keep);
        return fr_error(err, FR_E_NOMEM, "%s: out of memory", list->list_path);
    }
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    uint64_t st = seed;
    /* partial Fisher–Yates: the first `limit` slots are the sample */
    for (size_t i = 0; i < limit; i++) {
        size_t j = i + (size_t)fr_rand_below(&st, n - i);
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
        keep[idx[i]] = 1;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (keep[i]) {
            list->items[k++] = list->items[i];
        } else {
            free(list->items[i].path);
            free(list->items[i].given);
            free(list->items[i].label);
        }
    }
    list->n = k;
    free(idx);
    free(keep);
    return 0;
}

int fr_experiment_images(const FrExperiment *e, FrImageList *out, FrError *err)
{
    memset(out, 0, sizeof *out);
    if (!e->dataset.images)
        return fr_error(err, FR_E_CONFIG, "the config has no dataset.images");
    int rc = fr_image_list_read(e->dataset.images, out, err);
    if (!rc && e->dataset.limit > 0)
        rc = fr_image_list_subset(out, (size_t)e->dataset.limit, e->dataset.seed, err);
    if (rc)
        fr_image_list_free(out);
    return rc;
}

/* ---------------- paths ---------------- */

/* Replaces the last path component equal to `from` by `to` and the
 * extension by `ext`. Returns 0, 1 (no such component) or -1 (too long). */
static int swap_dir_ext(const char *path, const char *from, const char *to, const char *ext,
                        char *out, size_t cap)
{
    size_t fl = strlen(from);
    const char *hit = NULL;
    for (const char *p = path; (p = strstr(p, from)); p++)
        if ((p == path || p[-1] == '/') && p[fl] == '/')
            hit = p;
    if (!hit)
        return 1;
    const char *base = strrchr(path, '/');
    const char *dot = strrchr(base ? base : path, '.');
    size_t stem = dot ? (size_t)(dot - path) : strlen(path);
    int n = snprintf(out, cap, "%.*s%s%.*s%s", (int)(hit - path), path, to,
                     (int)(stem - (size_t)(hit + fl - path)), hit + fl, ext);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int fr_darknet_label_path(const char *image_path, char *out, size_t cap, FrError *err)
{
    int r = swap_dir_ext(image_path, "images", "labels", ".txt", out, cap);
    if (r == 1)
        r = swap_dir_ext(image_path, "JPEGImages", "labels", ".txt", out, cap);
    if (r == 1) {
        /* darknet's own rule: the first "images" anywhere in the path */
        const char *p = strstr(image_path, "images");
        if (!p)
            return fr_error(err, FR_E_USAGE,
                            "%s: no 'images' or 'JPEGImages' directory in the path, so darknet's "
                            "label path (…/labels/NAME.txt) cannot be derived", image_path);
        const char *base = strrchr(image_path, '/');
        const char *dot = strrchr(base ? base : image_path, '.');
        size_t stem = dot && dot > p ? (size_t)(dot - image_path) : strlen(image_path);
        int n = snprintf(out, cap, "%.*slabels%.*s.txt", (int)(p - image_path), image_path,
                         (int)(stem - (size_t)(p + 6 - image_path)), p + 6);
        r = n < 0 || (size_t)n >= cap ? -1 : 0;
    }
    if (r < 0)
        return fr_error(err, FR_E_USAGE, "%s: label path too long", image_path);
    return 0;
}

int fr_voc_annotation_path(const char *image_path, char *out, size_t cap, FrError *err)
{
    int r = swap_dir_ext(image_path, "JPEGImages", "Annotations", ".xml", out, cap);
    if (r == 1)
        return fr_error(err, FR_E_USAGE,
                        "%s: no 'JPEGImages' directory in the path, so the VOC annotation "
                        "(…/Annotations/ID.xml) cannot be derived", image_path);
    if (r < 0)
        return fr_error(err, FR_E_USAGE, "%s: annotation path too long", image_path);
    return 0;
}

/* ---------------- darknet labels ---------------- */

typedef struct GtVec {
    FrGtBox *b;
    size_t n, cap;
} GtVec;

static int gt_push(GtVec *v, const FrGtBox *b)
{
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 16;
        FrGtBox *q = realloc(v->b, nc * sizeof *q);
        if (!q)
            return -1;
        v->b = q;
        v->cap = nc;
    }
    v->b[v->n++] = *b;
    return 0;
}

typedef struct LabelCtx {
    GtVec v;
    int w, h, nclasses;
    const char *path;
    FrError *err;
} LabelCtx;

static int label_line(char *line, int lineno, void *vctx)
{
    LabelCtx *c = vctx;
    while (*line == ' ' || *line == '\t')
        line++;
    if (!*line)
        return 0;
    char *p = line, *end;
    errno = 0;
    long cls = strtol(p, &end, 10);
    double v[4];
    int ok = end != p && (*end == ' ' || *end == '\t') && errno == 0;
    p = end;
    for (int k = 0; k < 4 && ok; k++) {
        v[k] = strtod(p, &end);
        ok = end != p && isfinite(v[k]);
        p = end;
    }
    while (ok && (*p == ' ' || *p == '\t'))
        p++;
    if (!ok || *p)
        return fr_error(c->err, FR_E_FORMAT,
                        "%s:%d: expected 'class cx cy w h' (an integer and four numbers), got '%s'",
                        c->path, lineno, line);
    if (cls < 0 || (c->nclasses > 0 && cls >= c->nclasses))
        return fr_error(c->err, FR_E_FORMAT, "%s:%d: class %ld outside 0..%d; check the names file",
                        c->path, lineno, cls, c->nclasses - 1);
    FrGtBox b = {(int)cls, 0,
                 {(v[0] - v[2] / 2) * c->w, (v[1] - v[3] / 2) * c->h, (v[0] + v[2] / 2) * c->w,
                  (v[1] + v[3] / 2) * c->h}};
    if (gt_push(&c->v, &b))
        return fr_error(c->err, FR_E_NOMEM, "%s: out of memory", c->path);
    return 0;
}

int fr_gt_read_darknet(const char *label_path, int img_w, int img_h, int nclasses, FrGtBox **boxes,
                       size_t *n, FrError *err)
{
    *boxes = NULL;
    *n = 0;
    if (img_w <= 0 || img_h <= 0)
        return fr_error(err, FR_E_USAGE, "%s: image size %dx%d must be positive", label_path, img_w, img_h);
    char *text;
    size_t len;
    int rc = read_text(label_path, &text, &len, err);
    if (rc)
        return rc;
    LabelCtx c = {{0}, img_w, img_h, nclasses, label_path, err};
    rc = for_lines(text, len, label_line, &c);
    free(text);
    if (rc) {
        free(c.v.b);
        return rc;
    }
    *boxes = c.v.b;
    *n = c.v.n;
    return 0;
}

/* ---------------- VOC XML ---------------- */

/* Finds <tag> (or <tag attr…>) … </tag> in [s, e); returns the content
 * range or NULL. */
static const char *find_elem(const char *s, const char *e, const char *tag, const char **cs,
                             const char **ce)
{
    size_t tl = strlen(tag);
    for (const char *p = s; p + tl + 2 <= e; p++) {
        if (p[0] != '<' || strncmp(p + 1, tag, tl) || (p[tl + 1] != '>' && !isspace((unsigned char)p[tl + 1])))
            continue;
        const char *gt = memchr(p, '>', (size_t)(e - p));
        if (!gt)
            return NULL;
        if (gt[-1] == '/') { /* <tag/> */
            *cs = *ce = gt + 1;
            return p;
        }
        for (const char *q = gt + 1; q + tl + 3 <= e; q++)
            if (q[0] == '<' && q[1] == '/' && !strncmp(q + 2, tag, tl) && q[tl + 2] == '>') {
                *cs = gt + 1;
                *ce = q;
                return p;
            }
        return NULL;
    }
    return NULL;
}

static int line_of(const char *text, const char *p)
{
    int l = 1;
    for (const char *q = text; q < p; q++)
        l += *q == '\n';
    return l;
}

/* Trimmed copy of [s, e) into buf. */
static void copy_trim(const char *s, const char *e, char *buf, size_t cap)
{
    while (s < e && isspace((unsigned char)*s))
        s++;
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    size_t n = (size_t)(e - s) < cap - 1 ? (size_t)(e - s) : cap - 1;
    memcpy(buf, s, n);
    buf[n] = 0;
}

static int elem_number(const char *s, const char *e, const char *tag, double *v)
{
    const char *cs, *ce;
    if (!find_elem(s, e, tag, &cs, &ce))
        return 1;
    char buf[64], *end;
    copy_trim(cs, ce, buf, sizeof buf);
    *v = strtod(buf, &end);
    return !*buf || *end || !isfinite(*v) ? -1 : 0;
}

int fr_gt_read_voc_xml(const char *xml_path, const FrNames *names, FrGtBox **boxes, size_t *n,
                       int *img_w, int *img_h, FrError *err)
{
    *boxes = NULL;
    *n = 0;
    char *text;
    size_t len;
    int rc = read_text(xml_path, &text, &len, err);
    if (rc)
        return rc;
    const char *end = text + len, *cs, *ce;
    GtVec v = {0};
    if (!find_elem(text, end, "annotation", &cs, &ce)) {
        rc = fr_error(err, FR_E_FORMAT, "%s: not a VOC annotation (no <annotation> element)", xml_path);
        goto fail;
    }
    double w = 0, h = 0;
    if (find_elem(text, end, "size", &cs, &ce)) {
        if (elem_number(cs, ce, "width", &w) < 0 || elem_number(cs, ce, "height", &h) < 0) {
            rc = fr_error(err, FR_E_FORMAT, "%s:%d: <size> has a non-numeric width or height", xml_path,
                          line_of(text, cs));
            goto fail;
        }
    }
    const char *p = text;
    const char *os, *oe;
    while (find_elem(p, end, "object", &os, &oe)) {
        int line = line_of(text, os);
        /* blank out <part> sub-objects (VOC person layout) so their name
         * and bndbox are not taken for the object's */
        char *obj = malloc((size_t)(oe - os) + 1);
        if (!obj) {
            rc = fr_error(err, FR_E_NOMEM, "%s: out of memory", xml_path);
            goto fail;
        }
        memcpy(obj, os, (size_t)(oe - os));
        obj[oe - os] = 0;
        char *oend = obj + (oe - os);
        const char *ps, *pe;
        const char *pstart;
        while ((pstart = find_elem(obj, oend, "part", &ps, &pe)))
            memset(obj + (pstart - obj), ' ', (size_t)(pe + 7 - pstart));
        char name[256];
        const char *bs, *be;
        double diff = 0, c[4];
        static const char *const tags[4] = {"xmin", "ymin", "xmax", "ymax"};
        int bad = 0;
        if (!find_elem(obj, oend, "name", &cs, &ce)) {
            rc = fr_error(err, FR_E_FORMAT, "%s:%d: <object> without <name>", xml_path, line);
            bad = 1;
        }
        if (!bad) {
            copy_trim(cs, ce, name, sizeof name);
            if (elem_number(obj, oend, "difficult", &diff) < 0) {
                rc = fr_error(err, FR_E_FORMAT, "%s:%d: object '%s': <difficult> is not a number",
                              xml_path, line, name);
                bad = 1;
            }
        }
        if (!bad && !find_elem(obj, oend, "bndbox", &bs, &be)) {
            rc = fr_error(err, FR_E_FORMAT, "%s:%d: object '%s' has no <bndbox>", xml_path, line, name);
            bad = 1;
        }
        for (int k = 0; k < 4 && !bad; k++)
            if (elem_number(bs, be, tags[k], &c[k])) {
                rc = fr_error(err, FR_E_FORMAT, "%s:%d: object '%s': <%s> missing or not a number",
                              xml_path, line, name, tags[k]);
                bad = 1;
            }
        int cls = bad ? -1 : fr_names_find(names, name);
        if (!bad && cls < 0) {
            rc = fr_error(err, FR_E_FORMAT, "%s:%d: object name '%s' is not in the names file (%d names); "
                          "use the names file of this data set", xml_path, line, name, names->n);
            bad = 1;
        }
        free(obj);
        if (bad)
            goto fail;
        /* VOC corners are 1-based; darknet's boxes are 0-based (its VOC
         * result writer adds 1), so both meet in the 0-based frame */
        FrGtBox b = {cls, diff != 0, {c[0] - 1, c[1] - 1, c[2] - 1, c[3] - 1}};
        if (gt_push(&v, &b)) {
            rc = fr_error(err, FR_E_NOMEM, "%s: out of memory", xml_path);
            goto fail;
        }
        p = oe;
    }
    free(text);
    *boxes = v.b;
    *n = v.n;
    if (img_w)
        *img_w = (int)w;
    if (img_h)
        *img_h = (int)h;
    return 0;
fail:
    free(text);
    free(v.b);
    return rc;
}

/* ---------------- classification labels ---------------- */

int fr_image_label(const FrImageList *list, size_t i, const FrNames *labels, long *label, FrError *err)
{
    const FrImageEntry *e = &list->items[i];
    if (e->label) {
        int k = fr_names_find(labels, e->label);
        if (k >= 0) {
            *label = k;
            return 0;
        }
        char *end;
        errno = 0;
        long v = strtol(e->label, &end, 10);
        if (end != e->label && !*end && errno == 0 && v >= 0 && v < labels->n) {
            *label = v;
            return 0;
        }
        return fr_error(err, FR_E_FORMAT,
                        "%s:%d: label '%s' is neither a class name of the labels file nor an index "
                        "0..%d", list->list_path, e->line, e->label, labels->n - 1);
    }
    int found = -1, count = 0;
    for (int k = 0; k < labels->n; k++)
        if (strstr(e->given, labels->names[k])) {
            if (!count)
                found = k;
            count++;
        }
    if (count != 1)
        return fr_error(err, FR_E_FORMAT,
                        "%s:%d: %s of the class names occur%s in '%s' (darknet's rule: exactly one "
                        "class name in the path); rename the file or give the label after the path",
                        list->list_path, e->line, count ? "several" : "none", count ? "" : "s",
                        e->given);
    *label = found;
    return 0;
}

/* ---------------- model classes -> data set classes ---------------- */

typedef struct MapCtx {
    const FrNames *model, *dataset;
    const char *path;
    int *to;
    FrError *err;
} MapCtx;

static int count_name(const FrNames *n, const char *name, int *first, int *second)
{
    int k = 0;
    *first = *second = -1;
    for (int i = 0; i < n->n; i++)
        if (!strcmp(n->names[i], name)) {
            if (k == 0)
                *first = i;
            else if (k == 1)
                *second = i;
            k++;
        }
    return k;
}

static int map_line(char *line, int lineno, void *vctx)
{
    MapCtx *c = vctx;
    while (*line == ' ')
        line++;
    if (!*line || *line == '#')
        return 0;
    char *tab = strchr(line, '\t');
    if (!tab)
        return fr_error(c->err, FR_E_FORMAT,
                        "%s:%d: expected 'MODEL<TAB>DATASET' (a model class, a tab, a data set "
                        "class), got '%s'", c->path, lineno, line);
    *tab = 0;
    char *ds = tab + 1;
    while (*ds == '\t' || *ds == ' ')
        ds++;
    size_t ml = strlen(line);
    while (ml && line[ml - 1] == ' ')
        line[--ml] = 0;
    int mi = -1;
    if (line[0] == '@') {
        /* @N or @N:name: a 0-based index into the model's names, for names that
         * occur more than once (WordTree's 9k.names has three "car"s); the name,
         * when given, must be the one at N, so a different names file is caught */
        char *end;
        long v = strtol(line + 1, &end, 10);
        if (end == line + 1 || v < 0 || v >= c->model->n || (*end && *end != ':'))
            return fr_error(c->err, FR_E_FORMAT,
                            "%s:%d: '%s': expected @INDEX or @INDEX:NAME with INDEX 0..%d (the "
                            "0-based line of the model's names file)", c->path, lineno, line,
                            c->model->n - 1);
        mi = (int)v;
        if (*end == ':' && strcmp(end + 1, c->model->names[mi]))
            return fr_error(c->err, FR_E_MISMATCH,
                            "%s:%d: model class %d is '%s', not '%s': the map was written for "
                            "another names file", c->path, lineno, mi, c->model->names[mi], end + 1);
    } else {
        int second;
        int k = count_name(c->model, line, &mi, &second);
        if (k == 0)
            return fr_error(c->err, FR_E_FORMAT,
                            "%s:%d: '%s' is not a class of the model's names file", c->path,
                            lineno, line);
        if (k > 1)
            return fr_error(c->err, FR_E_FORMAT,
                            "%s:%d: '%s' names %d model classes (%d, %d, ...): write @INDEX:%s "
                            "to say which", c->path, lineno, line, k, mi, second, line);
    }
    int di = fr_names_find(c->dataset, ds);
    if (di < 0)
        return fr_error(c->err, FR_E_FORMAT,
                        "%s:%d: '%s' is not a class of the data set's names file", c->path, lineno,
                        ds);
    if (c->to[mi] >= 0)
        return fr_error(c->err, FR_E_FORMAT, "%s:%d: model class %d ('%s') is mapped twice",
                        c->path, lineno, mi, c->model->names[mi]);
    c->to[mi] = di;
    return 0;
}

int fr_class_map_build(const FrNames *model, const char *model_path, const FrNames *dataset,
                       const char *dataset_path, const char *map_path, int **to_dataset,
                       FrError *err)
{
    *to_dataset = NULL;
    int *to = malloc((size_t)(model->n ? model->n : 1) * sizeof *to);
    if (!to)
        return fr_error(err, FR_E_NOMEM, "out of memory");
    for (int i = 0; i < model->n; i++)
        to[i] = -1;
    int rc = 0;
    if (!map_path) {
        int n = model->n < dataset->n ? model->n : dataset->n;
        for (int i = 0; i < n && !rc; i++)
            if (strcmp(model->names[i], dataset->names[i]))
                rc = fr_error(err, FR_E_MISMATCH,
                              "class %d of the model is '%s' (%s) but class %d of the data set "
                              "is '%s' (%s): the detections would be scored against the wrong "
                              "classes. Use the names file the model was trained with for both, "
                              "or set dataset.class_map to a file mapping the model's classes "
                              "to the data set's (configs/9k-voc.map does it for YOLO9000 on VOC)",
                              i, model->names[i], model_path, i, dataset->names[i], dataset_path);
        if (!rc && model->n != dataset->n)
            rc = fr_error(err, FR_E_MISMATCH,
                          "the model has %d classes (%s) but the data set has %d (%s); the first "
                          "%d agree, then '%s' is only in the %s. Use the same names file for "
                          "both, or set dataset.class_map", model->n, model_path, dataset->n,
                          dataset_path, n,
                          model->n > n ? model->names[n] : dataset->names[n],
                          model->n > n ? "model's" : "data set's");
        for (int i = 0; i < n && !rc; i++)
            to[i] = i;
    } else {
        char *text;
        size_t len;
        rc = read_text(map_path, &text, &len, err);
        if (!rc) {
            MapCtx c = {model, dataset, map_path, to, err};
            rc = for_lines(text, len, map_line, &c);
            free(text);
        }
        int mapped = 0;
        for (int i = 0; i < model->n; i++)
            mapped += to[i] >= 0;
        if (!rc && !mapped)
            rc = fr_error(err, FR_E_FORMAT, "%s: maps no class (expected MODEL<TAB>DATASET lines)",
                          map_path);
    }
    if (rc) {
        free(to);
        return rc;
    }
    *to_dataset = to;
    return 0;
}
