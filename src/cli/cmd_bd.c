/* cmd_bd.c: `featrd bd CURVES.csv --anchor A --test B [--method pchip|cubic]
 * [--rate COL] [--quality COL]`: Bjontegaard deltas of two curves of a CSV
 * whose `curve` column names each row's curve. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: featrd bd CURVES.csv --anchor NAME --test NAME [--method pchip|cubic]\n"
            "                 [--rate COL] [--quality COL]\n"
            "Bjontegaard deltas of the test curve against the anchor curve. CURVES.csv has a\n"
            "header row and a 'curve' column naming each row's curve; rows of other curves\n"
            "are ignored.\n"
            "  --method   pchip (default; piecewise cubic Hermite as the JCT-VC/JVET sheets)\n"
            "             or cubic (VCEG-M33 least-squares cubic, needs >= 4 points)\n"
            "  --rate     rate column (default kbpi), > 0; BD works on its logarithm\n"
            "  --quality  quality column (default map)\n"
            "Prints BD-rate (percent rate change at equal quality; negative = test saves\n"
            "bits) and BD-quality (mean quality change at equal rate).\n");
}

int fr_cmd_bd(int argc, char **argv)
{
    const char *csv_path = NULL, *anchor = NULL, *test = NULL, *method = "pchip";
    const char *rate_col = "kbpi", *quality_col = "map";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (fr_cli_is_help(a)) {
            usage(stdout);
            return 0;
        }
        const char **slot = !strcmp(a, "--anchor")    ? &anchor
                            : !strcmp(a, "--test")    ? &test
                            : !strcmp(a, "--method")  ? &method
                            : !strcmp(a, "--rate")    ? &rate_col
                            : !strcmp(a, "--quality") ? &quality_col
                                                      : NULL;
        if (slot) {
            if (i + 1 >= argc)
                return fr_cli_fail("bd", FR_E_USAGE, "%s needs a value (featrd bd --help)", a);
            *slot = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            return fr_cli_fail("bd", FR_E_USAGE, "unknown option '%s' (featrd bd --help)", a);
        } else if (!csv_path) {
            csv_path = a;
        } else {
            return fr_cli_fail("bd", FR_E_USAGE, "one CSV file only, got '%s' and '%s'", csv_path, a);
        }
    }
    if (!csv_path || !anchor || !test) {
        usage(stderr);
        return fr_cli_fail("bd", FR_E_USAGE, "need CURVES.csv, --anchor and --test");
    }
    FrError err = {0};
    FrBdMethod m;
    int rc = fr_bd_method_parse(method, &m, &err);
    if (rc)
        return fr_cli_fail("bd", rc, "%s", err.msg);
    FrCsv *csv = NULL;
    FrBdCurve ca = {0}, ct = {0};
    FrBdResult res;
    char what[600];
    if ((rc = fr_csv_read(csv_path, &csv, &err)) ||
        (rc = fr_bd_curve_from_csv(csv, "curve", anchor, rate_col, quality_col, &ca, &err)) ||
        (rc = fr_bd_curve_from_csv(csv, "curve", test, rate_col, quality_col, &ct, &err)))
        goto done;
    snprintf(what, sizeof what, "%s: anchor '%s' / test '%s'", csv_path, anchor, test);
    if ((rc = fr_bd(&ca, &ct, m, what, &res, &err)))
        goto done;
    if (res.warning[0])
        fprintf(stderr, "featrd bd: warning: %s\n", res.warning);
    printf("anchor %s (%zu points), test %s (%zu points), method %s, rate %s, quality %s\n", anchor,
           ca.n, test, ct.n, fr_bd_method_name(m), rate_col, quality_col);
    printf("BD-rate: %.4f %%\n", res.rate_pct);
    printf("BD-quality: %.6g\n", res.quality);
done:
    fr_bd_curve_free(&ca);
    fr_bd_curve_free(&ct);
    fr_csv_destroy(&csv);
    if (rc)
        return fr_cli_fail("bd", rc, "%s", err.msg);
    return 0;
}
