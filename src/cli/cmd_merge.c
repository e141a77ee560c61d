/* cmd_merge.c: `featrd merge DIR`: joins the shard outputs of
 * `featrd run --shard I/N` into DIR/points.csv, manifest.yaml and bd.csv. */
#define _DEFAULT_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* DIR of `featrd submit` (DIR/units/): every unit's per-image results
 * aggregated into points.csv, bd.csv and the plots by the runner itself, on
 * the config the units ran (their relative paths resolve where they ran). */
static int merge_units(const char *dir, const FrUnitsStatus *st, int plots)
{
    char abs[PATH_MAX], cfg[PATH_MAX + 32], ovr[PATH_MAX + 32];
    if (!realpath(dir, abs))
        return fr_cli_fail("merge", FR_E_NOENT, "%s: cannot resolve the directory", dir);
    snprintf(cfg, sizeof cfg, "%s/units/config.yaml", abs);
    snprintf(ovr, sizeof ovr, "output.dir=%s", abs);
    if (st->cwd[0] && chdir(st->cwd) != 0)
        return fr_cli_fail("merge", FR_E_NOENT,
                           "%s: the units ran in %s, which is not here: merge on a machine "
                           "that sees it (relative paths of the config resolve there)",
                           dir, st->cwd);
    const char *ov[] = {ovr};
    FrExperiment *e = NULL;
    FrError err = {0};
    int rc = fr_config_load(cfg, ov, 1, &e, &err);
    FrRunOptions o;
    fr_run_options_defaults(&o);
    o.chunks = st->chunks;
    o.collect = 1;
    o.plots = plots;
    if (!rc)
        rc = fr_run(e, &o, &err);
    fr_experiment_free(&e);
    if (rc)
        return fr_cli_fail("merge", rc, "%s", err.msg);
    printf("featrd merge: %d units (%d chunks of %zu images) merged into %s/points.csv, "
           "manifest.yaml, vs_reference.csv and, for the config's bd entries, bd.csv\n",
           st->units, st->chunks, st->images, abs);
    return 0;
}

int fr_cmd_merge(int argc, char **argv)
{
    const char *dir = NULL;
    int plots = 1;
    for (int i = 1; i < argc; i++) {
        if (fr_cli_is_help(argv[i])) {
            printf("usage: featrd merge RESULTS_DIR [--no-plots]\n"
                   "Joins points.shard-I-of-N.csv (every I of one N, one config) into\n"
                   "points.csv sorted by ordinal, as one run would write it, then bd.csv and\n"
                   "the plots. Refuses missing, unfinished or inconsistent shards.\n"
                   "For a directory of `featrd submit` (DIR/units/), aggregates every\n"
                   "unit's per-image results into the same files, refusing unfinished units\n"
                   "and naming them (docs/cluster.md).\n");
            return 0;
        }
        if (!strcmp(argv[i], "--no-plots"))
            plots = 0;
        else if (argv[i][0] == '-')
            return fr_cli_fail("merge", FR_E_USAGE, "unknown option '%s' (featrd merge --help)",
                               argv[i]);
        else if (!dir)
            dir = argv[i];
        else
            return fr_cli_fail("merge", FR_E_USAGE, "one directory only");
    }
    if (!dir)
        return fr_cli_fail("merge", FR_E_USAGE, "need RESULTS_DIR (featrd merge --help)");
    FrError err = {0};
    FrUnitsStatus st;
    int rc = fr_units_status(dir, &st, &err);
    if (rc == 0) {
        rc = merge_units(dir, &st, plots);
        fr_units_status_free(&st);
        return rc;
    }
    if (rc != FR_E_NOENT)
        return fr_cli_fail("merge", rc, "%s", err.msg);
    rc = fr_results_merge(dir, &err);
    if (rc)
        return fr_cli_fail("merge", rc, "%s", err.msg);
    printf("featrd merge: wrote %s/points.csv, manifest.yaml, config.yaml, vs_reference.csv and, "
           "for the config's bd entries, bd.csv\n", dir);
    if (plots) {
        FrError pe = {0};
        int prc = fr_results_plot(dir, NULL, &pe);
        if (prc == FR_E_IO)
            return fr_cli_fail("merge", prc, "%s", pe.msg);
        if (prc)
            fprintf(stderr, "featrd merge: plots skipped: %s\n", pe.msg);
    }
    return 0;
}
