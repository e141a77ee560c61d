/* alloc_internal.h: what alloc.c (Algorithm 1, the cache) shares with
 * alloc_rdopt.c (the Lagrangian allocator): one measurement routine that
 * gives a QP's per-channel distortions and rates from one coding, and its
 * cached form. Not part of the public API. */
#ifndef FEATRD_ALLOC_INTERNAL_H
#define FEATRD_ALLOC_INTERNAL_H

#include "featrd.h"
#include "alloc/alloc.h"

/* fr_alloc_sensitivity with a second output: rates[k] = bits of channel k's
 * own frame when the feature is coded at the uniform qp (needs packing
 * frames, fr_alloc_frame_rates_). s or rates may be NULL: with s NULL no back
 * half runs (one encode only). */
int fr_alloc_measure_(FrModel *m, int split, const FrTensor *cuts, int ncuts,
                      const FrFeatureSettings *fs, int qp, int layer, double *s, double *rates,
                      int n, double *seconds, FrError *err);

/* fr_alloc_measure_ with out_raw given (ref_in, the measurement layer's
 * output of the back half on the uncompressed cuts; NULL: computed here), so
 * that several QPs of one image share one uncompressed back half
 * (fr_alloc_sensitivity_qps_). Results equal fr_alloc_measure_'s bit for bit. */
int fr_alloc_measure_ref_(FrModel *m, int split, const FrTensor *cuts, int ncuts,
                          const FrFeatureSettings *fs, int qp, int layer, const FrTensor *ref_in,
                          double *s, double *rates, int n, double *seconds, FrError *err);

/* Algorithm 1's sensitivities of one image at nq QP_base values: the
 * uncompressed back half once, then per QP one coding, one decoding and the
 * channels' back halves (none for a channel decoded as at an earlier
 * QP_base). s: nq rows of n (row k for qps[k]); seconds (may be
 * NULL): nq entries, entry k the cost of QP k with the shared back half's
 * seconds split evenly across the QPs. Bit-identical to nq calls of
 * fr_alloc_sensitivity. */
int fr_alloc_sensitivity_qps_(FrModel *m, int split, const FrTensor *cuts, int ncuts,
                              const FrFeatureSettings *fs, const int *qps, int nq, int layer,
                              double *s, int n, double *seconds, FrError *err);

/* The checks every measurement makes first (cut count, n = the cut set's
 * channels, a codec with a QP per block, qp_base in range). */
int fr_alloc_check_(const FrTensor *cuts, int ncuts, const FrFeatureSettings *fs, int qp_base,
                    int n, FrError *err);

/* Line 1 of Algorithm 1: the back half on the uncompressed cuts, run up to
 * the measurement layer, whose output is copied into *ref (allocated). */
int fr_alloc_reference_(FrModel *m, int split, const FrTensor *cuts, int ncuts, int layer,
                        FrTensor *ref, FrError *err);

/* Line 3 for every channel at once: the whole feature coded at the uniform
 * qp_base with the measurement's settings (tiles padded to 16, as the
 * allocated coding pads them), rates (may be NULL) as fr_alloc_measure_,
 * and when rec is not NULL decoded into *rec (ncuts tensors of the cuts'
 * shapes, allocated; free with fr_alloc_free_set_). The caller has checked
 * the arguments with fr_alloc_check_. */
int fr_alloc_code_uniform_(const FrTensor *cuts, int ncuts, const FrFeatureSettings *fs,
                           int qp_base, double *rates, int n, FrTensor **rec, FrError *err);

/* Lines 2-9: s[k] = MSE at the measurement layer between ref and the back
 * half on the cuts with channel k replaced by rec's (0 without a back half
 * when rec's channel equals the original). prev[0..nprev-1] are the decoded
 * sets of earlier QP_base values and prev_s their sensitivities, nprev rows
 * of the cut set's channel count: a channel decoded to the same values as
 * in prev[j] takes row j's value without a back half (the same input, so
 * the same value bit for bit). */
int fr_alloc_channels_mse_(FrModel *m, int split, int layer, const FrTensor *cuts, int ncuts,
                           const FrTensor *rec, const FrTensor *ref,
                           const FrTensor *const *prev, const double *prev_s, int nprev,
                           double *s, FrError *err);

/* Frees n tensors and the array holding them (NULL: nothing). */
void fr_alloc_free_set_(FrTensor *set, int n);

/* The per-channel frame bits of a frames-packed HEVC container (slice NAL
 * units with their start codes; parameter sets and SEI left out). */
int fr_alloc_frame_rates_(const uint8_t *frd, size_t len, double *rates, int n, FrError *err);

/* fr_alloc_measure_ through the sensitivity cache: the sensitivities under
 * the key fr_alloc_image_qps uses, the rates under the same key + ",rate". */
int fr_alloc_cached_(FrModel *m, FrSensCache *cache, const char *image_id,
                     const char *split_name, int split, const FrTensor *cuts, int ncuts,
                     const FrFeatureSettings *fs, int qp, int layer, const char *model_id,
                     double *s, double *rates, int n, double *seconds, FrError *err);

/* The data-set scope's walk over calibration images: each image is loaded,
 * prepared, run to split, its cut set checked to hold n channels (else
 * FR_E_USAGE "WHAT: n entries given for N channels"), and handed to fn with
 * its index; fn adds its measurement seconds to *secs. Every tensor is freed
 * on every path; the first error ends the walk. *seconds (may be NULL): the
 * sum of fn's seconds. */
typedef int (*FrAllocImageFn)(void *arg, int k, const FrTensor *cuts, int ncuts, double *secs,
                              FrError *err);
int fr_alloc_each_image_(FrModel *m, const char *const *images, int nimages, int split, int n,
                         const char *what, FrAllocImageFn fn, void *arg, double *seconds,
                         FrError *err);

#endif
