/* bench_codec.c: encode/decode time and rate of every coder on two feature
 * shapes (yolo9000 max_11: 256×34×34; VGG-16 conv1: 64×224×224), synthetic
 * smooth ReLU-sparse data with a fixed seed, tile packing, 8/10/12 bits,
 * HEVC at QP 22/27/32/37 and lossless, the general coders on the n-bit
 * samples and on raw float32. All rows come from one run, side by side.
 * Encode time includes the Q-layer, packing and the container
 * (shipped build: -DNDEBUG; no verification decode inside the encode). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "featrd.h"
#include "codec/container.h"

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

int main(void)
{
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
    return 0;
}
