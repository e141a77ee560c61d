/* featrd/metrics.h: task metrics (VOC detection mAP, top-1/top-5, argmax
 * fidelity for classification and dense outputs), rate figures (bits per
 * image, KBPI, bits per element, compression rate, non-zero rate) and feature
 * distortion (MSE, PSNR in the n-bit and the float domain). No outside
 * libraries. */
#ifndef FEATRD_METRICS_H
#define FEATRD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "featrd/common.h"
#include "featrd/config.h"
#include "featrd/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------- detection: VOC mAP ---------------- */

/* Detections are FrDetection of featrd/model.h (class index, score, box
 * x1 y1 x2 y2 in original-image pixels), so the model's output feeds
 * fr_map_add_image directly. */

/* A box in image pixels, corners inclusive as in VOC annotations. */
typedef struct FrBox {
    double x1, y1, x2, y2;
} FrBox;

/* One ground-truth object of an image. difficult != 0: VOC "difficult"
 * object, neither counted as a positive nor allowed to make a detection a
 * false positive (a detection matched to it is ignored). */
typedef struct FrGtBox {
    int cls;
    int difficult;
    FrBox box;
} FrGtBox;

typedef struct FrMapSettings {
    int nclasses;       /* number of classes; class ids must be in [0, nclasses). Required (> 0). */
    double iou;         /* overlap threshold, default 0.5 (VOC) */
    int plus_one;       /* 1 (default): VOC devkit overlap, widths = x2 - x1 + 1 (inclusive
                         * integer pixel corners), which published VOC numbers use;
                         * 0: continuous boxes, widths = x2 - x1 */
} FrMapSettings;

void fr_map_defaults(FrMapSettings *s); /* nclasses 0 (caller sets it), iou 0.5, plus_one 1 */

/* Accumulates ground truth and detections image by image (one accumulator
 * per RD point). Opaque. */
typedef struct FrMapAcc FrMapAcc;

int fr_map_create(FrMapAcc **out, const FrMapSettings *s, FrError *err);
/* Frees and NULLs *acc; safe on NULL. */
void fr_map_destroy(FrMapAcc **acc);
/* Adds one image: its ground truth and its detections (both copied; the
 * caller keeps ownership of the arrays). Either count may be 0. A class id out
 * of range or a non-finite score/box is FR_E_USAGE. Images are numbered in the
 * order they are added. */
int fr_map_add_image(FrMapAcc *acc, const FrGtBox *gt, size_t ngt,
                     const FrDetection *det, size_t ndet, FrError *err);
size_t fr_map_nimages(const FrMapAcc *acc);

/* The result. ap07[c] / ap[c] are NaN and npos[c] is 0 for classes without
 * (non-difficult) ground truth; those classes are left out of the means
 * (VOC's devkit would give them AP 0 or NaN; leaving them out is what the
 * per-class tables of the papers average). The arrays are owned by the
 * result; free with fr_map_result_free. */
typedef struct FrMapResult {
    int nclasses;
    int nclasses_with_gt;   /* classes that enter the means */
    double map07;           /* mean VOC2007 11-point interpolated AP, NaN if no class has gt */
    double map;             /* mean all-point AP (VOC2010+), NaN if no class has gt */
    double *ap07;           /* [nclasses] */
    double *ap;             /* [nclasses] */
    size_t *npos;           /* [nclasses] non-difficult gt boxes */
    size_t *ndet;           /* [nclasses] detections */
} FrMapResult;

/* Computes AP for everything added so far. Does not consume the accumulator:
 * more images may be added and finish called again. *res is overwritten (call
 * fr_map_result_free on an earlier result first). */
int fr_map_finish(const FrMapAcc *acc, FrMapResult *res, FrError *err);
void fr_map_result_free(FrMapResult *res);

/* The matched, ranked detections of an accumulator (matching done once),
 * for evaluating many image weightings, as a bootstrap does. Independent of
 * acc once made. Free with fr_map_ranked_destroy. */
typedef struct FrMapRanked FrMapRanked;
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

/* ---------------- classification and dense outputs ---------------- */

/* Index of the largest value (the first on ties); -1 when n == 0. NaN values
 * never win. */
long fr_argmax(const float *v, size_t n);
/* 1 if label is among the k highest scores (ties broken toward the lower
 * index, as a stable sort would), else 0. */
int fr_topk_hit(const float *scores, size_t n, long label, int k);

/* Running classification counters; plain data, zero it to start
 * (or fr_cls_acc_init). */
typedef struct FrClsAcc {
    size_t n;           /* images added */
    size_t nlabelled;   /* images with a label (label >= 0) */
    size_t top1, top5;  /* hits among labelled images */
    size_t nref;        /* images with a reference (uncompressed) output */
    size_t agree;       /* argmax(output) == argmax(reference), seed 004 eq. 4 */
} FrClsAcc;

void fr_cls_acc_init(FrClsAcc *a);
/* Adds one image: scores[n] is the network output on the decoded feature,
 * ref[n] the output of the uncompressed network (may be NULL), label the true
 * class or -1 when unknown. */
void fr_cls_acc_add(FrClsAcc *a, const float *scores, const float *ref, size_t n, long label);
/* Fractions in [0, 1]; NaN when the denominator is 0. */
double fr_cls_top1(const FrClsAcc *a);
double fr_cls_top5(const FrClsAcc *a);
double fr_cls_fidelity(const FrClsAcc *a);

/* Dense fidelity, seed 004 eq. 5: the fraction of the H×W pixels whose argmax
 * over the C channels agrees between out and ref (C×H×W each). Shapes must
 * match (FR_E_MISMATCH). */
int fr_dense_fidelity(const FrTensor *out, const FrTensor *ref, double *fid, FrError *err);

/* ---------------- rate ---------------- */

/* KBPI = kilobits per image with kilo = 1000 (SI, as kbit/s in video coding;
 * seed 001 does not say, and 1000 matches the bitrates HEVC tools print). */
#define FR_KBIT 1000.0
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

/* ---------------- feature distortion ---------------- */

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

/* Float-domain distortion of a reconstructed feature: MSE over all elements
 * and PSNR with peak = max - min of the ORIGINAL tensor (its dynamic range,
 * the range the Q-layer maps to 0 .. 2^n - 1). */
typedef struct FrFeatureDistortion {
    double mse;
    double psnr;    /* +inf when equal; NaN when the original is constant */
    double peak;    /* max - min of the original */
    double power;   /* mean square of the original */
    double sqnr;    /* 10 log10(power / mse): +inf when equal, NaN when power is 0 */
} FrFeatureDistortion;

int fr_feature_distortion(const FrTensor *orig, const FrTensor *rec,
                          FrFeatureDistortion *out, FrError *err);

/* ---------------- image reconstruction quality (issue 24) ---------------- */

/* Reconstructed images are scored as the 8-bit pictures a PNG holds, so a
 * reader can recompute every number from the written files. */

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

/* The metrics registry: one row per `metrics:` name (FrMetric), saying which
 * task it scores, which points.csv column holds it and which way is
 * better. The config, bd.csv and the plots read it; a new metric is one row
 * here (src/metrics/metrics.c) plus its computation. */
typedef struct FrMetricInfo {
    FrMetric id;
    const char *name;   /* the YAML name, e.g. "map07" */
    const char *column; /* its points.csv column, e.g. "map07" ("fidelity" for pixel_agreement) */
    FrTask task;        /* the task it needs; FR_TASK_AUTO: any */
    int higher_better;  /* 1: larger is better (0 for an MSE) */
    const char *doc;
} FrMetricInfo;

int fr_metric_count(void);
/* By id (NULL when out of range) / by YAML name (NULL when unknown). */
const FrMetricInfo *fr_metric_info(FrMetric m);
const FrMetricInfo *fr_metric_find(const char *name);

#ifdef __cplusplus
}
#endif
#endif
