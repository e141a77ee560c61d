/* metrics/metrics.h: the library-internal part of module metrics: functions that other
 * modules of libfeatrd and the tests use, which are not part of the public
 * API (include/featrd/metrics.h) and are not installed. The CLI cannot include
 * this (it is built without -Isrc). */
#ifndef FR_INTERNAL_METRICS_METRICS_H
#define FR_INTERNAL_METRICS_METRICS_H

#include "featrd/metrics.h"

size_t fr_map_nimages(const FrMapAcc *acc);

int fr_map_rank(const FrMapAcc *acc, FrMapRanked **out, FrError *err);
void fr_map_ranked_destroy(FrMapRanked **r);
size_t fr_map_ranked_nimages(const FrMapRanked *r);

/* mAP (11-point and all-point) with image i counted w[i] times (w NULL:
 * once each) — exactly the mAP of the data set in which image i appears w[i]
 * times; with w NULL equal to fr_map_finish. NaN when no class has gt. */
void fr_map_ranked_eval(const FrMapRanked *r, const uint32_t *w, double *map07, double *map);

/* ---------------- bootstrap over images ----------------
 * Replicate b of n images draws n images with replacement; w[i] = times
 * image i is drawn. Deterministic in (seed, b, n) on every machine
 * (splitmix64, 53-bit uniforms), so every point of a run, every shard and
 * every rerun uses the same replicates: BD replicates pair the curves. */
void fr_boot_counts(uint64_t seed, int b, size_t n, uint32_t *w);

/* Weighted mean of v (w NULL: plain mean); NaN if a counted value is not
 * finite or nothing is counted. */
double fr_boot_mean(const double *v, const uint32_t *w, size_t n);

/* AP of one ranked list, exposed for tests and other tools: tp[i], fp[i] are
 * 0/1 flags of the i-th detection in descending score order, npos the number
 * of positives. Returns NaN when npos == 0. */
double fr_ap_voc07(const uint8_t *tp, const uint8_t *fp, size_t n, size_t npos);
double fr_ap_allpoint(const uint8_t *tp, const uint8_t *fp, size_t n, size_t npos);

/* Intersection over union with the given convention (plus_one as above). */
double fr_box_iou(const FrBox *a, const FrBox *b, int plus_one);

/* Index of the largest value (the first on ties); -1 when n == 0. NaN values
 * never win. */
long fr_argmax(const float *v, size_t n);

/* 1 if label is among the k highest scores (ties broken toward the lower
 * index, as a stable sort would), else 0. */
int fr_topk_hit(const float *scores, size_t n, long label, int k);

double fr_cls_fidelity(const FrClsAcc *a);

/* Dense fidelity, seed 004 eq. 5: the fraction of the H×W pixels whose argmax
 * over the C channels agrees between out and ref (C×H×W each). Shapes must
 * match (FR_E_MISMATCH). */
int fr_dense_fidelity(const FrTensor *out, const FrTensor *ref, double *fid, FrError *err);

static inline double fr_kbpi(double bits_per_image) { return bits_per_image / FR_KBIT; }

/* Mean bits over nimages; NaN when nimages == 0. */
double fr_bits_per_image(double total_bits, size_t nimages);

/* Bits per feature element; NaN when nelem == 0. */
double fr_bits_per_element(double bits, size_t nelem);

/* Seed 000 eq. 1: compressed length / original length (same unit), so < 1 is
 * a gain; the original of a float32 feature is 32 bits per element. */
double fr_compression_rate(double compressed_bits, double original_bits);

/* Fraction of elements != 0 (seed 000's "non-zero rate"); NaN when n == 0. */
double fr_nonzero_rate(const float *v, size_t n);

/* MSE between two n-bit sample arrays (the quantized feature before and after
 * the inner codec). */
double fr_mse_u16(const uint16_t *a, const uint16_t *b, size_t n);

/* PSNR = 10 log10(peak^2 / mse); +inf when mse == 0, NaN when peak <= 0. */
double fr_psnr(double mse, double peak);

/* SQNR = 10 log10(power / mse), power = the original's mean square; +inf
 * when mse == 0, NaN when power <= 0. */
double fr_sqnr(double mse, double power);

/* PSNR in the n-bit domain: peak = 2^bits - 1. */
static inline double fr_psnr_nbit(double mse, int bits)
{
    return fr_psnr(mse, (double)((1u << bits) - 1u));
}

int fr_feature_distortion(const FrTensor *orig, const FrTensor *rec,
                          FrFeatureDistortion *out, FrError *err);

/* A C×H×W tensor in 0..1 (C = 1 or 3) as 8-bit samples, interleaved (HWC):
 * round(clamp(v, 0, 1) · 255). out holds C·H·W bytes. */
void fr_image_to_bytes(const FrTensor *t, uint8_t *out);

/* PSNR of two 8-bit images of w·h pixels and c interleaved channels over
 * every sample, peak 255; +inf when equal. */
double fr_image_psnr8(const uint8_t *a, const uint8_t *b, int w, int h, int c);

/* SSIM (Wang, Bovik, Sheikh, Simoncelli 2004) of two 8-bit images: on luma
 * Y = 0.299 R + 0.587 G + 0.114 B (c = 3; c = 1: the channel itself), not
 * rounded; an 11×11 Gaussian window with sigma 1.5 normalised to sum 1;
 * K1 = 0.01, K2 = 0.03, L = 255; the mean of the SSIM map over the windows
 * that fit inside the image (no padding: MATLAB ssim_index's 'valid').
 * NaN when the image is smaller than 11×11 or c is not 1 or 3. */
double fr_image_ssim8(const uint8_t *a, const uint8_t *b, int w, int h, int c);

/* ---------------- the metrics registry ----------------
 * A metric is one `const FrMetricDef` in a file of its own (metric_*.c) and
 * one line in src/metrics/metric_registry.c; its registry index is its
 * FrMetric. The runner calls its hooks, the aggregation turns its
 * per-image values into the point's value and bootstrap interval, and its
 * column (and column_lo, column_hi) appear in points.csv and boot/<id>.csv
 * by themselves. Two metrics may share a column when their tasks differ
 * (fidelity and pixel_agreement). docs/metrics.md shows a worked example. */

/* One image of a feature point: its cut set before and after coding. */
typedef struct FrMetricFeature {
    const FrTensor *orig, *rec; /* [n] each, the same shapes */
    int n;
    int bits; /* the point's Q-layer bit depth */
} FrMetricFeature;

/* One image's network output (classification and dense tasks). */
typedef struct FrMetricOutput {
    const FrTensor *out; /* the point's output */
    const FrTensor *ref; /* the uncompressed network's; data NULL: none */
    long label;          /* the true class; -1 when unknown */
} FrMetricOutput;

/* A picture the point yields (invert:'s reconstruction of a feature point,
 * an anchor's decoded image) beside the network input: 8-bit, interleaved. */
typedef struct FrMetricPicture {
    const uint8_t *rec, *input;
    int w, h, c;
} FrMetricPicture;

/* Every image of a point, for a data-set statistic (mAP). */
typedef struct FrMetricSet {
    size_t n;
    int nclasses;
    double iou; /* the config's map_iou */
    const FrGtBox *const *gt;
    const size_t *ngt;
    const FrDetection *const *dets;
    const int *ndet;
} FrMetricSet;

/* flags */
#define FR_METRIC_SCORED_ONLY 1u /* a NaN image value means "not scored" (no label, no
                                    reference): the mean runs over the scored images */

typedef struct FrMetricDef {
    FrMetricInfo info;
    const char *unit; /* of its column: "dB", "" */
    unsigned flags;
    /* Its per-image value (NaN: not measured), from one of: */
    double (*feature)(const FrMetricFeature *f); /* feature points, after decoding */
    double (*picture)(const FrMetricPicture *p); /* points with a picture (invert:) */
    int (*output)(const FrMetricOutput *o, double *v, FrError *err); /* every point */
    /* Or a data-set statistic (every point): set_eval(state, rep, w) is the
     * value with image i counted w[i] times (rep -1, w NULL: each once;
     * rep >= 0: bootstrap replicate rep). Metrics with the same set_open
     * share one state, opened once per point. */
    int (*set_open)(const FrMetricSet *s, void **state, FrError *err);
    double (*set_eval)(void *state, int rep, const uint32_t *w);
    void (*set_close)(void *state);
    /* The point's value from the (weighted) mean of its images' values
     * (NULL: the mean itself); the mean is its _raw. */
    double (*finish)(double mean, int bits);
    /* Why config e cannot report it (NULL: it can); called by validation. */
    const char *(*unusable)(const FrExperiment *e);
} FrMetricDef;

/* The most metrics (and columns) the registry may hold. */
#define FR_METRIC_MAX 32

int fr_metric_count(void);

/* By index (NULL when out of range) / by YAML name (NULL when unknown). */
const FrMetricInfo *fr_metric_info(FrMetric m);
const FrMetricInfo *fr_metric_find(const char *name);
const FrMetricDef *fr_metric_def(FrMetric m);

/* The distinct columns of the registry, in registry order (the order of
 * boot/<id>.csv after kbpi). */
int fr_metric_ncolumns(void);
const char *fr_metric_column_name(int col);
int fr_metric_column_of(FrMetric m); /* its column's index */
int fr_metric_column_find(const char *name); /* -1: no metric writes it */
/* The metric that writes column col under task t (its task t or any); -1: none. */
int fr_metric_for_column(int col, FrTask t);

#endif
