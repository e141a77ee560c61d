/* codec_x265.c: the x265 adapter: HEVC encoding of 4:0:0 feature pictures
 * (lossy at constant / per-frame / per-16×16-block QP, or lossless) and of
 * 8-bit 4:2:0 images for the cloud-only anchor. The only file that includes
 * x265.h. x265 is single-threaded here (pools none, one frame thread, no
 * WPP) so runs are deterministic.
 *
 * Opening an x265 encoder (param, preset, encoder_open, its frame-encoder
 * thread, first-frame buffers) costs about as much as coding a demo-sized
 * picture, so each thread keeps the encoders it opened for one-frame
 * pictures and codes later pictures with the same settings on them
 * (docs/codec.md, "x265 encoder reuse"). Every stream stays byte-identical
 * to a fresh encoder's: see reusable() and fix_slice() below. */
#define _POSIX_C_SOURCE 200809L
#include "codec/codec_internal.h"
#include "codec/codec.h"
#include "codec/pack.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

/* Copies output picture o (frame o->poc - poc0 of this stream) into recon. */
static int copy_recon(const x265_picture *o, int poc0, FrPicture *recon)
{
    int f = o->poc - poc0;
    if (f < 0 || f >= recon->frames)
        return FR_E_INTERNAL;
    size_t W = (size_t)recon->width, H = (size_t)recon->height;
    uint16_t *d = recon->samples + (size_t)f * W * H;
    for (size_t y = 0; y < H; y++) {
        const uint8_t *row = (const uint8_t *)o->planes[0] + y * (size_t)o->stride[0];
        for (size_t x = 0; x < W; x++)
            d[y * W + x] = o->bitDepth > 8 ? ((const uint16_t *)row)[x] : row[x];
    }
    return 0;
}

/* ---------------- the encoder's settings ---------------- */

enum { MODE_CQP, MODE_LOSSLESS, MODE_BLOCK };

/* Everything that goes into an encoder's x265_param: two codings with equal
 * keys open encoders with equal params, so one encoder can serve both. */
typedef struct EncKey {
    int depth;         /* 8, 10 or 12 */
    int csp;           /* X265_CSP_I400 (features) or X265_CSP_I420 (anchor) */
    int w, h;          /* coded size (a picture smaller than one CTU is padded) */
    int frames;        /* totalFrames, keyframeMax (4:0:0) */
    int mode;          /* MODE_*: --qp, --lossless, or --crf with per-block offsets */
    int qp;            /* --qp, or --crf in MODE_BLOCK; unused in MODE_LOSSLESS */
    int ctu;           /* the CTU hevc_params gets (the anchor's may be reduced) */
    FrHevcSettings s;
    int log;           /* FR_X265_LOG set */
    char asm_opt[32];  /* FR_X265_ASM ("" unset) */
} EncKey;

/* Fills k's environment part; 0, or -1 when FR_X265_ASM is too long to key
 * on (such a coding is not cached). */
static int key_env(EncKey *k)
{
    const char *a = getenv("FR_X265_ASM");
    k->log = getenv("FR_X265_LOG") != NULL;
    k->asm_opt[0] = 0;
    if (a && strlen(a) >= sizeof k->asm_opt)
        return -1;
    if (a)
        snprintf(k->asm_opt, sizeof k->asm_opt, "%s", a);
    return 0;
}

static int key_equal(const EncKey *a, const EncKey *b)
{
    const FrHevcSettings *s = &a->s, *t = &b->s;
    return a->depth == b->depth && a->csp == b->csp && a->w == b->w && a->h == b->h &&
           a->frames == b->frames && a->mode == b->mode &&
           (a->mode == MODE_LOSSLESS || a->qp == b->qp) && a->ctu == b->ctu &&
           a->log == b->log && !strcmp(a->asm_opt, b->asm_opt) && s->ctu == t->ctu &&
           s->min_cu == t->min_cu && s->rdoq == t->rdoq && s->psy == t->psy && s->sao == t->sao &&
           s->deblock == t->deblock && s->wpp == t->wpp && s->intra == t->intra &&
           s->tskip == t->tskip && !strncmp(s->preset, t->preset, sizeof s->preset);
}

/* The param of key k, in the order the options have always been applied. */
static int key_params(const x265_api *api, x265_param *p, const EncKey *k, FrError *err)
{
    int rc;
    if (api->param_default_preset(p, k->s.preset, NULL) < 0)
        return fr_error(err, FR_E_USAGE, "hevc: unknown x265 preset '%s'", k->s.preset);
    if ((rc = common_params(api, p, k->w, k->h, err)) ||
        (rc = set(api, p, "input-csp", k->csp == X265_CSP_I420 ? "i420" : "i400", err)) ||
        (rc = hevc_params(api, p, &k->s, k->ctu, err)))
        return rc;
    if (k->csp == X265_CSP_I420) {
        if ((rc = seti(api, p, "qp", k->qp, err)))
            return rc;
        return set(api, p, "keyint", "1", err);
    }
    p->totalFrames = k->frames;
    /* All-intra without keyint=1: one IDR then forced I frames, so the
     * parameter sets are sent once instead of per channel frame. */
    p->keyframeMax = k->frames > 1 ? k->frames + 1 : 1;
    p->keyframeMin = 1;
    if (k->mode == MODE_LOSSLESS)
        return set(api, p, "lossless", "1", err);
    if (k->mode == MODE_BLOCK) {
        /* quantOffsets are ignored in CQP; CRF + near-zero AQ honours them
         * exactly, with the frame QP forced (x265 takes forceqp - 1). */
        if ((rc = seti(api, p, "crf", k->qp, err)) || (rc = set(api, p, "aq-mode", "1", err)) ||
            (rc = set(api, p, "aq-strength", "0.0001", err)) ||
            (rc = set(api, p, "qg-size", "16", err)))
            return rc;
        p->rc.cuTree = 0;
        return 0;
    }
    return seti(api, p, "qp", k->qp, err);
}

/* ---------------- the slice header of a reused encoder ----------------
 *
 * x265 (3.5) numbers pictures across the encoder's life, and a picture's POC
 * reaches its stream in one bit only: slice_loop_filter_across_slices_enabled
 * _flag, which x265 writes as bit (POC % 31) of SLFASE_CONSTANT (dpb.cpp; with
 * one slice the flag changes nothing in the decoded picture). Everything
 * else about a one-frame stream (an IDR, whose slice header has no POC) is
 * the same on a reused encoder, so fix_slice() sets that bit to what a
 * fresh encoder (POC 0) writes. It reads the header by the x265 3.5 writer
 * (entropy.cpp codeSliceHeader) for the params featrd sets, checks that the
 * header ends in its alignment bits and that x265's escaping of it gives
 * the bytes x265 wrote, and otherwise fails: the picture is then coded again
 * on a fresh encoder. */
#define X265_SLFASE_CONSTANT 0x5f4e4a53u
#define HDR_MAX 256 /* an IDR slice header of ours is 3..6 bytes */

typedef struct Bits {
    const uint8_t *p;
    size_t n, pos; /* in bits */
    int bad;
} Bits;

static unsigned get1(Bits *b)
{
    if (b->pos >= b->n * 8) {
        b->bad = 1;
        return 0;
    }
    unsigned v = (b->p[b->pos >> 3] >> (7 - (b->pos & 7))) & 1u;
    b->pos++;
    return v;
}

static unsigned get_ue(Bits *b)
{
    int z = 0;
    while (!b->bad && !get1(b))
        if (++z > 31) {
            b->bad = 1;
            return 0;
        }
    unsigned v = 1;
    for (int i = 0; i < z; i++)
        v = v << 1 | get1(b);
    return v - 1;
}

/* x265's NALList::serialize escaping of payload p[0..n) after the two NAL
 * header bytes h (its rule, checked one byte late, exactly); returns the
 * bytes written to out, h included. */
static size_t x265_escape(const uint8_t *h, const uint8_t *p, size_t n, uint8_t *out)
{
    size_t bytes = 0;
    out[bytes++] = h[0];
    out[bytes++] = h[1];
    for (size_t i = 0; i < n; i++) {
        if (i > 2 && !out[bytes - 2] && !out[bytes - 3] && out[bytes - 1] <= 0x03) {
            out[bytes] = out[bytes - 1];
            out[bytes - 1] = 0x03;
            bytes++;
        }
        out[bytes++] = p[i];
    }
    return bytes;
}

/* How the encoder's slice headers read (from its param). */
typedef struct SliceFmt {
    int sao, chroma, deblock;
} SliceFmt;

/* Appends slice NAL nal (an IDR of a one-frame stream, from a reused
 * encoder) to b with its loop-filter-across-slices bit as a fresh encoder
 * writes it; sets *fixed when the bit changed. FR_E_INTERNAL when the
 * header does not read as expected, FR_E_NOMEM. */
static int fix_slice(Buf *b, const x265_nal *nal, const SliceFmt *fmt, int *fixed)
{
    const uint8_t *d = nal->payload;
    size_t n = nal->sizeBytes;
    size_t sc = n > 4 && !d[0] && !d[1] && d[2] == 1 ? 3 : 4;
    if (n < sc + 3 || d[sc - 1] != 1)
        return FR_E_INTERNAL;
    const uint8_t *h = d + sc, *e = h + 2;
    size_t ne = n - sc - 2;
    int type = (h[0] >> 1) & 63;
    if (type != NAL_UNIT_CODED_SLICE_IDR_W_RADL && type != NAL_UNIT_CODED_SLICE_IDR_N_LP)
        return FR_E_INTERNAL;
    /* the header's first bytes, escapes removed */
    uint8_t rbsp[HDR_MAX];
    size_t nr = 0;
    for (size_t i = 0, z = 0; i < ne && nr < HDR_MAX; i++) {
        if (z >= 2 && e[i] == 0x03) {
            z = 0;
            continue;
        }
        z = e[i] ? 0 : z + 1;
        rbsp[nr++] = e[i];
    }
    Bits r = {rbsp, nr, 0, 0};
    int ok = get1(&r) == 1;             /* first_slice_segment_in_pic_flag */
    get1(&r);                           /* no_output_of_prior_pics_flag */
    ok &= get_ue(&r) == 0;              /* slice_pic_parameter_set_id */
    ok &= get_ue(&r) == 2;              /* slice_type: I */
    unsigned sao = 0;
    if (fmt->sao) {
        sao = get1(&r);                 /* slice_sao_luma_flag */
        if (fmt->chroma)
            sao |= get1(&r);            /* slice_sao_chroma_flag */
    }
    get_ue(&r);                         /* slice_qp_delta */
    size_t at = r.pos;
    int present = sao || fmt->deblock;
    unsigned flag = present ? get1(&r) : 0;
    ok &= get1(&r) == 1;                /* alignment_bit_equal_to_one */
    while ((r.pos & 7) && !r.bad)
        ok &= get1(&r) == 0;
    if (!ok || r.bad)
        return FR_E_INTERNAL;
    size_t hn = r.pos >> 3;
    uint8_t esc[2 + HDR_MAX * 3 / 2 + 2];
    size_t m = x265_escape(h, rbsp, hn, esc);
    if (m > n - sc || memcmp(esc, h, m))
        return FR_E_INTERNAL;
    unsigned want = X265_SLFASE_CONSTANT & 1u; /* POC 0 % 31 */
    if (!present || flag == want)
        return buf_add(b, d, n);
    rbsp[at >> 3] ^= (uint8_t)(0x80u >> (at & 7));
    uint8_t fix[sizeof esc];
    size_t fm = x265_escape(h, rbsp, hn, fix);
    int rc;
    if ((rc = buf_add(b, d, sc)) || (rc = buf_add(b, fix, fm)) ||
        (rc = buf_add(b, h + m, n - sc - m)))
        return rc;
    *fixed = 1;
    return 0;
}

/* ---------------- encoders kept per thread ---------------- */

/* One encoder and the param it was opened with. */
typedef struct Enc {
    EncKey key;
    const x265_api *api;
    x265_param *p;
    x265_encoder *e;
    SliceFmt fmt;
    Buf ps;             /* its parameter sets, as encoder_headers gave them when it was new */
    int pictures;       /* pictures coded: the POC x265 gives the next one */
    unsigned long used; /* last use, for eviction */
    int cached;         /* owned by the thread's cache */
} Enc;

/* A thread keeps up to CACHE_MAX encoders: a run's worker codes one point
 * (one size, bit depth and QP) at a time, the anchor one QP. */
#define CACHE_MAX 4

typedef struct EncCache {
    pid_t pid; /* a forked child must not use its parent's encoders (no threads) */
    int off;   /* fr_x265_reuse(0) */
    int n;
    unsigned long clock;
    Enc *ent[CACHE_MAX];
    FrX265Stats st;
} EncCache;

static pthread_key_t cache_tls;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static int cache_ok; /* the key exists */
static int reuse_env_off;

static void enc_free(Enc *c)
{
    if (!c)
        return;
    if (c->e)
        close_encoder(c->api, c->e);
    if (c->p)
        c->api->param_free(c->p);
    free(c->ps.d);
    free(c);
}

static void cache_free(void *v)
{
    EncCache *c = v;
    if (!c)
        return;
    if (c->pid == getpid())
        for (int i = 0; i < c->n; i++)
            enc_free(c->ent[i]);
    free(c);
}

static void cache_init(void)
{
    cache_ok = pthread_key_create(&cache_tls, cache_free) == 0;
    const char *v = getenv("FR_X265_REUSE");
    reuse_env_off = v && !strcmp(v, "0");
}

/* This thread's cache (made on first use), or NULL when out of memory. */
static EncCache *cache_get(void)
{
    pthread_once(&cache_once, cache_init);
    if (!cache_ok)
        return NULL;
    EncCache *c = pthread_getspecific(cache_tls);
    if (c && c->pid != getpid())
        c = NULL; /* inherited through fork: its encoders' threads are not
                   * here, and the memory is the parent's to free */
    if (!c) {
        if (!(c = calloc(1, sizeof *c)))
            return NULL;
        if (pthread_setspecific(cache_tls, c)) {
            free(c);
            return NULL;
        }
        c->pid = getpid();
    }
    return c;
}

int fr_x265_reuse(int on)
{
    EncCache *c = cache_get();
    if (!c)
        return 0;
    int was = !c->off;
    c->off = !on;
    return was;
}

void fr_x265_release(void)
{
    pthread_once(&cache_once, cache_init);
    if (!cache_ok)
        return;
    EncCache *c = pthread_getspecific(cache_tls);
    if (!c || c->pid != getpid())
        return;
    for (int i = 0; i < c->n; i++)
        enc_free(c->ent[i]);
    c->n = 0;
}

void fr_x265_stats(FrX265Stats *st)
{
    EncCache *c = cache_get();
    if (c)
        *st = c->st;
    else
        memset(st, 0, sizeof *st);
}

/* Whether codings with key k may share an encoder: one-frame streams only.
 * On a stream of several frames x265 gives a forced IDR after the first
 * stream a CRA NAL type (open GOP, dpb.cpp getNalUnitType), not the IDR a
 * fresh encoder writes, and P frames would keep lookahead and SAO history;
 * such streams get a fresh encoder. Reuse was studied on x265 3.5 (build
 * 199) only; other builds open fresh encoders. */
static int reusable(const EncKey *k)
{
    pthread_once(&cache_once, cache_init);
    return X265_BUILD == 199 && k->frames == 1 && !reuse_env_off;
}

/* Removes the cache's entry i and closes it. */
static void cache_drop(EncCache *c, int i)
{
    enc_free(c->ent[i]);
    c->ent[i] = c->ent[--c->n];
}

/* An encoder for key k: this thread's open one, or a new one (cached when
 * k is reusable). *reused tells which. */
static int enc_get(const EncKey *k, int fresh, Enc **out, int *reused, FrError *err)
{
    *out = NULL;
    *reused = 0;
    EncKey kk = *k;
    int cacheable = !fresh && reusable(k) && key_env(&kk) == 0;
    if (!cacheable)
        key_env(&kk);
    EncCache *c = cacheable ? cache_get() : NULL;
    if (c && c->off)
        c = NULL;
    if (c)
        for (int i = 0; i < c->n; i++)
            if (key_equal(&c->ent[i]->key, &kk)) {
                c->ent[i]->used = ++c->clock;
                *out = c->ent[i];
                *reused = 1;
                c->st.reused++;
                return 0;
            }
    const x265_api *api = x265_api_get(k->depth);
    if (!api)
        return fr_error(err, FR_E_CODEC, "hevc: this libx265 has no %d-bit encoder", k->depth);
    Enc *en = calloc(1, sizeof *en);
    if (!en)
        return fr_error(err, FR_E_NOMEM, "hevc: out of memory");
    en->key = kk;
    en->api = api;
    int rc = 0;
    if (!(en->p = api->param_alloc())) {
        rc = fr_error(err, FR_E_NOMEM, "hevc: out of memory");
        goto error;
    }
    if ((rc = key_params(api, en->p, k, err)))
        goto error;
    if (!(en->e = open_encoder(api, en->p))) {
        if (k->csp == X265_CSP_I420)
            rc = fr_error(err, FR_E_CODEC, "hevc: x265 refused a %dx%d 4:2:0 picture", k->w, k->h);
        else
            rc = fr_error(err, FR_E_CODEC,
                          "hevc: x265 refused the settings (%dx%d, %d frames, %d-bit, ctu %d, "
                          "min_cu %d)", k->w, k->h, k->frames, k->depth, k->s.ctu, k->s.min_cu);
        goto error;
    }
    en->fmt = (SliceFmt){en->p->bEnableSAO, k->csp != X265_CSP_I400, en->p->bEnableLoopFilter};
    /* Its parameter sets now: later, encoder_headers() returns them behind
     * the last picture's NAL units (x265 appends to the list it keeps). */
    x265_nal *nal;
    uint32_t nnal;
    if (api->encoder_headers(en->e, &nal, &nnal) < 0 || add_nals(&en->ps, nal, nnal, 0)) {
        rc = fr_error(err, FR_E_CODEC, "hevc: x265 could not write the parameter sets");
        goto error;
    }
    if (c) {
        c->st.opened++;
        if (c->n == CACHE_MAX) {
            int old = 0;
            for (int i = 1; i < c->n; i++)
                if (c->ent[i]->used < c->ent[old]->used)
                    old = i;
            cache_drop(c, old);
        }
        en->cached = 1;
        en->used = ++c->clock;
        c->ent[c->n++] = en;
    }
    *out = en;
    return 0;
error:
    enc_free(en);
    return rc;
}

/* After a coding on en: a fresh encoder is closed; a cached one that
 * failed (state unknown) leaves the cache. */
static void enc_put(Enc *en, int failed)
{
    if (!en)
        return;
    if (!en->cached) {
        enc_free(en);
        return;
    }
    if (!failed)
        return;
    EncCache *c = cache_get();
    for (int i = 0; c && i < c->n; i++)
        if (c->ent[i] == en) {
            cache_drop(c, i);
            return;
        }
}

/* Appends an access unit's NAL units (parameter sets left out, see
 * add_nals); on a reused encoder the slice goes through fix_slice. */
static int add_frame(Buf *b, const Enc *en, int poc0, const x265_nal *nal, uint32_t nnal,
                     int *fixed)
{
    if (!poc0)
        return add_nals(b, nal, nnal, 1);
    for (uint32_t i = 0; i < nnal; i++) {
        int rc = 0;
        if (nal[i].type == NAL_UNIT_VPS || nal[i].type == NAL_UNIT_SPS || nal[i].type == NAL_UNIT_PPS)
            continue;
        if (nal[i].type < NAL_UNIT_VPS)
            rc = fix_slice(b, &nal[i], &en->fmt, fixed);
        else
            rc = buf_add(b, nal[i].payload, nal[i].sizeBytes);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---------------- coding ---------------- */

static int encode_mono(const FrPicture *pic, const FrQpMap *qp, const FrHevcSettings *s,
                       int lossless, int fresh, uint8_t **out, size_t *out_n, FrPicture *recon,
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
    int W = pic->width, H = pic->height, F = pic->frames;
    int bw = (W + 15) / 16, bh = (H + 15) / 16;
    /* x265 refuses pictures smaller than one CTU: code such a picture padded
     * (edge repeated) to one CTU; the decoder crops it back. */
    int EW = W < s->ctu ? s->ctu : W, EH = H < s->ctu ? s->ctu : H;
    int ebw = (EW + 15) / 16, ebh = (EH + 15) / 16;
    EncKey key;
    memset(&key, 0, sizeof key);
    key.depth = depth;
    key.csp = X265_CSP_I400;
    key.w = EW;
    key.h = EH;
    key.frames = F;
    key.mode = lossless ? MODE_LOSSLESS : qp->block_qp ? MODE_BLOCK : MODE_CQP;
    key.qp = qp->qp;
    key.ctu = s->ctu;
    key.s = *s;
    int force_qp = key.mode == MODE_BLOCK || (key.mode == MODE_CQP && qp->frame_qp);
    uint16_t *padded = NULL;
    Enc *en = NULL;
    const x265_api *api = NULL;
    x265_picture *in = NULL, *o = NULL;
    uint8_t *plane8 = NULL;
    float *offsets = NULL;
    Buf b = {0};
    int reused = 0, fixed = 0, poc0 = 0;
    int rc = enc_get(&key, fresh, &en, &reused, err);
    if (rc)
        return rc;
    api = en->api;
    x265_param *p = en->p;
    poc0 = en->pictures;
    in = api->picture_alloc();
    o = api->picture_alloc();
    if (!in || !o) {
        rc = fr_error(err, FR_E_NOMEM, "hevc: out of memory");
        goto error;
    }
    if (key.mode == MODE_BLOCK && !(offsets = malloc((size_t)ebw * ebh * sizeof *offsets))) {
        rc = fr_error(err, FR_E_NOMEM, "hevc: out of memory");
        goto error;
    }
    x265_nal *nal;
    uint32_t nnal;
    if (buf_add(&b, en->ps.d, en->ps.n)) {
        rc = fr_error(err, FR_E_NOMEM, "hevc: out of memory");
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
            in->pts = poc0 + f;
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
            int r = api->encoder_encode(en->e, &nal, &nnal, pin, o);
            if (pin)
                en->pictures++;
            if (r < 0) {
                rc = fr_error(err, FR_E_CODEC, "hevc: x265 failed on frame %d", f);
                goto error;
            }
            if (r > 0) {
                if ((rc = add_frame(&b, en, poc0, nal, nnal, &fixed))) {
                    if (rc == FR_E_NOMEM)
                        rc = fr_error(err, FR_E_NOMEM, "hevc: out of memory");
                    goto error;
                }
                if (recon && copy_recon(o, poc0, recon)) {
                    rc = fr_error(err, FR_E_INTERNAL, "hevc: x265 returned picture %d of %d",
                                  o->poc - poc0, F);
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
    if (in)
        api->picture_free(in);
    if (o)
        api->picture_free(o);
    free(plane8);
    free(padded);
    free(offsets);
    free(b.d);
    if (rc && recon)
        fr_picture_free(recon);
    enc_put(en, rc != 0);
    if (reused || fixed) {
        EncCache *c = cache_get();
        if (c && fixed && !rc)
            c->st.fixed++;
        if (c && rc == FR_E_INTERNAL && poc0) {
            /* a header that did not read as expected: code it afresh */
            c->st.fallback++;
            return encode_mono(pic, qp, s, lossless, 1, out, out_n, recon, err);
        }
    }
    return rc;
}

int fr_x265_encode_mono(const FrPicture *pic, const FrQpMap *qp, const FrHevcSettings *s,
                        int lossless, uint8_t **out, size_t *out_n, FrPicture *recon,
                        FrError *err)
{
    return encode_mono(pic, qp, s, lossless, 0, out, out_n, recon, err);
}

static int encode_i420(const uint8_t *y, const uint8_t *u, const uint8_t *v, int w, int h, int qp,
                       const FrHevcSettings *hs, int fresh, uint8_t **out, size_t *out_n,
                       FrError *err)
{
    *out = NULL;
    *out_n = 0;
    /* The configured CTU, or the largest the picture holds (x265 needs one). */
    int fit = w >= 64 && h >= 64 ? 64 : w >= 32 && h >= 32 ? 32 : 16;
    EncKey key;
    memset(&key, 0, sizeof key);
    key.depth = 8;
    key.csp = X265_CSP_I420;
    key.w = w;
    key.h = h;
    key.frames = 1;
    key.mode = MODE_CQP;
    key.qp = qp;
    key.ctu = hs->ctu < fit ? hs->ctu : fit;
    key.s = *hs;
    Enc *en = NULL;
    x265_picture *in = NULL;
    Buf b = {0};
    int reused = 0, fixed = 0;
    int rc = enc_get(&key, fresh, &en, &reused, err);
    if (rc)
        return rc;
    const x265_api *api = en->api;
    int poc0 = en->pictures;
    if (!(in = api->picture_alloc())) {
        rc = fr_error(err, FR_E_NOMEM, "hevc: out of memory");
        goto error;
    }
    x265_nal *nal;
    uint32_t nnal;
    if (buf_add(&b, en->ps.d, en->ps.n)) {
        rc = fr_error(err, FR_E_NOMEM, "hevc: out of memory");
        goto error;
    }
    api->picture_init(en->p, in);
    in->planes[0] = (void *)y;
    in->planes[1] = (void *)u;
    in->planes[2] = (void *)v;
    in->stride[0] = w;
    in->stride[1] = in->stride[2] = w / 2;
    in->bitDepth = 8;
    in->colorSpace = X265_CSP_I420;
    in->pts = poc0;
    x265_picture *pin = in;
    int got = 0;
    for (;;) {
        int r = api->encoder_encode(en->e, &nal, &nnal, pin, NULL);
        if (pin)
            en->pictures++;
        if (r < 0) {
            rc = fr_error(err, FR_E_CODEC, "hevc: x265 failed on a %dx%d image", w, h);
            goto error;
        }
        if (r > 0) {
            got++;
            if ((rc = add_frame(&b, en, poc0, nal, nnal, &fixed))) {
                if (rc == FR_E_NOMEM)
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
    if (in)
        api->picture_free(in);
    free(b.d);
    enc_put(en, rc != 0);
    if (reused || fixed) {
        EncCache *c = cache_get();
        if (c && fixed && !rc)
            c->st.fixed++;
        if (c && rc == FR_E_INTERNAL && poc0) {
            c->st.fallback++;
            return encode_i420(y, u, v, w, h, qp, hs, 1, out, out_n, err);
        }
    }
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
    return encode_i420(y, u, v, w, h, qp, hs, 0, out, out_n, err);
}

const char *fr_x265_version(void)
{
    return x265_version_str;
}
