/* metrics.c: VOC detection AP/mAP (the devkit's matching rules), top-k and
 * argmax fidelity, rate figures and feature distortion of featrd/metrics.h. */
#define _POSIX_C_SOURCE 200809L
#include "featrd.h"
#include "metrics/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------- detection ---------------- */

typedef struct Det {
    size_t image;
    size_t seq;     /* order of arrival, breaks score ties deterministically */
    int cls;
    double score;
    FrBox box;
} Det;

struct FrMapAcc {
    FrMapSettings s;
    FrGtBox *gt;
    size_t ngt, capgt;
    size_t *gt_start;   /* [nimages + 1] offsets into gt */
    size_t nimages, capimg;
    Det *det;
    size_t ndet, capdet;
};

void fr_map_defaults(FrMapSettings *s)
{
    s->nclasses = 0;
    s->iou = 0.5;
    s->plus_one = 1;
}

int fr_map_create(FrMapAcc **out, const FrMapSettings *s, FrError *err)
{
    *out = NULL;
    if (s->nclasses <= 0)
        return fr_error(err, FR_E_USAGE, "mAP: nclasses must be > 0 (got %d)", s->nclasses);
    if (!(s->iou > 0 && s->iou <= 1))
        return fr_error(err, FR_E_USAGE, "mAP: IoU threshold must be in (0, 1] (got %g)", s->iou);
    FrMapAcc *a = calloc(1, sizeof *a);
    if (!a || !(a->gt_start = calloc(16, sizeof *a->gt_start))) {
        free(a);
        return fr_error(err, FR_E_NOMEM, "mAP: out of memory");
    }
    a->capimg = 15;
    a->s = *s;
    *out = a;
    return 0;
}

void fr_map_destroy(FrMapAcc **acc)
{
    if (!acc || !*acc)
        return;
    free((*acc)->gt);
    free((*acc)->gt_start);
    free((*acc)->det);
    free(*acc);
    *acc = NULL;
}

size_t fr_map_nimages(const FrMapAcc *acc) { return acc->nimages; }

static int reserve(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 256;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

static int box_finite(double x1, double y1, double x2, double y2)
{
    return isfinite(x1) && isfinite(y1) && isfinite(x2) && isfinite(y2);
}

int fr_map_add_image(FrMapAcc *acc, const FrGtBox *gt, size_t ngt, const FrDetection *det,
                     size_t ndet, FrError *err)
{
    for (size_t i = 0; i < ngt; i++) {
        if (gt[i].cls < 0 || gt[i].cls >= acc->s.nclasses)
            return fr_error(err, FR_E_USAGE,
                            "mAP: image %zu: ground-truth class %d outside 0..%d; check the names file "
                            "matches the labels", acc->nimages, gt[i].cls, acc->s.nclasses - 1);
        if (!box_finite(gt[i].box.x1, gt[i].box.y1, gt[i].box.x2, gt[i].box.y2))
            return fr_error(err, FR_E_USAGE, "mAP: image %zu: ground-truth box %zu is not finite",
                            acc->nimages, i);
    }
    for (size_t i = 0; i < ndet; i++) {
        if (det[i].cls < 0 || det[i].cls >= acc->s.nclasses)
            return fr_error(err, FR_E_USAGE, "mAP: image %zu: detection class %d outside 0..%d",
                            acc->nimages, det[i].cls, acc->s.nclasses - 1);
        if (!isfinite(det[i].score) || !box_finite(det[i].x1, det[i].y1, det[i].x2, det[i].y2))
            return fr_error(err, FR_E_USAGE, "mAP: image %zu: detection %zu has a non-finite score or box",
                            acc->nimages, i);
    }
    if (reserve((void **)&acc->gt, &acc->capgt, acc->ngt + ngt, sizeof *acc->gt) ||
        reserve((void **)&acc->det, &acc->capdet, acc->ndet + ndet, sizeof *acc->det) ||
        reserve((void **)&acc->gt_start, &acc->capimg, acc->nimages + 2, sizeof *acc->gt_start))
        return fr_error(err, FR_E_NOMEM, "mAP: out of memory");
    if (ngt)
        memcpy(acc->gt + acc->ngt, gt, ngt * sizeof *gt);
    acc->ngt += ngt;
    for (size_t i = 0; i < ndet; i++) {
        Det *d = &acc->det[acc->ndet];
        d->image = acc->nimages;
        d->seq = acc->ndet;
        d->cls = det[i].cls;
        d->score = det[i].score;
        d->box = (FrBox){det[i].x1, det[i].y1, det[i].x2, det[i].y2};
        acc->ndet++;
    }
    acc->nimages++;
    acc->gt_start[acc->nimages] = acc->ngt;
    return 0;
}

double fr_box_iou(const FrBox *a, const FrBox *b, int plus_one)
{
    double one = plus_one ? 1.0 : 0.0;
    double iw = fmin(a->x2, b->x2) - fmax(a->x1, b->x1) + one;
    double ih = fmin(a->y2, b->y2) - fmax(a->y1, b->y1) + one;
    if (iw <= 0 || ih <= 0)
        return 0.0;
    double inter = iw * ih;
    double ua = (a->x2 - a->x1 + one) * (a->y2 - a->y1 + one) +
                (b->x2 - b->x1 + one) * (b->y2 - b->y1 + one) - inter;
    return ua > 0 ? inter / ua : 0.0;
}

/* Precision/recall after each ranked detection, each counted w[i] times
 * (w NULL: once); returns 0 or -1 (memory). With duplicated images (a
 * bootstrap replicate) the copies of a detection tie in score and sit
 * together; one PR point at the end of the run gives the same interpolated
 * AP as one point per copy (precision rises along a run of TPs and the
 * envelope takes the run's end; a run of FPs adds no recall). */
static int pr_curve_w(const uint8_t *tp, const uint8_t *fp, const uint32_t *w, size_t n,
                      double npos, double **rec, double **prec)
{
    *rec = malloc((n ? n : 1) * sizeof **rec);
    *prec = malloc((n ? n : 1) * sizeof **prec);
    if (!*rec || !*prec) {
        free(*rec);
        free(*prec);
        return -1;
    }
    double ctp = 0, cfp = 0;
    for (size_t i = 0; i < n; i++) {
        double k = w ? (double)w[i] : 1.0;
        ctp += k * tp[i];
        cfp += k * fp[i];
        (*rec)[i] = ctp / npos;
        /* the devkit guards tp+fp == 0 (a run of ignored detections) with eps */
        (*prec)[i] = ctp / fmax(ctp + cfp, 2.220446049250313e-16);
    }
    return 0;
}

static double ap07_from_pr(const double *rec, const double *prec, size_t n)
{
    double ap = 0;
    /* Thresholds exactly as the python devkit's voc_eval.py (py-faster-rcnn,
     * darknet's reval_voc.py), which the published VOC07 numbers come from:
     * np.arange(0., 1.1, 0.1) fills k * 0.1 in double, so t is
     * 0.30000000000000004, 0.6000000000000001, 0.7000000000000001 for k = 3,
     * 6, 7 and a recall of exactly 3/10, 6/10 or 7/10 misses that threshold
     * (k / 10.0 would not). MATLAB's VOCevaldet.m (0:0.1:1) builds its colon
     * vector differently; featrd follows the python one. */
    for (int k = 0; k <= 10; k++) {
        double t = k * 0.1, p = 0;
        for (size_t i = 0; i < n; i++)
            if (rec[i] >= t && prec[i] > p)
                p = prec[i];
        ap += p;
    }
    return ap / 11.0; /* one division, so a perfect list gives exactly 1 */
}

/* VOC2010+: precision made monotone from the right, area under the steps
 * (prec is modified). */
static double apall_from_pr(const double *rec, double *prec, size_t n)
{
    for (size_t i = n; i-- > 1;)
        if (prec[i] > prec[i - 1])
            prec[i - 1] = prec[i];
    double ap = 0, prev_r = 0;
    for (size_t i = 0; i < n; i++) {
        if (rec[i] != prev_r)
            ap += (rec[i] - prev_r) * prec[i];
        prev_r = rec[i];
    }
    return ap;
}

/* AP of one unweighted ranked list: 11-point or all-point. */
static double ap_of(const uint8_t *tp, const uint8_t *fp, size_t n, size_t npos, int allpoint)
{
    if (npos == 0)
        return NAN;
    double *rec, *prec;
    if (pr_curve_w(tp, fp, NULL, n, (double)npos, &rec, &prec))
        return NAN;
    double ap = allpoint ? apall_from_pr(rec, prec, n) : ap07_from_pr(rec, prec, n);
    free(rec);
    free(prec);
    return ap;
}

double fr_ap_voc07(const uint8_t *tp, const uint8_t *fp, size_t n, size_t npos)
{
    return ap_of(tp, fp, n, npos, 0);
}

double fr_ap_allpoint(const uint8_t *tp, const uint8_t *fp, size_t n, size_t npos)
{
    return ap_of(tp, fp, n, npos, 1);
}

static int cmp_det(const void *pa, const void *pb)
{
    const Det *a = *(const Det *const *)pa, *b = *(const Det *const *)pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

void fr_map_result_free(FrMapResult *res)
{
    if (!res)
        return;
    free(res->ap07);
    free(res->ap);
    free(res->npos);
    free(res->ndet);
    memset(res, 0, sizeof *res);
}

/* The matching is done once: a detection's TP/FP/ignored status depends only
 * on the detections of its own image ranked above it, so it holds for every
 * resampling of images; what a replicate changes is only how often each
 * image counts. */
struct FrMapRanked {
    int nclasses;
    size_t nimages;
    size_t *start;      /* [nclasses + 1]: class c's detections at start[c]..start[c+1] */
    size_t *image;      /* [ndet] image of each ranked detection */
    uint8_t *tp, *fp;   /* [ndet] */
    size_t *npos;       /* [nimages * nclasses] non-difficult gt per image and class */
};

void fr_map_ranked_destroy(FrMapRanked **r)
{
    if (!r || !*r)
        return;
    free((*r)->start);
    free((*r)->image);
    free((*r)->tp);
    free((*r)->fp);
    free((*r)->npos);
    free(*r);
    *r = NULL;
}

size_t fr_map_ranked_nimages(const FrMapRanked *r) { return r->nimages; }

int fr_map_rank(const FrMapAcc *acc, FrMapRanked **out, FrError *err)
{
    *out = NULL;
    int nc = acc->s.nclasses;
    size_t nd = acc->ndet ? acc->ndet : 1;
    FrMapRanked *r = calloc(1, sizeof *r);
    const Det **order = malloc(nd * sizeof *order);
    uint8_t *used = calloc(acc->ngt ? acc->ngt : 1, 1);
    int rc = 0;
    if (r) {
        r->nclasses = nc;
        r->nimages = acc->nimages;
        r->start = calloc((size_t)nc + 1, sizeof *r->start);
        r->image = malloc(nd * sizeof *r->image);
        r->tp = malloc(nd);
        r->fp = malloc(nd);
        r->npos = calloc((acc->nimages ? acc->nimages : 1) * (size_t)nc, sizeof *r->npos);
    }
    if (!r || !order || !used || !r->start || !r->image || !r->tp || !r->fp || !r->npos) {
        rc = fr_error(err, FR_E_NOMEM, "mAP: out of memory");
        goto done;
    }
    for (size_t im = 0; im < acc->nimages; im++)
        for (size_t g = acc->gt_start[im]; g < acc->gt_start[im + 1]; g++)
            if (!acc->gt[g].difficult)
                r->npos[im * (size_t)nc + (size_t)acc->gt[g].cls]++;
    size_t pos = 0;
    for (int c = 0; c < nc; c++) {
        size_t n = 0;
        for (size_t i = 0; i < acc->ndet; i++)
            if (acc->det[i].cls == c)
                order[n++] = &acc->det[i];
        qsort(order, n, sizeof *order, cmp_det);
        memset(used, 0, acc->ngt ? acc->ngt : 1);
        r->start[c] = pos;
        for (size_t k = 0; k < n; k++, pos++) {
            const Det *d = order[k];
            double ovmax = -1;
            size_t jmax = 0;
            for (size_t g = acc->gt_start[d->image]; g < acc->gt_start[d->image + 1]; g++) {
                if (acc->gt[g].cls != c)
                    continue;
                double ov = fr_box_iou(&d->box, &acc->gt[g].box, acc->s.plus_one);
                if (ov > ovmax) {
                    ovmax = ov;
                    jmax = g;
                }
            }
            r->image[pos] = d->image;
            r->tp[pos] = r->fp[pos] = 0;
            /* VOCevaldet.m: ovmax >= minoverlap; a hit on a difficult box
             * counts as neither; a second hit on a matched box is a FP */
            if (ovmax >= acc->s.iou) {
                if (!acc->gt[jmax].difficult) {
                    if (!used[jmax]) {
                        r->tp[pos] = 1;
                        used[jmax] = 1;
                    } else {
                        r->fp[pos] = 1;
                    }
                }
            } else {
                r->fp[pos] = 1;
            }
        }
    }
    r->start[nc] = pos;
    *out = r;
    r = NULL;
done:
    free(order);
    free(used);
    fr_map_ranked_destroy(&r);
    return rc;
}

/* AP per class with image weights w (NULL: each image once); res arrays
 * filled when given. Returns 0 or FR_E_NOMEM. */
static int ranked_eval(const FrMapRanked *r, const uint32_t *w, FrMapResult *res, double *map07,
                       double *map)
{
    int nc = r->nclasses;
    size_t maxn = 1;
    for (int c = 0; c < nc; c++)
        if (r->start[c + 1] - r->start[c] > maxn)
            maxn = r->start[c + 1] - r->start[c];
    uint32_t *dw = w ? malloc(maxn * sizeof *dw) : NULL;
    if (w && !dw)
        return FR_E_NOMEM;
    double sum07 = 0, sum = 0;
    int with_gt = 0, rc = 0;
    for (int c = 0; c < nc && !rc; c++) {
        double npos = 0;
        for (size_t im = 0; im < r->nimages; im++)
            npos += (double)(w ? w[im] : 1) * (double)r->npos[im * (size_t)nc + (size_t)c];
        size_t a = r->start[c], n = r->start[c + 1] - a;
        if (res) {
            res->npos[c] = (size_t)npos;
            res->ndet[c] = n;
        }
        if (npos == 0) {
            if (res)
                res->ap07[c] = res->ap[c] = NAN;
            continue;
        }
        if (w)
            for (size_t k = 0; k < n; k++)
                dw[k] = w[r->image[a + k]];
        double *rec, *prec;
        if (pr_curve_w(r->tp + a, r->fp + a, w ? dw : NULL, n, npos, &rec, &prec)) {
            rc = FR_E_NOMEM;
            break;
        }
        double ap07 = ap07_from_pr(rec, prec, n), ap = apall_from_pr(rec, prec, n);
        free(rec);
        free(prec);
        if (res) {
            res->ap07[c] = ap07;
            res->ap[c] = ap;
        }
        sum07 += ap07;
        sum += ap;
        with_gt++;
    }
    free(dw);
    if (res)
        res->nclasses_with_gt = with_gt;
    *map07 = with_gt ? sum07 / with_gt : NAN;
    *map = with_gt ? sum / with_gt : NAN;
    return rc;
}

void fr_map_ranked_eval(const FrMapRanked *r, const uint32_t *w, double *map07, double *map)
{
    if (ranked_eval(r, w, NULL, map07, map))
        *map07 = *map = NAN;
}

int fr_map_finish(const FrMapAcc *acc, FrMapResult *res, FrError *err)
{
    int nc = acc->s.nclasses;
    memset(res, 0, sizeof *res);
    res->nclasses = nc;
    res->ap07 = calloc((size_t)nc, sizeof *res->ap07);
    res->ap = calloc((size_t)nc, sizeof *res->ap);
    res->npos = calloc((size_t)nc, sizeof *res->npos);
    res->ndet = calloc((size_t)nc, sizeof *res->ndet);
    if (!res->ap07 || !res->ap || !res->npos || !res->ndet) {
        fr_map_result_free(res);
        return fr_error(err, FR_E_NOMEM, "mAP: out of memory");
    }
    FrMapRanked *r = NULL;
    int rc = fr_map_rank(acc, &r, err);
    if (!rc && ranked_eval(r, NULL, res, &res->map07, &res->map))
        rc = fr_error(err, FR_E_NOMEM, "mAP: out of memory");
    fr_map_ranked_destroy(&r);
    if (rc)
        fr_map_result_free(res);
    return rc;
}

/* ---------------- bootstrap over images ---------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void fr_boot_counts(uint64_t seed, int b, size_t n, uint32_t *w)
{
    memset(w, 0, n * sizeof *w);
    uint64_t x = seed * 0x2545F4914F6CDD1Dull + (uint64_t)b;
    splitmix64(&x);
    for (size_t i = 0; i < n; i++) {
        /* 53 random bits → [0, 1) → an index; bias < n / 2^53 */
        double u = (double)(splitmix64(&x) >> 11) * 0x1.0p-53;
        size_t k = (size_t)(u * (double)n);
        w[k < n ? k : n - 1]++;
    }
}

double fr_boot_mean(const double *v, const uint32_t *w, size_t n)
{
    double s = 0, cnt = 0;
    for (size_t i = 0; i < n; i++) {
        double k = w ? (double)w[i] : 1.0;
        if (k == 0)
            continue;
        if (!isfinite(v[i]))
            return NAN;
        s += k * v[i];
        cnt += k;
    }
    return cnt ? s / cnt : NAN;
}

/* ---------------- classification and dense ---------------- */

long fr_argmax(const float *v, size_t n)
{
    long best = -1;
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i]) && (best < 0 || v[i] > v[best]))
            best = (long)i;
    return best;
}

int fr_topk_hit(const float *scores, size_t n, long label, int k)
{
    if (label < 0 || (size_t)label >= n || k <= 0 || isnan(scores[label]))
        return 0;
    float s = scores[label];
    long above = 0;
    for (size_t j = 0; j < n; j++)
        if (scores[j] > s || (scores[j] == s && (long)j < label))
            above++;
    return above < k;
}

void fr_cls_acc_init(FrClsAcc *a) { memset(a, 0, sizeof *a); }

void fr_cls_acc_add(FrClsAcc *a, const float *scores, const float *ref, size_t n, long label)
{
    a->n++;
    if (label >= 0) {
        a->nlabelled++;
        a->top1 += (size_t)fr_topk_hit(scores, n, label, 1);
        a->top5 += (size_t)fr_topk_hit(scores, n, label, 5);
    }
    if (ref) {
        a->nref++;
        long am = fr_argmax(scores, n);
        a->agree += (size_t)(am >= 0 && am == fr_argmax(ref, n));
    }
}

static double ratio(size_t a, size_t b) { return b ? (double)a / (double)b : NAN; }
double fr_cls_top1(const FrClsAcc *a) { return ratio(a->top1, a->nlabelled); }
double fr_cls_top5(const FrClsAcc *a) { return ratio(a->top5, a->nlabelled); }
double fr_cls_fidelity(const FrClsAcc *a) { return ratio(a->agree, a->nref); }

static long argmax_strided(const float *v, int c, size_t stride)
{
    long best = -1;
    for (int i = 0; i < c; i++) {
        float x = v[(size_t)i * stride];
        if (!isnan(x) && (best < 0 || x > v[(size_t)best * stride]))
            best = i;
    }
    return best;
}

int fr_dense_fidelity(const FrTensor *out, const FrTensor *ref, double *fid, FrError *err)
{
    if (out->c != ref->c || out->h != ref->h || out->w != ref->w)
        return fr_error(err, FR_E_MISMATCH, "dense fidelity: output %dx%dx%d and reference %dx%dx%d differ",
                        out->c, out->h, out->w, ref->c, ref->h, ref->w);
    size_t hw = (size_t)out->h * (size_t)out->w;
    if (hw == 0 || out->c <= 0)
        return fr_error(err, FR_E_USAGE, "dense fidelity: empty tensor");
    size_t agree = 0;
    for (size_t p = 0; p < hw; p++) {
        long a = argmax_strided(out->data + p, out->c, hw);
        agree += (size_t)(a >= 0 && a == argmax_strided(ref->data + p, ref->c, hw));
    }
    *fid = (double)agree / (double)hw;
    return 0;
}

/* ---------------- rate ---------------- */

double fr_bits_per_image(double total_bits, size_t nimages)
{
    return nimages ? total_bits / (double)nimages : NAN;
}

double fr_bits_per_element(double bits, size_t nelem)
{
    return nelem ? bits / (double)nelem : NAN;
}

double fr_compression_rate(double compressed_bits, double original_bits)
{
    return original_bits > 0 ? compressed_bits / original_bits : NAN;
}

double fr_nonzero_rate(const float *v, size_t n)
{
    if (!n)
        return NAN;
    size_t nz = 0;
    for (size_t i = 0; i < n; i++)
        nz += v[i] != 0.0f;
    return (double)nz / (double)n;
}

/* ---------------- distortion ---------------- */

double fr_mse_u16(const uint16_t *a, const uint16_t *b, size_t n)
{
    if (!n)
        return NAN;
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        s += d * d;
    }
    return s / (double)n;
}

double fr_sqnr(double mse, double power)
{
    if (!(power > 0) || isnan(mse))
        return NAN;
    return mse == 0 ? INFINITY : 10.0 * log10(power / mse);
}

double fr_psnr(double mse, double peak)
{
    if (!(peak > 0) || isnan(mse))
        return NAN;
    if (mse == 0)
        return INFINITY;
    return 10.0 * log10(peak * peak / mse);
}

int fr_feature_distortion(const FrTensor *orig, const FrTensor *rec, FrFeatureDistortion *out,
                          FrError *err)
{
    if (orig->c != rec->c || orig->h != rec->h || orig->w != rec->w)
        return fr_error(err, FR_E_MISMATCH, "feature distortion: original %dx%dx%d and reconstruction %dx%dx%d differ",
                        orig->c, orig->h, orig->w, rec->c, rec->h, rec->w);
    size_t n = fr_tensor_size(orig);
    if (!n)
        return fr_error(err, FR_E_USAGE, "feature distortion: empty tensor");
    double lo = orig->data[0], hi = orig->data[0], s = 0, p = 0;
    for (size_t i = 0; i < n; i++) {
        double x = orig->data[i];
        p += x * x;
        if (x < lo)
            lo = x;
        if (x > hi)
            hi = x;
        double d = x - (double)rec->data[i];
        s += d * d;
    }
    out->mse = s / (double)n;
    out->peak = hi - lo;
    out->psnr = fr_psnr(out->mse, out->peak);
    out->power = p / (double)n;
    out->sqnr = fr_sqnr(out->mse, out->power);
    return 0;
}

/* ---------------- image reconstruction quality ---------------- */

void fr_image_to_bytes(const FrTensor *t, uint8_t *out)
{
    size_t hw = (size_t)t->h * t->w;
    for (int k = 0; k < t->c; k++)
        for (size_t i = 0; i < hw; i++) {
            float v = t->data[(size_t)k * hw + i];
            v = v > 0 ? (v < 1 ? v : 1) : 0; /* NaN -> 0 */
            out[i * t->c + k] = (uint8_t)lrintf(v * 255.0f);
        }
}

double fr_image_psnr8(const uint8_t *a, const uint8_t *b, int w, int h, int c)
{
    size_t n = (size_t)w * h * c;
    if (!n)
        return NAN;
    double se = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        se += d * d;
    }
    return fr_psnr(se / (double)n, 255.0);
}

static void luma(const uint8_t *p, int w, int h, int c, double *y)
{
    for (size_t i = 0; i < (size_t)w * h; i++)
        y[i] = c == 1 ? p[i] : 0.299 * p[3 * i] + 0.587 * p[3 * i + 1] + 0.114 * p[3 * i + 2];
}

double fr_image_ssim8(const uint8_t *a, const uint8_t *b, int w, int h, int c)
{
    enum { WIN = 11 };
    if ((c != 1 && c != 3) || w < WIN || h < WIN)
        return NAN;
    double g[WIN], gs = 0;
    for (int i = 0; i < WIN; i++) {
        double d = i - (WIN - 1) / 2.0;
        g[i] = exp(-d * d / (2 * 1.5 * 1.5));
        gs += g[i];
    }
    for (int i = 0; i < WIN; i++)
        g[i] /= gs; /* the 2-D window g[i]·g[j] sums to 1 */
    size_t n = (size_t)w * h;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        return NAN;
    }
    luma(a, w, h, c, x);
    luma(b, w, h, c, y);
    const double C1 = (0.01 * 255) * (0.01 * 255), C2 = (0.03 * 255) * (0.03 * 255);
    double sum = 0;
    long cnt = 0;
    for (int r = 0; r + WIN <= h; r++)
        for (int q = 0; q + WIN <= w; q++) {
            double mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;
            for (int i = 0; i < WIN; i++)
                for (int j = 0; j < WIN; j++) {
                    double wt = g[i] * g[j];
                    size_t k = (size_t)(r + i) * w + (q + j);
                    mx += wt * x[k];
                    my += wt * y[k];
                    sxx += wt * x[k] * x[k];
                    syy += wt * y[k] * y[k];
                    sxy += wt * x[k] * y[k];
                }
            double vx = sxx - mx * mx, vy = syy - my * my, cxy = sxy - mx * my;
            sum += ((2 * mx * my + C1) * (2 * cxy + C2)) /
                   ((mx * mx + my * my + C1) * (vx + vy + C2));
            cnt++;
        }
    free(x);
    free(y);
    return sum / (double)cnt;
}
