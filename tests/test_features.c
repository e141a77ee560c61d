/* test_features.c: `kind: features` (bring your own features) and `featrd
 * score`. Features exported with `featrd features` from the demo detector
 * (models/fmnist-yolo, 12 generated scenes) give exactly the rates of the
 * darknet `kind: rd` sweep at the same split, bits, packing, codec and QP;
 * the distortion columns equal a reference computed here from the decoded
 * .npy files the run writes; a metric file merged by `featrd score` gives
 * the values and BD computed here another way; bad metric files and bad
 * configs are refused with their file:line. */
#include "testutil.h"

#include <math.h>
#include "run/results_internal.h"
#include "config/config.h"
#include "util/common.h"
#include "util/csv.h"

#define NIMG 12
#define CURVE(b) "split=max_7,bits=" #b ",range=tensor,packing=tile,codec=hevc,alloc=uniform"

static char g_dir[256];
static char g_root[1024];

static const char *SWEEP =
    "sweep:\n"
    "  bits: [8, 10]\n"
    "  codec:\n"
    "    - hevc-lossless\n"
    "    - {name: hevc, qp: [22, 27, 32, 37]}\n"
    "    - zstd\n"
    "bootstrap: {replicates: 200, seed: 3}\n";

static char *slurp(const char *path)
{
    uint8_t *t = NULL;
    size_t n = 0;
    if (fr_read_file(path, &t, &n, NULL))
        return NULL;
    char *s = realloc(t, n + 1);
    s[n] = 0;
    return s;
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "%s", tu_tmpdir());
    if (!getcwd(g_root, sizeof g_root))
        return -1;
    char *out = NULL;
    if (tu_sh(&out, "'%s' data --out '%s/data' --det-train 0 --det-test %d --cls-train 0 "
                    "--cls-test 0 --quiet", tu_bin(), g_dir, NIMG)) {
        print_error("%s\n", out);
        free(out);
        return -1;
    }
    free(out);
    char p[600], text[4096];
    snprintf(p, sizeof p, "%s/rd.yaml", g_dir);
    snprintf(text, sizeof text,
             "name: rd\n"
             "model: {cfg: '%s/models/fmnist-yolo.cfg', weights: '%s/models/fmnist-yolo.weights',\n"
             "        task: detection, names: '%s/data/fmnist-det/fmnist.names'}\n"
             "dataset: {images: '%s/data/fmnist-det/test.list'}\n"
             "sweep: {split: [max_7]}\n"
             "output: {plots: false}\n",
             g_root, g_root, g_dir, g_dir);
    tu_write(p, text);
    /* the rd sweep: the same coding axes under a split */
    snprintf(p, sizeof p, "%s/rd_sweep.yaml", g_dir);
    snprintf(text, sizeof text, "include: rd.yaml\n%s", SWEEP);
    /* include replaces sweep whole, so the split goes back in */
    char *q = strstr(text, "sweep:\n");
    char fixed[4096];
    snprintf(fixed, sizeof fixed, "%.*ssweep:\n  split: [max_7]\n%s", (int)(q - text), text,
             q + strlen("sweep:\n"));
    tu_write(p, fixed);
    snprintf(p, sizeof p, "%s/ft.yaml", g_dir);
    snprintf(text, sizeof text,
             "name: ft\n"
             "kind: features\n"
             "features: {dir: '%s/feat'}\n"
             "%s"
             "bd:\n  - {anchor: '" CURVE(8) "', test: '" CURVE(10) "', quality: acc}\n"
             "output: {plots: false, decoded_dir: '%s/dec'}\n",
             g_dir, SWEEP, g_dir);
    tu_write(p, text);
    out = NULL;
    int st = tu_sh(&out, "'%s' features '%s/rd.yaml' --split max_7 --out '%s/feat'", tu_bin(),
                   g_dir, g_dir);
    if (st)
        print_error("%s\n", out);
    free(out);
    return st;
}

static FrCsv *read_csv(const char *path)
{
    FrCsv *c = NULL;
    FrError err = {0};
    if (fr_csv_read(path, &c, &err))
        fail_msg("%s", err.msg);
    return c;
}

static double num(const FrCsv *c, size_t r, const char *col)
{
    int k = fr_csv_col(c, col);
    if (k < 0)
        fail_msg("%s: no column %s", fr_csv_name(c), col);
    double v;
    assert_int_equal(fr_csv_get_double_nf(c, r, k, &v, NULL), 0);
    return v;
}

static const char *str(const FrCsv *c, size_t r, const char *col)
{
    int k = fr_csv_col(c, col);
    assert_true(k >= 0);
    return fr_csv_get(c, r, k);
}

static long find_row(const FrCsv *c, const char *col, const char *val)
{
    for (size_t r = 0; r < fr_csv_nrows(c); r++)
        if (!strcmp(str(c, r, col), val))
            return (long)r;
    return -1;
}

/* Runs both sweeps once (the later tests read their results). */
static void run_both(void)
{
    static int done;
    if (done)
        return;
    char *out = NULL;
    int st = tu_sh(&out, "'%s' run '%s/rd_sweep.yaml' -o output.dir='%s/res-rd' --quiet", tu_bin(),
                   g_dir, g_dir);
    if (st)
        fail_msg("rd run: %s", out);
    free(out);
    st = tu_sh(&out, "'%s' run '%s/ft.yaml' -o output.dir='%s/res-ft' --quiet", tu_bin(), g_dir,
               g_dir);
    if (st)
        fail_msg("features run: %s", out);
    free(out);
    done = 1;
}

/* The same coding gives the same bits: every feature point of the darknet
 * sweep has its twin in kind features, with equal rate columns (the
 * container, payload, side info, seed 001's rule) and equal distortion. */
static void test_rates_match_rd(void **state)
{
    (void)state;
    run_both();
    char p[600];
    snprintf(p, sizeof p, "%s/res-rd/points.csv", g_dir);
    FrCsv *rd = read_csv(p);
    snprintf(p, sizeof p, "%s/res-ft/points.csv", g_dir);
    FrCsv *ft = read_csv(p);
    size_t nfeat = 0;
    for (size_t r = 0; r < fr_csv_nrows(rd); r++)
        nfeat += !strcmp(str(rd, r, "kind"), "feature");
    assert_int_equal(nfeat, 12); /* 2 bits x (lossless + 4 QPs + zstd) */
    assert_int_equal(fr_csv_nrows(ft), nfeat);
    static const char *same_num[] = {"images", "elements", "bits_mean", "bits_std", "kbpi",
                                     "payload_bits", "side_bits", "bits_per_element",
                                     "kbpi_paper", "kbpi_lo", "kbpi_hi", "mse", "psnr",
                                     "mse_nbit", "psnr_nbit", "sqnr", "bits", "qp"};
    static const char *same_str[] = {"kind", "curve", "split", "layer", "cut", "range", "packing",
                                     "codec", "alloc"};
    for (size_t r = 0; r < fr_csv_nrows(ft); r++) {
        long q = find_row(rd, "desc", str(ft, r, "desc"));
        if (q < 0)
            fail_msg("rd has no point '%s'", str(ft, r, "desc"));
        for (size_t k = 0; k < sizeof same_num / sizeof same_num[0]; k++)
            if (strcmp(str(ft, r, same_num[k]), str(rd, (size_t)q, same_num[k])))
                fail_msg("%s: %s is %s in kind features, %s in kind rd", str(ft, r, "desc"),
                         same_num[k], str(ft, r, same_num[k]), str(rd, (size_t)q, same_num[k]));
        for (size_t k = 0; k < sizeof same_str / sizeof same_str[0]; k++)
            assert_string_equal(str(ft, r, same_str[k]), str(rd, (size_t)q, same_str[k]));
        /* no network: no task metric until featrd score */
        assert_true(isnan(num(ft, r, "map07")));
        assert_true(num(rd, (size_t)q, "map07") >= 0);
    }
    /* rate falls with the QP (the values are real codings) */
    long a = find_row(ft, "desc", CURVE(8) ",qp=22"), b = find_row(ft, "desc", CURVE(8) ",qp=37");
    assert_true(a >= 0 && b >= 0);
    assert_true(num(ft, (size_t)b, "kbpi") < 0.6 * num(ft, (size_t)a, "kbpi"));
    fr_csv_destroy(&rd);
    fr_csv_destroy(&ft);
    /* a rerun finds every point done and leaves points.csv as it was */
    snprintf(p, sizeof p, "%s/res-ft/points.csv", g_dir);
    char *before = slurp(p), *out = NULL;
    assert_int_equal(tu_sh(&out, "'%s' run '%s/ft.yaml' -o output.dir='%s/res-ft'", tu_bin(),
                           g_dir, g_dir), 0);
    tu_assert_contains(out, "nothing to do");
    free(out);
    char *after = slurp(p);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

/* mse, psnr, sqnr (and their CIs' centre) against the decoded tensors
 * written under output.decoded_dir, computed here in double. */
static void test_distortion_from_decoded(void **state)
{
    (void)state;
    run_both();
    char p[900];
    snprintf(p, sizeof p, "%s/res-ft/points.csv", g_dir);
    FrCsv *ft = read_csv(p);
    double prev_mse = -1;
    for (size_t r = 0; r < fr_csv_nrows(ft); r++) {
        const char *id = str(ft, r, "id");
        snprintf(p, sizeof p, "%s/dec/%s/features.txt", g_dir, id);
        assert_int_equal(access(p, R_OK), 0);
        double smse = 0, spsnr = 0, ssqnr = 0;
        for (int i = 0; i < NIMG; i++) {
            char a[900], b[900];
            snprintf(a, sizeof a, "%s/feat/%06d_%06d.max_7.npy", g_dir, i, i);
            snprintf(b, sizeof b, "%s/dec/%s/%06d_%06d.max_7.npy", g_dir, id, i, i);
            FrTensor x = {0}, y = {0};
            FrError err = {0};
            if (fr_npy_read(a, &x, &err) || fr_npy_read(b, &y, &err))
                fail_msg("%s", err.msg);
            assert_int_equal(fr_tensor_size(&x), fr_tensor_size(&y));
            size_t n = fr_tensor_size(&x);
            double se = 0, pw = 0, lo = x.data[0], hi = x.data[0];
            for (size_t k = 0; k < n; k++) {
                double d = (double)x.data[k] - (double)y.data[k];
                se += d * d;
                pw += (double)x.data[k] * x.data[k];
                lo = x.data[k] < lo ? x.data[k] : lo;
                hi = x.data[k] > hi ? x.data[k] : hi;
            }
            double mse = se / n;
            assert_true(mse > 0); /* even lossless coding has the Q-layer's error */
            smse += mse;
            spsnr += 10 * log10((hi - lo) * (hi - lo) / mse);
            ssqnr += 10 * log10(pw / n / mse);
            fr_tensor_free(&x);
            fr_tensor_free(&y);
        }
        tu_assert_near(num(ft, r, "mse"), smse / NIMG, 1e-12 * smse);
        tu_assert_near(num(ft, r, "psnr"), spsnr / NIMG, 1e-9);
        tu_assert_near(num(ft, r, "sqnr"), ssqnr / NIMG, 1e-9);
        assert_true(num(ft, r, "psnr_lo") <= num(ft, r, "psnr") &&
                    num(ft, r, "psnr") <= num(ft, r, "psnr_hi"));
        assert_true(num(ft, r, "psnr_lo") < num(ft, r, "psnr_hi"));
        /* the 8-bit hevc curve: MSE grows with the QP */
        if (!strcmp(str(ft, r, "curve"), CURVE(8))) {
            assert_true(num(ft, r, "mse") > prev_mse);
            prev_mse = num(ft, r, "mse");
        }
    }
    assert_true(prev_mse > 0);
    fr_csv_destroy(&ft);
}

/* A per-image metric merged by featrd score: the point's value is the mean
 * of its images, its CI brackets it, bd.csv (rewritten from the config's bd
 * entry) and `featrd bd` give the BD-rate computed here from the same
 * numbers with the library's pchip. */
static double metric_value(double kbpi, int image)
{
    /* rises with the rate (a strictly monotone curve), differs per image */
    return 1.0 - exp(-kbpi / 8.0) + 0.01 * ((image * 7) % 5);
}

static void test_score_and_bd(void **state)
{
    (void)state;
    run_both();
    char p[700], mf[700];
    snprintf(p, sizeof p, "%s/res-ft/points.csv", g_dir);
    snprintf(mf, sizeof mf, "%s/acc.csv", g_dir);
    FrCsv *ft = read_csv(p);
    FrText t = {0};
    fr_text_printf(&t, "# accuracy of my own back half\npoint_id,image,metric,value\n");
    for (size_t r = 0; r < fr_csv_nrows(ft); r++)
        for (int i = 0; i < NIMG; i++)
            fr_text_printf(&t, "%s,%d,acc,%.17g\n", str(ft, r, "id"), i,
                           metric_value(num(ft, r, "kbpi"), i));
    tu_write(mf, t.s);
    fr_text_free(&t);
    char *out = NULL;
    int st = tu_sh(&out, "'%s' score '%s/res-ft' --metric-file '%s' --no-plots", tu_bin(), g_dir,
                   mf);
    if (st)
        fail_msg("%s", out);
    tu_assert_contains(out, "1 metric (acc) merged into 12 points");
    tu_assert_contains(out, "bd.csv rewritten");
    free(out);
    FrCsv *sc = read_csv(p);
    assert_int_equal(fr_csv_nrows(sc), fr_csv_nrows(ft));
    FrBdCurve cv[2];
    memset(cv, 0, sizeof cv);
    for (int c = 0; c < 2; c++) {
        cv[c].rate = calloc(4, sizeof(double));
        cv[c].quality = calloc(4, sizeof(double));
    }
    for (size_t r = 0; r < fr_csv_nrows(sc); r++) {
        double k = num(ft, r, "kbpi"), want = 0;
        for (int i = 0; i < NIMG; i++)
            want += metric_value(k, i);
        want /= NIMG;
        tu_assert_near(num(sc, r, "acc"), want, 1e-12);
        assert_true(num(sc, r, "acc_lo") <= want && want <= num(sc, r, "acc_hi"));
        assert_true(num(sc, r, "acc_lo") < num(sc, r, "acc_hi"));
        /* the other columns are as the run wrote them */
        assert_string_equal(str(sc, r, "kbpi"), str(ft, r, "kbpi"));
        assert_string_equal(str(sc, r, "psnr_hi"), str(ft, r, "psnr_hi"));
        int c = !strcmp(str(sc, r, "curve"), CURVE(8)) ? 0
                : !strcmp(str(sc, r, "curve"), CURVE(10)) ? 1 : -1;
        if (c >= 0) {
            cv[c].rate[cv[c].n] = k;
            cv[c].quality[cv[c].n++] = want;
        }
    }
    assert_int_equal(cv[0].n, 4);
    assert_int_equal(cv[1].n, 4);
    double pct = NAN;
    FrError err = {0};
    if (fr_bd_rate(&cv[0], &cv[1], FR_BD_PCHIP, &pct, NULL, 0, &err))
        fail_msg("%s", err.msg);
    assert_true(isfinite(pct) && pct != 0);
    snprintf(p, sizeof p, "%s/res-ft/bd.csv", g_dir);
    FrCsv *bd = read_csv(p);
    assert_int_equal(fr_csv_nrows(bd), 1);
    assert_string_equal(str(bd, 0, "quality"), "acc");
    tu_assert_near(num(bd, 0, "bd_rate_pct"), pct, 1e-9 * fabs(pct) + 1e-12);
    assert_true(num(bd, 0, "bd_rate_lo") < num(bd, 0, "bd_rate_hi")); /* paired replicates */
    fr_csv_destroy(&bd);
    /* featrd bd on points.csv: the same number */
    st = tu_sh(&out, "'%s' bd '%s/res-ft/points.csv' --anchor '" CURVE(8) "' --test '" CURVE(10)
                     "' --quality acc", tu_bin(), g_dir);
    if (st)
        fail_msg("%s", out);
    char want[64];
    snprintf(want, sizeof want, "BD-rate: %.3g %%", pct);
    tu_assert_contains(out, want);
    free(out);
    for (int c = 0; c < 2; c++)
        fr_bd_curve_free(&cv[c]);
    /* a per-point file fills an existing task column */
    snprintf(mf, sizeof mf, "%s/top1.csv", g_dir);
    snprintf(p, sizeof p, "point_id,metric,value\n%s,top1,0.75\n", str(ft, 2, "id"));
    tu_write(mf, p);
    assert_int_equal(tu_sh(NULL, "'%s' score '%s/res-ft' --metric-file '%s' --no-plots",
                           tu_bin(), g_dir, mf), 0);
    fr_csv_destroy(&sc);
    snprintf(p, sizeof p, "%s/res-ft/points.csv", g_dir);
    sc = read_csv(p);
    assert_true(num(sc, 2, "top1") == 0.75);
    assert_true(isnan(num(sc, 3, "top1")));
    tu_assert_near(num(sc, 2, "acc"), num(sc, 2, "acc"), 0); /* acc kept */
    assert_false(isnan(num(sc, 2, "acc")));
    /* a rerun rewrites points.csv from its journal and merges the scored
     * files again (DIR/scores/): nothing scored is lost */
    uint8_t *before = NULL, *after = NULL;
    size_t nb = 0, na = 0;
    assert_int_equal(fr_read_file(p, &before, &nb, NULL), 0);
    st = tu_sh(&out, "'%s' run '%s/ft.yaml' -o output.dir='%s/res-ft' --quiet --no-plots",
               tu_bin(), g_dir, g_dir);
    if (st)
        fail_msg("%s", out);
    free(out);
    assert_int_equal(fr_read_file(p, &after, &na, NULL), 0);
    assert_int_equal(na, nb);
    assert_memory_equal(after, before, nb);
    free(before);
    free(after);
    fr_csv_destroy(&sc);
    fr_csv_destroy(&ft);
}

/* Every bad metric file: exit 2, FILE:LINE in the message, points.csv
 * byte for byte as before. */
static void test_bad_metric_files(void **state)
{
    (void)state;
    run_both();
    char p[600];
    snprintf(p, sizeof p, "%s/res-ft/points.csv", g_dir);
    FrCsv *ft = read_csv(p);
    char id[64], id2[64];
    snprintf(id, sizeof id, "%s", str(ft, 0, "id"));
    snprintf(id2, sizeof id2, "%s", str(ft, 1, "id"));
    fr_csv_destroy(&ft);
    char *before = slurp(p);
    struct {
        const char *text; /* %1$s: a point id; %2$s: another */
        const char *want;
    } cases[] = {
        {"point_id,metric,value\n%1$s,acc,0.5\np9999-deadbeef,acc,0.4\n",
         "bad.csv:3: unknown point id 'p9999-deadbeef'"},
        {"point_id,metric,value\n%1$s,acc,0.5\n%2$s,acc,zero\n", "bad.csv:3: value 'zero'"},
        {"point_id,metric,value\n%1$s,acc,0.5\n# again\n%1$s,acc,0.6\n",
         "bad.csv:4: point %1$s, metric acc is given again (first at line 2)"},
        {"point_id,metric,value\n%1$s,acc\n", "bad.csv:2: expected 3 fields"},
        {"point,metric,value\n%1$s,acc,1\n", "bad.csv:1: expected the header"},
        {"point_id,metric,value\n%1$s,kbpi,1\n", "bad.csv:2: metric 'kbpi' is a column featrd "
                                                  "computes itself"},
        {"point_id,metric,value\n%1$s,acc_lo,1\n", "bad.csv:2: metric 'acc_lo'"},
        {"point_id,image,metric,value\n%1$s,12,acc,1\n", "bad.csv:2: image '12': expected 0 .. 11"},
        {"point_id,image,metric,value\n%1$s,0,acc,1\n%1$s,1,acc,1\n",
         "bad.csv:2: point %1$s, metric acc: 10 of its 12 images have no value (the first is "
         "image 2)"},
        {"point_id,metric,value\n%1$s,acc,inf\n", "bad.csv:2: value 'inf'"},
        {"", "bad.csv: empty"},
    };
    char mf[600];
    snprintf(mf, sizeof mf, "%s/bad.csv", g_dir);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char text[512], want[512];
        snprintf(text, sizeof text, cases[k].text, id, id2);
        snprintf(want, sizeof want, cases[k].want, id, id2);
        tu_write(mf, text);
        char *out = NULL;
        char bin[1200];
        snprintf(bin, sizeof bin, "%s%s%s", tu_bin()[0] == '/' ? "" : g_root,
                 tu_bin()[0] == '/' ? "" : "/", tu_bin());
        int st = tu_sh(&out, "cd '%s' && '%s' score res-ft --metric-file bad.csv", g_dir, bin);
        if (st != 2)
            fail_msg("case %zu: exit %d, expected 2: %s", k, st, out);
        tu_assert_contains(out, want);
        free(out);
        char *after = slurp(p);
        assert_string_equal(before, after);
        free(after);
    }
    free(before);
    char *out = NULL;
    assert_int_equal(tu_sh(&out, "'%s' score '%s/res-ft' --metric-file '%s/none.csv'", tu_bin(),
                           g_dir, g_dir), 2);
    tu_assert_contains(out, "none.csv");
    free(out);
}

/* The config: what needs a network is refused with its line. */
static void test_config_rules(void **state)
{
    (void)state;
    struct {
        const char *yaml, *want;
    } cases[] = {
        {"kind: features\nfeatures: {dir: x}\nsweep:\n  allocation: [sensitivity]\n  qp_base: [30]\n",
         "x.yaml:4:15: sweep.allocation: sensitivity allocation measures"},
        {"kind: features\nfeatures: {dir: x}\nsweep: {split: [max_3]}\n", "x.yaml:3:16: sweep.split: kind features codes"},
        {"kind: features\nfeatures: {dir: x, list: y}\n", "features.list: kind features needs "
                                                          "exactly one"},
        {"kind: features\n", "x.yaml:1:7: kind: kind features needs exactly one of features.dir"},
        {"kind: features\nfeatures: {dir: x}\nmodel: {cfg: a.cfg}\n", "x.yaml:3:14: model.cfg: kind features runs no network"},
        {"kind: features\nfeatures: {dir: x}\nanchors: [{name: a}]\n", "anchors: only used with "
                                                                        "kind: rd"},
        {"kind: features\nfeatures: {dir: x}\nsweep: {codec: [{name: hevc, split: [a]}]}\n",
         "x.yaml:3:37: sweep.codec[0].split: kind features has one split"},
        {"model: {cfg: a.cfg}\ndataset: {images: i}\nsweep: {split: [a]}\nfeatures: {dir: x}\n",
         "x.yaml:4:1: features: only used with kind: features"},
        {"model: {cfg: a.cfg}\ndataset: {images: i}\nsweep: {split: [a]}\noutput: {decoded_dir: d}\n",
         "x.yaml:4:23: output.decoded_dir: only used with kind: features"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        FrExperiment *e = NULL;
        FrError err = {0};
        int rc = fr_config_load_string(cases[k].yaml, "x.yaml", NULL, 0, &e, &err);
        if (rc != FR_E_CONFIG)
            fail_msg("case %zu: rc %d: %s", k, rc, err.msg);
        tu_assert_contains(err.msg, cases[k].want);
    }
    /* a valid one dumps and reloads to the same dump */
    FrExperiment *e = NULL, *e2 = NULL;
    FrError err = {0};
    assert_int_equal(fr_config_load_string("kind: features\nfeatures: {dir: x, split: max_7}\n"
                                           "sweep: {bits: [10], codec: [zstd]}\n"
                                           "output: {decoded_dir: d}\n",
                                           "x.yaml", NULL, 0, &e, &err), 0);
    char *d1 = fr_experiment_dump_string(e);
    assert_int_equal(fr_config_load_string(d1, "x.yaml", NULL, 0, &e2, &err), 0);
    char *d2 = fr_experiment_dump_string(e2);
    assert_string_equal(d1, d2);
    tu_assert_contains(d1, "kind: features\nfeatures:\n  dir: \"x\"\n");
    tu_assert_contains(d1, "decoded_dir: \"d\"");
    assert_null(strstr(d1, "model:"));
    free(d1);
    free(d2);
    fr_experiment_free(&e);
    fr_experiment_free(&e2);
}

/* A directory of .npy files without features.txt: NAME.LAYER.npy files of
 * one NAME are one image's cut set (coded together, elements summed), a
 * limit takes the first images, and an image with another cut set is
 * refused naming its file. */
static void test_directory_input(void **state)
{
    (void)state;
    char d[600], p[900];
    snprintf(d, sizeof d, "%s/own", g_dir);
    mkdir(d, 0777);
    static const char *names[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 2; k++) {
            FrTensor t;
            assert_int_equal(fr_tensor_alloc(&t, k ? 4 : 8, 6, 5), 0);
            tu_feature_like(&t, (uint32_t)(10 * i + k + 1));
            snprintf(p, sizeof p, "%s/%s.%s.npy", d, names[i], k ? "layer2" : "layer1");
            assert_int_equal(fr_npy_write(p, &t, NULL), 0);
            fr_tensor_free(&t);
        }
    snprintf(p, sizeof p, "%s/own.yaml", g_dir);
    char text[1024];
    snprintf(text, sizeof text,
             "kind: features\nfeatures: {dir: '%s', limit: 2}\nsweep: {codec: [zstd]}\n"
             "bootstrap: {replicates: 0}\noutput: {plots: false}\n", d);
    tu_write(p, text);
    char *out = NULL;
    int st = tu_sh(&out, "'%s' run '%s' -o output.dir='%s/res-own' --quiet", tu_bin(), p, g_dir);
    if (st)
        fail_msg("%s", out);
    free(out);
    snprintf(p, sizeof p, "%s/res-own/points.csv", g_dir);
    FrCsv *c = read_csv(p);
    assert_int_equal(fr_csv_nrows(c), 1);
    assert_string_equal(str(c, 0, "cut"), "layer1+layer2");
    assert_string_equal(str(c, 0, "split"), "layer2");
    assert_string_equal(str(c, 0, "curve"),
                        "split=layer2,bits=8,range=tensor,packing=tile,codec=zstd,alloc=uniform");
    assert_true(num(c, 0, "images") == 2);
    assert_true(num(c, 0, "elements") == 8 * 30 + 4 * 30);
    fr_csv_destroy(&c);
    /* c has one tensor only: refused, naming the file */
    snprintf(p, sizeof p, "%s/c.layer2.npy", d);
    unlink(p);
    snprintf(p, sizeof p, "%s/own.yaml", g_dir);
    st = tu_sh(&out, "'%s' run '%s' -o features.limit=0 -o output.dir='%s/res-own2' --quiet",
               tu_bin(), p, g_dir);
    assert_int_equal(st, 2);
    tu_assert_contains(out, "c.layer1.npy: this image has fewer tensors than the first image");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_rules),
        cmocka_unit_test(test_rates_match_rd),
        cmocka_unit_test(test_distortion_from_decoded),
        cmocka_unit_test(test_score_and_bd),
        cmocka_unit_test(test_bad_metric_files),
        cmocka_unit_test(test_directory_input),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
