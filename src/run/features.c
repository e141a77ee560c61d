/* features.c: the input of `kind: features` (bring your own features):
 * which .npy files are each image's cut set. Sources, in this order:
 * features.list (a features.txt-style list), DIR/features.txt (what
 * `featrd features` writes), or every *.npy under DIR, where NAME.npy is one
 * image and NAME.LAYER.npy files sharing NAME are one image's cut set. Every
 * tensor is read once here, so a bad file is an error before a run starts. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "run/features_internal.h"
#include "run/results_internal.h"
#include "util/common.h"

static char *dupstr(const char *s)
{
    return strdup(s ? s : "");
}

/* NAME and LAYER of "dir/NAME.LAYER.npy" (NAME keeps its directory; LAYER
 * is "" for "dir/NAME.npy"). */
static void name_parts(const char *rel, char *key, size_t kcap, char *layer, size_t lcap)
{
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    const char *first = strchr(base, '.'), *last = strrchr(base, '.');
    if (!first) {
        snprintf(key, kcap, "%s", rel);
        layer[0] = 0;
        return;
    }
    snprintf(key, kcap, "%.*s", (int)(first - rel), rel);
    if (last > first)
        snprintf(layer, lcap, "%.*s", (int)(last - first - 1), first + 1);
    else
        layer[0] = 0;
}

typedef struct Reader {
    FrFeatureSet *s;
    size_t cap;
    int limit;
} Reader;

/* Appends a file to the last image, or starts a new image when the name
 * differs. Returns 1 when the limit says to stop, else 0 or an error. */
static int add_file(Reader *rd, const char *image, const char *path, const char *rel,
                    const char *layer, int line, int c, int h, int w, FrError *err)
{
    FrFeatureSet *s = rd->s;
    FrFeatureImage *im = s->n ? &s->images[s->n - 1] : NULL;
    if (!im || strcmp(im->image, image)) {
        if (rd->limit > 0 && s->n == (size_t)rd->limit)
            return 1;
        if (s->n == rd->cap) {
            size_t nc = rd->cap ? rd->cap * 2 : 64;
            FrFeatureImage *nw = realloc(s->images, nc * sizeof *nw);
            if (!nw)
                return fr_error(err, FR_E_NOMEM, "out of memory");
            s->images = nw;
            rd->cap = nc;
        }
        im = &s->images[s->n++];
        memset(im, 0, sizeof *im);
        if (!(im->image = dupstr(image)))
            return fr_error(err, FR_E_NOMEM, "out of memory");
    }
    if (im->n == FR_MODEL_MAX_CUTS)
        return line ? fr_error(err, FR_E_FORMAT, "%s:%d: image '%s' has more than %d tensors",
                               s->source, line, image, FR_MODEL_MAX_CUTS)
                    : fr_error(err, FR_E_FORMAT, "%s: image '%s' has more than %d tensors",
                               s->source, image, FR_MODEL_MAX_CUTS);
    FrFeatureFile *f = &im->files[im->n++];
    f->path = dupstr(path);
    f->rel = dupstr(rel);
    f->layer = dupstr(layer);
    f->line = line;
    f->c = c;
    f->h = h;
    f->w = w;
    if (!f->path || !f->rel || !f->layer)
        return fr_error(err, FR_E_NOMEM, "out of memory");
    return 0;
}

static int parse_int(const char *t, int *v)
{
    char *end;
    long x = strtol(t, &end, 10);
    if (end == t || *end || x < 1 || x > 1 << 24)
        return -1;
    *v = (int)x;
    return 0;
}

/* A features.txt-style list: `FILE [IMAGE [LAYER [C H W]]]` per line, '#'
 * comments, "# split: S (layer L)" naming the split. Consecutive lines of
 * one IMAGE are its cut set. */
static int read_list(Reader *rd, const char *list, char *hsplit, char *hlayer, FrError *err)
{
    FILE *f = fopen(list, "r");
    if (!f)
        return fr_error(err, FR_E_NOENT, "%s: cannot open (%s)", list, strerror(errno));
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", list);
    char *sl = strrchr(dir, '/');
    if (sl)
        *sl = 0;
    else
        snprintf(dir, sizeof dir, ".");
    char *line = NULL;
    size_t lcap = 0;
    int ln = 0, rc = 0;
    while (!rc && getline(&line, &lcap, f) >= 0) {
        ln++;
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
            line[--l] = 0;
        char *p = line + strspn(line, " \t");
        if (!*p)
            continue;
        if (*p == '#') {
            char a[256], b[256];
            int k = sscanf(p, "# split: %255s (layer %255[^)])", a, b);
            if (k >= 1)
                snprintf(hsplit, 256, "%s", a);
            if (k == 2)
                snprintf(hlayer, 256, "%s", b);
            continue;
        }
        char *tok[8] = {0}, *save = NULL;
        int nt = 0;
        for (char *t = strtok_r(p, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
            if (nt < 8)
                tok[nt++] = t;
            else
                nt = 9;
        int c = 0, h = 0, w = 0;
        if (nt > 6 || nt == 4 || nt == 5) {
            rc = fr_error(err, FR_E_FORMAT, "%s:%d: expected FILE [IMAGE [LAYER [C H W]]], got "
                          "%d fields", list, ln, nt > 8 ? 9 : nt);
            break;
        }
        if (nt == 6 && (parse_int(tok[3], &c) || parse_int(tok[4], &h) || parse_int(tok[5], &w))) {
            rc = fr_error(err, FR_E_FORMAT, "%s:%d: C H W must be positive integers, got '%s %s "
                          "%s'", list, ln, tok[3], tok[4], tok[5]);
            break;
        }
        const char *file = tok[0];
        char key[4096], layer[256], path[8300], rel[4096];
        name_parts(file, key, sizeof key, layer, sizeof layer);
        if (nt >= 3)
            snprintf(layer, sizeof layer, "%s", strcmp(tok[2], "-") ? tok[2] : "");
        const char *image = nt >= 2 ? tok[1] : key;
        if (file[0] == '/')
            snprintf(path, sizeof path, "%s", file);
        else
            snprintf(path, sizeof path, "%s/%s", dir, file);
        /* the decoded copy's name: the same relative name, or the base name
         * of an absolute path or one that leaves the list's directory */
        const char *b = strrchr(file, '/');
        if (file[0] == '/' || strstr(file, ".."))
            snprintf(rel, sizeof rel, "%s", b ? b + 1 : file);
        else
            snprintf(rel, sizeof rel, "%s", file);
        int r = add_file(rd, image, path, rel, layer, ln, c, h, w, err);
        if (r == 1)
            break;
        rc = r;
    }
    free(line);
    fclose(f);
    return rc;
}

typedef struct Names {
    char **v;
    size_t n, cap;
} Names;

static int scan(const char *root, const char *sub, Names *out, FrError *err)
{
    char path[8300];
    snprintf(path, sizeof path, "%s%s%s", root, sub[0] ? "/" : "", sub);
    DIR *d = opendir(path);
    if (!d)
        return fr_error(err, FR_E_NOENT, "%s: cannot open the directory (%s)", path,
                        strerror(errno));
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char rel[4096], full[8300];
        snprintf(rel, sizeof rel, "%s%s%s", sub, sub[0] ? "/" : "", de->d_name);
        snprintf(full, sizeof full, "%s/%s", root, rel);
        struct stat st;
        if (stat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            rc = scan(root, rel, out, err);
            continue;
        }
        size_t l = strlen(rel);
        if (l < 5 || strcmp(rel + l - 4, ".npy"))
            continue;
        if (out->n == out->cap) {
            size_t nc = out->cap ? out->cap * 2 : 256;
            char **nw = realloc(out->v, nc * sizeof *nw);
            if (!nw) {
                rc = fr_error(err, FR_E_NOMEM, "out of memory");
                break;
            }
            out->v = nw;
            out->cap = nc;
        }
        if (!(out->v[out->n] = strdup(rel)))
            rc = fr_error(err, FR_E_NOMEM, "out of memory");
        else
            out->n++;
    }
    closedir(d);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.npy under dir, sorted: files of one NAME sort next to each other
 * (they share the prefix "NAME."), so grouping consecutive names works. */
static int read_dir(Reader *rd, const char *dir, FrError *err)
{
    Names nm = {0};
    int rc = scan(dir, "", &nm, err);
    if (!rc && nm.n == 0)
        rc = fr_error(err, FR_E_NOENT, "%s: no features.txt and no .npy files", dir);
    if (!rc)
        qsort(nm.v, nm.n, sizeof *nm.v, cmp_str);
    for (size_t i = 0; i < nm.n && !rc; i++) {
        char key[4096], layer[256], path[8300];
        name_parts(nm.v[i], key, sizeof key, layer, sizeof layer);
        snprintf(path, sizeof path, "%s/%s", dir, nm.v[i]);
        int r = add_file(rd, key, path, nm.v[i], layer, 0, 0, 0, 0, err);
        if (r == 1)
            break;
        rc = r;
    }
    for (size_t i = 0; i < nm.n; i++)
        free(nm.v[i]);
    free(nm.v);
    return rc;
}

static int where(const FrFeatureSet *s, const FrFeatureFile *f, FrError *err, int code,
                 const char *what)
{
    if (f->line)
        return fr_error(err, code, "%s:%d: %s: %s", s->source, f->line, f->rel, what);
    return fr_error(err, code, "%s: %s", f->path, what);
}

static int cmp_image(const void *a, const void *b)
{
    const FrFeatureImage *const *x = a, *const *y = b;
    return strcmp((*x)->image, (*y)->image);
}

/* Reads every tensor once (shape as listed, same layers in every image) and
 * refuses an image listed twice. */
static int check_set(FrFeatureSet *s, FrError *err)
{
    if (s->n == 0)
        return fr_error(err, FR_E_FORMAT, "%s: lists no tensors", s->source);
    const FrFeatureImage *im0 = &s->images[0];
    for (size_t i = 0; i < s->n; i++) {
        FrFeatureImage *im = &s->images[i];
        if (im->n != im0->n)
            return where(s, &im->files[0], err, FR_E_FORMAT,
                         im->n < im0->n ? "this image has fewer tensors than the first image"
                                        : "this image has more tensors than the first image");
        for (int k = 0; k < im->n; k++) {
            FrFeatureFile *f = &im->files[k];
            if (strcmp(f->layer, im0->files[k].layer)) {
                char msg[700];
                snprintf(msg, sizeof msg, "layer '%s' where the first image has '%s' (every image "
                         "needs the same cut set in the same order)", f->layer,
                         im0->files[k].layer);
                return where(s, f, err, FR_E_FORMAT, msg);
            }
            FrTensor t = {0};
            FrError e2 = {0};
            int rc = fr_npy_read(f->path, &t, &e2);
            if (rc)
                return where(s, f, err, rc == FR_E_NOENT ? FR_E_NOENT : FR_E_FORMAT, e2.msg);
            if (f->c && (t.c != f->c || t.h != f->h || t.w != f->w)) {
                char msg[300];
                snprintf(msg, sizeof msg, "the list says %d %d %d, the file holds %dx%dx%d",
                         f->c, f->h, f->w, t.c, t.h, t.w);
                fr_tensor_free(&t);
                return where(s, f, err, FR_E_FORMAT, msg);
            }
            f->c = t.c;
            f->h = t.h;
            f->w = t.w;
            s->bytes += fr_tensor_size(&t) * sizeof(float);
            fr_tensor_free(&t);
        }
    }
    const FrFeatureImage **v = malloc(s->n * sizeof *v);
    if (!v)
        return fr_error(err, FR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < s->n; i++)
        v[i] = &s->images[i];
    qsort(v, s->n, sizeof *v, cmp_image);
    int rc = 0;
    for (size_t i = 1; i < s->n && !rc; i++)
        if (!strcmp(v[i - 1]->image, v[i]->image)) {
            const FrFeatureImage *later = v[i] > v[i - 1] ? v[i] : v[i - 1];
            rc = where(s, &later->files[0], err, FR_E_FORMAT,
                       "this image's tensors are listed again after other images (list each "
                       "image's tensors on consecutive lines)");
        }
    free(v);
    return rc;
}

int fr_feature_set_read(const FrExperiment *e, FrFeatureSet *s, FrError *err)
{
    memset(s, 0, sizeof *s);
    const FrFeaturesSpec *fs = fr_experiment_kind_settings(e);
    Reader rd = {s, 0, fs->limit};
    char hsplit[256] = "", hlayer[256] = "", src[4200];
    int rc;
    if (fs->list) {
        snprintf(src, sizeof src, "%s", fs->list);
        s->source = dupstr(src);
        rc = read_list(&rd, fs->list, hsplit, hlayer, err);
    } else {
        snprintf(src, sizeof src, "%s/features.txt", fs->dir);
        struct stat st;
        if (stat(src, &st) == 0) {
            s->source = dupstr(src);
            rc = read_list(&rd, src, hsplit, hlayer, err);
        } else {
            s->source = dupstr(fs->dir);
            rc = read_dir(&rd, fs->dir, err);
        }
    }
    if (!s->source && !rc)
        rc = fr_error(err, FR_E_NOMEM, "out of memory");
    if (!rc)
        rc = check_set(s, err);
    if (rc) {
        fr_feature_set_free(s);
        return rc;
    }
    const FrFeatureImage *im0 = &s->images[0];
    const char *last = im0->files[im0->n - 1].layer;
    if (fs->split)
        snprintf(s->split, sizeof s->split, "%s", fs->split);
    else if (hsplit[0])
        snprintf(s->split, sizeof s->split, "%s", hsplit);
    else
        snprintf(s->split, sizeof s->split, "%s", last[0] ? last : "features");
    if (hlayer[0] && !fs->split)
        snprintf(s->layer, sizeof s->layer, "%s", hlayer);
    else
        snprintf(s->layer, sizeof s->layer, "%s", last[0] ? last : s->split);
    for (int k = 0; k < im0->n; k++) {
        size_t l = strlen(s->cut);
        const char *ly = im0->files[k].layer[0] ? im0->files[k].layer : s->layer;
        snprintf(s->cut + l, sizeof s->cut - l, "%s%s", k ? "+" : "", ly);
    }
    return 0;
}

void fr_feature_set_free(FrFeatureSet *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->images[i].image);
        for (int k = 0; k < s->images[i].n; k++) {
            free(s->images[i].files[k].path);
            free(s->images[i].files[k].rel);
            free(s->images[i].files[k].layer);
        }
    }
    free(s->images);
    free(s->source);
    memset(s, 0, sizeof *s);
}

int fr_feature_set_list(const FrFeatureSet *s, FrImageList *list, FrError *err)
{
    memset(list, 0, sizeof *list);
    list->items = calloc(s->n ? s->n : 1, sizeof *list->items);
    list->list_path = dupstr(s->source);
    if (!list->items || !list->list_path) {
        fr_image_list_free(list);
        return fr_error(err, FR_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < s->n; i++) {
        FrImageEntry *it = &list->items[i];
        it->path = dupstr(s->images[i].image);
        it->given = dupstr(s->images[i].image);
        it->line = (int)i + 1;
        list->n = i + 1;
        if (!it->path || !it->given) {
            fr_image_list_free(list);
            return fr_error(err, FR_E_NOMEM, "out of memory");
        }
    }
    return 0;
}

int fr_feature_set_write_index(const FrFeatureSet *s, const char *dir, FrError *err)
{
    FrText t = {0};
    fr_text_printf(&t, "# file image layer C H W (featrd run, kind features: the decoded "
                       "tensors of one point)\n# split: %s (layer %s)\n", s->split, s->layer);
    for (size_t i = 0; i < s->n; i++)
        for (int k = 0; k < s->images[i].n; k++) {
            const FrFeatureFile *f = &s->images[i].files[k];
            fr_text_printf(&t, "%s %s %s %d %d %d\n", f->rel, s->images[i].image,
                           f->layer[0] ? f->layer : "-", f->c, f->h, f->w);
        }
    char path[4400];
    snprintf(path, sizeof path, "%s/features.txt", dir);
    int rc = fr_text_write_atomic(&t, path, err);
    fr_text_free(&t);
    return rc;
}
