/* bench_alloc.c: the cost of seed 004's sensitivity measurement per image,
 * side by side with the cost of one uniform-QP RD point on the same image
 * (encode + decode + back half), on the demo classifier at conv1, pool1 and
 * pool2 (QP_base 40, frames packing, 8 bits). Uses models/fmnist-vgg.weights
 * when present, else seeded random weights (same cost), and synthetic
 * 32x32 inputs so no data set is needed. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "featrd.h"
#include "alloc/alloc.h"

#define NIMG 20

static void fill(FrTensor *in, unsigned seed)
{
    unsigned x = seed;
    for (size_t i = 0; i < fr_tensor_size(in); i++) {
        x = x * 1664525u + 1013904223u;
        in->data[i] = (float)((x >> 8) & 0xffff) / 65535.0f * ((i / 32) % 3 ? 1.0f : 0.3f);
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    if (!getenv("OPENBLAS_NUM_THREADS")) { /* one thread, as runner workers use */
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
        execv("/proc/self/exe", argv);
    }
    FrModelSettings ms;
    fr_model_defaults(&ms);
    ms.cfg = "models/fmnist-vgg.cfg";
    ms.weights = access("models/fmnist-vgg.weights", R_OK) == 0 ? "models/fmnist-vgg.weights" : NULL;
    ms.quiet = 1;
    FrModel *m = NULL;
    FrError err = {0};
    if (fr_model_open(&m, &ms, &err)) {
        fprintf(stderr, "bench_alloc: %s\n", err.msg);
        return 1;
    }
    const char *splits[] = {"conv1", "pool1", "pool2"};
    printf("sensitivity measurement vs one uniform RD point, per image (%d images, QP_base 40, "
           "frames, 8 bits, %s weights)\n", NIMG, ms.weights ? "trained" : "random");
    int rc = 0;
    for (int k = 0; k < 3 && !rc; k++) {
        int split, layer;
        if ((rc = fr_model_find_layer(m, splits[k], &split, &err)) ||
            (rc = fr_alloc_sens_layer(m, split, FR_SENS_PENULTIMATE, NULL, &layer, &err)))
            break;
        FrFeatureSettings fs;
        fr_feature_defaults(&fs);
        fs.packing = FR_PACK_FRAMES;
        fs.qp = 40;
        double t_sens = 0, t_point = 0;
        int nch = 0;
        for (int i = 0; i < NIMG && !rc; i++) {
            FrTensor in, cuts[FR_MODEL_MAX_CUTS];
            int ncuts = 0;
            fr_tensor_alloc(&in, 3, 32, 32);
            fill(&in, 17u + (unsigned)i);
            if ((rc = fr_model_front(m, &in, split, cuts, &ncuts, &err)))
                break;
            nch = fr_alloc_channels(cuts, ncuts);
            double *s = malloc(sizeof(double) * (size_t)nch), secs = 0;
            rc = fr_alloc_sensitivity(m, split, cuts, ncuts, &fs, 40, layer, s, nch, &secs, &err);
            t_sens += secs;
            double t0 = fr_now();
            uint8_t *frd = NULL;
            size_t len = 0;
            FrTensor *rec = NULL;
            int nrec = 0;
            if (!rc)
                rc = fr_feature_encode(cuts, ncuts, NULL, &fs, &frd, &len, NULL, &err);
            if (!rc)
                rc = fr_feature_decode(frd, len, &rec, &nrec, NULL, &err);
            if (!rc)
                rc = fr_model_back(m, split, rec, nrec, &err);
            t_point += fr_now() - t0;
            for (int t = 0; t < nrec; t++)
                fr_tensor_free(&rec[t]);
            free(rec);
            free(frd);
            free(s);
            for (int t = 0; t < ncuts; t++)
                fr_tensor_free(&cuts[t]);
            fr_tensor_free(&in);
        }
        if (!rc)
            printf("  %-6s %3d channels: sensitivity %7.2f ms/image, uniform point %6.2f ms/image, "
                   "ratio %5.1fx\n", splits[k], nch, 1e3 * t_sens / NIMG, 1e3 * t_point / NIMG,
                   t_sens / t_point);
    }
    if (rc)
        fprintf(stderr, "bench_alloc: %s\n", err.msg);
    fr_model_close(&m);
    return rc ? 1 : 0;
}
