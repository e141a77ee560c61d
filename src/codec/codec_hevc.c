/* codec_hevc.c: the two HEVC coders (hevc: lossy at a QP per picture, frame
 * or 16x16 block; hevc-lossless), x265 encoding and libde265 decoding
 * through their adapters (codec_x265.c, codec_de265.c), and their settings
 * schema (the keys of a sweep.codec entry and of an anchor). */
#include "codec/codec_internal.h"
#include "codec/codec.h"
#include "util/schema.h"

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const int CTU_VALUES[] = {16, 32, 64, INT_MIN};
static const int MIN_CU_VALUES[] = {8, 16, 32, INT_MIN};
static const char *const PRESETS[] = {"ultrafast", "superfast", "veryfast", "faster", "fast",
                                      "medium", "slow", "slower", "veryslow", "placebo", NULL};

#define F(k) .key = #k, .offset = offsetof(FrHevcSettings, k)
static const FrField hevc_fields[] = {
    {F(ctu), .type = FR_FIELD_INT, .def = 16, .allowed = CTU_VALUES,
     .doc = "CTU size (x265 --ctu)"},
    {F(min_cu), .type = FR_FIELD_INT, .def = 8, .allowed = MIN_CU_VALUES,
     .doc = "minimum CU size, at most ctu (--min-cu-size)"},
    {F(rdoq), .type = FR_FIELD_INT, .def = 0, .lo = 0, .hi = 2,
     .doc = "RDOQ level (--rdoq-level); true/false mean 1/0"},
    {F(psy), .type = FR_FIELD_BOOL, .def = 0,
     .doc = "psycho-visual tuning (--psy-rd 2.0 --psy-rdoq 1.0)"},
    {F(sao), .type = FR_FIELD_BOOL, .def = 1, .doc = "sample adaptive offset (--sao)"},
    {F(deblock), .type = FR_FIELD_BOOL, .def = 1, .doc = "deblocking filter (--deblock)"},
    {F(wpp), .type = FR_FIELD_BOOL, .def = 0, .doc = "wavefront parallel processing (--wpp)"},
    {F(intra), .type = FR_FIELD_BOOL, .def = 1,
     .doc = "every frame intra; false: one I frame, then P frames (frames packing)"},
    {F(tskip), .type = FR_FIELD_BOOL, .def = 0, .doc = "transform skip (--tskip)"},
    {F(preset), .type = FR_FIELD_CHOICE, .size = sizeof(((FrHevcSettings *)0)->preset),
     .def_str = "medium", .names = PRESETS, .doc = "x265 preset the keys above override"},
};
#undef F

static int hevc_check(const void *obj, const char **key, FrError *err)
{
    const FrHevcSettings *s = obj;
    if (s->min_cu > s->ctu) {
        *key = "min_cu";
        return fr_error(err, FR_E_USAGE, "hevc.min_cu is %d: use at most hevc.ctu (%d)", s->min_cu,
                        s->ctu);
    }
    return 0;
}

const FrSchema fr_hevc_schema = {"hevc", sizeof(FrHevcSettings), hevc_fields,
                                 (int)(sizeof hevc_fields / sizeof hevc_fields[0]), hevc_check};

void fr_hevc_defaults(FrHevcSettings *s)
{
    fr_schema_defaults(&fr_hevc_schema, s);
}

int fr_hevc_validate(const FrHevcSettings *s, FrError *err)
{
    return fr_schema_validate(&fr_hevc_schema, s, err);
}

static int check_qps(const FrPicture *pic, const FrQpMap *qp, FrError *err)
{
    if (qp->qp < 0 || qp->qp > 51)
        return fr_error(err, FR_E_USAGE, "qp %d is out of range: use 0..51", qp->qp);
    size_t nb = (size_t)pic->frames * ((pic->width + 15) / 16) * ((pic->height + 15) / 16);
    for (int f = 0; qp->frame_qp && f < pic->frames; f++)
        if (qp->frame_qp[f] < 0 || qp->frame_qp[f] > 51)
            return fr_error(err, FR_E_USAGE, "qp %d of frame %d is out of range: use 0..51",
                            qp->frame_qp[f], f);
    for (size_t i = 0; qp->block_qp && i < nb; i++)
        if (qp->block_qp[i] < 0 || qp->block_qp[i] > 51)
            return fr_error(err, FR_E_USAGE, "qp %d of block %zu is out of range: use 0..51",
                            qp->block_qp[i], i);
    return 0;
}

/* x265 codes a 9- or 11-bit picture at 10 or 12 bits, and a lossy
 * reconstruction may then overshoot the picture's own maximum: the encoder's
 * reconstruction and the decoder both clip to it (lossless never does). */
static void clip_to_depth(FrPicture *p, int bits)
{
    uint16_t top = (uint16_t)((1u << bits) - 1u);
    size_t n = (size_t)p->width * p->height * p->frames;
    for (size_t i = 0; i < n; i++)
        if (p->samples[i] > top)
            p->samples[i] = top;
    p->bit_depth = bits;
}

static int hevc_encode(const FrCodec *c, const void *settings, const FrPicture *pic,
                       const FrQpMap *qp, uint8_t **out, size_t *out_n, FrPicture *recon,
                       FrError *err)
{
    const FrHevcSettings *hs = settings;
    int rc = fr_hevc_validate(hs, err);
    if (rc)
        return rc;
    int lossless = !(c->caps & FR_CODEC_LOSSY);
    FrQpMap uq = {32, NULL, NULL};
    if (!qp)
        qp = &uq;
    if (!lossless && (rc = check_qps(pic, qp, err)))
        return rc;
    if ((rc = fr_x265_encode_mono(pic, qp, hs, lossless, out, out_n, recon, err)))
        return rc;
    if (recon && !lossless)
        clip_to_depth(recon, pic->bit_depth);
    return 0;
}

static int hevc_decode(const FrCodec *c, const uint8_t *in, size_t n, int width, int height,
                       int frames, int bit_depth, FrPicture *out, FrError *err)
{
    if (bit_depth < 1 || bit_depth > 12)
        return fr_error(err, FR_E_FORMAT, "hevc: bit depth %d cannot be HEVC-coded", bit_depth);
    if (!(c->caps & FR_CODEC_LOSSY))
        return fr_de265_decode_mono(in, n, width, height, frames, bit_depth, out, err);
    int coded = bit_depth <= 8 ? 8 : bit_depth <= 10 ? 10 : 12;
    int rc = fr_de265_decode_mono(in, n, width, height, frames, coded, out, err);
    if (!rc)
        clip_to_depth(out, bit_depth);
    return rc;
}

static char hevc_version_text[160];
static pthread_once_t hevc_version_once = PTHREAD_ONCE_INIT;

static void hevc_version_fill(void)
{
    snprintf(hevc_version_text, sizeof hevc_version_text, "x265 %s, libde265 %s",
             fr_x265_version(), fr_de265_version());
}

static const char *hevc_version(void)
{
    pthread_once(&hevc_version_once, hevc_version_fill);
    return hevc_version_text;
}

const FrCodec fr_codec_hevc = {
    .name = "hevc",
    .id = FR_CODEC_HEVC,
    .caps = FR_CODEC_LOSSY | FR_CODEC_BLOCK_QP | FR_CODEC_FRAME_QP | FR_CODEC_ANNEXB |
            FR_CODEC_X265_QP,
    .max_bits = 12,
    .qp_lo = 0,
    .qp_hi = 51,
    .qp_doc = "x265 QP 0..51 (--qp, constant; ipratio 1)",
    .settings = &fr_hevc_schema,
    .summary = "HEVC 4:0:0 at a constant QP (or one per frame / 16x16 block): x265 encodes, "
               "libde265 decodes",
    .library = "x265 + libde265",
    .version = hevc_version,
    .encode = hevc_encode,
    .decode = hevc_decode,
};

const FrCodec fr_codec_hevc_lossless = {
    .name = "hevc-lossless",
    .id = FR_CODEC_HEVC_LOSSLESS,
    .caps = FR_CODEC_LOSSLESS | FR_CODEC_ANNEXB,
    .max_bits = 12,
    .settings = &fr_hevc_schema,
    .summary = "HEVC 4:0:0 lossless (x265 --lossless; libde265 decodes)",
    .library = "x265 + libde265",
    .version = hevc_version,
    .encode = hevc_encode,
    .decode = hevc_decode,
};
