/* fmnist.c: Fashion-MNIST reader and the demo data generator (fmnist-det
 * scenes, fmnist-cls images, names and lists). The gzipped idx files are
 * read whole through the zlib adapter (fr_gzip_read_file); images are written by
 * fr_model_write_png (darknet's stb writer, src/model/model_image.c). Randomness comes from
 * a private splitmix64 stream, never rand(), so output depends on the seed only. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "featrd/demo.h"

#include "codec/codec_internal.h"
#include "demo/demo.h"
#include "model/model.h"

struct FrFmnist {
    int n;
    uint8_t *pix;   /* n × 784 */
    uint8_t *label; /* n */
};

static const char *const class_names[FR_DEMO_CLASSES] = {
    "top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot",
};

const char *fr_demo_class_name(int cls)
{
    return cls >= 0 && cls < FR_DEMO_CLASSES ? class_names[cls] : NULL;
}

/* ---------------- idx reading ---------------- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads a whole gzipped idx file: checks the magic (type ubyte, ndim dims)
 * and returns the payload and the first dimension. */
static int read_idx(const char *path, int ndim, int *count, uint8_t **data, size_t want_per,
                    FrError *err)
{
    *data = NULL;
    struct stat st;
    if (stat(path, &st) != 0)
        return fr_error(err, FR_E_NOENT,
                        "%s: no such file (install Debian's dataset-fashion-mnist or pass "
                        "--fmnist DIR)", path);
    uint8_t *raw = NULL;
    size_t rn = 0;
    int rc = fr_gzip_read_file(path, (size_t)64 << 20, &raw, &rn, err);
    if (rc)
        return rc;
    int hlen = 4 + 4 * ndim;
    uint8_t *hdr = raw;
    if (rn < (size_t)hlen) {
        rc = fr_error(err, FR_E_FORMAT, "%s: truncated idx header", path);
        goto done;
    }
    if (hdr[0] != 0 || hdr[1] != 0 || hdr[2] != 0x08 || hdr[3] != ndim) {
        rc = fr_error(err, FR_E_FORMAT, "%s: not an idx file of unsigned bytes with %d dimensions",
                      path, ndim);
        goto done;
    }
    uint32_t n = be32(hdr + 4);
    size_t per = 1;
    for (int d = 1; d < ndim; d++)
        per *= be32(hdr + 4 + 4 * d);
    if (per != want_per || n == 0 || n > 1000000) {
        rc = fr_error(err, FR_E_FORMAT, "%s: unexpected shape (%u items of %zu bytes)", path, n,
                      per);
        goto done;
    }
    size_t len = (size_t)n * per;
    if (rn - (size_t)hlen < len) {
        rc = fr_error(err, FR_E_FORMAT, "%s: truncated (%zu of %zu payload bytes)", path,
                      rn - (size_t)hlen, len);
        goto done;
    }
    memmove(raw, raw + hlen, len);
    *count = (int)n;
    *data = raw;
    raw = NULL;
done:
    free(raw);
    return rc;
}

int fr_fmnist_open(FrFmnist **out, const char *dir, const char *split, FrError *err)
{
    *out = NULL;
    if (!dir)
        dir = FR_FMNIST_DIR;
    const char *pre;
    if (split && strcmp(split, "train") == 0)
        pre = "train";
    else if (split && strcmp(split, "test") == 0)
        pre = "t10k";
    else
        return fr_error(err, FR_E_USAGE, "Fashion-MNIST split must be \"train\" or \"test\", not \"%s\"",
                        split ? split : "(null)");
    FrFmnist *ds = calloc(1, sizeof *ds);
    if (!ds)
        return fr_error(err, FR_E_NOMEM, "out of memory");
    char path[PATH_MAX];
    int nimg = 0, nlab = 0, rc;
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, pre);
    if ((rc = read_idx(path, 3, &nimg, &ds->pix, 784, err)) != 0)
        goto fail;
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", dir, pre);
    if ((rc = read_idx(path, 1, &nlab, &ds->label, 1, err)) != 0)
        goto fail;
    if (nimg != nlab) {
        rc = fr_error(err, FR_E_FORMAT, "%s: %d labels for %d images", path, nlab, nimg);
        goto fail;
    }
    for (int i = 0; i < nlab; i++)
        if (ds->label[i] >= FR_DEMO_CLASSES) {
            rc = fr_error(err, FR_E_FORMAT, "%s: label %d of item %d is out of range 0..9", path,
                          ds->label[i], i);
            goto fail;
        }
    ds->n = nimg;
    *out = ds;
    return 0;
fail:
    fr_fmnist_close(&ds);
    return rc;
}

void fr_fmnist_close(FrFmnist **ds)
{
    if (!ds || !*ds)
        return;
    free((*ds)->pix);
    free((*ds)->label);
    free(*ds);
    *ds = NULL;
}

int fr_fmnist_count(const FrFmnist *ds) { return ds->n; }
int fr_fmnist_label(const FrFmnist *ds, int i) { return ds->label[i]; }
const uint8_t *fr_fmnist_pixels(const FrFmnist *ds, int i) { return ds->pix + (size_t)i * 784; }

/* ---------------- randomness ---------------- */

typedef struct Rng {
    uint64_t s;
} Rng;

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static Rng rng_for(uint64_t seed, uint64_t stream, uint64_t index)
{
    uint64_t s = seed;
    uint64_t a = splitmix64(&s);
    s = a ^ (stream * 0xD1B54A32D192ED03ull);
    uint64_t b = splitmix64(&s);
    s = b ^ (index * 0x8CB92BA72F3D8DD7ull);
    splitmix64(&s);
    return (Rng){s};
}

static uint64_t rng_u64(Rng *r) { return splitmix64(&r->s); }
/* Uniform in [0, 1) with 24 bits, exactly representable as float. */
static float rng_f(Rng *r) { return (float)(rng_u64(r) >> 40) * (1.0f / 16777216.0f); }
static int rng_int(Rng *r, int lo, int hi) /* inclusive */
{
    return lo + (int)(rng_u64(r) % (uint64_t)(hi - lo + 1));
}

/* ---------------- scene rendering ---------------- */

static uint8_t to_u8(float v)
{
    if (v <= 0.0f)
        return 0;
    if (v >= 1.0f)
        return 255;
    return (uint8_t)(v * 255.0f + 0.5f);
}

static float smooth(float t) { return t * t * (3.0f - 2.0f * t); }

/* Adds value noise (a random lattice every `cell` pixels, smoothstep-blended)
 * of amplitude amp to one channel. */
static int add_value_noise(float *plane, int size, int cell, float amp, Rng *r)
{
    int g = size / cell + 2;
    float *lat = malloc((size_t)g * g * sizeof *lat);
    if (!lat)
        return -1;
    for (int i = 0; i < g * g; i++)
        lat[i] = rng_f(r) * 2.0f - 1.0f;
    for (int y = 0; y < size; y++) {
        int gy = y / cell;
        float ty = smooth((float)(y % cell) / (float)cell);
        for (int x = 0; x < size; x++) {
            int gx = x / cell;
            float tx = smooth((float)(x % cell) / (float)cell);
            float a = lat[gy * g + gx], b = lat[gy * g + gx + 1];
            float c = lat[(gy + 1) * g + gx], d = lat[(gy + 1) * g + gx + 1];
            float top = a + (b - a) * tx, bot = c + (d - c) * tx;
            plane[y * size + x] += amp * (top + (bot - top) * ty);
        }
    }
    free(lat);
    return 0;
}

/* Bilinear resample of a 28×28 item to s×s (pixel centres aligned). */
static void resample(const uint8_t *src, int s, float *dst)
{
    for (int y = 0; y < s; y++) {
        float fy = ((float)y + 0.5f) * 28.0f / (float)s - 0.5f;
        if (fy < 0)
            fy = 0;
        int y0 = (int)fy;
        if (y0 > 26)
            y0 = 26;
        float ty = fy - (float)y0;
        if (ty > 1)
            ty = 1;
        for (int x = 0; x < s; x++) {
            float fx = ((float)x + 0.5f) * 28.0f / (float)s - 0.5f;
            if (fx < 0)
                fx = 0;
            int x0 = (int)fx;
            if (x0 > 26)
                x0 = 26;
            float tx = fx - (float)x0;
            if (tx > 1)
                tx = 1;
            float a = src[y0 * 28 + x0], b = src[y0 * 28 + x0 + 1];
            float c = src[(y0 + 1) * 28 + x0], d = src[(y0 + 1) * 28 + x0 + 1];
            float top = a + (b - a) * tx, bot = c + (d - c) * tx;
            dst[y * s + x] = (top + (bot - top) * ty) / 255.0f;
        }
    }
}

static int overlap_area(const FrDemoItem *a, const FrDemoItem *b)
{
    int w = (a->x1 < b->x1 ? a->x1 : b->x1) - (a->x0 > b->x0 ? a->x0 : b->x0);
    int h = (a->y1 < b->y1 ? a->y1 : b->y1) - (a->y0 > b->y0 ? a->y0 : b->y0);
    return w > 0 && h > 0 ? w * h : 0;
}

void fr_demo_scene_free(FrDemoScene *sc)
{
    if (!sc)
        return;
    free(sc->rgb);
    free(sc->mask);
    memset(sc, 0, sizeof *sc);
}

int fr_demo_scene_render(const FrFmnist *ds, uint64_t seed, int index, int size,
                         FrDemoScene *sc, FrError *err)
{
    memset(sc, 0, sizeof *sc);
    if (!ds || size < 64 || size > 1024 || index < 0)
        return fr_error(err, FR_E_USAGE, "scene size must be 64..1024 (got %d) and index >= 0",
                        size);
    Rng r = rng_for(seed, 0x5CE4E, (uint64_t)index);
    size_t np = (size_t)size * size;
    float *pl = calloc(np * 3, sizeof *pl);
    float *item = malloc((size_t)(size / 2 + 1) * (size / 2 + 1) * sizeof *item);
    sc->rgb = malloc(np * 3);
    sc->mask = calloc(np, 1);
    if (!pl || !item || !sc->rgb || !sc->mask) {
        free(pl);
        free(item);
        fr_demo_scene_free(sc);
        return fr_error(err, FR_E_NOMEM, "out of memory rendering a %d×%d scene", size, size);
    }
    sc->size = size;

    /* Background: a base colour, coarse and fine value noise per channel. */
    float bg[3];
    for (int c = 0; c < 3; c++) {
        bg[c] = 0.15f + 0.45f * rng_f(&r);
        float *p = pl + (size_t)c * np;
        for (size_t i = 0; i < np; i++)
            p[i] = bg[c];
    }
    int coarse = size / 4, fine = size / 16 > 2 ? size / 16 : 2;
    for (int c = 0; c < 3; c++) {
        if (add_value_noise(pl + (size_t)c * np, size, coarse, 0.12f, &r) ||
            add_value_noise(pl + (size_t)c * np, size, fine, 0.06f, &r)) {
            free(pl);
            free(item);
            fr_demo_scene_free(sc);
            return fr_error(err, FR_E_NOMEM, "out of memory rendering a scene");
        }
    }

    /* Items: sizes 28..64 px at 128 (scaled with the scene), placed so a
     * new box covers at most 15% of an earlier one and vice versa. */
    int want = rng_int(&r, 1, FR_DEMO_MAX_ITEMS);
    int smin = size * 28 / 128, smax = size / 2;
    for (int k = 0; k < want; k++) {
        int src = (int)(rng_u64(&r) % (uint64_t)fr_fmnist_count(ds));
        int s = rng_int(&r, smin, smax);
        resample(fr_fmnist_pixels(ds, src), s, item);
        int bx0 = s, by0 = s, bx1 = 0, by1 = 0;
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++)
                if (to_u8(item[y * s + x]) >= FR_DEMO_INK) {
                    if (x < bx0) bx0 = x;
                    if (y < by0) by0 = y;
                    if (x + 1 > bx1) bx1 = x + 1;
                    if (y + 1 > by1) by1 = y + 1;
                }
        /* colour: far enough from the background mean to be seen */
        float col[3];
        for (int t = 0; t < 16; t++) {
            float d = 0;
            for (int c = 0; c < 3; c++) {
                col[c] = rng_f(&r);
                d += (col[c] - bg[c]) * (col[c] - bg[c]);
            }
            if (d >= 0.25f)
                break;
        }
        int placed = 0, ox = 0, oy = 0;
        FrDemoItem it = {0};
        for (int t = 0; t < 20 && !placed && bx1 > bx0; t++) {
            ox = rng_int(&r, -bx0, size - bx1);
            oy = rng_int(&r, -by0, size - by1);
            it = (FrDemoItem){fr_fmnist_label(ds, src), src, ox + bx0, oy + by0, ox + bx1,
                              oy + by1};
            placed = 1;
            for (int j = 0; j < sc->n; j++) {
                int ov = overlap_area(&it, &sc->items[j]);
                int a1 = (it.x1 - it.x0) * (it.y1 - it.y0);
                int a2 = (sc->items[j].x1 - sc->items[j].x0) * (sc->items[j].y1 - sc->items[j].y0);
                if (ov * 100 > a1 * 15 || ov * 100 > a2 * 15)
                    placed = 0;
            }
        }
        if (!placed)
            continue;
        for (int y = 0; y < s; y++) {
            int py = oy + y;
            if (py < 0 || py >= size)
                continue;
            for (int x = 0; x < s; x++) {
                int px = ox + x;
                if (px < 0 || px >= size)
                    continue;
                float a = item[y * s + x];
                size_t p = (size_t)py * size + px;
                for (int c = 0; c < 3; c++)
                    pl[c * np + p] = pl[c * np + p] * (1.0f - a) + col[c] * a;
                if (to_u8(a) >= FR_DEMO_INK)
                    sc->mask[p] = (uint8_t)(sc->n + 1);
            }
        }
        sc->items[sc->n++] = it;
    }
    free(item);

    /* Sensor-like noise, then 8 bits. */
    for (size_t i = 0; i < np; i++)
        for (int c = 0; c < 3; c++) {
            float v = pl[c * np + i] + (rng_f(&r) - 0.5f) * 0.08f;
            sc->rgb[i * 3 + c] = to_u8(v);
        }
    free(pl);
    return 0;
}

/* ---------------- files ---------------- */

static int mkdirs(const char *path, FrError *err)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
                return fr_error(err, FR_E_IO, "%s: cannot create directory: %s", tmp, strerror(errno));
            *p = '/';
        }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
        return fr_error(err, FR_E_IO, "%s: cannot create directory: %s", tmp, strerror(errno));
    return 0;
}

/* A growing text buffer for lists and label files. */
typedef struct Text {
    char *s;
    size_t n, cap;
} Text;

static int text_add(Text *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#include <stdarg.h>
static int text_add(Text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (t->n + (size_t)need + 1 > t->cap) {
        size_t cap = (t->cap ? t->cap * 2 : 4096) + (size_t)need;
        char *s = realloc(t->s, cap);
        if (!s)
            return FR_E_NOMEM;
        t->s = s;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->n, (size_t)need + 1, fmt, ap);
    va_end(ap);
    t->n += (size_t)need;
    return 0;
}

static int text_write(Text *t, const char *path, FrError *err)
{
    return fr_write_file_atomic(path, t->s ? t->s : "", t->n, err);
}

static int write_names(const char *path, FrError *err)
{
    Text t = {0};
    for (int c = 0; c < FR_DEMO_CLASSES; c++)
        if (text_add(&t, "%s\n", class_names[c])) {
            free(t.s);
            return fr_error(err, FR_E_NOMEM, "out of memory");
        }
    int rc = text_write(&t, path, err);
    free(t.s);
    return rc;
}

static void progress(const FrDemoDataSettings *s, const char *what, int i, int n)
{
    if (s->quiet)
        return;
    /* redrawn in place on a terminal; whole lines into a file or pipe */
    int tty = isatty(2);
    if (i + 1 == n || (i + 1) % (tty ? 500 : 5000) == 0)
        fprintf(stderr, "%sfeatrd data: %s %d/%d%s", tty ? "\r" : "", what, i + 1, n,
                i + 1 == n || !tty ? "\n" : "");
}

static int gen_det(const FrDemoDataSettings *s, const char *root, const FrFmnist *ds,
                   const char *split, int count, FrError *err)
{
    char dir[PATH_MAX], path[PATH_MAX];
    int rc;
    snprintf(dir, sizeof dir, "%s/images/%s", root, split);
    if ((rc = mkdirs(dir, err)))
        return rc;
    snprintf(dir, sizeof dir, "%s/labels/%s", root, split);
    if ((rc = mkdirs(dir, err)))
        return rc;
    Text list = {0}, lab = {0};
    /* train and test scenes are different streams of the same seed */
    uint64_t seed = s->seed ^ (strcmp(split, "test") == 0 ? 0x7E57ull << 32 : 0);
    FrDemoScene sc;
    for (int i = 0; i < count; i++) {
        if ((rc = fr_demo_scene_render(ds, seed, i, s->det_size, &sc, err)))
            goto done;
        snprintf(path, sizeof path, "%s/images/%s/%06d.png", root, split, i);
        rc = fr_model_write_png(path, sc.rgb, sc.size, sc.size, 3, err);
        if (!rc && text_add(&list, "%s\n", path))
            rc = fr_error(err, FR_E_NOMEM, "out of memory");
        lab.n = 0;
        for (int k = 0; k < sc.n && !rc; k++) {
            const FrDemoItem *it = &sc.items[k];
            double S = sc.size;
            if (text_add(&lab, "%d %.6f %.6f %.6f %.6f\n", it->cls, (it->x0 + it->x1) / (2 * S),
                         (it->y0 + it->y1) / (2 * S), (it->x1 - it->x0) / S, (it->y1 - it->y0) / S))
                rc = fr_error(err, FR_E_NOMEM, "out of memory");
        }
        fr_demo_scene_free(&sc);
        if (rc)
            goto done;
        snprintf(path, sizeof path, "%s/labels/%s/%06d.txt", root, split, i);
        if ((rc = text_write(&lab, path, err)))
            goto done;
        progress(s, split[1] == 'r' ? "fmnist-det train" : "fmnist-det test", i, count);
    }
    snprintf(path, sizeof path, "%s/%s.list", root, split);
    rc = text_write(&list, path, err);
done:
    free(list.s);
    free(lab.s);
    return rc;
}

static int gen_cls(const FrDemoDataSettings *s, const char *root, const FrFmnist *ds,
                   const char *split, int count, FrError *err)
{
    char dir[PATH_MAX], path[PATH_MAX];
    int rc;
    snprintf(dir, sizeof dir, "%s/%s", root, split);
    if ((rc = mkdirs(dir, err)))
        return rc;
    if (count > fr_fmnist_count(ds))
        count = fr_fmnist_count(ds);
    int S = s->cls_size;
    float *f = malloc((size_t)S * S * sizeof *f);
    uint8_t *rgb = malloc((size_t)S * S * 3);
    Text list = {0};
    if (!f || !rgb) {
        rc = fr_error(err, FR_E_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < count; i++) {
        resample(fr_fmnist_pixels(ds, i), S, f);
        for (int p = 0; p < S * S; p++)
            rgb[3 * p] = rgb[3 * p + 1] = rgb[3 * p + 2] = to_u8(f[p]);
        snprintf(path, sizeof path, "%s/%s/%05d_%s.png", root, split, i,
                 class_names[fr_fmnist_label(ds, i)]);
        if ((rc = fr_model_write_png(path, rgb, S, S, 3, err)))
            goto done;
        if (text_add(&list, "%s\n", path)) {
            rc = fr_error(err, FR_E_NOMEM, "out of memory");
            goto done;
        }
        progress(s, split[1] == 'r' ? "fmnist-cls train" : "fmnist-cls test", i, count);
    }
    snprintf(path, sizeof path, "%s/%s.list", root, split);
    rc = text_write(&list, path, err);
done:
    free(f);
    free(rgb);
    free(list.s);
    return rc;
}

void fr_demo_data_defaults(FrDemoDataSettings *s)
{
    memset(s, 0, sizeof *s);
    s->out_dir = "data";
    s->fmnist_dir = NULL;
    s->seed = 1;
    s->det_train = 4000;
    s->det_test = 500;
    s->det_size = 128;
    s->cls_train = 20000;
    s->cls_test = 10000;
    s->cls_size = 32;
}

int fr_demo_data_generate(const FrDemoDataSettings *s, FrError *err)
{
    if (!s->out_dir || !*s->out_dir)
        return fr_error(err, FR_E_USAGE, "no output directory given");
    if (s->det_train < 0 || s->det_test < 0 || s->cls_train < 0 || s->cls_test < 0)
        return fr_error(err, FR_E_USAGE, "set sizes must be >= 0");
    if (s->det_size < 64 || s->det_size > 1024 || s->det_size % 32)
        return fr_error(err, FR_E_USAGE, "detection image size must be a multiple of 32 in 64..1024, not %d",
                        s->det_size);
    if (s->cls_size < 28 || s->cls_size > 256)
        return fr_error(err, FR_E_USAGE, "classification image size must be 28..256, not %d",
                        s->cls_size);
    int rc = mkdirs(s->out_dir, err);
    if (rc)
        return rc;
    char root[PATH_MAX], sub[PATH_MAX + 32];
    if (!realpath(s->out_dir, root))
        return fr_error(err, FR_E_IO, "%s: %s", s->out_dir, strerror(errno));
    if (strlen(root) > 180)
        return fr_error(err, FR_E_USAGE,
                        "%s: output path too long for darknet (keep it under 180 characters)", root);
    FrFmnist *train = NULL, *test = NULL;
    if ((rc = fr_fmnist_open(&train, s->fmnist_dir, "train", err)) ||
        (rc = fr_fmnist_open(&test, s->fmnist_dir, "test", err)))
        goto done;
    if (s->det_train || s->det_test) {
        snprintf(sub, sizeof sub, "%s/fmnist-det", root);
        char names[PATH_MAX + 64];
        if ((rc = mkdirs(sub, err)))
            goto done;
        snprintf(names, sizeof names, "%s/fmnist.names", sub);
        if ((rc = write_names(names, err)) ||
            (s->det_train && (rc = gen_det(s, sub, train, "train", s->det_train, err))) ||
            (s->det_test && (rc = gen_det(s, sub, test, "test", s->det_test, err))))
            goto done;
    }
    if (s->cls_train || s->cls_test) {
        snprintf(sub, sizeof sub, "%s/fmnist-cls", root);
        char names[PATH_MAX + 64];
        if ((rc = mkdirs(sub, err)))
            goto done;
        snprintf(names, sizeof names, "%s/labels.txt", sub);
        if ((rc = write_names(names, err)) ||
            (s->cls_train && (rc = gen_cls(s, sub, train, "train", s->cls_train, err))) ||
            (s->cls_test && (rc = gen_cls(s, sub, test, "test", s->cls_test, err))))
            goto done;
    }
done:
    fr_fmnist_close(&train);
    fr_fmnist_close(&test);
    return rc;
}
