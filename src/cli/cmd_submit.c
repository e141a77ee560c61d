/* cmd_submit.c: `featrd submit CONFIG.yaml [...]`: the experiment's work
 * units as a Slurm job array plus a merge job, or run here (--local); and
 * `featrd status DIR`: how far the units and points of a directory are. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glob.h>
#include <strings.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: featrd submit CONFIG.yaml [-o key=value ...] [--tasks N | --chunks C]\n"
            "                     [--throttle K] [--partition P] [--time T] [--gres G]\n"
            "                     [--cpus N] [--sbatch OPTION]... [--setup LINE]...\n"
            "                     [--dry-run] [--local [--jobs N]] [--force] [--no-plots]\n"
            "Splits a kind rd experiment into work units, (point group, image chunk): group 0\n"
            "is the whole-network points (reference, anchors), then one group per split (and\n"
            "weight set); each unit computes its points' per-image results over its chunk\n"
            "(so each image's front half at a split is computed once), and the merge job\n"
            "turns them into points.csv, bd.csv and the plots exactly as one run would.\n"
            "Writes output.dir/units/ (frozen config, plan, unit.sh, merge.sh, logs) and\n"
            "submits one job array (several past MaxArraySize) and a merge job that\n"
            "depends on it (afterok). Submitting again submits only the units not done.\n"
            "  --tasks N      about N array tasks (chunks = N / groups); --chunks C exactly\n"
            "                 C image chunks (default 4)\n"
            "  --throttle K   at most K tasks at once (--array=...%%K)\n"
            "  --partition P, --time T, --gres G   passed to sbatch (gres: the units only)\n"
            "  --cpus N       cpus per task and each unit's --jobs (default: the config's jobs)\n"
            "  --sbatch OPT   any other sbatch option, e.g. --sbatch=--account=vcm (repeatable)\n"
            "  --setup LINE   a shell line before featrd, e.g. --setup 'module load cuda'\n"
            "  --dry-run      print the scripts and sbatch commands; submit nothing\n"
            "  --local        run the units here, --jobs N processes at a time, then merge\n"
            "  --force        discard results and units of another config in output.dir\n"
            "  --featrd PATH  the featrd the tasks run (default: this one)\n"
            "  --max-array N  the cluster's MaxArraySize (default: asked of scontrol)\n"
            "Then: featrd status DIR; results appear in DIR when the merge job ends.\n"
            "See docs/cluster.md.\n");
}

static int opt_value(int argc, char **argv, int *i, const char *name, const char **v)
{
    const char *a = argv[*i];
    size_t l = strlen(name);
    if (!strncmp(a, name, l) && a[l] == '=') {
        *v = a + l + 1;
        return 1;
    }
    if (strcmp(a, name))
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *v = argv[++*i];
    return 1;
}

static int parse_int(const char *opt, const char *v, int lo, int hi, int *out)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (end == v || *end || x < lo || x > hi)
        return fr_cli_fail("submit", FR_E_USAGE, "%s '%s': expected a number %d..%d", opt, v, lo,
                           hi);
    *out = (int)x;
    return 0;
}

int fr_cmd_submit(int argc, char **argv)
{
    const char *config = NULL;
    int n = argc + 1;
    const char **ovr = calloc((size_t)n, sizeof *ovr), **sb = calloc((size_t)n, sizeof *sb),
               **setup = calloc((size_t)n, sizeof *setup);
    int novr = 0, nsb = 0, nsetup = 0, rc = 0;
    FrSubmitOptions o;
    fr_submit_options_defaults(&o);
    if (!ovr || !sb || !setup)
        rc = fr_cli_fail("submit", FR_E_NOMEM, "out of memory");
    for (int i = 1; i < argc && !rc; i++) {
        const char *a = argv[i], *v = NULL;
        int k;
        if (fr_cli_is_help(a)) {
            usage(stdout);
            goto out;
        }
#define VAL(name) ((k = opt_value(argc, argv, &i, name, &v)) != 0)
        if (VAL("-o")) {
            if (k < 0)
                goto need;
            ovr[novr++] = v;
        } else if (VAL("--tasks")) {
            if (k < 0)
                goto need;
            rc = parse_int(a, v, 1, 10000000, &o.tasks);
        } else if (VAL("--chunks")) {
            if (k < 0)
                goto need;
            rc = parse_int(a, v, 1, 1000000, &o.chunks);
        } else if (VAL("--throttle")) {
            if (k < 0)
                goto need;
            rc = parse_int(a, v, 1, 1000000, &o.throttle);
        } else if (VAL("--cpus")) {
            if (k < 0)
                goto need;
            rc = parse_int(a, v, 1, 64, &o.cpus);
        } else if (VAL("--jobs")) {
            if (k < 0)
                goto need;
            rc = parse_int(a, v, 1, 256, &o.local_jobs);
        } else if (VAL("--partition")) {
            if (k < 0)
                goto need;
            o.partition = v;
        } else if (VAL("--time")) {
            if (k < 0)
                goto need;
            o.time = v;
        } else if (VAL("--gres")) {
            if (k < 0)
                goto need;
            o.gres = v;
        } else if (VAL("--sbatch")) {
            if (k < 0)
                goto need;
            if (v[0] != '-')
                rc = fr_cli_fail("submit", FR_E_USAGE, "--sbatch '%s': give an sbatch option "
                                 "such as --sbatch=--account=NAME", v);
            sb[nsb++] = v;
        } else if (VAL("--setup")) {
            if (k < 0)
                goto need;
            setup[nsetup++] = v;
        } else if (VAL("--max-array")) {
            if (k < 0)
                goto need;
            rc = parse_int(a, v, 1, 100000000, &o.max_array);
        } else if (VAL("--featrd")) {
            if (k < 0)
                goto need;
            o.featrd = v;
        } else if (!strcmp(a, "--dry-run")) {
            o.dry_run = 1;
        } else if (!strcmp(a, "--local")) {
            o.local = 1;
        } else if (!strcmp(a, "--force")) {
            o.force = 1;
        } else if (!strcmp(a, "--no-plots")) {
            o.plots = 0;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            o.progress = FR_PROGRESS_NONE;
        } else if (a[0] == '-' && a[1]) {
            rc = fr_cli_fail("submit", FR_E_USAGE, "unknown option '%s' (featrd submit --help)",
                             a);
        } else if (!config) {
            config = a;
        } else {
            rc = fr_cli_fail("submit", FR_E_USAGE, "one config only, got '%s' and '%s'", config,
                             a);
        }
        continue;
    need:
        rc = fr_cli_fail("submit", FR_E_USAGE, "%s needs a value (featrd submit --help)", a);
#undef VAL
    }
    if (!rc && !config) {
        usage(stderr);
        rc = fr_cli_fail("submit", FR_E_USAGE, "need CONFIG.yaml");
    }
    if (!rc && o.tasks && o.chunks)
        rc = fr_cli_fail("submit", FR_E_USAGE, "--tasks and --chunks: give one");
    if (rc)
        goto out;
    o.sbatch = sb;
    o.n_sbatch = nsb;
    o.setup = setup;
    o.n_setup = nsetup;
    FrExperiment *e = NULL;
    FrError err = {0};
    FrSubmitReport rep;
    int r = fr_config_load(config, ovr, novr, &e, &err);
    if (!r)
        r = fr_submit(e, &o, &rep, &err);
    if (r) {
        rc = fr_cli_fail("submit", r, "%s", err.msg);
    } else if (o.local) {
        printf("featrd submit: %d units (%d groups x %d chunks of %zu images) ran here (%d "
               "now), merged into %s\n", rep.units, rep.groups, rep.chunks, rep.images,
               rep.submitted, e->output.dir);
    } else if (!o.dry_run) {
        printf("featrd submit: %d of %d units (%d groups x %d chunks of %zu images) submitted "
               "as %d job array(s) %s; merge job %s (afterok); scripts in %s; follow with "
               "`featrd status %s`\n", rep.submitted, rep.units, rep.groups, rep.chunks,
               rep.images, rep.arrays, rep.jobs[0] ? rep.jobs : "(none: all units done)",
               rep.merge_job, rep.script_dir, e->output.dir);
    }
    fr_experiment_free(&e);
out:
    free(ovr);
    free(sb);
    free(setup);
    return rc;
}

int fr_cmd_status(int argc, char **argv)
{
    const char *dir = NULL;
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (fr_cli_is_help(argv[i])) {
            printf("usage: featrd status RESULTS_DIR [--units]\n"
                   "How far a results directory is: for `featrd submit` its units (done,\n"
                   "running, interrupted, failed, missing) and whether they are merged;\n"
                   "for a plain or --shard run its manifests' state and points.\n"
                   "  --units  one line per unit\n");
            return 0;
        }
        if (!strcmp(argv[i], "--units"))
            verbose = 1;
        else if (argv[i][0] == '-')
            return fr_cli_fail("status", FR_E_USAGE, "unknown option '%s'", argv[i]);
        else if (!dir)
            dir = argv[i];
        else
            return fr_cli_fail("status", FR_E_USAGE, "one directory only");
    }
    if (!dir)
        return fr_cli_fail("status", FR_E_USAGE, "need RESULTS_DIR (featrd status --help)");
    FrUnitsStatus st;
    FrError err = {0};
    int rc = fr_units_status(dir, &st, &err);
    if (rc == 0) {
        printf("%s: %d units (%d groups x %d chunks of %zu images): %d done, %d running, %d "
               "interrupted, %d failed, %d not started\n",
               dir, st.units, st.groups, st.chunks, st.images, st.count[FR_UNIT_DONE],
               st.count[FR_UNIT_RUNNING], st.count[FR_UNIT_INTERRUPTED], st.count[FR_UNIT_FAILED],
               st.count[FR_UNIT_MISSING]);
        static const FrUnitState show[] = {FR_UNIT_RUNNING, FR_UNIT_INTERRUPTED,
                                            FR_UNIT_FAILED, FR_UNIT_MISSING};
        for (int j = 0; j < 4; j++) {
            int s = (int)show[j];
            if (!st.count[s])
                continue;
            printf("  %s:", fr_unit_state_name((FrUnitState)s));
            int shown = 0;
            for (int k = 0; k < st.units && shown < 40; k++)
                if ((int)st.state[k] == s) {
                    printf(" %d", k);
                    shown++;
                }
            printf("%s\n", st.count[s] > shown ? " ..." : "");
        }
        if (verbose)
            for (int k = 0; k < st.units; k++)
                printf("  unit %d (group %d, chunk %d): %s, %d of %d points\n", k,
                       k / st.chunks, k % st.chunks, fr_unit_state_name(st.state[k]),
                       st.points_done[k], st.points_total[k]);
        if (st.count[FR_UNIT_DONE] < st.units)
            printf("  the units not done run again with the same `featrd submit` command "
                   "(only they are submitted)\n");
        fr_units_status_free(&st);
    } else if (rc != FR_E_NOENT) {
        return fr_cli_fail("status", rc, "%s", err.msg);
    }
    /* the manifests: merged (or plain / shard) runs */
    int found = 0;
    char pat[4200];
    snprintf(pat, sizeof pat, "%s/manifest*.yaml", dir);
    glob_t g;
    memset(&g, 0, sizeof g);
    glob(pat, 0, NULL, &g);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *p = g.gl_pathv[i];
        char line[512];
        FILE *f = fopen(p, "r");
        if (!f)
            continue;
        found = 1;
        char state[64] = "?";
        int total = -1, done = -1, mine = -1;
        while (fgets(line, sizeof line, f)) {
            sscanf(line, "state: %63s", state);
            sscanf(line, "points_total: %d", &total);
            sscanf(line, "points_this_shard: %d", &mine);
            sscanf(line, "points_done: %d", &done);
        }
        fclose(f);
        if (mine >= 0 && mine != total)
            printf("%s: %s, %d of this shard's %d points (%d in all)\n", p, state, done, mine,
                   total);
        else
            printf("%s: %s, %d of %d points\n", p, state, done, total);
    }
    globfree(&g);
    if (!found)
        printf("%s: no points.csv yet (%s)\n", dir,
               rc == 0 ? "`featrd merge` writes it once every unit is done"
                       : "no manifest: not a featrd results directory");
    return 0;
}
