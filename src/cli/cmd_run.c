/* cmd_run.c: `featrd run CONFIG.yaml [-o key=value ...] [--shard I/N]
 * [--jobs N] [--quiet] [--force] [--no-plots]`: loads the experiment and
 * hands it to fr_run (featrd/run.h). */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: featrd run CONFIG.yaml [-o key=value ...] [--shard I/N] [--jobs N]\n"
            "                  [--quiet] [--force] [--no-plots] [--cache-mem MIB] [--device cpu|gpu]\n"
            "Runs an experiment: expands the sweep into RD points, runs those not yet\n"
            "finished in output.dir (resume), writes points.csv, bd.csv, manifest.yaml and\n"
            "plots there (docs/run.md).\n"
            "  -o key=value  override a config key (e.g. -o dataset.limit=20, -o sweep.bits=[8])\n"
            "  --shard I/N   run only points with ordinal %% N == I (then `featrd merge DIR`)\n"
            "  --chunks C --unit U  compute one work unit of `featrd submit`'s plan: a group\n"
            "                of points (the whole-network points, or one split) over chunk\n"
            "                U %% C of the images; then `featrd merge DIR` (docs/cluster.md)\n"
            "  --jobs N      worker threads over images (default: the config's jobs, 1)\n"
            "  --quiet       no progress output\n"
            "  --force       discard results of a different config (or of a featrd that\n"
            "                wrote other points.csv columns) in output.dir\n"
            "  --no-plots    skip the gnuplot figures\n"
            "  --cache-mem M MiB of cut tensors kept in memory per split (default 1024);\n"
            "                beyond it they go to output.dir/cache/ until the split is done\n"
            "  --device D    cpu or gpu: where the network runs (-o model.device=D; gpu needs\n"
            "                bin-gpu/featrd and a CUDA device, docs/gpu.md)\n");
}

/* SIGINT / SIGTERM during the run: the first asks fr_run to stop after the
 * images in flight (it saves what is done and marks the manifest
 * interrupted; exit 128 + the signal); a second one, or one fr_run will not
 * act on, ends the process at once the default way. */
static void on_stop_signal(int sig)
{
    int e = errno;
    if (!fr_run_request_stop(sig)) {
        signal(sig, SIG_DFL);
        raise(sig);
    }
    errno = e;
}

static int run_with_stop_signals(const FrExperiment *e, const FrRunOptions *o, FrError *err)
{
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    /* one handler at a time, so a SIGTERM right after a SIGINT finds the
     * request already taken and ends the process */
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    /* a signal ignored by whoever started featrd (nohup, `cmd &` in a
     * script) stays ignored */
    sigaction(SIGINT, NULL, &old_int);
    sigaction(SIGTERM, NULL, &old_term);
    if (old_int.sa_handler != SIG_IGN)
        sigaction(SIGINT, &sa, NULL);
    if (old_term.sa_handler != SIG_IGN)
        sigaction(SIGTERM, &sa, NULL);
    int rc = fr_run(e, o, err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return rc;
}

int fr_cmd_run(int argc, char **argv)
{
    const char *config = NULL;
    const char **ovr = calloc((size_t)argc + 1, sizeof *ovr);
    int novr = 0;
    FrRunOptions o;
    fr_run_options_defaults(&o);
    FrError err = {0};
    int rc = 0;
    if (!ovr)
        return fr_cli_fail("run", FR_E_NOMEM, "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (fr_cli_is_help(a)) {
            usage(stdout);
            free(ovr);
            return 0;
        }
        int needs = !strcmp(a, "-o") || !strcmp(a, "--shard") || !strcmp(a, "--jobs") ||
                    !strcmp(a, "--cache-mem") || !strcmp(a, "--chunks") || !strcmp(a, "--unit") ||
                    !strcmp(a, "--device");
        if (needs && i + 1 >= argc) {
            free(ovr);
            return fr_cli_fail("run", FR_E_USAGE, "%s needs a value (featrd run --help)", a);
        }
        if (!strcmp(a, "-o")) {
            ovr[novr++] = argv[++i];
        } else if (!strncmp(a, "-o", 2) && a[2]) {
            ovr[novr++] = a + 2;
        } else if (!strcmp(a, "--shard")) {
            if ((rc = fr_run_parse_shard(argv[++i], &o, &err)))
                break;
        } else if (!strcmp(a, "--jobs")) {
            char *end;
            long j = strtol(argv[++i], &end, 10);
            if (*end || j < 1 || j > 64) {
                rc = fr_error(&err, FR_E_USAGE, "--jobs '%s': expected a number 1..64", argv[i]);
                break;
            }
            o.jobs = (int)j;
        } else if (!strcmp(a, "--chunks") || !strcmp(a, "--unit")) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || end == argv[i] || v < (a[2] == 'c' ? 1 : 0) || v > 1000000) {
                rc = fr_error(&err, FR_E_USAGE, "%s '%s': expected a number %s", a, argv[i],
                              a[2] == 'c' ? "1..1000000" : "0..units-1");
                break;
            }
            if (a[2] == 'c')
                o.chunks = (int)v;
            else
                o.unit = (int)v;
        } else if (!strcmp(a, "--cache-mem")) {
            char *end;
            long mb = strtol(argv[++i], &end, 10);
            if (*end || mb < 0) {
                rc = fr_error(&err, FR_E_USAGE, "--cache-mem '%s': expected MiB >= 0", argv[i]);
                break;
            }
            o.cache_mem = (size_t)mb << 20;
        } else if (!strcmp(a, "--device")) {
            FrDevice d;
            if (fr_cli_device(argv[++i], &d)) {
                rc = fr_error(&err, FR_E_USAGE, "--device '%s': expected cpu or gpu", argv[i]);
                break;
            }
            /* an override like any other: the device is part of the config
             * (and of its hash when gpu) */
            ovr[novr++] = d == FR_DEVICE_GPU ? "model.device=gpu" : "model.device=cpu";
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            o.progress = FR_PROGRESS_NONE;
        } else if (!strcmp(a, "--force")) {
            o.force = 1;
        } else if (!strcmp(a, "--no-plots")) {
            o.plots = 0;
        } else if (a[0] == '-' && a[1]) {
            rc = fr_error(&err, FR_E_USAGE, "unknown option '%s' (featrd run --help)", a);
            break;
        } else if (!config) {
            config = a;
        } else {
            rc = fr_error(&err, FR_E_USAGE, "one config only, got '%s' and '%s'", config, a);
            break;
        }
    }
    if (!rc && (o.chunks > 0) != (o.unit >= 0))
        rc = fr_error(&err, FR_E_USAGE, "--chunks and --unit go together (featrd run --help)");
    if (!rc && !config) {
        usage(stderr);
        rc = fr_error(&err, FR_E_USAGE, "need CONFIG.yaml");
    }
    FrExperiment *e = NULL;
    if (!rc)
        rc = fr_config_load(config, ovr, novr, &e, &err);
    if (!rc && e->quiet)
        o.progress = FR_PROGRESS_NONE;
    /* before anything is written to output.dir */
    if (!rc && e->kind != FR_KIND_FEATURES && e->model.device == FR_DEVICE_GPU)
        rc = fr_gpu_check(&err);
    /* The runner parallelises over images (--jobs); OpenBLAS threads on top
     * of that only spin: on the demo they cost 60% more wall time even with
     * one worker on a busy machine (measured: 65 s vs 41 s, sys 4 s vs 0.1 s).
     * One OpenBLAS thread, set through its API (featrd used to start again
     * with OPENBLAS_NUM_THREADS=1, which doubled its start-up); a value the
     * user set is kept. */
    if (!rc && !getenv("OPENBLAS_NUM_THREADS"))
        fr_model_blas_threads(1);
    if (!rc)
        rc = run_with_stop_signals(e, &o, &err);
    free(ovr);
    fr_experiment_free(&e);
    if (rc == FR_E_INTERRUPTED && fr_run_interrupt_signal()) {
        fr_cli_fail("run", rc, "%s", err.msg);
        return 128 + fr_run_interrupt_signal(); /* 130 for SIGINT, 143 for SIGTERM */
    }
    if (rc)
        return fr_cli_fail("run", rc, "%s", err.msg[0] ? err.msg : fr_strerror(rc));
    return 0;
}
