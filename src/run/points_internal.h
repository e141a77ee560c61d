/* points_internal.h: what the runner (run.c) hands the points.csv column
 * registry (points_columns.c): one point's aggregates and context. */
#ifndef FEATRD_POINTS_INTERNAL_H
#define FEATRD_POINTS_INTERNAL_H

#include "featrd.h"
#include "run/run.h"
#include "metrics/metrics.h"

/* One point over the image list (NaN where the point has no such value). */
typedef struct FrPointAgg {
    double bits_mean, bits_std, payload, side, elements, paper;
    double kbpi_lo, kbpi_hi; /* bootstrap CI of kbpi (NaN without) */
    /* by metric column (fr_metric_ncolumns): the value, the mean of the
     * images' values it comes from (the same unless the metric has a
     * finish), and the bootstrap CI (NaN without) */
    double mval[FR_METRIC_MAX], mraw[FR_METRIC_MAX], mlo[FR_METRIC_MAX], mhi[FR_METRIC_MAX];
    double front, enc, dec, back, sens;
    double lambda, d_pred, d_joint; /* rdopt points (NaN otherwise) */
} FrPointAgg;

/* What a row needs from the run besides the point. */
typedef struct FrPointCtx {
    const char *layer; /* darknet name of the split layer (feature points) */
    const char *cut;   /* the cut set, joined by '+' (feature points) */
    const char *range; /* sweep.range's name */
    size_t images;     /* images evaluated */
} FrPointCtx;

/* The point's points.csv row without its '\n', every column of the
 * registry in order (malloc'ed; NULL on no memory). */
char *fr_point_row(const FrPointCtx *c, const FrPoint *pt, const FrPointAgg *a);

/* fr_plan_build on these splits (kind features: the one split of its
 * input) and, with reference = 0, without the reference point. */
int fr_plan_build_splits(const FrExperiment *e, const char *const *splits, int n_split,
                         int reference, FrPlan *plan, FrError *err);

/* bd[] entries name curves of the plan: a typo is refused before the
 * sweep runs (FR_E_CONFIG naming bd[i].anchor / .test and the curves). */
int fr_plan_check_bd(const FrExperiment *e, const FrPlan *plan, FrError *err);

#endif
