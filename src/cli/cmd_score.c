/* cmd_score.c: `featrd score DIR --metric-file F`: task metrics computed
 * outside featrd (e.g. a PyTorch back half on kind features' decoded
 * tensors) merged into DIR/points.csv, then bd.csv and the plots. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: featrd score RESULTS_DIR --metric-file FILE.csv [--no-plots]\n"
            "Merges task metrics you computed per point or per image into\n"
            "RESULTS_DIR/points.csv, so bd.csv (rewritten for the config's bd: entries),\n"
            "`featrd bd --quality METRIC` and the plots use them. FILE.csv has the header\n"
            "  point_id,metric,value          one value per point, or\n"
            "  point_id,image,metric,value    one per image (0-based, the NNNNNN of the\n"
            "                                 file names): the mean, with a bootstrap CI\n"
            "point_id is points.csv's id (p0003-93c9e346; the decoded_dir subdirectories\n"
            "are named by it). A metric becomes a column METRIC with METRIC_lo/_hi, or\n"
            "fills map07, map, top1, top5 or fidelity. Any bad row (unknown point id,\n"
            "image out of range, duplicate, missing image, not a number) is an error\n"
            "naming FILE:LINE, exit 2, and nothing is written.\n");
}

int fr_cmd_score(int argc, char **argv)
{
    const char *dir = NULL, *file = NULL;
    int plots = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (fr_cli_is_help(a)) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--metric-file")) {
            if (i + 1 >= argc)
                return fr_cli_fail("score", FR_E_USAGE, "--metric-file needs a file");
            file = argv[++i];
        } else if (!strcmp(a, "--no-plots")) {
            plots = 0;
        } else if (a[0] == '-' && a[1]) {
            return fr_cli_fail("score", FR_E_USAGE, "unknown option %s (featrd score --help)", a);
        } else if (!dir) {
            dir = a;
        } else {
            return fr_cli_fail("score", FR_E_USAGE, "unexpected argument '%s'", a);
        }
    }
    if (!dir || !file) {
        usage(stderr);
        return fr_cli_fail("score", FR_E_USAGE, "needs RESULTS_DIR and --metric-file FILE");
    }
    FrError err = {0};
    FrScoreReport rep;
    int rc = fr_results_score(dir, file, &rep, &err);
    if (rc)
        return fr_cli_fail("score", rc, "%s", err.msg[0] ? err.msg : fr_strerror(rc));
    printf("%s: %d metric%s (%s) merged into %d points of %s/points.csv%s%s\n", file,
           rep.metrics, rep.metrics == 1 ? "" : "s", rep.names, rep.points, dir,
           rep.per_image ? ", with bootstrap intervals" : "", rep.bd ? "; bd.csv rewritten" : "");
    if (plots) {
        FrError pe = {0};
        int prc = fr_results_plot(dir, NULL, &pe);
        if (prc == FR_E_IO)
            return fr_cli_fail("score", prc, "%s", pe.msg);
        if (prc)
            fprintf(stderr, "featrd score: plots skipped: %s\n", pe.msg);
    }
    return 0;
}
