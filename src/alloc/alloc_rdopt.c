/* alloc_rdopt.c: the Lagrangian per-channel QP allocator (`allocation: rdopt`,
 * issue #19): per-channel rate and task-distortion curves over a small QP
 * set, measured with Algorithm 1's machinery and cache (alloc.c), and the
 * allocation that minimises sum D + lambda sum R under the additivity
 * assumption, at the rate of uniform QP_base. Also the greedy equal-slope
 * refinement of a given map (`allocation: rdopt-refine`, from Algorithm 1's).
 * No outside library headers. */
#define _POSIX_C_SOURCE 200809L
#include "featrd.h"
#include "alloc/alloc_internal.h"
#include "alloc/alloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------- the allocation (pure) ---------------- */

static int check_curves(const double *R, const double *D, int n, int nq, FrError *err)
{
    if (n < 1 || nq < 1 || !R || !D)
        return fr_error(err, FR_E_USAGE, "rdopt: %d channels x %d QPs: nothing to allocate", n,
                        nq);
    for (size_t i = 0; i < (size_t)n * (size_t)nq; i++)
        if (!isfinite(R[i]) || !isfinite(D[i]) || R[i] < 0 || D[i] < 0)
            return fr_error(err, FR_E_USAGE,
                            "rdopt: channel %zu, QP option %zu has rate %g, distortion %g: both "
                            "must be finite and >= 0 (a NaN means the back half produced NaN)",
                            i / (size_t)nq, i % (size_t)nq, R[i], D[i]);
    return FR_OK;
}

/* a < b beyond rounding: the tie rule (lower rate) must see exact ties as ties
 * even when lambda is a slope computed from the same numbers */
static int less(double a, double b)
{
    return a < b - 1e-12 * (fabs(a) + fabs(b));
}

static int argmin_channel(const double *R, const double *D, int nq, double lambda)
{
    int best = 0;
    double bj = D[0] + lambda * R[0];
    for (int k = 1; k < nq; k++) {
        double j = D[k] + lambda * R[k];
        if (less(j, bj) || (!less(bj, j) && R[k] < R[best])) {
            best = k;
            bj = j;
        }
    }
    return best;
}

double fr_rdopt_lagrangian(const double *R, const double *D, int n, int nq, double lambda,
                           int *choice)
{
    double rate = 0;
    for (int i = 0; i < n; i++) {
        const double *r = R + (size_t)i * (size_t)nq, *d = D + (size_t)i * (size_t)nq;
        choice[i] = argmin_channel(r, d, nq, lambda);
        rate += r[choice[i]];
    }
    return rate;
}

static double total(const double *V, int n, int nq, const int *choice)
{
    double t = 0;
    for (int i = 0; i < n; i++)
        t += V[(size_t)i * (size_t)nq + (size_t)choice[i]];
    return t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Spends what budget leaves: the upgrade with the most distortion saved per
 * added bit that still fits, until none fits. */
static void fill_greedy(const double *R, const double *D, int n, int nq, double budget,
                        int *choice)
{
    double rate = total(R, n, nq, choice);
    for (;;) {
        int bi = -1, bk = -1;
        double bs = 0;
        for (int i = 0; i < n; i++) {
            const double *r = R + (size_t)i * (size_t)nq, *d = D + (size_t)i * (size_t)nq;
            int c = choice[i];
            for (int k = 0; k < nq; k++) {
                double dr = r[k] - r[c], gain = d[c] - d[k];
                if (gain <= 0 || rate + dr > budget)
                    continue;
                double slope = dr > 0 ? gain / dr : INFINITY;
                if (bi < 0 || slope > bs) {
                    bi = i;
                    bk = k;
                    bs = slope;
                }
            }
        }
        if (bi < 0)
            return;
        rate += R[(size_t)bi * (size_t)nq + (size_t)bk] -
                R[(size_t)bi * (size_t)nq + (size_t)choice[bi]];
        choice[bi] = bk;
    }
}

int fr_rdopt_for_rate(const double *R, const double *D, int n, int nq, double budget, int fill,
                      int *choice, double *lambda, FrError *err)
{
    int rc = check_curves(R, D, n, nq, err);
    if (rc)
        return rc;
    /* the lambdas where some channel's argmin changes: slopes between its
     * options (a superset of its hull's slopes), and 0 */
    size_t cap = 1 + (size_t)n * (size_t)nq * (size_t)(nq - 1) / 2, nl = 0;
    double *lam = malloc(cap * sizeof *lam);
    if (!lam)
        return fr_error(err, FR_E_NOMEM, "rdopt: out of memory for %zu slopes", cap);
    lam[nl++] = 0.0;
    for (int i = 0; i < n; i++) {
        const double *r = R + (size_t)i * (size_t)nq, *d = D + (size_t)i * (size_t)nq;
        for (int a = 0; a < nq; a++)
            for (int b = 0; b < nq; b++)
                if (r[b] > r[a] && d[b] < d[a])
                    lam[nl++] = (d[a] - d[b]) / (r[b] - r[a]);
    }
    qsort(lam, nl, sizeof *lam, cmp_double);
    /* rate is non-increasing in lambda: the smallest candidate within budget */
    size_t lo = 0, hi = nl - 1;
    if (fr_rdopt_lagrangian(R, D, n, nq, lam[hi], choice) > budget) {
        lo = hi; /* nothing fits: the cheapest allocation */
    } else {
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (fr_rdopt_lagrangian(R, D, n, nq, lam[mid], choice) <= budget)
                hi = mid;
            else
                lo = mid + 1;
        }
    }
    double l = lam[lo];
    free(lam);
    fr_rdopt_lagrangian(R, D, n, nq, l, choice);
    if (fill)
        fill_greedy(R, D, n, nq, budget, choice);
    if (lambda)
        *lambda = l;
    return FR_OK;
}

/* The option just below (down = 1) or just above (down = 0) c in rate that
 * changes the distortion the right way, or -1: the nearest neighbour on the
 * channel's rate axis, what an equal-slope exchange moves along. */
static int step(const double *r, const double *d, int nq, int c, int down)
{
    int best = -1;
    for (int k = 0; k < nq; k++) {
        if (down ? !(r[k] < r[c]) : !(r[k] > r[c] && d[k] < d[c]))
            continue;
        if (best < 0 || (down ? r[k] > r[best] || (r[k] == r[best] && d[k] < d[best])
                              : r[k] < r[best] || (r[k] == r[best] && d[k] < d[best])))
            best = k;
    }
    return best;
}

int fr_rdopt_refine(const double *R, const double *D, int n, int nq, double budget, int *choice,
                    FrError *err)
{
    int rc = check_curves(R, D, n, nq, err);
    if (rc)
        return rc;
    for (int i = 0; i < n; i++)
        if (choice[i] < 0 || choice[i] >= nq)
            return fr_error(err, FR_E_USAGE, "rdopt refine: channel %d starts at option %d of %d",
                            i, choice[i], nq);
    int *up = malloc((size_t)n * 2 * sizeof *up);
    if (!up)
        return fr_error(err, FR_E_NOMEM, "rdopt: out of memory");
    int *dn = up + n;
    double rate = total(R, n, nq, choice);
    /* over budget: give up the bits that cost the least distortion */
    while (rate > budget) {
        int bi = -1, bk = -1;
        double bs = 0;
        for (int i = 0; i < n; i++) {
            const double *r = R + (size_t)i * (size_t)nq, *d = D + (size_t)i * (size_t)nq;
            int k = step(r, d, nq, choice[i], 1);
            if (k < 0)
                continue;
            double s = (d[k] - d[choice[i]]) / (r[choice[i]] - r[k]);
            if (bi < 0 || s < bs) {
                bi = i;
                bk = k;
                bs = s;
            }
        }
        if (bi < 0)
            break;
        rate += R[(size_t)bi * nq + bk] - R[(size_t)bi * nq + choice[bi]];
        choice[bi] = bk;
    }
    /* exchanges: one channel one step up, another one step down, while the
     * pair lowers the distortion within the budget (the slopes equalise) */
    for (long iter = 0; iter < 64L * n * nq; iter++) {
        for (int i = 0; i < n; i++) {
            const double *r = R + (size_t)i * (size_t)nq, *d = D + (size_t)i * (size_t)nq;
            up[i] = step(r, d, nq, choice[i], 0);
            dn[i] = step(r, d, nq, choice[i], 1);
        }
        int bu = -1, bd = -1;
        double bgain = 0;
        for (int i = 0; i < n; i++) {
            if (up[i] < 0)
                continue;
            size_t oi = (size_t)i * (size_t)nq;
            double dr_u = R[oi + up[i]] - R[oi + choice[i]];
            double dd_u = D[oi + up[i]] - D[oi + choice[i]]; /* < 0 */
            for (int j = 0; j < n; j++) {
                if (j == i || dn[j] < 0)
                    continue;
                size_t oj = (size_t)j * (size_t)nq;
                double dr_d = R[oj + dn[j]] - R[oj + choice[j]]; /* < 0 */
                double dd_d = D[oj + dn[j]] - D[oj + choice[j]];
                if (rate + dr_u + dr_d > budget)
                    continue;
                double g = -(dd_u + dd_d);
                if (g > bgain && less(0, g)) {
                    bgain = g;
                    bu = i;
                    bd = j;
                }
            }
        }
        if (bu < 0)
            break;
        rate += R[(size_t)bu * nq + up[bu]] - R[(size_t)bu * nq + choice[bu]] +
                R[(size_t)bd * nq + dn[bd]] - R[(size_t)bd * nq + choice[bd]];
        choice[bu] = up[bu];
        choice[bd] = dn[bd];
    }
    free(up);
    if (rate <= budget)
        fill_greedy(R, D, n, nq, budget, choice);
    return FR_OK;
}

int fr_rdopt_allocate(const double *R, const double *D, int n, const int *qps, int nq,
                      int qp_base, double side_bits, const int *start, int *out_qps,
                      FrRdoptResult *res, FrError *err)
{
    int rc = check_curves(R, D, n, nq, err);
    if (rc)
        return rc;
    int kb = -1;
    for (int k = 0; k < nq; k++)
        if (qps[k] == qp_base)
            kb = k;
    if (kb < 0)
        return fr_error(err, FR_E_USAGE,
                        "rdopt: qp_base %d is not one of the measured QPs (sweep.rdopt.qps): "
                        "its rate is the budget", qp_base);
    int *choice = calloc((size_t)n * 2, sizeof *choice);
    if (!choice)
        return fr_error(err, FR_E_NOMEM, "rdopt: out of memory");
    int *uni = choice + n;
    for (int i = 0; i < n; i++)
        uni[i] = kb;
    double budget = total(R, n, nq, uni) - side_bits, lambda = 0;
    if (start) {
        for (int i = 0; i < n; i++) {
            int best = 0;
            for (int k = 1; k < nq; k++) {
                int dk = abs(qps[k] - start[i]), db = abs(qps[best] - start[i]);
                if (dk < db || (dk == db && qps[k] < qps[best]))
                    best = k;
            }
            choice[i] = best;
        }
        rc = fr_rdopt_refine(R, D, n, nq, budget, choice, err);
    } else {
        rc = fr_rdopt_for_rate(R, D, n, nq, budget, 1, choice, &lambda, err);
    }
    if (rc == FR_OK) {
        /* uniform QP_base (sent without a map) is the allocation to beat:
         * never do worse than it in the model at its rate (the discrete hull
         * can leave a gap) */
        if (total(D, n, nq, choice) > total(D, n, nq, uni))
            memcpy(choice, uni, (size_t)n * sizeof *choice);
        for (int i = 0; i < n; i++)
            out_qps[i] = qps[choice[i]];
        if (res) {
            res->lambda = lambda;
            res->rate = total(R, n, nq, choice);
            res->budget = budget;
            res->dist = total(D, n, nq, choice);
        }
    }
    free(choice);
    return rc;
}

/* ---------------- measurement ---------------- */

int fr_rdopt_curves(FrModel *m, FrSensCache *cache, const char *image_id, const char *split_name,
                    int split, const FrTensor *cuts, int ncuts, const FrFeatureSettings *fs,
                    const int *qps, int nq, int layer, const char *model_id, double *R,
                    double *D, int n, double *seconds, FrError *err)
{
    if (nq < 1)
        return fr_error(err, FR_E_USAGE, "rdopt: no QPs to measure");
    if (fs->packing != FR_PACK_FRAMES)
        return fr_error(err, FR_E_USAGE,
                        "rdopt needs packing frames: a channel's rate is read from its own "
                        "frame (packing %s mixes channels in one picture)",
                        fr_packing_name(fs->packing));
    double *col = malloc((size_t)(n > 0 ? n : 1) * 2 * sizeof *col);
    if (!col)
        return fr_error(err, FR_E_NOMEM, "rdopt: out of memory for %d channels", n);
    double *rcol = col + n, secs = 0;
    int rc = FR_OK;
    for (int k = 0; k < nq && rc == FR_OK; k++) {
        double t = 0;
        rc = fr_alloc_cached_(m, cache, image_id, split_name, split, cuts, ncuts, fs, qps[k],
                              layer, model_id, col, rcol, n, &t, err);
        secs += t;
        for (int i = 0; i < n && rc == FR_OK; i++) {
            D[(size_t)i * (size_t)nq + (size_t)k] = col[i];
            R[(size_t)i * (size_t)nq + (size_t)k] = rcol[i];
        }
    }
    free(col);
    if (rc == FR_OK && seconds)
        *seconds = secs;
    return rc;
}

/* fr_rdopt_dataset_curves' measurement of one image, added into the means. */
typedef struct DatasetCurves {
    FrModel *m;
    FrSensCache *cache;
    const char *const *images;
    int nimages;
    const char *split_name;
    int split;
    const FrFeatureSettings *fs;
    const int *qps;
    int nq, layer;
    const char *model_id;
    double *R, *D, *r1, *d1;
    int n;
} DatasetCurves;

static int dataset_curves_one(void *arg, int k, const FrTensor *cuts, int ncuts, double *secs,
                              FrError *err)
{
    DatasetCurves *d = arg;
    int rc = fr_rdopt_curves(d->m, d->cache, d->images[k], d->split_name, d->split, cuts, ncuts,
                             d->fs, d->qps, d->nq, d->layer, d->model_id, d->r1, d->d1, d->n,
                             secs, err);
    size_t nn = (size_t)d->n * (size_t)d->nq;
    for (size_t i = 0; i < nn && rc == FR_OK; i++) {
        d->R[i] += d->r1[i] / d->nimages;
        d->D[i] += d->d1[i] / d->nimages;
    }
    return rc;
}

int fr_rdopt_dataset_curves(FrModel *m, FrSensCache *cache, const char *const *images,
                            int nimages, const char *split_name, int split,
                            const FrFeatureSettings *fs, const int *qps, int nq, int layer,
                            const char *model_id, double *R, double *D, int n, double *seconds,
                            FrError *err)
{
    if (nimages < 1)
        return fr_error(err, FR_E_USAGE, "rdopt: scope dataset needs at least one calibration "
                        "image");
    size_t nn = (size_t)(n > 0 ? n : 1) * (size_t)(nq > 0 ? nq : 1);
    double *r1 = malloc(2 * nn * sizeof *r1);
    if (!r1)
        return fr_error(err, FR_E_NOMEM, "rdopt: out of memory");
    memset(R, 0, nn * sizeof *R);
    memset(D, 0, nn * sizeof *D);
    DatasetCurves dc = {m,  cache, images, nimages, split_name, split, fs, qps, nq,
                        layer, model_id, R, D, r1, r1 + nn, n};
    int rc = fr_alloc_each_image_(m, images, nimages, split, n, "rdopt", dataset_curves_one, &dc,
                                  seconds, err);
    free(r1);
    return rc;
}

/* ---------------- the allocators rdopt and rdopt-refine ---------------- */

/* The map from the curves R, D (n x nq over job->rd_qps): the Lagrangian
 * allocation at uniform QP_base's rate; refine: Algorithm 1's map from the
 * distortions at QP_base, refined by equal-slope exchanges instead. */
static int rdopt_map(const FrAllocJob *j, int refine, const double *R, const double *D,
                     int *qps, int n, FrAllocStats *st, FrError *err)
{
    int nq = j->n_rd_qps, rc = 0;
    int *start = NULL;
    if (refine) {
        start = malloc((size_t)n * sizeof *start);
        double *S = malloc((size_t)n * sizeof *S);
        if (!start || !S)
            rc = fr_error(err, FR_E_NOMEM, "out of memory");
        int kb = 0;
        for (int k = 0; k < nq; k++)
            kb = j->rd_qps[k] == j->qp_base ? k : kb;
        for (int i = 0; i < n && !rc; i++)
            S[i] = D[(size_t)i * (size_t)nq + (size_t)kb];
        if (!rc)
            rc = fr_alloc_qps(S, n, j->qp_base, j->qp_range, start, err);
        free(S);
    }
    FrRdoptResult rr;
    if (!rc)
        rc = fr_rdopt_allocate(R, D, n, j->rd_qps, nq, j->qp_base, FR_RDOPT_MAP_BITS(n), start,
                               qps, &rr, err);
    if (!rc) {
        st->lambda = rr.lambda;
        st->d_pred = rr.dist;
    }
    free(start);
    return rc;
}

/* The curves of one image (dataset 0) or averaged over the calibration
 * images (dataset 1), through the sensitivity cache, then the map. */
static int rdopt_qps(const FrAllocJob *j, int dataset, int refine, int *qps, int n,
                     FrAllocStats *st, FrError *err)
{
    size_t nn = (size_t)n * (size_t)j->n_rd_qps;
    double *R = malloc(2 * nn * sizeof *R);
    if (!R)
        return fr_error(err, FR_E_NOMEM, "out of memory");
    double *D = R + nn;
    int rc = dataset ? fr_rdopt_dataset_curves(j->m, j->cache, j->images, j->nimages,
                                               j->split_name, j->split, j->fs, j->rd_qps,
                                               j->n_rd_qps, j->layer, j->model_id, R, D, n,
                                               &st->seconds, err)
                     : fr_rdopt_curves(j->m, j->cache, j->image, j->split_name, j->split,
                                       j->cuts, j->ncuts, j->fs, j->rd_qps, j->n_rd_qps,
                                       j->layer, j->model_id, R, D, n, &st->seconds, err);
    if (!rc)
        rc = rdopt_map(j, refine, R, D, qps, n, st, err);
    free(R);
    return rc;
}

static int rdopt_image(const FrAllocJob *j, int *qps, int n, FrAllocStats *st, FrError *err)
{
    return rdopt_qps(j, 0, 0, qps, n, st, err);
}

static int rdopt_dataset(const FrAllocJob *j, int *qps, int n, FrAllocStats *st, FrError *err)
{
    return rdopt_qps(j, 1, 0, qps, n, st, err);
}

static int refine_image(const FrAllocJob *j, int *qps, int n, FrAllocStats *st, FrError *err)
{
    return rdopt_qps(j, 0, 1, qps, n, st, err);
}

static int refine_dataset(const FrAllocJob *j, int *qps, int n, FrAllocStats *st, FrError *err)
{
    return rdopt_qps(j, 1, 1, qps, n, st, err);
}

const FrAllocator fr_allocator_rdopt = {
    {"rdopt", 1, 1, 1,
     "Lagrangian: per-channel rate and distortion curves over sweep.rdopt.qps, q_i = argmin "
     "D_i + lambda R_i at the rate of uniform qp_base"},
    rdopt_image, rdopt_dataset};

const FrAllocator fr_allocator_rdopt_refine = {
    {"rdopt-refine", 1, 1, 1,
     "Algorithm 1's map refined by greedy equal-slope exchanges on the rdopt curves, at the "
     "rate of uniform qp_base"},
    refine_image, refine_dataset};
