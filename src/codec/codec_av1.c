/* codec_av1.c: the two AV1 coders, libaom encoding and decoding 4:0:0
 * still pictures one frame at a time (fr_frames_encode/decode): av1 (all-intra
 * at a fixed quantizer per frame) and av1-lossless. The only file that
 * includes libaom's headers. Each call opens its own encoder or decoder,
 * single-threaded (one thread, no row multithreading), so results are
 * reproducible bit for bit and workers may code in parallel. */
#include "codec/codec_internal.h"
#include "util/schema.h"

#include <aom/aom_decoder.h>
#include <aom/aom_encoder.h>
#include <aom/aomcx.h>
#include <aom/aomdx.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* The settings of both coders (av1-lossless has only cpu_used: the loop
 * filters are off in lossless coding). */
typedef struct Av1Settings {
    int cpu_used; /* AOME_SET_CPUUSED */
    int cdef;     /* AV1E_SET_ENABLE_CDEF (av1 only) */
} Av1Settings;

/* cpu_used 5 by default (libaom all-intra, 448x448 10-bit smooth picture,
 * qp 10/30/50): speed 6 codes 16-18% more bytes at a 17-43% higher MSE than
 * 5 for about 0.6x its time (0.17 s against 0.25 s a frame); 2..4 code
 * within 1% of 5, slower; 0 codes 25-28% fewer bytes at a lower MSE but
 * takes about 9x as long (2.2 s). */
#define CPU_USED_FIELD                                                                         \
    {.key = "cpu_used", .type = FR_FIELD_INT, .offset = offsetof(Av1Settings, cpu_used),        \
     .def = 5, .lo = 0, .hi = 9,                                                               \
     .doc = "libaom speed 0..9 (--cpu-used): lower is slower and codes smaller"}

static const FrField av1_fields[] = {
    CPU_USED_FIELD,
    {.key = "cdef", .type = FR_FIELD_BOOL, .offset = offsetof(Av1Settings, cdef), .def = 1,
     .doc = "constrained directional enhancement filter (--enable-cdef)"},
};
static const FrField av1_lossless_fields[] = {CPU_USED_FIELD};

static const FrSchema av1_schema = {"av1", sizeof(Av1Settings), av1_fields,
                                    (int)(sizeof av1_fields / sizeof av1_fields[0]), NULL};
static const FrSchema av1_lossless_schema = {
    "av1-lossless", sizeof(Av1Settings), av1_lossless_fields,
    (int)(sizeof av1_lossless_fields / sizeof av1_lossless_fields[0]), NULL};

/* AV1 codes 8, 10 or 12 bits; a picture takes the smallest that holds it,
 * its values unchanged (a 9-bit picture keeps 0..511 in a 10-bit stream). */
static int coded_depth(int bits)
{
    return bits <= 8 ? 8 : bits <= 10 ? 10 : 12;
}

typedef struct Buf {
    uint8_t *d;
    size_t n, cap;
} Buf;

static int buf_add(Buf *b, const void *p, size_t n)
{
    if (n > b->cap - b->n) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap - b->n < n) {
            if (cap > SIZE_MAX / 2)
                return FR_E_NOMEM;
            cap *= 2;
        }
        uint8_t *d = realloc(b->d, cap);
        if (!d)
            return FR_E_NOMEM;
        b->d = d;
        b->cap = cap;
    }
    memcpy(b->d + b->n, p, n);
    b->n += n;
    return 0;
}

/* Copies the luma plane of img (w x h) into dst and returns how many of its
 * samples were above top. Lossy coding may overshoot the picture's range
 * when it is narrower than the stream's (a 9-bit picture in a 10-bit
 * stream): with clip such samples become top, as a decoder clips to the
 * range of its signal, in the reconstruction and the decoder alike. A
 * lossless stream never holds one (the caller refuses it). */
static size_t take_plane(const aom_image_t *img, int w, int h, uint16_t top, int clip,
                         uint16_t *dst)
{
    size_t above = 0;
    int wide = (img->fmt & AOM_IMG_FMT_HIGHBITDEPTH) != 0;
    for (int y = 0; y < h; y++) {
        const uint8_t *row = img->planes[0] + (ptrdiff_t)y * img->stride[0];
        for (int x = 0; x < w; x++) {
            uint16_t v = wide ? ((const uint16_t *)(const void *)row)[x] : row[x];
            if (v > top) {
                above++;
                v = clip ? top : v;
            }
            dst[(size_t)y * w + x] = v;
        }
    }
    return above;
}

/* The frame as libaom's input: I420 (8-bit) or I42016, chroma at mid-grey
 * (a monochrome encoder ignores it). */
static int fill_image(aom_image_t *img, const FrPicture *f, int depth)
{
    if (!aom_img_alloc(img, depth > 8 ? AOM_IMG_FMT_I42016 : AOM_IMG_FMT_I420,
                       (unsigned)f->width, (unsigned)f->height, 1))
        return FR_E_NOMEM;
    img->bit_depth = (unsigned)depth;
    img->monochrome = 1;
    for (int p = 0; p < 3; p++) {
        int pw = p ? (f->width + 1) / 2 : f->width, ph = p ? (f->height + 1) / 2 : f->height;
        uint16_t grey = (uint16_t)(1u << (depth - 1));
        for (int y = 0; y < ph; y++) {
            uint8_t *row = img->planes[p] + (ptrdiff_t)y * img->stride[p];
            for (int x = 0; x < pw; x++) {
                uint16_t v = p ? grey : f->samples[(size_t)y * f->width + x];
                if (depth > 8)
                    ((uint16_t *)(void *)row)[x] = v;
                else
                    row[x] = (uint8_t)v;
            }
        }
    }
    return 0;
}

/* Opens an encoder for one still frame: all-intra, monochrome, fixed
 * quantizer (end usage Q, min = max = cq-level = qp), no delta-q, no AQ, no
 * denoising; av1-lossless: AV1E_SET_LOSSLESS. */
static int open_encoder(const FrCodec *c, const Av1Settings *s, const FrPicture *f, int qp,
                        aom_codec_ctx_t *ctx, FrError *err)
{
    int lossless = !(c->caps & FR_CODEC_LOSSY), depth = coded_depth(f->bit_depth);
    aom_codec_iface_t *ifc = aom_codec_av1_cx();
    if (depth > 8 && !(aom_codec_get_caps(ifc) & AOM_CODEC_CAP_HIGHBITDEPTH))
        return fr_error(err, FR_E_USAGE, "%s: this libaom has no high bit depth: %d-bit pictures "
                        "need it (use at most 8 bits)", c->name, f->bit_depth);
    aom_codec_enc_cfg_t cfg;
    if (aom_codec_enc_config_default(ifc, &cfg, AOM_USAGE_ALL_INTRA))
        return fr_error(err, FR_E_CODEC, "%s: libaom has no all-intra configuration", c->name);
    cfg.g_w = (unsigned)f->width;
    cfg.g_h = (unsigned)f->height;
    cfg.g_threads = 1;
    cfg.g_limit = 1; /* a still picture: the reduced sequence header */
    cfg.g_lag_in_frames = 0;
    cfg.g_bit_depth = (aom_bit_depth_t)depth;
    cfg.g_input_bit_depth = (unsigned)depth;
    cfg.g_profile = depth == 12 ? 2 : 0; /* 12 bits need the professional profile */
    cfg.monochrome = 1;
    cfg.kf_max_dist = 0;
    cfg.rc_end_usage = AOM_Q;
    cfg.rc_min_quantizer = cfg.rc_max_quantizer = (unsigned)qp;
    if (aom_codec_enc_init(ctx, ifc, &cfg, depth > 8 ? AOM_CODEC_USE_HIGHBITDEPTH : 0))
        return fr_error(err, FR_E_CODEC, "%s: libaom refused a %dx%d %d-bit encoder: %s", c->name,
                        f->width, f->height, depth,
                        aom_codec_error_detail(ctx) ? aom_codec_error_detail(ctx)
                                                    : aom_codec_error(ctx));
    int bad = aom_codec_control(ctx, AOME_SET_CPUUSED, s->cpu_used) ||
              aom_codec_control(ctx, AOME_SET_CQ_LEVEL, qp) ||
              aom_codec_control(ctx, AV1E_SET_ROW_MT, 0) ||
              aom_codec_control(ctx, AV1E_SET_DELTAQ_MODE, 0) ||
              aom_codec_control(ctx, AV1E_SET_AQ_MODE, 0) ||
              aom_codec_control(ctx, AV1E_SET_DENOISE_NOISE_LEVEL, 0) ||
              (lossless ? aom_codec_control(ctx, AV1E_SET_LOSSLESS, 1)
                        : aom_codec_control(ctx, AV1E_SET_ENABLE_CDEF, s->cdef));
    if (bad) {
        fr_error(err, FR_E_CODEC, "%s: libaom refused a setting (cpu_used %d, qp %d): %s",
                 c->name, s->cpu_used, qp, aom_codec_error(ctx));
        aom_codec_destroy(ctx);
        return FR_E_CODEC;
    }
    return 0;
}

/* Appends the frame packets libaom has ready; the first one's
 * reconstruction goes to recon (when not NULL and not yet taken). */
static int drain(const FrCodec *c, aom_codec_ctx_t *ctx, Buf *b, FrPicture *recon, int *taken,
                 FrError *err)
{
    const aom_codec_cx_pkt_t *pkt;
    aom_codec_iter_t it = NULL;
    while ((pkt = aom_codec_get_cx_data(ctx, &it))) {
        if (pkt->kind != AOM_CODEC_CX_FRAME_PKT)
            continue;
        if (buf_add(b, pkt->data.frame.buf, pkt->data.frame.sz))
            return fr_error(err, FR_E_NOMEM, "%s: out of memory", c->name);
        if (!recon || *taken)
            continue;
        aom_image_t img;
        memset(&img, 0, sizeof img);
        if (aom_codec_control(ctx, AV1_GET_NEW_FRAME_IMAGE, &img) ||
            img.d_w != (unsigned)recon->width || img.d_h != (unsigned)recon->height)
            return fr_error(err, FR_E_CODEC, "%s: libaom gave no %dx%d reconstruction", c->name,
                            recon->width, recon->height);
        uint16_t top = (uint16_t)((1u << recon->bit_depth) - 1u);
        take_plane(&img, recon->width, recon->height, top, 1, recon->samples);
        *taken = 1;
    }
    return 0;
}

/* FrFrameEncode: one frame, its stream the temporal unit libaom writes
 * (temporal delimiter, sequence header, frame): all a decoder needs. */
static int av1_frame_encode(const FrCodec *c, const void *settings, const FrPicture *frame,
                            int qp, uint8_t **out, size_t *out_n, FrPicture *recon,
                            FrError *err)
{
    aom_codec_ctx_t ctx;
    aom_image_t img;
    int rc = open_encoder(c, settings, frame, qp, &ctx, err);
    if (rc)
        return rc;
    if (fill_image(&img, frame, coded_depth(frame->bit_depth))) {
        aom_codec_destroy(&ctx);
        return fr_error(err, FR_E_NOMEM, "%s: out of memory", c->name);
    }
    Buf b = {0};
    int taken = 0;
    /* the frame, then a flush (NULL image) for what the encoder holds back */
    for (int pass = 0; pass < 2 && !rc; pass++) {
        if (aom_codec_encode(&ctx, pass ? NULL : &img, 0, 1, 0))
            rc = fr_error(err, FR_E_CODEC, "%s: libaom could not code a %dx%d frame: %s",
                          c->name, frame->width, frame->height,
                          aom_codec_error_detail(&ctx) ? aom_codec_error_detail(&ctx)
                                                       : aom_codec_error(&ctx));
        else
            rc = drain(c, &ctx, &b, recon, &taken, err);
    }
    if (!rc && (b.n == 0 || (recon && !taken)))
        rc = fr_error(err, FR_E_CODEC, "%s: libaom wrote no frame", c->name);
    aom_img_free(&img);
    aom_codec_destroy(&ctx);
    if (rc) {
        free(b.d);
        return rc;
    }
    *out = b.d;
    *out_n = b.n;
    return 0;
}

/* Walks the stream's OBUs (each must carry its size, as libaom writes them)
 * and requires every sequence header to be the first one's copy: the frame
 * sizes a decoder allocates for are bounded by the sequence header, which
 * the caller checks against the geometry, so a corrupt stream cannot make
 * libaom allocate for a larger picture. */
static int check_obus(const FrCodec *c, const uint8_t *in, size_t n, FrError *err)
{
    enum { OBU_SEQUENCE_HEADER = 1 };
    const uint8_t *seq = NULL;
    size_t seq_n = 0, pos = 0;
    while (pos < n) {
        uint8_t h = in[pos++];
        if ((h & 0x80) || !(h & 0x02))
            return fr_error(err, FR_E_FORMAT, "%s: corrupt stream: bad OBU header at byte %zu",
                            c->name, pos - 1);
        pos += (h >> 2) & 1; /* the extension byte */
        uint64_t len = 0;
        int shift = 0, more = 1;
        while (more) {
            if (pos >= n || shift > 56)
                return fr_error(err, FR_E_FORMAT, "%s: corrupt stream: truncated OBU size",
                                c->name);
            len |= (uint64_t)(in[pos] & 0x7f) << shift;
            more = in[pos++] & 0x80;
            shift += 7;
        }
        if (len > n - pos)
            return fr_error(err, FR_E_FORMAT, "%s: corrupt stream: an OBU claims %llu bytes of "
                            "%zu left", c->name, (unsigned long long)len, n - pos);
        if (((h >> 3) & 15) == OBU_SEQUENCE_HEADER) {
            if (!seq) {
                seq = in + pos;
                seq_n = (size_t)len;
            } else if (seq_n != len || memcmp(seq, in + pos, seq_n)) {
                return fr_error(err, FR_E_FORMAT, "%s: corrupt stream: a second, different "
                                "sequence header", c->name);
            }
        }
        pos += (size_t)len;
    }
    if (!seq)
        return fr_error(err, FR_E_FORMAT, "%s: corrupt stream: no sequence header", c->name);
    return 0;
}

/* Decodes the one picture of a frame's stream and checks it: geometry,
 * monochrome, the stream's bit depth, no second picture. */
static int decode_checked(const FrCodec *c, aom_codec_ctx_t *ctx, const uint8_t *in, size_t n,
                          int width, int height, int bit_depth, uint16_t *samples, FrError *err)
{
    if (aom_codec_decode(ctx, in, n, NULL))
        return fr_error(err, FR_E_FORMAT, "%s: corrupt stream: %s", c->name,
                        aom_codec_error_detail(ctx) ? aom_codec_error_detail(ctx)
                                                    : aom_codec_error(ctx));
    aom_codec_iter_t it = NULL;
    aom_image_t *img = aom_codec_get_frame(ctx, &it);
    int depth = coded_depth(bit_depth);
    if (!img)
        return fr_error(err, FR_E_FORMAT, "%s: corrupt stream: no picture", c->name);
    if (img->d_w != (unsigned)width || img->d_h != (unsigned)height || !img->monochrome ||
        img->bit_depth != (unsigned)depth)
        return fr_error(err, FR_E_FORMAT, "%s: the stream holds a %ux%u %u-bit %s picture, not "
                        "%dx%d %d-bit 4:0:0", c->name, img->d_w, img->d_h, img->bit_depth,
                        img->monochrome ? "4:0:0" : "colour", width, height, depth);
    uint16_t top = (uint16_t)((1u << bit_depth) - 1u);
    int lossless = !(c->caps & FR_CODEC_LOSSY);
    if (take_plane(img, width, height, top, !lossless, samples) && lossless)
        return fr_error(err, FR_E_FORMAT, "%s: corrupt stream: a sample above %u, the %d-bit "
                        "maximum", c->name, top, bit_depth);
    if (aom_codec_get_frame(ctx, &it))
        return fr_error(err, FR_E_FORMAT, "%s: corrupt stream: more than one picture", c->name);
    return 0;
}

/* FrFrameDecode. */
static int av1_frame_decode(const FrCodec *c, const uint8_t *in, size_t n, int width, int height,
                            int bit_depth, uint16_t *samples, FrError *err)
{
    int rc = check_obus(c, in, n, err);
    if (rc)
        return rc;
    aom_codec_iface_t *ifc = aom_codec_av1_dx();
    aom_codec_stream_info_t si;
    memset(&si, 0, sizeof si);
    if (aom_codec_peek_stream_info(ifc, in, n, &si))
        return fr_error(err, FR_E_FORMAT, "%s: corrupt stream: no readable sequence header",
                        c->name);
    if (si.w != (unsigned)width || si.h != (unsigned)height)
        return fr_error(err, FR_E_FORMAT, "%s: the stream is for %ux%u pictures, not %dx%d",
                        c->name, si.w, si.h, width, height);
    aom_codec_ctx_t ctx;
    aom_codec_dec_cfg_t cfg = {.threads = 1, .w = 0, .h = 0, .allow_lowbitdepth = 0};
    if (aom_codec_dec_init(&ctx, ifc, &cfg, 0))
        return fr_error(err, FR_E_CODEC, "%s: libaom could not open a decoder", c->name);
    rc = decode_checked(c, &ctx, in, n, width, height, bit_depth, samples, err);
    aom_codec_destroy(&ctx);
    return rc;
}

/* The first frame whose QP is 0, or -1: q-index 0 is lossless coding in AV1
 * (the bitstream has no lossy q-index 0), so av1 refuses it. */
static int zero_qp_frame(const FrPicture *pic, const FrQpMap *qp)
{
    for (int f = 0; qp && f < pic->frames; f++)
        if ((qp->frame_qp ? qp->frame_qp[f] : qp->qp) == 0)
            return f;
    return -1;
}

static int av1_encode(const FrCodec *c, const void *settings, const FrPicture *pic,
                      const FrQpMap *qp, uint8_t **out, size_t *out_n, FrPicture *recon,
                      FrError *err)
{
    *out = NULL;
    *out_n = 0;
    int rc = fr_schema_validate(c->settings, settings, err);
    if (rc)
        return rc;
    if (pic->bit_depth < 1 || pic->bit_depth > c->max_bits)
        return fr_error(err, FR_E_USAGE, "%s codes 1..%d-bit samples, not %d", c->name,
                        c->max_bits, pic->bit_depth);
    int f = c->caps & FR_CODEC_LOSSY ? zero_qp_frame(pic, qp) : -1;
    if (f >= 0 && qp->frame_qp)
        return fr_error(err, FR_E_USAGE, "%s: qp 0 of frame %d is q-index 0, which AV1 codes "
                        "losslessly: use av1-lossless, or qp %d..%d", c->name, f, c->qp_lo,
                        c->qp_hi);
    if (f >= 0)
        return fr_error(err, FR_E_USAGE, "%s: qp 0 is q-index 0, which AV1 codes losslessly: "
                        "use av1-lossless, or qp %d..%d", c->name, c->qp_lo, c->qp_hi);
    return fr_frames_encode(c, settings, pic, qp, av1_frame_encode, out, out_n, recon, err);
}

static int av1_decode(const FrCodec *c, const uint8_t *in, size_t n, int width, int height,
                      int frames, int bit_depth, FrPicture *out, FrError *err)
{
    return fr_frames_decode(c, in, n, width, height, frames, bit_depth, av1_frame_decode, out,
                            err);
}

static const char *av1_version(void)
{
    return aom_codec_version_str();
}

const FrCodec fr_codec_av1 = {
    .name = "av1",
    .id = FR_CODEC_AV1,
    .caps = FR_CODEC_LOSSY | FR_CODEC_FRAME_QP,
    .max_bits = 12,
    .qp_lo = 1,
    .qp_hi = 63,
    .qp_doc = "libaom quantizer (end-usage q, min-q = max-q): base q-index 4*qp up to qp 61, "
              "249 at 62, 255 at 63",
    .settings = &av1_schema,
    .summary = "AV1 4:0:0 still pictures, all-intra at a fixed quantizer per frame (libaom "
               "encodes and decodes)",
    .library = "libaom",
    .version = av1_version,
    .encode = av1_encode,
    .decode = av1_decode,
};

const FrCodec fr_codec_av1_lossless = {
    .name = "av1-lossless",
    .id = FR_CODEC_AV1_LOSSLESS,
    .caps = FR_CODEC_LOSSLESS,
    .max_bits = 12,
    .settings = &av1_lossless_schema,
    .summary = "AV1 4:0:0 lossless still pictures (libaom --lossless=1)",
    .library = "libaom",
    .version = av1_version,
    .encode = av1_encode,
    .decode = av1_decode,
};
