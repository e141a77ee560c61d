/* codec_x265.c: the x265 adapter: HEVC encoding of 4:0:0 feature pictures
 * (lossy at constant / per-frame / per-16×16-block QP, or lossless) and of
 * 8-bit 4:2:0 images for the cloud-only anchor. The only file that includes
 * x265.h. Each call opens its own encoder; x265 is single-threaded here
 * (pools none, one frame thread, no WPP) so runs are deterministic. */
#define _POSIX_C_SOURCE 200809L
#include "codec/codec_internal.h"
#include "codec/codec.h"
#include "codec/pack.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <x265.h>

/* x265_encoder_open fills process-wide primitive tables on first use; opening
 * and closing under one lock keeps parallel workers from racing on them. */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct Buf {
    uint8_t *d;
    size_t n, cap;
} Buf;

static int buf_add(Buf *b, const uint8_t *p, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
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

/* Appends NAL units; with skip_ps, parameter sets (VPS/SPS/PPS) are left
 * out: x265 emits them again with an IDR when keyint is 1, after
 * encoder_headers() already wrote them, and a second copy costs ~624 bits
 * a picture for nothing (the decoder output is identical without it). */
static int add_nals(Buf *b, const x265_nal *nal, uint32_t nnal, int skip_ps)
{
    for (uint32_t i = 0; i < nnal; i++)
        if (skip_ps && (nal[i].type == NAL_UNIT_VPS || nal[i].type == NAL_UNIT_SPS ||
                        nal[i].type == NAL_UNIT_PPS))
            continue;
        else if (buf_add(b, nal[i].payload, nal[i].sizeBytes))
            return FR_E_NOMEM;
    return 0;
}

static int set(const x265_api *api, x265_param *p, const char *k, const char *v, FrError *err)
{
    int rc = api->param_parse(p, k, v);
    if (rc)
        return fr_error(err, FR_E_USAGE, "x265: option %s=%s is %s", k, v,
                        rc == X265_PARAM_BAD_NAME ? "unknown" : "invalid");
    return 0;
}

static int seti(const x265_api *api, x265_param *p, const char *k, int v, FrError *err)
{
    char s[32];
    snprintf(s, sizeof s, "%d", v);
    return set(api, p, k, s, err);
}

/* Settings every featrd encode shares: quiet, single-threaded, deterministic,
 * no SEI that carries the encoder's version or timing. */
static int common_params(const x265_api *api, x265_param *p, int w, int h, FrError *err)
{
    /* FR_X265_LOG=1 shows x265's own messages, to diagnose refused settings. */
    p->logLevel = getenv("FR_X265_LOG") ? X265_LOG_FULL : X265_LOG_NONE;
    p->sourceWidth = w;
    p->sourceHeight = h;
    p->fpsNum = 25;
    p->fpsDenom = 1;
    p->bEmitInfoSEI = 0;
    p->bRepeatHeaders = 0;
    p->bAnnexB = 1;
    p->bEnableWavefront = 0;
    p->decodedPictureHashSEI = 0;
    p->bframes = 0;
    p->scenecutThreshold = 0;
    p->lookaheadSlices = 0;
    int rc;
    /* FR_X265_ASM=none runs x265's C kernels (bit-exact with its SIMD ones):
     * valgrind loses track of definedness inside the SIMD entropy coder. */
    const char *asm_opt = getenv("FR_X265_ASM");
    if (asm_opt && (rc = set(api, p, "asm", asm_opt, err)))
        return rc;
    if ((rc = set(api, p, "pools", "none", err)) || (rc = set(api, p, "frame-threads", "1", err)) ||
        (rc = set(api, p, "ipratio", "1", err)))
        return rc;
    return 0;
}

/* The FrHevcSettings every featrd HEVC encode honours, features and
 * anchors alike (ctu may be reduced by the caller to fit the picture). */
static int hevc_params(const x265_api *api, x265_param *p, const FrHevcSettings *s, int ctu,
                       FrError *err)
{
    int rc;
    int min_cu = s->min_cu < ctu ? s->min_cu : ctu;
    if ((rc = seti(api, p, "ctu", ctu, err)) || (rc = seti(api, p, "min-cu-size", min_cu, err)) ||
        (rc = seti(api, p, "rdoq-level", s->rdoq, err)) ||
        (rc = set(api, p, "psy-rd", s->psy ? "2.0" : "0", err)) ||
        (rc = set(api, p, "psy-rdoq", s->psy ? "1.0" : "0", err)))
        return rc;
    p->bEnableWavefront = s->wpp;
    p->bEnableSAO = s->sao;
    p->bEnableLoopFilter = s->deblock;
    p->bEnableTransformSkip = s->tskip;
    return 0;
}

/* Opens the encoder; very large pictures with small CTUs exceed every HEVC
 * level, so a refused open is retried with allow-non-conformance
 * (libde265 decodes such streams). */
static x265_encoder *open_encoder(const x265_api *api, x265_param *p)
{
    pthread_mutex_lock(&open_lock);
    x265_encoder *e = api->encoder_open(p);
    if (!e && api->param_parse(p, "allow-non-conformance", "1") == 0)
        e = api->encoder_open(p);
    pthread_mutex_unlock(&open_lock);
    return e;
}

static void close_encoder(const x265_api *api, x265_encoder *e)
{
    pthread_mutex_lock(&open_lock);
    api->encoder_close(e);
    pthread_mutex_unlock(&open_lock);
}

static int copy_recon(const x265_picture *o, FrPicture *recon)
{
    if (o->poc < 0 || o->poc >= recon->frames)
        return FR_E_INTERNAL;
    size_t W = (size_t)recon->width, H = (size_t)recon->height;
    uint16_t *d = recon->samples + (size_t)o->poc * W * H;
    for (size_t y = 0; y < H; y++) {
        const uint8_t *row = (const uint8_t *)o->planes[0] + y * (size_t)o->stride[0];
        for (size_t x = 0; x < W; x++)
            d[y * W + x] = o->bitDepth > 8 ? ((const uint16_t *)row)[x] : row[x];
    }
    return 0;
}

int fr_x265_encode_mono(const FrPicture *pic, const FrQpMap *qp, const FrHevcSettings *s,
                        int lossless, uint8_t **out, size_t *out_n, FrPicture *recon,
                        FrError *err)
{
    *out = NULL;
    *out_n = 0;
    if (recon)
        memset(recon, 0, sizeof *recon);
    int bits = pic->bit_depth;
    int depth = bits <= 8 ? 8 : bits <= 10 ? 10 : bits <= 12 ? 12 : 0;
    if (!depth)
        return fr_error(err, FR_E_USAGE,
                        "hevc: bit depth %d is not supported by x265: use at most 12 bits", bits);
    const x265_api *api = x265_api_get(depth);
    if (!api)
        return fr_error(err, FR_E_CODEC, "hevc: this libx265 has no %d-bit encoder", depth);
    int W = pic->width, H = pic->height, F = pic->frames;
    int bw = (W + 15) / 16, bh = (H + 15) / 16;
    /* x265 refuses pictures smaller than one CTU: code such a picture padded
     * (edge repeated) to one CTU; the decoder crops it back. */
    int EW = W < s->ctu ? s->ctu : W, EH = H < s->ctu ? s->ctu : H;
    int ebw = (EW + 15) / 16, ebh = (EH + 15) / 16;
    uint16_t *padded = NULL;
    x265_param *p = api->param_alloc();
    x265_picture *in = api->picture_alloc(), *o = api->picture_alloc();
    x265_encoder *e = NULL;
    uint8_t *plane8 = NULL;
    float *offsets = NULL;
    Buf b = {0};
    int rc = 0;
    if (!p || !in || !o) {
        rc = fr_error(err, FR_E_NOMEM, "hevc: out of memory");
        goto error;
    }
    if (api->param_default_preset(p, s->preset, NULL) < 0) {
        rc = fr_error(err, FR_E_USAGE, "hevc: unknown x265 preset '%s'", s->preset);
        goto error;
    }
    if ((rc = common_params(api, p, EW, EH, err)) || (rc = set(api, p, "input-csp", "i400", err)) ||
        (rc = hevc_params(api, p, s, s->ctu, err)))
        goto error;
    p->totalFrames = F;
    /* All-intra without keyint=1: one IDR then forced I frames, so the
     * parameter sets are sent once instead of per channel frame. */
    p->keyframeMax = F > 1 ? F + 1 : 1;
    p->keyframeMin = 1;
    int force_qp = 0;
    if (lossless) {
        rc = set(api, p, "lossless", "1", err);
    } else if (qp->block_qp) {
        /* quantOffsets are ignored in CQP; CRF + near-zero AQ honours them
         * exactly, with the frame QP forced (x265 takes forceqp - 1). */
        if ((rc = seti(api, p, "crf", qp->qp, err)) || (rc = set(api, p, "aq-mode", "1", err)) ||
            (rc = set(api, p, "aq-strength", "0.0001", err)) ||
            (rc = set(api, p, "qg-size", "16", err)))
            goto error;
        p->rc.cuTree = 0;
        force_qp = 1;
        offsets = malloc((size_t)ebw * ebh * sizeof *offsets);
        if (!offsets) {
            rc = fr_error(err, FR_E_NOMEM, "hevc: out of memory");
            goto error;
        }
    } else {
        rc = seti(api, p, "qp", qp->qp, err);
        force_qp = qp->frame_qp != NULL;
    }
    if (rc)
        goto error;
    e = open_encoder(api, p);
    if (!e) {
        rc = fr_error(err, FR_E_CODEC,
                      "hevc: x265 refused the settings (%dx%d, %d frames, %d-bit, ctu %d, min_cu %d)",
                      W, H, F, depth, s->ctu, s->min_cu);
        goto error;
    }
    x265_nal *nal;
    uint32_t nnal;
    if (api->encoder_headers(e, &nal, &nnal) < 0 || add_nals(&b, nal, nnal, 0)) {
        rc = fr_error(err, FR_E_CODEC, "hevc: x265 could not write the parameter sets");
        goto error;
    }
    if (recon && (rc = fr_picture_alloc(recon, W, H, F, bits))) {
        rc = fr_error(err, FR_E_NOMEM, "hevc: out of memory");
        goto error;
    }
    /* x265 copies input rows with 32-byte vector loads that run past the
     * last row, so the planes it reads are our own copies with zeroed slack
     * behind them, never the caller's buffer. */
    if ((depth == 8 && !(plane8 = calloc((size_t)EW * EH + 128, 1))) ||
        !(padded = calloc((size_t)EW * EH + 64, sizeof *padded))) {
        rc = fr_error(err, FR_E_NOMEM, "hevc: out of memory");
        goto error;
    }
    size_t fsz = (size_t)W * H;
    int got = 0;
    for (int f = 0; f <= F; f++) {
        x265_picture *pin = NULL;
        if (f < F) {
            api->picture_init(p, in);
            const uint16_t *src = pic->samples + (size_t)f * fsz;
            for (int y = 0; y < EH; y++)
                for (int x = 0; x < EW; x++)
                    padded[(size_t)y * EW + x] =
                        src[(size_t)(y < H ? y : H - 1) * W + (x < W ? x : W - 1)];
            src = padded;
            if (depth == 8) {
                for (size_t i = 0; i < (size_t)EW * EH; i++)
                    plane8[i] = (uint8_t)src[i];
                in->planes[0] = plane8;
                in->stride[0] = EW;
            } else {
                in->planes[0] = (void *)src;
                in->stride[0] = EW * 2;
            }
            in->bitDepth = depth;
            in->colorSpace = X265_CSP_I400;
            in->pts = f;
            if (s->intra)
                in->sliceType = f == 0 ? X265_TYPE_IDR : X265_TYPE_I;
            if (force_qp)
                in->forceqp = (qp->frame_qp ? qp->frame_qp[f] : qp->qp) + 1;
            if (offsets) {
                const int *bq = qp->block_qp + (size_t)f * bw * bh;
                int fq = qp->frame_qp ? qp->frame_qp[f] : qp->qp;
                for (int by = 0; by < ebh; by++)
                    for (int bx = 0; bx < ebw; bx++)
                        offsets[by * ebw + bx] =
                            (float)(bq[(by < bh ? by : bh - 1) * bw + (bx < bw ? bx : bw - 1)] - fq);
                in->quantOffsets = offsets;
            }
            pin = in;
        }
        /* Without B frames x265 returns at most one picture per call, but it
         * lags by the lookahead depth: drain fully once input ends. */
        for (;;) {
            int r = api->encoder_encode(e, &nal, &nnal, pin, o);
            if (r < 0) {
                rc = fr_error(err, FR_E_CODEC, "hevc: x265 failed on frame %d", f);
                goto error;
            }
            if (r > 0) {
                if (add_nals(&b, nal, nnal, 1)) {
                    rc = fr_error(err, FR_E_NOMEM, "hevc: out of memory");
                    goto error;
                }
                if (recon && copy_recon(o, recon)) {
                    rc = fr_error(err, FR_E_INTERNAL, "hevc: x265 returned picture %d of %d",
                                  o->poc, F);
                    goto error;
                }
                got++;
            }
            if (pin || r == 0)
                break;
        }
    }
    if (got != F) {
        rc = fr_error(err, FR_E_INTERNAL, "hevc: x265 returned %d of %d pictures", got, F);
        goto error;
    }
    *out = b.d;
    *out_n = b.n;
    b.d = NULL;
error:
    if (e)
        close_encoder(api, e);
    if (in)
        api->picture_free(in);
    if (o)
        api->picture_free(o);
    if (p)
        api->param_free(p);
    free(plane8);
    free(padded);
    free(offsets);
    free(b.d);
    if (rc && recon)
        fr_picture_free(recon);
    return rc;
}

int fr_x265_encode_i420(const uint8_t *y, const uint8_t *u, const uint8_t *v, int w, int h, int qp,
                        const FrHevcSettings *hs, uint8_t **out, size_t *out_n, FrError *err)
{
    FrHevcSettings defs;
    if (!hs) {
        fr_hevc_defaults(&defs);
        hs = &defs;
    }
    *out = NULL;
    *out_n = 0;
    const x265_api *api = x265_api_get(8);
    if (!api)
        return fr_error(err, FR_E_CODEC, "hevc: this libx265 has no 8-bit encoder");
    x265_param *p = api->param_alloc();
    x265_picture *in = api->picture_alloc();
    x265_encoder *e = NULL;
    Buf b = {0};
    int rc = 0;
    if (!p || !in) {
        rc = fr_error(err, FR_E_NOMEM, "hevc: out of memory");
        goto error;
    }
    if (api->param_default_preset(p, hs->preset, NULL) < 0) {
        rc = fr_error(err, FR_E_USAGE, "hevc: unknown x265 preset '%s'", hs->preset);
        goto error;
    }
    /* The configured CTU, or the largest the picture holds (x265 needs one). */
    int fit = w >= 64 && h >= 64 ? 64 : w >= 32 && h >= 32 ? 32 : 16;
    int ctu = hs->ctu < fit ? hs->ctu : fit;
    if ((rc = common_params(api, p, w, h, err)) || (rc = set(api, p, "input-csp", "i420", err)) ||
        (rc = hevc_params(api, p, hs, ctu, err)) ||
        (rc = seti(api, p, "qp", qp, err)) || (rc = set(api, p, "keyint", "1", err)))
        goto error;
    e = open_encoder(api, p);
    if (!e) {
        rc = fr_error(err, FR_E_CODEC, "hevc: x265 refused a %dx%d 4:2:0 picture", w, h);
        goto error;
    }
    x265_nal *nal;
    uint32_t nnal;
    if (api->encoder_headers(e, &nal, &nnal) < 0 || add_nals(&b, nal, nnal, 0)) {
        rc = fr_error(err, FR_E_CODEC, "hevc: x265 could not write the parameter sets");
        goto error;
    }
    api->picture_init(p, in);
    in->planes[0] = (void *)y;
    in->planes[1] = (void *)u;
    in->planes[2] = (void *)v;
    in->stride[0] = w;
    in->stride[1] = in->stride[2] = w / 2;
    in->bitDepth = 8;
    in->colorSpace = X265_CSP_I420;
    x265_picture *pin = in;
    int got = 0;
    for (;;) {
        int r = api->encoder_encode(e, &nal, &nnal, pin, NULL);
        if (r < 0) {
            rc = fr_error(err, FR_E_CODEC, "hevc: x265 failed on a %dx%d image", w, h);
            goto error;
        }
        if (r > 0) {
            got++;
            if (add_nals(&b, nal, nnal, 1)) {
                rc = fr_error(err, FR_E_NOMEM, "hevc: out of memory");
                goto error;
            }
        }
        if (!pin && r == 0)
            break;
        pin = NULL;
    }
    if (got != 1) {
        rc = fr_error(err, FR_E_INTERNAL, "hevc: x265 returned %d pictures for one image", got);
        goto error;
    }
    *out = b.d;
    *out_n = b.n;
    b.d = NULL;
error:
    if (e)
        close_encoder(api, e);
    if (in)
        api->picture_free(in);
    if (p)
        api->param_free(p);
    free(b.d);
    return rc;
}

const char *fr_x265_version(void)
{
    return x265_version_str;
}
