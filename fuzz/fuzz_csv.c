/* fuzz_csv.c: curves CSV text → fr_csv_parse, then the first two curve
 * names of column 0 (rate column 1, quality column 2) through
 * fr_bd_curve_from_csv, fr_bd with both methods, and fr_bd_report (upper
 * envelope, verdicts; with a few bootstrap replicates made from the
 * points, so the replicate path runs too). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "featrd.h"
#include "util/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FrCsv *csv = NULL;
    FrError err;
    if (fr_csv_parse((const char *)data, size, "fuzz.csv", &csv, &err) != 0)
        return 0;
    if (fr_csv_ncols(csv) >= 3 && fr_csv_nrows(csv) >= 2) {
        const char *cc = fr_csv_colname(csv, 0), *rc = fr_csv_colname(csv, 1),
                   *qc = fr_csv_colname(csv, 2);
        const char *a = fr_csv_get(csv, 0, 0), *b = NULL;
        for (size_t r = 1; r < fr_csv_nrows(csv) && !b; r++)
            if (strcmp(fr_csv_get(csv, r, 0), a))
                b = fr_csv_get(csv, r, 0);
        FrBdCurve ca = {0}, cb = {0};
        if (b && fr_bd_curve_from_csv(csv, cc, a, rc, qc, &ca, &err) == 0 &&
            fr_bd_curve_from_csv(csv, cc, b, rc, qc, &cb, &err) == 0) {
            FrBdResult res;
            (void)fr_bd(&ca, &cb, FR_BD_PCHIP, "fuzz", &res, &err);
            (void)fr_bd(&ca, &cb, FR_BD_CUBIC, "fuzz", &res, &err);
            FrBdReport rep;
            (void)fr_bd_report(&ca, &cb, NULL, "fuzz", &rep, &err);
            /* replicates: each point's rate and quality nudged per replicate */
            FrBdCurve *cs[2] = {&ca, &cb};
            int ok = 1;
            for (int k = 0; k < 2 && ok; k++) {
                FrBdCurve *c = cs[k];
                c->nrep = 3;
                c->rep_rate = malloc(c->n * 3 * sizeof(double));
                c->rep_quality = malloc(c->n * 3 * sizeof(double));
                ok = c->rep_rate && c->rep_quality;
                for (size_t i = 0; ok && i < c->n; i++)
                    for (int b2 = 0; b2 < 3; b2++) {
                        c->rep_rate[i * 3 + (size_t)b2] = c->rate[i] * (1 + 0.01 * b2);
                        c->rep_quality[i * 3 + (size_t)b2] = c->quality[i] - 0.001 * b2;
                    }
            }
            if (ok)
                (void)fr_bd_report(&ca, &cb, NULL, "fuzz", &rep, &err);
        }
        fr_bd_curve_free(&ca);
        fr_bd_curve_free(&cb);
    }
    fr_csv_destroy(&csv);
    return 0;
}
