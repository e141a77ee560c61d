/* featrd/alloc.h: per-channel QP allocation. Uniform QP (every channel at the
 * base QP, the anchor of seed 004) and the sensitivity-aware allocation of
 * seed 004 (Hu, Xia, Yang, Liu, Algorithm 1): degrade one channel at a time at
 * QP_base, measure the MSE it causes at a chosen layer of the back half,
 * min-max normalise, QP_i = QP_base - round(QP_range * S~_i), clipped to 0..51.
 * Also a cache of sensitivities keyed by (image, split, bits, QP_base, ...),
 * in memory and optionally on disk. Implemented in src/alloc/alloc.c (no outside
 * library headers). */
#ifndef FEATRD_ALLOC_H
#define FEATRD_ALLOC_H

#include <stddef.h>

#include "featrd/common.h"
#include "featrd/config.h"
#include "featrd/container.h"
#include "featrd/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* HEVC's QP range for 8-bit video; QPs are clipped to it. (Above 8 bits
 * HEVC allows negative QPs down to -6*(bitDepth-8); featrd, like x265's
 * CQP interface, stays at 0..51.) */
#define FR_QP_MIN 0
#define FR_QP_MAX 51
/* Seed 004 fixes QP_range to 5 throughout. */
#define FR_ALLOC_QP_RANGE_DEFAULT 5

/* The enums of the sweep axis (FrAllocation: FR_ALLOC_UNIFORM |
 * FR_ALLOC_SENSITIVITY), of the measurement layer (FrSensLayer:
 * FR_SENS_PENULTIMATE | FR_SENS_FINAL | FR_SENS_NAMED) and of the scope
 * (FrSensScope: FR_SENS_IMAGE | FR_SENS_DATASET), and their YAML spellings,
 * are owned by the config module (featrd/config.h). */

/* ---------------- the allocation formula (pure) ---------------- */

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

/* ---------------- sensitivity measurement (Algorithm 1) ---------------- */

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

/* ---------------- sensitivity cache ---------------- */

/* Cache key for one sensitivity vector. Every input that changes the values
 * is part of it: image (a path or id), split name, bits, QP_base, and a
 * free-form `extra` (packing, range mode, codec settings, measurement layer,
 * model path) that the caller builds; extra may be NULL. Writes a
 * NUL-terminated string into buf; returns the length needed (like snprintf),
 * so a return >= cap means it was cut (FR keys are compared whole, so use a
 * buffer of FR_SENS_KEY_MAX). */
#define FR_SENS_KEY_MAX 1024
size_t fr_sens_key(char *buf, size_t cap, const char *image, const char *split, int bits,
                   int qp_base, const char *extra);

/* A thread-safe map key -> (sensitivity vector, seconds it took). Opaque.
 * With a directory, entries are also written there (one small binary file per
 * key, named by a 64-bit hash of the key, the key stored inside and checked on
 * read) and found again by later runs. */
typedef struct FrSensCache FrSensCache;

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

/* ---------------- for the runner ---------------- */

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

/* ---------------- rdopt: Lagrangian per-channel QP (src/alloc/alloc_rdopt.c) ----------------
 *
 * For every channel i and every QP q_k of a small set, R_i(q_k) = bits of
 * channel i's frame when the feature is coded at uniform q_k (frames packing:
 * every frame intra, coded independently) and D_i(q_k) = the MSE at the
 * measurement layer with channel i alone degraded at q_k (Algorithm 1's
 * sensitivity at QP q_k, the same cache entries). Assuming additivity
 * (D(q_1..q_C) ~ sum_i D_i(q_i), R likewise), the Lagrangian allocation for
 * a slope lambda is q_i = argmin_k D_i(q_k) + lambda R_i(q_k), channel by
 * channel, which is the exact minimiser of sum D + lambda sum R over all
 * QP maps of the set. A curve's points are the lambdas whose allocation
 * spends the rate of uniform QP_base.
 *
 * Curves are row-major: R[i * nq + k], D[i * nq + k] for channel i, option k. */

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

/* What one allocation decided, for points.csv. */
typedef struct FrRdoptResult {
    double lambda;  /* the slope used */
    double rate;    /* model rate sum_i R_i(q_i), bits */
    double budget;  /* sum_i R_i(qp_base) - side_bits, bits */
    double dist;    /* predicted distortion sum_i D_i(q_i) */
} FrRdoptResult;

/* QP map for one point from curves over qps (which must hold qp_base): the
 * budget is uniform QP_base's rate less side_bits (what sending the map
 * costs: the container's QP list, 8 bits a channel, FR_RDOPT_MAP_BITS, so the
 * point as a whole spends no more than uniform QP_base), the allocation
 * fr_rdopt_for_rate's
 * (fill on). start (may be NULL): an initial map of QPs (Algorithm 1's) to
 * refine with fr_rdopt_refine instead, each QP taken to the nearest one of
 * qps (ties to the lower QP). out_qps[0..n-1] receives QPs. */
#define FR_RDOPT_MAP_BITS(n) (8.0 * (double)(n))
int fr_rdopt_allocate(const double *R, const double *D, int n, const int *qps, int nq,
                      int qp_base, double side_bits, const int *start, int *out_qps,
                      FrRdoptResult *res, FrError *err);

/* The allocators registry (src/alloc/alloc.c): one row per `sweep.allocation`
 * value. The config and the plan read what an allocator needs from it. */
typedef struct FrAllocInfo {
    FrAllocation id;
    const char *name;     /* the YAML value */
    int per_channel;      /* 1: a QP per channel (needs a codec with FR_CODEC_BLOCK_QP and
                             tile or frames packing; lossless entries do not get it) */
    int rate_from_base;   /* 1: the rate axis is sweep.qp_base (the curve's points), 0: the
                             codec entry's qp list */
    const char *summary;
} FrAllocInfo;

int fr_alloc_count(void);
const FrAllocInfo *fr_alloc_info(FrAllocation a); /* NULL when unknown */

#ifdef __cplusplus
}
#endif
#endif
