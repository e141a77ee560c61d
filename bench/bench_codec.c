/* bench_codec.c: encode/decode time and rate of every coder on two feature
 * shapes (yolo9000 max_11: 256×34×34; VGG-16 conv1: 64×224×224), synthetic
 * smooth ReLU-sparse data with a fixed seed, tile packing, 8/10/12 bits,
 * HEVC at QP 22/27/32/37 and lossless, the general coders on the n-bit
 * samples and on raw float32. All rows come from one run, side by side.
 * Encode time includes the Q-layer, packing and the container
 * (shipped build: -DNDEBUG; no verification decode inside the encode).
 * Then x265 encoder reuse: CPU time (process, all x265 threads) of one
 * encode on the demo detector's picture sizes, fresh encoder per picture vs
 * this thread's kept encoder, side by side, the streams checked equal
 * (`bench_codec reuse` prints this table alone). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "featrd.h"
#include "codec/codec_internal.h"
#include "codec/container.h"
#include "codec/pack.h"
#include "codec/quant.h"

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static void feature_like(FrTensor *t, uint32_t seed)
{
    for (int k = 0; k < t->c; k++) {
        double fx = 0.05 + (lcg(&seed) % 100) / 500.0, fy = 0.05 + (lcg(&seed) % 100) / 500.0;
        double ph = (lcg(&seed) % 628) / 100.0, amp = 0.5 + (lcg(&seed) % 100) / 40.0;
        double thr = (lcg(&seed) % 100) / 150.0;
        for (int y = 0; y < t->h; y++)
            for (int x = 0; x < t->w; x++) {
                double v = amp * sin(fx * x + ph) * cos(fy * y - ph) - thr +
                           0.05 * ((lcg(&seed) % 1000) / 1000.0 - 0.5);
                t->data[((size_t)k * t->h + y) * t->w + x] = v > 0 ? (float)v : 0.0f;
            }
    }
}

static double mse(const FrTensor *a, const FrTensor *b)
{
    double s = 0;
    for (size_t i = 0; i < fr_tensor_size(a); i++)
        s += ((double)a->data[i] - b->data[i]) * ((double)a->data[i] - b->data[i]);
    return s / (double)fr_tensor_size(a);
}

static void row(const char *name, const FrTensor *t, const FrFeatureSettings *s)
{
    uint8_t *frd;
    size_t n;
    FrBitStats bs;
    FrError e;
    if (fr_feature_encode(t, 1, name, s, &frd, &n, &bs, &e)) {
        printf("%-10s %2d %-13s  error: %s\n", name, s->bits, fr_codec_name(s->codec), e.msg);
        return;
    }
    double t0 = fr_now();
    FrTensor *d;
    int nd;
    if (fr_feature_decode(frd, n, &d, &nd, NULL, &e)) {
        printf("%-10s decode error: %s\n", name, e.msg);
        free(frd);
        return;
    }
    double dec = fr_now() - t0;
    char qp[8] = "-";
    if (s->codec == FR_CODEC_HEVC)
        snprintf(qp, sizeof qp, "%d", s->qp);
    double m = mse(t, &d[0]);
    char bits[8];
    snprintf(bits, sizeof bits, "%s", "f32");
    if (s->bits != FR_BITS_FLOAT)
        snprintf(bits, sizeof bits, "%d", s->bits);
    printf("%-10s %4s %-13s %3s %10zu %8.4f %9.2f %8.3f %8.3f %11.3e %8.2f\n", name,
           bits, fr_codec_name(s->codec), qp, n,
           (double)bs.total_bits / (double)fr_tensor_size(t),
           (double)fr_tensor_size(t) * 32.0 / (double)bs.total_bits, bs.encode_seconds, dec, m,
           s->bits == FR_BITS_FLOAT ? 0.0 : fr_feature_mse_nbit(t, &d[0], 8));
    fr_tensor_free(&d[0]);
    free(d);
    free(frd);
}

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* A tile-packed c×t×t feature picture at n bits (different per seed). */
static void tile_picture(int c, int t, int bits, uint32_t seed, FrPicture *p)
{
    FrTensor x;
    FrPackLayout l;
    float mn, mx;
    uint16_t *q = NULL;
    memset(p, 0, sizeof *p);
    if (fr_tensor_alloc(&x, c, t, t))
        return;
    feature_like(&x, seed);
    if ((q = malloc(fr_tensor_size(&x) * sizeof *q)) &&
        !fr_quant_ranges(&x, FR_RANGE_TENSOR, 0, &mn, &mx, NULL) &&
        !fr_quantize(&x, bits, FR_RANGE_TENSOR, &mn, &mx, q, NULL) &&
        !fr_pack_layout(FR_PACK_TILE, c, t, t, 0, &l, NULL))
        fr_pack(q, &l, bits, p, NULL);
    free(q);
    fr_tensor_free(&x);
}

/* ms of CPU per encode of `reps` pictures, fresh (reuse 0) or kept encoder,
 * alternating the two in rounds so that load on shared cores falls on both;
 * *same: every stream equal. */
static void reuse_row(const char *name, int c, int t, int bits, int qp, int reps)
{
    FrHevcSettings hs;
    fr_hevc_defaults(&hs);
    FrQpMap q = {qp < 0 ? 32 : qp, NULL, NULL};
    double sec[2] = {0, 0};
    int same = 1, w = 0, h = 0;
    for (int r = 0; r <= reps; r++) {
        FrPicture pic;
        tile_picture(c, t, bits, 2018u + (uint32_t)r, &pic);
        if (!pic.samples)
            return;
        w = pic.width;
        h = pic.height;
        uint8_t *out[2] = {NULL, NULL};
        size_t n[2] = {0, 0};
        for (int m = 0; m < 2; m++) {
            fr_x265_reuse(m);
            double t0 = cpu_now();
            if (fr_x265_encode_mono(&pic, &q, &hs, qp < 0, &out[m], &n[m], NULL, NULL))
                same = 0;
            if (r) /* round 0 opens the kept encoder */
                sec[m] += cpu_now() - t0;
        }
        same &= n[0] == n[1] && out[0] && out[1] && !memcmp(out[0], out[1], n[0]);
        free(out[0]);
        free(out[1]);
        fr_picture_free(&pic);
    }
    char qs[16] = "LL";
    if (qp >= 0)
        snprintf(qs, sizeof qs, "%d", qp);
    printf("%-6s %3dx%-3d %4d %3s %9.3f %9.3f %6.1f%% %5s\n", name, w, h, bits, qs,
           sec[0] * 1e3 / reps, sec[1] * 1e3 / reps, 100.0 * (1.0 - sec[1] / sec[0]),
           same ? "yes" : "NO");
}

static void reuse_table(void)
{
    printf("\nx265 encoder reuse: CPU ms per encode (process, all threads), demo detector "
           "fmnist-yolo pictures, HEVC defaults\n");
    printf("%-6s %7s %4s %3s %9s %9s %7s %5s\n", "split", "size", "bits", "qp", "fresh_ms",
           "kept_ms", "saved", "equal");
    int bits[] = {8, 10, 12}, qps[] = {-1, 22, 37, 47};
    for (int b = 0; b < 3; b++)
        for (int k = 0; k < 4; k++) {
            reuse_row("max_7", 64, 8, bits[b], qps[k], 40);
            reuse_row("max_5", 32, 16, bits[b], qps[k], 40);
        }
    for (int b = 0; b < 3; b++)
        reuse_row("max_3", 32, 32, bits[b], -1, 20);
    fr_x265_reuse(1);
    fr_x265_release();
}

int main(int argc, char **argv)
{
    /* bench_codec reuse: the reuse table alone */
    if (argc > 1 && !strcmp(argv[1], "reuse")) {
        reuse_table();
        return 0;
    }
    struct {
        const char *name;
        int c, h, w;
    } shapes[] = {{"max_11", 256, 34, 34}, {"vgg_conv1", 64, 224, 224}};
    printf("codec benchmark: tile packing, tensor range, HEVC defaults (CTU 16, min CU 8, RDOQ off, "
           "SAO on, all-intra)\n");
    printf("%-10s %4s %-13s %3s %10s %8s %9s %8s %8s %11s %8s\n", "tensor", "bits", "codec", "qp",
           "bytes", "bpe", "ratio", "enc_s", "dec_s", "mse", "mse8");
    for (size_t si = 0; si < 2; si++) {
        FrTensor t;
        if (fr_tensor_alloc(&t, shapes[si].c, shapes[si].h, shapes[si].w))
            return 1;
        feature_like(&t, 2018u);
        int bits[] = {8, 10, 12};
        for (int b = 0; b < 3; b++) {
            FrFeatureSettings s;
            fr_feature_defaults(&s);
            s.bits = bits[b];
            int qps[] = {22, 27, 32, 37};
            for (int q = 0; q < 4; q++) {
                s.qp = qps[q];
                row(shapes[si].name, &t, &s);
            }
            for (int k = FR_CODEC_HEVC_LOSSLESS; k < 64; k++) if (fr_codec_caps((FrCodecKind)k) & FR_CODEC_LOSSLESS) {
                s.codec = (FrCodecKind)k;
                row(shapes[si].name, &t, &s);
            }
        }
        for (int k = 0; k < 64; k++) if (fr_codec_caps((FrCodecKind)k) & FR_CODEC_BYTES) {
            FrFeatureSettings s;
            fr_feature_defaults(&s);
            s.bits = FR_BITS_FLOAT;
            s.codec = (FrCodecKind)k;
            row(shapes[si].name, &t, &s);
        }
        fr_tensor_free(&t);
    }
    printf("bpe = total container bits per element; ratio = float32 bits / coded bits; mse on the "
           "float tensor; mse8 in the 8-bit domain\n");
    reuse_table();
    return 0;
}
