/* alloc/alloc.h: the library-internal part of module alloc: functions that other
 * modules of libfeatrd and the tests use, which are not part of the public
 * API (include/featrd/alloc.h) and are not installed. The CLI cannot include
 * this (it is built without -Isrc). */
#ifndef FR_INTERNAL_ALLOC_ALLOC_H
#define FR_INTERNAL_ALLOC_ALLOC_H

#include "featrd/alloc.h"

/* Eq. 3 of seed 004: norm[i] = (s[i] - min s) / (max s - min s). When every
 * s[i] is equal (max == min, including n == 1) the paper's formula is 0/0;
 * featrd sets every norm[i] = 0, i.e. no channel is favoured and all get
 * QP_base. s and norm may be the same array. FR_E_USAGE if n < 1 or a value
 * is not finite (a NaN sensitivity means the back half produced NaN). */
int fr_alloc_normalize(const double *s, int n, double *norm, FrError *err);

/* Rounds half away from zero (2.5 -> 3), the rule the QP formula uses; said
 * here because numpy's round (half to even) would give 2. */
long fr_alloc_round(double x);

/* Algorithm 1, lines 10-11: qps[i] = QP_base - round(qp_range * norm[i]),
 * clipped to FR_QP_MIN..FR_QP_MAX, from raw sensitivities s (normalised
 * here). qp_base must be in 0..51 and qp_range >= 0 (FR_E_USAGE otherwise).
 * The most sensitive channel gets QP_base - qp_range (clipped), the least
 * sensitive QP_base. */
int fr_alloc_qps(const double *s, int n, int qp_base, int qp_range, int *qps, FrError *err);

/* Every qps[i] = qp (the uniform anchor). */
void fr_alloc_uniform(int *qps, int n, int qp);

/* Mean of per-image sensitivity vectors, for the data-set scope:
 * mean[i] = (1/nimages) sum_k s[k*n + i]. The raw (not normalised) values are
 * averaged, so images whose back-half outputs move more weigh more, as an
 * average of MSEs over a calibration set does. FR_E_USAGE if nimages < 1. */
int fr_alloc_mean(const double *s, int nimages, int n, double *mean, FrError *err);

/* Total channels over a cut set: sum of cuts[t].c. Per-channel QP arrays and
 * sensitivity vectors have this many entries, cut tensor after cut tensor
 * (the order FrFeatureSettings.channel_qp uses). */
int fr_alloc_channels(const FrTensor *cuts, int ncuts);

/* Resolves the layer whose output the sensitivity MSE is measured at, for a
 * split after layer `split`:
 *  FR_SENS_PENULTIMATE: the input of the final classifier, i.e. the output of
 *    the layer just before the last layer with weights (conv or connected).
 *    Seed 004 feeds the noisy feature "to the subsequent layers except for
 *    the final classifier"; on darknet's vgg-16.cfg this is dropout_20, which
 *    shares fc7's (connected_19's) output, the 4096-vector PyTorch's
 *    classifier[:-1] gives.
 *  FR_SENS_FINAL: the last layer (class probabilities after softmax).
 *  FR_SENS_NAMED: name resolved by fr_model_find_layer (any spelling).
 * The layer must come after the split (FR_E_USAGE otherwise, saying to use
 * "final" or a later layer). */
int fr_alloc_sens_layer(const FrModel *m, int split, FrSensLayer which, const char *name,
                        int *layer, FrError *err);

/* Algorithm 1, lines 1-9, for one image: s[k] = MSE(out_(k), out_raw) at
 * `layer`, where out_raw is the back half on the original cut tensors and
 * out_(k) the back half with only channel k replaced by its coded version
 * (quantised, coded at qp_base, decoded, dequantised). n must equal
 * fr_alloc_channels(cuts, ncuts).
 *
 * The degraded channels come from coding the whole feature ONCE at a uniform
 * qp_base with fs's Q-layer, packing and HEVC settings (fs->qp and
 * fs->channel_qp are ignored): every channel's degraded version costs one
 * encode in total, not one each. With frames packing (every frame intra, no
 * rate control) a frame's reconstruction does not depend on the other frames,
 * so this equals coding each channel alone with the same Q-layer range (a
 * test checks it sample for sample). With tile packing a tile's intra
 * prediction reads its coded neighbours, so the degradation is the one the
 * channel gets inside the mosaic actually sent (tiles padded to 16, as the
 * per-tile-QP coding pads them), which is what matters for allocation;
 * coding a tile alone would differ slightly at its borders.
 * A channel whose coded version equals the original exactly gets s = 0
 * without a back-half pass (the back half is deterministic).
 *
 * Cost: one encode + one decode + (1 + channels that changed) back halves.
 * fs->codec must be FR_CODEC_HEVC (a lossless coder degrades nothing).
 * The model's layer outputs are overwritten; afterwards they hold the last
 * pass, not out_raw. seconds (may be NULL) receives the wall time. */
int fr_alloc_sensitivity(FrModel *m, int split, const FrTensor *cuts, int ncuts,
                         const FrFeatureSettings *fs, int qp_base, int layer, double *s, int n,
                         double *seconds, FrError *err);

size_t fr_sens_key(char *buf, size_t cap, const char *image, const char *split, int bits,
                   int qp_base, const char *extra);

/* dir may be NULL (memory only); it is created if missing. The cache copies
 * dir. Errors: FR_E_IO if dir cannot be created, FR_E_NOMEM. On error *c is
 * NULL. */
int fr_sens_cache_create(FrSensCache **c, const char *dir, FrError *err);

/* Frees everything and sets *c to NULL; safe on NULL. Disk files stay. */
void fr_sens_cache_destroy(FrSensCache **c);

/* Looks a key up (memory first, then disk). Returns 1 and copies n values into
 * s (and the seconds the computation took into *seconds, if non-NULL) when
 * found with exactly n values; 0 when absent (a disk file for another key, of
 * another length or unreadable counts as absent); negative only for FR_E_NOMEM. */
int fr_sens_cache_get(FrSensCache *c, const char *key, double *s, int n, double *seconds);

/* Stores a copy of s[0..n-1] under key (replacing an older entry) and, with a
 * directory, writes it atomically to disk. Returns 0, FR_E_NOMEM or FR_E_IO
 * (the memory entry is kept even when the disk write fails). */
int fr_sens_cache_put(FrSensCache *c, const char *key, const double *s, int n, double seconds,
                      FrError *err);

/* Number of entries in memory (for tests and progress messages). */
size_t fr_sens_cache_count(FrSensCache *c);

/* The `extra` part of a cache key: everything besides (image, split, bits,
 * QP_base) that changes sensitivities: Q-layer range mode and relu_min0,
 * packing and tile padding, the HEVC settings, the measurement layer and a
 * model id (cfg and weights paths, say). model_id may be NULL. */
size_t fr_alloc_key_extra(char *buf, size_t cap, const FrFeatureSettings *fs, int layer,
                          const char *model_id);

/* Per-image allocation of one RD point: looks the sensitivities of (image_id,
 * split_name, fs->bits, qp_base, fr_alloc_key_extra(fs, layer, model_id)) up
 * in cache (may be NULL: always computed), computes them with
 * fr_alloc_sensitivity when absent and stores them, then fills qps[0..n-1]
 * with fr_alloc_qps(qp_base, qp_range). *sens_seconds (may be NULL) receives
 * the seconds the measurement took (the cached figure when it came from the
 * cache, so the CSV reports the encoder's cost, not the cache's). s_out (may
 * be NULL) receives the raw sensitivities. */
int fr_alloc_image_qps(FrModel *m, FrSensCache *cache, const char *image_id,
                       const char *split_name, int split, const FrTensor *cuts, int ncuts,
                       const FrFeatureSettings *fs, int qp_base, int qp_range, int layer,
                       const char *model_id, int *qps, int n, double *s_out,
                       double *sens_seconds, FrError *err);

/* Data-set scope: runs the front half and fr_alloc_sensitivity on each of
 * nimages calibration images (paths; loaded with fr_model_load_image and
 * fr_model_prepare_input) and averages the raw sensitivities (fr_alloc_mean)
 * into s[0..n-1]. Each image's vector goes through the cache like
 * fr_alloc_image_qps's (cache may be NULL). *seconds (may be NULL) receives
 * the total measurement seconds (the one-off cost; the per-image encoder cost
 * of this scope is 0). n must equal the split's channel count. */
int fr_alloc_dataset_sensitivity(FrModel *m, FrSensCache *cache, const char *const *images,
                                 int nimages, const char *split_name, int split,
                                 const FrFeatureSettings *fs, int qp_base, int layer,
                                 const char *model_id, double *s, int n, double *seconds,
                                 FrError *err);

/* Per-channel argmin of D + lambda R (lambda >= 0; ties go to the lower rate,
 * then the lower k). choice[i] = the option. Returns sum_i R_i(choice). */
double fr_rdopt_lagrangian(const double *R, const double *D, int n, int nq, double lambda,
                           int *choice);

/* The least-distortion Lagrangian allocation whose rate sum_i R_i(choice_i)
 * stays within budget: the smallest lambda among the slopes of the
 * channels' lower convex hulls that meets it (rate never grows with lambda).
 * With fill = 1 the bits the lambda leaves below the budget are then spent
 * greedily (the upgrade with the best -dD/dR that still fits, repeated: the
 * "equal slope" fill of a discrete hull). A budget below every allocation's
 * rate gives the cheapest option of every channel. *lambda (may be NULL)
 * receives the slope used. FR_E_USAGE on n < 1, nq < 1 or a non-finite value. */
int fr_rdopt_for_rate(const double *R, const double *D, int n, int nq, double budget, int fill,
                      int *choice, double *lambda, FrError *err);

/* Greedy equal-slope refinement of a given allocation (choice, e.g.
 * Algorithm 1's map) within budget: while the rate exceeds the budget the
 * downgrade losing the least distortion per bit saved is made; then, while
 * some upgrade of one channel paid for by downgrades of others lowers the
 * total distortion within the budget, the best such pair (steepest upgrade,
 * flattest downgrade) is made, and any bits left are filled as
 * fr_rdopt_for_rate does. Never increases sum D at a rate within budget. */
int fr_rdopt_refine(const double *R, const double *D, int n, int nq, double budget, int *choice,
                    FrError *err);

/* Curves of one image: for each QP of qps[0..nq-1], the rates and
 * sensitivities through the sensitivity cache (cache may be NULL), filled
 * row-major into R and D (n * nq each). fs->packing must be frames and the
 * codec HEVC. *seconds: measurement seconds (the cached figures when cached). */
int fr_rdopt_curves(FrModel *m, FrSensCache *cache, const char *image_id, const char *split_name,
                    int split, const FrTensor *cuts, int ncuts, const FrFeatureSettings *fs,
                    const int *qps, int nq, int layer, const char *model_id, double *R,
                    double *D, int n, double *seconds, FrError *err);

/* The same averaged over calibration images (loaded and run through the front
 * half as fr_alloc_dataset_sensitivity does): one pair of curves for all
 * images. *seconds: the total measurement seconds. */
int fr_rdopt_dataset_curves(FrModel *m, FrSensCache *cache, const char *const *images,
                            int nimages, const char *split_name, int split,
                            const FrFeatureSettings *fs, const int *qps, int nq, int layer,
                            const char *model_id, double *R, double *D, int n, double *seconds,
                            FrError *err);

int fr_rdopt_allocate(const double *R, const double *D, int n, const int *qps, int nq,
                      int qp_base, double side_bits, const int *start, int *out_qps,
                      FrRdoptResult *res, FrError *err);

/* ---------------- the allocators registry ---------------- */

/* One QP map to compute: what the run knows at a feature point. */
typedef struct FrAllocJob {
    FrModel *m;                 /* the worker's model (front and back halves) */
    FrSensCache *cache;         /* output.dir/cache/sens; may be NULL */
    const char *model_id;       /* part of the cache key (the model cfg) */
    const char *split_name;     /* the split's name (cache key) */
    int split;                  /* the split layer */
    int layer;                  /* the measurement layer (fr_alloc_sens_layer) */
    const FrFeatureSettings *fs; /* the point's coding settings */
    int qp_base;                /* the point's QP_base */
    int qp_range;               /* sweep.qp_range */
    const int *rd_qps;          /* sweep.rdopt.qps (allocators with rd_curves) */
    int n_rd_qps;
    /* scope image: */
    const char *image;          /* the image's path (cache key) */
    const FrTensor *cuts;       /* its cut tensors */
    int ncuts;
    /* scope dataset: */
    const char *const *images;  /* the calibration images' paths */
    int nimages;
} FrAllocJob;

/* What a map cost and, for allocators with rd_curves, what it predicts. */
typedef struct FrAllocStats {
    double seconds; /* measurement seconds (per image, or the data set's total) */
    double lambda;  /* the Lagrangian slope used (rd_curves) */
    double d_pred;  /* the predicted distortion at the measurement layer (rd_curves) */
} FrAllocStats;

/* An allocator: what it is and how it computes a map of n channel QPs.
 * Adding one is a file defining a `const FrAllocator` and one line in
 * src/alloc/allocators.c (docs/alloc.md "Adding an allocator"). */
typedef struct FrAllocator {
    FrAllocInfo info;
    /* per_channel allocators only (NULL for uniform): the map of one image
     * (job->image, cuts) and the map of the data set (job->images). */
    int (*image_qps)(const FrAllocJob *job, int *qps, int n, FrAllocStats *st, FrError *err);
    int (*dataset_qps)(const FrAllocJob *job, int *qps, int n, FrAllocStats *st,
                       FrError *err);
} FrAllocator;

int fr_alloc_count(void);
const FrAllocator *fr_allocator(FrAllocation a);  /* NULL when unknown */
const FrAllocInfo *fr_alloc_info(FrAllocation a); /* NULL when unknown */
int fr_alloc_find(const char *name);              /* the index, or -1 */

#endif
