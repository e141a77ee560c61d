/* fuzz_csv.c: curves CSV text → fr_csv_parse, then the first two curve
 * names of column 0 (rate column 1, quality column 2) through
 * fr_bd_curve_from_csv and fr_bd with both methods. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "featrd.h"

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
        }
        fr_bd_curve_free(&ca);
        fr_bd_curve_free(&cb);
    }
    fr_csv_destroy(&csv);
    return 0;
}
