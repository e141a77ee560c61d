/* bench_boot.c: the cost of bootstrap intervals beside the cost of the
 * point they describe. A synthetic VOC-like detection set (n images, 20
 * classes, ~12 detections and ~3 objects an image, as darknet gives at
 * det_thresh 0.005 after NMS on the demo) is scored once (fr_map_finish:
 * what every point pays anyway) and then for 1000 replicates: the fast path
 * (fr_map_rank once + fr_map_ranked_eval per replicate) against the naive
 * one (a data set with the images really repeated, fr_map_finish per
 * replicate; measured on 20 replicates and scaled). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "featrd.h"
#include "metrics/metrics.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static unsigned rnd(unsigned *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

typedef struct Img {
    FrGtBox gt[4];
    int ngt;
    FrDetection d[16];
    int nd;
} Img;

static FrMapAcc *acc_of(const Img *im, size_t n, const uint32_t *w)
{
    FrMapSettings s;
    fr_map_defaults(&s);
    s.nclasses = 20;
    FrMapAcc *a = NULL;
    if (fr_map_create(&a, &s, NULL))
        exit(1);
    for (size_t i = 0; i < n; i++)
        for (uint32_t k = 0; k < (w ? w[i] : 1); k++)
            fr_map_add_image(a, im[i].gt, (size_t)im[i].ngt, im[i].d, (size_t)im[i].nd, NULL);
    return a;
}

int main(void)
{
    size_t sizes[2] = {300, 4952};
    printf("%-8s %12s %14s %16s %14s %10s\n", "images", "mAP once s", "1000 fast s",
           "1000 naive s", "naive/fast", "fast/once");
    for (int z = 0; z < 2; z++) {
        size_t n = sizes[z];
        Img *im = calloc(n, sizeof *im);
        unsigned seed = 5;
        for (size_t i = 0; i < n; i++) {
            im[i].ngt = 1 + (int)(rnd(&seed) % 4);
            for (int g = 0; g < im[i].ngt; g++) {
                float x = (float)(rnd(&seed) % 300), y = (float)(rnd(&seed) % 300);
                im[i].gt[g] = (FrGtBox){(int)(rnd(&seed) % 20), 0, {x, y, x + 60, y + 80}};
                im[i].d[im[i].nd++] = (FrDetection){im[i].gt[g].cls, (float)(rnd(&seed) % 1000) / 1000.0f,
                                                    x + 4, y - 3, x + 62, y + 79};
            }
            while (im[i].nd < 12) {
                float x = (float)(rnd(&seed) % 300), y = (float)(rnd(&seed) % 300);
                im[i].d[im[i].nd++] = (FrDetection){(int)(rnd(&seed) % 20),
                                                    (float)(rnd(&seed) % 1000) / 4000.0f, x, y,
                                                    x + 50, y + 50};
            }
        }
        uint32_t *w = malloc(n * sizeof *w);
        double t0 = now();
        FrMapAcc *a = acc_of(im, n, NULL);
        FrMapResult r;
        fr_map_finish(a, &r, NULL);
        double once = now() - t0;
        fr_map_result_free(&r);
        t0 = now();
        FrMapRanked *rk = NULL;
        fr_map_rank(a, &rk, NULL);
        double sum = 0, m07, m;
        for (int b = 0; b < 1000; b++) {
            fr_boot_counts(1, b, n, w);
            fr_map_ranked_eval(rk, w, &m07, &m);
            sum += m07;
        }
        double fast = now() - t0;
        fr_map_ranked_destroy(&rk);
        fr_map_destroy(&a);
        t0 = now();
        for (int b = 0; b < 20; b++) {
            fr_boot_counts(1, b, n, w);
            FrMapAcc *ab = acc_of(im, n, w);
            fr_map_finish(ab, &r, NULL);
            fr_map_result_free(&r);
            fr_map_destroy(&ab);
        }
        double naive = (now() - t0) * 1000 / 20;
        printf("%-8zu %12.4f %14.3f %16.2f %13.1fx %9.1fx   (mean replicate mAP07 %.4f)\n", n,
               once, fast, naive, naive / fast, fast / once, sum / 1000);
        free(w);
        free(im);
    }
    return 0;
}
