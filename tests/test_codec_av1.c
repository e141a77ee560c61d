/* test_codec_av1.c: the AV1 coders (src/codec/codec_av1.c): av1-lossless
 * exact at 1..12 bits, odd sizes and several frames; av1 decoding to the
 * encoder's reconstruction, rate and distortion monotone in QP, the QP's
 * q-index read back from the stream, a QP per frame; every stream also
 * decoded by dav1d (an independent AV1 decoder, used here only) to the same
 * samples; refused inputs and corrupt streams. Real libaom, no mocks. */
#include "testutil.h"

#include <dav1d/dav1d.h>
#include <errno.h>
#include <pthread.h>

#include "codec/codec_internal.h"
#include "codec/codec.h"
#include "codec/pack.h"
#include "codec/quant.h"

enum { SMOOTH, SPIKY, NOISE, SATURATED };

/* A w x h x frames picture: smooth waves (a different phase per frame),
 * uniform noise over the whole range, or SATURATED: the waves steepened and
 * clipped to the range (flat areas at 0 and at the top, like ReLU features
 * quantized to their maximum). SPIKY is SMOOTH with, as NOISE, sample 0 of
 * each frame at the top value and sample 1 at 0, so both ends of the range
 * are coded. */
static FrPicture picture(int w, int h, int frames, int bits, int kind, uint32_t seed)
{
    FrPicture p;
    assert_int_equal(fr_picture_alloc(&p, w, h, frames, bits), 0);
    uint32_t top = (1u << bits) - 1u;
    for (int f = 0; f < frames; f++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double v = 0.5 + 0.4 * sin(0.15 * x + f) * cos(0.11 * y - 0.5 * f);
                if (kind == SATURATED)
                    v = fmin(1, fmax(0, 2.5 * v - 0.75));
                uint32_t s = kind == NOISE ? tu_lcg(&seed) & top : (uint32_t)lrint(v * top);
                p.samples[((size_t)f * h + y) * w + x] = (uint16_t)s;
            }
    for (int f = 0; (kind == SPIKY || kind == NOISE) && f < frames && (size_t)w * h >= 2; f++) {
        p.samples[(size_t)f * w * h] = (uint16_t)top;
        p.samples[(size_t)f * w * h + 1] = 0;
    }
    return p;
}

static size_t nsamples(const FrPicture *p)
{
    return (size_t)p->width * p->height * p->frames;
}

static double mse_frame(const FrPicture *a, const FrPicture *b, int f)
{
    size_t plane = (size_t)a->width * a->height;
    double s = 0;
    for (size_t i = f * plane; i < (f + 1) * plane; i++) {
        double d = (double)a->samples[i] - b->samples[i];
        s += d * d;
    }
    return s / (double)plane;
}

/* Encodes (asserting success) and returns the stream; rec may be NULL. */
static uint8_t *encode(FrCodecKind k, const FrPicture *pic, const FrQpMap *qp,
                       const void *settings, size_t *n, FrPicture *rec)
{
    uint8_t *code;
    FrError e;
    int rc = fr_picture_encode(k, pic, qp, settings, &code, n, rec, &e);
    if (rc)
        fail_msg("%s %dx%dx%d %d-bit: %s", fr_codec_name(k), pic->width, pic->height,
                 pic->frames, pic->bit_depth, e.msg);
    return code;
}

static void decode_ok(FrCodecKind k, const uint8_t *code, size_t n, const FrPicture *like,
                      FrPicture *dec)
{
    FrError e;
    int rc = fr_picture_decode(k, code, n, like->width, like->height, like->frames,
                               like->bit_depth, dec, &e);
    if (rc)
        fail_msg("%s decode: %s", fr_codec_name(k), e.msg);
}

/* ---------------- dav1d: the same streams, another decoder ---------------- */

typedef struct Dav1dInfo {
    int w, h, bpc, mono, yac, all_lossless, still, reduced, profile;
} Dav1dInfo;

/* Decodes one frame's stream with dav1d (single-threaded) into samples
 * (w x h); returns 0, or -1 when dav1d gives no picture. */
static int dav1d_decode(const uint8_t *in, size_t n, int w, int h, uint16_t *samples,
                        Dav1dInfo *info)
{
    Dav1dSettings s;
    dav1d_default_settings(&s);
    s.n_threads = 1;
    s.max_frame_delay = 1;
    Dav1dContext *c = NULL;
    if (dav1d_open(&c, &s))
        return -1;
    Dav1dData d = {0};
    memcpy(dav1d_data_create(&d, n), in, n);
    Dav1dPicture pic = {0};
    int res, got = 0;
    do {
        res = dav1d_send_data(c, &d);
        if (res < 0 && res != DAV1D_ERR(EAGAIN))
            break;
        res = dav1d_get_picture(c, &pic);
        got = res == 0;
    } while (!got && (res == 0 || res == DAV1D_ERR(EAGAIN)) && d.sz);
    if (!got)
        got = dav1d_get_picture(c, &pic) == 0;
    if (d.sz)
        dav1d_data_unref(&d);
    if (got) {
        *info = (Dav1dInfo){pic.p.w, pic.p.h, pic.p.bpc, pic.p.layout == DAV1D_PIXEL_LAYOUT_I400,
                            pic.frame_hdr->quant.yac, pic.frame_hdr->all_lossless,
                            pic.seq_hdr->still_picture, pic.seq_hdr->reduced_still_picture_header,
                            pic.seq_hdr->profile};
        for (int y = 0; got && pic.p.w == w && pic.p.h == h && y < h; y++) {
            const uint8_t *row = (const uint8_t *)pic.data[0] + y * pic.stride[0];
            for (int x = 0; x < w; x++)
                samples[(size_t)y * w + x] =
                    pic.p.bpc > 8 ? ((const uint16_t *)(const void *)row)[x] : row[x];
        }
        dav1d_picture_unref(&pic);
    }
    dav1d_close(&c);
    return got ? 0 : -1;
}

/* The q-index the AV1 bitstream carries for a libaom quantizer (libaom's
 * quantizer_to_qindex table). */
static int qindex_of(int qp)
{
    return qp <= 61 ? 4 * qp : qp == 62 ? 249 : 255;
}

/* dav1d decodes a one-frame stream to exactly want's samples: a still
 * picture with the reduced header, 4:0:0, at the stream depth and profile
 * the picture's bit depth asks for, at q-index want_q. Returns how many
 * of dav1d's samples were above the picture's range (and clipped). */
static size_t assert_dav1d_equal(const uint8_t *code, size_t n, const FrPicture *want, int want_q)
{
    uint16_t *got = calloc((size_t)want->width * want->height, sizeof *got);
    Dav1dInfo info;
    assert_int_equal(dav1d_decode(code, n, want->width, want->height, got, &info), 0);
    int depth = want->bit_depth <= 8 ? 8 : want->bit_depth <= 10 ? 10 : 12;
    assert_int_equal(info.w, want->width);
    assert_int_equal(info.h, want->height);
    assert_int_equal(info.bpc, depth);
    assert_int_equal(info.profile, depth == 12 ? 2 : 0);
    assert_true(info.mono);
    assert_true(info.still);
    assert_true(info.reduced);
    assert_int_equal(info.yac, want_q);
    assert_int_equal(info.all_lossless, want_q == 0);
    /* a lossy picture narrower than its stream is clipped to its range */
    uint16_t top = (uint16_t)((1u << want->bit_depth) - 1u);
    size_t clipped = 0;
    for (size_t i = 0; i < (size_t)want->width * want->height; i++)
        if (got[i] > top) {
            got[i] = top;
            clipped++;
        }
    assert_memory_equal(got, want->samples, (size_t)want->width * want->height * sizeof *got);
    free(got);
    return clipped;
}

/* ---------------- tests ---------------- */

static void test_registered(void **st)
{
    (void)st;
    const FrCodec *a = fr_codec_find("av1"), *l = fr_codec_find("av1-lossless");
    assert_non_null(a);
    assert_non_null(l);
    assert_int_equal(a->id, FR_CODEC_AV1);
    assert_int_equal(l->id, FR_CODEC_AV1_LOSSLESS);
    assert_int_equal(a->caps, FR_CODEC_LOSSY | FR_CODEC_FRAME_QP);
    assert_int_equal(l->caps, FR_CODEC_LOSSLESS);
    assert_int_equal(a->max_bits, 12);
    assert_int_equal(l->max_bits, 12);
    assert_int_equal(a->qp_lo, 1);
    assert_int_equal(a->qp_hi, 63);
    tu_assert_contains(a->qp_doc, "4*qp");
    assert_string_equal(a->library, "libaom");
    assert_true(a->version()[0] == 'v' && strchr(a->version(), '.'));
    print_message("libaom %s, dav1d %s\n", a->version(), dav1d_version());
    /* defaults, labels and refused keys */
    void *s = fr_codec_settings_new(a);
    char buf[128];
    fr_codec_label(a, s, buf, sizeof buf);
    assert_string_equal(buf, "av1");
    assert_int_equal(fr_schema_set_text(a->settings, s, "cpu_used=2", NULL), 0);
    assert_int_equal(fr_schema_set_text(a->settings, s, "cdef=false", NULL), 0);
    fr_codec_label(a, s, buf, sizeof buf);
    assert_string_equal(buf, "av1+cpu_used=2+cdef=false");
    FrError e;
    assert_int_equal(fr_schema_set_text(a->settings, s, "cpu_used=10", &e), FR_E_USAGE);
    tu_assert_contains(e.msg, "av1.cpu_used is 10: use 0..9");
    free(s);
    s = fr_codec_settings_new(l);
    assert_int_equal(fr_schema_set_text(l->settings, s, "cdef=false", &e), FR_E_USAGE);
    tu_assert_contains(e.msg, "av1-lossless has no setting 'cdef'");
    free(s);
}

/* av1-lossless gives back exactly what it coded: native and odd depths,
 * odd sizes, 1x1, several frames, smooth and noisy content. */
static void test_lossless_exact(void **st)
{
    (void)st;
    static const struct { int w, h, frames, bits, kind; } cases[] = {
        {64, 48, 1, 8, SPIKY},  {64, 48, 1, 10, SPIKY}, {64, 48, 1, 12, SPIKY},
        {37, 19, 1, 8, NOISE},   {37, 19, 1, 10, NOISE},  {37, 19, 1, 12, NOISE},
        {13, 7, 3, 8, NOISE},    {13, 7, 3, 10, SPIKY},  {13, 7, 3, 12, NOISE},
        {1, 1, 1, 8, NOISE},     {1, 1, 2, 10, NOISE},    {1, 1, 1, 12, NOISE},
        {37, 19, 1, 9, NOISE},   {37, 19, 1, 11, NOISE},  {13, 7, 2, 1, NOISE},
        {13, 7, 1, 5, SPIKY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FrPicture pic = picture(cases[i].w, cases[i].h, cases[i].frames, cases[i].bits,
                                cases[i].kind, 11u + (uint32_t)i),
                  rec, dec;
        size_t n;
        uint8_t *code = encode(FR_CODEC_AV1_LOSSLESS, &pic, NULL, NULL, &n, &rec);
        decode_ok(FR_CODEC_AV1_LOSSLESS, code, n, &pic, &dec);
        assert_memory_equal(dec.samples, pic.samples, nsamples(&pic) * sizeof *pic.samples);
        assert_memory_equal(rec.samples, pic.samples, nsamples(&pic) * sizeof *pic.samples);
        if (pic.frames == 1)
            assert_dav1d_equal(code, n, &pic, 0);
        free(code);
        fr_picture_free(&pic);
        fr_picture_free(&rec);
        fr_picture_free(&dec);
    }
}

/* A feature packed one channel per frame round-trips through the packing. */
static void test_lossless_frames_packing(void **st)
{
    (void)st;
    FrTensor t;
    assert_int_equal(fr_tensor_alloc(&t, 5, 7, 13), 0);
    uint32_t seed = 5;
    for (size_t i = 0; i < fr_tensor_size(&t); i++)
        t.data[i] = (tu_lcg(&seed) % 3 == 0) ? 0.0f : (float)sin(0.01 * (double)i);
    float mn, mx;
    uint16_t q[5 * 7 * 13], back[5 * 7 * 13];
    assert_int_equal(fr_quant_ranges(&t, FR_RANGE_TENSOR, 0, &mn, &mx, NULL), 0);
    assert_int_equal(fr_quantize(&t, 10, FR_RANGE_TENSOR, &mn, &mx, q, NULL), 0);
    FrPackLayout l;
    FrPicture pic, dec;
    assert_int_equal(fr_pack_layout(FR_PACK_FRAMES, 5, 7, 13, 0, &l, NULL), 0);
    assert_int_equal(fr_pack(q, &l, 10, &pic, NULL), 0);
    assert_int_equal(pic.frames, 5);
    size_t n;
    uint8_t *code = encode(FR_CODEC_AV1_LOSSLESS, &pic, NULL, NULL, &n, NULL);
    decode_ok(FR_CODEC_AV1_LOSSLESS, code, n, &pic, &dec);
    assert_int_equal(fr_unpack(&dec, &l, back, NULL), 0);
    assert_memory_equal(back, q, sizeof q);
    free(code);
    fr_picture_free(&pic);
    fr_picture_free(&dec);
    fr_tensor_free(&t);
}

/* Lossy on a fixed smooth picture: decoder = reconstruction = dav1d, bytes
 * never rise with QP and MSE never falls (both strictly over the range), a
 * small MSE at QP 1, and the same input gives the same stream. At 12 bits
 * the MSE is checked up to QP 48 only: above it libaom's quantizer is so
 * coarse that on this 64x48 picture its choices make the error swing (qp
 * 52: MSE 12686, qp 56: 8168, with 50 and 45 bytes); the bytes still fall. */
static void test_lossy_rd(void **st)
{
    (void)st;
    static const int qps[] = {1, 8, 16, 24, 32, 40, 48, 56, 63};
    static const int depths[] = {8, 10, 12};
    int nq = (int)(sizeof qps / sizeof qps[0]);
    for (int d = 0; d < 3; d++) {
        FrPicture pic = picture(64, 48, 1, depths[d], SMOOTH, 1u);
        double top = (double)((1u << depths[d]) - 1u);
        int mse_upto = depths[d] == 12 ? 48 : 63;
        size_t first = 0, prev_n = SIZE_MAX;
        double prev_mse = -1, first_mse = 0, last_mse = 0;
        for (int i = 0; i < nq; i++) {
            FrQpMap m = {qps[i], NULL, NULL};
            FrPicture rec, dec;
            size_t n, n2;
            uint8_t *code = encode(FR_CODEC_AV1, &pic, &m, NULL, &n, &rec);
            decode_ok(FR_CODEC_AV1, code, n, &pic, &dec);
            assert_memory_equal(dec.samples, rec.samples, nsamples(&pic) * sizeof *pic.samples);
            assert_dav1d_equal(code, n, &rec, qindex_of(qps[i]));
            double mse = mse_frame(&pic, &dec, 0);
            if (n > prev_n || (qps[i] <= mse_upto && mse < prev_mse))
                fail_msg("%d-bit qp %d: %zu bytes, MSE %.3f after %zu bytes, MSE %.3f",
                         depths[d], qps[i], n, mse, prev_n, prev_mse);
            if (i == 0) {
                first = n;
                first_mse = mse;
            }
            if (qps[i] <= mse_upto)
                last_mse = mse;
            if (depths[d] == 10 && (qps[i] == 16 || qps[i] == 32 || qps[i] == 48))
                print_message("av1 64x48 smooth 10-bit qp %d: %zu bytes, MSE %.2f\n", qps[i], n,
                              mse);
            prev_n = n;
            prev_mse = mse;
            uint8_t *again = encode(FR_CODEC_AV1, &pic, &m, NULL, &n2, NULL);
            assert_int_equal(n2, n);
            assert_memory_equal(again, code, n);
            free(again);
            free(code);
            fr_picture_free(&rec);
            fr_picture_free(&dec);
        }
        assert_true(prev_n < first);
        assert_true(last_mse > 100 * first_mse);
        /* lossless costs more than the finest lossy QP */
        size_t nl;
        free(encode(FR_CODEC_AV1_LOSSLESS, &pic, NULL, NULL, &nl, NULL));
        assert_true(nl > first);
        print_message("%d-bit: qp 1 %zu bytes, av1-lossless %zu bytes\n", depths[d], first, nl);
        /* QP 1: an RMS error within about 0.1% of the range, and not lossless */
        assert_true(sqrt(first_mse) < 1e-3 * top + 0.5);
        assert_true(first_mse > 0);
        fr_picture_free(&pic);
    }
}

/* The q-index the stream carries (read by dav1d) is the documented mapping
 * of the QP, including its two irregular top entries. */
static void test_qindex_mapping(void **st)
{
    (void)st;
    static const int qps[] = {1, 2, 17, 33, 50, 61, 62, 63};
    FrPicture pic = picture(16, 16, 1, 10, SMOOTH, 1u);
    for (size_t i = 0; i < sizeof qps / sizeof qps[0]; i++) {
        FrQpMap m = {qps[i], NULL, NULL};
        FrPicture rec;
        size_t n;
        uint8_t *code = encode(FR_CODEC_AV1, &pic, &m, NULL, &n, &rec);
        assert_dav1d_equal(code, n, &rec, qindex_of(qps[i]));
        free(code);
        fr_picture_free(&rec);
    }
    assert_int_equal(qindex_of(61), 244);
    assert_int_equal(qindex_of(62), 249);
    assert_int_equal(qindex_of(63), 255);
    fr_picture_free(&pic);
}

/* Odd sizes, 1x1, odd depths, noise at the coarsest QP and saturated
 * content: the decoder reproduces the reconstruction, and pictures narrower
 * than their stream (1, 5, 7, 9, 11 bits) stay within their range. On the
 * saturated ones dav1d's output overshoots that range (clips: 1) and is
 * clipped like featrd's; at a native depth it cannot (clips: 0). */
static void test_lossy_odd(void **st)
{
    (void)st;
    static const struct { int w, h, frames, bits, qp, kind, clips; } cases[] = {
        {13, 7, 1, 8, 40, NOISE, 0},       {13, 7, 2, 10, 63, NOISE, -1},
        {37, 19, 1, 12, 30, NOISE, 0},     {1, 1, 1, 10, 30, NOISE, 0},
        {1, 1, 1, 8, 63, NOISE, 0},        {37, 19, 1, 9, 63, NOISE, -1},
        {37, 19, 1, 11, 60, NOISE, -1},    {13, 7, 1, 5, 63, NOISE, -1},
        {13, 7, 1, 1, 63, NOISE, -1},      {2, 3, 1, 12, 63, NOISE, 0},
        {37, 19, 1, 9, 30, SATURATED, 1},  {37, 19, 1, 11, 30, SATURATED, 1},
        {37, 19, 1, 7, 30, SATURATED, 1},  {37, 19, 1, 10, 30, SATURATED, 0},
        {37, 19, 2, 9, 40, SATURATED, -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FrPicture pic = picture(cases[i].w, cases[i].h, cases[i].frames, cases[i].bits,
                                cases[i].kind, 100u + (uint32_t)i),
                  rec, dec;
        FrQpMap m = {cases[i].qp, NULL, NULL};
        size_t n;
        uint8_t *code = encode(FR_CODEC_AV1, &pic, &m, NULL, &n, &rec);
        decode_ok(FR_CODEC_AV1, code, n, &pic, &dec);
        assert_memory_equal(dec.samples, rec.samples, nsamples(&pic) * sizeof *pic.samples);
        for (size_t k = 0; k < nsamples(&pic); k++)
            assert_true(dec.samples[k] <= (1u << cases[i].bits) - 1u);
        if (pic.frames == 1) {
            size_t clipped = assert_dav1d_equal(code, n, &rec, qindex_of(cases[i].qp));
            if (cases[i].clips >= 0 && (clipped > 0) != cases[i].clips)
                fail_msg("%d-bit qp %d: %zu samples above the range", cases[i].bits,
                         cases[i].qp, clipped);
        }
        free(code);
        fr_picture_free(&pic);
        fr_picture_free(&rec);
        fr_picture_free(&dec);
    }
}

/* A QP per frame: the frame coded finer has the smaller error, and the
 * other frames are bit-identical (every frame is its own still picture). */
static void test_per_frame_qp(void **st)
{
    (void)st;
    FrPicture pic = picture(32, 24, 3, 10, SMOOTH, 3u), ru, r1;
    int uni[3] = {40, 40, 40}, one[3] = {40, 16, 40};
    FrQpMap mu = {40, uni, NULL}, m1 = {40, one, NULL};
    size_t nu, n1, nc;
    uint8_t *cu = encode(FR_CODEC_AV1, &pic, &mu, NULL, &nu, &ru);
    uint8_t *c1 = encode(FR_CODEC_AV1, &pic, &m1, NULL, &n1, &r1);
    assert_true(n1 > nu);
    assert_true(mse_frame(&pic, &r1, 1) < mse_frame(&pic, &ru, 1));
    size_t plane = 32 * 24;
    assert_memory_equal(r1.samples, ru.samples, plane * sizeof *pic.samples);
    assert_memory_equal(r1.samples + 2 * plane, ru.samples + 2 * plane,
                        plane * sizeof *pic.samples);
    /* a uniform frame_qp is the constant QP, byte for byte */
    FrQpMap mc = {40, NULL, NULL};
    uint8_t *cc = encode(FR_CODEC_AV1, &pic, &mc, NULL, &nc, NULL);
    assert_int_equal(nc, nu);
    assert_memory_equal(cc, cu, nu);
    FrPicture dec;
    decode_ok(FR_CODEC_AV1, c1, n1, &pic, &dec);
    assert_memory_equal(dec.samples, r1.samples, nsamples(&pic) * sizeof *pic.samples);
    free(cu);
    free(c1);
    free(cc);
    fr_picture_free(&dec);
    fr_picture_free(&pic);
    fr_picture_free(&ru);
    fr_picture_free(&r1);
}

/* Each setting changes what libaom writes; the decoder still reproduces
 * the reconstruction. */
static void test_settings_reach_libaom(void **st)
{
    (void)st;
    FrPicture pic = picture(64, 48, 1, 10, SMOOTH, 1u);
    const FrCodec *c = fr_codec_find("av1");
    FrQpMap m = {30, NULL, NULL};
    size_t bn;
    uint8_t *base = encode(FR_CODEC_AV1, &pic, &m, NULL, &bn, NULL);
    const char *sets[] = {"cpu_used=0", "cpu_used=9", "cdef=false"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        void *s = fr_codec_settings_new(c);
        assert_int_equal(fr_schema_set_text(c->settings, s, sets[i], NULL), 0);
        FrPicture rec, dec;
        size_t n;
        uint8_t *code = encode(FR_CODEC_AV1, &pic, &m, s, &n, &rec);
        if (n == bn && !memcmp(code, base, n))
            fail_msg("av1 %s gives the default stream", sets[i]);
        print_message("av1 %s: %zu bytes (default %zu)\n", sets[i], n, bn);
        decode_ok(FR_CODEC_AV1, code, n, &pic, &dec);
        assert_memory_equal(dec.samples, rec.samples, nsamples(&pic) * sizeof *pic.samples);
        free(code);
        free(s);
        fr_picture_free(&rec);
        fr_picture_free(&dec);
    }
    /* av1-lossless: cpu_used changes the stream, never the samples */
    const FrCodec *l = fr_codec_find("av1-lossless");
    void *s = fr_codec_settings_new(l);
    size_t n0, n9;
    uint8_t *c0 = encode(FR_CODEC_AV1_LOSSLESS, &pic, NULL, s, &n0, NULL);
    assert_int_equal(fr_schema_set_text(l->settings, s, "cpu_used=9", NULL), 0);
    uint8_t *c9 = encode(FR_CODEC_AV1_LOSSLESS, &pic, NULL, s, &n9, NULL);
    assert_false(n0 == n9 && !memcmp(c0, c9, n0));
    FrPicture dec;
    decode_ok(FR_CODEC_AV1_LOSSLESS, c9, n9, &pic, &dec);
    assert_memory_equal(dec.samples, pic.samples, nsamples(&pic) * sizeof *pic.samples);
    fr_picture_free(&dec);
    free(c0);
    free(c9);
    free(s);
    free(base);
    fr_picture_free(&pic);
}

static void expect_encode_error(FrCodecKind k, const FrPicture *pic, const FrQpMap *qp,
                                const void *settings, int code, const char *msg)
{
    uint8_t *out = (uint8_t *)&out;
    size_t n = 99;
    FrError e;
    assert_int_equal(fr_picture_encode(k, pic, qp, settings, &out, &n, NULL, &e), code);
    tu_assert_contains(e.msg, msg);
    assert_null(out);
    assert_int_equal(n, 0);
}

static void test_refused(void **st)
{
    (void)st;
    FrPicture pic = picture(16, 8, 2, 10, SMOOTH, 1u);
    FrQpMap q0 = {0, NULL, NULL}, q64 = {64, NULL, NULL};
    expect_encode_error(FR_CODEC_AV1, &pic, &q0, NULL, FR_E_USAGE,
                        "av1: qp 0 is q-index 0, which AV1 codes losslessly: use av1-lossless");
    expect_encode_error(FR_CODEC_AV1, &pic, &q64, NULL, FR_E_USAGE, "use 1..63");
    int fq[2] = {30, 0}, fq64[2] = {30, 64};
    FrQpMap mf = {30, fq, NULL}, mf64 = {30, fq64, NULL};
    expect_encode_error(FR_CODEC_AV1, &pic, &mf, NULL, FR_E_USAGE, "qp 0 of frame 1");
    expect_encode_error(FR_CODEC_AV1, &pic, &mf64, NULL, FR_E_USAGE, "use 1..63");
    int bq[2] = {30, 30};
    FrQpMap mb = {30, NULL, bq};
    expect_encode_error(FR_CODEC_AV1, &pic, &mb, NULL, FR_E_USAGE, "av1 has no QP per block");
    /* a lossless coder ignores the QP, 0 or not */
    size_t n;
    free(encode(FR_CODEC_AV1_LOSSLESS, &pic, &q0, NULL, &n, NULL));
    /* settings out of range, set behind the schema's back */
    const FrCodec *c = fr_codec_find("av1");
    int *s = fr_codec_settings_new(c); /* cpu_used is the first field */
    s[0] = 12;
    expect_encode_error(FR_CODEC_AV1, &pic, NULL, s, FR_E_USAGE, "av1.cpu_used is 12");
    free(s);
    /* bit depth above 12: through the dispatcher and the coder itself */
    FrPicture deep = picture(16, 8, 1, 13, SMOOTH, 1u);
    expect_encode_error(FR_CODEC_AV1, &deep, NULL, NULL, FR_E_USAGE,
                        "av1 codes at most 12-bit samples, not 13");
    expect_encode_error(FR_CODEC_AV1_LOSSLESS, &deep, NULL, NULL, FR_E_USAGE,
                        "av1-lossless codes at most 12-bit samples, not 13");
    uint8_t *out;
    FrError e;
    void *def = fr_codec_settings_new(c);
    assert_int_equal(c->encode(c, def, &deep, &q64, &out, &n, NULL, &e), FR_E_USAGE);
    tu_assert_contains(e.msg, "av1 codes 1..12-bit samples, not 13");
    free(def);
    fr_picture_free(&deep);
    fr_picture_free(&pic);
}

static int decode_rc(FrCodecKind k, const uint8_t *code, size_t n, int w, int h, int frames,
                     int bits, FrError *e)
{
    FrPicture dec;
    int rc = fr_picture_decode(k, code, n, w, h, frames, bits, &dec, e);
    if (!rc) {
        assert_int_equal(dec.width, w);
        assert_int_equal(dec.height, h);
        for (size_t i = 0; i < nsamples(&dec); i++)
            assert_true(dec.samples[i] <= (1u << bits) - 1u);
    }
    fr_picture_free(&dec);
    return rc;
}

/* A stream that does not decode to exactly the asked geometry, or is
 * truncated, damaged or forged, is FR_E_FORMAT and never a crash. */
static void test_corrupt_streams(void **st)
{
    (void)st;
    FrPicture one = picture(64, 48, 1, 10, NOISE, 7u), two = picture(37, 19, 2, 8, SMOOTH, 8u);
    FrQpMap m = {20, NULL, NULL};
    struct { FrCodecKind k; const FrPicture *p; uint8_t *code; size_t n; } s[3] = {
        {FR_CODEC_AV1, &one, NULL, 0},
        {FR_CODEC_AV1_LOSSLESS, &one, NULL, 0},
        {FR_CODEC_AV1, &two, NULL, 0},
    };
    FrError e;
    for (int i = 0; i < 3; i++) {
        s[i].code = encode(s[i].k, s[i].p, &m, NULL, &s[i].n, NULL);
        const FrPicture *p = s[i].p;
        int w = p->width, h = p->height, f = p->frames, b = p->bit_depth;
        assert_int_equal(decode_rc(s[i].k, s[i].code, s[i].n, w, h, f, b, &e), 0);
        /* the wrong geometry or depth */
        assert_int_equal(decode_rc(s[i].k, s[i].code, s[i].n, w - 1, h, f, b, &e), FR_E_FORMAT);
        tu_assert_contains(e.msg, "the stream is for");
        assert_int_equal(decode_rc(s[i].k, s[i].code, s[i].n, w, h + 1, f, b, &e), FR_E_FORMAT);
        assert_int_equal(decode_rc(s[i].k, s[i].code, s[i].n, w, h, f + 1, b, &e), FR_E_FORMAT);
        assert_int_equal(decode_rc(s[i].k, s[i].code, s[i].n, w, h, f, b + 2, &e), FR_E_FORMAT);
        assert_int_equal(decode_rc(s[i].k, s[i].code, s[i].n, w, h, f, 13, &e), FR_E_FORMAT);
        /* every truncation */
        for (size_t t = 0; t < s[i].n; t += 1 + s[i].n / 40)
            if (decode_rc(s[i].k, s[i].code, t, w, h, f, b, &e) != FR_E_FORMAT)
                fail_msg("%s: %zu of %zu bytes decoded", fr_codec_name(s[i].k), t, s[i].n);
        assert_int_equal(decode_rc(s[i].k, s[i].code, s[i].n - 1, w, h, f, b, &e), FR_E_FORMAT);
        /* flipped bytes: FR_E_FORMAT or some picture of the right shape */
        uint32_t seed = 9;
        for (int k = 0; k < 60; k++) {
            size_t at = tu_lcg(&seed) % s[i].n;
            uint8_t old = s[i].code[at];
            s[i].code[at] ^= (uint8_t)(1u << (tu_lcg(&seed) % 8));
            int rc = decode_rc(s[i].k, s[i].code, s[i].n, w, h, f, b, &e);
            if (rc != 0 && rc != FR_E_FORMAT)
                fail_msg("flip at %zu: rc %d (%s)", at, rc, e.msg);
            s[i].code[at] = old;
        }
        /* trailing garbage: an OBU that does not fit */
        uint8_t *longer = malloc(s[i].n + 2);
        memcpy(longer, s[i].code, s[i].n);
        longer[s[i].n] = 0x32; /* OBU type 6 with a size field */
        longer[s[i].n + 1] = 0x7f;
        assert_int_equal(decode_rc(s[i].k, longer, s[i].n + 2, w, h, f, b, &e), FR_E_FORMAT);
        free(longer);
    }
    /* the OBU headers: forbidden bit, no size field */
    uint8_t *c = s[0].code;
    c[0] ^= 0x80;
    assert_int_equal(decode_rc(FR_CODEC_AV1, c, s[0].n, 64, 48, 1, 10, &e), FR_E_FORMAT);
    tu_assert_contains(e.msg, "bad OBU header");
    c[0] ^= 0x80 | 0x02;
    assert_int_equal(decode_rc(FR_CODEC_AV1, c, s[0].n, 64, 48, 1, 10, &e), FR_E_FORMAT);
    c[0] ^= 0x02;
    /* a second, different sequence header (here: a 10-bit one into the
     * 8-bit two-frame stream's last frame) */
    uint8_t *mix = malloc(s[2].n + s[0].n);
    memcpy(mix, s[2].code, s[2].n);
    memcpy(mix + s[2].n, s[0].code, s[0].n);
    assert_int_equal(decode_rc(FR_CODEC_AV1, mix, s[2].n + s[0].n, 37, 19, 2, 8, &e), FR_E_FORMAT);
    tu_assert_contains(e.msg, "second, different sequence header");
    free(mix);
    /* noise, and a lossless stream whose samples exceed the depth asked */
    uint8_t junk[300];
    uint32_t seed = 1;
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)tu_lcg(&seed);
    assert_int_equal(decode_rc(FR_CODEC_AV1, junk, sizeof junk, 64, 48, 1, 10, &e), FR_E_FORMAT);
    assert_int_equal(decode_rc(FR_CODEC_AV1, junk, 0, 64, 48, 1, 10, &e), FR_E_FORMAT);
    assert_int_equal(decode_rc(FR_CODEC_AV1_LOSSLESS, s[1].code, s[1].n, 64, 48, 1, 9, &e),
                     FR_E_FORMAT);
    tu_assert_contains(e.msg, "above 511");
    for (int i = 0; i < 3; i++)
        free(s[i].code);
    fr_picture_free(&one);
    fr_picture_free(&two);
}

typedef struct Job {
    const FrPicture *pic;
    FrCodecKind k;
    uint8_t *code;
    size_t n;
} Job;

static void *job(void *arg)
{
    Job *j = arg;
    FrQpMap m = {27, NULL, NULL};
    j->code = encode(j->k, j->pic, &m, NULL, &j->n, NULL);
    return NULL;
}

/* Workers coding at once get the serial streams. */
static void test_parallel(void **st)
{
    (void)st;
    FrPicture pic = picture(64, 48, 2, 12, SMOOTH, 4u);
    FrCodecKind kinds[3] = {FR_CODEC_AV1, FR_CODEC_AV1_LOSSLESS, FR_CODEC_AV1};
    Job serial[3], par[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        serial[i] = par[i] = (Job){&pic, kinds[i], NULL, 0};
        job(&serial[i]);
    }
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&th[i], NULL, job, &par[i]), 0);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(par[i].n, serial[i].n);
        assert_memory_equal(par[i].code, serial[i].code, serial[i].n);
        free(par[i].code);
        free(serial[i].code);
    }
    fr_picture_free(&pic);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registered),
        cmocka_unit_test(test_lossless_exact),
        cmocka_unit_test(test_lossless_frames_packing),
        cmocka_unit_test(test_lossy_rd),
        cmocka_unit_test(test_qindex_mapping),
        cmocka_unit_test(test_lossy_odd),
        cmocka_unit_test(test_per_frame_qp),
        cmocka_unit_test(test_settings_reach_libaom),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_corrupt_streams),
        cmocka_unit_test(test_parallel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
