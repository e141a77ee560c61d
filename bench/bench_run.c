/* bench_run.c: speed of the runner on configs/demo.yaml (a 40-image subset):
 * points per minute with 1 and 2 workers side by side, and where the time
 * goes (front half, back half, encode, decode, anchors). Uses the shipped
 * weights when present, else seeded random weights (same cost). */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "featrd.h"

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static double cpu_s[3]; /* process CPU seconds of the run with 1 and 2 jobs */

static int run_once(int jobs, FrRunStats *st)
{
    double c0 = cpu_now();
    char dir[] = "/tmp/featrd-bench-run-XXXXXX";
    if (!mkdtemp(dir))
        return -1;
    char odir[128];
    snprintf(odir, sizeof odir, "output.dir=%s", dir);
    const char *ovr[4] = {"dataset.limit=40", odir, "output.plots=false", "model.weights=~"};
    int novr = access("models/fmnist-yolo.weights", R_OK) == 0 ? 3 : 4;
    FrExperiment *e = NULL;
    FrError err = {0};
    int rc = fr_config_load("configs/demo.yaml", ovr, novr, &e, &err);
    FrRunOptions o;
    fr_run_options_defaults(&o);
    o.jobs = jobs;
    o.progress = FR_PROGRESS_NONE;
    o.plots = 0;
    o.stats = st;
    if (!rc)
        rc = fr_run(e, &o, &err);
    cpu_s[jobs] = cpu_now() - c0;
    if (rc)
        fprintf(stderr, "bench_run: %s\n", err.msg);
    fr_experiment_free(&e);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) {
    }
    return rc;
}

static void report(const char *what, const FrRunStats *s)
{
    double busy = s->front + s->back + s->encode + s->decode;
    printf("%-9s %3zu points x %zu images in %6.1f s = %6.1f points/min; of the feature work "
           "(%.1f thread-s): front %4.1f%%, back %4.1f%%, encode %4.1f%%, decode %4.1f%%; "
           "anchors %.1f s, reference pass %.1f s\n",
           what, s->points_run, s->images, s->wall, s->points_run * 60.0 / s->wall, busy,
           100 * s->front / busy, 100 * s->back / busy, 100 * s->encode / busy,
           100 * s->decode / busy, s->anchors, s->reference);
}

static void report_cpu(const char *what, double cpu, const FrRunStats *s)
{
    printf("%-9s process CPU %.1f s = %.3f s per image\n", what, cpu, cpu / (double)s->images);
}

int main(void)
{
    /* Workers must not share OpenBLAS's own threads (see cmd_run.c); set
     * through OpenBLAS's API, as featrd run does, not by a re-exec. */
    if (!getenv("OPENBLAS_NUM_THREADS"))
        fr_model_blas_threads(1);
    if (access("data/fmnist-det/test.list", R_OK)) {
        printf("bench_run: skipped: no data/fmnist-det (run `bin/featrd data` first)\n");
        return 0;
    }
    FrRunStats s1, s2;
    memset(&s1, 0, sizeof s1);
    memset(&s2, 0, sizeof s2);
    if (run_once(1, &s1) || run_once(2, &s2))
        return 1;
    report("--jobs 1", &s1);
    report("--jobs 2", &s2);
    report_cpu("--jobs 1", cpu_s[1], &s1);
    report_cpu("--jobs 2", cpu_s[2], &s2);
    printf("speed-up of 2 workers: %.2fx (wall %.1f s -> %.1f s)\n", s1.wall / s2.wall, s1.wall,
           s2.wall);
    return 0;
}
