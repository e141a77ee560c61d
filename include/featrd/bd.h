/* featrd/bd.h: Bjontegaard deltas between an anchor and a test RD curve:
 * BD-rate (mean percent rate change at equal quality) and BD-quality (mean
 * quality change at equal rate), by the VCEG-M33 cubic fit or by piecewise
 * cubic Hermite interpolation (pchip). Built on GSL (src/bd/bd.c is the GSL
 * adapter; GSL headers do not leak through this header).
 * Side effect on the process: the first cubic fit turns GSL's default error
 * handler (abort) off for the whole process (gsl_set_error_handler_off), so
 * that GSL failures become error codes here; a caller that uses GSL itself
 * and relies on the abort should set its handler again. */
#ifndef FEATRD_BD_H
#define FEATRD_BD_H

#include <stddef.h>

#include "featrd/common.h"
#include "featrd/config.h"
#include "featrd/csv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* FrBdMethod (FR_BD_PCHIP = 0, the default; FR_BD_CUBIC = 1, VCEG-M33) is
 * declared in featrd/config.h, whose experiment schema names it. */

/* "pchip" or "cubic" → method; anything else FR_E_USAGE. */
int fr_bd_method_parse(const char *s, FrBdMethod *m, FrError *err);
/* fr_bd_method_name() ("pchip", "cubic") is declared in featrd/config.h. */

/* One RD curve: n points, rate > 0 (any unit: bits, KBPI), quality in any
 * unit (mAP, PSNR, accuracy). Order does not matter; points are sorted by
 * rate inside. Owned by whoever filled it. */
typedef struct FrBdCurve {
    size_t n;
    double *rate;
    double *quality;
    int *line;      /* CSV line of each point for messages, or NULL */
    /* Optional uncertainty (fr_bd_report uses it when present): */
    double *q_lo, *q_hi; /* confidence interval of each quality, or NULL */
    int nrep;            /* bootstrap replicates per point; 0: none */
    double *rep_rate;    /* [n * nrep]: point i, replicate b at i * nrep + b */
    double *rep_quality; /* [n * nrep], same layout; a replicate may be NaN */
} FrBdCurve;

/* Frees every array and zeroes the curve. */
void fr_bd_curve_free(FrBdCurve *c);

/* Collects the rows of csv whose column `curve_col` equals `name`: rate from
 * column rate_col, quality from quality_col. Errors (FR_E_FORMAT) name the
 * file, the line and the column: missing column, non-numeric or non-positive
 * rate, non-numeric quality, no row with that curve name (listing the names
 * present). On success c owns new arrays. */
int fr_bd_curve_from_csv(const FrCsv *csv, const char *curve_col, const char *name,
                         const char *rate_col, const char *quality_col,
                         FrBdCurve *c, FrError *err);

typedef struct FrBdResult {
    double rate_pct;          /* BD-rate in percent: < 0 means the test saves bits */
    double quality;           /* BD-quality in quality units: > 0 means the test is better */
    double quality_overlap;   /* overlap of the quality ranges / the smaller range, [0, 1] */
    double rate_overlap;      /* the same for log rate */
    char warning[512];        /* empty, or a sentence (e.g. small overlap) to show the user */
} FrBdResult;

/* Computes both deltas of test against anchor. Errors: FR_E_USAGE for too few
 * points (cubic needs 4, pchip 2), non-positive or non-finite values,
 * a curve whose quality is not strictly monotonic in rate for pchip (naming
 * the two points, by CSV line when c->line is set, else 1-based in rate order),
 * no overlap of the quality range (BD-rate) or of the rate range
 * (BD-quality). A small overlap (< 50 % of the smaller range) is not an
 * error: it is reported in res->warning. `what` names the curves in
 * messages, e.g. "curves.csv: anchor 'jpeg' / test 'max_17'" (may be NULL). */
int fr_bd(const FrBdCurve *anchor, const FrBdCurve *test, FrBdMethod m,
          const char *what, FrBdResult *res, FrError *err);

/* The two deltas separately (same errors as fr_bd for their own range);
 * warning may be NULL or a buffer of warn_cap bytes. */
int fr_bd_rate(const FrBdCurve *anchor, const FrBdCurve *test, FrBdMethod m,
               double *pct, char *warning, size_t warn_cap, FrError *err);
int fr_bd_quality(const FrBdCurve *anchor, const FrBdCurve *test, FrBdMethod m,
                  double *dq, char *warning, size_t warn_cap, FrError *err);

/* ---------------- BD that says when it cannot be trusted ----------------
 *
 * fr_bd_report computes both methods on the same (by default monotone) data,
 * the overlaps, a bootstrap confidence interval when both curves carry
 * replicates, and a verdict: valid = 0 with every reason found when
 *   - a raw curve is not monotone (points dropped by the upper envelope),
 *   - a curve has fewer than min_points points after the envelope,
 *   - the overlap on either axis is under min_overlap,
 *   - the quality span of the common interval is under the saturation
 *     threshold (min_span; auto: 2 × the median CI half-width of the points
 *     when the curves carry CIs, else 1 % of the largest |quality|),
 *   - pchip and cubic BD-rates differ by more than max_disagree_pp points,
 *     or either method cannot be computed,
 *   - more than 5 % of the bootstrap replicates give no BD. */

typedef struct FrBdOptions {
    FrBdMethod method;        /* the reported (primary) method: FR_BD_PCHIP */
    int monotone;             /* 1: fit the upper envelope of each curve (default) */
    int min_points;           /* 4 */
    double min_overlap;       /* 0.5 (share of the smaller range, on each axis) */
    double max_disagree_pp;   /* 1.0 percentage point of BD-rate */
    double min_span;          /* < 0: auto (see above); else the quality span threshold */
    double level;             /* CI level 0.95 */
} FrBdOptions;

void fr_bd_options_defaults(FrBdOptions *o);

typedef struct FrBdReport {
    size_t anchor_points, test_points; /* raw */
    size_t anchor_used, test_used;     /* after the envelope */
    double rate_pct, quality;          /* the primary method's deltas (NaN if it failed) */
    double pchip_rate_pct, pchip_quality, cubic_rate_pct, cubic_quality; /* NaN if failed */
    double quality_overlap, rate_overlap;
    double quality_span, span_threshold; /* common quality interval and its threshold */
    double rate_lo, rate_hi, quality_lo, quality_hi; /* bootstrap CI; NaN without replicates */
    int boot_ok, boot_total;           /* replicates that gave a BD / replicates */
    int significant;                   /* the BD-rate CI excludes 0 (0 without CI) */
    int valid;
    char reason[768];                  /* "; "-separated; empty when valid */
} FrBdReport;

/* Never fails on the data: whatever cannot be computed is NaN and a reason.
 * Errors only for no memory or a curve with no points (FR_E_USAGE). */
int fr_bd_report(const FrBdCurve *anchor, const FrBdCurve *test, const FrBdOptions *o,
                 const char *what, FrBdReport *rep, FrError *err);

#ifdef __cplusplus
}
#endif
#endif
