/* test_ladder.c: what every registered picture coder must do through the
 * .frd container, checked over the whole registry (so a coder added later is
 * checked without a new test): exact lossless round trips at 8/10/12 bits in
 * every packing, rates that fall as the QP rises on a fixed feature, a QP per
 * channel (packing frames) that orders the per-channel distortion, and the
 * config rule that a lossy coder off x265's QP scale names its own QPs.
 * Every decode is also done the contained way (fr_feature_decode_untrusted)
 * and must give the same tensor. */
#include "testutil.h"
#include "codec/codec.h"
#include "codec/container.h"
#include "codec/pack.h"

/* One coding and decoding; returns the container bytes, fills dec. */
static size_t code(const FrTensor *t, const FrFeatureSettings *s, FrTensor *dec)
{
    uint8_t *frd;
    size_t n;
    FrError e;
    int rc = fr_feature_encode(t, 1, "x", s, &frd, &n, NULL, &e);
    if (rc)
        fail_msg("%s bits %d packing %d qp %d: %s", fr_codec_name(s->codec), s->bits, s->packing,
                 s->qp, e.msg);
    FrTensor *d;
    int nd;
    rc = fr_feature_decode(frd, n, &d, &nd, NULL, &e);
    if (rc)
        fail_msg("decode %s: %s", fr_codec_name(s->codec), e.msg);
    /* the contained decode (a child process, featrd decode's path) gives
     * the same tensor, bit for bit */
    FrTensor *u;
    int nu;
    rc = fr_feature_decode_untrusted(frd, n, &u, &nu, NULL, &e);
    if (rc)
        fail_msg("contained decode %s: %s", fr_codec_name(s->codec), e.msg);
    assert_int_equal(nu, nd);
    assert_int_equal(fr_tensor_size(&u[0]), fr_tensor_size(&d[0]));
    assert_memory_equal(u[0].data, d[0].data, fr_tensor_size(&d[0]) * sizeof(float));
    fr_tensor_free(&u[0]);
    free(u);
    *dec = d[0];
    free(d);
    free(frd);
    return n;
}

/* The quantized samples of the original and of the decoded tensor are equal
 * (what lossless means after the Q-layer). */
static void test_lossless_every_packing(void **st)
{
    (void)st;
    FrTensor t;
    assert_int_equal(fr_tensor_alloc(&t, 7, 13, 11), 0); /* odd sizes: padding everywhere */
    tu_feature_like(&t, 5u);
    int bits[] = {8, 10, 12};
    FrPacking packs[] = {FR_PACK_TILE, FR_PACK_QUILT, FR_PACK_FRAMES, FR_PACK_TILE_SORTED};
    int checked = 0, coders = 0;
    for (int i = 0; i < fr_codec_count(); i++) {
        const FrCodec *c = fr_codec_at(i);
        if (!(c->caps & FR_CODEC_LOSSLESS))
            continue;
        coders++;
        for (int b = 0; b < 3; b++)
            for (int p = 0; p < 4; p++) {
                if (bits[b] > c->max_bits)
                    continue;
                FrFeatureSettings s;
                fr_feature_defaults(&s);
                s.codec = (FrCodecKind)c->id;
                s.bits = bits[b];
                s.packing = packs[p];
                FrTensor d;
                code(&t, &s, &d);
                double mse = fr_feature_mse_nbit(&t, &d, bits[b]);
                if (mse != 0)
                    fail_msg("%s at %d bits, packing %s: MSE %g, not lossless", c->name, bits[b],
                             fr_packing_name(packs[p]), mse);
                fr_tensor_free(&d);
                checked++;
            }
    }
    /* every lossless coder codes 12-bit samples: none was skipped */
    assert_true(coders >= 8);
    assert_int_equal(checked, coders * 3 * 4);
    fr_tensor_free(&t);
}

/* Four QPs spaced geometrically from max(qp_lo, 1) to a quarter of qp_hi:
 * large steps (a coder's small wiggles between neighbouring QPs do not
 * matter) that stay above every coder's floor (JPEG 2000's headers at a
 * high ratio, JPEG-LS's largest NEAR at 8 bits). */
static int ladder_qp(const FrCodec *c, int k, int of)
{
    double a = c->qp_lo > 1 ? c->qp_lo : 1, b = c->qp_hi / 4.0;
    return (int)lround(a * pow(b / a, (double)k / of));
}

/* On a fixed feature, the container shrinks and the n-bit MSE grows as the
 * QP rises. */
static void test_rate_falls_with_qp(void **st)
{
    (void)st;
    FrTensor t;
    assert_int_equal(fr_tensor_alloc(&t, 32, 32, 32), 0);
    tu_feature_like(&t, 9u);
    for (int i = 0; i < fr_codec_count(); i++) {
        const FrCodec *c = fr_codec_at(i);
        if (!(c->caps & FR_CODEC_LOSSY))
            continue;
        for (int bits = 8; bits <= 10; bits += 2) {
            size_t prev = SIZE_MAX;
            double prev_mse = -1;
            for (int k = 0; k < 4; k++) {
                FrFeatureSettings s;
                fr_feature_defaults(&s);
                s.codec = (FrCodecKind)c->id;
                s.bits = bits;
                s.qp = ladder_qp(c, k, 3);
                FrTensor d;
                size_t n = code(&t, &s, &d);
                double mse = fr_feature_mse_nbit(&t, &d, bits);
                if (!(n < prev && mse > prev_mse))
                    fail_msg("%s at %d bits, qp %d: %zu bytes (before %zu), MSE %g (before %g)",
                             c->name, bits, s.qp, n, prev, mse, prev_mse);
                prev = n;
                prev_mse = mse;
                fr_tensor_free(&d);
            }
        }
    }
    fr_tensor_free(&t);
}

/* A QP per channel with packing frames: the coarse channel's error is the
 * largest, the fine one's the smallest, the rest equal the uniform coding's;
 * a coder without a QP per frame is refused with its name. */
static void test_channel_qp_frames(void **st)
{
    (void)st;
    FrTensor t;
    enum { P = 64 * 64 };
    assert_int_equal(fr_tensor_alloc(&t, 6, 64, 64), 0);
    tu_feature_like(&t, 13u);
    for (int i = 0; i < t.c; i++) /* every channel alike, so their errors compare */
        memcpy(t.data + (size_t)i * P, t.data, P * sizeof(float));
    int tested = 0;
    for (int i = 0; i < fr_codec_count(); i++) {
        const FrCodec *c = fr_codec_at(i);
        if (!(c->caps & FR_CODEC_LOSSY))
            continue;
        FrFeatureSettings s;
        fr_feature_defaults(&s);
        s.codec = (FrCodecKind)c->id;
        s.bits = 8;
        s.packing = FR_PACK_FRAMES;
        int mid = ladder_qp(c, 1, 3), qps[6];
        for (int k = 0; k < 6; k++)
            qps[k] = mid;
        qps[1] = ladder_qp(c, 2, 3); /* coarse */
        qps[4] = c->qp_lo;           /* fine */
        s.qp = mid;
        s.channel_qp = qps;
        s.n_channel_qp = 6;
        if (!(c->caps & FR_CODEC_FRAME_QP)) {
            FrError e;
            assert_int_equal(fr_feature_validate(&s, &e), FR_E_USAGE);
            tu_assert_contains(e.msg, c->name);
            continue;
        }
        FrTensor d, u;
        code(&t, &s, &d);
        s.channel_qp = NULL;
        s.n_channel_qp = 0;
        code(&t, &s, &u);
        double e0 = tu_channel_mse(&t, &d, 0), e1 = tu_channel_mse(&t, &d, 1), e4 = tu_channel_mse(&t, &d, 4);
        if (!(e1 > e0 && e0 > e4))
            fail_msg("%s: channel MSE coarse %g, mid %g, fine %g", c->name, e1, e0, e4);
        /* frames are coded independently: the untouched channels are bit-exact
         * with the uniform coding */
        assert_memory_equal(d.data, u.data, P * sizeof(float));
        assert_memory_equal(d.data + 2 * P, u.data + 2 * P, 2 * P * sizeof(float));
        fr_tensor_free(&d);
        fr_tensor_free(&u);
        tested++;
    }
    assert_true(tested >= 5); /* hevc, av1, jxl, j2k, jpegls */
    fr_tensor_free(&t);
}

/* A 9- or 11-bit picture sits in a 10- or 12-bit stream; a lossy coder's
 * overshoot above the picture's maximum is clipped alike in the encoder's
 * reconstruction and the decoder (hevc refused such streams before). */
static void test_odd_depths_clip(void **st)
{
    (void)st;
    for (int i = 0; i < fr_codec_count(); i++) {
        const FrCodec *c = fr_codec_at(i);
        if (!(c->caps & FR_CODEC_LOSSY))
            continue;
        for (int bits = 9; bits <= 11; bits += 2) {
            FrPicture pic, rec, dec;
            assert_int_equal(fr_picture_alloc(&pic, 40, 24, 1, bits), 0);
            uint16_t top = (uint16_t)((1u << bits) - 1u);
            for (int y = 0; y < 24; y++) /* hard edges between black and saturated */
                for (int x = 0; x < 40; x++)
                    pic.samples[y * 40 + x] = ((x / 5 + y / 6) % 2) ? top : 0;
            FrQpMap q = {c->qp_lo + (c->qp_hi - c->qp_lo) / 2, NULL, NULL};
            uint8_t *out;
            size_t n;
            FrError e;
            if (fr_picture_encode((FrCodecKind)c->id, &pic, &q, NULL, &out, &n, &rec, &e))
                fail_msg("%s %d bits: %s", c->name, bits, e.msg);
            if (fr_picture_decode((FrCodecKind)c->id, out, n, 40, 24, 1, bits, &dec, &e))
                fail_msg("%s %d bits: decode: %s", c->name, bits, e.msg);
            assert_int_equal(dec.bit_depth, bits);
            for (int k = 0; k < 40 * 24; k++)
                assert_true(dec.samples[k] <= top);
            assert_memory_equal(dec.samples, rec.samples, 40 * 24 * sizeof(uint16_t));
            free(out);
            fr_picture_free(&pic);
            fr_picture_free(&rec);
            fr_picture_free(&dec);
        }
    }
}

/* A lossy coder with its own QP scale must list its QPs; with them it
 * parses, and a QP out of its range names the range. */
static void test_config_own_qp(void **st)
{
    (void)st;
    for (int i = 0; i < fr_codec_count(); i++) {
        const FrCodec *c = fr_codec_at(i);
        if (!(c->caps & FR_CODEC_LOSSY) || (c->caps & FR_CODEC_X265_QP))
            continue;
        char yaml[1024];
        const char *head = "name: t\nkind: rd\nmodel: {cfg: m.cfg, weights: m.w, task: detection}\n"
                           "dataset: {images: l.txt}\nsweep:\n  split: [conv_1]\n";
        for (int form = 0; form < 3; form++) {
            if (form == 0)
                snprintf(yaml, sizeof yaml, "%s  codec: [%s]\n", head, c->name);
            else if (form == 1)
                snprintf(yaml, sizeof yaml, "%s  codec: [{name: %s, qp: [%d, %d]}]\n", head,
                         c->name, c->qp_lo, c->qp_hi);
            else
                snprintf(yaml, sizeof yaml, "%s  codec: [{name: %s, qp: [%d]}]\n", head, c->name,
                         c->qp_hi + 1);
            FrError e;
            FrExperiment *x = NULL;
            int rc = fr_config_load_string(yaml, "t.yaml", NULL, 0, &x, &e);
            if (form == 1) {
                if (rc)
                    fail_msg("%s: %s", c->name, e.msg);
                assert_int_equal(x->sweep.codec[0].n_qp, 2);
                assert_int_equal(x->sweep.codec[0].qp[1], c->qp_hi);
                fr_experiment_free(&x);
                continue;
            }
            assert_int_equal(rc, FR_E_CONFIG);
            tu_assert_contains(e.msg, form == 0 ? "needs its own qp list" : "QPs from");
            tu_assert_contains(e.msg, c->name);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lossless_every_packing),
        cmocka_unit_test(test_rate_falls_with_qp),
        cmocka_unit_test(test_channel_qp_frames),
        cmocka_unit_test(test_odd_depths_clip),
        cmocka_unit_test(test_config_own_qp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
