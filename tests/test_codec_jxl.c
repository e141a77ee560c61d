/* test_codec_jxl.c: the JPEG XL coders (libjxl, no mocks): jxl-lossless
 * exact at every bit depth 1..16, odd sizes, 1x1 and several frames; jxl
 * (lossy): the decoder reproduces the reconstruction, rate falls and
 * distortion rises over a QP ladder, QP per frame; the settings reach
 * libjxl; refused inputs; corrupt and truncated streams are FR_E_FORMAT,
 * never a crash or a large allocation; threads give the serial streams. */
#include "testutil.h"

#include <pthread.h>

#include "codec/codec_internal.h"
#include "codec/codec.h"
#include "codec/pack.h"

/* Noise over the whole range, 0 and the top sample included. */
static void fill_random(FrPicture *p, uint32_t seed)
{
    size_t n = (size_t)p->width * p->height * p->frames;
    uint32_t top = (1u << p->bit_depth) - 1u;
    for (size_t i = 0; i < n; i++)
        p->samples[i] = (uint16_t)(tu_lcg(&seed) & top);
    p->samples[0] = (uint16_t)top;
    if (n > 1)
        p->samples[n - 1] = 0;
}

/* A smooth wave (a different phase per frame), most of the range. */
static void fill_smooth(FrPicture *p)
{
    uint32_t top = (1u << p->bit_depth) - 1u;
    for (int f = 0; f < p->frames; f++)
        for (int y = 0; y < p->height; y++)
            for (int x = 0; x < p->width; x++) {
                double v = 0.5 + 0.35 * sin(0.13 * x + f) * cos(0.11 * y);
                p->samples[((size_t)f * p->height + y) * p->width + x] = (uint16_t)lrint(v * top);
            }
}

static double mse(const FrPicture *a, const FrPicture *b)
{
    size_t n = (size_t)a->width * a->height * a->frames;
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a->samples[i] - b->samples[i];
        s += d * d;
    }
    return s / (double)n;
}

static size_t bytes_of(const FrPicture *p)
{
    return (size_t)p->width * p->height * p->frames * sizeof(uint16_t);
}

static void *settings_with(const char *codec, const char *kv)
{
    const FrCodec *c = fr_codec_find(codec);
    void *s = fr_codec_settings_new(c);
    assert_non_null(s);
    if (kv)
        assert_int_equal(fr_schema_set_text(c->settings, s, kv, NULL), 0);
    return s;
}

static void test_jxl_registry(void **st)
{
    (void)st;
    const FrCodec *j = fr_codec_find("jxl"), *l = fr_codec_find("jxl-lossless");
    assert_non_null(j);
    assert_non_null(l);
    assert_int_equal(j->id, FR_CODEC_JXL);
    assert_int_equal(l->id, FR_CODEC_JXL_LOSSLESS);
    assert_ptr_equal(fr_codec_by_id(9), j);
    assert_ptr_equal(fr_codec_by_id(10), l);
    assert_int_equal(j->caps, FR_CODEC_LOSSY | FR_CODEC_FRAME_QP);
    assert_int_equal(l->caps, FR_CODEC_LOSSLESS);
    assert_int_equal(j->max_bits, 16);
    assert_int_equal(l->max_bits, 16);
    assert_int_equal(j->qp_lo, 1);
    assert_int_equal(j->qp_hi, 250);
    tu_assert_contains(j->qp_doc, "qp 10 = distance 1.0");
    assert_string_equal(j->library, "libjxl");
    /* libjxl's own version, "major.minor.patch" */
    const char *v = j->version();
    unsigned a, b, c;
    assert_int_equal(sscanf(v, "%u.%u.%u", &a, &b, &c), 3);
    assert_true(a > 0 || b >= 7);
    assert_string_equal(l->version(), v);
    /* the one setting: effort, default 7 (libjxl's), 1..9 */
    int *s = settings_with("jxl", NULL);
    assert_int_equal(*s, 7);
    FrError e;
    assert_int_equal(fr_schema_set_text(j->settings, s, "effort=10", &e), FR_E_USAGE);
    tu_assert_contains(e.msg, "jxl.effort is 10: use 1..9");
    assert_int_equal(fr_schema_set_text(l->settings, s, "effort=0", &e), FR_E_USAGE);
    tu_assert_contains(e.msg, "jxl-lossless.effort is 0: use 1..9");
    char label[64];
    assert_int_equal(fr_schema_set_text(j->settings, s, "effort=3", NULL), 0);
    fr_codec_label(j, s, label, sizeof label);
    assert_string_equal(label, "jxl+effort=3");
    free(s);
}

/* Encodes with c and decodes at the picture's own geometry; the stream
 * size goes to *n. rec (may be NULL) gets the reconstruction. */
static void code(FrCodecKind k, const FrPicture *p, const FrQpMap *qp, const void *s, size_t *n,
                 FrPicture *rec, FrPicture *dec)
{
    uint8_t *out;
    FrError e;
    int rc = fr_picture_encode(k, p, qp, s, &out, n, rec, &e);
    if (rc)
        fail_msg("%s %dx%dx%d at %d bits: %s", fr_codec_name(k), p->width, p->height, p->frames,
                 p->bit_depth, e.msg);
    assert_true(*n > 0);
    rc = fr_picture_decode(k, out, *n, p->width, p->height, p->frames, p->bit_depth, dec, &e);
    if (rc)
        fail_msg("%s decode: %s", fr_codec_name(k), e.msg);
    free(out);
}

/* jxl-lossless: exact at every depth 1..16, for odd sizes, 1x1 and three
 * frames, on noise and on smooth content. */
static void test_jxl_lossless_exact(void **st)
{
    (void)st;
    static const int sizes[][3] = {{64, 48, 1}, {13, 7, 3}, {1, 1, 1}, {37, 19, 2}};
    for (int bits = 1; bits <= 16; bits++)
        for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++)
            for (int smooth = 0; smooth < 2; smooth++) {
                FrPicture p, d;
                assert_int_equal(fr_picture_alloc(&p, sizes[z][0], sizes[z][1], sizes[z][2], bits),
                                 0);
                if (smooth)
                    fill_smooth(&p);
                else
                    fill_random(&p, 17u * (uint32_t)bits + (uint32_t)z);
                size_t n;
                code(FR_CODEC_JXL_LOSSLESS, &p, NULL, NULL, &n, NULL, &d);
                if (memcmp(d.samples, p.samples, bytes_of(&p)))
                    fail_msg("jxl-lossless %dx%dx%d at %d bits (%s) is not exact", p.width,
                             p.height, p.frames, bits, smooth ? "smooth" : "noise");
                if (bits == 10 && z == 0 && smooth)
                    print_message("jxl-lossless: 64x48 smooth 10-bit: %zu bytes\n", n);
                fr_picture_free(&p);
                fr_picture_free(&d);
            }
}

/* Every frame is a bare codestream (signature FF 0A), no container:
 * lossless above 12 bits, which libjxl wraps in boxes to mark level 10,
 * too; its codestream alone decodes exactly. A lossless 1x1 frame is
 * 23..24 bytes at every depth (the boxes would add 49 above 12 bits). */
static void test_jxl_bare_codestream(void **st)
{
    (void)st;
    int depths[] = {8, 12, 13, 16};
    for (int k = 0; k < 2; k++)
        for (int d = 0; d < 4; d++)
            for (int z = 0; z < 2; z++) {
                FrCodecKind kind = k ? FR_CODEC_JXL_LOSSLESS : FR_CODEC_JXL;
                FrPicture p, dec;
                assert_int_equal(fr_picture_alloc(&p, z ? 64 : 1, z ? 48 : 1, 1, depths[d]), 0);
                fill_random(&p, 3u + (uint32_t)d);
                FrQpMap qp = {10, NULL, NULL};
                uint8_t *out;
                size_t n;
                assert_int_equal(fr_picture_encode(kind, &p, &qp, NULL, &out, &n, NULL, NULL), 0);
                if (n < 2 || out[0] != 0xff || out[1] != 0x0a)
                    fail_msg("%s %dx%d at %d bits: not a bare codestream (%02x %02x ...)",
                             fr_codec_name(kind), p.width, p.height, depths[d], out[0], out[1]);
                if (!z && k)
                    assert_true(n < 30); /* 23..24 */
                assert_int_equal(fr_picture_decode(kind, out, n, p.width, p.height, 1, depths[d],
                                                   &dec, NULL),
                                 0);
                if (k)
                    assert_memory_equal(dec.samples, p.samples, bytes_of(&p));
                free(out);
                fr_picture_free(&p);
                fr_picture_free(&dec);
            }
}

/* The frames packing of a 13-channel feature (frames > 1 through the
 * packer) comes back exactly; the per-frame streams are joined, so the
 * stream is no longer a single codestream and decoding it as fewer frames
 * fails. */
static void test_jxl_lossless_frames_packing(void **st)
{
    (void)st;
    enum { C = 13, H = 7, W = 5 };
    uint16_t q[C * H * W], back[C * H * W];
    uint32_t seed = 5;
    for (int i = 0; i < C * H * W; i++)
        q[i] = (uint16_t)(i % 37 * 20 + tu_lcg(&seed) % 9); /* 10-bit */
    FrPackLayout l;
    FrPicture pic, dec;
    assert_int_equal(fr_pack_layout(FR_PACK_FRAMES, C, H, W, 0, &l, NULL), 0);
    assert_int_equal(fr_pack(q, &l, 10, &pic, NULL), 0);
    assert_int_equal(pic.frames, C);
    uint8_t *out;
    size_t n;
    assert_int_equal(fr_picture_encode(FR_CODEC_JXL_LOSSLESS, &pic, NULL, NULL, &out, &n, NULL,
                                       NULL),
                     0);
    assert_int_equal(fr_picture_decode(FR_CODEC_JXL_LOSSLESS, out, n, l.width, l.height, l.frames,
                                       10, &dec, NULL),
                     0);
    assert_int_equal(fr_unpack(&dec, &l, back, NULL), 0);
    assert_memory_equal(back, q, sizeof q);
    fr_picture_free(&dec);
    FrError e;
    assert_int_equal(fr_picture_decode(FR_CODEC_JXL_LOSSLESS, out, n, l.width, l.height,
                                       l.frames - 1, 10, &dec, &e),
                     FR_E_FORMAT);
    assert_int_equal(fr_picture_decode(FR_CODEC_JXL_LOSSLESS, out, n, l.width, l.height,
                                       l.frames + 1, 10, &dec, &e),
                     FR_E_FORMAT);
    free(out);
    fr_picture_free(&pic);
}

/* jxl on a 64x48 smooth picture over a QP ladder: the decoder gives the
 * reconstruction bit for bit, the encoder is deterministic, bytes never
 * rise and fall overall, MSE never falls and rises overall; at qp 1
 * (distance 0.1) the RMSE is under 0.1% of the range. (libjxl is not
 * monotone at every single QP step on a picture this small: see
 * docs/codec.md; the ladder roughly doubles the distance each step.) */
static void test_jxl_lossy_rd(void **st)
{
    (void)st;
    static const int qps[] = {1, 2, 5, 10, 20, 40, 80, 160, 250};
    enum { NQ = sizeof qps / sizeof qps[0] };
    int depths[] = {8, 10, 12, 16};
    for (int d = 0; d < 4; d++) {
        FrPicture p;
        assert_int_equal(fr_picture_alloc(&p, 64, 48, 1, depths[d]), 0);
        fill_smooth(&p);
        double top = (double)((1u << depths[d]) - 1u);
        size_t n[NQ];
        double m[NQ];
        for (int i = 0; i < NQ; i++) {
            FrQpMap qp = {qps[i], NULL, NULL};
            FrPicture rec, dec;
            code(FR_CODEC_JXL, &p, &qp, NULL, &n[i], &rec, &dec);
            assert_memory_equal(dec.samples, rec.samples, bytes_of(&p));
            m[i] = mse(&p, &dec);
            uint8_t *a, *b;
            size_t na, nb;
            assert_int_equal(fr_picture_encode(FR_CODEC_JXL, &p, &qp, NULL, &a, &na, NULL, NULL), 0);
            assert_int_equal(fr_picture_encode(FR_CODEC_JXL, &p, &qp, NULL, &b, &nb, NULL, NULL), 0);
            assert_int_equal(na, n[i]);
            assert_int_equal(nb, na);
            assert_memory_equal(a, b, na);
            free(a);
            free(b);
            if (i > 0 && n[i] > n[i - 1])
                fail_msg("jxl %d bits: qp %d gives %zu bytes, more than qp %d (%zu)", depths[d],
                         qps[i], n[i], qps[i - 1], n[i - 1]);
            if (i > 0 && m[i] < m[i - 1])
                fail_msg("jxl %d bits: qp %d gives MSE %g, less than qp %d (%g)", depths[d],
                         qps[i], m[i], qps[i - 1], m[i - 1]);
            fr_picture_free(&rec);
            fr_picture_free(&dec);
        }
        print_message("jxl %2d bits 64x48 smooth: qp 1/10/40/250: %zu/%zu/%zu/%zu bytes, "
                      "MSE %.3g/%.3g/%.3g/%.3g\n", depths[d], n[0], n[3], n[5], n[NQ - 1], m[0],
                      m[3], m[5], m[NQ - 1]);
        assert_true(n[NQ - 1] < n[0] / 3);
        assert_true(m[NQ - 1] > 100 * m[0]);
        assert_true(sqrt(m[0]) < 1e-3 * top);
        fr_picture_free(&p);
    }
}

/* Odd sizes and 1x1 code lossily too; with a QP per frame, the frame at
 * the lower QP has the lower error, and each frame is coded alone (the
 * other frames' reconstruction does not change). */
static void test_jxl_lossy_sizes_and_frame_qp(void **st)
{
    (void)st;
    static const int sizes[][2] = {{13, 7}, {1, 1}, {37, 19}};
    for (size_t z = 0; z < 3; z++) {
        FrPicture p, rec, dec;
        assert_int_equal(fr_picture_alloc(&p, sizes[z][0], sizes[z][1], 3, 10), 0);
        fill_smooth(&p);
        FrQpMap qp = {30, NULL, NULL};
        size_t n;
        code(FR_CODEC_JXL, &p, &qp, NULL, &n, &rec, &dec);
        assert_memory_equal(dec.samples, rec.samples, bytes_of(&p));
        assert_true(mse(&p, &dec) < 100); /* 10-bit, distance 3 */
        fr_picture_free(&rec);
        fr_picture_free(&dec);
        fr_picture_free(&p);
    }
    FrPicture p, ru, r1, d1;
    assert_int_equal(fr_picture_alloc(&p, 37, 19, 3, 10), 0);
    fill_smooth(&p);
    int uni[3] = {60, 60, 60}, one[3] = {60, 5, 60};
    FrQpMap mu = {60, uni, NULL}, m1 = {60, one, NULL};
    size_t nu, n1;
    code(FR_CODEC_JXL, &p, &mu, NULL, &nu, &ru, &d1);
    fr_picture_free(&d1);
    code(FR_CODEC_JXL, &p, &m1, NULL, &n1, &r1, &d1);
    assert_memory_equal(d1.samples, r1.samples, bytes_of(&p));
    size_t fs = 37 * 19;
    FrPicture fo = {37, 19, 1, 10, p.samples + fs}, fu = {37, 19, 1, 10, ru.samples + fs},
              f1 = {37, 19, 1, 10, r1.samples + fs};
    assert_true(mse(&fo, &f1) * 4 < mse(&fo, &fu));
    assert_true(n1 > nu);
    assert_memory_equal(r1.samples, ru.samples, fs * 2);
    assert_memory_equal(r1.samples + 2 * fs, ru.samples + 2 * fs, fs * 2);
    fr_picture_free(&p);
    fr_picture_free(&ru);
    fr_picture_free(&r1);
    fr_picture_free(&d1);
}

/* effort reaches libjxl in both modes: another stream, still decodable
 * (lossless still exact); 9 is denser than 1 on lossless noise-free data. */
static void test_jxl_effort_reaches_coder(void **st)
{
    (void)st;
    FrPicture p;
    assert_int_equal(fr_picture_alloc(&p, 64, 48, 1, 10), 0);
    fill_smooth(&p);
    const char *names[] = {"jxl", "jxl-lossless"};
    for (int k = 0; k < 2; k++) {
        const FrCodec *c = fr_codec_find(names[k]);
        FrQpMap qp = {20, NULL, NULL};
        uint8_t *o[3];
        size_t n[3];
        const char *sets[3] = {NULL, "effort=3", "effort=9"};
        for (int i = 0; i < 3; i++) {
            void *s = settings_with(names[k], sets[i]);
            FrPicture rec, dec;
            assert_int_equal(fr_picture_encode((FrCodecKind)c->id, &p, &qp, s, &o[i], &n[i], &rec,
                                               NULL),
                             0);
            assert_int_equal(fr_picture_decode((FrCodecKind)c->id, o[i], n[i], 64, 48, 1, 10, &dec,
                                               NULL),
                             0);
            assert_memory_equal(dec.samples, rec.samples, bytes_of(&p));
            if (c->caps & FR_CODEC_LOSSLESS)
                assert_memory_equal(dec.samples, p.samples, bytes_of(&p));
            fr_picture_free(&rec);
            fr_picture_free(&dec);
            free(s);
        }
        for (int i = 1; i < 3; i++)
            if (n[i] == n[0] && !memcmp(o[i], o[0], n[0]))
                fail_msg("%s %s gives the default stream", names[k], sets[i]);
        if (c->caps & FR_CODEC_LOSSLESS)
            assert_true(n[2] < n[1]);
        for (int i = 0; i < 3; i++)
            free(o[i]);
    }
    fr_picture_free(&p);
}

static void test_jxl_refusals(void **st)
{
    (void)st;
    const FrCodec *j = fr_codec_find("jxl");
    FrPicture p;
    assert_int_equal(fr_picture_alloc(&p, 16, 8, 2, 10), 0);
    fill_smooth(&p);
    uint8_t *out;
    size_t n;
    FrError e;
    /* a depth over 16 (the coder itself, and the dispatch in front of it) */
    void *s = settings_with("jxl", NULL);
    p.bit_depth = 17;
    assert_int_equal(j->encode(j, s, &p, NULL, &out, &n, NULL, &e), FR_E_USAGE);
    tu_assert_contains(e.msg, "jxl codes 1..16-bit samples, not 17");
    assert_int_equal(fr_picture_encode(FR_CODEC_JXL_LOSSLESS, &p, NULL, NULL, &out, &n, NULL, &e),
                     FR_E_USAGE);
    p.bit_depth = 10;
    /* QP outside 1..250, per picture and per frame */
    int bad[] = {0, 251, -1};
    for (int i = 0; i < 3; i++) {
        FrQpMap qp = {bad[i], NULL, NULL};
        assert_int_equal(fr_picture_encode(FR_CODEC_JXL, &p, &qp, NULL, &out, &n, NULL, &e),
                         FR_E_USAGE);
        tu_assert_contains(e.msg, "use 1..250");
        assert_null(out);
    }
    int fq[2] = {30, 300};
    FrQpMap mf = {30, fq, NULL};
    assert_int_equal(fr_picture_encode(FR_CODEC_JXL, &p, &mf, NULL, &out, &n, NULL, &e),
                     FR_E_USAGE);
    tu_assert_contains(e.msg, "qp 300 of a frame is out of range");
    /* no QP per block */
    int blocks[2] = {30, 30};
    FrQpMap mb = {30, NULL, blocks};
    assert_int_equal(fr_picture_encode(FR_CODEC_JXL, &p, &mb, NULL, &out, &n, NULL, &e),
                     FR_E_USAGE);
    tu_assert_contains(e.msg, "jxl has no QP per block");
    /* settings out of range handed straight to the coder */
    *(int *)s = 12;
    assert_int_equal(fr_picture_encode(FR_CODEC_JXL, &p, NULL, s, &out, &n, NULL, &e), FR_E_USAGE);
    tu_assert_contains(e.msg, "jxl.effort is 12");
    free(s);
    /* a stream decoded at another geometry or depth */
    assert_int_equal(fr_picture_encode(FR_CODEC_JXL, &p, NULL, NULL, &out, &n, NULL, NULL), 0);
    FrPicture d;
    static const int geo[][4] = {{17, 8, 2, 10}, {16, 9, 2, 10}, {16, 8, 2, 9}, {16, 8, 2, 11},
                                 {16, 8, 1, 10}, {16, 8, 3, 10}, {16, 8, 2, 17}, {0, 8, 2, 10}};
    for (size_t i = 0; i < sizeof geo / sizeof geo[0]; i++) {
        int rc = fr_picture_decode(FR_CODEC_JXL, out, n, geo[i][0], geo[i][1], geo[i][2],
                                   geo[i][3], &d, &e);
        if (rc != FR_E_FORMAT)
            fail_msg("geometry %zu: rc %d, want FR_E_FORMAT", i, rc);
        assert_null(d.samples);
    }
    /* both decoders read any grey codestream of the right geometry: a lossy
     * stream decodes through jxl-lossless too (the container's codec id
     * tells the two apart) */
    assert_int_equal(fr_picture_decode(FR_CODEC_JXL_LOSSLESS, out, n, 16, 8, 2, 10, &d, NULL), 0);
    fr_picture_free(&d);
    free(out);
    fr_picture_free(&p);
}

/* Decodes in: FR_E_FORMAT, 0 when every sample is in range, or BAD (any
 * other code, or a sample above the depth). No cmocka assertion here: it
 * runs in a forked child too. */
enum { BAD = 99 };
static int decode_checked(FrCodecKind k, const uint8_t *in, size_t n, int w, int h, int f, int bits)
{
    FrPicture d;
    int rc = fr_picture_decode(k, in, n, w, h, f, bits, &d, NULL);
    if (rc == 0) {
        for (size_t i = 0; i < (size_t)w * h * f; i++)
            if (d.samples[i] >> bits)
                rc = BAD;
        fr_picture_free(&d);
    } else if (rc != FR_E_FORMAT) {
        rc = BAD;
    }
    return rc;
}

typedef struct {
    FrCodecKind k;
    uint8_t *code;
    size_t n;
    int frames;
    int formats; /* how many one-byte flips came back FR_E_FORMAT */
} Damage;

/* Truncations, one byte more, every byte flipped in turn, and (one frame)
 * the signature and size header flipped by one bit: 0, or which check
 * failed. */
static int damage_all(void *arg)
{
    Damage *g = arg;
    uint8_t *c = malloc(g->n + 1);
    if (!c)
        return 1;
    memcpy(c, g->code, g->n);
    int rc = 0;
    size_t cuts[] = {0, 1, 2, 3, 5, g->n / 4, g->n / 2, g->n - 2, g->n - 1};
    for (size_t i = 0; !rc && i < sizeof cuts / sizeof cuts[0]; i++)
        if (decode_checked(g->k, c, cuts[i], 37, 19, g->frames, 12) != FR_E_FORMAT)
            rc = 10;
    c[g->n] = 0x5a;
    if (!rc && decode_checked(g->k, c, g->n + 1, 37, 19, g->frames, 12) != FR_E_FORMAT)
        rc = 11;
    g->formats = 0;
    for (size_t i = 0; !rc && i < g->n; i++) {
        c[i] ^= 0x55;
        int r = decode_checked(g->k, c, g->n, 37, 19, g->frames, 12);
        if (r == BAD)
            rc = 12;
        g->formats += r == FR_E_FORMAT;
        c[i] ^= 0x55;
    }
    for (size_t i = 0; !rc && g->frames == 1 && i < 3; i++) {
        c[i] ^= 0x01;
        if (decode_checked(g->k, c, g->n, 37, 19, 1, 12) != FR_E_FORMAT)
            rc = 13 + (int)i;
        c[i] ^= 0x01;
    }
    free(c);
    return rc;
}

/* Damaged streams of both coders, one frame and two, in a child whose
 * address space may grow by at most 256 MiB (a decoder believing a corrupt
 * header would ask for more). */
static void test_jxl_corrupt_streams(void **st)
{
    (void)st;
    FrCodecKind kinds[] = {FR_CODEC_JXL, FR_CODEC_JXL_LOSSLESS};
    for (int k = 0; k < 2; k++)
        for (int frames = 1; frames <= 2; frames++) {
            FrPicture p;
            assert_int_equal(fr_picture_alloc(&p, 37, 19, frames, 12), 0);
            fill_smooth(&p);
            FrQpMap qp = {20, NULL, NULL};
            Damage g = {kinds[k], NULL, 0, frames, 0};
            assert_int_equal(fr_picture_encode(kinds[k], &p, &qp, NULL, &g.code, &g.n, NULL, NULL),
                             0);
            int rc = tu_run_limited((size_t)256 << 20, damage_all, &g);
            if (rc != 0)
                fail_msg("%s, %d frame(s): damaged streams: check %d failed (or the child died)",
                         fr_codec_name(kinds[k]), frames, rc);
            /* and in this process, for the count */
            assert_int_equal(damage_all(&g), 0);
            print_message("%s, %d frame(s): %zu bytes, %d of %zu one-byte flips refused\n",
                          fr_codec_name(kinds[k]), frames, g.n, g.formats, g.n);
            assert_true(g.formats > 0);
            free(g.code);
            fr_picture_free(&p);
        }
}

typedef struct {
    const FrPicture *p;
    FrCodecKind k;
    uint8_t *out;
    size_t n;
    int rc;
} Job;

static void *job_run(void *arg)
{
    Job *j = arg;
    FrQpMap qp = {15, NULL, NULL};
    j->rc = fr_picture_encode(j->k, j->p, &qp, NULL, &j->out, &j->n, NULL, NULL);
    return NULL;
}

/* Four threads at once give the serial streams byte for byte. */
static void test_jxl_threads(void **st)
{
    (void)st;
    FrPicture p;
    assert_int_equal(fr_picture_alloc(&p, 64, 48, 2, 10), 0);
    fill_smooth(&p);
    for (int k = 0; k < 2; k++) {
        FrCodecKind kind = k ? FR_CODEC_JXL_LOSSLESS : FR_CODEC_JXL;
        Job serial = {&p, kind, NULL, 0, 0}, jobs[4];
        job_run(&serial);
        assert_int_equal(serial.rc, 0);
        pthread_t t[4];
        for (int i = 0; i < 4; i++) {
            jobs[i] = (Job){&p, kind, NULL, 0, -1};
            assert_int_equal(pthread_create(&t[i], NULL, job_run, &jobs[i]), 0);
        }
        for (int i = 0; i < 4; i++) {
            pthread_join(t[i], NULL);
            assert_int_equal(jobs[i].rc, 0);
            assert_int_equal(jobs[i].n, serial.n);
            assert_memory_equal(jobs[i].out, serial.out, serial.n);
            free(jobs[i].out);
        }
        free(serial.out);
    }
    fr_picture_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jxl_registry),
        cmocka_unit_test(test_jxl_lossless_exact),
        cmocka_unit_test(test_jxl_bare_codestream),
        cmocka_unit_test(test_jxl_lossless_frames_packing),
        cmocka_unit_test(test_jxl_lossy_rd),
        cmocka_unit_test(test_jxl_lossy_sizes_and_frame_qp),
        cmocka_unit_test(test_jxl_effort_reaches_coder),
        cmocka_unit_test(test_jxl_refusals),
        cmocka_unit_test(test_jxl_corrupt_streams),
        cmocka_unit_test(test_jxl_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
