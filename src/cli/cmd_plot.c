/* cmd_plot.c: `featrd plot RESULTS_DIR [--scripts DIR]`: gnuplot figures
 * (PNG and SVG) of DIR/points.csv: task metric vs KBPI. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

int fr_cmd_plot(int argc, char **argv)
{
    const char *dir = NULL, *scripts = NULL;
    for (int i = 1; i < argc; i++) {
        if (fr_cli_is_help(argv[i])) {
            printf("usage: featrd plot RESULTS_DIR [--scripts PLOTS_DIR]\n"
                   "Writes RESULTS_DIR/rd_<metric>.png and .svg (task metric vs KBPI, one\n"
                   "curve per split and bit depth, lossless points per split, the cloud-only\n"
                   "anchors in black, the uncompressed network dotted) with gnuplot and\n"
                   "PLOTS_DIR/rd.gp (default: plots/ of the source tree). A directory of a\n"
                   "lossless experiment (lossless.csv) gets the Fig. 4 bar chart\n"
                   "(plots/lossless.gp); one of a model experiment (modelcomp.csv) the\n"
                   "ratio-vs-precision plot (plots/modelcomp.gp).\n");
            return 0;
        }
        if (!strcmp(argv[i], "--scripts")) {
            if (i + 1 >= argc)
                return fr_cli_fail("plot", FR_E_USAGE, "--scripts needs a directory");
            scripts = argv[++i];
        } else if (argv[i][0] == '-') {
            return fr_cli_fail("plot", FR_E_USAGE, "unknown option '%s' (featrd plot --help)",
                               argv[i]);
        } else if (!dir) {
            dir = argv[i];
        } else {
            return fr_cli_fail("plot", FR_E_USAGE, "one directory only");
        }
    }
    if (!dir)
        return fr_cli_fail("plot", FR_E_USAGE, "need RESULTS_DIR (featrd plot --help)");
    FrError err = {0};
    /* The three experiment kinds write different result files; plot
     * whichever this directory holds. */
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/lossless.csv", dir);
    int (*plot)(const char *, const char *, FrError *) = fr_results_plot;
    if (stat(path, &st) == 0) {
        plot = fr_lossless_plot;
    } else {
        snprintf(path, sizeof path, "%s/modelcomp.csv", dir);
        if (stat(path, &st) == 0)
            plot = fr_modelcomp_plot;
    }
    double t0 = fr_now();
    int rc = plot(dir, scripts, &err);
    if (rc)
        return fr_cli_fail("plot", rc, "%s", err.msg);
    /* say what was written: the plots newer than the call */
    DIR *dd = opendir(dir);
    int n = 0;
    for (struct dirent *de; dd && (de = readdir(dd));) {
        size_t l = strlen(de->d_name);
        if (l < 5 || (strcmp(de->d_name + l - 4, ".png") && strcmp(de->d_name + l - 4, ".svg")))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (stat(path, &st) == 0 && (double)st.st_mtime >= (double)(long)t0 - 1) {
            fprintf(stderr, "%s %s", n++ ? "," : "featrd plot: wrote", path);
        }
    }
    if (dd)
        closedir(dd);
    if (n)
        fputc('\n', stderr);
    return 0;
}
