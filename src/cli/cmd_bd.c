/* cmd_bd.c: `featrd bd CURVES.csv --anchor A --test B [--method pchip|cubic]
 * [--rate COL] [--quality COL] [--raw] [--min-span X]`: Bjontegaard deltas
 * of curves of a CSV whose `curve` column names each row's curve, with the
 * same defaults, verdicts and bootstrap intervals as a run's bd.csv. */
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: featrd bd CURVES.csv --anchor NAME --test NAME|GLOB [--method pchip|cubic]\n"
            "                 [--rate COL] [--quality COL] [--raw] [--min-span X] [--csv]\n"
            "Bjontegaard deltas of each test curve (a name or an fnmatch glob such as\n"
            "'split=max_7*', as in configs) against the anchor curve. CURVES.csv has a\n"
            "header row and a 'curve' column naming each row's curve.\n"
            "  --method    pchip (default; piecewise cubic Hermite as the JCT-VC/JVET sheets)\n"
            "              or cubic (VCEG-M33); both are always computed and compared\n"
            "  --rate      rate column (default kbpi), > 0; BD works on its logarithm\n"
            "  --quality   quality column (default: the first of map07, map, top1, top5,\n"
            "              fidelity with values, as bd.csv)\n"
            "  --raw       fit the points as they are (default: the upper envelope of each\n"
            "              curve, so noise cannot make a curve non-monotone)\n"
            "  --min-span  saturation threshold on the common quality span (default auto)\n"
            "  --csv       print bd.csv rows instead of the report\n"
            "A points.csv of a run carries CIs and boot/ replicates next to it: the BD then\n"
            "gets a bootstrap confidence interval. Every result has a verdict: valid, or\n"
            "the reasons it cannot be trusted.\n");
}

static void print_num(const char *label, const char *fmt, double v, double lo, double hi,
                      const char *unit)
{
    printf("%s: ", label);
    if (!isfinite(v)) {
        printf("n/a\n");
        return;
    }
    printf(fmt, v);
    printf("%s", unit);
    if (isfinite(lo) && isfinite(hi)) {
        printf(" [");
        printf(fmt, lo);
        printf(", ");
        printf(fmt, hi);
        printf("]");
    }
    printf("\n");
}

int fr_cmd_bd(int argc, char **argv)
{
    const char *csv_path = NULL, *anchor = NULL, *test = NULL, *method = "pchip";
    const char *rate_col = "kbpi", *quality_col = NULL, *min_span = NULL;
    int raw = 0, as_csv = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (fr_cli_is_help(a)) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--raw")) {
            raw = 1;
            continue;
        }
        if (!strcmp(a, "--csv")) {
            as_csv = 1;
            continue;
        }
        const char **slot = !strcmp(a, "--anchor")     ? &anchor
                            : !strcmp(a, "--test")     ? &test
                            : !strcmp(a, "--method")   ? &method
                            : !strcmp(a, "--rate")     ? &rate_col
                            : !strcmp(a, "--quality")  ? &quality_col
                            : !strcmp(a, "--min-span") ? &min_span
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
    FrBdOptions o;
    fr_bd_options_defaults(&o);
    o.monotone = !raw;
    int rc = fr_bd_method_parse(method, &o.method, &err);
    if (rc)
        return fr_cli_fail("bd", rc, "%s", err.msg);
    if (min_span) {
        char *end;
        o.min_span = strtod(min_span, &end);
        if (*end || !(o.min_span >= 0))
            return fr_cli_fail("bd", FR_E_USAGE, "--min-span '%s': expected a number >= 0", min_span);
    }
    /* boot/ replicates live next to a run's points.csv */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", csv_path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    FrCsv *csv = NULL;
    FrBdCurve ca = {0};
    if ((rc = fr_csv_read(csv_path, &csv, &err)))
        goto done;
    if (!quality_col && !(quality_col = fr_results_default_quality(csv))) {
        rc = fr_error(&err, FR_E_FORMAT, "%s: no quality column (map07, map, top1, top5, "
                      "fidelity) has values; name one with --quality", csv_path);
        goto done;
    }
    if ((rc = fr_results_bd_curve(dir, csv, anchor, rate_col, quality_col, &ca, &err)))
        goto done;
    int cc = fr_csv_require_col(csv, "curve", &err), matched = 0;
    if (cc < 0) {
        rc = cc;
        goto done;
    }
    if (as_csv)
        printf("%s\n", fr_bd_csv_header());
    size_t nr = fr_csv_nrows(csv);
    for (size_t r = 0; r < nr && !rc; r++) {
        const char *name = fr_csv_get(csv, r, cc);
        int seen = 0;
        for (size_t j = 0; j < r && !seen; j++)
            seen = !strcmp(fr_csv_get(csv, j, cc), name);
        if (seen || !strcmp(name, anchor) || (strcmp(name, test) && fnmatch(test, name, 0)))
            continue;
        if (strcmp(name, test) && (!strcmp(name, "reference") || strstr(name, ":reference-yuv")))
            continue;
        matched++;
        FrBdCurve ct = {0};
        FrBdReport rep;
        char what[600];
        snprintf(what, sizeof what, "%s: anchor '%s' / test '%s'", csv_path, anchor, name);
        if ((rc = fr_results_bd_curve(dir, csv, name, rate_col, quality_col, &ct, &err)) ||
            (rc = fr_bd_report(&ca, &ct, &o, what, &rep, &err))) {
            fr_bd_curve_free(&ct);
            break;
        }
        if (as_csv) {
            const char *head[] = {anchor, name, fr_bd_method_name(o.method), rate_col, quality_col};
            for (int k = 0; k < 5; k++) {
                fr_csv_write_field(stdout, head[k]);
                fputc(',', stdout);
            }
            printf("%zu,%zu,%zu,%zu,", ca.n, ct.n, rep.anchor_used, rep.test_used);
            double v[] = {rep.rate_pct,       rep.rate_lo,        rep.rate_hi,
                          rep.quality,        rep.quality_lo,     rep.quality_hi,
                          rep.pchip_rate_pct, rep.cubic_rate_pct, rep.pchip_quality,
                          rep.cubic_quality,  rep.quality_overlap, rep.rate_overlap,
                          rep.quality_span,   rep.span_threshold};
            for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
                char num[40];
                fr_csv_fmt_double(num, sizeof num, v[k]);
                printf("%s,", num);
            }
            printf("%d,%s,%s,", rep.boot_total,
                   rep.boot_total ? (rep.significant ? "yes" : "no") : "", rep.valid ? "yes" : "no");
            fr_csv_write_field(stdout, rep.reason);
            fputc('\n', stdout);
        } else {
            printf("anchor %s (%zu points, %zu used), test %s (%zu points, %zu used)\n", anchor,
                   ca.n, rep.anchor_used, name, ct.n, rep.test_used);
            printf("method %s, rate %s, quality %s, %s", fr_bd_method_name(o.method), rate_col,
                   quality_col, o.monotone ? "upper envelope" : "raw points");
            if (rep.boot_total)
                printf(", %d bootstrap replicates (%.0f%% CI)", rep.boot_total, 100 * o.level);
            printf("\n");
            print_num("BD-rate", "%.4f", rep.rate_pct, rep.rate_lo, rep.rate_hi, " %");
            print_num("BD-quality", "%.6g", rep.quality, rep.quality_lo, rep.quality_hi, "");
            printf("pchip %.4f %% / cubic %.4f %%; overlap: quality %.0f%%, rate %.0f%%\n",
                   rep.pchip_rate_pct, rep.cubic_rate_pct, 100 * rep.quality_overlap,
                   100 * rep.rate_overlap);
            if (rep.boot_total)
                printf("%s at %.0f%%\n", rep.significant ? "significant" : "not significant",
                       100 * o.level);
            printf("verdict: %s%s%s\n", rep.valid ? "valid" : "NOT VALID", rep.valid ? "" : ": ",
                   rep.reason);
        }
        fr_bd_curve_free(&ct);
    }
    if (!rc && !matched) {
        FrBdCurve probe = {0};
        /* a plain name gets the list of curves in the file */
        rc = strpbrk(test, "*?[") ? 0 : fr_bd_curve_from_csv(csv, "curve", test, rate_col,
                                                              quality_col, &probe, &err);
        fr_bd_curve_free(&probe);
        if (!rc)
            rc = fr_error(&err, FR_E_FORMAT, "%s: --test '%s' matches no curve other than the "
                          "anchor", csv_path, test);
    }
done:
    fr_bd_curve_free(&ca);
    fr_csv_destroy(&csv);
    if (rc)
        return fr_cli_fail("bd", rc, "%s", err.msg);
    return 0;
}
