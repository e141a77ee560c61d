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
 * channels' back halves. s: nq rows of n (row k for qps[k]); seconds (may be
 * NULL): nq entries, entry k the cost of QP k with the shared back half's
 * seconds split evenly across the QPs. Bit-identical to nq calls of
 * fr_alloc_sensitivity. */
int fr_alloc_sensitivity_qps_(FrModel *m, int split, const FrTensor *cuts, int ncuts,
                              const FrFeatureSettings *fs, const int *qps, int nq, int layer,
                              double *s, int n, double *seconds, FrError *err);

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
