/* test_codec_j2k.c: the JPEG 2000 coders (OpenJPEG): j2k-lossless exact at
 * 1..16 bits, odd sizes, 1x1 and several frames; j2k (9/7 at a compression
 * ratio): decoder = reconstruction, bytes falling and MSE rising over the
 * whole QP range, a QP per frame; the settings; refused inputs; truncated
 * and damaged streams; the header bytes of a 1x1 picture. Real OpenJPEG, no
 * mocks. */
#include "codec_testutil.h"
#include "codec/codec.h"
#include "codec/pack.h"

#include <pthread.h>
#include <signal.h>

static void test_registry_rows(void **st)
{
    (void)st;
    const FrCodec *c = fr_codec_find("j2k"), *l = fr_codec_find("j2k-lossless");
    assert_non_null(c);
    assert_non_null(l);
    assert_int_equal(c->id, FR_CODEC_J2K);
    assert_int_equal(l->id, FR_CODEC_J2K_LOSSLESS);
    assert_int_equal(c->caps, FR_CODEC_LOSSY | FR_CODEC_FRAME_QP);
    assert_int_equal(l->caps, FR_CODEC_LOSSLESS);
    assert_int_equal(c->qp_lo, 2);
    assert_int_equal(c->qp_hi, 255);
    assert_int_equal(c->max_bits, 16);
    assert_int_equal(l->max_bits, 16);
    tu_assert_contains(c->qp_doc, "compression ratio");
    assert_string_equal(c->library, "OpenJPEG");
    assert_memory_equal(c->version(), "2.", 2);
    /* j2k-lossless directly follows j2k in the registry */
    int at = -1;
    for (int i = 0; i < fr_codec_count(); i++)
        if (fr_codec_at(i) == c)
            at = i;
    assert_ptr_equal(fr_codec_at(at + 1), l);
    /* the settings: defaults, labels, refused values */
    void *s = fr_codec_settings_new(c);
    char buf[128] = "";
    fr_codec_settings_format(c, s, 1, " ", buf, sizeof buf);
    assert_string_equal(buf, " resolutions=0 cblk=64");
    FrError e;
    assert_int_equal(fr_schema_set_text(c->settings, s, "cblk=32", &e), 0);
    fr_codec_label(c, s, buf, sizeof buf);
    assert_string_equal(buf, "j2k+cblk=32");
    assert_int_equal(fr_schema_set_text(c->settings, s, "cblk=128", &e), FR_E_USAGE);
    tu_assert_contains(e.msg, "j2k.cblk is 128: use 16, 32 or 64");
    assert_int_equal(fr_schema_set_text(c->settings, s, "resolutions=13", &e), FR_E_USAGE);
    tu_assert_contains(e.msg, "j2k.resolutions is 13: use 0..12");
    free(s);
}

/* Reversible 5/3 gives back every sample: 1..16 bits, random and smooth,
 * odd sizes, 1x1, several frames. */
static void test_lossless_exact(void **st)
{
    (void)st;
    static const int sizes[][3] = {{64, 48, 1}, {13, 7, 1}, {1, 1, 1}, {37, 19, 3}, {2, 5, 2}};
    static const int depths[] = {1, 2, 8, 10, 12, 16};
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++)
        for (size_t d = 0; d < sizeof depths / sizeof depths[0]; d++)
            for (int smooth = 0; smooth < 2; smooth++) {
                FrPicture pic, dec;
                picture(&pic, sizes[z][0], sizes[z][1], sizes[z][2], depths[d], smooth,
                        (uint32_t)(z * 16 + d));
                /* both ends of the range */
                pic.samples[0] = (uint16_t)((1u << depths[d]) - 1u);
                if (sizes[z][0] > 1)
                    pic.samples[1] = 0;
                uint8_t *code;
                size_t n;
                code_and_decode(FR_CODEC_J2K_LOSSLESS, &pic, 0, NULL, &code, &n, &dec);
                assert_memory_equal(dec.samples, pic.samples, samples_bytes(&pic));
                free(code);
                fr_picture_free(&dec);
                fr_picture_free(&pic);
            }
}

/* Every code-block size and resolution count stays exact and reaches the
 * coder (a different stream). */
static void test_lossless_settings(void **st)
{
    (void)st;
    const FrCodec *c = fr_codec_find("j2k-lossless");
    FrPicture pic, dec;
    picture(&pic, 64, 48, 1, 10, 1, 5);
    uint8_t *base;
    size_t bn;
    code_and_decode(FR_CODEC_J2K_LOSSLESS, &pic, 0, NULL, &base, &bn, &dec);
    fr_picture_free(&dec);
    const char *sets[] = {"cblk=16", "cblk=32", "resolutions=1", "resolutions=3",
                          "resolutions=5"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        void *s = fr_codec_settings_new(c);
        assert_int_equal(fr_schema_set_text(c->settings, s, sets[i], NULL), 0);
        uint8_t *code;
        size_t n;
        code_and_decode(FR_CODEC_J2K_LOSSLESS, &pic, 0, s, &code, &n, &dec);
        assert_memory_equal(dec.samples, pic.samples, samples_bytes(&pic));
        if (n == bn && !memcmp(code, base, n))
            fail_msg("j2k-lossless %s gives the default stream", sets[i]);
        free(code);
        fr_picture_free(&dec);
        free(s);
    }
    /* auto = 6 levels on 64x48: resolutions=6 is the same stream */
    void *s = fr_codec_settings_new(c);
    assert_int_equal(fr_schema_set_text(c->settings, s, "resolutions=6", NULL), 0);
    uint8_t *code;
    size_t n;
    code_and_decode(FR_CODEC_J2K_LOSSLESS, &pic, 0, s, &code, &n, &dec);
    assert_int_equal(n, bn);
    assert_memory_equal(code, base, n);
    free(code);
    fr_picture_free(&dec);
    free(s);
    free(base);
    fr_picture_free(&pic);
}

/* Lossy 9/7 on a smooth 64x48 picture, every QP 2..255: decoder =
 * reconstruction, bytes never rise and fall over the range, MSE never
 * falls and rises; MSE at qp 2 is well below one level squared. */
static void test_lossy_rd_monotone(void **st)
{
    (void)st;
    static const int depths[] = {8, 10, 12};
    for (int d = 0; d < 3; d++) {
        FrPicture pic;
        picture(&pic, 64, 48, 1, depths[d], 1, 1);
        size_t prev_n = SIZE_MAX, first_n = 0, last_n = 0;
        double prev_mse = -1, first_mse = 0, last_mse = 0;
        for (int qp = 2; qp <= 255; qp++) {
            uint8_t *code;
            size_t n;
            FrPicture dec;
            code_and_decode(FR_CODEC_J2K, &pic, qp, NULL, &code, &n, &dec);
            double m = mse(&pic, &dec);
            if (n > prev_n || m < prev_mse)
                fail_msg("j2k %d-bit qp %d: %zu bytes, MSE %g after %zu bytes, MSE %g",
                         depths[d], qp, n, m, prev_n, prev_mse);
            if (qp == 2) {
                first_n = n;
                first_mse = m;
            }
            if (depths[d] == 10 && (qp == 5 || qp == 10 || qp == 20 || qp == 40))
                print_message("j2k 64x48 smooth 10-bit qp %d: %zu bytes, MSE %.3f\n", qp, n, m);
            prev_n = last_n = n;
            prev_mse = last_mse = m;
            free(code);
            fr_picture_free(&dec);
        }
        assert_true(first_mse < 0.5);
        assert_true(last_n < first_n / 2);
        assert_true(last_mse > 100 * first_mse);
        fr_picture_free(&pic);
    }
}

/* The ratio is OpenJPEG's: at qp r the stream is about raw / r bytes
 * (headers included; its rate control ends a little short, by up to ~10 %
 * here, more at high ratios, where few coding passes are left to choose
 * from); and the encoder is deterministic. */
static void test_lossy_ratio(void **st)
{
    (void)st;
    FrPicture pic, dec;
    picture(&pic, 64, 48, 1, 10, 0, 9); /* noise: every pass is needed, the ratio binds */
    size_t raw = 64 * 48 * 10 / 8;
    static const int qps[] = {2, 3, 4, 6};
    for (int i = 0; i < 4; i++) {
        uint8_t *code, *again;
        size_t n, n2;
        code_and_decode(FR_CODEC_J2K, &pic, qps[i], NULL, &code, &n, &dec);
        size_t target = raw / (size_t)qps[i];
        if (n > target + target / 32 || n < target - target / 7)
            fail_msg("j2k qp %d: %zu bytes for a target of %zu", qps[i], n, target);
        FrQpMap m = {qps[i], NULL, NULL};
        assert_int_equal(fr_picture_encode(FR_CODEC_J2K, &pic, &m, NULL, &again, &n2, NULL, NULL),
                         0);
        assert_int_equal(n2, n);
        assert_memory_equal(again, code, n);
        free(again);
        free(code);
        fr_picture_free(&dec);
    }
    fr_picture_free(&pic);
}

/* A QP per frame: each frame is coded at its own ratio, and the stream is
 * the frames' streams joined with LEB128 lengths. */
static void test_frame_qp(void **st)
{
    (void)st;
    FrPicture pic, dec, rec;
    picture(&pic, 37, 19, 3, 10, 1, 2);
    int fq[3] = {4, 60, 12};
    FrQpMap m = {30, fq, NULL};
    uint8_t *code;
    size_t n;
    assert_int_equal(fr_picture_encode(FR_CODEC_J2K, &pic, &m, NULL, &code, &n, &rec, NULL), 0);
    assert_int_equal(fr_picture_decode(FR_CODEC_J2K, code, n, 37, 19, 3, 10, &dec, NULL), 0);
    assert_memory_equal(dec.samples, rec.samples, samples_bytes(&pic));
    size_t sum = 0;
    double frame_mse[3];
    for (int f = 0; f < 3; f++) {
        FrPicture one = {37, 19, 1, 10, pic.samples + (size_t)f * 37 * 19}, odec;
        FrPicture drow = {37, 19, 1, 10, dec.samples + (size_t)f * 37 * 19};
        uint8_t *c1;
        size_t n1;
        code_and_decode(FR_CODEC_J2K, &one, fq[f], NULL, &c1, &n1, &odec);
        assert_memory_equal(odec.samples, drow.samples, 37 * 19 * 2);
        sum += n1 + (f < 2 ? leb128_len(n1) : 0);
        frame_mse[f] = mse(&one, &odec);
        free(c1);
        fr_picture_free(&odec);
    }
    assert_int_equal(n, sum);
    assert_true(frame_mse[0] < frame_mse[2]);
    assert_true(frame_mse[2] < frame_mse[1]);
    /* a frame's QP out of range names it */
    FrError e;
    fq[1] = 256;
    fr_picture_free(&rec);
    free(code);
    assert_int_equal(fr_picture_encode(FR_CODEC_J2K, &pic, &m, NULL, &code, &n, &rec, &e),
                     FR_E_USAGE);
    tu_assert_contains(e.msg, "j2k: qp 256 of a frame is out of range: use 2..255");
    fr_picture_free(&dec);
    fr_picture_free(&pic);
}

static void test_refused(void **st)
{
    (void)st;
    const FrCodec *c = fr_codec_find("j2k");
    FrPicture pic;
    picture(&pic, 13, 7, 1, 8, 1, 3);
    uint8_t *code;
    size_t n;
    FrError e;
    FrQpMap q1 = {1, NULL, NULL}, q256 = {256, NULL, NULL};
    assert_int_equal(fr_picture_encode(FR_CODEC_J2K, &pic, &q1, NULL, &code, &n, NULL, &e),
                     FR_E_USAGE);
    tu_assert_contains(e.msg, "j2k: qp 1 is out of range: use 2..255");
    assert_int_equal(fr_picture_encode(FR_CODEC_J2K, &pic, &q256, NULL, &code, &n, NULL, &e),
                     FR_E_USAGE);
    int blocks[1] = {10};
    FrQpMap qb = {10, NULL, blocks};
    assert_int_equal(fr_picture_encode(FR_CODEC_J2K, &pic, &qb, NULL, &code, &n, NULL, &e),
                     FR_E_USAGE);
    tu_assert_contains(e.msg, "j2k has no QP per block");
    /* 17 bits: by the dispatcher, and by the coder itself */
    pic.bit_depth = 17;
    assert_int_equal(fr_picture_encode(FR_CODEC_J2K_LOSSLESS, &pic, NULL, NULL, &code, &n, NULL,
                                       &e),
                     FR_E_USAGE);
    void *s = fr_codec_settings_new(c);
    FrQpMap q10 = {10, NULL, NULL};
    assert_int_equal(c->encode(c, s, &pic, &q10, &code, &n, NULL, &e), FR_E_USAGE);
    tu_assert_contains(e.msg, "j2k codes 1..16-bit samples, not 17");
    pic.bit_depth = 8;
    /* more resolution levels than 13x7 holds (3): refused, not reduced */
    assert_int_equal(fr_schema_set_text(c->settings, s, "resolutions=4", NULL), 0);
    assert_int_equal(fr_picture_encode(FR_CODEC_J2K, &pic, &q10, s, &code, &n, NULL, &e),
                     FR_E_USAGE);
    tu_assert_contains(e.msg, "j2k: resolutions=4 needs a picture of at least 8x8, not 13x7: "
                              "use at most 3 (or 0)");
    assert_int_equal(fr_schema_set_text(c->settings, s, "resolutions=3", NULL), 0);
    assert_int_equal(fr_picture_encode(FR_CODEC_J2K, &pic, &q10, s, &code, &n, NULL, &e), 0);
    free(code);
    /* settings out of range given directly are refused by the coder too */
    memset(s, 0, c->settings->size);
    assert_int_equal(fr_picture_encode(FR_CODEC_J2K, &pic, &q10, s, &code, &n, NULL, &e),
                     FR_E_USAGE);
    tu_assert_contains(e.msg, "j2k.cblk");
    free(s);
    fr_picture_free(&pic);
}

/* A stream decoded as another geometry, depth or mode is FR_E_FORMAT. */
static void test_wrong_geometry(void **st)
{
    (void)st;
    FrPicture pic, dec;
    picture(&pic, 37, 19, 1, 10, 1, 4);
    uint8_t *code, *lcode;
    size_t n, ln;
    code_and_decode(FR_CODEC_J2K, &pic, 8, NULL, &code, &n, &dec);
    fr_picture_free(&dec);
    code_and_decode(FR_CODEC_J2K_LOSSLESS, &pic, 0, NULL, &lcode, &ln, &dec);
    fr_picture_free(&dec);
    static const int geo[][4] = {{38, 19, 1, 10}, {37, 18, 1, 10}, {37, 19, 1, 12},
                                 {37, 19, 1, 8},  {37, 19, 2, 10}, {19, 37, 1, 10}};
    FrError e;
    for (size_t i = 0; i < sizeof geo / sizeof geo[0]; i++) {
        assert_int_equal(fr_picture_decode(FR_CODEC_J2K, code, n, geo[i][0], geo[i][1], geo[i][2],
                                           geo[i][3], &dec, &e),
                         FR_E_FORMAT);
        assert_int_equal(fr_picture_decode(FR_CODEC_J2K_LOSSLESS, lcode, ln, geo[i][0], geo[i][1],
                                           geo[i][2], geo[i][3], &dec, &e),
                         FR_E_FORMAT);
    }
    /* a 9/7 stream is not a lossless one, nor the reverse */
    assert_int_equal(fr_picture_decode(FR_CODEC_J2K_LOSSLESS, code, n, 37, 19, 1, 10, &dec, &e),
                     FR_E_FORMAT);
    tu_assert_contains(e.msg, "reversible 5/3");
    assert_int_equal(fr_picture_decode(FR_CODEC_J2K, lcode, ln, 37, 19, 1, 10, &dec, &e),
                     FR_E_FORMAT);
    free(code);
    free(lcode);
    fr_picture_free(&pic);
}

typedef struct Damage {
    FrCodecKind k;
    const uint8_t *code;
    size_t n;
    int w, h, frames, bits;
} Damage;

/* Every truncation is FR_E_FORMAT; every one-bit flip is FR_E_FORMAT or a
 * picture; a flip in the SIZ geometry is FR_E_FORMAT. Exit status: 0 or
 * the failing case (in a child, so a hang or crash is a failure too). */
static int damage_all(void *arg)
{
    const Damage *d = arg;
    FrPicture dec;
    FrError e;
    for (size_t t = 0; t < d->n; t++)
        if (fr_picture_decode(d->k, d->code, t, d->w, d->h, d->frames, d->bits, &dec, &e) !=
            FR_E_FORMAT)
            return 1;
    uint8_t *c = malloc(d->n);
    for (size_t i = 0; i < d->n; i++)
        for (int b = 0; b < 8; b += 3) {
            memcpy(c, d->code, d->n);
            c[i] ^= (uint8_t)(1u << b);
            int rc = fr_picture_decode(d->k, c, d->n, d->w, d->h, d->frames, d->bits, &dec, &e);
            if (rc == 0)
                fr_picture_free(&dec);
            else if (rc != FR_E_FORMAT)
                return 2;
            /* SIZ: Xsiz..YOsiz, the tile offsets, Csiz, Ssiz, XRsiz, YRsiz
             * (bytes 8..23 and 32..44 of the first frame) */
            if (d->frames == 1 && ((i >= 8 && i < 24) || (i >= 32 && i < 45)) && rc == 0)
                return 3;
        }
    free(c);
    return 0;
}

static void test_damaged_streams(void **st)
{
    (void)st;
    static const struct { FrCodecKind k; int w, h, frames, bits, qp; } cases[] = {
        {FR_CODEC_J2K, 37, 19, 1, 10, 6},          {FR_CODEC_J2K_LOSSLESS, 37, 19, 1, 8, 0},
        {FR_CODEC_J2K_LOSSLESS, 13, 7, 3, 12, 0},  {FR_CODEC_J2K, 1, 1, 1, 16, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FrPicture pic, dec;
        picture(&pic, cases[i].w, cases[i].h, cases[i].frames, cases[i].bits, 1, 7);
        uint8_t *code;
        size_t n;
        code_and_decode(cases[i].k, &pic, cases[i].qp, NULL, &code, &n, &dec);
        Damage d = {cases[i].k, code, n, cases[i].w, cases[i].h, cases[i].frames, cases[i].bits};
        int rc = in_child(damage_all, &d, 60);
        if (rc)
            fail_msg("%s case %zu: damaged streams: failure %d (1: a truncation decoded, 2: not "
                     "FR_E_FORMAT, 3: a SIZ flip decoded, >256: signal)",
                     fr_codec_name(cases[i].k), i, rc);
        free(code);
        fr_picture_free(&dec);
        fr_picture_free(&pic);
    }
}

/* A 1x1 picture: the codestream is SOC, SIZ, COD, QCD, SOT, SOD, the
 * packet data, EOC: 81 bytes of markers (lossy: 82, QCD holds 2 bytes per
 * subband), no COM (OpenJPEG writes one; it is cut out). */
static void test_header_bytes(void **st)
{
    (void)st;
    for (int lossy = 0; lossy < 2; lossy++) {
        FrPicture pic, dec;
        picture(&pic, 1, 1, 1, 8, 1, 0);
        uint8_t *code;
        size_t n;
        code_and_decode(lossy ? FR_CODEC_J2K : FR_CODEC_J2K_LOSSLESS, &pic, lossy ? 10 : 0, NULL,
                        &code, &n, &dec);
        assert_memory_equal(dec.samples, pic.samples, 2);
        static const unsigned markers[] = {0xff51, 0xff52, 0xff5c, 0xff90};
        const unsigned lens[] = {43, 14, lossy ? 7u : 6u, 12};
        assert_int_equal(rd16(code), 0xff4f);
        size_t p = 2;
        for (int i = 0; i < 4; i++) {
            assert_int_equal(rd16(code + p), markers[i]);
            assert_int_equal(rd16(code + p + 2) + 2, lens[i]);
            p += lens[i];
        }
        assert_int_equal(rd16(code + p), 0xff93);
        assert_int_equal(rd16(code + n - 2), 0xffd9);
        size_t data = n - p - 2 - 2;
        print_message("%s 1x1 8-bit: %zu bytes = %zu of markers + %zu of packet data\n",
                      lossy ? "j2k" : "j2k-lossless", n, n - data, data);
        assert_int_equal(n - data, lossy ? 82 : 81);
        assert_true(data >= 1 && data <= 8);
        free(code);
        fr_picture_free(&dec);
        fr_picture_free(&pic);
    }
}

typedef struct Job {
    const FrPicture *pic;
    FrCodecKind k;
    int qp;
    uint8_t *code;
    size_t n;
    int rc;
} Job;

static void *encode_job(void *arg)
{
    Job *j = arg;
    FrQpMap m = {j->qp, NULL, NULL};
    j->rc = fr_picture_encode(j->k, j->pic, &m, NULL, &j->code, &j->n, NULL, NULL);
    return NULL;
}

/* Four threads at once give the serial streams, even with OpenJPEG's
 * thread-count variable set (featrd asks for no threads). */
static void test_parallel_deterministic(void **st)
{
    (void)st;
    FrPicture pic;
    picture(&pic, 64, 48, 2, 12, 1, 6);
    Job serial[4], par[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        serial[i] = (Job){&pic, i % 2 ? FR_CODEC_J2K_LOSSLESS : FR_CODEC_J2K, 3 + 7 * i, NULL, 0, 0};
        encode_job(&serial[i]);
        assert_int_equal(serial[i].rc, 0);
        par[i] = serial[i];
        par[i].code = NULL;
    }
    setenv("OPJ_NUM_THREADS", "4", 1);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, encode_job, &par[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(par[i].rc, 0);
        assert_int_equal(par[i].n, serial[i].n);
        assert_memory_equal(par[i].code, serial[i].code, serial[i].n);
        free(par[i].code);
        free(serial[i].code);
    }
    unsetenv("OPJ_NUM_THREADS");
    fr_picture_free(&pic);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_rows),
        cmocka_unit_test(test_lossless_exact),
        cmocka_unit_test(test_lossless_settings),
        cmocka_unit_test(test_lossy_rd_monotone),
        cmocka_unit_test(test_lossy_ratio),
        cmocka_unit_test(test_frame_qp),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_wrong_geometry),
        cmocka_unit_test(test_damaged_streams),
        cmocka_unit_test(test_header_bytes),
        cmocka_unit_test(test_parallel_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
