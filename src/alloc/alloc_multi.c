/* alloc_multi.c: Algorithm 1's sensitivities of one image at several QP_base
 * values (issue #22), sharing the uncompressed back half (out_raw, line 1 of
 * Algorithm 1), which does not depend on QP_base. */
#include "featrd.h"
#include "alloc/alloc_internal.h"
#include "alloc/alloc.h"

#include <string.h>

int fr_alloc_sensitivity_qps_(FrModel *m, int split, const FrTensor *cuts, int ncuts,
                              const FrFeatureSettings *fs, const int *qps, int nq, int layer,
                              double *s, int n, double *seconds, FrError *err)
{
    if (!m || !cuts || !fs || !qps || !s || nq < 1)
        return fr_error(err, FR_E_USAGE, "sensitivity: no QP_base values to measure at");
    if (ncuts < 1 || ncuts > FR_MAX_CUTS)
        return fr_error(err, FR_E_USAGE, "sensitivity: %d cut tensors (1..%d)", ncuts,
                        FR_MAX_CUTS);
    if (n != fr_alloc_channels(cuts, ncuts))
        return fr_error(err, FR_E_USAGE,
                        "sensitivity: %d entries given for %d channels of the cut set", n,
                        fr_alloc_channels(cuts, ncuts));
    double t0 = fr_now();
    FrTensor ref = {0};
    int rc = fr_model_back(m, split, cuts, ncuts, err);
    if (rc == FR_OK && (rc = fr_model_layer_output(m, layer, &ref)) != FR_OK)
        fr_error(err, rc, "sensitivity: cannot read the output of layer %d", layer);
    double shared = (fr_now() - t0) / nq;
    for (int k = 0; k < nq && rc == FR_OK; k++) {
        double secs = 0;
        rc = fr_alloc_measure_ref_(m, split, cuts, ncuts, fs, qps[k], layer, &ref,
                                   s + (size_t)k * (size_t)n, NULL, n, &secs, err);
        if (seconds)
            seconds[k] = secs + shared;
    }
    fr_tensor_free(&ref);
    return rc;
}
