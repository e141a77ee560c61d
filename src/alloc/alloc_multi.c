/* alloc_multi.c: Algorithm 1's sensitivities of one image at several QP_base
 * values (issue #22), sharing the uncompressed back half (out_raw, line 1 of
 * Algorithm 1), which does not depend on QP_base, and the back half of a
 * channel whose decoded values at this QP_base equal those at an earlier one
 * (compared in full: the same input gives the same value bit for bit). */
#include "featrd.h"
#include "alloc/alloc_internal.h"
#include "alloc/alloc.h"

#include <stdlib.h>
#include <string.h>

int fr_alloc_sensitivity_qps_(FrModel *m, int split, const FrTensor *cuts, int ncuts,
                              const FrFeatureSettings *fs, const int *qps, int nq, int layer,
                              double *s, int n, double *seconds, FrError *err)
{
    if (!m || !cuts || !fs || !qps || !s || nq < 1)
        return fr_error(err, FR_E_USAGE, "sensitivity: no QP_base values to measure at");
    for (int k = 0; k < nq; k++) {
        int rc = fr_alloc_check_(cuts, ncuts, fs, qps[k], n, err);
        if (rc) /* the settings' errors before any work, as nq single calls give */
            return rc;
    }
    double t0 = fr_now();
    FrTensor ref = {0};
    FrTensor **rec = calloc((size_t)nq, sizeof *rec);
    int rc = rec ? FR_OK : fr_error(err, FR_E_NOMEM, "out of memory for %d QPs", nq);
    if (rc == FR_OK)
        rc = fr_alloc_reference_(m, split, cuts, ncuts, layer, &ref, err);
    double shared = (fr_now() - t0) / nq;
    for (int k = 0; k < nq && rc == FR_OK; k++) {
        double t1 = fr_now();
        double *row = s + (size_t)k * (size_t)n;
        rc = fr_alloc_code_uniform_(cuts, ncuts, fs, qps[k], NULL, n, &rec[k], err);
        if (rc == FR_OK)
            rc = fr_alloc_channels_mse_(m, split, layer, cuts, ncuts, rec[k], &ref,
                                        (const FrTensor *const *)rec, s, k, row, err);
        if (seconds)
            seconds[k] = fr_now() - t1 + shared;
    }
    for (int k = 0; rec && k < nq; k++)
        fr_alloc_free_set_(rec[k], ncuts);
    free(rec);
    fr_tensor_free(&ref);
    return rc;
}
