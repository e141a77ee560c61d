/* test_codec.c: the coders: lossless round trips at 8/10/12 bits, raw-byte
 * lossless coding, x265 lossy against libde265 (decode = reconstruction,
 * rate and distortion monotone in QP), per-frame and per-tile QP, the
 * RGB anchor, and x265 encoders reused per thread (streams byte-identical
 * to a fresh encoder's). Real x265/libde265/zlib/bzip2/xz/zstd, no mocks. */
#include "testutil.h"

#include <fcntl.h>
#include <math.h>
#include <pthread.h>

#include "codec/codec_internal.h"
#include "codec/codec.h"
#include "codec/pack.h"
#include "codec/quant.h"

/* A smooth, ReLU-sparse feature-like tensor (fixed seed). */
static void feature_like(FrTensor *t, uint32_t seed)
{
    for (int k = 0; k < t->c; k++) {
        double fx = 0.1 + (tu_lcg(&seed) % 100) / 250.0, fy = 0.1 + (tu_lcg(&seed) % 100) / 250.0;
        double ph = (tu_lcg(&seed) % 628) / 100.0, amp = 0.5 + (tu_lcg(&seed) % 100) / 40.0;
        double thr = (tu_lcg(&seed) % 100) / 150.0;
        for (int y = 0; y < t->h; y++)
            for (int x = 0; x < t->w; x++) {
                double v = amp * sin(fx * x + ph) * cos(fy * y - ph) - thr +
                           0.05 * ((tu_lcg(&seed) % 1000) / 1000.0 - 0.5);
                t->data[((size_t)k * t->h + y) * t->w + x] = v > 0 ? (float)v : 0.0f;
            }
    }
}

/* The feature above quantized and packed into an n-bit picture. */
static void feature_picture_as(FrPacking packing, int c, int h, int w, int bits, int tile_pad,
                               FrPicture *pic, FrPackLayout *l)
{
    FrTensor t;
    assert_int_equal(fr_tensor_alloc(&t, c, h, w), 0);
    feature_like(&t, 1234u);
    float mn, mx;
    uint16_t *q = malloc(fr_tensor_size(&t) * 2);
    assert_int_equal(fr_quant_ranges(&t, FR_RANGE_TENSOR, 0, &mn, &mx, NULL), 0);
    assert_int_equal(fr_quantize(&t, bits, FR_RANGE_TENSOR, &mn, &mx, q, NULL), 0);
    assert_int_equal(fr_pack_layout(packing, c, h, w, tile_pad, l, NULL), 0);
    assert_int_equal(fr_pack(q, l, bits, pic, NULL), 0);
    free(q);
    fr_tensor_free(&t);
}

/* ... tile-packed */
static void feature_picture(int c, int h, int w, int bits, int tile_pad, FrPicture *pic,
                            FrPackLayout *l)
{
    feature_picture_as(FR_PACK_TILE, c, h, w, bits, tile_pad, pic, l);
}

static double mse_region(const FrPicture *a, const FrPicture *b, int x0, int y0, int w, int h)
{
    double s = 0;
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++) {
            double d = (double)a->samples[(size_t)y * a->width + x] - b->samples[(size_t)y * b->width + x];
            s += d * d;
        }
    return s / ((double)w * h);
}

static void test_names(void **st)
{
    (void)st;
    const char *names[] = {"hevc", "hevc-lossless", "zlib", "gzip", "bzip2", "lzma", "zstd"};
    for (int i = 0; i < 7; i++) {
        FrCodecKind k;
        assert_int_equal(fr_codec_from_name(names[i], &k, NULL), 0);
        assert_int_equal((int)k, i);
        assert_string_equal(fr_codec_name(k), names[i]);
    }
    FrCodecKind k;
    assert_int_equal(fr_codec_from_name("xz", &k, NULL), 0);
    assert_int_equal(k, FR_CODEC_LZMA);
    FrError e;
    assert_int_equal(fr_codec_from_name("h266", &k, &e), FR_E_USAGE);
    tu_assert_contains(e.msg, "hevc-lossless");
    FrHevcSettings s;
    fr_hevc_defaults(&s);
    assert_int_equal(s.ctu, 16);
    assert_int_equal(s.min_cu, 8);
    assert_int_equal(s.rdoq, 0);
    assert_int_equal(s.sao, 1);
    assert_int_equal(fr_hevc_validate(&s, NULL), 0);
    s.min_cu = 32;
    assert_int_equal(fr_hevc_validate(&s, &e), FR_E_USAGE);
    tu_assert_contains(e.msg, "hevc.min_cu");
}

static void test_lossless_pictures(void **st)
{
    (void)st;
    int depths[] = {8, 10, 12};
    for (int d = 0; d < 3; d++) {
        FrPicture pic;
        FrPackLayout l;
        feature_picture(13, 7, 5, depths[d], 0, &pic, &l);
        /* a few extreme samples so every bit of the range is exercised */
        pic.samples[0] = (uint16_t)((1 << depths[d]) - 1);
        pic.samples[1] = 0;
        for (int k = FR_CODEC_HEVC_LOSSLESS; k < 64; k++) if (fr_codec_caps((FrCodecKind)k) & FR_CODEC_LOSSLESS) {
            uint8_t *code;
            size_t n;
            FrPicture dec;
            FrError e;
            int rc = fr_picture_encode((FrCodecKind)k, &pic, NULL, NULL, &code, &n, NULL, &e);
            if (rc)
                print_error("%s: %s\n", fr_codec_name((FrCodecKind)k), e.msg);
            assert_int_equal(rc, 0);
            assert_true(n > 0);
            assert_int_equal(fr_picture_decode((FrCodecKind)k, code, n, pic.width, pic.height,
                                               pic.frames, pic.bit_depth, &dec, NULL),
                             0);
            assert_memory_equal(dec.samples, pic.samples,
                                (size_t)pic.width * pic.height * pic.frames * 2);
            fr_picture_free(&dec);
            /* a truncated stream is an error, never a crash */
            assert_int_not_equal(fr_picture_decode((FrCodecKind)k, code, n / 2, pic.width,
                                                   pic.height, pic.frames, pic.bit_depth, &dec, &e),
                                 0);
            free(code);
        }
        fr_picture_free(&pic);
    }
}

static void test_lossless_frames(void **st)
{
    (void)st;
    /* frames packing through hevc-lossless: 13 frames, 10 bits */
    FrTensor t;
    assert_int_equal(fr_tensor_alloc(&t, 13, 7, 5), 0);
    feature_like(&t, 99u);
    float mn, mx;
    uint16_t q[13 * 35];
    assert_int_equal(fr_quant_ranges(&t, FR_RANGE_TENSOR, 0, &mn, &mx, NULL), 0);
    assert_int_equal(fr_quantize(&t, 10, FR_RANGE_TENSOR, &mn, &mx, q, NULL), 0);
    FrPackLayout l;
    FrPicture pic, dec;
    assert_int_equal(fr_pack_layout(FR_PACK_FRAMES, 13, 7, 5, 0, &l, NULL), 0);
    assert_int_equal(fr_pack(q, &l, 10, &pic, NULL), 0);
    uint8_t *code;
    size_t n;
    assert_int_equal(fr_picture_encode(FR_CODEC_HEVC_LOSSLESS, &pic, NULL, NULL, &code, &n, NULL, NULL), 0);
    assert_int_equal(fr_picture_decode(FR_CODEC_HEVC_LOSSLESS, code, n, l.width, l.height, l.frames, 10,
                                       &dec, NULL),
                     0);
    uint16_t back[13 * 35];
    assert_int_equal(fr_unpack(&dec, &l, back, NULL), 0);
    assert_memory_equal(back, q, sizeof q);
    free(code);
    fr_picture_free(&pic);
    fr_picture_free(&dec);
    fr_tensor_free(&t);
}

static void test_raw_lossless(void **st)
{
    (void)st;
    FrTensor t;
    assert_int_equal(fr_tensor_alloc(&t, 8, 16, 16), 0);
    feature_like(&t, 5u);
    size_t nb = fr_tensor_size(&t) * 4;
    for (int k = 0; k < 64; k++) if (fr_codec_caps((FrCodecKind)k) & FR_CODEC_BYTES) {
        uint8_t *code, *back;
        size_t n, nback;
        assert_int_equal(fr_lossless_encode((FrCodecKind)k, t.data, nb, &code, &n, NULL), 0);
        assert_true(n < nb); /* ReLU zeros compress */
        assert_int_equal(fr_lossless_decode((FrCodecKind)k, code, n, &back, &nback, NULL), 0);
        assert_int_equal(nback, nb);
        assert_memory_equal(back, t.data, nb);
        free(back);
        FrError e;
        assert_int_equal(fr_lossless_decode((FrCodecKind)k, code, n - 3, &back, &nback, &e),
                         FR_E_FORMAT);
        code[3] ^= 0x40; /* absurd length prefix */
        assert_int_equal(fr_lossless_decode((FrCodecKind)k, code, n, &back, &nback, &e), FR_E_FORMAT);
        free(code);
    }
    uint8_t *code;
    size_t n;
    FrError e;
    assert_int_equal(fr_lossless_encode(FR_CODEC_HEVC, t.data, 16, &code, &n, &e), FR_E_USAGE);
    /* empty input round-trips too */
    assert_int_equal(fr_lossless_encode(FR_CODEC_ZSTD, t.data, 0, &code, &n, NULL), 0);
    uint8_t *back;
    size_t nback;
    assert_int_equal(fr_lossless_decode(FR_CODEC_ZSTD, code, n, &back, &nback, NULL), 0);
    assert_int_equal(nback, 0);
    free(back);
    free(code);
    fr_tensor_free(&t);
}

/* Lossy HEVC on a 64×17×17 feature (a 136×136 tile picture) at QP 22..37. */
static void test_hevc_rd_monotone(void **st)
{
    (void)st;
    int depths[] = {8, 10};
    for (int d = 0; d < 2; d++) {
        FrPicture pic;
        FrPackLayout l;
        feature_picture(64, 17, 17, depths[d], 0, &pic, &l);
        int qps[] = {22, 27, 32, 37};
        size_t prev_n = SIZE_MAX;
        double prev_mse = -1;
        for (int i = 0; i < 4; i++) {
            FrQpMap m = {qps[i], NULL, NULL};
            uint8_t *code;
            size_t n;
            FrPicture rec, dec;
            assert_int_equal(fr_picture_encode(FR_CODEC_HEVC, &pic, &m, NULL, &code, &n, &rec, NULL), 0);
            assert_int_equal(fr_picture_decode(FR_CODEC_HEVC, code, n, pic.width, pic.height, 1,
                                               depths[d], &dec, NULL),
                             0);
            assert_memory_equal(dec.samples, rec.samples, (size_t)pic.width * pic.height * 2);
            double mse = mse_region(&pic, &dec, 0, 0, pic.width, pic.height);
            assert_true(n < prev_n);
            assert_true(mse > prev_mse);
            prev_n = n;
            prev_mse = mse;
            /* same input, same stream: the encoder is deterministic */
            uint8_t *code2;
            size_t n2;
            assert_int_equal(fr_picture_encode(FR_CODEC_HEVC, &pic, &m, NULL, &code2, &n2, NULL, NULL), 0);
            assert_int_equal(n2, n);
            assert_memory_equal(code2, code, n);
            free(code2);
            free(code);
            fr_picture_free(&rec);
            fr_picture_free(&dec);
        }
        fr_picture_free(&pic);
    }
}

/* Encodes the 3×3-tile picture at a uniform block QP, with the centre tile
 * at base - 6, and at plain constant QP. */
static void tile_runs(const FrPicture *pic, const FrHevcSettings *hs, int base, FrPicture *ru,
                      FrPicture *r1, FrPicture *rc, size_t *nu, size_t *n1)
{
    int uni[9], one[9];
    for (int i = 0; i < 9; i++)
        uni[i] = one[i] = base;
    one[4] = base - 6;
    FrQpMap mu = {base, NULL, uni}, m1 = {base, NULL, one}, mc = {base, NULL, NULL};
    uint8_t *cu, *c1, *cc;
    size_t nc;
    assert_int_equal(fr_picture_encode(FR_CODEC_HEVC, pic, &mu, hs, &cu, nu, ru, NULL), 0);
    assert_int_equal(fr_picture_encode(FR_CODEC_HEVC, pic, &m1, hs, &c1, n1, r1, NULL), 0);
    assert_int_equal(fr_picture_encode(FR_CODEC_HEVC, pic, &mc, hs, &cc, &nc, rc, NULL), 0);
    free(cu);
    free(c1);
    free(cc);
}

static void assert_tile_equal(const FrPicture *a, const FrPicture *b, int ty, int tx)
{
    for (int y = ty * 16; y < ty * 16 + 16; y++)
        assert_memory_equal(a->samples + (size_t)y * a->width + tx * 16,
                            b->samples + (size_t)y * b->width + tx * 16, 16 * 2);
}

static void test_hevc_per_tile_qp(void **st)
{
    (void)st;
    /* 9 channels of 14×14 padded to 16: a 3×3 grid of 16×16 tiles. */
    FrPicture pic, ru, r1, rc;
    FrPackLayout l;
    feature_picture(9, 14, 14, 8, 16, &pic, &l);
    assert_int_equal(l.tile_w, 16);
    assert_int_equal(pic.width, 48);
    size_t nu, n1;
    FrHevcSettings hs;
    fr_hevc_defaults(&hs);
    tile_runs(&pic, &hs, 32, &ru, &r1, &rc, &nu, &n1);
    double centre_u = mse_region(&pic, &ru, 16, 16, 16, 16);
    double centre_1 = mse_region(&pic, &r1, 16, 16, 16, 16);
    print_message("per-tile QP: centre MSE %.3f at QP 32, %.3f at QP 26; bytes %zu vs %zu\n",
                  centre_u, centre_1, nu, n1);
    assert_true(centre_1 < centre_u);
    assert_true(n1 > nu);
    /* A tile coded before the centre and not touching it is bit-identical. */
    assert_tile_equal(&r1, &ru, 0, 0);
    fr_picture_free(&ru);
    fr_picture_free(&r1);
    fr_picture_free(&rc);

    /* Without in-loop filters nothing coded before the centre can change
     * (later tiles intra-predict from it, so they may), and the block-QP
     * path at a uniform QP is bit-identical to constant QP. */
    hs.sao = 0;
    hs.deblock = 0;
    tile_runs(&pic, &hs, 32, &ru, &r1, &rc, &nu, &n1);
    assert_true(mse_region(&pic, &r1, 16, 16, 16, 16) < mse_region(&pic, &ru, 16, 16, 16, 16));
    assert_tile_equal(&r1, &ru, 0, 0);
    assert_tile_equal(&r1, &ru, 0, 1);
    assert_tile_equal(&r1, &ru, 0, 2);
    assert_tile_equal(&r1, &ru, 1, 0);
    assert_memory_equal(ru.samples, rc.samples, 48 * 48 * 2);
    fr_picture_free(&ru);
    fr_picture_free(&r1);
    fr_picture_free(&rc);
    fr_picture_free(&pic);
}

static void test_hevc_per_frame_qp(void **st)
{
    (void)st;
    FrTensor t;
    assert_int_equal(fr_tensor_alloc(&t, 4, 24, 24), 0);
    feature_like(&t, 77u);
    float mn, mx;
    uint16_t *q = malloc(fr_tensor_size(&t) * 2);
    assert_int_equal(fr_quant_ranges(&t, FR_RANGE_TENSOR, 0, &mn, &mx, NULL), 0);
    assert_int_equal(fr_quantize(&t, 8, FR_RANGE_TENSOR, &mn, &mx, q, NULL), 0);
    FrPackLayout l;
    FrPicture pic, ru, r1;
    assert_int_equal(fr_pack_layout(FR_PACK_FRAMES, 4, 24, 24, 0, &l, NULL), 0);
    assert_int_equal(fr_pack(q, &l, 8, &pic, NULL), 0);
    int uni[4] = {34, 34, 34, 34}, one[4] = {34, 34, 28, 34};
    FrQpMap mu = {34, uni, NULL}, m1 = {34, one, NULL};
    uint8_t *cu, *c1;
    size_t nu, n1;
    assert_int_equal(fr_picture_encode(FR_CODEC_HEVC, &pic, &mu, NULL, &cu, &nu, &ru, NULL), 0);
    assert_int_equal(fr_picture_encode(FR_CODEC_HEVC, &pic, &m1, NULL, &c1, &n1, &r1, NULL), 0);
    size_t fs = 24 * 24;
    FrPicture f2u = {24, 24, 1, 8, ru.samples + 2 * fs}, f2 = {24, 24, 1, 8, r1.samples + 2 * fs},
              f2o = {24, 24, 1, 8, pic.samples + 2 * fs};
    assert_true(mse_region(&f2o, &f2, 0, 0, 24, 24) < mse_region(&f2o, &f2u, 0, 0, 24, 24));
    /* all-intra: the other frames are unchanged, bit for bit */
    assert_memory_equal(r1.samples, ru.samples, 2 * fs * 2);
    assert_memory_equal(r1.samples + 3 * fs, ru.samples + 3 * fs, fs * 2);
    free(cu);
    free(c1);
    free(q);
    fr_picture_free(&pic);
    fr_picture_free(&ru);
    fr_picture_free(&r1);
    fr_tensor_free(&t);
}

static void test_rgb_anchor(void **st)
{
    (void)st;
    FrTensor img, dec;
    assert_int_equal(fr_tensor_alloc(&img, 3, 37, 45), 0); /* odd size */
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 37; y++)
            for (int x = 0; x < 45; x++)
                img.data[((size_t)c * 37 + y) * 45 + x] =
                    (float)(0.5 + 0.4 * sin(0.2 * x + c) * cos(0.15 * y));
    size_t b22, b37;
    assert_int_equal(fr_hevc_code_rgb(&img, 22, &b22, &dec, NULL), 0);
    assert_int_equal(dec.c, 3);
    assert_int_equal(dec.h, 37);
    assert_int_equal(dec.w, 45);
    double se = 0;
    for (size_t i = 0; i < fr_tensor_size(&img); i++)
        se += (dec.data[i] - img.data[i]) * (dec.data[i] - img.data[i]);
    double psnr = 10 * log10(1.0 / (se / fr_tensor_size(&img)));
    print_message("rgb anchor: QP 22: %zu bytes, PSNR %.2f dB\n", b22, psnr);
    assert_true(psnr > 30);
    fr_tensor_free(&dec);
    assert_int_equal(fr_hevc_code_rgb(&img, 37, &b37, NULL, NULL), 0);
    assert_true(b37 < b22);
    /* conversion alone (reference-yuv): no bits, and coding at QP 0 comes
     * close to it; luma only: a grey image, a 4:0:0 stream smaller than
     * 4:2:0 at the same QP */
    FrRgbCoding cs;
    fr_rgb_coding_defaults(&cs);
    cs.code = 0;
    size_t b0 = 99;
    FrTensor conv, q0;
    assert_int_equal(fr_rgb_code(&img, &cs, &b0, &conv, NULL), 0);
    assert_int_equal(b0, 0);
    cs.code = 1;
    cs.qp = 0;
    assert_int_equal(fr_rgb_code(&img, &cs, &b0, &q0, NULL), 0);
    double sc = 0, sq = 0;
    for (size_t i = 0; i < fr_tensor_size(&img); i++) {
        sc += (conv.data[i] - img.data[i]) * (conv.data[i] - img.data[i]);
        sq += (q0.data[i] - conv.data[i]) * (q0.data[i] - conv.data[i]);
    }
    print_message("conversion alone: PSNR %.2f dB; QP 0 vs conversion %.2f dB\n",
                  10 * log10(fr_tensor_size(&img) / sc), 10 * log10(fr_tensor_size(&img) / sq));
    assert_true(sc > 0 && 10 * log10(fr_tensor_size(&img) / sc) > 30);
    assert_true(sq < sc);
    fr_tensor_free(&conv);
    fr_tensor_free(&q0);
    cs.qp = 22;
    cs.chroma = 400;
    size_t b400;
    FrTensor grey;
    assert_int_equal(fr_rgb_code(&img, &cs, &b400, &grey, NULL), 0);
    assert_true(b400 > 0 && b400 < b22);
    size_t hw = (size_t)37 * 45;
    for (size_t i = 0; i < hw; i++) {
        assert_true(grey.data[i] == grey.data[hw + i]);
        assert_true(grey.data[i] == grey.data[2 * hw + i]);
    }
    fr_tensor_free(&grey);
    cs.chroma = 411;
    assert_int_equal(fr_rgb_code(&img, &cs, &b400, NULL, NULL), FR_E_USAGE);
    fr_tensor_free(&img);
}

/* NAL unit types of an Annex-B stream, in order (start codes 00 00 01). */
static int nal_types(const uint8_t *b, size_t n, int *types, int cap)
{
    int k = 0;
    for (size_t i = 0; i + 3 < n; i++)
        if (b[i] == 0 && b[i + 1] == 0 && b[i + 2] == 1) {
            if (k < cap)
                types[k] = (b[i + 3] >> 1) & 0x3f;
            k++;
            i += 2;
        }
    return k;
}

static int count_type(const int *t, int n, int type)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        c += t[i] == type;
    return c;
}

/* Exactly one VPS (32), SPS (33) and PPS (34) per stream, before the first
 * slice, for one picture, a frame per channel, lossless and the RGB anchor;
 * and the stream sizes recorded before the duplicate was dropped, less the
 * duplicate's 78 bytes (624 bits) at 8-bit, 79 (632 bits) at 10/12-bit. */
static void test_hevc_parameter_sets_once(void **st)
{
    (void)st;
    /* before: bytes with the duplicate (recorded); dup: the duplicate's size */
    struct { int bits, frames, lossless, qp; size_t before, dup; } cases[] = {
        {8, 1, 0, 32, 576, 78}, {10, 1, 0, 32, 576, 79}, {12, 1, 0, 27, 759, 79},
        {8, 1, 1, 0, 3201, 78}, {8, 4, 0, 32, 318, 0},
    };
    size_t ncases = sizeof cases / sizeof cases[0];
    for (size_t c = 0; c < ncases; c++) {
        FrPicture pic;
        FrPackLayout l;
        feature_picture(cases[c].frames > 1 ? 1 : 16, 24, 24, cases[c].bits, 0, &pic, &l);
        if (cases[c].frames > 1) {
            /* frames: the same channel picture repeated, one frame each */
            FrPicture fr;
            assert_int_equal(fr_picture_alloc(&fr, pic.width, pic.height, cases[c].frames, pic.bit_depth), 0);
            for (int f = 0; f < cases[c].frames; f++)
                memcpy(fr.samples + (size_t)f * pic.width * pic.height, pic.samples,
                       (size_t)pic.width * pic.height * sizeof *pic.samples);
            fr_picture_free(&pic);
            pic = fr;
        }
        FrQpMap q = {cases[c].qp, NULL, NULL};
        uint8_t *code;
        size_t n;
        FrPicture dec;
        assert_int_equal(fr_picture_encode(cases[c].lossless ? FR_CODEC_HEVC_LOSSLESS : FR_CODEC_HEVC,
                                           &pic, &q, NULL, &code, &n, NULL, NULL), 0);
        int t[64];
        int nt = nal_types(code, n, t, 64);
        print_message("case %zu: %zu bytes, %d NAL units\n", c, n, nt);
        assert_int_equal(count_type(t, nt, 32), 1);
        assert_int_equal(count_type(t, nt, 33), 1);
        assert_int_equal(count_type(t, nt, 34), 1);
        assert_int_equal(t[0], 32);
        assert_int_equal(t[1], 33);
        assert_int_equal(t[2], 34);
        assert_int_equal(fr_picture_decode(cases[c].lossless ? FR_CODEC_HEVC_LOSSLESS : FR_CODEC_HEVC,
                                           code, n, pic.width, pic.height, pic.frames,
                                           pic.bit_depth, &dec, NULL), 0);
        if (cases[c].lossless)
            assert_memory_equal(dec.samples, pic.samples,
                                (size_t)pic.width * pic.height * pic.frames * sizeof *pic.samples);
        assert_int_equal(n, cases[c].before - cases[c].dup);
        fr_picture_free(&dec);
        fr_picture_free(&pic);
        free(code);
    }
    /* the cloud-only anchor's 4:2:0 stream: 8-bit, keyint 1 */
    uint8_t y[32 * 32], u[16 * 16], v[16 * 16];
    for (int i = 0; i < 32 * 32; i++)
        y[i] = (uint8_t)(16 + (i * 7) % 200);
    memset(u, 128, sizeof u);
    memset(v, 120, sizeof v);
    uint8_t *code;
    size_t n;
    assert_int_equal(fr_x265_encode_i420(y, u, v, 32, 32, 30, NULL, &code, &n, NULL), 0);
    int t[16];
    int nt = nal_types(code, n, t, 16);
    assert_int_equal(nt, 4);
    assert_int_equal(t[0], 32);
    assert_int_equal(t[1], 33);
    assert_int_equal(t[2], 34);
    free(code);
}

/* ---------------- x265 encoders reused per thread ----------------
 *
 * A picture coded on this thread's kept encoder gives the bytes a fresh
 * encoder gives (fr_x265_reuse(0) is today's fresh-per-picture path): over
 * a sequence of varied pictures whose settings come back, so that kept
 * encoders code pictures at POC 1..33 (every residue of x265's POC % 31
 * slice-header bit, both of its values), across sizes, 8/9/10/12 bits, QP,
 * per-frame and per-block QPs, lossless, the HEVC settings that reach the
 * slice header (SAO, deblocking) and others, and multi-frame pictures
 * (fresh encoders) and the 4:2:0 anchor in between. Each stream starts with
 * VPS, SPS, PPS and an IDR and decodes alone to the reconstruction. */

/* A smooth picture with noise, different for every seed. */
static void varied_picture(int w, int h, int frames, int bits, uint32_t seed, FrPicture *p)
{
    assert_int_equal(fr_picture_alloc(p, w, h, frames, bits), 0);
    double top = (1 << bits) - 1;
    for (int f = 0; f < frames; f++) {
        double fx = 0.05 + (tu_lcg(&seed) % 100) / 300.0, fy = 0.05 + (tu_lcg(&seed) % 100) / 300.0;
        double noise = (tu_lcg(&seed) % 100) / 200.0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double v = sin(fx * x + f) * cos(fy * y) + noise * ((tu_lcg(&seed) % 1000) / 1000.0 - 0.5);
                v = v > 0 ? v * top : 0;
                p->samples[((size_t)f * h + y) * w + x] = (uint16_t)(v > top ? top : v);
            }
    }
}

typedef struct ReuseCase {
    int w, h, bits, lossless, qp, per_frame, per_block;
    int sao, deblock, psy, rdoq, tskip, ctu;
} ReuseCase;

/* Codes pic with case c on this thread, reuse on or off. */
static void reuse_code(const ReuseCase *c, const FrPicture *pic, uint32_t seed, int reuse,
                       uint8_t **code, size_t *n, FrPicture *recon)
{
    FrHevcSettings hs;
    fr_hevc_defaults(&hs);
    hs.sao = c->sao;
    hs.deblock = c->deblock;
    hs.psy = c->psy;
    hs.rdoq = c->rdoq;
    hs.tskip = c->tskip;
    hs.ctu = c->ctu;
    int fq[8], nb = ((pic->width + 15) / 16) * ((pic->height + 15) / 16) * pic->frames;
    int *bq = malloc((size_t)nb * sizeof *bq);
    for (int f = 0; f < pic->frames; f++)
        fq[f] = 22 + (int)(tu_lcg(&seed) % 26);
    for (int i = 0; i < nb; i++)
        bq[i] = 20 + (int)(tu_lcg(&seed) % 25);
    FrQpMap q = {c->qp, c->per_frame ? fq : NULL, c->per_block ? bq : NULL};
    int was = fr_x265_reuse(reuse);
    FrError err = {0};
    int rc = fr_picture_encode(c->lossless ? FR_CODEC_HEVC_LOSSLESS : FR_CODEC_HEVC, pic, &q, &hs,
                               code, n, recon, &err);
    fr_x265_reuse(was);
    if (rc)
        fail_msg("encode %dx%d %d-bit: %s", pic->width, pic->height, pic->bit_depth, err.msg);
    free(bq);
}

/* Checks one stream: VPS, SPS, PPS, then an IDR; decodes alone to recon. */
static void reuse_check_stream(const ReuseCase *c, const uint8_t *code, size_t n,
                               const FrPicture *recon)
{
    int t[64];
    int nt = nal_types(code, n, t, 64);
    assert_true(nt >= 4);
    assert_int_equal(t[0], 32);
    assert_int_equal(t[1], 33);
    assert_int_equal(t[2], 34);
    assert_true(t[3] == 19 || t[3] == 20);
    assert_int_equal(count_type(t, nt < 64 ? nt : 64, 33), 1);
    FrPicture dec;
    assert_int_equal(fr_picture_decode(c->lossless ? FR_CODEC_HEVC_LOSSLESS : FR_CODEC_HEVC, code, n,
                                       recon->width, recon->height, recon->frames,
                                       recon->bit_depth, &dec, NULL), 0);
    assert_memory_equal(dec.samples, recon->samples,
                        (size_t)recon->width * recon->height * recon->frames * sizeof *dec.samples);
    fr_picture_free(&dec);
}

static void test_x265_reuse_identical(void **st)
{
    (void)st;
    static const ReuseCase cases[] = {
        /* w   h  bits LL  qp  pf pb sao db psy rdoq tskip ctu */
        {64, 64, 8, 0, 37, 0, 0, 1, 1, 0, 0, 0, 16},   /* the demo's max_7 */
        {96, 96, 10, 1, 0, 0, 0, 1, 1, 0, 0, 0, 16},   /* max_5, lossless */
        {40, 24, 12, 0, 30, 0, 1, 1, 1, 0, 0, 0, 16},  /* per-block QP (CRF path) */
        {64, 64, 10, 0, 32, 1, 0, 1, 1, 0, 0, 0, 16},  /* per-frame QP */
        {8, 8, 8, 0, 27, 0, 0, 1, 1, 0, 0, 0, 16},     /* smaller than a CTU: padded */
        {64, 48, 8, 0, 32, 0, 0, 0, 0, 0, 0, 0, 16},   /* no SAO, no deblocking */
        {64, 48, 8, 0, 47, 0, 0, 0, 1, 0, 0, 0, 16},   /* no SAO */
        {64, 48, 12, 1, 0, 0, 0, 1, 0, 0, 0, 0, 16},   /* no deblocking, lossless */
        {96, 64, 8, 0, 22, 0, 0, 1, 1, 1, 2, 1, 32},   /* psy, RDOQ 2, tskip, CTU 32 */
        {64, 64, 9, 0, 42, 0, 1, 1, 1, 0, 0, 0, 16},   /* 9 bits, coded at 10 */
    };
    int ncases = (int)(sizeof cases / sizeof cases[0]);
    /* kept encoders code pictures at POC 1..rounds (fewer under valgrind) */
    int rounds = getenv("FEATRD_VALGRIND") ? 5 : 33;
    FrX265Stats s0, s1;
    fr_x265_release();
    fr_x265_stats(&s0);
    int coded = 0, multi = 0;
    uint32_t seed = 99;
    /* three cases at a time, interleaved (each keeps its encoder in the
     * cache of 4), with a multi-frame picture and an anchor image among them */
    for (int g = 0; g < ncases; g += 3)
        for (int r = 0; r < rounds; r++)
            for (int k = g; k < g + 3 && k < ncases; k++) {
                const ReuseCase *c = &cases[k];
                int frames = r % 11 == 5 ? 3 : 1;
                FrPicture pic, ra, rb;
                uint8_t *a, *b;
                size_t na, nb;
                uint32_t ps = seed++;
                varied_picture(c->w, c->h, frames, c->bits, ps, &pic);
                reuse_code(c, &pic, ps, 0, &a, &na, &ra);
                reuse_code(c, &pic, ps, 1, &b, &nb, &rb);
                if (na != nb || memcmp(a, b, na))
                    fail_msg("case %d round %d (%d frames): reused stream %zu bytes, fresh %zu", k, r,
                             frames, nb, na);
                assert_memory_equal(rb.samples, ra.samples,
                                    (size_t)ra.width * ra.height * ra.frames * sizeof *ra.samples);
                reuse_check_stream(c, b, nb, &rb);
                coded++;
                multi += frames > 1;
                free(a);
                free(b);
                fr_picture_free(&ra);
                fr_picture_free(&rb);
                fr_picture_free(&pic);
                if (k == g && r % 4 == 1) {
                    /* the cloud-only anchor, 4:2:0 at QP 22..42, in between */
                    uint8_t y[48 * 32 + 128], u[24 * 16 + 128], v[24 * 16 + 128];
                    for (int i = 0; i < 48 * 32; i++)
                        y[i] = (uint8_t)(16 + (tu_lcg(&seed) % 40) + (i % 48) * 3);
                    for (int i = 0; i < 24 * 16; i++) {
                        u[i] = (uint8_t)(100 + tu_lcg(&seed) % 50);
                        v[i] = (uint8_t)(110 + tu_lcg(&seed) % 40);
                    }
                    int qp = 22 + 5 * (r % 5);
                    fr_x265_reuse(0);
                    assert_int_equal(fr_x265_encode_i420(y, u, v, 48, 32, qp, NULL, &a, &na, NULL), 0);
                    fr_x265_reuse(1);
                    assert_int_equal(fr_x265_encode_i420(y, u, v, 48, 32, qp, NULL, &b, &nb, NULL), 0);
                    assert_int_equal(nb, na);
                    assert_memory_equal(b, a, na);
                    uint8_t dy[48 * 32], du[24 * 16], dv[24 * 16];
                    assert_int_equal(fr_de265_decode_i420(b, nb, 48, 32, dy, du, dv, NULL), 0);
                    free(a);
                    free(b);
                }
            }
    fr_x265_stats(&s1);
    long opened = s1.opened - s0.opened, reused = s1.reused - s0.reused;
    long fixed = s1.fixed - s0.fixed;
    print_message("x265 reuse: %d pictures (%d multi-frame), %ld encoders opened, %ld pictures "
                  "on kept ones, %ld slice bits rewritten, %ld fallbacks\n",
                  coded, multi, opened, reused, fixed, s1.fallback - s0.fallback);
    /* reuse is on for x265 3.5 (build 199) only, and FR_X265_REUSE=0 turns
     * it off: then nothing is kept and only the equality above is checked */
    if (!opened && !reused) {
        print_message("x265 reuse: off (not x265 build 199, or FR_X265_REUSE=0)\n");
        fr_x265_release();
        return;
    }
    /* every one-frame picture but each case's first ran on a kept encoder
     * (the anchor's encoders too), and the POC bit needed rewriting on some */
    assert_true(reused >= coded - multi - ncases);
    assert_true(fixed > 0);
    assert_int_equal(s1.fallback - s0.fallback, 0);
    fr_x265_release();
}

typedef struct Job {
    const FrPicture *pic;
    FrCodecKind k;
    uint8_t *code;
    size_t n;
    int rc;
} Job;

static void *encode_job(void *arg)
{
    Job *j = arg;
    FrQpMap m = {27, NULL, NULL};
    j->rc = fr_picture_encode(j->k, j->pic, &m, NULL, &j->code, &j->n, NULL, NULL);
    return NULL;
}

static void test_parallel_calls(void **st)
{
    (void)st;
    /* Workers call the coders at once: each result equals the serial one. */
    FrPicture pic;
    FrPackLayout l;
    feature_picture(64, 17, 17, 10, 0, &pic, &l);
    FrCodecKind kinds[4] = {FR_CODEC_HEVC, FR_CODEC_HEVC_LOSSLESS, FR_CODEC_HEVC, FR_CODEC_LZMA};
    Job serial[4], par[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        serial[i] = (Job){&pic, kinds[i], NULL, 0, 0};
        encode_job(&serial[i]);
        assert_int_equal(serial[i].rc, 0);
        par[i] = (Job){&pic, kinds[i], NULL, 0, 0};
    }
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
    fr_picture_free(&pic);
}

/* ---------------- x265's C kernels against its SIMD kernels ----------------
 *
 * x265 chooses its primitives (C or SIMD, from param->cpuid, i.e. the
 * "asm" option featrd sets from FR_X265_ASM) once per process and bit
 * depth, at the first encoder open: two encodes in one process with
 * different settings run the same kernels. So each variant is encoded by a
 * fresh process (this binary run again with FR_TEST_X265_CHILD), and x265's
 * own log line "using cpu capabilities: ..." from that process's stderr
 * shows which kernels it chose. */

/* What a child encodes: lossy tile pictures at 8 and 12 bits, a lossy
 * multi-frame picture (inter prediction, motion search) at 10 bits, and a
 * lossless one at 10 bits. */
#define X265_CASES 4
static void x265_case(int i, FrPicture *pic, FrCodecKind *k, int *qp)
{
    FrPackLayout l;
    static const int bits[X265_CASES] = {8, 12, 10, 10};
    feature_picture_as(i == 2 ? FR_PACK_FRAMES : FR_PACK_TILE, i == 2 ? 8 : 64, i == 2 ? 24 : 17,
                       i == 2 ? 24 : 17, bits[i], 0, pic, &l);
    *k = i == 3 ? FR_CODEC_HEVC_LOSSLESS : FR_CODEC_HEVC;
    *qp = 27 + 3 * i;
}

/* The child: encodes the cases and writes each stream as an 8-byte length
 * and the bytes to path. Exit status 0 on success. */
static int x265_child(const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 3;
    for (int i = 0; i < X265_CASES; i++) {
        FrPicture pic;
        FrCodecKind k;
        FrQpMap m = {0, NULL, NULL};
        x265_case(i, &pic, &k, &m.qp);
        uint8_t *code = NULL;
        size_t n = 0;
        FrError err = {0};
        if (fr_picture_encode(k, &pic, &m, NULL, &code, &n, NULL, &err)) {
            fprintf(stderr, "case %d: %s\n", i, err.msg);
            return 4;
        }
        uint64_t n64 = n;
        if (fwrite(&n64, sizeof n64, 1, f) != 1 || fwrite(code, 1, n, f) != n)
            return 5;
        free(code);
        fr_picture_free(&pic);
    }
    return fclose(f) ? 5 : 0;
}

static char g_self[4096]; /* this test binary */

/* Runs the child with FR_X265_ASM=asm (NULL: unset, x265's own CPU
 * detection) and x265's log on; returns the streams file's contents and the
 * child's stderr. */
static void x265_variant(const char *asm_opt, const char *dir, uint8_t **streams, size_t *n,
                         char **log)
{
    char out[600], errp[600];
    snprintf(out, sizeof out, "%s/%s.streams", dir, asm_opt ? asm_opt : "auto");
    snprintf(errp, sizeof errp, "%s/%s.log", dir, asm_opt ? asm_opt : "auto");
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (fd < 0 || dup2(fd, 2) < 0)
            _exit(126);
        if (asm_opt)
            setenv("FR_X265_ASM", asm_opt, 1);
        else
            unsetenv("FR_X265_ASM");
        setenv("FR_X265_LOG", "1", 1);
        setenv("FR_TEST_X265_CHILD", out, 1);
        execl(g_self, g_self, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    size_t ln = 0;
    assert_int_equal(fr_read_file(errp, (uint8_t **)log, &ln, NULL), 0);
    *log = realloc(*log, ln + 1);
    (*log)[ln] = 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st))
        fail_msg("x265 child (FR_X265_ASM=%s) failed, status %d:\n%s", asm_opt ? asm_opt : "unset",
                 st, *log);
    assert_int_equal(fr_read_file(out, streams, n, NULL), 0);
}

/* Every "using cpu capabilities: X" line of an x265 log (x265 writes one
 * at each encoder open, from the param->cpuid the kernels were chosen from
 * at the first): how many, and whether all of them say "none!". */
static int cpu_lines(const char *log, int *all_none, char *first, size_t cap)
{
    int count = 0;
    *all_none = 1;
    first[0] = 0;
    for (const char *p = log; (p = strstr(p, "using cpu capabilities: ")) != NULL; count++) {
        p += strlen("using cpu capabilities: ");
        size_t len = strcspn(p, "\n");
        if (!count)
            snprintf(first, cap, "%.*s", (int)len, p);
        if (strncmp(p, "none!", 5))
            *all_none = 0;
        p += len;
    }
    return count;
}

static void test_c_kernels_equal_simd(void **st)
{
    (void)st;
    const char *dir = tu_tmpdir();
    uint8_t *simd = NULL, *c = NULL;
    size_t ns = 0, nc = 0;
    char *log_simd = NULL, *log_c = NULL, caps_simd[256], caps_c[256];
    x265_variant(NULL, dir, &simd, &ns, &log_simd);
    x265_variant("0", dir, &c, &nc, &log_c);
    int none_simd, none_c;
    int lines_simd = cpu_lines(log_simd, &none_simd, caps_simd, sizeof caps_simd);
    int lines_c = cpu_lines(log_c, &none_c, caps_c, sizeof caps_c);
    print_message("x265 SIMD child: %d opens, \"%s\"; C child: %d, \"%s\"; streams %zu bytes\n",
                  lines_simd, caps_simd, lines_c, caps_c, ns);
    if (lines_simd != X265_CASES || lines_c != X265_CASES)
        fail_msg("expected x265's \"using cpu capabilities\" line for each encode; logs:\n%s\n%s",
                 log_simd, log_c);
    assert_true(none_c);        /* FR_X265_ASM=0: C kernels only */
    assert_false(none_simd);    /* default: SIMD kernels (any x86-64 has SSE2) */
    assert_non_null(strstr(caps_simd, "SSE2"));
    /* the same bits from either set of kernels (measured: they are, at
     * 8/10/12 bits, intra and inter, lossy and lossless) */
    assert_true(ns > 100);
    assert_int_equal(ns, nc);
    assert_memory_equal(simd, c, ns);
    free(simd);
    free(c);
    free(log_simd);
    free(log_c);
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *child = getenv("FR_TEST_X265_CHILD");
    if (child)
        return x265_child(child);
    /* the binary to run again for test_c_kernels_equal_simd (not
     * /proc/self/exe: under valgrind that is valgrind) */
    if (!realpath(argv[0], g_self))
        snprintf(g_self, sizeof g_self, "/proc/self/exe");
    /* Under valgrind (make valgrind), x265's C kernels: its SIMD entropy
     * coder makes memcheck lose definedness and report false errors. */
    if (getenv("FEATRD_VALGRIND"))
        setenv("FR_X265_ASM", "0", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_lossless_pictures),
        cmocka_unit_test(test_lossless_frames),
        cmocka_unit_test(test_raw_lossless),
        cmocka_unit_test(test_hevc_rd_monotone),
        cmocka_unit_test(test_hevc_per_tile_qp),
        cmocka_unit_test(test_hevc_per_frame_qp),
        cmocka_unit_test(test_rgb_anchor),
        cmocka_unit_test(test_hevc_parameter_sets_once),
        cmocka_unit_test(test_parallel_calls),
        cmocka_unit_test(test_x265_reuse_identical),
        cmocka_unit_test(test_c_kernels_equal_simd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
