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

/* ---------------- classification and dense outputs ---------------- */

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

/* ---------------- rate ---------------- */

/* KBPI = kilobits per image with kilo = 1000 (SI, as kbit/s in video coding;
 * seed 001 does not say, and 1000 matches the bitrates HEVC tools print). */
#define FR_KBIT 1000.0

/* ---------------- feature distortion ---------------- */

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

/* ---------------- image reconstruction quality (issue 24) ---------------- */

/* Reconstructed images are scored as the 8-bit pictures a PNG holds, so a
 * reader can recompute every number from the written files. */

/* What the metrics registry says of a `metrics:` name (FrMetric): which
 * task it scores, which points.csv column holds it and which way is
 * better. The config, bd.csv and the plots read it; a new metric is one
 * file and one registry line (docs/metrics.md). */
typedef struct FrMetricInfo {
    const char *name;   /* the YAML name, e.g. "map07" */
    const char *column; /* its points.csv column, e.g. "map07" ("fidelity" for pixel_agreement) */
    FrTask task;        /* the task it needs; FR_TASK_AUTO: any */
    int higher_better;  /* 1: larger is better (0 for an MSE) */
    const char *doc;
} FrMetricInfo;

#ifdef __cplusplus
}
#endif
#endif
