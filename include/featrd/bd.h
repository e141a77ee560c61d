/* featrd/bd.h: Bjontegaard deltas between an anchor and a test RD curve:
 * BD-rate (mean percent rate change at equal quality) and BD-quality (mean
 * quality change at equal rate), by the VCEG-M33 cubic fit or by piecewise
 * cubic Hermite interpolation (pchip). Built on GSL (src/bd.c is the GSL
 * adapter; GSL headers do not leak through this header). */
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
} FrBdCurve;

/* Frees the arrays and zeroes the curve. */
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

#ifdef __cplusplus
}
#endif
#endif
