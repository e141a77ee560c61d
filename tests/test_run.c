/* test_run.c: the experiment runner (featrd/run.h) end to end through the
 * featrd binary: points.csv against values computed with the library
 * directly, kill -9 and resume, shards + merge, --jobs, bad inputs. Uses the
 * tiny random-weight nets of tests/data/run/ and a few images written here. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <time.h>
#include "run/results_internal.h"
#include "bd/bd.h"
#include "codec/codec.h"
#include "data/dataset.h"
#include "metrics/metrics.h"
#include "util/csv.h"

#define NIMG 6

/* |a - b| <= tol, printing both when not. */
#define assert_close(a, b, tol)                                                          \
    do {                                                                                 \
        double a_ = (a), b_ = (b), t_ = (tol);                                           \
        if (!(fabs(a_ - b_) <= t_)) {                                                    \
            print_error("%s = %.17g, %s = %.17g, tolerance %g\n", #a, a_, #b, b_, t_);   \
            fail();                                                                      \
        }                                                                                \
    } while (0)

static char g_dir[256];    /* scratch: images, lists, configs, results */
static char g_root[1024];  /* source tree (for tests/data/run and plots/) */

/* A 40x36 binary PPM with a seeded pattern (gradients, a box, noise). */
static void write_ppm(const char *path, unsigned seed)
{
    int w = 40, h = 36;
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fprintf(f, "P6\n%d %d\n255\n", w, h);
    uint64_t s = seed * 2654435761u + 1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            int noise = (int)((s >> 33) % 40);
            int inbox = x > 8 + (int)(seed % 7) && x < 26 && y > 6 && y < 24;
            unsigned char px[3] = {(unsigned char)((x * 6 + noise + seed * 13) % 256),
                                   (unsigned char)(inbox ? 220 : (y * 7 + noise) % 256),
                                   (unsigned char)((x * y + seed * 31) % 256)};
            fwrite(px, 1, 3, f);
        }
    fclose(f);
}

static void write_config(const char *name, const char *cfg, const char *list, const char *extra)
{
    char path[512], text[4096];
    snprintf(path, sizeof path, "%s/%s.yaml", g_dir, name);
    snprintf(text, sizeof text,
             "name: %s\n"
             "model: {cfg: \"%s/tests/data/run/%s\", seed: 7}\n"
             "dataset: {images: \"%s/%s\"}\n"
             "%s",
             name, g_root, cfg, g_dir, list, extra);
    tu_write(path, text);
}

#define DET_SWEEP                                                                     \
    "sweep:\n"                                                                        \
    "  split: [max_1, max_3]\n"                                                       \
    "  bits: [8, 10]\n"                                                               \
    "  codec: [hevc, zlib]\n"                                                         \
    "  qp: [22, 37]\n"                                                                \
    "anchors:\n"                                                                      \
    "  - {name: cloud-hevc, qp: [30, 40]}\n"                                          \
    "bd:\n"                                                                           \
    "  - {anchor: cloud-hevc, test: \"*codec=hevc*\"}\n"                              \
    "output: {plots: false}\n"

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "%s", tu_tmpdir());
    if (!getcwd(g_root, sizeof g_root))
        return -1;
    char p[512], lab[512];
    snprintf(p, sizeof p, "%s/images", g_dir);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/labels", g_dir);
    mkdir(p, 0777);
    FrText det = {0}, cls = {0};
    for (int i = 0; i < NIMG; i++) {
        snprintf(p, sizeof p, "%s/images/im%d.ppm", g_dir, i);
        write_ppm(p, (unsigned)i + 1);
        snprintf(lab, sizeof lab, "%s/labels/im%d.txt", g_dir, i);
        char boxes[256];
        snprintf(boxes, sizeof boxes, "%d 0.5 0.4 0.4 0.5\n%d 0.25 0.7 0.2 0.3\n", i % 7,
                 (i + 3) % 7);
        tu_write(lab, boxes);
        fr_text_printf(&det, "images/im%d.ppm\n", i);
        fr_text_printf(&cls, "images/im%d.ppm %d\n", i, i % 5);
    }
    snprintf(p, sizeof p, "%s/det.list", g_dir);
    tu_write(p, det.s);
    snprintf(p, sizeof p, "%s/cls.list", g_dir);
    tu_write(p, cls.s);
    fr_text_free(&det);
    fr_text_free(&cls);
    write_config("det", "det.cfg", "det.list", DET_SWEEP);
    write_config("cls", "cls.cfg", "cls.list",
                 "sweep:\n  split: [max_1]\n  bits: [8]\n  codec: [hevc, zlib]\n  qp: [30]\n"
                 "output: {plots: false}\n");
    return 0;
}

/* Runs featrd run CONFIG into DIR with extra arguments; returns the exit status. */
static int run_cfg(char **out, const char *cfg, const char *dir, const char *args)
{
    return tu_sh(out, "'%s' run '%s/%s.yaml' -o output.dir='%s' --quiet %s", tu_bin(), g_dir, cfg,
                 dir, args ? args : "");
}

/* Asserts two points.csv files agree in every column but the timings (_s). */
static void assert_same_points(const char *a, const char *b)
{
    FrCsv *x = NULL, *y = NULL;
    FrError err = {0};
    if (fr_csv_read(a, &x, &err) || fr_csv_read(b, &y, &err)) {
        print_error("%s\n", err.msg);
        fail();
    }
    assert_int_equal(fr_csv_ncols(x), fr_csv_ncols(y));
    assert_int_equal(fr_csv_nrows(x), fr_csv_nrows(y));
    for (int c = 0; c < fr_csv_ncols(x); c++) {
        const char *name = fr_csv_colname(x, c);
        assert_string_equal(name, fr_csv_colname(y, c));
        size_t l = strlen(name);
        if (l > 2 && !strcmp(name + l - 2, "_s"))
            continue;
        for (size_t r = 0; r < fr_csv_nrows(x); r++)
            if (strcmp(fr_csv_get(x, r, c), fr_csv_get(y, r, c))) {
                print_error("%s vs %s: row %zu column %s: '%s' != '%s'\n", a, b, r, name,
                            fr_csv_get(x, r, c), fr_csv_get(y, r, c));
                fail();
            }
    }
    fr_csv_destroy(&x);
    fr_csv_destroy(&y);
}

static const char *ref_dir(void)
{
    static char dir[512];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/res-ref", g_dir);
        char *out = NULL;
        int rc = run_cfg(&out, "det", dir, NULL);
        if (rc)
            print_error("%s\n", out);
        free(out);
        assert_int_equal(rc, 0);
    }
    return dir;
}

/* featrd run of CFG into DIR with ARGS, which must succeed; returns its
 * points.csv (caller destroys). */
static FrCsv *run_ok(const char *cfg, const char *dir, const char *args)
{
    char *out = NULL, path[1200];
    int rc = run_cfg(&out, cfg, dir, args);
    if (rc)
        print_error("%s\n", out);
    free(out);
    assert_int_equal(rc, 0);
    snprintf(path, sizeof path, "%s/points.csv", dir);
    FrCsv *csv = NULL;
    FrError err = {0};
    assert_int_equal(fr_csv_read(path, &csv, &err), 0);
    return csv;
}

/* ---------------- values against the library ---------------- */

static double csv_num(const FrCsv *csv, size_t row, const char *col)
{
    int c = fr_csv_col(csv, col);
    assert_true(c >= 0);
    double v;
    assert_int_equal(fr_csv_get_double_nf(csv, row, c, &v, NULL), 0);
    return v;
}

/* The cloud-only anchor: a reference-yuv point (conversion alone, no rate)
 * before its QP points; HEVC anchors pay 248 bits of header/shape like the
 * features pay their container, and the stream is what x265 makes with the
 * features' settings for the same image (checked through the library on
 * image 0 via the per-image rows); bd.csv rows carry a verdict. */
static void test_anchor_accounting(void **state)
{
    (void)state;
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/res-anchor", g_dir);
    FrCsv *csv = run_ok("det", dir, "-o output.images_csv=true");
    FrError err = {0};
    size_t n = fr_csv_nrows(csv), yuv = n, a30 = n;
    int kc = fr_csv_col(csv, "kind"), dc = fr_csv_col(csv, "desc");
    for (size_t r = 0; r < n; r++) {
        if (!strcmp(fr_csv_get(csv, r, kc), "reference-yuv"))
            yuv = r;
        if (!strcmp(fr_csv_get(csv, r, dc), "cloud-hevc,qp=30"))
            a30 = r;
    }
    assert_true(yuv < n && a30 == yuv + 1);
    assert_string_equal(fr_csv_get(csv, yuv, fr_csv_col(csv, "curve")), "cloud-hevc:reference-yuv");
    assert_true(isnan(csv_num(csv, yuv, "kbpi")));
    assert_close(csv_num(csv, a30, "side_bits"), 248, 0);
    assert_close(csv_num(csv, a30, "bits_mean"), csv_num(csv, a30, "payload_bits") + 248, 1e-9);
    assert_close(csv_num(csv, a30, "kbpi_paper"), csv_num(csv, a30, "payload_bits") / 1000, 1e-12);
    /* image 0's stream, coded here with the same settings */
    FrCsv *im = NULL;
    snprintf(path, sizeof path, "%s/images.csv", dir);
    assert_int_equal(fr_csv_read(path, &im, &err), 0);
    double ibits = NAN;
    int oc = fr_csv_col(im, "ordinal"), ic = fr_csv_col(im, "image");
    for (size_t r = 0; r < fr_csv_nrows(im); r++)
        if (atoi(fr_csv_get(im, r, oc)) == (int)csv_num(csv, a30, "ordinal") &&
            !strcmp(fr_csv_get(im, r, ic), "0"))
            ibits = csv_num(im, r, "bits");
    FrModelSettings ms;
    fr_model_defaults(&ms);
    char cfg[1200], img[600];
    snprintf(cfg, sizeof cfg, "%s/tests/data/run/det.cfg", g_root);
    ms.cfg = cfg;
    ms.seed = 7;
    ms.quiet = 1;
    FrModel *m = NULL;
    assert_int_equal(fr_model_open(&m, &ms, &err), 0);
    snprintf(img, sizeof img, "%s/images/im0.ppm", g_dir);
    FrTensor rgb = {0};
    assert_int_equal(fr_model_load_image(m, img, &rgb, &err), 0);
    FrRgbCoding cs;
    fr_rgb_coding_defaults(&cs);
    cs.qp = 30;
    size_t bytes = 0;
    assert_int_equal(fr_rgb_code(&rgb, &cs, &bytes, NULL, &err), 0);
    assert_close(ibits, 8.0 * bytes + 248, 0);
    fr_tensor_free(&rgb);
    fr_model_close(&m);
    fr_csv_destroy(&im);
    fr_csv_destroy(&csv);
    snprintf(path, sizeof path, "%s/bd.csv", dir);
    assert_int_equal(fr_csv_read(path, &csv, &err), 0);
    assert_true(fr_csv_nrows(csv) >= 1);
    const char *v = fr_csv_get(csv, 0, fr_csv_col(csv, "valid"));
    assert_true(!strcmp(v, "yes") || !strcmp(v, "no"));
    if (!strcmp(v, "no"))
        assert_true(strlen(fr_csv_get(csv, 0, fr_csv_col(csv, "reason"))) > 0);
    assert_true(fr_csv_col(csv, "bd_rate_lo") >= 0 && fr_csv_col(csv, "cubic_rate_pct") >= 0);
    fr_csv_destroy(&csv);
}

/* sweep.weights: one feature curve set per weights file. Weights saved from
 * the config's own seeded net (seed 7) reproduce the run without the axis
 * exactly; seed 8's differ; anchors and the reference use model.weights. */
static void test_weights_axis(void **state)
{
    (void)state;
    char wa[600], wb[600], dir1[512], dir2[512], args[2400];
    FrError err = {0};
    for (int k = 0; k < 2; k++) {
        FrModelSettings ms;
        fr_model_defaults(&ms);
        char cfg[1200];
        snprintf(cfg, sizeof cfg, "%s/tests/data/run/det.cfg", g_root);
        ms.cfg = cfg;
        ms.seed = 7 + (uint64_t)k;
        ms.quiet = 1;
        FrModel *m = NULL;
        assert_int_equal(fr_model_open(&m, &ms, &err), 0);
        snprintf(k ? wb : wa, sizeof wa, "%s/seed%d.weights", g_dir, 7 + k);
        assert_int_equal(fr_model_save_weights(m, k ? wb : wa, &err), 0);
        fr_model_close(&m);
    }
    snprintf(dir1, sizeof dir1, "%s/res-w1", g_dir);
    snprintf(dir2, sizeof dir2, "%s/res-w2", g_dir);
    const char *common = "-o sweep.split=[max_1] -o sweep.bits=[8] -o 'sweep.codec=[hevc]' "
                         "-o sweep.qp=[22,37] -o bootstrap.replicates=0";
    char *out = NULL;
    FrCsv *c1 = run_ok("det", dir1, common);
    snprintf(args, sizeof args, "%s -o 'sweep.weights=[\"%s\", \"%s\"]'", common, wa, wb);
    FrCsv *c2 = run_ok("det", dir2, args);
    int rc;
    /* reference, 2 feature points, (yuv + 2 anchors) vs reference, 2 x 2, yuv + 2 */
    assert_int_equal(fr_csv_nrows(c1), 6);
    assert_int_equal(fr_csv_nrows(c2), 8);
    int cc = fr_csv_col(c2, "curve");
    assert_string_equal(fr_csv_get(c2, 1, cc),
                        "split=max_1,bits=8,range=tensor,packing=tile,codec=hevc,alloc=uniform,"
                        "weights=seed7");
    assert_string_equal(fr_csv_get(c2, 3, cc),
                        "split=max_1,bits=8,range=tensor,packing=tile,codec=hevc,alloc=uniform,"
                        "weights=seed8");
    const char *cols[] = {"bits_mean", "map07", "map", "mse"};
    for (int k = 0; k < 4; k++) {
        for (size_t r = 1; r <= 2; r++)
            assert_close(csv_num(c2, r, cols[k]), csv_num(c1, r, cols[k]), 0);
        for (size_t r = 3; r <= 5; r++) /* anchors: the same net */
            if (strcmp(cols[k], "mse") && !isnan(csv_num(c1, r, cols[k])))
                assert_close(csv_num(c2, r + 2, cols[k]), csv_num(c1, r, cols[k]), 0);
    }
    assert_true(csv_num(c2, 3, "mse") != csv_num(c2, 1, "mse"));
    fr_csv_destroy(&c1);
    fr_csv_destroy(&c2);
    /* listed twice */
    snprintf(args, sizeof args, "%s -o 'sweep.weights=[\"%s\", \"%s\"]'", common, wa, wa);
    rc = run_cfg(&out, "det", dir2, args);
    if (rc != 2)
        print_error("%s\n", out);
    assert_int_equal(rc, 2);
    tu_assert_contains(out, "sweep.weights: duplicate value");
    free(out);
}

static void test_values_match_library(void **state)
{
    (void)state;
    char dir[512], path[1200];
    snprintf(dir, sizeof dir, "%s/res-cls", g_dir);
    FrCsv *csv = run_ok("cls", dir, "-o output.images_csv=true");
    FrError err = {0};
    /* reference, hevc qp 30, zlib */
    assert_int_equal(fr_csv_nrows(csv), 3);
    assert_string_equal(fr_csv_get(csv, 1, fr_csv_col(csv, "codec")), "hevc");
    assert_string_equal(fr_csv_get(csv, 1, fr_csv_col(csv, "qp")), "30");

    /* The same point computed directly with the library. */
    FrModelSettings ms;
    fr_model_defaults(&ms);
    char cfg[1200];
    snprintf(cfg, sizeof cfg, "%s/tests/data/run/cls.cfg", g_root);
    ms.cfg = cfg;
    ms.seed = 7;
    ms.quiet = 1;
    FrModel *m = NULL;
    assert_int_equal(fr_model_open(&m, &ms, &err), 0);
    int split;
    assert_int_equal(fr_model_find_layer(m, "max_1", &split, &err), 0);
    FrFeatureSettings fs;
    fr_feature_defaults(&fs);
    fs.bits = 8;
    fs.codec = FR_CODEC_HEVC;
    fs.qp = 30;
    double bits = 0, mse = 0;
    FrClsAcc acc;
    fr_cls_acc_init(&acc);
    for (int i = 0; i < NIMG; i++) {
        char img[600];
        snprintf(img, sizeof img, "%s/images/im%d.ppm", g_dir, i);
        FrTensor rgb = {0}, in = {0}, ref = {0}, outp = {0};
        assert_int_equal(fr_model_load_image(m, img, &rgb, &err), 0);
        assert_int_equal(fr_model_prepare_input(m, &rgb, &in), 0);
        assert_int_equal(fr_model_forward(m, &in, &err), 0);
        assert_int_equal(fr_model_output(m, &ref), 0);
        FrTensor cuts[FR_MODEL_MAX_CUTS];
        int ncuts = 0;
        assert_int_equal(fr_model_front(m, &in, split, cuts, &ncuts, &err), 0);
        assert_int_equal(ncuts, 1);
        uint8_t *frd = NULL;
        size_t len = 0;
        FrBitStats bs;
        assert_int_equal(fr_feature_encode(cuts, ncuts, "max_1", &fs, &frd, &len, &bs, &err), 0);
        bits += (double)bs.total_bits;
        FrTensor *rec = NULL;
        int nrec = 0;
        assert_int_equal(fr_feature_decode(frd, len, &rec, &nrec, NULL, &err), 0);
        FrFeatureDistortion d;
        assert_int_equal(fr_feature_distortion(&cuts[0], &rec[0], &d, &err), 0);
        mse += d.mse;
        assert_int_equal(fr_model_back(m, split, rec, nrec, &err), 0);
        assert_int_equal(fr_model_output(m, &outp), 0);
        fr_cls_acc_add(&acc, outp.data, ref.data, fr_tensor_size(&outp), i % 5);
        free(frd);
        fr_tensor_free(&rec[0]);
        free(rec);
        fr_tensor_free(&cuts[0]);
        fr_tensor_free(&rgb);
        fr_tensor_free(&in);
        fr_tensor_free(&ref);
        fr_tensor_free(&outp);
    }
    fr_model_close(&m);
    assert_close(csv_num(csv, 1, "bits_mean"), bits / NIMG, 1e-9);
    assert_close(csv_num(csv, 1, "kbpi"), bits / NIMG / 1000.0, 1e-12);
    /* The featrd process and this one may pick different OpenBLAS kernels
     * (under valgrind this one sees another CPU), so floats agree to ~1e-8. */
    assert_close(csv_num(csv, 1, "mse"), mse / NIMG, 1e-12 + 1e-6 * mse);
    assert_true(csv_num(csv, 1, "mse") > 0); /* lossy: something changed */
    assert_close(csv_num(csv, 1, "fidelity"), fr_cls_fidelity(&acc), 1e-12);
    assert_close(csv_num(csv, 1, "top1"), fr_cls_top1(&acc), 1e-12);
    /* The reference point agrees with itself; the lossless point is exact. */
    assert_close(csv_num(csv, 0, "fidelity"), 1.0, 0);
    assert_close(csv_num(csv, 2, "fidelity"), 1.0, 0);
    assert_close(csv_num(csv, 2, "mse_nbit"), 0.0, 0);
    assert_int_equal((int)csv_num(csv, 1, "images"), NIMG);
    /* images.csv: one row per image and point; the hevc point's rows give
     * the same bits, MSE and fidelity as its points.csv row. */
    FrCsv *im = NULL;
    snprintf(path, sizeof path, "%s/images.csv", dir);
    assert_int_equal(fr_csv_read(path, &im, &err), 0);
    assert_int_equal(fr_csv_nrows(im), 3 * NIMG);
    double ib = 0, imse = 0, agree = 0;
    for (size_t r = NIMG; r < 2 * NIMG; r++) {
        assert_string_equal(fr_csv_get(im, r, fr_csv_col(im, "ordinal")), "1");
        ib += csv_num(im, r, "bits");
        imse += csv_num(im, r, "mse");
        agree += csv_num(im, r, "agree");
    }
    assert_close(ib / NIMG, bits / NIMG, 1e-9);
    assert_close(imse / NIMG, mse / NIMG, 1e-12 + 1e-6 * mse);
    assert_close(agree / NIMG, fr_cls_fidelity(&acc), 1e-12);
    /* Bootstrap: the CIs of points.csv equal the percentile intervals of
     * the per-image values of images.csv resampled with the documented
     * draws (fr_boot_counts, seed 1, 1000 replicates); boot/<id>.csv holds
     * the replicates themselves. */
    {
        double vb[NIMG], va[NIMG], rb[1000], ra[1000], lo, hi;
        uint32_t w[NIMG];
        for (int i = 0; i < NIMG; i++) {
            vb[i] = csv_num(im, (size_t)NIMG + (size_t)i, "bits") / 1000.0;
            va[i] = csv_num(im, (size_t)NIMG + (size_t)i, "agree");
        }
        for (int b = 0; b < 1000; b++) {
            fr_boot_counts(1, b, NIMG, w);
            rb[b] = fr_boot_mean(vb, w, NIMG);
            ra[b] = fr_boot_mean(va, w, NIMG);
        }
        fr_ci_percentile(rb, 1000, 0.95, &lo, &hi);
        assert_close(csv_num(csv, 1, "kbpi_lo"), lo, 1e-12);
        assert_close(csv_num(csv, 1, "kbpi_hi"), hi, 1e-12);
        assert_true(lo < csv_num(csv, 1, "kbpi") && csv_num(csv, 1, "kbpi") < hi);
        fr_ci_percentile(ra, 1000, 0.95, &lo, &hi);
        assert_close(csv_num(csv, 1, "fidelity_lo"), lo, 1e-12);
        assert_close(csv_num(csv, 1, "fidelity_hi"), hi, 1e-12);
        FrCsv *bt = NULL;
        snprintf(path, sizeof path, "%s/boot/%s.csv", dir, fr_csv_get(csv, 1, fr_csv_col(csv, "id")));
        assert_int_equal(fr_csv_read(path, &bt, &err), 0);
        assert_int_equal(fr_csv_nrows(bt), 1000);
        assert_close(csv_num(bt, 17, "kbpi"), rb[17], 1e-12);
        assert_close(csv_num(bt, 17, "fidelity"), ra[17], 1e-12);
        fr_csv_destroy(&bt);
    }
    fr_csv_destroy(&im);
    fr_csv_destroy(&csv);
    /* Every column is documented next to the CSV, and in docs/run.md. */
    snprintf(path, sizeof path, "%s/points.columns.txt", dir);
    assert_int_equal(access(path, R_OK), 0);
    snprintf(path, sizeof path, "%s/docs/run.md", g_root);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char doc[1 << 17];
    size_t nd = fread(doc, 1, sizeof doc - 1, f);
    doc[nd] = 0;
    fclose(f);
    int nc;
    const FrColumnDoc *cols = fr_points_columns(&nc);
    for (int k = 0; k < nc; k++) {
        char cell[80];
        snprintf(cell, sizeof cell, "| `%s` |", cols[k].name);
        if (!strstr(doc, cell))
            fail_msg("docs/run.md has no row for points.csv column '%s'", cols[k].name);
    }
}

/* ---------------- kill -9 and resume ---------------- */

static void test_kill_resume(void **state)
{
    (void)state;
    const char *ref = ref_dir();
    char dir[512], a[600], b[600];
    snprintf(dir, sizeof dir, "%s/res-kill", g_dir);
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s/det.yaml", g_dir);
    char odir[600];
    snprintf(odir, sizeof odir, "output.dir=%s", dir);
    uint64_t rs = 12345;
    int kills = 0;
    size_t prev = 0;
    char jp[700];
    snprintf(jp, sizeof jp, "%s/points.journal", dir);
    /* Each round: start the run, wait until it has committed a new point (so
     * every round makes progress whatever the machine's load), let it go on
     * for a random 0-150 ms, then SIGKILL it wherever it is. */
    for (int round = 0; round < 40; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            int fd = open("/dev/null", O_WRONLY);
            dup2(fd, 2);
            /* through the disk cache, so a kill also leaves partial cut files */
            execl(tu_bin(), tu_bin(), "run", cfg, "-o", odir, "--quiet", "--cache-mem", "0",
                  (char *)NULL);
            _exit(127);
        }
        int st = 0, exited = 0;
        for (;;) {
            if (waitpid(pid, &st, WNOHANG) == pid) {
                exited = 1;
                break;
            }
            char **lines = NULL;
            size_t n = 0;
            assert_int_equal(fr_journal_read(jp, &lines, &n, NULL), 0);
            fr_journal_lines_free(&lines, n);
            if (n > prev) {
                prev = n;
                break;
            }
            struct timespec ts = {0, 5 * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (exited) {
            assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
            break;
        }
        long ms = (long)(fr_splitmix64(&rs) % 150);
        struct timespec ts = {0, ms * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        if (WIFSIGNALED(st))
            kills++;
        else
            break; /* finished before the kill */
    }
    int killed_midway = kills >= 3;
    /* Some kills landed after a few points were committed. */
    assert_true(killed_midway > 0);
    char *out = NULL;
    int rc = run_cfg(&out, "det", dir, "--cache-mem 0");
    if (rc)
        print_error("%s\n", out);
    free(out);
    assert_int_equal(rc, 0);
    snprintf(a, sizeof a, "%s/points.csv", ref);
    snprintf(b, sizeof b, "%s/points.csv", dir);
    assert_same_points(a, b);
    /* A second run finds nothing to do and changes nothing. */
    assert_int_equal(run_cfg(NULL, "det", dir, NULL), 0);
    assert_same_points(a, b);
}

/* Starts `featrd run det.yaml` into dir (stderr into errp) with more QPs
 * than the shared config, so the run outlasts the checks, and returns once
 * its first point is committed. */
static pid_t start_long_run(const char *dir, const char *errp)
{
    char jp[600], odir[600], cfg[600];
    snprintf(jp, sizeof jp, "%s/points.journal", dir);
    snprintf(odir, sizeof odir, "output.dir=%s", dir);
    snprintf(cfg, sizeof cfg, "%s/det.yaml", g_dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        dup2(fd, 2);
        /* featrd leaves an ignored signal ignored (make test started with `&`) */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        execl(tu_bin(), tu_bin(), "run", cfg, "-o", odir, "-o", "sweep.qp=[22, 25, 28, 31, 34, 37, 40, 43]",
              "--quiet", "--cache-mem", "0", "--jobs", "1", (char *)NULL);
        _exit(127);
    }
    /* wait for the first committed point */
    int st = 0;
    for (;;) {
        assert_int_equal(waitpid(pid, &st, WNOHANG), 0); /* still running */
        char **lines = NULL;
        size_t n = 0;
        if (access(jp, F_OK) == 0) {
            assert_int_equal(fr_journal_read(jp, &lines, &n, NULL), 0);
            fr_journal_lines_free(&lines, n);
        }
        if (n > 0)
            break;
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return pid;
}

/* SIGTERM during a run (issue 23): exit 143, the manifest says interrupted,
 * no temporary file is left; while it runs, a second run on the same
 * directory is refused naming the first one's pid. */
static void test_signal_and_lock(void **state)
{
    (void)state;
    char dir[512], odir[600], cfg[600], mp[600], errp[600];
    snprintf(dir, sizeof dir, "%s/res-signal", g_dir);
    snprintf(mp, sizeof mp, "%s/manifest.yaml", dir);
    snprintf(errp, sizeof errp, "%s/signal.err", g_dir);
    snprintf(odir, sizeof odir, "output.dir=%s", dir);
    snprintf(cfg, sizeof cfg, "%s/det.yaml", g_dir);
    pid_t pid = start_long_run(dir, errp);
    int st = 0;
    char *out = NULL;
    char want[128];
    snprintf(want, sizeof want, "is in use by another featrd run (pid %ld)", (long)pid);
    assert_int_equal(tu_sh(&out, "'%s' run '%s' -o '%s' -o 'sweep.qp=[22, 25, 28, 31, 34, 37, 40, 43]' --quiet",
                           tu_bin(), cfg, odir), 2);
    tu_assert_contains(out, want);
    free(out);
    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 143);
    uint8_t *m = NULL;
    size_t ml = 0;
    assert_int_equal(fr_read_file(mp, &m, &ml, NULL), 0);
    m = realloc(m, ml + 1);
    m[ml] = 0;
    tu_assert_contains((char *)m, "state: interrupted");
    free(m);
    assert_int_equal(tu_sh(&out, "ls -a '%s' | grep -c tmp", dir), 1); /* grep found none */
    free(out);
    assert_int_equal(tu_sh(&out, "cat '%s'", errp), 0);
    tu_assert_contains(out, "interrupted by Terminated");
    free(out);
    /* running again resumes and finishes */
    assert_int_equal(tu_sh(&out, "'%s' run '%s' -o '%s' -o 'sweep.qp=[22, 25, 28, 31, 34, 37, 40, 43]' --quiet",
                           tu_bin(), cfg, odir), 0);
    free(out);
    assert_int_equal(fr_read_file(mp, &m, &ml, NULL), 0);
    m = realloc(m, ml + 1);
    m[ml] = 0;
    tu_assert_contains((char *)m, "state: done");
    free(m);
}

/* A plot that cannot be written completely (here: gnuplot's output file is
 * /dev/full) is an I/O error naming it, exit 1, and the previous plot is
 * kept (issue 23 defect 7: disk full gave exit 0 and a truncated PNG). */
static void test_plot_disk_full(void **state)
{
    (void)state;
    const char *ref = ref_dir();
    char *out = NULL;
    assert_int_equal(tu_sh(&out, "'%s' plot '%s'", tu_bin(), ref), 0);
    free(out);
    char png[600];
    snprintf(png, sizeof png, "%s/rd_map07.png", ref);
    uint8_t *before = NULL, *after = NULL;
    size_t lb = 0, la = 0;
    assert_int_equal(fr_read_file(png, &before, &lb, NULL), 0);
    assert_true(lb > 1000);
    char errp[600];
    snprintf(errp, sizeof errp, "%s/plot-full.err", g_dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char lnk[700];
        snprintf(lnk, sizeof lnk, "%s/rd_map07.tmp.%ld.png", ref, (long)getpid());
        if (symlink("/dev/full", lnk) != 0)
            _exit(120);
        int fd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        dup2(fd, 2);
        dup2(fd, 1);
        execl(tu_bin(), tu_bin(), "plot", ref, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 1);
    assert_int_equal(tu_sh(&out, "cat '%s'", errp), 0);
    tu_assert_contains(out, "rd_map07.png: gnuplot did not write it completely (disk full?)");
    free(out);
    assert_int_equal(fr_read_file(png, &after, &la, NULL), 0);
    assert_int_equal(la, lb);
    assert_memory_equal(after, before, lb);
    free(before);
    free(after);
    assert_int_equal(tu_sh(&out, "ls -a '%s' | grep -c tmp", ref), 1); /* none left */
    free(out);
}

/* ---------------- shards, merge, jobs ---------------- */

static void test_shards_and_jobs(void **state)
{
    (void)state;
    const char *ref = ref_dir();
    char dir[512], a[600], b[600];
    snprintf(a, sizeof a, "%s/points.csv", ref);
    snprintf(dir, sizeof dir, "%s/res-shards", g_dir);
    for (int i = 0; i < 3; i++) {
        char args[64];
        snprintf(args, sizeof args, "--shard %d/3", i);
        assert_int_equal(run_cfg(NULL, "det", dir, args), 0);
        if (i == 1) {
            /* merge refuses while shard 2 is missing */
            char *out = NULL;
            assert_int_equal(tu_sh(&out, "'%s' merge '%s' --no-plots", tu_bin(), dir), 2);
            tu_assert_contains(out, "shard 2 of 3");
            free(out);
        }
    }
    char *out = NULL;
    /* a shard still running (its lock held) is not merged */
    int lk = -1;
    assert_int_equal(fr_results_lock(dir, 1, 3, &lk, NULL), 0);
    assert_int_equal(tu_sh(&out, "'%s' merge '%s' --no-plots", tu_bin(), dir), 2);
    char want[700];
    snprintf(want, sizeof want, "shard 1 of 3 is still running (pid %ld)", (long)getpid());
    tu_assert_contains(out, want);
    free(out);
    fr_results_unlock(&lk);
    int rc = tu_sh(&out, "'%s' merge '%s' --no-plots", tu_bin(), dir);
    if (rc)
        print_error("%s\n", out);
    snprintf(want, sizeof want, "featrd merge: wrote %s/points.csv", dir);
    tu_assert_contains(out, want);
    free(out);
    assert_int_equal(rc, 0);
    snprintf(b, sizeof b, "%s/points.csv", dir);
    assert_same_points(a, b);
    snprintf(b, sizeof b, "%s/bd.csv", dir);
    assert_int_equal(access(b, R_OK), 0);
    /* the merge's paired deltas are the single run's, byte for byte, and
     * the reference's own accuracy row is not among them */
    {
        char va[600], vb[600];
        uint8_t *x = NULL, *y = NULL;
        size_t nx = 0, ny = 0;
        snprintf(va, sizeof va, "%s/vs_reference.csv", ref);
        snprintf(vb, sizeof vb, "%s/vs_reference.csv", dir);
        assert_int_equal(fr_read_file(va, &x, &nx, NULL), 0);
        assert_int_equal(fr_read_file(vb, &y, &ny, NULL), 0);
        assert_int_equal(nx, ny);
        assert_memory_equal(x, y, nx);
        x = realloc(x, nx + 1);
        x[nx] = 0;
        tu_assert_contains((char *)x, ",map07,");
        free(x);
        free(y);
        FrCsv *v = NULL;
        assert_int_equal(fr_csv_read(va, &v, NULL), 0);
        assert_true(fr_csv_nrows(v) > 0);
        for (size_t r = 0; r < fr_csv_nrows(v); r++)
            assert_string_not_equal(fr_csv_get(v, r, fr_csv_col(v, "kind")), "reference");
        fr_csv_destroy(&v);
    }
    /* plots from the merged CSV (gnuplot, plots/rd.gp) */
    rc = tu_sh(&out, "'%s' plot '%s'", tu_bin(), dir);
    if (rc)
        print_error("%s\n", out);
    free(out);
    assert_int_equal(rc, 0);
    snprintf(b, sizeof b, "%s/rd_map07.png", dir);
    assert_int_equal(access(b, R_OK), 0);
    snprintf(b, sizeof b, "%s/rd_map07.svg", dir);
    assert_int_equal(access(b, R_OK), 0);
    /* from another working directory: the scripts are found next to the binary */
    snprintf(b, sizeof b, "%s/rd_map07.png", dir);
    unlink(b);
    rc = tu_sh(&out, "cd / && '%s' plot '%s'", tu_bin(), dir);
    if (rc)
        print_error("%s\n", out);
    tu_assert_contains(out, "featrd plot: wrote");
    tu_assert_contains(out, "rd_map07.png");
    free(out);
    assert_int_equal(rc, 0);
    assert_int_equal(access(b, R_OK), 0);
    /* featrd help [COMMAND] */
    assert_int_equal(tu_sh(&out, "'%s' help", tu_bin()), 0);
    tu_assert_contains(out, "usage: featrd <command>");
    free(out);
    assert_int_equal(tu_sh(&out, "'%s' help plot", tu_bin()), 0);
    tu_assert_contains(out, "featrd plot");
    free(out);
    assert_int_equal(tu_sh(&out, "'%s' help nosuch", tu_bin()), 2);
    free(out);

    /* An unsharded run in the merged directory finds every point done. */
    rc = tu_sh(&out, "'%s' run '%s/det.yaml' -o output.dir='%s' --no-plots", tu_bin(), g_dir, dir);
    assert_int_equal(rc, 0);
    tu_assert_contains(out, "0 points in");
    tu_assert_contains(out, "16 done earlier");
    tu_assert_contains(out, "nothing to do: all 16 points are done");
    free(out);
    snprintf(b, sizeof b, "%s/points.csv", dir);
    assert_same_points(a, b);

    snprintf(dir, sizeof dir, "%s/res-jobs2", g_dir);
    assert_int_equal(run_cfg(NULL, "det", dir, "--jobs 2"), 0);
    snprintf(b, sizeof b, "%s/points.csv", dir);
    assert_same_points(a, b);

    /* Cut tensors through the disk cache give the same results, and the
     * cache is gone once each split is done. */
    snprintf(dir, sizeof dir, "%s/res-disk", g_dir);
    assert_int_equal(run_cfg(NULL, "det", dir, "--jobs 2 --cache-mem 0"), 0);
    snprintf(b, sizeof b, "%s/points.csv", dir);
    assert_same_points(a, b);
    snprintf(b, sizeof b, "%s/cache/max_1", dir);
    assert_int_not_equal(access(b, F_OK), 0);
}

/* ---------------- bad inputs ---------------- */

static void test_bad_inputs(void **state)
{
    (void)state;
    char *out = NULL;
    char dir[512], p[600];
    /* YAML syntax error: file and line named */
    snprintf(p, sizeof p, "%s/bad.yaml", g_dir);
    tu_write(p, "model: {cfg: x.cfg\nsweep: [\n");
    assert_int_equal(tu_sh(&out, "'%s' run '%s' --quiet", tu_bin(), p), 2);
    tu_assert_contains(out, "bad.yaml");
    free(out);
    /* missing weights */
    snprintf(dir, sizeof dir, "%s/res-bad", g_dir);
    assert_int_equal(run_cfg(&out, "det", dir, "-o model.weights=/nonexistent/w.weights"), 2);
    tu_assert_contains(out, "/nonexistent/w.weights");
    free(out);
    /* a list naming a missing image */
    snprintf(p, sizeof p, "%s/missing.list", g_dir);
    tu_write(p, "images/im0.ppm\nimages/nope.ppm\n");
    char ov[700];
    snprintf(ov, sizeof ov, "-o dataset.images='%s'", p);
    assert_int_equal(run_cfg(&out, "det", dir, ov), 2);
    tu_assert_contains(out, "nope.ppm");
    free(out);
    /* unknown split */
    assert_int_equal(run_cfg(&out, "det", dir, "-o 'sweep.split=[max_99]'"), 2);
    tu_assert_contains(out, "max_99");
    free(out);
    /* a typo in a bd curve name, and a detector run as a classifier:
     * refused before any work */
    char dbd[512];
    snprintf(dbd, sizeof dbd, "%s/res-bdtypo", g_dir);
    assert_int_equal(run_cfg(&out, "det", dbd, "-o 'bd=[{anchor: cloud-hevcc, test: \"*codec=hevc*\"}]'"), 2);
    tu_assert_contains(out, "bd[0].anchor: 'cloud-hevcc' is no curve of this sweep; curves: ");
    tu_assert_contains(out, "cloud-hevc");
    free(out);
    assert_int_not_equal(access(dbd, F_OK), 0);
    assert_int_equal(run_cfg(&out, "det", dbd, "-o 'bd=[{anchor: cloud-hevc, test: \"*codec=hevcx*\"}]'"), 2);
    tu_assert_contains(out, "bd[0].test: '*codec=hevcx*' matches no curve of this sweep");
    free(out);
    assert_int_equal(run_cfg(&out, "det", dbd, "-o model.task=classification -o metrics=[fidelity]"), 2);
    tu_assert_contains(out, "model.task: ");
    tu_assert_contains(out, "ends in a detection layer; use task detection");
    free(out);
    assert_int_not_equal(access(dbd, F_OK), 0);
    /* one layer under two spellings: refused before any work, both named */
    char dsp[512];
    snprintf(dsp, sizeof dsp, "%s/res-dupsplit", g_dir);
    assert_int_equal(run_cfg(&out, "det", dsp, "-o \"sweep.split=[max_1, '1']\""), 2);
    tu_assert_contains(out, "sweep.split[1]: '1' is layer 1 (max_1), already listed as sweep.split[0] 'max_1'");
    free(out);
    assert_int_not_equal(access(dsp, F_OK), 0);
    /* a darknet cfg that used to crash `featrd run` (49 GB workspace): exit 2,
     * no results directory */
    char hv[1200];
    snprintf(hv, sizeof hv, "-o model.cfg='%s/tests/data/model/hostile/conv-size-2001.cfg'", g_root);
    assert_int_equal(run_cfg(&out, "det", dsp, hv), 2);
    tu_assert_contains(out, "size=2001 is outside 1..64");
    free(out);
    assert_int_not_equal(access(dsp, F_OK), 0);
    /* unwritable results directory (a path through a regular file) */
    snprintf(p, sizeof p, "%s/afile", g_dir);
    tu_write(p, "x");
    snprintf(dir, sizeof dir, "%s/afile/sub", g_dir);
    assert_int_equal(run_cfg(&out, "det", dir, NULL), 2);
    tu_assert_contains(out, "afile/sub");
    free(out);
    /* a changed config in a used directory: refused, results untouched */
    const char *ref = ref_dir();
    char before[600];
    snprintf(before, sizeof before, "%s/points.csv", ref);
    uint8_t *d0 = NULL, *d1 = NULL;
    size_t l0 = 0, l1 = 0;
    assert_int_equal(fr_read_file(before, &d0, &l0, NULL), 0);
    assert_int_equal(run_cfg(&out, "det", ref, "-o 'sweep.qp=[27]' -o jobs=2"), 2);
    tu_assert_contains(out, "--force");
    /* it names what changed (sweep.qp reaches the codec entries' lists), not jobs */
    tu_assert_contains(out, "changed: sweep.qp sweep.codec)");
    free(out);
    assert_int_equal(fr_read_file(before, &d1, &l1, NULL), 0);
    assert_int_equal(l0, l1);
    assert_memory_equal(d0, d1, l0);
    free(d0);
    free(d1);
    /* --force discards the old results and runs the changed config */
    char fdir[512];
    snprintf(fdir, sizeof fdir, "%s/res-force", g_dir);
    assert_int_equal(run_cfg(NULL, "cls", fdir, NULL), 0);
    assert_int_equal(run_cfg(NULL, "cls", fdir, "-o 'sweep.qp=[44]'"), 2);
    assert_int_equal(run_cfg(NULL, "cls", fdir, "-o 'sweep.qp=[44]' --force"), 0);
    snprintf(p, sizeof p, "%s/points.csv", fdir);
    FrCsv *fc = NULL;
    assert_int_equal(fr_csv_read(p, &fc, NULL), 0);
    assert_int_equal(fr_csv_nrows(fc), 3);
    assert_string_equal(fr_csv_get(fc, 1, fr_csv_col(fc, "qp")), "44");
    fr_csv_destroy(&fc);
    /* bad --shard */
    assert_int_equal(run_cfg(&out, "det", ref, "--shard 3/3"), 2);
    free(out);
}

/* ---------------- manifest ---------------- */

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* The manifest's text read back, NUL-terminated (caller frees). */
static char *read_text(const char *path)
{
    uint8_t *m = NULL;
    size_t ml = 0;
    assert_int_equal(fr_read_file(path, &m, &ml, NULL), 0);
    m = realloc(m, ml + 1);
    m[ml] = 0;
    return (char *)m;
}

/* git runs without a shell for the manifest's revision: a repository whose
 * path has quotes, spaces and a $(...) is read right and nothing in the name
 * is executed; a changed tracked file is flagged; outside a repository it is
 * "unknown"; no descriptor and no child is left behind. */
static void test_manifest_git(void **state)
{
    (void)state;
    char repo[600], man[700], want[200], *out = NULL;
    snprintf(repo, sizeof repo, "%s/it's a 'quoted' dir $(touch PWNED)", g_dir);
    assert_int_equal(mkdir(repo, 0777), 0);
    setenv("FR_TEST_REPO", repo, 1);
    assert_int_equal(tu_sh(&out, "cd \"$FR_TEST_REPO\" && git init -q . && echo a > f && git add f && "
                                 "git -c user.name=t -c user.email=t@t commit -qm init && "
                                 "git rev-parse HEAD"),
                     0);
    out[strcspn(out, "\n")] = 0;
    assert_int_equal(strlen(out), 40);
    snprintf(want, sizeof want, "\ngit_revision: %s\n", out);
    free(out);
    char cfg[600];
    snprintf(cfg, sizeof cfg, "%s/cls.yaml", g_dir);
    FrExperiment *e = NULL;
    FrError err = {0};
    if (fr_config_load(cfg, NULL, 0, &e, &err))
        fail_msg("%s", err.msg);
    snprintf(man, sizeof man, "%s/manifest.yaml", g_dir);
    int fds = open_fds();
    assert_int_equal(fr_manifest_write(man, e, 0, 1, repo, NULL, &err), 0);
    assert_int_equal(open_fds(), fds);
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* every child reaped */
    assert_int_equal(errno, ECHILD);
    char *m = read_text(man);
    tu_assert_contains(m, want);
    free(m);
    /* a tracked file changed */
    assert_int_equal(tu_sh(NULL, "echo b > \"$FR_TEST_REPO/f\""), 0);
    assert_int_equal(fr_manifest_write(man, e, 0, 1, repo, NULL, &err), 0);
    m = read_text(man);
    want[strlen(want) - 1] = 0;
    tu_assert_contains(m, want);
    tu_assert_contains(m, " # working tree has uncommitted changes\n");
    free(m);
    /* not a repository (and a directory git cannot enter) */
    snprintf(repo, sizeof repo, "%s/images", g_dir);
    assert_int_equal(fr_manifest_write(man, e, 0, 1, repo, NULL, &err), 0);
    m = read_text(man);
    tu_assert_contains(m, "\ngit_revision: unknown\n");
    free(m);
    assert_int_equal(fr_manifest_write(man, e, 0, 1, "/nonexistent/dir", NULL, &err), 0);
    m = read_text(man);
    tu_assert_contains(m, "\ngit_revision: unknown\n");
    free(m);
    assert_int_equal(open_fds(), fds);
    assert_int_not_equal(access("PWNED", F_OK), 0);
    snprintf(repo, sizeof repo, "%s/PWNED", g_dir);
    assert_int_not_equal(access(repo, F_OK), 0);
    unsetenv("FR_TEST_REPO");
    fr_experiment_free(&e);
}

/* A second signal ends the run at once (the CLI's handler re-raises it
 * when fr_run_request_stop says a stop is already under way). */
static void test_second_signal(void **state)
{
    (void)state;
    char dir[512], errp[600];
    snprintf(dir, sizeof dir, "%s/res-signal2", g_dir);
    snprintf(errp, sizeof errp, "%s/signal2.err", g_dir);
    pid_t pid = start_long_run(dir, errp);
    /* SIGINT is handled first (the lower number; each blocks the other
     * while its handler runs), so SIGTERM finds the request taken */
    assert_int_equal(kill(pid, SIGINT), 0);
    assert_int_equal(kill(pid, SIGTERM), 0);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFSIGNALED(st))
        fail_msg("featrd run exited %d after SIGINT + SIGTERM, expected death by SIGTERM",
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    assert_int_equal(WTERMSIG(st), SIGTERM);
}

/* fr_run_request_stop in-process: the library installs no signal handler
 * (the caller's dispositions stay as they are during the run), a request
 * outside a run is refused, one during it stops the run as a signal did,
 * and a second one is refused. */
typedef struct StopProbe {
    int events, took, second, handler_kept;
} StopProbe;

static void stop_on_progress(const FrProgressEvent *ev, void *user)
{
    (void)ev;
    StopProbe *sp = user;
    struct sigaction a, b;
    sigaction(SIGINT, NULL, &a);
    sigaction(SIGTERM, NULL, &b);
    sp->handler_kept &= a.sa_handler == SIG_IGN && b.sa_handler == SIG_DFL;
    if (sp->events++ == 0) {
        sp->took = fr_run_request_stop(SIGTERM);
        sp->second = fr_run_request_stop(SIGINT);
    }
}

static void test_stop_request(void **state)
{
    (void)state;
    char cfg[600], dir[600], mp[700];
    snprintf(cfg, sizeof cfg, "%s/det.yaml", g_dir);
    snprintf(dir, sizeof dir, "output.dir=%s/res-stop", g_dir);
    snprintf(mp, sizeof mp, "%s/res-stop/manifest.yaml", g_dir);
    const char *ovr[] = {dir};
    FrExperiment *e = NULL;
    FrError err = {0};
    if (fr_config_load(cfg, ovr, 1, &e, &err))
        fail_msg("%s", err.msg);
    struct sigaction ign, old_int, old_term;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGINT, &ign, &old_int);
    sigaction(SIGTERM, NULL, &old_term);
    assert_true(old_term.sa_handler == SIG_DFL);
    assert_int_equal(fr_run_request_stop(SIGINT), 0); /* no run in progress */
    StopProbe sp = {0, 0, 0, 1};
    FrRunOptions o;
    fr_run_options_defaults(&o);
    o.progress = FR_PROGRESS_NONE;
    o.jobs = 1;
    o.on_progress = stop_on_progress;
    o.progress_user = &sp;
    int rc = fr_run(e, &o, &err);
    assert_int_equal(rc, FR_E_INTERRUPTED);
    tu_assert_contains(err.msg, "interrupted by Terminated");
    assert_int_equal(fr_run_interrupt_signal(), SIGTERM);
    assert_int_equal(sp.took, 1);
    assert_int_equal(sp.second, 0);
    assert_true(sp.handler_kept);
    assert_int_equal(sp.events, 1); /* nothing committed after the request */
    assert_int_equal(fr_run_request_stop(SIGINT), 0); /* the run is over */
    struct sigaction a;
    sigaction(SIGINT, NULL, &a);
    assert_true(a.sa_handler == SIG_IGN);
    sigaction(SIGINT, &old_int, NULL);
    char *m = read_text(mp);
    tu_assert_contains(m, "state: interrupted");
    free(m);
    /* the next run is not stopped by the spent request, and resumes */
    o.on_progress = NULL;
    assert_int_equal(fr_run(e, &o, &err), 0);
    assert_int_equal(fr_run_interrupt_signal(), 0);
    m = read_text(mp);
    tu_assert_contains(m, "state: done");
    free(m);
    fr_experiment_free(&e);
}

/* vs_reference.csv pairs replicate b of a point with replicate b of the
 * reference: a point whose accuracy is below the reference's in every
 * replicate is "lower" although the two unpaired intervals overlap; one
 * straddling 0 is "equal"; a point without replicates is "no-ci"; a metric
 * the reference lacks gives no rows. */
static void test_vs_reference(void **state)
{
    (void)state;
    const char *d = tu_tmpdir();
    char p[600];
    snprintf(p, sizeof p, "%s/points.csv", d);
    tu_write(p, "kind,id,curve,desc,kbpi,map07,top1\n"
                "reference,pref,reference,reference,,0.70,nan\n"
                "feature,pa,c1,\"c1,qp=22\",10.5,0.695,nan\n"
                "feature,pb,c1,\"c1,qp=30\",5,0.701,nan\n"
                "feature,pc,c2,\"c2,qp=30\",3,0.6,nan\n");
    snprintf(p, sizeof p, "%s/boot", d);
    assert_int_equal(mkdir(p, 0777), 0);
    static const double ref[5] = {0.70, 0.72, 0.68, 0.71, 0.69};
    static const double da[5] = {-0.010, -0.005, -0.008, -0.002, -0.010};
    static const double db[5] = {0.004, -0.003, 0.001, 0.002, -0.001};
    const char *ids[3] = {"pref", "pa", "pb"};
    const double *dd[3] = {NULL, da, db};
    for (int k = 0; k < 3; k++) {
        char text[512];
        int n = snprintf(text, sizeof text, "kbpi,map07\n");
        for (int b = 0; b < 5; b++)
            n += snprintf(text + n, sizeof text - (size_t)n, "1,%.17g\n",
                          ref[b] + (dd[k] ? dd[k][b] : 0));
        snprintf(p, sizeof p, "%s/boot/%s.csv", d, ids[k]);
        tu_write(p, text);
    }
    FrError err;
    assert_int_equal(fr_results_write_vs_reference(d, 0.9, &err), 0);
    snprintf(p, sizeof p, "%s/vs_reference.csv", d);
    FrCsv *c = NULL;
    assert_int_equal(fr_csv_read(p, &c, &err), 0);
    assert_int_equal(fr_csv_nrows(c), 3);
    int vc = fr_csv_col(c, "verdict"), mc = fr_csv_col(c, "metric");
    assert_string_equal(fr_csv_get(c, 0, fr_csv_col(c, "id")), "pa");
    assert_string_equal(fr_csv_get(c, 0, mc), "map07");
    assert_string_equal(fr_csv_get(c, 0, fr_csv_col(c, "desc")), "c1,qp=22");
    assert_close(csv_num(c, 0, "delta"), 0.695 - 0.70, 1e-15);
    assert_close(csv_num(c, 0, "reference"), 0.70, 0);
    assert_close(csv_num(c, 0, "kbpi"), 10.5, 0);
    double lo, hi, diff[5];
    for (int b = 0; b < 5; b++)
        diff[b] = (ref[b] + da[b]) - ref[b];
    fr_ci_percentile(diff, 5, 0.9, &lo, &hi);
    assert_close(csv_num(c, 0, "delta_lo"), lo, 1e-15);
    assert_close(csv_num(c, 0, "delta_hi"), hi, 1e-15);
    assert_true(hi < 0);
    assert_string_equal(fr_csv_get(c, 0, vc), "lower");
    assert_string_equal(fr_csv_get(c, 0, fr_csv_col(c, "replicates")), "5");
    assert_string_equal(fr_csv_get(c, 1, vc), "equal");
    assert_string_equal(fr_csv_get(c, 2, fr_csv_col(c, "id")), "pc");
    assert_string_equal(fr_csv_get(c, 2, vc), "no-ci");
    assert_true(isnan(csv_num(c, 2, "delta_lo")));
    fr_csv_destroy(&c);
}

/* Ctrl-C on a terminal (issue 21): `featrd run` under a pseudo-terminal
 * draws its progress bar there; ^C typed on the terminal (the line
 * discipline sends SIGINT to the foreground group) mid-sweep ends it with
 * exit 130, the manifest interrupted with points left to do; a rerun
 * resumes and ends with the points.csv of an uninterrupted run. */
static size_t drain(int fd, char *buf, size_t len, size_t cap, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    while (poll(&p, 1, ms) > 0) {
        char tmp[4096];
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n <= 0)
            break; /* EIO: the child closed the terminal */
        size_t k = (size_t)n < cap - 1 - len ? (size_t)n : cap - 1 - len;
        memcpy(buf + len, tmp, k);
        len += k;
        buf[len] = 0;
        ms = 0;
    }
    return len;
}

static void test_sigint_pty(void **state)
{
    (void)state;
    static const char *QPS = "sweep.qp=[22, 25, 28, 31, 34, 37, 40, 43]";
    char dir[512], full[512], odir[600], cfg[600], jp[700], mp[700];
    snprintf(dir, sizeof dir, "%s/res-pty", g_dir);
    snprintf(full, sizeof full, "%s/res-pty-full", g_dir);
    snprintf(odir, sizeof odir, "output.dir=%s", dir);
    snprintf(cfg, sizeof cfg, "%s/det.yaml", g_dir);
    snprintf(jp, sizeof jp, "%s/points.journal", dir);
    snprintf(mp, sizeof mp, "%s/manifest.yaml", dir);
    int master = -1;
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGINT, SIG_DFL); /* featrd keeps an ignored SIGINT ignored */
        execl(tu_bin(), tu_bin(), "run", cfg, "-o", odir, "-o", QPS, "--cache-mem", "0",
              "--jobs", "1", (char *)NULL);
        _exit(127);
    }
    static char out[1 << 16];
    size_t len = 0;
    out[0] = 0;
    /* wait for the first committed point, reading the terminal meanwhile */
    for (int tries = 0;; tries++) {
        len = drain(master, out, len, sizeof out, 5);
        char **lines = NULL;
        size_t n = 0;
        if (access(jp, F_OK) == 0) {
            assert_int_equal(fr_journal_read(jp, &lines, &n, NULL), 0);
            fr_journal_lines_free(&lines, n);
        }
        if (n > 0)
            break;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid || tries > 60000)
            fail_msg("featrd run ended (or hung) before its first point: %s", out);
    }
    assert_int_equal(write(master, "\x03", 1), 1); /* ^C */
    int st = 0;
    for (;;) {
        len = drain(master, out, len, sizeof out, 20);
        pid_t w = waitpid(pid, &st, WNOHANG);
        assert_true(w >= 0);
        if (w == pid)
            break;
    }
    len = drain(master, out, len, sizeof out, 0);
    close(master);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 130)
        fail_msg("featrd run under a terminal, ^C: status %d, expected exit 130; output:\n%s", st,
                 out);
    tu_assert_contains(out, "interrupted by Interrupt");
    assert_non_null(strchr(out, '\r')); /* the bar: it knew it was on a terminal */
    char *m = read_text(mp);
    tu_assert_contains(m, "state: interrupted");
    long total = 0, done = -1;
    const char *t = strstr(m, "points_total: "), *d = strstr(m, "points_done: ");
    assert_non_null(t);
    assert_non_null(d);
    total = atol(t + 14);
    done = atol(d + 13);
    free(m);
    if (!(done >= 1 && done < total))
        fail_msg("interrupted with %ld of %ld points done: not mid-sweep", done, total);
    /* the rerun resumes; its points.csv is an uninterrupted run's */
    char *o2 = NULL;
    int rc = tu_sh(&o2, "'%s' run '%s' -o '%s' -o '%s' --quiet", tu_bin(), cfg, odir, QPS);
    if (rc)
        fail_msg("resume: %s", o2);
    free(o2);
    rc = tu_sh(&o2, "'%s' run '%s' -o 'output.dir=%s' -o '%s' --quiet", tu_bin(), cfg, full, QPS);
    if (rc)
        fail_msg("uninterrupted: %s", o2);
    free(o2);
    char a[700], b[700];
    snprintf(a, sizeof a, "%s/points.csv", full);
    snprintf(b, sizeof b, "%s/points.csv", dir);
    assert_same_points(a, b);
    m = read_text(mp);
    tu_assert_contains(m, "state: done");
    free(m);
}

/* A results directory from a featrd that wrote fewer points.csv columns
 * (its journal rows one field short) is refused on a rerun, naming the
 * journal and both column counts, instead of mixing rows of two schemas
 * into one points.csv; --force recomputes. */
static void test_old_journal(void **state)
{
    (void)state;
    char dir[600], jp[700], *out = NULL;
    snprintf(dir, sizeof dir, "%s/res-old-journal", g_dir);
    snprintf(jp, sizeof jp, "%s/points.journal", dir);
    assert_int_equal(tu_sh(&out, "cp -r '%s' '%s'", ref_dir(), dir), 0);
    free(out);
    char **lines = NULL;
    size_t n = 0;
    FrError err;
    assert_int_equal(fr_journal_read(jp, &lines, &n, &err), 0);
    assert_true(n > 2);
    unlink(jp);
    FrJournal *j = NULL;
    assert_int_equal(fr_journal_open(&j, jp, &err), 0);
    for (size_t i = 0; i < n; i++) {
        *strrchr(lines[i], ',') = 0; /* the newest column was not there yet */
        assert_int_equal(fr_journal_append(j, lines[i], &err), 0);
    }
    fr_journal_close(&j);
    fr_journal_lines_free(&lines, n);
    int nc;
    fr_points_columns(&nc);
    assert_int_equal(run_cfg(&out, "det", dir, NULL), 2);
    char want[200];
    snprintf(want, sizeof want, "its points were written by a featrd with another points.csv (%d "
                                "columns; this featrd writes %d)", nc - 1, nc);
    tu_assert_contains(out, want);
    free(out);
    assert_int_equal(run_cfg(&out, "det", dir, "--force"), 0);
    free(out);
    char a[700], b[700];
    snprintf(a, sizeof a, "%s/points.csv", ref_dir());
    snprintf(b, sizeof b, "%s/points.csv", dir);
    assert_same_points(a, b);
}

/* The progress bar's label: whole when it fits, else "..." and its end,
 * never longer than the room it is given. */
static void test_progress_fit(void **state)
{
    (void)state;
    const char *l = "split=max_5,bits=8,range=tensor,packing=tile,codec=hevc,alloc=uniform,qp=32";
    char out[256];
    assert_int_equal(fr_progress_fit(l, 200, out, sizeof out), strlen(l));
    assert_string_equal(out, l);
    assert_int_equal(fr_progress_fit(l, strlen(l), out, sizeof out), strlen(l));
    assert_string_equal(out, l);
    assert_int_equal(fr_progress_fit(l, 20, out, sizeof out), 20);
    assert_string_equal(out, "...loc=uniform,qp=32");
    assert_int_equal(fr_progress_fit(l, 3, out, sizeof out), 3);
    assert_string_equal(out, "spl");
    assert_int_equal(fr_progress_fit(l, 0, out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(fr_progress_fit(l, 200, out, 10), 9); /* the buffer bounds it too */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_match_library),
        cmocka_unit_test(test_anchor_accounting),
        cmocka_unit_test(test_weights_axis),
        cmocka_unit_test(test_kill_resume),
        cmocka_unit_test(test_shards_and_jobs),
        cmocka_unit_test(test_signal_and_lock),
        cmocka_unit_test(test_plot_disk_full),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_manifest_git),
        cmocka_unit_test(test_second_signal),
        cmocka_unit_test(test_sigint_pty),
        cmocka_unit_test(test_stop_request),
        cmocka_unit_test(test_vs_reference),
        cmocka_unit_test(test_old_journal),
        cmocka_unit_test(test_progress_fit),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
