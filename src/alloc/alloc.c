/* alloc.c: per-channel QP allocation (seed 004): the QP formula, the
 * sensitivity measurement of Algorithm 1 and the sensitivity cache. No outside
 * library headers; the network and the codec are reached through featrd's own
 * model and codec modules. */
#define _POSIX_C_SOURCE 200809L
#include "featrd.h"
#include "alloc/alloc_internal.h"
#include "alloc/alloc.h"
#include "codec/codec.h"
#include "model/model.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------- the formula ---------------- */

int fr_alloc_normalize(const double *s, int n, double *norm, FrError *err)
{
    if (n < 1 || !s || !norm)
        return fr_error(err, FR_E_USAGE, "sensitivity normalisation needs at least one channel");
    double lo = s[0], hi = s[0];
    for (int i = 0; i < n; i++) {
        if (!isfinite(s[i]))
            return fr_error(err, FR_E_USAGE,
                            "sensitivity of channel %d is %g: the back half produced a "
                            "non-finite output (check the weights)", i, s[i]);
        if (s[i] < lo)
            lo = s[i];
        if (s[i] > hi)
            hi = s[i];
    }
    double span = hi - lo;
    for (int i = 0; i < n; i++)
        norm[i] = span > 0 ? (s[i] - lo) / span : 0.0;
    return FR_OK;
}

long fr_alloc_round(double x)
{
    return x < 0 ? -(long)floor(-x + 0.5) : (long)floor(x + 0.5);
}

int fr_alloc_qps(const double *s, int n, int qp_base, int qp_range, int *qps, FrError *err)
{
    if (qp_base < FR_QP_MIN || qp_base > FR_QP_MAX)
        return fr_error(err, FR_E_USAGE, "qp_base %d is outside %d..%d", qp_base, FR_QP_MIN,
                        FR_QP_MAX);
    if (qp_range < 0)
        return fr_error(err, FR_E_USAGE, "qp_range %d is negative: it is how many QP steps "
                        "the most sensitive channel gets below qp_base", qp_range);
    double *norm = malloc((size_t)(n > 0 ? n : 1) * sizeof *norm);
    if (!norm)
        return fr_error(err, FR_E_NOMEM, "out of memory for %d sensitivities", n);
    int rc = fr_alloc_normalize(s, n, norm, err);
    if (rc == FR_OK) {
        for (int i = 0; i < n; i++) {
            long q = qp_base - fr_alloc_round((double)qp_range * norm[i]);
            qps[i] = q < FR_QP_MIN ? FR_QP_MIN : q > FR_QP_MAX ? FR_QP_MAX : (int)q;
        }
    }
    free(norm);
    return rc;
}

void fr_alloc_uniform(int *qps, int n, int qp)
{
    for (int i = 0; i < n; i++)
        qps[i] = qp;
}

int fr_alloc_mean(const double *s, int nimages, int n, double *mean, FrError *err)
{
    if (nimages < 1 || n < 1)
        return fr_error(err, FR_E_USAGE,
                        "data-set sensitivity needs at least one calibration image");
    for (int i = 0; i < n; i++) {
        double acc = 0;
        for (int k = 0; k < nimages; k++)
            acc += s[(size_t)k * (size_t)n + (size_t)i];
        mean[i] = acc / nimages;
    }
    return FR_OK;
}

/* ---------------- sensitivity measurement ---------------- */

int fr_alloc_channels(const FrTensor *cuts, int ncuts)
{
    int n = 0;
    for (int t = 0; t < ncuts; t++)
        n += cuts[t].c;
    return n;
}

static int has_weights(const char *type)
{
    return !strcmp(type, "conv") || !strcmp(type, "convolutional") ||
           !strcmp(type, "connected") || !strcmp(type, "local") || !strcmp(type, "deconv");
}

int fr_alloc_sens_layer(const FrModel *m, int split, FrSensLayer which, const char *name,
                        int *layer, FrError *err)
{
    int count = fr_model_layer_count(m);
    FrLayerInfo li;
    int idx = -1;
    const char *what = "";
    switch (which) {
    case FR_SENS_FINAL:
        idx = count - 1;
        what = "final";
        break;
    case FR_SENS_PENULTIMATE: {
        int last = -1;
        for (int i = count - 1; i >= 0 && last < 0; i--)
            if (fr_model_layer_info(m, i, &li) == FR_OK && has_weights(li.type))
                last = i;
        if (last < 1)
            return fr_error(err, FR_E_USAGE,
                            "%s: sensitivity.layer penultimate: the network has no final "
                            "classifier (conv or connected layer) with a layer before it; "
                            "use sensitivity.layer: final or a layer name",
                            fr_model_cfg_path(m));
        idx = last - 1;
        what = "penultimate";
        break;
    }
    case FR_SENS_NAMED: {
        if (!name || !*name)
            return fr_error(err, FR_E_USAGE, "sensitivity.layer: no layer name given");
        int rc = fr_model_find_layer(m, name, &idx, err);
        if (rc != FR_OK)
            return rc;
        what = name;
        break;
    }
    default:
        return fr_error(err, FR_E_USAGE, "sensitivity.layer: unknown kind %d", (int)which);
    }
    if (idx <= split) {
        char sname[64] = "?", lname[64] = "?";
        if (fr_model_layer_info(m, split, &li) == FR_OK)
            snprintf(sname, sizeof sname, "%s", li.name);
        if (fr_model_layer_info(m, idx, &li) == FR_OK)
            snprintf(lname, sizeof lname, "%s", li.name);
        return fr_error(err, FR_E_USAGE,
                        "%s: sensitivity.layer %s is %s (%d), which is not after the split "
                        "%s (%d): the back half never computes it; use sensitivity.layer: "
                        "final or a layer after the split",
                        fr_model_cfg_path(m), what, lname, idx, sname, split);
    }
    *layer = idx;
    return FR_OK;
}

static double mse_f(const float *a, const float *b, size_t n)
{
    double acc = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        acc += d * d;
    }
    return n ? acc / (double)n : 0.0;
}

/* Bits of each channel's own frame in a frames-packed HEVC container: the
 * slice NAL units (with their start codes), one per frame in coding order,
 * frame k = channel k of its cut tensor. Parameter sets and SEI are shared by
 * all channels and left out. rates has n entries (channels across the cuts). */
int fr_alloc_frame_rates_(const uint8_t *frd, size_t len, double *rates, int n, FrError *err)
{
    FrFeatureInfo info;
    FrFeatureStream st[FR_MAX_CUTS];
    int rc = fr_feature_streams(frd, len, &info, st, err);
    if (rc)
        return rc;
    if (info.packing != FR_PACK_FRAMES || !(fr_codec_caps(info.codec) & FR_CODEC_ANNEXB))
        return fr_error(err, FR_E_USAGE,
                        "a rate per channel needs packing frames and an HEVC codec (one "
                        "Annex-B picture per channel)");
    int k = 0;
    for (int t = 0; t < info.ncuts; t++) {
        const uint8_t *p = st[t].payload;
        size_t m = st[t].payload_n, i = 0, begin = 0;
        int open = 0, vcl = 0, frames = 0;
        for (;;) {
            size_t j = i;
            int found = 0;
            for (; j + 3 <= m; j++)
                if (p[j] == 0 && p[j + 1] == 0 && p[j + 2] == 1) {
                    found = 1;
                    break;
                }
            /* a 4-byte start code's leading zero belongs to the next unit */
            size_t next = found ? (j > i && p[j - 1] == 0 ? j - 1 : j) : m;
            if (open && vcl) {
                if (k + frames >= n)
                    return fr_error(err, FR_E_INTERNAL,
                                    "rate per channel: more slices than the %d channels", n);
                rates[k + frames++] = 8.0 * (double)(next - begin);
            }
            if (!found)
                break;
            open = 1;
            begin = next;
            vcl = j + 3 < m && ((p[j + 3] >> 1) & 0x3f) < 32;
            i = j + 3;
        }
        if (frames != st[t].c)
            return fr_error(err, FR_E_INTERNAL,
                            "rate per channel: cut %d has %d slices for %d channels", t, frames,
                            st[t].c);
        k += frames;
    }
    if (k != n)
        return fr_error(err, FR_E_INTERNAL, "rate per channel: %d frames for %d channels", k, n);
    return FR_OK;
}

int fr_alloc_sensitivity(FrModel *m, int split, const FrTensor *cuts, int ncuts,
                         const FrFeatureSettings *fs, int qp_base, int layer, double *s, int n,
                         double *seconds, FrError *err)
{
    return fr_alloc_measure_(m, split, cuts, ncuts, fs, qp_base, layer, s, NULL, n, seconds, err);
}

int fr_alloc_measure_(FrModel *m, int split, const FrTensor *cuts, int ncuts,
                      const FrFeatureSettings *fs, int qp_base, int layer, double *s,
                      double *rates, int n, double *seconds, FrError *err)
{
    return fr_alloc_measure_ref_(m, split, cuts, ncuts, fs, qp_base, layer, NULL, s, rates, n,
                                 seconds, err);
}

int fr_alloc_check_(const FrTensor *cuts, int ncuts, const FrFeatureSettings *fs,
                     int qp_base, int n, FrError *err)
{
    if (ncuts < 1 || ncuts > FR_MAX_CUTS)
        return fr_error(err, FR_E_USAGE, "sensitivity: %d cut tensors (1..%d)", ncuts,
                        FR_MAX_CUTS);
    int nch = fr_alloc_channels(cuts, ncuts);
    if (n != nch)
        return fr_error(err, FR_E_USAGE,
                        "sensitivity: %d entries given for %d channels of the cut set", n, nch);
    if (!(fr_codec_caps(fs->codec) & FR_CODEC_BLOCK_QP))
        return fr_error(err, FR_E_USAGE,
                        "sensitivity allocation needs codec hevc (lossy), not %s: a lossless "
                        "coder degrades no channel", fr_codec_name(fs->codec));
    if (qp_base < FR_QP_MIN || qp_base > FR_QP_MAX)
        return fr_error(err, FR_E_USAGE, "qp_base %d is outside %d..%d", qp_base, FR_QP_MIN,
                        FR_QP_MAX);
    return FR_OK;
}

void fr_alloc_free_set_(FrTensor *set, int n)
{
    if (!set)
        return;
    for (int t = 0; t < n; t++)
        fr_tensor_free(&set[t]);
    free(set);
}

int fr_alloc_code_uniform_(const FrTensor *cuts, int ncuts, const FrFeatureSettings *fs,
                           int qp_base, double *rates, int n, FrTensor **rec_out, FrError *err)
{
    if (rec_out)
        *rec_out = NULL;
    int rc;
    /* line 3 for every channel at once: one coding of the whole feature at QP_base */
    FrFeatureSettings f = *fs;
    f.qp = qp_base;
    f.channel_qp = NULL;
    f.n_channel_qp = 0;
    /* the allocated coding pads tiles to 16 (a QP per tile needs CTU-aligned
     * tiles): measure on that same mosaic */
    if (f.packing == FR_PACK_TILE)
        f.tile_pad = 16;
    uint8_t *frd = NULL;
    size_t frd_len = 0;
    FrTensor *rec = NULL;
    int nrec = 0;
    if ((rc = fr_feature_encode(cuts, ncuts, NULL, &f, &frd, &frd_len, NULL, err)) != FR_OK)
        goto done;
    if (rates && (rc = fr_alloc_frame_rates_(frd, frd_len, rates, n, err)) != FR_OK)
        goto done;
    if (!rec_out) /* rates only */
        goto done;
    if ((rc = fr_feature_decode(frd, frd_len, &rec, &nrec, NULL, err)) != FR_OK)
        goto done;
    if (nrec != ncuts) {
        rc = fr_error(err, FR_E_INTERNAL, "sensitivity: decoded %d cut tensors, coded %d", nrec,
                      ncuts);
        goto done;
    }
    for (int t = 0; t < ncuts; t++)
        if (rec[t].c != cuts[t].c || rec[t].h != cuts[t].h || rec[t].w != cuts[t].w) {
            rc = fr_error(err, FR_E_INTERNAL, "sensitivity: decoded cut %d has another shape", t);
            goto done;
        }
    *rec_out = rec;
    rec = NULL;
done:
    fr_alloc_free_set_(rec, nrec);
    free(frd);
    return rc;
}

int fr_alloc_channels_mse_(FrModel *m, int split, int layer, const FrTensor *cuts, int ncuts,
                           const FrTensor *rec, const FrTensor *ref,
                           const FrTensor *const *prev, const double *prev_s, int nprev,
                           double *s, FrError *err)
{
    int rc = FR_OK;
    size_t nch = (size_t)fr_alloc_channels(cuts, ncuts);
    FrTensor out = {0}, work[FR_MAX_CUTS];
    memset(work, 0, sizeof work);
    for (int t = 0; t < ncuts; t++) {
        if ((rc = fr_tensor_alloc(&work[t], cuts[t].c, cuts[t].h, cuts[t].w)) != FR_OK) {
            fr_error(err, rc, "out of memory for the sensitivity work copy");
            goto done;
        }
        memcpy(work[t].data, cuts[t].data, fr_tensor_size(&cuts[t]) * sizeof(float));
    }
    /* lines 2-9 */
    int k = 0;
    for (int t = 0; t < ncuts; t++) {
        size_t plane = (size_t)cuts[t].h * (size_t)cuts[t].w;
        for (int i = 0; i < cuts[t].c; i++, k++) {
            float *dst = work[t].data + (size_t)i * plane;
            const float *deg = rec[t].data + (size_t)i * plane;
            if (!memcmp(dst, deg, plane * sizeof(float))) {
                s[k] = 0.0;
                continue;
            }
            /* the same degraded channel at another QP_base: the same back
             * half, so the same value (compared in full, not hashed) */
            int j = 0;
            while (j < nprev && memcmp(prev[j][t].data + (size_t)i * plane, deg,
                                       plane * sizeof(float)))
                j++;
            if (j < nprev) {
                s[k] = prev_s[(size_t)j * nch + (size_t)k];
                continue;
            }
            memcpy(dst, deg, plane * sizeof(float));
            if ((rc = fr_model_back_to(m, split, work, ncuts, layer, err)) != FR_OK)
                goto done;
            if ((rc = fr_model_layer_output(m, layer, &out)) != FR_OK) {
                fr_error(err, rc, "sensitivity: cannot read the output of layer %d", layer);
                goto done;
            }
            s[k] = mse_f(out.data, ref->data, fr_tensor_size(ref));
            fr_tensor_free(&out);
            memcpy(dst, cuts[t].data + (size_t)i * plane, plane * sizeof(float));
        }
    }
done:
    fr_tensor_free(&out);
    for (int t = 0; t < FR_MAX_CUTS; t++)
        fr_tensor_free(&work[t]);
    return rc;
}

int fr_alloc_reference_(FrModel *m, int split, const FrTensor *cuts, int ncuts, int layer,
                        FrTensor *ref, FrError *err)
{
    int rc = fr_model_back_to(m, split, cuts, ncuts, layer, err);
    if (rc == FR_OK && (rc = fr_model_layer_output(m, layer, ref)) != FR_OK)
        fr_error(err, rc, "sensitivity: cannot read the output of layer %d", layer);
    return rc;
}

int fr_alloc_measure_ref_(FrModel *m, int split, const FrTensor *cuts, int ncuts,
                          const FrFeatureSettings *fs, int qp_base, int layer,
                          const FrTensor *ref_in, double *s, double *rates, int n,
                          double *seconds, FrError *err)
{
    double t0 = fr_now();
    int rc = fr_alloc_check_(cuts, ncuts, fs, qp_base, n, err);
    if (rc)
        return rc;
    FrTensor ref = {0}, *rec = NULL;
    /* line 1: out_raw (given: the caller computed it once for several QPs) */
    if (s && !ref_in && (rc = fr_alloc_reference_(m, split, cuts, ncuts, layer, &ref, err)))
        goto done;
    if ((rc = fr_alloc_code_uniform_(cuts, ncuts, fs, qp_base, rates, n, s ? &rec : NULL,
                                     err)) != FR_OK)
        goto done;
    if (s && (rc = fr_alloc_channels_mse_(m, split, layer, cuts, ncuts, rec,
                                          ref_in ? ref_in : &ref, NULL, NULL, 0, s, err)))
        goto done;
    if (seconds)
        *seconds = fr_now() - t0;
done:
    fr_tensor_free(&ref);
    fr_alloc_free_set_(rec, ncuts);
    return rc;
}

/* ---------------- cache ---------------- */

size_t fr_sens_key(char *buf, size_t cap, const char *image, const char *split, int bits,
                   int qp_base, const char *extra)
{
    int len = snprintf(buf, cap, "img=%s|split=%s|bits=%d|qp=%d|%s", image ? image : "",
                       split ? split : "", bits, qp_base, extra ? extra : "");
    return len < 0 ? 0 : (size_t)len;
}

#define NBUCKETS 1024
#define DISK_MAGIC "FRSENS02"

typedef struct Entry {
    struct Entry *next;
    char *key;
    int n;
    double seconds;
    double *s;
} Entry;

struct FrSensCache {
    pthread_mutex_t lock;
    char *dir;
    size_t count;
    unsigned long tmp_counter; /* unique temporary names for concurrent writers */
    Entry *buckets[NBUCKETS];
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static int mkdir_p(const char *dir)
{
    char tmp[4096];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof tmp)
        return -1;
    memcpy(tmp, dir, len + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

int fr_sens_cache_create(FrSensCache **out, const char *dir, FrError *err)
{
    *out = NULL;
    FrSensCache *c = calloc(1, sizeof *c);
    if (!c)
        return fr_error(err, FR_E_NOMEM, "out of memory for the sensitivity cache");
    if (dir && *dir) {
        if (mkdir_p(dir) != 0) {
            free(c);
            return fr_error(err, FR_E_IO, "%s: cannot create the sensitivity cache directory: %s",
                            dir, strerror(errno));
        }
        c->dir = strdup(dir);
        if (!c->dir) {
            free(c);
            return fr_error(err, FR_E_NOMEM, "out of memory for the sensitivity cache");
        }
    }
    pthread_mutex_init(&c->lock, NULL);
    *out = c;
    return FR_OK;
}

void fr_sens_cache_destroy(FrSensCache **pc)
{
    if (!pc || !*pc)
        return;
    FrSensCache *c = *pc;
    for (int b = 0; b < NBUCKETS; b++) {
        Entry *e = c->buckets[b];
        while (e) {
            Entry *next = e->next;
            free(e->key);
            free(e->s);
            free(e);
            e = next;
        }
    }
    pthread_mutex_destroy(&c->lock);
    free(c->dir);
    free(c);
    *pc = NULL;
}

static Entry *find_locked(FrSensCache *c, const char *key, uint64_t h)
{
    for (Entry *e = c->buckets[h % NBUCKETS]; e; e = e->next)
        if (!strcmp(e->key, key))
            return e;
    return NULL;
}

/* Inserts or replaces under the lock; takes ownership of nothing. */
static int store_locked(FrSensCache *c, const char *key, uint64_t h, const double *s, int n,
                        double seconds)
{
    double *copy = malloc((size_t)n * sizeof *copy);
    if (!copy)
        return FR_E_NOMEM;
    memcpy(copy, s, (size_t)n * sizeof *copy);
    Entry *e = find_locked(c, key, h);
    if (!e) {
        e = calloc(1, sizeof *e);
        char *k = strdup(key);
        if (!e || !k) {
            free(e);
            free(k);
            free(copy);
            return FR_E_NOMEM;
        }
        e->key = k;
        e->next = c->buckets[h % NBUCKETS];
        c->buckets[h % NBUCKETS] = e;
        c->count++;
    }
    free(e->s);
    e->s = copy;
    e->n = n;
    e->seconds = seconds;
    return FR_OK;
}

static void disk_path(const FrSensCache *c, uint64_t h, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%016llx.sens", c->dir, (unsigned long long)h);
}

/* Disk file: magic, uint32 key length, uint32 n, double seconds, key bytes,
 * n doubles, uint64 FNV-1a of everything before it; native-endian (a cache,
 * not an exchange format). A file that fails any check counts as absent. */
static uint64_t fnv1a_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int disk_read(const FrSensCache *c, const char *key, uint64_t h, double *s, int n,
                     double *seconds)
{
    char path[4200];
    disk_path(c, h, path, sizeof path);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (fr_read_file(path, &buf, &len, NULL) != FR_OK)
        return 0;
    int found = 0;
    size_t klen = strlen(key);
    uint32_t fk, fn;
    double secs;
    uint64_t sum;
    size_t head = 8 + 4 + 4 + 8, body = head + klen + (size_t)n * 8;
    if (len >= head && !memcmp(buf, DISK_MAGIC, 8)) {
        memcpy(&fk, buf + 8, 4);
        memcpy(&fn, buf + 12, 4);
        memcpy(&secs, buf + 16, 8);
        if (fk == klen && fn == (uint32_t)n && len == body + 8 && !memcmp(buf + head, key, klen)) {
            memcpy(&sum, buf + body, 8);
            if (sum == fnv1a_bytes(buf, body)) {
                memcpy(s, buf + head + klen, (size_t)n * 8);
                if (seconds)
                    *seconds = secs;
                found = 1;
            }
        }
    }
    free(buf);
    return found;
}

/* Written to a unique temporary name and renamed, without fsync: a cache
 * entry lost or torn by a crash is caught by the checksum and recomputed, so
 * thousands of small entries need not each wait for the disk. */
static int disk_write(FrSensCache *c, const char *key, uint64_t h, const double *s, int n,
                      double seconds, FrError *err)
{
    size_t klen = strlen(key), head = 8 + 4 + 4 + 8, body = head + klen + (size_t)n * 8;
    uint8_t *buf = malloc(body + 8);
    if (!buf)
        return fr_error(err, FR_E_NOMEM, "out of memory writing the sensitivity cache");
    uint32_t fk = (uint32_t)klen, fn = (uint32_t)n;
    memcpy(buf, DISK_MAGIC, 8);
    memcpy(buf + 8, &fk, 4);
    memcpy(buf + 12, &fn, 4);
    memcpy(buf + 16, &seconds, 8);
    memcpy(buf + head, key, klen);
    memcpy(buf + head + klen, s, (size_t)n * 8);
    uint64_t sum = fnv1a_bytes(buf, body);
    memcpy(buf + body, &sum, 8);
    char path[4200], tmp[4300];
    disk_path(c, h, path, sizeof path);
    pthread_mutex_lock(&c->lock);
    unsigned long k = c->tmp_counter++;
    pthread_mutex_unlock(&c->lock);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%lu", path, (long)getpid(), k);
    int rc = FR_OK;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        rc = fr_error(err, FR_E_IO, "%s: cannot create a sensitivity cache file: %s", tmp,
                      strerror(errno));
    } else {
        size_t w = fwrite(buf, 1, body + 8, f);
        if (fclose(f) != 0 || w != body + 8)
            rc = fr_error(err, FR_E_IO, "%s: write failed (disk full?)", tmp);
        else if (rename(tmp, path) != 0)
            rc = fr_error(err, FR_E_IO, "%s: rename failed: %s", path, strerror(errno));
        if (rc != FR_OK)
            unlink(tmp);
    }
    free(buf);
    return rc;
}

int fr_sens_cache_get(FrSensCache *c, const char *key, double *s, int n, double *seconds)
{
    if (!c || !key || n < 1)
        return 0;
    uint64_t h = fnv1a(key);
    pthread_mutex_lock(&c->lock);
    Entry *e = find_locked(c, key, h);
    int found = 0;
    if (e && e->n == n) {
        memcpy(s, e->s, (size_t)n * sizeof *s);
        if (seconds)
            *seconds = e->seconds;
        found = 1;
    }
    pthread_mutex_unlock(&c->lock);
    if (found || !c->dir)
        return found;
    double secs = 0;
    if (!disk_read(c, key, h, s, n, &secs))
        return 0;
    if (seconds)
        *seconds = secs;
    pthread_mutex_lock(&c->lock);
    int rc = store_locked(c, key, h, s, n, secs);
    pthread_mutex_unlock(&c->lock);
    return rc == FR_OK ? 1 : rc;
}

int fr_sens_cache_put(FrSensCache *c, const char *key, const double *s, int n, double seconds,
                      FrError *err)
{
    if (!c || !key || !s || n < 1)
        return fr_error(err, FR_E_USAGE, "sensitivity cache: nothing to store");
    uint64_t h = fnv1a(key);
    pthread_mutex_lock(&c->lock);
    int rc = store_locked(c, key, h, s, n, seconds);
    pthread_mutex_unlock(&c->lock);
    if (rc != FR_OK)
        return fr_error(err, rc, "out of memory in the sensitivity cache");
    if (c->dir)
        return disk_write(c, key, h, s, n, seconds, err);
    return FR_OK;
}

size_t fr_sens_cache_count(FrSensCache *c)
{
    if (!c)
        return 0;
    pthread_mutex_lock(&c->lock);
    size_t n = c->count;
    pthread_mutex_unlock(&c->lock);
    return n;
}

/* ---------------- for the runner ---------------- */

size_t fr_alloc_key_extra(char *buf, size_t cap, const FrFeatureSettings *fs, int layer,
                          const char *model_id)
{
    /* the codec's every setting (the sensitivities depend on how it codes) */
    char cs[400] = "";
    const FrCodec *c = fr_codec_by_id((int)fs->codec);
    if (c)
        fr_codec_settings_format(c, fs->codec_settings, 1, ",", cs, sizeof cs);
    int len = snprintf(buf, cap, "range=%d,relu0=%d,pack=%d,pad=%d,codec=%s%s,layer=%d,model=%s",
                       (int)fs->range, fs->relu_min0, (int)fs->packing, fs->tile_pad,
                       c ? c->name : "?", cs, layer, model_id ? model_id : "");
    return len < 0 ? 0 : (size_t)len;
}

/* Sensitivities (s, may be NULL) and per-channel rates (rates, may be NULL)
 * of one image at one QP, from the cache or measured (and then stored). The
 * two vectors are separate entries (the rates' key ends in ",rate"), so an
 * rdopt run reuses the sensitivities a sensitivity run cached at the same QPs
 * and only codes (no back half) for the rates. *seconds: the measurement's
 * cost, cached figures included. */
int fr_alloc_cached_(FrModel *m, FrSensCache *cache, const char *image_id,
                     const char *split_name, int split, const FrTensor *cuts, int ncuts,
                     const FrFeatureSettings *fs, int qp_base, int layer, const char *model_id,
                     double *s, double *rates, int n, double *seconds, FrError *err)
{
    char extra[FR_SENS_KEY_MAX], key[FR_SENS_KEY_MAX + 256], rkey[FR_SENS_KEY_MAX + 272];
    fr_alloc_key_extra(extra, sizeof extra, fs, layer, model_id);
    if (fr_sens_key(key, sizeof key, image_id, split_name, fs->bits, qp_base, extra) >=
        sizeof key - 8)
        return fr_error(err, FR_E_USAGE, "sensitivity cache key too long for image '%s'",
                        image_id ? image_id : "");
    snprintf(rkey, sizeof rkey, "%s,rate", key);
    double secs = 0, rsecs = 0;
    int hit = s && cache ? fr_sens_cache_get(cache, key, s, n, &secs) : !s;
    int rhit = rates && cache ? fr_sens_cache_get(cache, rkey, rates, n, &rsecs) : !rates;
    if (hit < 0 || rhit < 0)
        return fr_error(err, FR_E_NOMEM, "out of memory in the sensitivity cache");
    if (!hit || !rhit) {
        double t = 0;
        int rc = fr_alloc_measure_(m, split, cuts, ncuts, fs, qp_base, layer, hit ? NULL : s,
                                   rhit ? NULL : rates, n, &t, err);
        if (rc != FR_OK)
            return rc;
        /* a failed disk write only loses the cache entry, not the result; the
         * seconds go with the sensitivities when both were measured together */
        if (!hit) {
            secs = t;
            if (cache)
                (void)fr_sens_cache_put(cache, key, s, n, secs, NULL);
        } else {
            rsecs = t;
        }
        if (!rhit && cache)
            (void)fr_sens_cache_put(cache, rkey, rates, n, hit ? rsecs : 0.0, NULL);
        if (!hit)
            rsecs = 0;
    }
    if (seconds)
        *seconds = secs + rsecs;
    return FR_OK;
}

static int cached_sensitivity(FrModel *m, FrSensCache *cache, const char *image_id,
                              const char *split_name, int split, const FrTensor *cuts, int ncuts,
                              const FrFeatureSettings *fs, int qp_base, int layer,
                              const char *model_id, double *s, int n, double *seconds,
                              FrError *err)
{
    return fr_alloc_cached_(m, cache, image_id, split_name, split, cuts, ncuts, fs, qp_base, layer,
                            model_id, s, NULL, n, seconds, err);
}

int fr_alloc_image_qps(FrModel *m, FrSensCache *cache, const char *image_id,
                       const char *split_name, int split, const FrTensor *cuts, int ncuts,
                       const FrFeatureSettings *fs, int qp_base, int qp_range, int layer,
                       const char *model_id, int *qps, int n, double *s_out,
                       double *sens_seconds, FrError *err)
{
    double *s = s_out ? s_out : malloc((size_t)(n > 0 ? n : 1) * sizeof *s);
    if (!s)
        return fr_error(err, FR_E_NOMEM, "out of memory for %d sensitivities", n);
    int rc = cached_sensitivity(m, cache, image_id, split_name, split, cuts, ncuts, fs, qp_base,
                                layer, model_id, s, n, sens_seconds, err);
    if (rc == FR_OK)
        rc = fr_alloc_qps(s, n, qp_base, qp_range, qps, err);
    if (s != s_out)
        free(s);
    return rc;
}

int fr_alloc_each_image_(FrModel *m, const char *const *images, int nimages, int split, int n,
                         const char *what, FrAllocImageFn fn, void *arg, double *seconds,
                         FrError *err)
{
    FrTensor rgb = {0}, input = {0}, cuts[FR_MODEL_MAX_CUTS];
    int ncuts = 0, rc = FR_OK;
    double total = 0;
    memset(cuts, 0, sizeof cuts);
    for (int k = 0; k < nimages && rc == FR_OK; k++) {
        double secs = 0;
        ncuts = 0;
        if ((rc = fr_model_load_image(m, images[k], &rgb, err)) == FR_OK &&
            (rc = fr_model_prepare_input(m, &rgb, &input)) != FR_OK)
            fr_error(err, rc, "%s: cannot prepare the image for the network", images[k]);
        if (rc == FR_OK && (rc = fr_model_front(m, &input, split, cuts, &ncuts, err)) == FR_OK) {
            if (fr_alloc_channels(cuts, ncuts) != n)
                rc = fr_error(err, FR_E_USAGE, "%s: %d entries given for %d channels", what, n,
                              fr_alloc_channels(cuts, ncuts));
            else
                rc = fn(arg, k, cuts, ncuts, &secs, err);
        }
        total += secs;
        for (int t = 0; t < ncuts; t++)
            fr_tensor_free(&cuts[t]);
        fr_tensor_free(&input);
        fr_tensor_free(&rgb);
    }
    if (rc == FR_OK && seconds)
        *seconds = total;
    return rc;
}

/* fr_alloc_dataset_sensitivity's measurement of image k into its row. */
typedef struct DatasetSens {
    FrModel *m;
    FrSensCache *cache;
    const char *const *images;
    const char *split_name;
    int split;
    const FrFeatureSettings *fs;
    int qp_base, layer;
    const char *model_id;
    double *all;
    int n;
} DatasetSens;

static int dataset_sens_one(void *arg, int k, const FrTensor *cuts, int ncuts, double *secs,
                            FrError *err)
{
    DatasetSens *d = arg;
    return cached_sensitivity(d->m, d->cache, d->images[k], d->split_name, d->split, cuts, ncuts,
                              d->fs, d->qp_base, d->layer, d->model_id,
                              d->all + (size_t)k * (size_t)d->n, d->n, secs, err);
}

int fr_alloc_dataset_sensitivity(FrModel *m, FrSensCache *cache, const char *const *images,
                                 int nimages, const char *split_name, int split,
                                 const FrFeatureSettings *fs, int qp_base, int layer,
                                 const char *model_id, double *s, int n, double *seconds,
                                 FrError *err)
{
    if (nimages < 1)
        return fr_error(err, FR_E_USAGE,
                        "sensitivity.scope dataset needs at least one calibration image");
    double *all = malloc((size_t)nimages * (size_t)(n > 0 ? n : 1) * sizeof *all);
    if (!all)
        return fr_error(err, FR_E_NOMEM, "out of memory for %d x %d sensitivities", nimages, n);
    DatasetSens ds = {m, cache, images, split_name, split, fs, qp_base, layer, model_id, all, n};
    int rc = fr_alloc_each_image_(m, images, nimages, split, n, "sensitivity", dataset_sens_one,
                                  &ds, seconds, err);
    if (rc == FR_OK)
        rc = fr_alloc_mean(all, nimages, n, s, err);
    free(all);
    return rc;
}

/* ---------------- the allocators (registry: allocators.c) ---------------- */

const FrAllocator fr_allocator_uniform = {
    {"uniform", 0, 0, 0, "one QP for every channel (the entry's qp list)"}, NULL, NULL};

static int sensitivity_image_qps(const FrAllocJob *j, int *qps, int n, FrAllocStats *st,
                                 FrError *err)
{
    return fr_alloc_image_qps(j->m, j->cache, j->image, j->split_name, j->split, j->cuts,
                              j->ncuts, j->fs, j->qp_base, j->qp_range, j->layer, j->model_id,
                              qps, n, NULL, &st->seconds, err);
}

static int sensitivity_dataset_qps(const FrAllocJob *j, int *qps, int n, FrAllocStats *st,
                                   FrError *err)
{
    double *s = calloc((size_t)n + 1, sizeof *s);
    if (!s)
        return fr_error(err, FR_E_NOMEM, "out of memory");
    int rc = fr_alloc_dataset_sensitivity(j->m, j->cache, j->images, j->nimages, j->split_name,
                                          j->split, j->fs, j->qp_base, j->layer, j->model_id, s,
                                          n, &st->seconds, err);
    if (!rc)
        rc = fr_alloc_qps(s, n, j->qp_base, j->qp_range, qps, err);
    free(s);
    return rc;
}

const FrAllocator fr_allocator_sensitivity = {
    {"sensitivity", 1, 1, 0,
     "seed 004 Algorithm 1: QP_i = qp_base - round(qp_range * S_i), S_i the channel's "
     "measured sensitivity"},
    sensitivity_image_qps, sensitivity_dataset_qps};
