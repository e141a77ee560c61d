/* bench_model.c: speed of the model module, measured side by side in one run:
 * model.kernels darknet vs fast (forward CPU time, sgemm time, forward/GEMM,
 * peak RSS of yolo9000@544 with 1 and 2 models in child processes, the
 * second with its own weights or sharing the first's), full
 * forward with darknet's GEMM vs OpenBLAS (yolo9000@544, vgg-16@224,
 * yolov2-tiny-voc@416), and front + back at named splits vs one full forward.
 * Timings are the minimum over interleaved repetitions (after one warm-up
 * pass each), which is what survives a shared, noisy machine.
 * FEATRD_BENCH_REPS overrides the repetitions (default 3). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "featrd.h"
#include "model/model.h"
#include "model/model_internal.h"


static void make_input(FrModel *m, FrTensor *in)
{
    int c, h, w;
    fr_model_input_size(m, &c, &h, &w);
    if (fr_tensor_alloc(in, c, h, w) != FR_OK)
        exit(1);
    for (size_t i = 0; i < fr_tensor_size(in); i++)
        in->data[i] = (float)((i * 2654435761u) >> 24) / 255.0f;
}

static double time_forward(FrModel *m, const FrTensor *in)
{
    double t = fr_now();
    if (fr_model_forward(m, in, NULL) != FR_OK)
        exit(1);
    return fr_now() - t;
}

static double time_front_back(FrModel *m, const FrTensor *in, int split)
{
    FrTensor cuts[FR_MODEL_MAX_CUTS];
    int nc = 0;
    double t = fr_now();
    if (fr_model_front(m, in, split, cuts, &nc, NULL) != FR_OK ||
        fr_model_back(m, split, cuts, nc, NULL) != FR_OK)
        exit(1);
    t = fr_now() - t;
    for (int k = 0; k < nc; k++)
        fr_tensor_free(&cuts[k]);
    return t;
}

/* The work front + back adds to a forward: the cut tensors copied out and
 * written back (timed alone, it is free of the forward's noise). */
static double time_copies(FrModel *m, const int *idx, int nc)
{
    double t = fr_now();
    for (int k = 0; k < nc; k++) {
        FrTensor a, b;
        if (fr_model_layer_output(m, idx[k], &a) != FR_OK || fr_model_layer_output(m, idx[k], &b) != FR_OK)
            exit(1);
        fr_tensor_free(&a);
        fr_tensor_free(&b);
    }
    return fr_now() - t;
}

static double minv(double a, double b)
{
    return a < b ? a : b;
}

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static FrModel *open_kernels(const char *cfg, int size, FrKernels k)
{
    FrModelSettings s;
    fr_model_defaults(&s);
    s.cfg = cfg;
    s.width = s.height = size;
    s.quiet = 1;
    s.kernels = k;
    FrModel *m = NULL;
    FrError err = {0};
    if (fr_model_open(&m, &s, &err) != FR_OK) {
        fprintf(stderr, "bench_model: %s\n", err.msg);
        exit(1);
    }
    return m;
}

static FrModel *open_model(const char *cfg, int size)
{
    return open_kernels(cfg, size, FR_KERNELS_FAST);
}

/* Issue #22: forward CPU time (this thread; OpenBLAS on 1 thread so sgemm
 * runs here too) with darknet's kernels and featrd's, the CPU time inside
 * sgemm, and forward / GEMM; the minimum over interleaved runs. */
static void bench_kernels(int reps)
{
    static const struct {
        const char *cfg;
        int size, goal;
    } nets[] = {
        {"/usr/share/darknet/cfg/yolo9000.cfg", 544, 1},
        {"/usr/share/darknet/cfg/vgg-16.cfg", 224, 1},
        {"models/fmnist-yolo.cfg", 0, 0},
    };
    int was = fr_model_blas_threads(1);
    printf("kernels: forward CPU seconds (thread CPU time, OpenBLAS 1 thread), min of %d interleaved runs\n", reps);
    printf("(non-GEMM: forward minus the sgemm time of the same run, what the kernels change)\n");
    printf("%-16s %5s %10s %10s %8s %10s %10s %10s %9s %9s  %s\n", "network", "input", "darknet", "fast", "speedup",
           "sgemm", "non-GEMM", "non-GEMM", "fwd/gemm", "fwd/gemm", "goal fast <= 1.5x GEMM");
    printf("%-16s %5s %10s %10s %8s %10s %10s %10s %9s %9s\n", "", "", "kernels", "kernels", "", "(fast)", "darknet",
           "fast", "darknet", "fast");
    for (size_t k = 0; k < sizeof nets / sizeof nets[0]; k++) {
        if (access(nets[k].cfg, R_OK)) {
            printf("%-16s (no %s)\n", "-", nets[k].cfg);
            continue;
        }
        FrModel *m = open_kernels(nets[k].cfg, nets[k].size, FR_KERNELS_DARKNET);
        FrTensor in;
        make_input(m, &in);
        double best[2] = {1e30, 1e30}, gemm[2] = {1e30, 1e30};
        for (int r = -1; r < reps; r++) /* r -1: warm-up */
            for (int g = 0; g < 2; g++) {
                fr_model_set_kernels(m, g ? FR_KERNELS_FAST : FR_KERNELS_DARKNET);
                fr_model_gemm_clock(1);
                double t = thread_cpu();
                if (fr_model_forward(m, &in, NULL) != FR_OK)
                    exit(1);
                t = thread_cpu() - t;
                double gt = fr_model_gemm_clock(0);
                if (r >= 0 && t < best[g]) {
                    best[g] = t;
                    gemm[g] = gt;
                }
            }
        const char *base = strrchr(nets[k].cfg, '/') + 1;
        int in_c, in_h, in_w;
        fr_model_input_size(m, &in_c, &in_h, &in_w);
        double ratio = best[1] / gemm[1];
        printf("%-16s %5d %10.3f %10.3f %7.2fx %10.3f %10.3f %10.3f %8.2fx %8.2fx  %s\n", base, in_w, best[0],
               best[1], best[0] / best[1], gemm[1], best[0] - gemm[0], best[1] - gemm[1], best[0] / gemm[0], ratio,
               !nets[k].goal ? "-" : ratio <= 1.5 ? "met" : "missed");
        fflush(stdout);
        fr_tensor_free(&in);
        fr_model_close(&m);
    }
    fr_model_blas_threads(was);
}

/* Peak RSS (ru_maxrss of a child) of `workers` yolo9000@544 models, each
 * run once; with share, the models after the first share its weights
 * (fr_model_open_shared, as the runner's workers do). */
static long rss_child(int workers, FrKernels k, int share)
{
    fflush(stdout); /* or the child's exit prints the parent's buffer again */
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        FrModel *m[2] = {NULL, NULL};
        FrTensor in;
        FrError err = {0};
        for (int w = 0; w < workers; w++)
            if (w && share) {
                if (fr_model_open_shared(&m[w], m[0], 1, &err) != FR_OK)
                    _exit(1);
            } else {
                m[w] = open_kernels("/usr/share/darknet/cfg/yolo9000.cfg", 544, k);
            }
        make_input(m[0], &in);
        for (int w = 0; w < workers; w++)
            if (fr_model_forward(m[w], &in, NULL) != FR_OK)
                _exit(1);
        _exit(0);
    }
    int st = 0;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
        return -1;
    return ru.ru_maxrss; /* KiB */
}

static void bench_rss(void)
{
    printf("\npeak RSS, yolo9000@544 (seeded weights), one child process each (MiB)\n");
    printf("%-8s %10s %10s %14s  %s\n", "workers", "darknet", "fast", "fast, shared", "goal 2 workers < 1 GB = 954 MiB (fast, shared)");
    for (int w = 1; w <= 2; w++) {
        long d = rss_child(w, FR_KERNELS_DARKNET, 0), f = rss_child(w, FR_KERNELS_FAST, 0);
        long sh = w > 1 ? rss_child(w, FR_KERNELS_FAST, 1) : f;
        printf("%-8d %10.0f %10.0f %14.0f  %s\n", w, d / 1024.0, f / 1024.0, sh / 1024.0,
               w == 1 ? "-" : sh >= 0 && sh * 1024.0 < 1e9 ? "met" : "missed");
        fflush(stdout);
    }
}

int main(void)
{
    int reps = getenv("FEATRD_BENCH_REPS") ? atoi(getenv("FEATRD_BENCH_REPS")) : 3;
    if (reps < 1)
        reps = 1;
    bench_rss(); /* first: the children inherit the parent's heap */
    bench_kernels(reps);
    if (getenv("FEATRD_BENCH_KERNELS_ONLY"))
        return 0;
    printf("\n");
    static const struct {
        const char *cfg;
        int size;
        const char *splits[6];
    } nets[] = {
        {"/usr/share/darknet/cfg/yolo9000.cfg", 544, {"max_3", "conv_6", "conv_10", "max_11", "max_17", NULL}},
        {"/usr/share/darknet/cfg/vgg-16.cfg", 224, {"conv1", "pool1", "pool3", "pool5", "fc1", NULL}},
        {"/usr/share/darknet/cfg/yolov2-tiny-voc.cfg", 416, {"max_1", "max_5", "conv_12", NULL}},
    };
    printf("model forward, min of %d interleaved runs (s)\n", reps);
    printf("%-18s %6s %12s %12s %8s\n", "network", "input", "darknet", "openblas", "speedup");
    FrModel *models[3];
    FrTensor inputs[3];
    for (int k = 0; k < 3; k++) {
        FrModel *m = models[k] = open_model(nets[k].cfg, nets[k].size);
        make_input(m, &inputs[k]);
        double best[2] = {1e30, 1e30};
        for (int g = 0; g < 2; g++) { /* warm-up */
            fr_model_set_gemm(m, g == 0 ? FR_GEMM_DARKNET : FR_GEMM_OPENBLAS);
            time_forward(m, &inputs[k]);
        }
        for (int r = 0; r < reps; r++)
            for (int g = 0; g < 2; g++) {
                fr_model_set_gemm(m, g == 0 ? FR_GEMM_DARKNET : FR_GEMM_OPENBLAS);
                best[g] = minv(best[g], time_forward(m, &inputs[k]));
            }
        const char *base = strrchr(nets[k].cfg, '/') + 1;
        printf("%-18s %6d %12.3f %12.3f %7.2fx\n", base, nets[k].size, best[0], best[1], best[0] / best[1]);
        fflush(stdout);
        fr_model_set_gemm(m, FR_GEMM_OPENBLAS);
    }

    printf("\nfront + back vs one full forward (OpenBLAS), min of %d interleaved runs\n", reps + 2);
    printf("(copies: the cut tensors copied out and back in, timed alone: the structural overhead)\n");
    printf("%-18s %-8s %5s %10s %11s %9s %10s %8s\n", "network", "split", "cuts", "forward s", "front+back", "overhead", "copies s", "copies");
    for (int k = 0; k < 3; k++) {
        FrModel *m = models[k];
        const char *base = strrchr(nets[k].cfg, '/') + 1;
        for (int si = 0; nets[k].splits[si]; si++) {
            int split = -1, idx[FR_MODEL_MAX_CUTS], nc = 0;
            FrError err = {0};
            if (fr_model_find_layer(m, nets[k].splits[si], &split, &err) != FR_OK ||
                fr_model_cut_set(m, split, idx, FR_MODEL_MAX_CUTS, &nc) != FR_OK) {
                fprintf(stderr, "bench_model: %s\n", err.msg);
                return 1;
            }
            double f = 1e30, fb = 1e30, cp = 1e30;
            for (int r = 0; r < reps + 2; r++) {
                f = minv(f, time_forward(m, &inputs[k]));
                fb = minv(fb, time_front_back(m, &inputs[k], split));
                cp = minv(cp, time_copies(m, idx, nc));
            }
            printf("%-18s %-8s %5d %10.4f %11.4f %+8.2f%% %10.5f %7.3f%%\n", base, nets[k].splits[si], nc, f,
                   fb, 100.0 * (fb - f) / f, cp, 100.0 * cp / f);
            fflush(stdout);
        }
    }
    for (int k = 0; k < 3; k++) {
        fr_tensor_free(&inputs[k]);
        fr_model_close(&models[k]);
    }
    return 0;
}
