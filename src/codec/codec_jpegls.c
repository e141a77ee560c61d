/* codec_jpegls.c: the two JPEG-LS coders (CharLS 2.4): jpegls, near-lossless
 * at NEAR = qp (every decoded sample within NEAR of the original; qp 0 is
 * lossless), and jpegls-lossless (NEAR 0). One grey component, no
 * interleave, no SPIFF header; 1-bit pictures are coded as 2-bit (JPEG-LS
 * starts at 2 bits). The only file that includes charls/charls.h. */
#include "codec/codec_internal.h"
#include "util/schema.h"

#include <charls/charls.h>
#include <stdlib.h>
#include <string.h>

/* JPEG-LS has no knob worth a sweep axis here: NEAR is the QP. */
static const FrSchema jpegls_schema = {"jpegls", 0, NULL, 0, NULL};

/* The largest NEAR samples of `bits` bits allow: CharLS takes up to
 * min(255, MAXVAL / 2); for 1-bit samples coded as 2-bit, 0 (a NEAR of 1
 * could decode a 1 to 2, outside the picture's range). */
static int max_near(int bits)
{
    int half = (int)(((1u << bits) - 1u) / 2u);
    return half < 255 ? half : 255;
}

static int coded_bits(int bit_depth)
{
    return bit_depth < 2 ? 2 : bit_depth;
}

static unsigned rd16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static int jls_fail(const FrCodec *c, int code, const char *what, charls_jpegls_errc e,
                    FrError *err)
{
    return fr_error(err, code, "%s: %s (CharLS: %s)", c->name, what, charls_get_error_message(e));
}

static int jls_decode_frame(const FrCodec *c, const uint8_t *in, size_t n, int width,
                            int height, int bit_depth, uint16_t *samples, FrError *err);

/* The samples as CharLS reads them: one byte each up to 8 bits, else the
 * native uint16 (frame->samples itself; *tmp stays NULL). */
static const void *jls_source(const FrPicture *f, uint8_t **tmp, size_t *bytes)
{
    size_t ns = (size_t)f->width * f->height;
    *tmp = NULL;
    if (coded_bits(f->bit_depth) > 8) {
        *bytes = ns * 2;
        return f->samples;
    }
    if (!(*tmp = malloc(ns)))
        return NULL;
    for (size_t i = 0; i < ns; i++)
        (*tmp)[i] = (uint8_t)f->samples[i];
    *bytes = ns;
    return *tmp;
}

static int jls_encode_frame(const FrCodec *c, const void *settings, const FrPicture *f, int qp,
                            uint8_t **out, size_t *out_n, FrPicture *recon, FrError *err)
{
    (void)settings;
    int near = c->caps & FR_CODEC_LOSSY ? qp : 0;
    if (near > max_near(f->bit_depth))
        return fr_error(err, FR_E_USAGE, "%s: qp (NEAR) %d is too large for %d-bit samples: "
                        "use 0..%d%s", c->name, near, f->bit_depth, max_near(f->bit_depth),
                        f->bit_depth == 1 ? " (1-bit samples are coded losslessly as 2-bit)" : "");
    uint8_t *tmp, *buf = NULL;
    size_t src_n, cap = 0, got = 0;
    const void *src = jls_source(f, &tmp, &src_n);
    charls_jpegls_encoder *e = src ? charls_jpegls_encoder_create() : NULL;
    if (!e) {
        free(tmp);
        return fr_error(err, FR_E_NOMEM, "%s: out of memory", c->name);
    }
    charls_frame_info fi = {(uint32_t)f->width, (uint32_t)f->height, coded_bits(f->bit_depth), 1};
    /* CHARLS_ENCODING_OPTIONS_NONE: CharLS would otherwise write the
     * default preset parameters (an LSE segment, 15 bytes) above 12 bits for
     * one buggy Java decoder; every conforming decoder derives them. */
    charls_jpegls_errc r = charls_jpegls_encoder_set_frame_info(e, &fi);
    if (!r)
        r = charls_jpegls_encoder_set_near_lossless(e, near);
    if (!r)
        r = charls_jpegls_encoder_set_interleave_mode(e, CHARLS_INTERLEAVE_MODE_NONE);
    if (!r)
        r = charls_jpegls_encoder_set_encoding_options(e, CHARLS_ENCODING_OPTIONS_NONE);
    if (!r)
        r = charls_jpegls_encoder_get_estimated_destination_size(e, &cap);
    int nomem = !r && !(buf = malloc(cap ? cap : 1));
    if (!r && !nomem)
        r = charls_jpegls_encoder_set_destination_buffer(e, buf, cap);
    if (!r && !nomem)
        r = charls_jpegls_encoder_encode_from_buffer(e, src, src_n, 0);
    if (!r && !nomem)
        r = charls_jpegls_encoder_get_bytes_written(e, &got);
    charls_jpegls_encoder_destroy(e);
    free(tmp);
    int rc = nomem ? fr_error(err, FR_E_NOMEM, "%s: out of memory", c->name)
             : r   ? jls_fail(c, FR_E_CODEC, "CharLS cannot code the picture", r, err)
                   : 0;
    /* at NEAR 0 the reconstruction is the input; else decode what was written */
    if (!rc && recon && near == 0)
        memcpy(recon->samples, f->samples, (size_t)f->width * f->height * sizeof(uint16_t));
    else if (!rc && recon)
        rc = jls_decode_frame(c, buf, got, f->width, f->height, f->bit_depth, recon->samples,
                              err);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_n = got;
    return 0;
}

/* The stream must be exactly what jls_encode_frame writes: SOI, SOF55 of
 * this picture, SOS of one component (no mapping table, no interleave, no
 * point transform), the scan, EOI; nothing else (no LSE preset parameters,
 * restart markers or application data). Checked before CharLS reads it,
 * and not only for the geometry: CharLS 2.4 loops forever on a scan whose
 * data ends without a marker after it (a truncated stream), and the EOI
 * at the end is what stops its bit reader. In the scan a 0xFF is always
 * followed by a byte below 0x80 (bit stuffing), so the first marker after
 * SOS must be the final EOI. */
static int jls_check_stream(const FrCodec *c, const uint8_t *in, size_t n, int width, int height,
                            int bit_depth, FrError *err)
{
    static const uint8_t soi_sof[] = {0xff, 0xd8, 0xff, 0xf7, 0, 11};
    const uint8_t *f = in + 6, *s = in + 15;
    if (n < 27 || memcmp(in, soi_sof, sizeof soi_sof) || f[0] != coded_bits(bit_depth) ||
        rd16(f + 1) != (unsigned)height || rd16(f + 3) != (unsigned)width || f[5] != 1 ||
        f[7] != 0x11 || f[8] != 0)
        return fr_error(err, FR_E_FORMAT, "%s: corrupt stream: no JPEG-LS frame header of one "
                        "%dx%d %d-bit component", c->name, width, height, coded_bits(bit_depth));
    if (rd16(s) != 0xffda || rd16(s + 2) != 8 || s[4] != 1 || s[5] != f[6] || s[6] != 0 ||
        s[8] != 0 || s[9] != 0)
        return fr_error(err, FR_E_FORMAT, "%s: corrupt stream: no JPEG-LS scan header of one "
                        "component", c->name);
    int near = s[7];
    if (near > (c->caps & FR_CODEC_LOSSY ? max_near(bit_depth) : 0))
        return fr_error(err, FR_E_FORMAT, "%s: corrupt stream: NEAR %d for %d-bit samples",
                        c->name, near, bit_depth);
    size_t end = n - 2;
    if (rd16(in + end) != 0xffd9)
        return fr_error(err, FR_E_FORMAT, "%s: corrupt stream: truncated (no EOI marker)",
                        c->name);
    const uint8_t *p = in + 25;
    while ((p = memchr(p, 0xff, (size_t)(in + end - p))) && p[1] < 0x80)
        p++;
    if (p)
        return fr_error(err, FR_E_FORMAT, "%s: corrupt stream: a marker inside the scan data "
                        "(at byte %zu)", c->name, (size_t)(p - in));
    return 0;
}

static int jls_decode_frame(const FrCodec *c, const uint8_t *in, size_t n, int width,
                            int height, int bit_depth, uint16_t *samples, FrError *err)
{
    int rc = jls_check_stream(c, in, n, width, height, bit_depth, err);
    if (rc)
        return rc;
    size_t ns = (size_t)width * height, bps = coded_bits(bit_depth) > 8 ? 2 : 1;
    uint8_t *buf = malloc(ns * bps);
    charls_jpegls_decoder *d = buf ? charls_jpegls_decoder_create() : NULL;
    if (!d) {
        free(buf);
        return fr_error(err, FR_E_NOMEM, "%s: out of memory", c->name);
    }
    charls_jpegls_errc r = charls_jpegls_decoder_set_source_buffer(d, in, n);
    if (!r)
        r = charls_jpegls_decoder_read_header(d);
    if (!r)
        r = charls_jpegls_decoder_decode_to_buffer(d, buf, ns * bps, 0);
    charls_jpegls_decoder_destroy(d);
    if (r)
        rc = jls_fail(c, FR_E_FORMAT, "corrupt stream", r, err);
    uint16_t top = (uint16_t)((1u << bit_depth) - 1u);
    for (size_t i = 0; i < ns && !rc; i++) {
        uint16_t v = bps == 2 ? ((const uint16_t *)(const void *)buf)[i] : buf[i];
        if (v > top)
            rc = fr_error(err, FR_E_FORMAT, "%s: corrupt stream: sample %zu is %u, above the "
                          "%d-bit maximum", c->name, i, v, bit_depth);
        samples[i] = v;
    }
    free(buf);
    return rc;
}

static int jls_encode(const FrCodec *c, const void *settings, const FrPicture *pic,
                      const FrQpMap *qp, uint8_t **out, size_t *out_n, FrPicture *recon,
                      FrError *err)
{
    int rc = fr_schema_validate(c->settings, settings, err);
    if (rc)
        return rc;
    if (pic->bit_depth < 1 || pic->bit_depth > c->max_bits)
        return fr_error(err, FR_E_USAGE, "%s codes 1..%d-bit samples, not %d", c->name,
                        c->max_bits, pic->bit_depth);
    if (pic->width > 65535 || pic->height > 65535)
        return fr_error(err, FR_E_USAGE, "%s codes pictures of at most 65535x65535, not %dx%d",
                        c->name, pic->width, pic->height);
    return fr_frames_encode(c, settings, pic, qp, jls_encode_frame, out, out_n, recon, err);
}

static int jls_decode(const FrCodec *c, const uint8_t *in, size_t n, int width, int height,
                      int frames, int bit_depth, FrPicture *out, FrError *err)
{
    return fr_frames_decode(c, in, n, width, height, frames, bit_depth, jls_decode_frame, out,
                            err);
}

static const char *jls_version(void)
{
    return charls_get_version_string();
}

const FrCodec fr_codec_jpegls = {
    .name = "jpegls",
    .id = FR_CODEC_JPEGLS,
    .caps = FR_CODEC_LOSSY | FR_CODEC_FRAME_QP,
    .max_bits = 16,
    .qp_lo = 0,
    .qp_hi = 255,
    .qp_doc = "JPEG-LS NEAR: every sample decodes within qp of the original (qp 0 = lossless); "
              "at most min(255, (2^bits - 1) / 2), 127 at 8 bits",
    .settings = &jpegls_schema,
    .summary = "JPEG-LS near-lossless, NEAR = qp (CharLS)",
    .library = "CharLS",
    .version = jls_version,
    .encode = jls_encode,
    .decode = jls_decode,
};

const FrCodec fr_codec_jpegls_lossless = {
    .name = "jpegls-lossless",
    .id = FR_CODEC_JPEGLS_LOSSLESS,
    .caps = FR_CODEC_LOSSLESS,
    .max_bits = 16,
    .settings = &jpegls_schema,
    .summary = "JPEG-LS lossless, NEAR 0 (CharLS)",
    .library = "CharLS",
    .version = jls_version,
    .encode = jls_encode,
    .decode = jls_decode,
};
