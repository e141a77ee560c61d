/* test_invert.c: the image decoder of issue 24 (featrd/invert.h): `featrd
 * invert train` lowers its loss on a tiny net, the trained decoder's forward
 * on a fixed feature is deterministic, and a sweep with `invert:` writes
 * recon_psnr values equal to a PSNR computed here from the PNGs it wrote
 * (and NaN without `invert:`). Uses tests/data/run/det.cfg (random weights)
 * as the task network and a few images written here. */
#include "testutil.h"
#include "util/csv.h"

#include <dirent.h>

#define NIMG 6

static char g_dir[256];   /* scratch: images, lists, configs, results */
static char g_root[1024]; /* source tree */
static char g_dec[512];   /* the tiny decoder cfg */
static char g_w[600];     /* its trained weights */

/* A 40x36 binary PPM with a seeded pattern (smooth gradients and a box). */
static void write_ppm(const char *path, unsigned seed)
{
    int w = 40, h = 36;
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fprintf(f, "P6\n%d %d\n255\n", w, h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int inbox = x > 8 + (int)(seed % 7) && x < 26 && y > 6 && y < 24;
            unsigned char px[3] = {(unsigned char)((x * 5 + seed * 23) % 256),
                                   (unsigned char)(inbox ? 220 : (y * 6 + seed * 11) % 256),
                                   (unsigned char)((x + y) * 3 + seed * 17)};
            fwrite(px, 1, 3, f);
        }
    fclose(f);
}

/* det.cfg's max_1 is 8x16x16; the network input 3x32x32 */
static const char dec_cfg[] =
    "[net]\nbatch=4\nsubdivisions=1\nwidth=16\nheight=16\nchannels=8\nmomentum=0.9\n"
    "decay=0.0001\nlearning_rate=0.002\nburn_in=0\nmax_batches=40\npolicy=constant\n\n"
    "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=leaky\n\n"
    "[deconvolutional]\nfilters=3\nsize=2\nstride=2\nactivation=logistic\n\n"
    "[cost]\ntype=sse\n";

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "%s", tu_tmpdir());
    if (!getcwd(g_root, sizeof g_root))
        return -1;
    char p[512];
    snprintf(p, sizeof p, "%s/images", g_dir);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/labels", g_dir);
    mkdir(p, 0777);
    char list[NIMG * 520] = "";
    for (int i = 0; i < NIMG; i++) {
        snprintf(p, sizeof p, "%s/images/im%d.ppm", g_dir, i);
        write_ppm(p, (unsigned)i + 1);
        strcat(list, p);
        char lab[600];
        snprintf(lab, sizeof lab, "%s/labels/im%d.txt", g_dir, i);
        tu_write(lab, "1 0.5 0.4 0.4 0.5\n");
        strcat(list, "\n");
    }
    snprintf(p, sizeof p, "%s/train.list", g_dir);
    tu_write(p, list);
    snprintf(g_dec, sizeof g_dec, "%s/tiny-inv.cfg", g_dir);
    tu_write(g_dec, dec_cfg);
    snprintf(g_w, sizeof g_w, "%s/train/tiny-inv.weights", g_dir);
    return 0;
}

/* featrd invert train: the per-batch losses of the last batches are below
 * those of the first (the decoder learns the images' colours and layout). */
static void test_train_lowers_loss(void **state)
{
    (void)state;
    char *out = NULL;
    int rc = tu_sh(&out, "OPENBLAS_NUM_THREADS=1 '%s' invert train --cfg '%s/tests/data/run/det.cfg' "
                   "--split max_1 --list '%s/train.list' --decoder '%s' --out '%s/train' "
                   "--max-batches 40 --seed 3 2>&1", tu_bin(), g_root, g_dir, g_dec, g_dir);
    if (rc != 0)
        fail_msg("featrd invert train failed (%d):\n%s", rc, out ? out : "");
    double loss[64];
    int n = 0;
    for (char *l = out; l && (l = strstr(l, "featrd invert train: batch ")); l++) {
        int b, tot;
        double v;
        if (sscanf(l, "featrd invert train: batch %d/%d loss %lf", &b, &tot, &v) == 3 && n < 64)
            loss[n++] = v;
    }
    assert_int_equal(n, 40);
    double first = (loss[0] + loss[1] + loss[2] + loss[3]) / 4;
    double last = (loss[36] + loss[37] + loss[38] + loss[39]) / 4;
    if (!(last < 0.7 * first))
        fail_msg("loss did not fall: first batches %g, last %g\n%s", first, last, out);
    free(out);
    struct stat st;
    assert_int_equal(stat(g_w, &st), 0);
    /* a decoder cfg of another shape is refused naming both */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/bad-inv.cfg", g_dir);
    char text[sizeof dec_cfg + 8];
    snprintf(text, sizeof text, "%s", dec_cfg);
    char *c8 = strstr(text, "channels=8");
    c8[9] = '4';
    tu_write(bad, text);
    rc = tu_sh(&out, "'%s' invert train --cfg '%s/tests/data/run/det.cfg' --split max_1 "
               "--list '%s/train.list' --decoder '%s' --out '%s/train2' --max-batches 1 2>&1",
               tu_bin(), g_root, g_dir, bad, g_dir);
    assert_int_not_equal(rc, 0);
    if (!strstr(out, "8×16×16"))
        fail_msg("expected the split's shape in: %s", out);
    free(out);
}

/* The decoder's forward on a fixed feature: the same output on every call
 * and in a second instance. */
static void test_forward_deterministic(void **state)
{
    (void)state;
    FrModelSettings ms;
    fr_model_defaults(&ms);
    ms.cfg = g_dec;
    ms.weights = g_w;
    ms.quiet = 1;
    FrModel *a = NULL, *b = NULL;
    FrError err = {0};
    assert_int_equal(fr_model_open(&a, &ms, &err), 0);
    assert_int_equal(fr_model_open(&b, &ms, &err), 0);
    FrTensor f = {0}, o1 = {0}, o2 = {0}, o3 = {0};
    assert_int_equal(fr_tensor_alloc(&f, 8, 16, 16), 0);
    tu_feature_like(&f, 11);
    assert_int_equal(fr_model_forward(a, &f, &err), 0);
    assert_int_equal(fr_model_output(a, &o1), 0);
    assert_int_equal(o1.c, 3);
    assert_int_equal(o1.h, 32);
    assert_int_equal(o1.w, 32);
    assert_int_equal(fr_model_forward(a, &f, &err), 0);
    assert_int_equal(fr_model_output(a, &o2), 0);
    assert_int_equal(fr_model_forward(b, &f, &err), 0);
    assert_int_equal(fr_model_output(b, &o3), 0);
    assert_memory_equal(o1.data, o2.data, fr_tensor_size(&o1) * sizeof(float));
    assert_memory_equal(o1.data, o3.data, fr_tensor_size(&o1) * sizeof(float));
    int varied = 0;
    for (size_t i = 1; i < fr_tensor_size(&o1); i++)
        varied |= o1.data[i] != o1.data[0];
    assert_true(varied);
    fr_tensor_free(&f);
    fr_tensor_free(&o1);
    fr_tensor_free(&o2);
    fr_tensor_free(&o3);
    fr_model_close(&a);
    fr_model_close(&b);
}

static void write_sweep(const char *name, const char *invert)
{
    char path[512], text[4096];
    snprintf(path, sizeof path, "%s/%s.yaml", g_dir, name);
    snprintf(text, sizeof text,
             "name: %s\n"
             "model: {cfg: \"%s/tests/data/run/det.cfg\", seed: 7}\n"
             "dataset: {images: \"%s/train.list\"}\n"
             "sweep: {split: [max_1, max_3], bits: [8], codec: [hevc], qp: [22, 40]}\n"
             "anchors:\n  - {name: cloud-hevc, qp: [30]}\n"
             "bootstrap: {replicates: 20}\n"
             "output: {plots: false}\n%s",
             name, g_root, g_dir, invert);
    tu_write(path, text);
}

/* The 8-bit RGB samples of a PNG, read back with darknet's loader. */
static uint8_t *png_bytes(const char *path, int *w, int *h)
{
    FrTensor t = {0};
    FrError err = {0};
    if (fr_model_load_image(NULL, path, &t, &err))
        fail_msg("%s: %s", path, err.msg);
    uint8_t *p = malloc(fr_tensor_size(&t));
    size_t hw = (size_t)t.w * t.h;
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < hw; i++)
            p[i * 3 + k] = (uint8_t)lrintf(t.data[k * hw + i] * 255.0f);
    *w = t.w;
    *h = t.h;
    fr_tensor_free(&t);
    return p;
}

/* recon_psnr of every reconstructed point = the mean over images of a PSNR
 * computed here from recon/<id>/imK.png against recon/input/imK.png. */
static void test_sweep_psnr_from_pngs(void **state)
{
    (void)state;
    char inv[1400], res[600], *out = NULL;
    snprintf(inv, sizeof inv, "invert: {cfg: \"%s\", weights: \"%s\", splits: [max_1], png: %d}\n",
             g_dec, g_w, NIMG);
    write_sweep("inv", inv);
    snprintf(res, sizeof res, "%s/res_inv", g_dir);
    int rc = tu_sh(&out, "'%s' run '%s/inv.yaml' -o output.dir='%s' --quiet 2>&1", tu_bin(),
                   g_dir, res);
    if (rc != 0)
        fail_msg("featrd run failed (%d):\n%s", rc, out ? out : "");
    free(out);
    char path[800];
    snprintf(path, sizeof path, "%s/points.csv", res);
    FrCsv *csv = NULL;
    FrError err = {0};
    assert_int_equal(fr_csv_read(path, &csv, &err), 0);
    int ci = fr_csv_col(csv, "id"), ck = fr_csv_col(csv, "kind"), cs = fr_csv_col(csv, "split"),
        cp = fr_csv_col(csv, "recon_psnr"), cq = fr_csv_col(csv, "recon_ssim"),
        clo = fr_csv_col(csv, "recon_psnr_lo"), chi = fr_csv_col(csv, "recon_psnr_hi");
    assert_true(ci >= 0 && ck >= 0 && cs >= 0 && cp >= 0 && cq >= 0 && clo >= 0 && chi >= 0);
    int checked = 0, nan_rows = 0;
    for (size_t r = 0; r < fr_csv_nrows(csv); r++) {
        const char *kind = fr_csv_get(csv, r, ck), *split = fr_csv_get(csv, r, cs);
        double v = NAN, ssim = NAN, lo = NAN, hi = NAN;
        fr_csv_get_double_nf(csv, r, cp, &v, NULL);
        fr_csv_get_double_nf(csv, r, cq, &ssim, NULL);
        fr_csv_get_double_nf(csv, r, clo, &lo, NULL);
        fr_csv_get_double_nf(csv, r, chi, &hi, NULL);
        int want = (!strcmp(kind, "feature") && !strcmp(split, "max_1")) ||
                   !strcmp(kind, "anchor") || !strcmp(kind, "reference-yuv");
        if (!want) { /* the reference and split max_3 (no decoder listed) */
            assert_true(isnan(v) && isnan(ssim));
            nan_rows++;
            continue;
        }
        double sum = 0;
        for (int i = 0; i < NIMG; i++) {
            char a[900], b[900];
            int w1, h1, w2, h2;
            snprintf(a, sizeof a, "%s/recon/%s/im%d.png", res, fr_csv_get(csv, r, ci), i);
            snprintf(b, sizeof b, "%s/recon/input/im%d.png", res, i);
            uint8_t *x = png_bytes(a, &w1, &h1), *y = png_bytes(b, &w2, &h2);
            assert_int_equal(w1, 32);
            assert_int_equal(w1, w2);
            assert_int_equal(h1, h2);
            double se = 0;
            for (int k = 0; k < w1 * h1 * 3; k++)
                se += ((double)x[k] - y[k]) * ((double)x[k] - y[k]);
            sum += 10 * log10(255.0 * 255.0 / (se / (w1 * h1 * 3)));
            free(x);
            free(y);
        }
        tu_assert_near(v, sum / NIMG, 1e-9);
        assert_true(lo <= v && v <= hi);
        assert_true(ssim > -1 && ssim <= 1);
        checked++;
    }
    assert_int_equal(checked, 2 + 1 + 1); /* max_1 at two QPs, the anchor, its YUV reference */
    assert_int_equal(nan_rows, 1 + 2);
    fr_csv_destroy(&csv);

    /* without invert: every recon column is NaN */
    write_sweep("plain", "");
    snprintf(res, sizeof res, "%s/res_plain", g_dir);
    rc = tu_sh(&out, "'%s' run '%s/plain.yaml' -o output.dir='%s' --quiet 2>&1", tu_bin(), g_dir,
               res);
    assert_int_equal(rc, 0);
    free(out);
    snprintf(path, sizeof path, "%s/points.csv", res);
    assert_int_equal(fr_csv_read(path, &csv, &err), 0);
    cp = fr_csv_col(csv, "recon_psnr");
    for (size_t r = 0; r < fr_csv_nrows(csv); r++) {
        double v = 0;
        fr_csv_get_double_nf(csv, r, cp, &v, NULL);
        assert_true(isnan(v));
    }
    fr_csv_destroy(&csv);
    snprintf(path, sizeof path, "%s/recon", res);
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0);

    /* a split that is not swept is refused before anything runs */
    snprintf(inv, sizeof inv, "invert: {cfg: \"%s\", weights: \"%s\", splits: [max_5]}\n", g_dec,
             g_w);
    write_sweep("badsplit", inv);
    rc = tu_sh(&out, "'%s' run '%s/badsplit.yaml' -o output.dir='%s/res_bad' --quiet 2>&1",
               tu_bin(), g_dir, g_dir);
    assert_int_not_equal(rc, 0);
    if (!strstr(out, "invert.splits[0]"))
        fail_msg("expected invert.splits[0] in: %s", out);
    free(out);
    /* a decoder that does not fit the split (max_3 is 16x8x8) names both shapes */
    snprintf(inv, sizeof inv, "invert: {cfg: \"%s\", weights: \"%s\", splits: [max_3]}\n", g_dec,
             g_w);
    write_sweep("badshape", inv);
    rc = tu_sh(&out, "'%s' run '%s/badshape.yaml' -o output.dir='%s/res_bad2' --quiet 2>&1",
               tu_bin(), g_dir, g_dir);
    assert_int_not_equal(rc, 0);
    if (!strstr(out, "16×8×8"))
        fail_msg("expected the split's shape in: %s", out);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_lowers_loss),
        cmocka_unit_test(test_forward_deterministic),
        cmocka_unit_test(test_sweep_psnr_from_pngs),
    };
    return cmocka_run_group_tests_name("invert", tests, setup, NULL);
}
