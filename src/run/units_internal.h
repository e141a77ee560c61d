/* units_internal.h: image-chunk work units, what `featrd submit` schedules
 * and `featrd run --chunks C --unit U` computes (src/run/units.c).
 *
 * A unit is (group, chunk). Group 0 holds the points that run the whole
 * network (the reference, the anchors); group 1 + w * S + s the feature
 * points of split s with weight set w (S splits). Chunk c is a contiguous
 * run of the image list. A unit computes the per-image results of every
 * point of its group over its images (so each image's front half at a split
 * is computed once on the whole cluster) and writes one file per point,
 * units/<point id>/<chunk>.res; the merge computes each point's statistics
 * (mAP is a data-set statistic) from every chunk's file, exactly as one run
 * would. The files are the commit: a requeued unit skips the points whose
 * file is there. */
#ifndef FEATRD_UNITS_INTERNAL_H
#define FEATRD_UNITS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "featrd.h"
#include "metrics/metrics.h"

/* One image's result for one point (what the runner aggregates). */
typedef struct FrImgRes {
    double bits, payload, side, elements;
    double paper; /* seed 001's rule: payload + 32 bits per min/max float */
    double t_front, t_enc, t_dec, t_back, t_sens;
    double lambda, d_pred, d_joint; /* rdopt: slope used, predicted and measured distortion */
    double mv[FR_METRIC_MAX]; /* the registry's per-image values of its feature and picture
                                 metrics, by FrMetric (NaN: not measured) */
    FrDetection *dets;
    int ndet;
    FrTensor out; /* classification / dense output (task != detection) */
} FrImgRes;

typedef struct FrUnitPlan {
    int splits, weight_sets; /* S, and W = max(1, sweep.weights) */
    int groups;              /* 1 + S * W */
    int chunks;
    int units;               /* groups * chunks */
    size_t images;
    uint64_t hash;           /* fr_experiment_hash of the config */
} FrUnitPlan;

/* The plan of e over n images in `chunks` chunks (clamped to 1..n). */
void fr_unit_plan_init(FrUnitPlan *u, const FrExperiment *e, int chunks, size_t images);
/* The group of a point (see above). */
int fr_unit_group(const FrUnitPlan *u, const FrPoint *pt);
/* Images [*lo, *hi) of chunk c. */
void fr_unit_chunk_range(const FrUnitPlan *u, int chunk, size_t *lo, size_t *hi);

/* DIR/units/plan.yaml: the plan, the config's hash and the directory the
 * submission ran in (relative paths of the config resolve there). write
 * creates it, or checks that the one there is the same plan (FR_E_MISMATCH
 * naming what differs: another config or chunk count). */
int fr_unit_plan_write(const char *dir, const FrUnitPlan *u, const char *cwd, FrError *err);
/* Reads it; FR_E_NOENT when the directory has no unit plan. cwd may be NULL. */
int fr_unit_plan_read(const char *dir, FrUnitPlan *u, char *cwd, size_t cwd_cap, FrError *err);

/* DIR/units/<id>/cCCCCC-of-NNNNNN.res */
void fr_unit_res_path(char *buf, size_t cap, const char *dir, const char *point_id, int chunk,
                      int chunks);
/* 1 when the point's file of chunk c is there (not verified). */
int fr_unit_res_exists(const char *dir, const char *point_id, int chunk, int chunks);

/* Writes res[lo..hi) (and each image's size w[i], h[i]) of point pt,
 * atomically; the file carries the config hash and a CRC-32. */
int fr_unit_res_write(const char *dir, const FrUnitPlan *u, const FrPoint *pt, int chunk,
                      const FrImgRes *res, const int *w, const int *h, FrError *err);
/* Reads the point's file of chunk c into res[lo..hi), w[], h[] (res entries
 * must be empty; their dets/out are allocated). Refuses a file of another
 * config, point or plan, a truncated or corrupted one (FR_E_FORMAT/MISMATCH
 * naming the file and what to rerun). */
int fr_unit_res_read(const char *dir, const FrUnitPlan *u, const FrPoint *pt, int chunk,
                     FrImgRes *res, int *w, int *h, FrError *err);

/* The same checks without reading the records (the merge checks every
 * file before it commits anything). */
int fr_unit_res_check(const char *dir, const FrUnitPlan *u, const FrPoint *pt, int chunk,
                      FrError *err);

/* The unit's state file, DIR/units/state/uNNNNNN.yaml: state (running,
 * done, failed, interrupted), host, pid, Slurm job, points done. */
int fr_unit_state_write(const char *dir, int unit, const char *state, int points_done,
                        int points_total, FrError *err);

/* Unit u's lock (DIR/units/lock/uNNNNNN.lock, flock): a second process of
 * the same unit is refused (FR_E_USAGE naming the holder). */
int fr_unit_lock(const char *dir, int unit, int *fd, FrError *err);
/* 1 when unit u's lock is held by a live process now. */
int fr_unit_locked(const char *dir, int unit);

#endif
