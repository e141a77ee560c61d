/* test_lossless_exp.c: seed 000's measurement on tensors with known answers
 * (all zeros, half zeros, random bits), exact decoding by every coder, the
 * paper-layout table printer, and a whole `kind: lossless` run on a tiny
 * network: rows, non-zero rates and rates against a direct computation, and
 * resume (committed layers are not recomputed). */
#include "testutil.h"
#include "codec/codec.h"
#include "kinds/experiments.h"
#include "metrics/metrics.h"
#include "util/csv.h"

#include <math.h>
#include <signal.h>
#include <time.h>

static const FrCodecKind coders[] = {FR_CODEC_GZIP, FR_CODEC_ZLIB, FR_CODEC_BZIP2, FR_CODEC_LZMA,
                                     FR_CODEC_ZSTD};
#define NCODERS 5
#define N (64 * 1024) /* floats: 256 KiB */

static uint64_t rng = 0x243F6A8885A308D3ull;
static uint32_t rnd32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

/* random non-zero floats: random sign/exponent-limited mantissa bits, as
 * incompressible as float data gets */
static float rnd_float(void)
{
    uint32_t b = (rnd32() & 0x807FFFFFu) | (uint32_t)(100 + rnd32() % 50) << 23;
    float f;
    memcpy(&f, &b, 4);
    return f;
}

/* all zeros (a dead ReLU layer): nothing to code, and it must still decode
 * (zstd and lzma reach ratios above 10000:1 here) */
static void test_all_zeros(void **state)
{
    (void)state;
    static float v[N]; /* static: a failing assertion leaks nothing */
    FrError err;
    FrLosslessMeasure m;
    /* all zeros: nothing to code */
    assert_true(fr_nonzero_rate(v, N) == 0.0);
    for (int k = 0; k < NCODERS; k++) {
        if (fr_lossless_measure(coders[k], v, N * 4, 1, &m, &err))
            fail_msg("%s: %s", fr_codec_name(coders[k]), err.msg);
        assert_int_equal(m.original_bytes, N * 4);
        assert_true(m.rate < 0.01);
        assert_true(fabs(m.rate - (double)m.coded_bytes / (N * 4)) < 1e-15);
    }
}

static void test_known_rates(void **state)
{
    (void)state;
    static float v[N];
    FrError err;
    FrLosslessMeasure m;
    /* half zeros (interleaved in runs of 64): rate about the non-zero rate */
    for (int i = 0; i < N; i++)
        v[i] = (i / 64) % 2 ? rnd_float() : 0.0f;
    assert_true(fr_nonzero_rate(v, N) == 0.5);
    for (int k = 0; k < NCODERS; k++) {
        assert_int_equal(fr_lossless_measure(coders[k], v, N * 4, 2, &m, &err), 0);
        if (!(m.rate > 0.40 && m.rate < 0.56))
            fail_msg("%s: half-zero rate %.4f", fr_codec_name(coders[k]), m.rate);
    }
    /* random: incompressible (the exponent byte is biased, so a little) */
    for (int i = 0; i < N; i++)
        v[i] = rnd_float();
    assert_true(fr_nonzero_rate(v, N) == 1.0);
    for (int k = 0; k < NCODERS; k++) {
        assert_int_equal(fr_lossless_measure(coders[k], v, N * 4, 1, &m, &err), 0);
        if (!(m.rate > 0.85 && m.rate < 1.02))
            fail_msg("%s: random rate %.4f", fr_codec_name(coders[k]), m.rate);
    }
}

/* every coder decodes back exactly (checked inside fr_lossless_measure, and
 * here directly), also for odd lengths and the empty buffer */
static void test_exact_decode(void **state)
{
    (void)state;
    size_t lens[] = {0, 1, 7, 4097, 100003};
    uint8_t *buf = malloc(100003);
    for (size_t i = 0; i < 100003; i++)
        buf[i] = (uint8_t)(i % 7 == 0 ? rnd32() : i / 13);
    for (int k = 0; k < NCODERS; k++)
        for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
            uint8_t *enc = NULL, *dec = NULL;
            size_t en, dn;
            FrError err;
            assert_int_equal(fr_lossless_encode(coders[k], buf, lens[l], &enc, &en, &err), 0);
            assert_int_equal(fr_lossless_decode(coders[k], enc, en, &dec, &dn, &err), 0);
            assert_int_equal(dn, lens[l]);
            if (lens[l])
                assert_memory_equal(dec, buf, lens[l]);
            free(enc);
            free(dec);
        }
    free(buf);
}

static char *slurp(const char *path)
{
    uint8_t *d;
    size_t n;
    if (fr_read_file(path, &d, &n, NULL))
        return NULL;
    char *s = realloc(d, n + 1);
    s[n] = 0;
    return s;
}

/* The table printer reproduces the paper's layout from the first row of
 * seed 000 Table II. */
static void test_table_layout(void **state)
{
    (void)state;
    const char *d = tu_tmpdir();
    char csv[512], out[512];
    snprintf(csv, sizeof csv, "%s/lossless.csv", d);
    snprintf(out, sizeof out, "%s/t.txt", d);
    tu_write(csv,
             "layer_index,layer,alias,type,c,h,w,repr,images,volume_bytes,nonzero_mean,"
             "nonzero_std,coder,rate_mean,rate_std,bytes_mean,enc_s_mean,enc_s_std,dec_s_mean,"
             "dec_s_std\n"
             "3,conv_3,conv1,conv,64,224,224,float32,1000,12845056,0.685,0.021,gzip,0.639,0.044,"
             "8208000,2.016,0.345,0.1,0.01\n"
             "3,conv_3,conv1,conv,64,224,224,float32,1000,12845056,0.685,0.021,zlib,0.641,0.044,"
             "8233000,0.521,0.040,0.1,0.01\n"
             "6,max_6,pool1,max,64,112,112,float32,1000,3211264,0.815,0.023,gzip,0.752,0.055,"
             "2400000,0.345,0.050,0.1,0.01\n"
             "30,connected_30,fc1,connected,4096,1,1,float32,1000,16384,0.248,0.046,gzip,0.304,"
             "0.047,4980,0.005204,0.000662,0.001,0.0001\n"
             "30,connected_30,fc1,connected,4096,1,1,float32,1000,16384,0.248,0.046,zlib,0.307,"
             "0.047,5030,0.000537,0.000062,0.001,0.0001\n");
    FILE *f = fopen(out, "w");
    FrError err;
    assert_int_equal(fr_lossless_table(csv, NULL, f, &err), 0);
    fclose(f);
    char *t = slurp(out);
    tu_assert_contains(t, "GZIP");
    tu_assert_contains(t, "ZLIB");
    tu_assert_contains(t, "conv1");
    tu_assert_contains(t, "224 x 224 x 64");
    tu_assert_contains(t, "12.25M");
    tu_assert_contains(t, "0.685±0.021");
    tu_assert_contains(t, "0.639±0.044");
    tu_assert_contains(t, "2.016±0.345");
    tu_assert_contains(t, "0.521±0.040");
    tu_assert_contains(t, "3.0625M"); /* as the paper: M from 2 MiB, K below */
    tu_assert_contains(t, "4096 x 1");
    tu_assert_contains(t, "16K");
    tu_assert_contains(t, "5.204m±0.662m");
    tu_assert_contains(t, "0.537m±0.062m");
    free(t);
    /* a CSV without the columns is a clear error */
    tu_write(csv, "a,b\n1,2\n");
    f = fopen(out, "w");
    assert_int_equal(fr_lossless_table(csv, NULL, f, &err), FR_E_FORMAT);
    fclose(f);
    tu_assert_contains(err.msg, "layer_index");
}

static const char *TINY_CFG =
    "[net]\nheight=16\nwidth=16\nchannels=3\n\n"
    "[convolutional]\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=relu\n\n"
    "[maxpool]\nsize=2\nstride=2\n\n"
    "[connected]\noutput=10\nactivation=linear\n\n"
    "[softmax]\n";

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* A whole run on a random-weight tiny net and three images. */
static void test_run_tiny(void **state)
{
    (void)state;
    const char *d = tu_tmpdir();
    char cfg[512], list[512], yaml[512], text[2048], csvp[512];
    snprintf(cfg, sizeof cfg, "%s/tiny.cfg", d);
    snprintf(list, sizeof list, "%s/list.txt", d);
    snprintf(yaml, sizeof yaml, "%s/exp.yaml", d);
    snprintf(csvp, sizeof csvp, "%s/out/lossless.csv", d);
    tu_write(cfg, TINY_CFG);
    tu_write(list, "/usr/share/darknet/data/dog.jpg\n/usr/share/darknet/data/eagle.jpg\n"
                   "/usr/share/darknet/data/kite.jpg\n");
    snprintf(text, sizeof text,
             "kind: lossless\nmodel:\n  cfg: %s\n  seed: 3\ndataset:\n  images: %s\n"
             "lossless:\n  layers: all\n  coders: [zlib, lzma]\n  quantized_bits: 8\n"
             "output:\n  dir: %s/out\n  plots: false\nquiet: true\n",
             cfg, list, d);
    tu_write(yaml, text);
    FrExperiment *e = NULL;
    FrError err;
    assert_int_equal(fr_config_load(yaml, NULL, 0, &e, &err), 0);
    FrRunOptions o;
    fr_run_options_defaults(&o);
    o.progress = FR_PROGRESS_NONE;
    if (fr_run_lossless(e, &o, &err))
        fail_msg("%s", err.msg);

    FrCsv *csv = NULL;
    assert_int_equal(fr_csv_read(csvp, &csv, &err), 0);
    /* 4 layers x (float32, q8) x 2 coders */
    assert_int_equal(fr_csv_nrows(csv), 16);
    int c_layer = fr_csv_col(csv, "layer_index"), c_repr = fr_csv_col(csv, "repr");
    int c_nz = fr_csv_col(csv, "nonzero_mean"), c_rate = fr_csv_col(csv, "rate_mean");
    int c_coder = fr_csv_col(csv, "coder"), c_vol = fr_csv_col(csv, "volume_bytes");
    assert_true(c_layer >= 0 && c_repr >= 0 && c_nz >= 0 && c_rate >= 0 && c_coder >= 0);

    /* reference: the same features computed directly */
    FrModelSettings ms;
    fr_model_defaults(&ms);
    ms.cfg = cfg;
    ms.seed = 3;
    ms.quiet = 1;
    FrModel *m = NULL;
    assert_int_equal(fr_model_open(&m, &ms, &err), 0);
    double nz[4] = {0}, rate0 = 0;
    const char *imgs[3] = {"/usr/share/darknet/data/dog.jpg", "/usr/share/darknet/data/eagle.jpg",
                           "/usr/share/darknet/data/kite.jpg"};
    for (int i = 0; i < 3; i++) {
        FrTensor rgb = {0}, in = {0};
        assert_int_equal(fr_model_load_image(m, imgs[i], &rgb, &err), 0);
        assert_int_equal(fr_model_prepare_input(m, &rgb, &in), 0);
        assert_int_equal(fr_model_forward(m, &in, &err), 0);
        for (int L = 0; L < 4; L++) {
            FrTensor t = {0};
            assert_int_equal(fr_model_layer_output(m, L, &t), 0);
            nz[L] += fr_nonzero_rate(t.data, fr_tensor_size(&t)) / 3;
            if (L == 0) {
                FrLosslessMeasure mm;
                assert_int_equal(
                    fr_lossless_measure(FR_CODEC_ZLIB, t.data, 4 * fr_tensor_size(&t), 1, &mm, &err),
                    0);
                rate0 += mm.rate / 3;
            }
            fr_tensor_free(&t);
        }
        fr_tensor_free(&rgb);
        fr_tensor_free(&in);
    }
    fr_model_close(&m);
    for (size_t r = 0; r < fr_csv_nrows(csv); r++) {
        long L;
        double v, rate, vol;
        assert_int_equal(fr_csv_get_long(csv, r, c_layer, &L, &err), 0);
        assert_int_equal(fr_csv_get_double(csv, r, c_nz, &v, &err), 0);
        assert_int_equal(fr_csv_get_double(csv, r, c_rate, &rate, &err), 0);
        assert_int_equal(fr_csv_get_double(csv, r, c_vol, &vol, &err), 0);
        int isf = !strcmp(fr_csv_get(csv, r, c_repr), "float32");
        if (isf) {
            if (fabs(v - nz[L]) > 1e-12)
                fail_msg("layer %ld: nonzero %.15g, direct %.15g", L, v, nz[L]);
            if (L == 0 && !strcmp(fr_csv_get(csv, r, c_coder), "zlib"))
                assert_true(fabs(rate - rate0) < 1e-12);
        } else {
            assert_string_equal(fr_csv_get(csv, r, c_repr), "q8");
        }
        if (L == 0)
            assert_true(vol == (isf ? 4.0 : 1.0) * 8 * 16 * 16);
        if (L == 3 && isf) /* softmax: every probability > 0 */
            assert_true(v == 1.0);
        /* coder headers dominate only the 40-byte connected/softmax outputs */
        assert_true(rate > 0 && (vol < 1000 || rate < 1.05));
    }
    /* relu after a random conv zeroes a good share, but not all */
    assert_true(nz[0] > 0.05 && nz[0] < 0.95);
    fr_csv_destroy(&csv);

    /* resume: drop the last layer's rows, run again; earlier rows (their
     * timings included) come back byte for byte, the dropped ones again */
    char *full = slurp(csvp);
    assert_non_null(full);
    assert_int_equal(count_lines(full), 17);
    char *cut = strdup(full), *p = cut;
    for (int i = 0; i < 13; i++)
        p = strchr(p, '\n') + 1;
    *p = 0;
    tu_write(csvp, cut);
    if (fr_run_lossless(e, &o, &err))
        fail_msg("%s", err.msg);
    char *again = slurp(csvp);
    assert_int_equal(count_lines(again), 17);
    assert_memory_equal(again, cut, strlen(cut));
    char tbl[512];
    snprintf(tbl, sizeof tbl, "%s/out/lossless_table.txt", d);
    char *t = slurp(tbl);
    assert_non_null(t);
    tu_assert_contains(t, "Comp. rate");
    tu_assert_contains(t, "LZMA");
    free(t);
    snprintf(tbl, sizeof tbl, "%s/out/lossless_fig4.dat", d);
    t = slurp(tbl);
    assert_non_null(t);
    assert_int_equal(count_lines(t), 2 + 4);
    free(t);
    free(full);
    free(cut);
    free(again);
    char outd[600];
    snprintf(outd, sizeof outd, "%s/out", d);
    tu_assert_run_refused_while_locked(outd, csvp, fr_run_lossless(e, &o, &err), &err);
    fr_experiment_free(&e);
}

/* SIGTERM during a lossless run: it stops between images, keeps the layers
 * already in lossless.csv, says "state: interrupted", exits 143; a rerun
 * finishes with every row. */
static void test_lossless_signal(void **state)
{
    (void)state;
    const char *d = tu_tmpdir();
    char cfg[512], list[512], yaml[512], text[2048], csvp[512], man[512], errp[512];
    snprintf(cfg, sizeof cfg, "%s/tiny.cfg", d);
    snprintf(list, sizeof list, "%s/list.txt", d);
    snprintf(yaml, sizeof yaml, "%s/exp.yaml", d);
    snprintf(csvp, sizeof csvp, "%s/out/lossless.csv", d);
    snprintf(man, sizeof man, "%s/out/manifest.yaml", d);
    snprintf(errp, sizeof errp, "%s/err.txt", d);
    tu_write(cfg, TINY_CFG);
    /* long enough that the run is still going after its first layer */
    FILE *lf = fopen(list, "w");
    assert_non_null(lf);
    for (int i = 0; i < 300; i++)
        fprintf(lf, "/usr/share/darknet/data/%s.jpg\n", i % 2 ? "dog" : "eagle");
    fclose(lf);
    snprintf(text, sizeof text,
             "kind: lossless\nmodel:\n  cfg: %s\n  seed: 3\ndataset:\n  images: %s\n"
             "lossless:\n  layers: all\n  coders: [zlib, lzma]\n"
             "output:\n  dir: %s/out\n  plots: false\nquiet: true\n",
             cfg, list, d);
    tu_write(yaml, text);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        dup2(fd, 2);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        execl(tu_bin(), tu_bin(), "run", yaml, "--quiet", (char *)NULL);
        _exit(127);
    }
    int st = 0;
    while (access(csvp, F_OK) != 0) { /* the first layer is saved */
        assert_int_equal(waitpid(pid, &st, WNOHANG), 0);
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 143);
    char *m = slurp(man);
    assert_non_null(m);
    tu_assert_contains(m, "state: interrupted");
    free(m);
    char *er = slurp(errp);
    tu_assert_contains(er, "interrupted by Terminated; the layers finished so far are saved");
    free(er);
    char *part = slurp(csvp);
    int lines = count_lines(part);
    assert_true(lines >= 3 && lines < 9); /* header + 2 rows per layer, not all 4 layers */
    char *out = NULL;
    assert_int_equal(tu_sh(&out, "'%s' run '%s' --quiet", tu_bin(), yaml), 0);
    free(out);
    char *full = slurp(csvp);
    assert_int_equal(count_lines(full), 9);
    assert_memory_equal(full, part, strlen(part)); /* saved layers kept as they were */
    m = slurp(man);
    tu_assert_contains(m, "state: done");
    free(m);
    free(part);
    free(full);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_zeros),
        cmocka_unit_test(test_known_rates),
        cmocka_unit_test(test_exact_decode),
        cmocka_unit_test(test_table_layout),
        cmocka_unit_test(test_run_tiny),
        cmocka_unit_test(test_lossless_signal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
