/* cmd_merge.c: `featrd merge DIR`: joins the shard outputs of
 * `featrd run --shard I/N` into DIR/points.csv, manifest.yaml and bd.csv. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int fr_cmd_merge(int argc, char **argv)
{
    const char *dir = NULL;
    int plots = 1;
    for (int i = 1; i < argc; i++) {
        if (fr_cli_is_help(argv[i])) {
            printf("usage: featrd merge RESULTS_DIR [--no-plots]\n"
                   "Joins points.shard-I-of-N.csv (every I of one N, one config) into\n"
                   "points.csv sorted by ordinal, as one run would write it, then bd.csv and\n"
                   "the plots. Refuses missing, unfinished or inconsistent shards.\n");
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
    int rc = fr_results_merge(dir, &err);
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
