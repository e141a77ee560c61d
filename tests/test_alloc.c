/* test_alloc.c: seed 004 allocation: the QP formula and min-max normalisation
 * at their edges, the sensitivity cache (memory and disk), the sensitivity
 * measurement on a tiny darknet net whose weights make one channel decisive,
 * the equivalence of "code the whole tensor once" with "code each channel
 * alone" for frames packing, and that per-channel QPs really reach the coded
 * stream (per-channel distortion ordering, bits, decoded QP list). rdopt
 * (issue #19): the Lagrangian allocation against brute force, monotone in
 * lambda, at a rate budget, and its measured curves on the tiny net with the
 * rate and distortion additivity measured. */
#include "testutil.h"
#include "alloc/alloc.h"
#include "codec/codec.h"
#include "codec/pack.h"
#include "codec/quant.h"
#include "alloc/alloc_internal.h"
#include "model/model.h"

#include <math.h>

/* ---------------- formula ---------------- */

static void test_round_half_away(void **state)
{
    (void)state;
    assert_int_equal(fr_alloc_round(2.5), 3);
    assert_int_equal(fr_alloc_round(2.4999), 2);
    assert_int_equal(fr_alloc_round(0.5), 1);
    assert_int_equal(fr_alloc_round(-2.5), -3);
    assert_int_equal(fr_alloc_round(0.0), 0);
    assert_int_equal(fr_alloc_round(4.5), 5);
}

static void test_normalize(void **state)
{
    (void)state;
    double s[5] = {2.0, 4.0, 3.0, 10.0, 2.0}, n[5];
    assert_int_equal(fr_alloc_normalize(s, 5, n, NULL), 0);
    assert_true(n[0] == 0.0 && n[4] == 0.0 && n[3] == 1.0);
    assert_true(fabs(n[1] - 0.25) < 1e-15);
    assert_true(fabs(n[2] - 0.125) < 1e-15);
    /* in place */
    assert_int_equal(fr_alloc_normalize(s, 5, s, NULL), 0);
    assert_memory_equal(s, n, sizeof n);

    /* all equal: 0/0 in the paper, 0 here so every channel stays at QP_base */
    double e[4] = {7.5, 7.5, 7.5, 7.5};
    assert_int_equal(fr_alloc_normalize(e, 4, n, NULL), 0);
    for (int i = 0; i < 4; i++)
        assert_true(n[i] == 0.0);
    /* a single channel */
    double one = 3.0;
    assert_int_equal(fr_alloc_normalize(&one, 1, n, NULL), 0);
    assert_true(n[0] == 0.0);

    FrError err;
    double bad[3] = {1.0, NAN, 2.0};
    assert_int_equal(fr_alloc_normalize(bad, 3, n, &err), FR_E_USAGE);
    tu_assert_contains(err.msg, "channel 1");
    assert_int_equal(fr_alloc_normalize(s, 0, n, &err), FR_E_USAGE);
}

static void test_qp_formula(void **state)
{
    (void)state;
    /* S~ = 0, 0.1, 0.3, 0.5, 0.7, 0.9, 1 -> 5*S~ = 0, .5, 1.5, 2.5, 3.5, 4.5, 5 */
    double s[7] = {1.0, 1.1, 1.3, 1.5, 1.7, 1.9, 2.0};
    /* 0.5 * 5 = 2.5 is an exact tie: half away from zero gives 3 */
    double t[7] = {0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0};
    int qps[7];
    assert_int_equal(fr_alloc_qps(t, 7, 40, 5, qps, NULL), 0);
    assert_int_equal(qps[0], 40);
    assert_int_equal(qps[3], 37); /* 40 - round(2.5) = 40 - 3 */
    assert_int_equal(qps[6], 35);
    for (int i = 1; i < 7; i++)
        assert_true(qps[i] <= qps[i - 1]); /* more sensitive, lower QP */
    /* reference computation on the shifted vector: same normalised values */
    int ref[7];
    assert_int_equal(fr_alloc_qps(s, 7, 40, 5, ref, NULL), 0);
    for (int i = 0; i < 7; i++) {
        double nrm = (s[i] - 1.0) / 1.0;
        long want = 40 - (long)floor(5.0 * nrm + 0.5);
        assert_int_equal(ref[i], want);
    }

    /* all equal and single channel: everything at QP_base */
    double e[3] = {0.25, 0.25, 0.25};
    assert_int_equal(fr_alloc_qps(e, 3, 38, 5, qps, NULL), 0);
    assert_int_equal(qps[0], 38);
    assert_int_equal(qps[1], 38);
    assert_int_equal(qps[2], 38);
    assert_int_equal(fr_alloc_qps(e, 1, 42, 5, qps, NULL), 0);
    assert_int_equal(qps[0], 42);

    /* clipping at 0: QP_base 3, range 5 -> the top channel would be -2 */
    double c[3] = {0.0, 0.5, 1.0};
    assert_int_equal(fr_alloc_qps(c, 3, 3, 5, qps, NULL), 0);
    assert_int_equal(qps[0], 3);
    assert_int_equal(qps[1], 0);  /* 3 - 3 */
    assert_int_equal(qps[2], 0);  /* 3 - 5 clipped */
    /* clipping at 51: negative range is refused, so the top clip is reached
     * only via qp_base 51 itself, where the least sensitive channel stays at 51 */
    assert_int_equal(fr_alloc_qps(c, 3, 51, 5, qps, NULL), 0);
    assert_int_equal(qps[0], 51);
    assert_int_equal(qps[2], 46);
    /* range 0: uniform */
    assert_int_equal(fr_alloc_qps(c, 3, 30, 0, qps, NULL), 0);
    assert_int_equal(qps[0], 30);
    assert_int_equal(qps[2], 30);

    FrError err;
    assert_int_equal(fr_alloc_qps(c, 3, 52, 5, qps, &err), FR_E_USAGE);
    tu_assert_contains(err.msg, "qp_base 52");
    assert_int_equal(fr_alloc_qps(c, 3, -1, 5, qps, &err), FR_E_USAGE);
    assert_int_equal(fr_alloc_qps(c, 3, 30, -1, qps, &err), FR_E_USAGE);
    tu_assert_contains(err.msg, "qp_range -1");

    fr_alloc_uniform(qps, 3, 27);
    assert_int_equal(qps[0], 27);
    assert_int_equal(qps[2], 27);
}

static void test_mean(void **state)
{
    (void)state;
    double s[2 * 3] = {1, 2, 3, 3, 6, 9}, m[3];
    assert_int_equal(fr_alloc_mean(s, 2, 3, m, NULL), 0);
    assert_true(m[0] == 2.0 && m[1] == 4.0 && m[2] == 6.0);
    assert_int_equal(fr_alloc_mean(s, 0, 3, m, NULL), FR_E_USAGE);
}

/* ---------------- cache ---------------- */

static void test_cache(void **state)
{
    (void)state;
    char key[FR_SENS_KEY_MAX], key2[FR_SENS_KEY_MAX];
    fr_sens_key(key, sizeof key, "img/a.png", "conv1", 8, 40, "packing=frames");
    fr_sens_key(key2, sizeof key2, "img/a.png", "conv1", 8, 42, "packing=frames");
    assert_string_not_equal(key, key2);
    tu_assert_contains(key, "img/a.png");
    tu_assert_contains(key, "qp=40");

    const char *dir = tu_tmpdir();
    char sub[512];
    snprintf(sub, sizeof sub, "%s/sens/deeper", dir);
    FrSensCache *c = NULL;
    FrError err;
    assert_int_equal(fr_sens_cache_create(&c, sub, &err), 0);
    double s[4] = {0.5, 1e-9, 3.25, 0.0}, got[4], secs = -1;
    assert_int_equal(fr_sens_cache_get(c, key, got, 4, &secs), 0);
    assert_int_equal(fr_sens_cache_put(c, key, s, 4, 1.5, &err), 0);
    assert_int_equal(fr_sens_cache_get(c, key, got, 4, &secs), 1);
    assert_memory_equal(got, s, sizeof s);
    assert_true(secs == 1.5);
    assert_int_equal(fr_sens_cache_get(c, key2, got, 4, NULL), 0);
    assert_int_equal(fr_sens_cache_get(c, key, got, 3, NULL), 0); /* wrong length */
    /* replacing keeps one entry */
    s[0] = 9.0;
    assert_int_equal(fr_sens_cache_put(c, key, s, 4, 2.0, &err), 0);
    assert_int_equal(fr_sens_cache_count(c), 1);
    fr_sens_cache_destroy(&c);
    assert_null(c);

    /* a new cache on the same directory finds it on disk */
    assert_int_equal(fr_sens_cache_create(&c, sub, &err), 0);
    assert_int_equal(fr_sens_cache_count(c), 0);
    assert_int_equal(fr_sens_cache_get(c, key, got, 4, &secs), 1);
    assert_memory_equal(got, s, sizeof s);
    assert_true(secs == 2.0);
    assert_int_equal(fr_sens_cache_count(c), 1);
    fr_sens_cache_destroy(&c);
    char *ls = NULL;
    assert_int_equal(tu_sh(&ls, "ls %s | wc -l", sub), 0);
    assert_int_equal(atoi(ls), 1); /* one file, no temporary left behind */
    free(ls);

    /* a corrupted file counts as absent: one flipped bit in a value (caught
     * by the checksum), then a truncated file */
    assert_int_equal(tu_sh(NULL, "for f in %s/*.sens; do n=$(stat -c %%s \"$f\"); "
                                 "printf '\\001' | dd of=\"$f\" bs=1 seek=$((n-12)) conv=notrunc "
                                 "status=none; done", sub), 0);
    assert_int_equal(fr_sens_cache_create(&c, sub, &err), 0);
    assert_int_equal(fr_sens_cache_get(c, key, got, 4, NULL), 0);
    fr_sens_cache_destroy(&c);
    assert_int_equal(tu_sh(NULL, "for f in %s/*.sens; do head -c 30 \"$f\" > \"$f.x\" && mv \"$f.x\" \"$f\"; done", sub), 0);
    assert_int_equal(fr_sens_cache_create(&c, sub, &err), 0);
    assert_int_equal(fr_sens_cache_get(c, key, got, 4, NULL), 0);
    fr_sens_cache_destroy(&c);

    /* memory only */
    assert_int_equal(fr_sens_cache_create(&c, NULL, &err), 0);
    assert_int_equal(fr_sens_cache_put(c, key2, s, 4, 0.0, &err), 0);
    assert_int_equal(fr_sens_cache_get(c, key2, got, 4, NULL), 1);
    fr_sens_cache_destroy(&c);
    fr_sens_cache_destroy(&c); /* safe on NULL */

    assert_int_equal(fr_sens_cache_create(&c, "/proc/no/such/dir", &err), FR_E_IO);
    assert_null(c);
    tu_assert_contains(err.msg, "/proc/no/such/dir");
}

/* ---------------- a tiny net with one decisive channel ---------------- */

/* layer 0: 1×1 conv 3 -> 6 (the split: 6 channels of 16×16)
 * layer 1: 1×1 conv 6 -> 4 that reads only channel `decisive`
 * layer 2: connected 1024 -> 5
 * layer 3: softmax */
static const char *TINY_CFG =
    "[net]\nwidth=16\nheight=16\nchannels=3\nbatch=1\n\n"
    "[convolutional]\nfilters=6\nsize=1\nstride=1\npad=0\nactivation=linear\n\n"
    "[convolutional]\nfilters=4\nsize=1\nstride=1\npad=0\nactivation=linear\n\n"
    "[connected]\noutput=5\nactivation=linear\n\n"
    "[softmax]\n";

static void put_f(FILE *f, float v) { fwrite(&v, 4, 1, f); }

/* darknet weights: int major, minor, revision, size_t seen (20 bytes), then
 * per layer: biases, weights (no batch norm in the cfg). decisive < 0: layer 1
 * reads every channel (all of them matter, for the additivity check). */
static void write_tiny_weights(const char *path, int decisive)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    int32_t hdr[3] = {0, 2, 0};
    uint64_t seen = 0;
    fwrite(hdr, 4, 3, f);
    fwrite(&seen, 8, 1, f);
    for (int o = 0; o < 6; o++)
        put_f(f, 0.1f * (float)o);
    for (int o = 0; o < 6; o++)
        for (int i = 0; i < 3; i++)
            put_f(f, 0.2f + 0.15f * (float)((o * 3 + i) % 7) - 0.1f * (float)(o % 2));
    for (int o = 0; o < 4; o++)
        put_f(f, 0.0f);
    for (int o = 0; o < 4; o++)
        for (int i = 0; i < 6; i++)
            put_f(f, decisive < 0 ? (0.3f + 0.2f * (float)((o + i) % 3)) * (i % 2 ? -1.0f : 1.0f)
                                  : i == decisive ? 1.0f + 0.5f * (float)o : 0.0f);
    for (int o = 0; o < 5; o++)
        put_f(f, 0.0f);
    uint32_t x = 12345;
    for (int k = 0; k < 5 * 1024; k++) {
        x = x * 1664525u + 1013904223u;
        put_f(f, ((float)(x >> 8) / 16777216.0f - 0.5f) * 0.05f);
    }
    fclose(f);
}

/* A smooth, fixed-seed input image. */
static void fill_input(FrTensor *in)
{
    uint32_t x = 777;
    for (int c = 0; c < in->c; c++)
        for (int y = 0; y < in->h; y++)
            for (int z = 0; z < in->w; z++) {
                x = x * 1664525u + 1013904223u;
                float noise = (float)(x >> 8) / 16777216.0f;
                in->data[((size_t)c * in->h + y) * in->w + z] =
                    0.5f + 0.3f * sinf(0.4f * (float)(y + 2 * c) + 0.3f * (float)z) + 0.2f * noise;
            }
}

static FrModel *open_tiny(const char *dir, int decisive)
{
    char cfg[512], w[512];
    snprintf(cfg, sizeof cfg, "%s/tiny.cfg", dir);
    snprintf(w, sizeof w, "%s/tiny-%d.weights", dir, decisive);
    tu_write(cfg, TINY_CFG);
    write_tiny_weights(w, decisive);
    return tu_open_model(cfg, w);
}

static void check_decisive(const char *dir, int decisive, FrPacking packing)
{
    FrModel *m = open_tiny(dir, decisive);
    FrError err;
    FrTensor in;
    assert_int_equal(fr_tensor_alloc(&in, 3, 16, 16), 0);
    fill_input(&in);
    FrTensor cuts[FR_MODEL_MAX_CUTS];
    int ncuts = 0;
    assert_int_equal(fr_model_front(m, &in, 0, cuts, &ncuts, &err), 0);
    assert_int_equal(ncuts, 1);
    assert_int_equal(cuts[0].c, 6);
    assert_int_equal(fr_alloc_channels(cuts, ncuts), 6);

    int layer = -1;
    assert_int_equal(fr_alloc_sens_layer(m, 0, FR_SENS_PENULTIMATE, NULL, &layer, &err), 0);
    assert_int_equal(layer, 1); /* the input of the connected classifier */
    int final = -1;
    assert_int_equal(fr_alloc_sens_layer(m, 0, FR_SENS_FINAL, NULL, &final, &err), 0);
    assert_int_equal(final, 3);

    FrFeatureSettings fs;
    fr_feature_defaults(&fs);
    fs.bits = 8;
    fs.packing = packing;
    double s[6], secs = -1;
    for (int pass = 0; pass < 2; pass++) {
        int at = pass ? final : layer;
        int rc = fr_alloc_sensitivity(m, 0, cuts, ncuts, &fs, 40, at, s, 6, &secs, &err);
        if (rc != 0)
            print_error("%s\n", err.msg);
        assert_int_equal(rc, 0);
        assert_true(secs >= 0);
        /* only the decisive channel moves the output; the others are exactly 0
         * (their weights are 0, so x*0 sums to the same value) */
        for (int i = 0; i < 6; i++) {
            if (i == decisive)
                assert_true(s[i] > 0);
            else
                assert_true(s[i] == 0.0);
        }
        int qps[6];
        assert_int_equal(fr_alloc_qps(s, 6, 40, 5, qps, &err), 0);
        for (int i = 0; i < 6; i++)
            assert_int_equal(qps[i], i == decisive ? 35 : 40);
    }
    /* wrong length, lossless coder, split after the measurement layer */
    assert_int_equal(fr_alloc_sensitivity(m, 0, cuts, ncuts, &fs, 40, layer, s, 5, NULL, &err),
                     FR_E_USAGE);
    fs.codec = FR_CODEC_ZLIB;
    assert_int_equal(fr_alloc_sensitivity(m, 0, cuts, ncuts, &fs, 40, layer, s, 6, NULL, &err),
                     FR_E_USAGE);
    tu_assert_contains(err.msg, "hevc");
    assert_int_equal(fr_alloc_sens_layer(m, 1, FR_SENS_PENULTIMATE, NULL, &layer, &err),
                     FR_E_USAGE);
    tu_assert_contains(err.msg, "final");
    assert_int_equal(fr_alloc_sens_layer(m, 0, FR_SENS_NAMED, "connected_2", &layer, &err), 0);
    assert_int_equal(layer, 2);
    assert_int_equal(fr_alloc_sens_layer(m, 0, FR_SENS_NAMED, "nope_9", &layer, &err),
                     FR_E_USAGE);

    for (int t = 0; t < ncuts; t++)
        fr_tensor_free(&cuts[t]);
    fr_tensor_free(&in);
    fr_model_close(&m);
    assert_null(m);
}

/* The runner helpers: fr_alloc_image_qps serves the second call from the
 * cache (same QPs and seconds, one entry), and the data-set scope averages
 * exactly the per-image vectors it measured. */
static void test_runner_helpers(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    FrModel *m = open_tiny(dir, 2);
    FrError err;
    char paths[2][512];
    const char *plist[2];
    for (int k = 0; k < 2; k++) {
        uint8_t pix[16 * 16 * 3];
        for (int i = 0; i < 16 * 16 * 3; i++)
            pix[i] = (uint8_t)((i * (7 + 5 * k) + 31 * k) % 251);
        snprintf(paths[k], sizeof paths[k], "%s/img%d.png", dir, k);
        assert_int_equal(fr_model_write_png(paths[k], pix, 16, 16, 3, &err), 0);
        plist[k] = paths[k];
    }
    FrFeatureSettings fs;
    fr_feature_defaults(&fs);
    fs.packing = FR_PACK_FRAMES;
    int layer;
    assert_int_equal(fr_alloc_sens_layer(m, 0, FR_SENS_PENULTIMATE, NULL, &layer, &err), 0);
    FrSensCache *cache = NULL;
    assert_int_equal(fr_sens_cache_create(&cache, NULL, &err), 0);

    double per[2][6];
    for (int k = 0; k < 2; k++) {
        FrTensor rgb, in, cuts[FR_MODEL_MAX_CUTS];
        int ncuts = 0;
        assert_int_equal(fr_model_load_image(m, paths[k], &rgb, &err), 0);
        assert_int_equal(fr_model_prepare_input(m, &rgb, &in), 0);
        assert_int_equal(fr_model_front(m, &in, 0, cuts, &ncuts, &err), 0);
        int q1[6], q2[6];
        double s2[6], t1 = -1, t2 = -2;
        assert_int_equal(fr_alloc_image_qps(m, cache, paths[k], "conv_0", 0, cuts, ncuts, &fs, 38,
                                            5, layer, "tiny", q1, 6, per[k], &t1, &err), 0);
        assert_int_equal(fr_sens_cache_count(cache), (size_t)k + 1);
        assert_int_equal(fr_alloc_image_qps(m, cache, paths[k], "conv_0", 0, cuts, ncuts, &fs, 38,
                                            5, layer, "tiny", q2, 6, s2, &t2, &err), 0);
        assert_int_equal(fr_sens_cache_count(cache), (size_t)k + 1);
        assert_memory_equal(q1, q2, sizeof q1);
        assert_memory_equal(per[k], s2, sizeof s2);
        assert_true(t1 == t2);
        assert_int_equal(q1[2], 33); /* the decisive channel */
        for (int i = 0; i < 6; i++)
            if (i != 2)
                assert_int_equal(q1[i], 38);
        for (int t = 0; t < ncuts; t++)
            fr_tensor_free(&cuts[t]);
        fr_tensor_free(&in);
        fr_tensor_free(&rgb);
    }
    double mean[6], secs = -1;
    assert_int_equal(fr_alloc_dataset_sensitivity(m, cache, plist, 2, "conv_0", 0, &fs, 38, layer,
                                                  "tiny", mean, 6, &secs, &err), 0);
    assert_int_equal(fr_sens_cache_count(cache), 2); /* both came from the cache */
    for (int i = 0; i < 6; i++)
        assert_true(mean[i] == (per[0][i] + per[1][i]) / 2);
    assert_true(secs >= 0);
    const char *missing[1] = {"/nonexistent/x.png"};
    assert_int_equal(fr_alloc_dataset_sensitivity(m, cache, missing, 1, "conv_0", 0, &fs, 38,
                                                  layer, "tiny", mean, 6, NULL, &err),
                     FR_E_NOENT);
    tu_assert_contains(err.msg, "/nonexistent/x.png");
    fr_sens_cache_destroy(&cache);
    fr_model_close(&m);
}

static void test_decisive_channel(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    check_decisive(dir, 3, FR_PACK_FRAMES);
    check_decisive(dir, 1, FR_PACK_TILE);
}

/* ---------------- coding ---------------- */

/* C channels that are statistically identical: the same smooth pattern
 * family with independent fixed-seed phases and noise. */
static void fill_iid(FrTensor *t, uint32_t seed)
{
    uint32_t x = seed;
    for (int c = 0; c < t->c; c++) {
        x = x * 1664525u + 1013904223u;
        float ph = (float)(x >> 8) / 16777216.0f * 6.283f;
        for (int y = 0; y < t->h; y++)
            for (int z = 0; z < t->w; z++) {
                x = x * 1664525u + 1013904223u;
                float noise = (float)(x >> 8) / 16777216.0f - 0.5f;
                t->data[((size_t)c * t->h + y) * t->w + z] =
                    2.0f + sinf(0.5f * (float)y + ph) * cosf(0.37f * (float)z - ph) + 0.6f * noise;
            }
    }
}

/* Codes channel k of t alone (one 4:0:0 frame, t's tensor-wide 8-bit
 * Q-layer range) at qp and writes its dequantised reconstruction to out
 * (h*w floats). */
static void code_channel_alone(const FrTensor *t, int k, int qp, float *out)
{
    FrError err;
    float mn, mx;
    assert_int_equal(fr_quant_ranges(t, FR_RANGE_TENSOR, 0, &mn, &mx, &err), 0);
    size_t plane = (size_t)t->h * t->w;
    uint16_t *q = malloc(fr_tensor_size(t) * sizeof *q), *qk = malloc(plane * sizeof *qk);
    assert_int_equal(fr_quantize(t, 8, FR_RANGE_TENSOR, &mn, &mx, q, &err), 0);
    FrPackLayout l1;
    assert_int_equal(fr_pack_layout(FR_PACK_FRAMES, 1, t->h, t->w, 0, &l1, &err), 0);
    FrPicture pic = {0}, recon = {0};
    assert_int_equal(fr_pack(q + (size_t)k * plane, &l1, 8, &pic, &err), 0);
    FrQpMap qm = {.qp = qp, .frame_qp = NULL, .block_qp = NULL};
    uint8_t *bs = NULL;
    size_t bn = 0;
    assert_int_equal(fr_picture_encode(FR_CODEC_HEVC, &pic, &qm, NULL, &bs, &bn, &recon, &err), 0);
    assert_int_equal(fr_unpack(&recon, &l1, qk, &err), 0);
    FrTensor one;
    assert_int_equal(fr_tensor_alloc(&one, 1, t->h, t->w), 0);
    assert_int_equal(fr_dequantize(qk, 8, FR_RANGE_TENSOR, &mn, &mx, &one, &err), 0);
    memcpy(out, one.data, plane * sizeof(float));
    fr_tensor_free(&one);
    free(bs);
    free(q);
    free(qk);
    fr_picture_free(&pic);
    fr_picture_free(&recon);
}

/* Frames packing: coding the whole tensor once and taking channel k equals
 * coding channel k alone (same Q-layer range), sample for sample. */
static void test_frames_equivalence(void **state)
{
    (void)state;
    FrError err;
    FrTensor t;
    assert_int_equal(fr_tensor_alloc(&t, 5, 20, 24), 0);
    fill_iid(&t, 99);
    FrFeatureSettings fs;
    fr_feature_defaults(&fs);
    fs.bits = 8;
    fs.packing = FR_PACK_FRAMES;
    fs.qp = 37;
    uint8_t *frd = NULL;
    size_t len = 0;
    assert_int_equal(fr_feature_encode(&t, 1, "x", &fs, &frd, &len, NULL, &err), 0);
    FrTensor *rec = NULL;
    int nrec = 0;
    assert_int_equal(fr_feature_decode(frd, len, &rec, &nrec, NULL, &err), 0);
    assert_int_equal(nrec, 1);

    size_t plane = (size_t)t.h * t.w;
    float *one = malloc(plane * sizeof *one);
    int differs = 0;
    for (int k = 0; k < t.c; k++) {
        code_channel_alone(&t, k, 37, one);
        assert_memory_equal(one, rec[0].data + k * plane, plane * sizeof(float));
        differs += memcmp(one, t.data + k * plane, plane * sizeof(float)) != 0;
    }
    free(one);
    assert_int_equal(differs, t.c); /* QP 37 really degraded every channel */
    fr_tensor_free(&rec[0]);
    free(rec);
    free(frd);
    fr_tensor_free(&t);
}

/* Issue #22: on the demo classifier, fr_alloc_sensitivity_qps_ (one
 * uncompressed back half for all QP_base values) gives the same
 * sensitivities, bit for bit, as fr_alloc_sensitivity per QP_base and as
 * naive Algorithm 1 (every channel coded alone, out_raw recomputed per
 * QP_base), and so the same QP maps. */
static double mse_plain(const float *a, const float *b, size_t n)
{
    double acc = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        acc += d * d;
    }
    return acc / (double)n;
}

/* fr_alloc_sensitivity_qps_ on the demo detector at max_7 and QP_base
 * 36/38/40/42: channels decoded to the same values at two QP_base values take
 * the earlier value without a back half, and the back halves stop at the
 * measurement layer; every row must still equal a separate
 * fr_alloc_sensitivity call (itself checked against naive above) bit for bit,
 * and the reused channels must exist (else the reuse is untested). */
static void test_shared_reuses_equal_decodings(void **state)
{
    (void)state;
    FrModel *m = tu_open_model("models/fmnist-yolo.cfg", "models/fmnist-yolo.weights");
    FrError err;
    int split, layer;
    assert_int_equal(fr_model_find_layer(m, "max_7", &split, &err), 0);
    assert_int_equal(fr_alloc_sens_layer(m, split, FR_SENS_PENULTIMATE, NULL, &layer, &err), 0);
    assert_true(layer < fr_model_layer_count(m) - 1); /* the region layer is not run */
    FrFeatureSettings fs;
    fr_feature_defaults(&fs);
    fs.packing = FR_PACK_FRAMES;
    static const int qps[4] = {36, 38, 40, 42};
    int reused = 0;
    for (int img = 0; img < 2; img++) {
        FrTensor in, cuts[FR_MODEL_MAX_CUTS];
        int ncuts = 0;
        assert_int_equal(fr_tensor_alloc(&in, 3, 128, 128), 0);
        fill_iid(&in, 101u + 7u * (uint32_t)img);
        assert_int_equal(fr_model_front(m, &in, split, cuts, &ncuts, &err), 0);
        assert_int_equal(ncuts, 1);
        int n = cuts[0].c;
        size_t plane = (size_t)cuts[0].h * cuts[0].w;
        double *shared = malloc(4 * (size_t)n * sizeof *shared), *per = malloc((size_t)n * sizeof *per);
        assert_int_equal(fr_alloc_sensitivity_qps_(m, split, cuts, 1, &fs, qps, 4, layer, shared, n,
                                                   NULL, &err), 0);
        FrTensor *rec[4];
        for (int q = 0; q < 4; q++) {
            assert_int_equal(fr_alloc_sensitivity(m, split, cuts, 1, &fs, qps[q], layer, per, n,
                                                  NULL, &err), 0);
            assert_memory_equal(per, shared + (size_t)q * n, (size_t)n * sizeof *per);
            assert_int_equal(fr_alloc_code_uniform_(cuts, 1, &fs, qps[q], NULL, n, &rec[q], &err), 0);
            for (int k = 0; k < n; k++) {
                const float *d = rec[q][0].data + (size_t)k * plane;
                if (!memcmp(d, cuts[0].data + (size_t)k * plane, plane * sizeof(float)))
                    continue;
                for (int j = 0; j < q; j++)
                    if (!memcmp(d, rec[j][0].data + (size_t)k * plane, plane * sizeof(float))) {
                        reused++;
                        break;
                    }
            }
        }
        for (int q = 0; q < 4; q++)
            fr_alloc_free_set_(rec[q], 1);
        free(shared);
        free(per);
        fr_tensor_free(&cuts[0]);
        fr_tensor_free(&in);
    }
    assert_true(reused > 0);
    fr_model_close(&m);
}

static void test_shared_matches_naive(void **state)
{
    (void)state;
    FrModel *m = tu_open_model("models/fmnist-vgg.cfg", "models/fmnist-vgg.weights");
    FrError err;
    static const char *const splits[] = {"conv1", "pool2"};
    static const int qps[2] = {36, 42};
    for (int sp = 0; sp < 2; sp++) {
        int split, layer;
        assert_int_equal(fr_model_find_layer(m, splits[sp], &split, &err), 0);
        assert_int_equal(fr_alloc_sens_layer(m, split, FR_SENS_PENULTIMATE, NULL, &layer, &err), 0);
        FrFeatureSettings fs;
        fr_feature_defaults(&fs);
        fs.packing = FR_PACK_FRAMES;
        for (int img = 0; img < 2; img++) {
            FrTensor in, cuts[FR_MODEL_MAX_CUTS];
            int ncuts = 0;
            assert_int_equal(fr_tensor_alloc(&in, 3, 32, 32), 0);
            fill_iid(&in, 7u + 31u * (uint32_t)img);
            assert_int_equal(fr_model_front(m, &in, split, cuts, &ncuts, &err), 0);
            assert_int_equal(ncuts, 1);
            int n = cuts[0].c;
            double *shared = malloc(2 * (size_t)n * sizeof *shared), secs[2] = {0, 0};
            double *per = malloc((size_t)n * sizeof *per), *nv = malloc((size_t)n * sizeof *nv);
            assert_int_equal(fr_alloc_sensitivity_qps_(m, split, cuts, 1, &fs, qps, 2, layer,
                                                       shared, n, secs, &err), 0);
            assert_true(secs[0] > 0 && secs[1] > 0);
            size_t plane = (size_t)cuts[0].h * cuts[0].w;
            for (int q = 0; q < 2; q++) {
                const double *sq = shared + (size_t)q * n;
                assert_int_equal(fr_alloc_sensitivity(m, split, cuts, 1, &fs, qps[q], layer, per,
                                                      n, NULL, &err), 0);
                assert_memory_equal(per, sq, (size_t)n * sizeof *per);
                /* naive: out_raw again, each channel coded alone */
                FrTensor ref, out, work;
                assert_int_equal(fr_model_back(m, split, cuts, 1, &err), 0);
                assert_int_equal(fr_model_layer_output(m, layer, &ref), 0);
                assert_int_equal(fr_tensor_alloc(&work, cuts[0].c, cuts[0].h, cuts[0].w), 0);
                memcpy(work.data, cuts[0].data, fr_tensor_size(&cuts[0]) * sizeof(float));
                int nonzero = 0;
                for (int k = 0; k < n; k++) {
                    float *dst = work.data + (size_t)k * plane;
                    code_channel_alone(&cuts[0], k, qps[q], dst);
                    assert_int_equal(fr_model_back(m, split, &work, 1, &err), 0);
                    assert_int_equal(fr_model_layer_output(m, layer, &out), 0);
                    nv[k] = mse_plain(out.data, ref.data, fr_tensor_size(&ref));
                    fr_tensor_free(&out);
                    memcpy(dst, cuts[0].data + (size_t)k * plane, plane * sizeof(float));
                    nonzero += nv[k] > 0;
                }
                assert_true(nonzero > n / 2); /* QP_base really degrades the channels */
                assert_memory_equal(nv, sq, (size_t)n * sizeof *nv);
                int *qa = malloc((size_t)n * sizeof *qa), *qb = malloc((size_t)n * sizeof *qb);
                assert_int_equal(fr_alloc_qps(nv, n, qps[q], 5, qa, &err), 0);
                assert_int_equal(fr_alloc_qps(sq, n, qps[q], 5, qb, &err), 0);
                assert_memory_equal(qa, qb, (size_t)n * sizeof *qa);
                int spread = 0;
                for (int k = 0; k < n; k++)
                    spread |= qa[k] != qps[q];
                assert_true(spread); /* a map, not uniform QP_base */
                free(qa);
                free(qb);
                fr_tensor_free(&work);
                fr_tensor_free(&ref);
            }
            free(shared);
            free(per);
            free(nv);
            fr_tensor_free(&cuts[0]);
            fr_tensor_free(&in);
        }
    }
    /* argument checks */
    FrTensor c0;
    assert_int_equal(fr_tensor_alloc(&c0, 16, 32, 32), 0);
    double s1[16];
    assert_int_equal(fr_alloc_sensitivity_qps_(m, 0, &c0, 1, NULL, qps, 0, 1, s1, 16, NULL, &err),
                     FR_E_USAGE);
    fr_tensor_free(&c0);
    fr_model_close(&m);
}

static double chan_mse(const FrTensor *a, const FrTensor *b, int k)
{
    size_t plane = (size_t)a->h * a->w;
    double acc = 0;
    for (size_t i = 0; i < plane; i++) {
        double d = (double)a->data[k * plane + i] - (double)b->data[k * plane + i];
        acc += d * d;
    }
    return acc / (double)plane;
}

static void check_channel_qps(FrPacking packing)
{
    FrError err;
    enum { C = 8 };
    FrTensor t;
    assert_int_equal(fr_tensor_alloc(&t, C, 16, 16), 0);
    fill_iid(&t, 4242);
    int qps[C] = {26, 42, 42, 26, 42, 26, 26, 42};
    FrFeatureSettings fs;
    fr_feature_defaults(&fs);
    fs.bits = 8;
    fs.packing = packing;
    fs.qp = 34;
    fs.channel_qp = qps;
    fs.n_channel_qp = C;
    uint8_t *frd = NULL;
    size_t len = 0;
    FrBitStats bs;
    int rc = fr_feature_encode(&t, 1, "x", &fs, &frd, &len, &bs, &err);
    if (rc != 0)
        print_error("%s\n", err.msg);
    assert_int_equal(rc, 0);
    FrTensor *rec = NULL;
    int nrec = 0;
    FrFeatureInfo info;
    assert_int_equal(fr_feature_decode(frd, len, &rec, &nrec, &info, &err), 0);
    assert_true(info.has_channel_qp);
    assert_int_equal((uint64_t)len * 8, bs.total_bits);

    double lo_max = 0, hi_min = 1e300;
    for (int k = 0; k < C; k++) {
        double e = chan_mse(&t, &rec[0], k);
        if (qps[k] == 26 && e > lo_max)
            lo_max = e;
        if (qps[k] == 42 && e < hi_min)
            hi_min = e;
    }
    assert_true(lo_max < hi_min);

    /* the QP list travels in the container: its 8 bytes are in the side
     * information (before any payload) and count in the bits */
    FrFeatureInfo pi;
    assert_int_equal(fr_feature_probe(frd, len, &pi, &err), 0);
    assert_true(pi.has_channel_qp);
    uint8_t want[C];
    for (int k = 0; k < C; k++)
        want[k] = (uint8_t)qps[k];
    const uint8_t *at = memmem(frd, len, want, C);
    assert_non_null(at);
    assert_true((uint64_t)(at - frd) * 8 < pi.bits_stats.side_bits + 64);
    {
        FrFeatureSettings u = fs;
        u.channel_qp = NULL;
        u.n_channel_qp = 0;
        uint8_t *b = NULL;
        size_t bl = 0;
        FrFeatureInfo ui;
        assert_int_equal(fr_feature_encode(&t, 1, "x", &u, &b, &bl, NULL, &err), 0);
        assert_int_equal(fr_feature_probe(b, bl, &ui, &err), 0);
        assert_false(ui.has_channel_qp);
        assert_int_equal(pi.bits_stats.side_bits - ui.bits_stats.side_bits, 8 * C);
        free(b);
    }

    /* frames: every decoded channel is exactly what coding it alone at ITS
     * QP gives, so the decoder really applied the per-channel QPs */
    if (packing == FR_PACK_FRAMES) {
        size_t plane = (size_t)t.h * t.w;
        float *one = malloc(plane * sizeof *one);
        for (int k = 0; k < C; k++) {
            code_channel_alone(&t, k, qps[k], one);
            assert_memory_equal(one, rec[0].data + k * plane, plane * sizeof(float));
        }
        free(one);
    }

    /* bits lie between uniform 26 and uniform 42 */
    size_t lens[2];
    int uq[2] = {26, 42};
    for (int j = 0; j < 2; j++) {
        FrFeatureSettings u = fs;
        u.channel_qp = NULL;
        u.n_channel_qp = 0;
        u.qp = uq[j];
        uint8_t *b = NULL;
        assert_int_equal(fr_feature_encode(&t, 1, "x", &u, &b, &lens[j], NULL, &err), 0);
        free(b);
    }
    assert_true(len < lens[0]);
    assert_true(len > lens[1]);

    fr_tensor_free(&rec[0]);
    free(rec);
    free(frd);
    fr_tensor_free(&t);
}

static void test_channel_qps_frames(void **state)
{
    (void)state;
    check_channel_qps(FR_PACK_FRAMES);
}

static void test_channel_qps_tile(void **state)
{
    (void)state;
    check_channel_qps(FR_PACK_TILE);
}


/* ---------------- rdopt (issue #19) ---------------- */

static double urand(uint32_t *x)
{
    *x = *x * 1664525u + 1013904223u;
    return (double)(*x >> 8) / 16777216.0;
}

/* Synthetic per-channel curves, option k = a higher QP: rate falls and
 * distortion grows by random (non-convex) factors; channel 1 is insensitive
 * (D equal everywhere) and channel 2 has two options of equal rate. */
static void synth_curves(double *R, double *D, int n, int nq, uint32_t seed)
{
    uint32_t x = seed;
    for (int i = 0; i < n; i++) {
        double r = 400.0 * (1.0 + urand(&x)), d = 0.01 * (1.0 + 10.0 * urand(&x));
        for (int k = 0; k < nq; k++) {
            R[i * nq + k] = r;
            D[i * nq + k] = i == 1 ? 0.02 : d;
            r *= 0.5 + 0.4 * urand(&x);
            d *= 1.2 + 1.5 * urand(&x);
        }
    }
    if (n > 2 && nq > 2)
        R[2 * nq + 2] = R[2 * nq + 1];
}

static double sum_at(const double *V, int n, int nq, const int *c)
{
    double t = 0;
    for (int i = 0; i < n; i++)
        t += V[i * nq + c[i]];
    return t;
}

/* Every allocation of n channels x nq options: the minimum of D + lambda R,
 * and the minimum of D among those with R <= rmax. */
static void brute(const double *R, const double *D, int n, int nq, double lambda, double rmax,
                  double *jmin, double *dmin)
{
    int c[8] = {0};
    long total = 1;
    for (int i = 0; i < n; i++)
        total *= nq;
    *jmin = INFINITY;
    *dmin = INFINITY;
    for (long v = 0; v < total; v++) {
        long t = v;
        for (int i = 0; i < n; i++) {
            c[i] = (int)(t % nq);
            t /= nq;
        }
        double r = sum_at(R, n, nq, c), d = sum_at(D, n, nq, c);
        if (d + lambda * r < *jmin)
            *jmin = d + lambda * r;
        if (r <= rmax && d < *dmin)
            *dmin = d;
    }
}

/* The Lagrangian allocation is the exact minimiser of sum D + lambda sum R
 * over all QP maps (brute force on 4 channels x 5 QPs), and no map of no
 * more rate has less distortion. */
static void test_rdopt_lagrangian_exact(void **state)
{
    (void)state;
    enum { N = 4, Q = 5 };
    double R[N * Q], D[N * Q];
    const double lambdas[] = {0, 1e-7, 1e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 1e-2, 1e3};
    for (uint32_t seed = 1; seed <= 30; seed++) {
        synth_curves(R, D, N, Q, seed);
        for (size_t l = 0; l < sizeof lambdas / sizeof lambdas[0]; l++) {
            int c[N];
            double rate = fr_rdopt_lagrangian(R, D, N, Q, lambdas[l], c);
            assert_true(fabs(rate - sum_at(R, N, Q, c)) < 1e-9);
            double j = sum_at(D, N, Q, c) + lambdas[l] * rate, jmin, dmin;
            brute(R, D, N, Q, lambdas[l], rate, &jmin, &dmin);
            assert_true(fabs(j - jmin) <= 1e-12 * (fabs(jmin) + 1e-300));
            assert_true(fabs(sum_at(D, N, Q, c) - dmin) <= 1e-12 * dmin);
        }
    }
}

/* A larger lambda never increases the rate (nor lowers the distortion). */
static void test_rdopt_monotone(void **state)
{
    (void)state;
    enum { N = 16, Q = 8 };
    double R[N * Q], D[N * Q];
    for (uint32_t seed = 7; seed < 12; seed++) {
        synth_curves(R, D, N, Q, seed);
        double prev_r = INFINITY, prev_d = -1;
        for (int l = 0; l <= 400; l++) {
            double lambda = l == 0 ? 0 : 1e-9 * pow(10.0, 12.0 * l / 400.0);
            int c[N];
            double r = fr_rdopt_lagrangian(R, D, N, Q, lambda, c), d = sum_at(D, N, Q, c);
            assert_true(r <= prev_r);
            assert_true(d >= prev_d - 1e-15);
            prev_r = r;
            prev_d = d;
        }
    }
}

/* At a rate budget: within it, Lagrangian-optimal at the rate it spends, the
 * fill never worse, the refinement never worse than its start; the constrained
 * optimum's gap is reported. */
static void test_rdopt_budget(void **state)
{
    (void)state;
    enum { N = 4, Q = 5 };
    double R[N * Q], D[N * Q], worst_gap = 0;
    FrError err;
    for (uint32_t seed = 1; seed <= 20; seed++) {
        synth_curves(R, D, N, Q, seed);
        int cheap[N], rich[N];
        double rlo = fr_rdopt_lagrangian(R, D, N, Q, 1e12, cheap);
        double rhi = fr_rdopt_lagrangian(R, D, N, Q, 0, rich);
        for (int b = 0; b <= 20; b++) {
            double budget = rlo + (rhi - rlo) * b / 20.0, lambda = -1, jmin, dmin;
            int c0[N], c1[N], c2[N];
            assert_int_equal(fr_rdopt_for_rate(R, D, N, Q, budget, 0, c0, &lambda, &err), 0);
            assert_true(lambda >= 0);
            assert_true(sum_at(R, N, Q, c0) <= budget + 1e-9);
            brute(R, D, N, Q, 0, sum_at(R, N, Q, c0), &jmin, &dmin);
            assert_true(fabs(sum_at(D, N, Q, c0) - dmin) <= 1e-12 * dmin);
            assert_int_equal(fr_rdopt_for_rate(R, D, N, Q, budget, 1, c1, NULL, &err), 0);
            assert_true(sum_at(R, N, Q, c1) <= budget + 1e-9);
            assert_true(sum_at(D, N, Q, c1) <= sum_at(D, N, Q, c0));
            brute(R, D, N, Q, 0, budget, &jmin, &dmin);
            double gap = sum_at(D, N, Q, c1) / dmin - 1;
            worst_gap = gap > worst_gap ? gap : worst_gap;
            /* refine from the richest map (over budget) and from the fill's */
            memcpy(c2, rich, sizeof c2);
            assert_int_equal(fr_rdopt_refine(R, D, N, Q, budget, c2, &err), 0);
            assert_true(sum_at(R, N, Q, c2) <= budget + 1e-9);
            memcpy(c2, c1, sizeof c2);
            assert_int_equal(fr_rdopt_refine(R, D, N, Q, budget, c2, &err), 0);
            assert_true(sum_at(R, N, Q, c2) <= budget + 1e-9);
            assert_true(sum_at(D, N, Q, c2) <= sum_at(D, N, Q, c1) + 1e-15);
        }
        /* below the cheapest map: the cheapest map */
        int c[N];
        assert_int_equal(fr_rdopt_for_rate(R, D, N, Q, rlo - 1, 1, c, NULL, &err), 0);
        assert_memory_equal(c, cheap, sizeof c);
    }
    print_message("rdopt budget: Lagrangian + greedy fill within %.2f%% of the constrained "
                  "optimum (brute force, 20 curve sets x 21 budgets)\n", 100 * worst_gap);
    assert_true(worst_gap < 0.5);

    /* allocate: qp_base's column is the budget, less the map's bits */
    synth_curves(R, D, N, Q, 3);
    const int qps[Q] = {30, 32, 34, 36, 38};
    int out[N], uni[N] = {1, 1, 1, 1};
    FrRdoptResult rr;
    assert_int_equal(fr_rdopt_allocate(R, D, N, qps, Q, 32, 0, NULL, out, &rr, &err), 0);
    assert_true(fabs(rr.budget - sum_at(R, N, Q, uni)) < 1e-9);
    assert_true(rr.rate <= rr.budget + 1e-9);
    assert_true(rr.dist <= sum_at(D, N, Q, uni) + 1e-15);
    for (int i = 0; i < N; i++)
        assert_true(out[i] >= 30 && out[i] <= 38 && out[i] % 2 == 0);
    assert_int_equal(fr_rdopt_allocate(R, D, N, qps, Q, 32, FR_RDOPT_MAP_BITS(N), NULL, out, &rr,
                                       &err), 0);
    assert_true(fabs(rr.budget - (sum_at(R, N, Q, uni) - 8.0 * N)) < 1e-9);
    assert_true(rr.rate <= rr.budget + 1e-9);
    const int start[N] = {27, 33, 31, 38}; /* snapped to 30, 32 (tie: lower), 30, 38 */
    assert_int_equal(fr_rdopt_allocate(R, D, N, qps, Q, 32, 0, start, out, &rr, &err), 0);
    assert_true(rr.rate <= rr.budget + 1e-9);
    assert_int_equal(fr_rdopt_allocate(R, D, N, qps, Q, 33, 0, NULL, out, &rr, &err), FR_E_USAGE);
    tu_assert_contains(err.msg, "qp_base 33 is not one of the measured QPs");
    D[5] = NAN;
    assert_int_equal(fr_rdopt_for_rate(R, D, N, Q, 1e9, 1, out, NULL, &err), FR_E_USAGE);
    tu_assert_contains(err.msg, "channel 1, QP option 0");
    assert_int_equal(fr_rdopt_for_rate(R, D, 0, Q, 1e9, 1, out, NULL, &err), FR_E_USAGE);
}

static double layer_mse(FrModel *m, int layer, const FrTensor *ref)
{
    FrTensor o = {0};
    assert_int_equal(fr_model_layer_output(m, layer, &o), 0);
    double acc = 0;
    for (size_t i = 0; i < fr_tensor_size(ref); i++) {
        double d = (double)o.data[i] - (double)ref->data[i];
        acc += d * d;
    }
    fr_tensor_free(&o);
    return acc / (double)fr_tensor_size(ref);
}

/* On the tiny net with every channel read: the measured curves are Algorithm
 * 1's sensitivities and frame bits, the rate of a mixed QP map is the sum of
 * its channels' frame rates plus the headers, and the additivity of the
 * distortions is measured (sum of single-channel distortions vs the joint
 * one) and reported. */
static void test_rdopt_measured(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    FrModel *m = open_tiny(dir, -1);
    FrError err;
    FrTensor in, cuts[FR_MODEL_MAX_CUTS];
    int ncuts = 0;
    assert_int_equal(fr_tensor_alloc(&in, 3, 16, 16), 0);
    fill_input(&in);
    assert_int_equal(fr_model_front(m, &in, 0, cuts, &ncuts, &err), 0);
    enum { N = 6, Q = 6 };
    const int qps[Q] = {26, 30, 34, 38, 42, 46};
    FrFeatureSettings fs;
    fr_feature_defaults(&fs);
    fs.packing = FR_PACK_FRAMES;
    int layers[2];
    assert_int_equal(fr_alloc_sens_layer(m, 0, FR_SENS_PENULTIMATE, NULL, &layers[0], &err), 0);
    assert_int_equal(fr_alloc_sens_layer(m, 0, FR_SENS_FINAL, NULL, &layers[1], &err), 0);
    FrSensCache *cache = NULL;
    assert_int_equal(fr_sens_cache_create(&cache, NULL, &err), 0);
    for (int li = 0; li < 2; li++) {
        int layer = layers[li];
        double R[N * Q], D[N * Q], R2[N * Q], D2[N * Q], secs = -1, secs2 = -2;
        int rc = fr_rdopt_curves(m, cache, "tiny.png", "conv_0", 0, cuts, ncuts, &fs, qps, Q,
                                 layer, "tiny", R, D, N, &secs, &err);
        if (rc)
            print_error("%s\n", err.msg);
        assert_int_equal(rc, 0);
        assert_true(secs >= 0);
        /* again: from the cache, 2 entries (sensitivities, rates) per QP */
        assert_int_equal(fr_rdopt_curves(m, cache, "tiny.png", "conv_0", 0, cuts, ncuts, &fs, qps,
                                         Q, layer, "tiny", R2, D2, N, &secs2, &err), 0);
        assert_int_equal(fr_sens_cache_count(cache), (size_t)(2 * Q * (li + 1)));
        assert_memory_equal(R, R2, sizeof R);
        assert_memory_equal(D, D2, sizeof D);
        assert_true(secs == secs2);
        /* the distortion column of QP 38 is Algorithm 1's sensitivity at 38 */
        double s[N];
        assert_int_equal(fr_alloc_sensitivity(m, 0, cuts, ncuts, &fs, 38, layer, s, N, NULL, &err),
                         0);
        for (int i = 0; i < N; i++) {
            assert_true(s[i] == D[i * Q + 3]);
            assert_true(s[i] > 0); /* every channel matters */
        }
        for (int i = 0; i < N; i++)
            assert_true(R[i * Q] > R[i * Q + Q - 1]); /* QP 26 costs more than 46 */

        /* uniform coding: payload = headers + the channels' frame bits */
        double hdr[Q];
        for (int k = 0; k < Q; k++) {
            FrFeatureSettings u = fs;
            u.qp = qps[k];
            uint8_t *b = NULL;
            size_t bl = 0;
            FrBitStats bs;
            assert_int_equal(fr_feature_encode(cuts, ncuts, "x", &u, &b, &bl, &bs, &err), 0);
            double sum = 0;
            for (int i = 0; i < N; i++)
                sum += R[i * Q + k];
            hdr[k] = (double)bs.payload_bits - sum;
            assert_true(hdr[k] >= 0 && hdr[k] < 4000);
            free(b);
        }

        /* a mixed map: rate and distortion of the joint coding against the
         * additive model */
        FrTensor ref = {0};
        assert_int_equal(fr_model_back(m, 0, cuts, ncuts, &err), 0);
        assert_int_equal(fr_model_layer_output(m, layer, &ref), 0);
        double worst_r = 0, ratio_lo = INFINITY, ratio_hi = 0;
        for (int k = 0; k + 1 < Q; k++) {
            int c[N], map[N];
            double budget = 0;
            for (int i = 0; i < N; i++)
                budget += R[i * Q + k + 1];
            assert_int_equal(fr_rdopt_for_rate(R, D, N, Q, budget, 1, c, NULL, &err), 0);
            for (int i = 0; i < N; i++)
                map[i] = qps[c[i]];
            FrFeatureSettings a = fs;
            a.qp = qps[k + 1];
            a.channel_qp = map;
            a.n_channel_qp = N;
            uint8_t *b = NULL;
            size_t bl = 0;
            FrBitStats bs;
            assert_int_equal(fr_feature_encode(cuts, ncuts, "x", &a, &b, &bl, &bs, &err), 0);
            double model = hdr[k + 1] + sum_at(R, N, Q, c);
            double rerr = fabs((double)bs.payload_bits - model) / (double)bs.payload_bits;
            worst_r = rerr > worst_r ? rerr : worst_r;
            FrTensor *rec = NULL;
            int nrec = 0;
            assert_int_equal(fr_feature_decode(b, bl, &rec, &nrec, NULL, &err), 0);
            assert_int_equal(fr_model_back(m, 0, rec, nrec, &err), 0);
            double joint = layer_mse(m, layer, &ref), pred = sum_at(D, N, Q, c);
            double ratio = joint / pred;
            ratio_lo = ratio < ratio_lo ? ratio : ratio_lo;
            ratio_hi = ratio > ratio_hi ? ratio : ratio_hi;
            for (int t = 0; t < nrec; t++)
                fr_tensor_free(&rec[t]);
            free(rec);
            free(b);
        }
        print_message("rdopt on the tiny net (%s layer): rate model error at most %.3f%%, "
                      "joint / summed single-channel distortion %.3f .. %.3f\n",
                      li ? "final" : "penultimate", 100 * worst_r, ratio_lo, ratio_hi);
        assert_true(worst_r < 0.02);
        assert_true(ratio_lo > 0.2 && ratio_hi < 5);
        fr_tensor_free(&ref);
    }
    /* tile packing has no rate per channel */
    fs.packing = FR_PACK_TILE;
    double R[N * Q], D[N * Q];
    assert_int_equal(fr_rdopt_curves(m, NULL, "tiny.png", "conv_0", 0, cuts, ncuts, &fs, qps, Q,
                                     layers[0], "tiny", R, D, N, NULL, &err), FR_E_USAGE);
    tu_assert_contains(err.msg, "packing frames");
    fr_sens_cache_destroy(&cache);
    for (int t = 0; t < ncuts; t++)
        fr_tensor_free(&cuts[t]);
    fr_tensor_free(&in);
    fr_model_close(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_half_away),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_qp_formula),
        cmocka_unit_test(test_mean),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_decisive_channel),
        cmocka_unit_test(test_runner_helpers),
        cmocka_unit_test(test_frames_equivalence),
        cmocka_unit_test(test_shared_matches_naive),
        cmocka_unit_test(test_shared_reuses_equal_decodings),
        cmocka_unit_test(test_channel_qps_frames),
        cmocka_unit_test(test_channel_qps_tile),
        cmocka_unit_test(test_rdopt_lagrangian_exact),
        cmocka_unit_test(test_rdopt_monotone),
        cmocka_unit_test(test_rdopt_budget),
        cmocka_unit_test(test_rdopt_measured),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
