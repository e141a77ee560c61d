/* codec_jxl.c: the two JPEG XL coders (libjxl): jxl, lossy VarDCT at a
 * Butteraugli distance of qp / 10, and jxl-lossless (modular, exact). Each
 * frame of a picture set is one bare JPEG XL codestream (no container
 * boxes), grey, one channel at the picture's bit depth; fr_frames_encode
 * joins the frames' streams. The only file that includes libjxl's headers. */
#include "codec/codec_internal.h"
#include "util/schema.h"

#include <jxl/decode.h>
#include <jxl/encode.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct FrJxlSettings {
    int effort; /* JXL_ENC_FRAME_SETTING_EFFORT 1..9 */
} FrJxlSettings;

static const FrField jxl_fields[] = {
    {.key = "effort", .type = FR_FIELD_INT, .offset = offsetof(FrJxlSettings, effort), .def = 7,
     .lo = 1, .hi = 9,
     .doc = "encoder effort, 1 fastest .. 9 densest (JXL_ENC_FRAME_SETTING_EFFORT; 7 is "
            "libjxl's default)"},
};
static const FrSchema jxl_schema = {"jxl", sizeof(FrJxlSettings), jxl_fields, 1, NULL};
static const FrSchema jxl_lossless_schema = {"jxl-lossless", sizeof(FrJxlSettings), jxl_fields, 1,
                                             NULL};

/* libjxl 0.7 reads and writes JXL_TYPE_UINT16 buffers as the full range
 * 0..65535, whatever bits_per_sample says (the codestream holds
 * bits_per_sample bits; the library rescales by 65535 / (2^bits - 1) on the
 * way in and back on the way out). Both maps round to nearest; since the
 * step 65535 / (2^bits - 1) is at least 1, going up and back down gives the
 * sample exactly. */
static uint16_t to_full(uint32_t s, uint32_t top)
{
    return (uint16_t)((s * 65535u + top / 2) / top);
}

static uint16_t from_full(uint32_t v, uint32_t top)
{
    return (uint16_t)((v * top + 32767u) / 65535u);
}

/* The encoder's output, grown until libjxl has written it all. */
static int drain(const FrCodec *c, JxlEncoder *enc, uint8_t **out, size_t *out_n, FrError *err)
{
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    JxlEncoderStatus st = JXL_ENC_NEED_MORE_OUTPUT;
    while (buf && st == JXL_ENC_NEED_MORE_OUTPUT) {
        uint8_t *next = buf + n;
        size_t avail = cap - n;
        st = JxlEncoderProcessOutput(enc, &next, &avail);
        n = (size_t)(next - buf);
        if (st == JXL_ENC_NEED_MORE_OUTPUT) {
            uint8_t *p = realloc(buf, cap * 2);
            if (!p) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = p;
            cap *= 2;
        }
    }
    if (!buf)
        return fr_error(err, FR_E_NOMEM, "%s: out of memory", c->name);
    if (st != JXL_ENC_SUCCESS) {
        free(buf);
        return fr_error(err, FR_E_CODEC, "%s: libjxl failed to encode (error %d)", c->name,
                        (int)JxlEncoderGetError(enc));
    }
    *out = buf;
    *out_n = n;
    return 0;
}

static uint64_t be(const uint8_t *p, int k)
{
    uint64_t v = 0;
    for (int i = 0; i < k; i++)
        v = v << 8 | p[i];
    return v;
}

/* libjxl wraps the codestream in the ISO BMFF container when it must say
 * "level 10" (a jxll box): lossless at 13..16 bits, whose modular buffers
 * need 32 bits. The codestream's own header says so too
 * (modular_16_bit_buffer_sufficient false) and libjxl decodes it alone
 * exactly, so the boxes (signature 12, ftyp 20, jxll 9, jxlc header 8 =
 * 49 bytes per frame) are dropped: the codestream (the jxlc box's
 * contents) moves to the front of buf. Any other box layout is refused
 * rather than guessed at. */
static int strip_container(const FrCodec *c, uint8_t *buf, size_t *n, FrError *err)
{
    static const uint8_t sig[12] = {0, 0, 0, 12, 'J', 'X', 'L', ' ', 0x0d, 0x0a, 0x87, 0x0a};
    if (*n < sizeof sig || memcmp(buf, sig, sizeof sig))
        return 0; /* a bare codestream already */
    size_t pos = sizeof sig;
    while (pos + 8 <= *n) {
        uint64_t size = be(buf + pos, 4), head = 8;
        if (size == 1 && pos + 16 <= *n) {
            size = be(buf + pos + 8, 8);
            head = 16;
        } else if (size == 0) {
            size = *n - pos;
        }
        if (size < head || size > *n - pos)
            break;
        if (!memcmp(buf + pos + 4, "jxlc", 4) && size == *n - pos) {
            memmove(buf, buf + pos + head, (size_t)(size - head));
            *n = (size_t)(size - head);
            return 0;
        }
        if (memcmp(buf + pos + 4, "ftyp", 4) && memcmp(buf + pos + 4, "jxll", 4))
            break;
        pos += (size_t)size;
    }
    return fr_error(err, FR_E_CODEC, "%s: libjxl wrote a container that is not one codestream "
                    "box at its end", c->name);
}

/* Basic info, colour and frame settings of one grey frame. Lossy frames go
 * through XYB (uses_original_profile false, libjxl's VarDCT default);
 * lossless ones keep the samples as they are. The colour encoding is sRGB
 * grey: the samples are taken as perceptually spaced (not linear light), so
 * the lossy error spreads about evenly over the sample range; lossless is
 * exact either way (no colour conversion happens). */
static int configure(const FrCodec *c, JxlEncoder *enc, const FrJxlSettings *s,
                     const FrPicture *frame, int qp, JxlEncoderFrameSettings **fs, FrError *err)
{
    int lossless = !(c->caps & FR_CODEC_LOSSY);
    JxlBasicInfo bi;
    JxlEncoderInitBasicInfo(&bi);
    bi.xsize = (uint32_t)frame->width;
    bi.ysize = (uint32_t)frame->height;
    bi.num_color_channels = 1;
    bi.num_extra_channels = 0;
    bi.alpha_bits = 0;
    bi.bits_per_sample = (uint32_t)frame->bit_depth;
    bi.exponent_bits_per_sample = 0;
    bi.uses_original_profile = lossless ? JXL_TRUE : JXL_FALSE;
    JxlColorEncoding ce;
    JxlColorEncodingSetToSRGB(&ce, JXL_TRUE);
    const char *what = NULL;
    if (JxlEncoderUseContainer(enc, JXL_FALSE) != JXL_ENC_SUCCESS ||
        JxlEncoderStoreJPEGMetadata(enc, JXL_FALSE) != JXL_ENC_SUCCESS)
        what = "the bare codestream";
    else if (JxlEncoderSetBasicInfo(enc, &bi) != JXL_ENC_SUCCESS)
        what = "the basic info";
    else if (JxlEncoderSetColorEncoding(enc, &ce) != JXL_ENC_SUCCESS)
        what = "the grey colour encoding";
    else if (!(*fs = JxlEncoderFrameSettingsCreate(enc, NULL)))
        what = "the frame settings";
    else if (JxlEncoderFrameSettingsSetOption(*fs, JXL_ENC_FRAME_SETTING_EFFORT, s->effort) !=
             JXL_ENC_SUCCESS)
        what = "the effort";
    else if (lossless ? JxlEncoderSetFrameLossless(*fs, JXL_TRUE) != JXL_ENC_SUCCESS
                      : JxlEncoderSetFrameDistance(*fs, (float)qp / 10.0f) != JXL_ENC_SUCCESS)
        what = lossless ? "lossless mode" : "the distance";
    if (what)
        return fr_error(err, FR_E_CODEC, "%s: libjxl refused %s (%dx%d, %d bits, qp %d)", c->name,
                        what, frame->width, frame->height, frame->bit_depth, qp);
    return 0;
}

static int jxl_decode_frame(const FrCodec *c, const uint8_t *in, size_t n, int width, int height,
                            int bit_depth, uint16_t *samples, FrError *err);

/* One frame: one codestream. libjxl has no reconstruction output, so recon
 * is the decoder's reading of the stream. No parallel runner is attached:
 * libjxl then codes on the calling thread, deterministically. */
static int jxl_encode_frame(const FrCodec *c, const void *settings, const FrPicture *frame, int qp,
                            uint8_t **out, size_t *out_n, FrPicture *recon, FrError *err)
{
    size_t np = (size_t)frame->width * frame->height;
    uint32_t top = (1u << frame->bit_depth) - 1u;
    uint16_t *full = malloc(np * sizeof *full);
    JxlEncoder *enc = JxlEncoderCreate(NULL);
    JxlEncoderFrameSettings *fs = NULL;
    int rc = 0;
    if (!full || !enc) {
        rc = fr_error(err, FR_E_NOMEM, "%s: out of memory", c->name);
        goto done;
    }
    for (size_t i = 0; i < np; i++)
        full[i] = to_full(frame->samples[i], top);
    if ((rc = configure(c, enc, settings, frame, qp, &fs, err)))
        goto done;
    JxlPixelFormat pf = {1, JXL_TYPE_UINT16, JXL_NATIVE_ENDIAN, 0};
    if (JxlEncoderAddImageFrame(fs, &pf, full, np * sizeof *full) != JXL_ENC_SUCCESS) {
        rc = fr_error(err, FR_E_CODEC, "%s: libjxl refused the frame (error %d)", c->name,
                      (int)JxlEncoderGetError(enc));
        goto done;
    }
    JxlEncoderCloseInput(enc);
    if ((rc = drain(c, enc, out, out_n, err)))
        goto done;
    if ((rc = strip_container(c, *out, out_n, err)) ||
        (recon && (rc = jxl_decode_frame(c, *out, *out_n, frame->width, frame->height,
                                         frame->bit_depth, recon->samples, err)))) {
        free(*out);
        *out = NULL;
        *out_n = 0;
    }
done:
    JxlEncoderDestroy(enc);
    free(full);
    return rc;
}

/* The stream's header must describe exactly the frame asked for: one grey
 * integer channel of width x height at bit_depth, no alpha or other extra
 * channel, no animation, no reorientation (what jxl_encode_frame writes). */
static int check_info(const FrCodec *c, JxlDecoder *d, int width, int height, int bit_depth,
                      FrError *err)
{
    JxlBasicInfo bi;
    if (JxlDecoderGetBasicInfo(d, &bi) != JXL_DEC_SUCCESS)
        return fr_error(err, FR_E_FORMAT, "%s: corrupt stream: no basic info", c->name);
    if (bi.xsize != (uint32_t)width || bi.ysize != (uint32_t)height ||
        bi.num_color_channels != 1 || bi.num_extra_channels != 0 || bi.alpha_bits != 0 ||
        bi.bits_per_sample != (uint32_t)bit_depth || bi.exponent_bits_per_sample != 0 ||
        bi.have_animation || bi.have_preview || bi.orientation != JXL_ORIENT_IDENTITY)
        return fr_error(err, FR_E_FORMAT, "%s: the stream holds %ux%u, %u channel(s) + %u extra "
                        "at %u bits, not one %dx%d %d-bit grey frame", c->name, bi.xsize,
                        bi.ysize, bi.num_color_channels, bi.num_extra_channels,
                        bi.bits_per_sample, width, height, bit_depth);
    return 0;
}

/* Runs the decoder over the whole stream into full (width x height
 * samples, full uint16 range). Exactly one image and no byte after its
 * end, else FR_E_FORMAT. */
static int decode_full(const FrCodec *c, JxlDecoder *d, const uint8_t *in, size_t n, int width,
                       int height, int bit_depth, uint16_t *full, FrError *err)
{
    size_t bytes = (size_t)width * height * sizeof *full;
    JxlPixelFormat pf = {1, JXL_TYPE_UINT16, JXL_NATIVE_ENDIAN, 0};
    int images = 0, rc = 0;
    if (JxlDecoderSubscribeEvents(d, JXL_DEC_BASIC_INFO | JXL_DEC_FULL_IMAGE) != JXL_DEC_SUCCESS ||
        JxlDecoderSetInput(d, in, n) != JXL_DEC_SUCCESS)
        return fr_error(err, FR_E_CODEC, "%s: libjxl refused the decoder setup", c->name);
    JxlDecoderCloseInput(d);
    for (;;) {
        JxlDecoderStatus st = JxlDecoderProcessInput(d);
        size_t need = 0;
        if (st == JXL_DEC_BASIC_INFO) {
            if ((rc = check_info(c, d, width, height, bit_depth, err)))
                return rc;
        } else if (st == JXL_DEC_NEED_IMAGE_OUT_BUFFER) {
            if (images > 0 || JxlDecoderImageOutBufferSize(d, &pf, &need) != JXL_DEC_SUCCESS ||
                need != bytes || JxlDecoderSetImageOutBuffer(d, &pf, full, bytes) != JXL_DEC_SUCCESS)
                return fr_error(err, FR_E_FORMAT, "%s: corrupt stream: not one %dx%d image",
                                c->name, width, height);
        } else if (st == JXL_DEC_FULL_IMAGE) {
            images++;
        } else if (st == JXL_DEC_SUCCESS) {
            break;
        } else {
            return fr_error(err, FR_E_FORMAT, "%s: the stream is corrupt or truncated (%s)",
                            c->name, st == JXL_DEC_NEED_MORE_INPUT ? "it ends early" : "libjxl "
                            "cannot decode it");
        }
    }
    size_t left = JxlDecoderReleaseInput(d);
    if (images != 1 || left != 0)
        return fr_error(err, FR_E_FORMAT, "%s: corrupt stream: %d image(s), %zu byte(s) after "
                        "the codestream", c->name, images, left);
    return 0;
}

static int jxl_decode_frame(const FrCodec *c, const uint8_t *in, size_t n, int width, int height,
                            int bit_depth, uint16_t *samples, FrError *err)
{
    size_t np = (size_t)width * height;
    uint32_t top = (1u << bit_depth) - 1u;
    JxlDecoder *d = JxlDecoderCreate(NULL);
    uint16_t *full = malloc(np * sizeof *full);
    int rc = 0;
    /* checked first: libjxl would say "invalid signature" on stderr */
    if (JxlSignatureCheck(in, n) != JXL_SIG_CODESTREAM)
        rc = fr_error(err, FR_E_FORMAT, "%s: corrupt stream: not a bare JPEG XL codestream "
                      "(%zu bytes)", c->name, n);
    else if (!d || !full)
        rc = fr_error(err, FR_E_NOMEM, "%s: out of memory", c->name);
    else if (!(rc = decode_full(c, d, in, n, width, height, bit_depth, full, err)))
        for (size_t i = 0; i < np; i++)
            samples[i] = from_full(full[i], top); /* at most top by construction */
    JxlDecoderDestroy(d);
    free(full);
    return rc;
}

static int jxl_encode(const FrCodec *c, const void *settings, const FrPicture *pic,
                      const FrQpMap *qp, uint8_t **out, size_t *out_n, FrPicture *recon,
                      FrError *err)
{
    *out = NULL;
    *out_n = 0;
    if (pic->bit_depth < 1 || pic->bit_depth > c->max_bits)
        return fr_error(err, FR_E_USAGE, "%s codes 1..%d-bit samples, not %d", c->name,
                        c->max_bits, pic->bit_depth);
    int rc = fr_schema_validate(c->settings, settings, err);
    if (rc)
        return rc;
    return fr_frames_encode(c, settings, pic, qp, jxl_encode_frame, out, out_n, recon, err);
}

static int jxl_decode(const FrCodec *c, const uint8_t *in, size_t n, int width, int height,
                      int frames, int bit_depth, FrPicture *out, FrError *err)
{
    return fr_frames_decode(c, in, n, width, height, frames, bit_depth, jxl_decode_frame, out,
                            err);
}

static char jxl_version_text[32];
static pthread_once_t jxl_version_once = PTHREAD_ONCE_INIT;

static void jxl_version_fill(void)
{
    uint32_t v = JxlEncoderVersion(); /* major * 1000000 + minor * 1000 + patch */
    snprintf(jxl_version_text, sizeof jxl_version_text, "%u.%u.%u", v / 1000000u,
             v / 1000u % 1000u, v % 1000u);
}

static const char *jxl_version(void)
{
    pthread_once(&jxl_version_once, jxl_version_fill);
    return jxl_version_text;
}

const FrCodec fr_codec_jxl = {
    .name = "jxl",
    .id = FR_CODEC_JXL,
    .caps = FR_CODEC_LOSSY | FR_CODEC_FRAME_QP,
    .max_bits = 16,
    .qp_lo = 1,
    .qp_hi = 250,
    .qp_doc = "Butteraugli distance x 10 (JxlEncoderSetFrameDistance): qp 10 = distance 1.0, "
              "qp 1..250 = distance 0.1..25.0",
    .settings = &jxl_schema,
    .summary = "JPEG XL lossy (VarDCT, XYB) at a Butteraugli distance, one grey codestream per "
               "frame (libjxl)",
    .library = "libjxl",
    .version = jxl_version,
    .encode = jxl_encode,
    .decode = jxl_decode,
};

const FrCodec fr_codec_jxl_lossless = {
    .name = "jxl-lossless",
    .id = FR_CODEC_JXL_LOSSLESS,
    .caps = FR_CODEC_LOSSLESS,
    .max_bits = 16,
    .settings = &jxl_lossless_schema,
    .summary = "JPEG XL lossless (modular), one grey codestream per frame (libjxl)",
    .library = "libjxl",
    .version = jxl_version,
    .encode = jxl_encode,
    .decode = jxl_decode,
};
