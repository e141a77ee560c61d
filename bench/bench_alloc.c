/* bench_alloc.c: the cost of seed 004's sensitivity measurement (Algorithm 1)
 * per image, in CPU time (CLOCK_PROCESS_CPUTIME_ID), side by side in one run:
 *
 *  naive    Algorithm 1 as written: for every QP_base the uncompressed back
 *           half, and per channel the channel coded alone (one 4:0:0 HEVC
 *           frame, the tensor's Q-layer range), decoded, and one back half;
 *  per-QP   featrd's fr_alloc_sensitivity called once per QP_base (the whole
 *           feature coded once per QP_base, the uncompressed back half per
 *           QP_base);
 *  shared   fr_alloc_sensitivity_qps_ (the uncompressed back half once per
 *           image for all QP_base values).
 *
 * The three must give bit-identical sensitivities and so identical QP maps
 * (checked here, exit 1 otherwise). Also one uniform RD point (encode +
 * decode + back half) for scale. Demo classifier at conv1, pool1, pool2 and
 * demo detector at max_5, max_7 (the configs' splits), QP_base 36/38/40/42,
 * QP_range 5, frames packing, 8 bits, measurement layer penultimate. Trained
 * weights when present, else seeded random ones; synthetic inputs. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "featrd.h"
#include "alloc/alloc.h"
#include "alloc/alloc_internal.h"
#include "codec/codec.h"
#include "codec/pack.h"
#include "codec/quant.h"

#define NIMG 6
#define NQ 4
static const int QPS[NQ] = {36, 38, 40, 42};

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fill(FrTensor *in, unsigned seed)
{
    unsigned x = seed;
    for (size_t i = 0; i < fr_tensor_size(in); i++) {
        x = x * 1664525u + 1013904223u;
        in->data[i] = (float)((x >> 8) & 0xffff) / 65535.0f * ((i / 32) % 3 ? 1.0f : 0.3f);
    }
}

static double mse_f(const float *a, const float *b, size_t n)
{
    double acc = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        acc += d * d;
    }
    return n ? acc / (double)n : 0.0;
}

/* Channel k of t coded alone at qp and decoded, dequantised into out. */
static int code_alone(const FrTensor *t, int k, const FrFeatureSettings *fs, int qp, float *out,
                      FrError *err)
{
    float mn, mx;
    size_t plane = (size_t)t->h * (size_t)t->w;
    uint16_t *q = malloc(fr_tensor_size(t) * sizeof *q), *qk = malloc(plane * sizeof *qk);
    FrPackLayout l1;
    FrPicture pic = {0}, dec = {0};
    FrTensor one = {0};
    uint8_t *bs = NULL;
    size_t bn = 0;
    FrQpMap qm = {.qp = qp, .frame_qp = NULL, .block_qp = NULL};
    int rc = !q || !qk ? FR_E_NOMEM : FR_OK;
    if (!rc)
        rc = fr_quant_ranges(t, fs->range, fs->relu_min0, &mn, &mx, err);
    if (!rc)
        rc = fr_quantize(t, fs->bits, fs->range, &mn, &mx, q, err);
    if (!rc)
        rc = fr_pack_layout(FR_PACK_FRAMES, 1, t->h, t->w, 0, &l1, err);
    if (!rc)
        rc = fr_pack(q + (size_t)k * plane, &l1, fs->bits, &pic, err);
    if (!rc)
        rc = fr_picture_encode(fs->codec, &pic, &qm, fs->codec_settings, &bs, &bn, NULL, err);
    if (!rc)
        rc = fr_picture_decode(fs->codec, bs, bn, pic.width, pic.height, 1, pic.bit_depth, &dec,
                               err);
    if (!rc)
        rc = fr_unpack(&dec, &l1, qk, err);
    if (!rc)
        rc = fr_tensor_alloc(&one, 1, t->h, t->w);
    if (!rc)
        rc = fr_dequantize(qk, fs->bits, fs->range, &mn, &mx, &one, err);
    if (!rc)
        memcpy(out, one.data, plane * sizeof(float));
    fr_tensor_free(&one);
    fr_picture_free(&pic);
    fr_picture_free(&dec);
    free(bs);
    free(q);
    free(qk);
    return rc;
}

/* Naive Algorithm 1 at one QP_base: out_raw, then every channel coded alone. */
static int naive(FrModel *m, int split, const FrTensor *cuts, int ncuts,
                 const FrFeatureSettings *fs, int qp, int layer, double *s, FrError *err)
{
    FrTensor ref = {0}, out = {0}, work[FR_MODEL_MAX_CUTS];
    memset(work, 0, sizeof work);
    int rc = fr_model_back(m, split, cuts, ncuts, err);
    if (!rc)
        rc = fr_model_layer_output(m, layer, &ref);
    for (int t = 0; t < ncuts && !rc; t++)
        if (!(rc = fr_tensor_alloc(&work[t], cuts[t].c, cuts[t].h, cuts[t].w)))
            memcpy(work[t].data, cuts[t].data, fr_tensor_size(&cuts[t]) * sizeof(float));
    int k = 0;
    for (int t = 0; t < ncuts && !rc; t++) {
        size_t plane = (size_t)cuts[t].h * (size_t)cuts[t].w;
        for (int i = 0; i < cuts[t].c && !rc; i++, k++) {
            float *dst = work[t].data + (size_t)i * plane;
            if ((rc = code_alone(&cuts[t], i, fs, qp, dst, err)))
                break;
            if (!memcmp(dst, cuts[t].data + (size_t)i * plane, plane * sizeof(float))) {
                s[k] = 0.0;
                continue;
            }
            if (!(rc = fr_model_back(m, split, work, ncuts, err)) &&
                !(rc = fr_model_layer_output(m, layer, &out)))
                s[k] = mse_f(out.data, ref.data, fr_tensor_size(&ref));
            fr_tensor_free(&out);
            memcpy(dst, cuts[t].data + (size_t)i * plane, plane * sizeof(float));
        }
    }
    for (int t = 0; t < FR_MODEL_MAX_CUTS; t++)
        fr_tensor_free(&work[t]);
    fr_tensor_free(&ref);
    return rc;
}

static int uniform_point(FrModel *m, int split, const FrTensor *cuts, int ncuts,
                         const FrFeatureSettings *fs0, int qp, FrError *err)
{
    FrFeatureSettings fs = *fs0;
    fs.qp = qp;
    uint8_t *frd = NULL;
    size_t len = 0;
    FrTensor *rec = NULL;
    int nrec = 0;
    int rc = fr_feature_encode(cuts, ncuts, NULL, &fs, &frd, &len, NULL, err);
    if (!rc)
        rc = fr_feature_decode(frd, len, &rec, &nrec, NULL, err);
    if (!rc)
        rc = fr_model_back(m, split, rec, nrec, err);
    for (int t = 0; t < nrec; t++)
        fr_tensor_free(&rec[t]);
    free(rec);
    free(frd);
    return rc;
}

static int bench_model(const char *cfg, const char *weights, const char *const *splits,
                       int nsplits, double *sum_naive, double *sum_fast)
{
    FrModelSettings ms;
    fr_model_defaults(&ms);
    ms.cfg = cfg;
    ms.weights = access(weights, R_OK) == 0 ? weights : NULL;
    ms.quiet = 1;
    FrModel *m = NULL;
    FrError err = {0};
    if (fr_model_open(&m, &ms, &err)) {
        fprintf(stderr, "bench_alloc: %s\n", err.msg);
        return 1;
    }
    int ic, ih, iw;
    fr_model_input_size(m, &ic, &ih, &iw);
    printf("%s (%s weights), %d images, QP_base 36/38/40/42, frames, 8 bits, CPU ms per image "
           "(all 4 QP_base):\n", cfg, ms.weights ? "trained" : "random", NIMG);
    int rc = 0;
    for (int k = 0; k < nsplits && !rc; k++) {
        int split, layer;
        if ((rc = fr_model_find_layer(m, splits[k], &split, &err)) ||
            (rc = fr_alloc_sens_layer(m, split, FR_SENS_PENULTIMATE, NULL, &layer, &err)))
            break;
        FrFeatureSettings fs;
        fr_feature_defaults(&fs);
        fs.packing = FR_PACK_FRAMES;
        double t_naive = 0, t_perqp = 0, t_shared = 0, t_point = 0;
        int nch = 0, diff_s = 0, diff_q = 0;
        for (int i = 0; i < NIMG && !rc; i++) {
            FrTensor in, cuts[FR_MODEL_MAX_CUTS];
            int ncuts = 0;
            fr_tensor_alloc(&in, ic, ih, iw);
            fill(&in, 17u + (unsigned)i);
            if ((rc = fr_model_front(m, &in, split, cuts, &ncuts, &err))) {
                fr_tensor_free(&in);
                break;
            }
            nch = fr_alloc_channels(cuts, ncuts);
            size_t sz = (size_t)NQ * (size_t)nch;
            double *sn = malloc(sz * sizeof *sn), *sp = malloc(sz * sizeof *sp),
                   *ss = malloc(sz * sizeof *ss);
            int *qa = malloc((size_t)nch * sizeof *qa), *qb = malloc((size_t)nch * sizeof *qb);
            /* interleaved per image: the three see the same machine load */
            double t0 = cpu_now();
            for (int q = 0; q < NQ && !rc; q++)
                rc = naive(m, split, cuts, ncuts, &fs, QPS[q], layer, sn + (size_t)q * nch, &err);
            double t1 = cpu_now();
            for (int q = 0; q < NQ && !rc; q++)
                rc = fr_alloc_sensitivity(m, split, cuts, ncuts, &fs, QPS[q], layer,
                                          sp + (size_t)q * nch, nch, NULL, &err);
            double t2 = cpu_now();
            if (!rc)
                rc = fr_alloc_sensitivity_qps_(m, split, cuts, ncuts, &fs, QPS, NQ, layer, ss,
                                               nch, NULL, &err);
            double t3 = cpu_now();
            for (int q = 0; q < NQ && !rc; q++)
                rc = uniform_point(m, split, cuts, ncuts, &fs, QPS[q], &err);
            double t4 = cpu_now();
            t_naive += t1 - t0;
            t_perqp += t2 - t1;
            t_shared += t3 - t2;
            t_point += t4 - t3;
            if (!rc) {
                diff_s += memcmp(sn, sp, sz * sizeof *sn) != 0;
                diff_s += memcmp(sn, ss, sz * sizeof *sn) != 0;
                for (int q = 0; q < NQ && !rc; q++) {
                    if (!(rc = fr_alloc_qps(sn + (size_t)q * nch, nch, QPS[q], 5, qa, &err)) &&
                        !(rc = fr_alloc_qps(ss + (size_t)q * nch, nch, QPS[q], 5, qb, &err)))
                        diff_q += memcmp(qa, qb, (size_t)nch * sizeof *qa) != 0;
                }
            }
            free(sn);
            free(sp);
            free(ss);
            free(qa);
            free(qb);
            for (int t = 0; t < ncuts; t++)
                fr_tensor_free(&cuts[t]);
            fr_tensor_free(&in);
        }
        if (rc)
            break;
        printf("  %-6s %3d channels: naive %8.1f  per-QP %8.1f (%.2fx)  shared %8.1f (%.2fx)  "
               "4 uniform points %6.1f; sensitivities %s, QP maps %s\n",
               splits[k], nch, 1e3 * t_naive / NIMG, 1e3 * t_perqp / NIMG, t_naive / t_perqp,
               1e3 * t_shared / NIMG, t_naive / t_shared, 1e3 * t_point / NIMG,
               diff_s ? "DIFFER" : "bit-identical", diff_q ? "DIFFER" : "identical");
        if (diff_s || diff_q)
            rc = 1;
        *sum_naive += t_naive;
        *sum_fast += t_shared;
    }
    if (rc && err.msg[0])
        fprintf(stderr, "bench_alloc: %s\n", err.msg);
    fr_model_close(&m);
    return rc ? 1 : 0;
}

int main(void)
{
    if (!getenv("OPENBLAS_NUM_THREADS")) /* one thread, as runner workers use */
        fr_model_blas_threads(1);
    static const char *const vgg[] = {"conv1", "pool1", "pool2"};
    static const char *const yolo[] = {"max_5", "max_7"};
    double naive_s = 0, fast_s = 0;
    int rc = bench_model("models/fmnist-vgg.cfg", "models/fmnist-vgg.weights", vgg, 3, &naive_s,
                         &fast_s);
    if (!rc)
        rc = bench_model("models/fmnist-yolo.cfg", "models/fmnist-yolo.weights", yolo, 2,
                         &naive_s, &fast_s);
    if (!rc) {
        double r = naive_s / fast_s;
        printf("sensitivity vs naive: %.2fx (goal >= 4x) %s\n", r, r >= 4.0 ? "met" : "missed");
    }
    return rc;
}
