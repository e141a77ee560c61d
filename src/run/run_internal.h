/* run_internal.h: the runner's state shared by src/run/run.c (the sweep, the
 * workers, resume), run_truth.c (ground truth and the reference pass),
 * run_commit.c (aggregation and commits), run_points.c (front halves, the
 * cut cache, feature points and anchors) and run_units.c (image-chunk
 * units). Internal to the library: functions end in _ and take the Run. */
#ifndef FEATRD_RUN_INTERNAL_H
#define FEATRD_RUN_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "featrd.h"
#include "alloc/alloc.h"
#include "run/features_internal.h"
#include "run/points_internal.h"
#include "run/results_internal.h"
#include "run/units_internal.h"

/* ---------------- run state ---------------- */

/* One image's result for one point (units_internal.h: a unit's file holds them). */
typedef FrImgRes ImgRes;

/* What is known about an image once: its size and ground truth. */
typedef struct ImgInfo {
    int w, h;
    FrGtBox *gt;
    size_t ngt;
    long label;
    FrTensor ref; /* the uncompressed network's output (classification/dense) */
} ImgInfo;

/* Cut tensors of one image at the current split. */
typedef struct CutCache {
    int ncuts;
    FrTensor cuts[FR_MODEL_MAX_CUTS];
    double t_front;
    int on_disk; /* cut files under cache/ instead of cuts[] */
} CutCache;

/* One decoded image (fr_model_load_image's tensor), kept so that the
 * reference pass, the fronts and every anchor decode it once: 8-bit
 * samples when they give back the very floats (darknet's pixel/255.), else
 * the floats. */
typedef struct ImgCache {
    int c, h, w;
    uint8_t *u8;
    float *f;
} ImgCache;

typedef struct Run Run;
typedef int (*ImgFn)(Run *r, int worker, size_t img, void *arg, FrError *err);

struct Run {
    int feat;            /* kind features: no network; the cut sets are fset's files */
    FrFeatureSet fset;
    int cur_weights; /* weights the worker models hold: -1 model.weights, else sweep.weights[i] */
    const FrExperiment *e;
    FrRunOptions o;
    FrPlan plan;
    int jobs;
    FrModel **models;
    FrImageList list;
    ImgInfo *info;
    FrTask task;
    int nclasses;  /* detection: the classes scored (the data set's) */
    FrNames names; /* the data set's class names (dataset.names, else model.names) */
    int *cmap;     /* model class -> scored class or -1; NULL: the same index */
    int nmodel_classes;
    char dir[4096];
    char csv_path[4200], journal_path[4200], manifest_path[4200];
    FrJournal *journal;
    char **rows; /* committed CSV rows by ordinal, NULL = not done */
    /* points.csv is a view of the journal (the commit): rebuilt at most every
     * FR_RUN_CSV_EVERY_S seconds while points commit, and at the end */
    double csv_at;
    int csv_stale;
    size_t total_mine, done_mine;
    FrProgress *prog;
    FrSensCache *sens_cache;
    /* current split */
    int split_layer;
    const char *split_name;
    char split_lname[256], cut_desc[512];
    CutCache *cache;
    char cache_dir[4400];
    /* one pass per image: pre[s] (per image) holds split s's cut sets copied
     * out of the reference forward; NULL where split s runs its own fronts */
    CutCache **pre;
    int npre;
    /* decoded images, kept within img_cap bytes in all (img_used) */
    ImgCache *imgs;
    size_t img_used, img_cap;
    /* the parallel loop */
    pthread_mutex_t mu;
    size_t next, nimg;
    int failed;
    int fail_rc;
    FrError fail_err;
    ImgFn fn;
    void *arg;
    /* image-chunk units (units_internal.h): 0 off, UNIT_COMPUTE one unit's
     * per-image results, UNIT_COLLECT the merge of every unit's */
    int umode;
    FrUnitPlan up;
    int unit, group, chunk;
    size_t img_lo, img_hi;     /* images of this run: the chunk's, else all */
    unsigned char *unit_done;  /* UNIT_COMPUTE: by ordinal, the point's chunk file is there */
    /* invert: the current split's image decoder, one per worker (NULL: none) */
    FrModel **dec;
    /* totals for the benchmark line */
    double tot_front, tot_back, tot_enc, tot_dec, tot_anchor, tot_ref;
};

enum { UNIT_NONE = 0, UNIT_COMPUTE, UNIT_COLLECT };

typedef struct WorkerArg {
    Run *r;
    int worker;
} WorkerArg;

typedef struct RefArg {
    ImgRes *res;
    int forward; /* run the whole network (reference point or fidelity refs needed) */
    /* splits whose cut sets the forward copies out (into r->pre[split[j]]) */
    int ncap, split[8], layer[8];
} RefArg;

typedef struct PointArg {
    const FrPoint *pt;
    FrFeatureSettings fs;
    ImgRes *res;
    const int *dataset_qps; /* sensitivity with dataset scope: one map for all images */
    int n_qps;
    int sens_layer;
    FrAllocStats dataset_rd; /* scope dataset: what the one map cost and predicts */
} PointArg;

/* run.c */
/* Image img decoded (once: later calls copy it from r->imgs) into rgb, and
 * when input is not NULL, prepared as the network input. */
int fr_run_load_input_(Run *r, int worker, size_t img, FrTensor *rgb, FrTensor *input,
                      FrError *err);
int fr_run_mine_(const Run *r, const FrPoint *pt);
int fr_run_par_for_(Run *r, ImgFn fn, void *arg, FrError *err);
ImgRes *fr_run_res_alloc_(Run *r);
void fr_run_res_free_(Run *r, ImgRes **res);
int fr_run_rd_(Run *r, FrError *err);
int fr_run_take_output_(Run *r, FrModel *m, size_t img, ImgRes *res, FrError *err);
int fr_run_todo_(const Run *r, const FrPoint *pt);
int fr_run_use_weights_(Run *r, int wi, FrError *err);

/* run_truth.c */
int fr_run_detection_classes_(Run *r, FrError *err);
int fr_run_read_gt_(Run *r, size_t img, FrError *err);
int fr_run_read_labels_(Run *r, FrError *err);
int fr_run_ref_image_(Run *r, int worker, size_t img, void *arg, FrError *err);

/* run_commit.c */
int fr_run_commit_point_(Run *r, const FrPoint *pt, ImgRes *res, FrError *err);
int fr_run_write_points_csv_(Run *r, FrError *err);
/* Rewrites points.csv when rows were committed since it was last written. */
int fr_run_flush_points_csv_(Run *r, FrError *err);
#define FR_RUN_CSV_EVERY_S 5.0

/* run_points.c */
void fr_run_close_decoders_(Run *r);
int fr_run_check_decoders_(Run *r, FrError *err);
int fr_run_anchor_image_(Run *r, int worker, size_t img, void *arg, FrError *err);
void fr_run_cache_clear_(Run *r);
/* Frees the cut sets of the reference forward not used (yet). */
void fr_run_pre_clear_(Run *r);
/* Chooses the splits whose cut sets the reference forward copies out: every
 * split with feature points to do on model.weights whose cut sets, added up
 * over the splits chosen, fit in cache_mem. */
int fr_run_plan_capture_(Run *r, RefArg *ra, FrError *err);
int fr_run_feat_(Run *r, FrError *err);
int fr_run_feature_points_(Run *r, int s, int wi, FrError *err);
int fr_run_split_resolve_(Run *r, int s, int *cut, int *ncut, size_t *bytes, FrError *err);

/* run_units.c */
int fr_run_collect_rd_(Run *r, FrError *err);
int fr_run_unit_(Run *r, FrError *err);
int fr_run_units_complete_(Run *r, FrError *err);

#endif
