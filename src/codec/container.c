/* container.c: whole-feature coding: Q-layer + packing + inner coder for
 * every cut tensor, the .frd container that carries them (byte layout in
 * docs/codec.md), its parser, and bit accounting. */
#include "codec/codec_internal.h"
#include "featrd/container.h"
#include "codec/codec.h"
#include "codec/container.h"
#include "codec/pack.h"
#include "codec/quant.h"
#include "util/schema.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRD_MAGIC "FRD1"
#define FRD_VERSION 1

void fr_feature_defaults(FrFeatureSettings *s)
{
    memset(s, 0, sizeof *s);
    s->bits = 8;
    s->range = FR_RANGE_TENSOR;
    s->relu_min0 = 0;
    s->packing = FR_PACK_TILE;
    s->tile_pad = 0;
    s->codec = FR_CODEC_HEVC;
    s->qp = 32;
    s->codec_settings = NULL;
}

int fr_feature_validate(const FrFeatureSettings *s, FrError *err)
{
    const FrCodec *codec = fr_codec_by_id((int)s->codec);
    if (!codec)
        return fr_error(err, FR_E_USAGE, "codec %d is unknown", (int)s->codec);
    if (s->bits == FR_BITS_FLOAT) {
        if (!(codec->caps & FR_CODEC_BYTES))
            return fr_error(err, FR_E_USAGE,
                            "bits 32 (float32, no Q-layer) needs a lossless coder, not %s",
                            fr_codec_name(s->codec));
    } else if (s->bits < 1 || s->bits > 16) {
        return fr_error(err, FR_E_USAGE, "bits is %d: use 1..16 (8, 10, 12 typical) or 32 for float32",
                        s->bits);
    } else if (s->bits > codec->max_bits) {
        return fr_error(err, FR_E_USAGE, "bits is %d: %s codes at most %d bits", s->bits,
                        codec->name, codec->max_bits);
    }
    if (!fr_range_name(s->range))
        return fr_error(err, FR_E_USAGE, "range %d is unknown: use tensor or channel", (int)s->range);
    if (!fr_packing_name(s->packing))
        return fr_error(err, FR_E_USAGE, "packing %d is unknown: use tile, quilt, frames or tile-sorted",
                        (int)s->packing);
    if (s->tile_pad != 0 && s->tile_pad != 8 && s->tile_pad != 16)
        return fr_error(err, FR_E_USAGE, "tile_pad is %d: use 0, 8 or 16", s->tile_pad);
    if (s->relu_min0 != 0 && s->relu_min0 != 1)
        return fr_error(err, FR_E_USAGE, "relu_min0 is %d: use 0 or 1", s->relu_min0);
    if ((codec->caps & FR_CODEC_LOSSY) && (s->qp < codec->qp_lo || s->qp > codec->qp_hi))
        return fr_error(err, FR_E_USAGE, "qp is %d: %s takes %d..%d (%s)", s->qp, codec->name,
                        codec->qp_lo, codec->qp_hi, codec->qp_doc ? codec->qp_doc : "its QP");
    if (s->codec_settings) {
        int rc = fr_schema_validate(codec->settings, s->codec_settings, err);
        if (rc)
            return rc;
    }
    if (s->channel_qp) {
        if (!(codec->caps & FR_CODEC_BLOCK_QP) &&
            !((codec->caps & FR_CODEC_FRAME_QP) && s->packing == FR_PACK_FRAMES))
            return fr_error(err, FR_E_USAGE, "a QP per channel needs a codec with a QP per block "
                            "(hevc), or one with a QP per frame and packing frames; %s has %s",
                            codec->name, codec->caps & FR_CODEC_FRAME_QP ? "a QP per frame only"
                                                                         : "neither");
        if (s->packing == FR_PACK_QUILT || s->packing == FR_PACK_TILE_SORTED)
            return fr_error(err, FR_E_USAGE,
                            "a QP per channel needs packing tile or frames (%s)",
                            s->packing == FR_PACK_QUILT ? "quilt mixes channels within each block"
                                                        : "tile-sorted moves channels by content");
        for (int i = 0; i < s->n_channel_qp; i++)
            if (s->channel_qp[i] < codec->qp_lo || s->channel_qp[i] > codec->qp_hi)
                return fr_error(err, FR_E_USAGE, "the QP of channel %d is %d: use %d..%d", i,
                                s->channel_qp[i], codec->qp_lo, codec->qp_hi);
    }
    return 0;
}

/* ---- byte writer / reader ---------------------------------------------- */

typedef struct Wr {
    uint8_t *d;
    size_t n, cap;
    int oom;
} Wr;

static void wr_bytes(Wr *w, const void *p, size_t n)
{
    if (w->oom)
        return;
    if (w->n + n > w->cap) {
        size_t cap = w->cap ? w->cap : 1024;
        while (cap < w->n + n)
            cap *= 2;
        uint8_t *d = realloc(w->d, cap);
        if (!d) {
            w->oom = 1;
            return;
        }
        w->d = d;
        w->cap = cap;
    }
    memcpy(w->d + w->n, p, n);
    w->n += n;
}

static void wr_uint(Wr *w, uint64_t v, int nbytes)
{
    uint8_t b[8];
    for (int i = 0; i < nbytes; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    wr_bytes(w, b, (size_t)nbytes);
}

static void wr_f32(Wr *w, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    wr_uint(w, u, 4);
}

typedef struct Rd {
    const uint8_t *p;
    size_t n, pos;
    const char *what; /* the field being read, for the truncation message */
} Rd;

static int rd_need(Rd *r, size_t n, const char *what, FrError *err)
{
    if (n > r->n - r->pos)
        return fr_error(err, FR_E_FORMAT,
                        ".frd: truncated: %s needs %zu bytes at offset %zu but the file has %zu",
                        what, n, r->pos, r->n);
    return 0;
}

static int rd_uint(Rd *r, int nbytes, const char *what, uint64_t *v, FrError *err)
{
    int rc = rd_need(r, (size_t)nbytes, what, err);
    if (rc)
        return rc;
    *v = 0;
    for (int i = 0; i < nbytes; i++)
        *v |= (uint64_t)r->p[r->pos + i] << (8 * i);
    r->pos += (size_t)nbytes;
    return 0;
}

static int rd_f32(Rd *r, const char *what, float *f, FrError *err)
{
    uint64_t v;
    int rc = rd_uint(r, 4, what, &v, err);
    if (rc)
        return rc;
    uint32_t u = (uint32_t)v;
    memcpy(f, &u, 4);
    if (!isfinite(*f))
        return fr_error(err, FR_E_FORMAT, ".frd: %s is not a finite number (offset %zu)", what,
                        r->pos - 4);
    return 0;
}

/* ---- encode --------------------------------------------------------------- */

/* QP of every 16×16 block of a tile-packed picture: its channel's QP, the
 * base QP in unused cells. */
static int *tile_block_qp(const FrPackLayout *l, const int *cqp, int base)
{
    int bw = (l->width + 15) / 16, bh = (l->height + 15) / 16;
    int *b = malloc((size_t)bw * bh * sizeof *b);
    if (!b)
        return NULL;
    for (int by = 0; by < bh; by++)
        for (int bx = 0; bx < bw; bx++) {
            int row = by * 16 / l->tile_h, col = bx * 16 / l->tile_w;
            int k = row * l->grid_cols + col;
            b[by * bw + bx] = (row < l->grid_rows && col < l->grid_cols && k < l->c) ? cqp[k] : base;
        }
    return b;
}

static int encode_cut(const FrTensor *t, const FrFeatureSettings *s, int tile_pad, const int *cqp,
                      Wr *w, uint64_t *payload_bytes, FrError *err)
{
    int rc = 0;
    uint8_t *code = NULL;
    size_t ncode = 0;
    uint16_t *q = NULL;
    float *mins = NULL, *maxs = NULL;
    int *bq = NULL, *order = NULL;
    FrPicture pic = {0};
    FrPackLayout l;
    size_t ns = fr_tensor_size(t);

    wr_uint(w, (uint64_t)t->c, 4);
    wr_uint(w, (uint64_t)t->h, 4);
    wr_uint(w, (uint64_t)t->w, 4);
    if (s->bits == FR_BITS_FLOAT) {
        wr_uint(w, 0, 2);
        wr_uint(w, 0, 2);
        uint8_t *raw = malloc(ns * 4);
        if (!raw)
            return fr_error(err, FR_E_NOMEM, "encode: out of memory");
        for (size_t i = 0; i < ns; i++) {
            uint32_t u;
            memcpy(&u, &t->data[i], 4);
            for (int b = 0; b < 4; b++)
                raw[4 * i + (size_t)b] = (uint8_t)(u >> (8 * b));
        }
        rc = fr_lossless_encode(s->codec, raw, ns * 4, &code, &ncode, err);
        free(raw);
        if (rc)
            return rc;
        goto payload;
    }
    if ((rc = fr_pack_layout(s->packing, t->c, t->h, t->w, tile_pad, &l, err)))
        return rc;
    wr_uint(w, (uint64_t)l.grid_rows, 2);
    wr_uint(w, (uint64_t)l.grid_cols, 2);
    int nr = fr_quant_nranges(s->range, t->c);
    mins = malloc((size_t)nr * sizeof *mins);
    maxs = malloc((size_t)nr * sizeof *maxs);
    q = malloc(ns * sizeof *q);
    if (!mins || !maxs || !q) {
        rc = fr_error(err, FR_E_NOMEM, "encode: out of memory");
        goto done;
    }
    if ((rc = fr_quant_ranges(t, s->range, s->relu_min0, mins, maxs, err)) ||
        (rc = fr_quantize(t, s->bits, s->range, mins, maxs, q, err)))
        goto done;
    for (int i = 0; !s->relu_min0 && i < nr; i++)
        wr_f32(w, mins[i]);
    for (int i = 0; i < nr; i++)
        wr_f32(w, maxs[i]);
    if (cqp)
        for (int i = 0; i < t->c; i++)
            wr_uint(w, (uint64_t)cqp[i], 1);
    if (s->packing == FR_PACK_TILE_SORTED) {
        /* the order, then the picture it arranges */
        size_t ob = fr_channel_order_bytes(t->c);
        uint8_t *bytes = malloc(ob);
        if (!(order = malloc((size_t)t->c * sizeof *order)) || !bytes) {
            free(bytes);
            rc = fr_error(err, FR_E_NOMEM, "encode: out of memory");
            goto done;
        }
        fr_channel_order(q, t->c, t->h, t->w, order);
        fr_channel_order_put(order, t->c, bytes);
        wr_bytes(w, bytes, ob);
        free(bytes);
        l.order = order;
    }
    if ((rc = fr_pack(q, &l, s->bits, &pic, err)))
        goto done;
    FrQpMap map = {s->qp, NULL, NULL};
    if (cqp && s->packing == FR_PACK_FRAMES) {
        map.frame_qp = cqp;
    } else if (cqp) {
        if (!(bq = tile_block_qp(&l, cqp, s->qp))) {
            rc = fr_error(err, FR_E_NOMEM, "encode: out of memory");
            goto done;
        }
        map.block_qp = bq;
    }
    if ((rc = fr_picture_encode(s->codec, &pic, &map, s->codec_settings, &code, &ncode, NULL, err)))
        goto done;
payload:
    wr_uint(w, (uint64_t)ncode, 4);
    wr_bytes(w, code, ncode);
    *payload_bytes += ncode;
done:
    free(code);
    free(q);
    free(mins);
    free(maxs);
    free(bq);
    free(order);
    fr_picture_free(&pic);
    return rc;
}

int fr_feature_encode(const FrTensor *cuts, int ncuts, const char *split_name,
                      const FrFeatureSettings *s, uint8_t **frd, size_t *frd_len,
                      FrBitStats *bits, FrError *err)
{
    double t0 = fr_now();
    *frd = NULL;
    *frd_len = 0;
    if (bits)
        memset(bits, 0, sizeof *bits);
    int rc = fr_feature_validate(s, err);
    if (rc)
        return rc;
    if (!cuts || ncuts < 1 || ncuts > FR_MAX_CUTS)
        return fr_error(err, FR_E_USAGE, "encode: %d cut tensors: use 1..%d", ncuts, FR_MAX_CUTS);
    size_t name_len = split_name ? strlen(split_name) : 0;
    if (name_len > FR_MAX_SPLIT_NAME)
        return fr_error(err, FR_E_USAGE, "encode: split name is longer than %d bytes",
                        FR_MAX_SPLIT_NAME);
    long total_c = 0;
    for (int i = 0; i < ncuts; i++) {
        if (!cuts[i].data || cuts[i].c <= 0 || cuts[i].h <= 0 || cuts[i].w <= 0)
            return fr_error(err, FR_E_USAGE, "encode: cut tensor %d is empty", i);
        total_c += cuts[i].c;
    }
    if (s->channel_qp && s->n_channel_qp != total_c)
        return fr_error(err, FR_E_USAGE,
                        "encode: %d channel QPs given for %ld channels (all cut tensors)",
                        s->n_channel_qp, total_c);
    /* A QP per tile only works when no CTU straddles two channels. */
    int tile_pad = s->packing == FR_PACK_TILE         ? (s->channel_qp ? 16 : s->tile_pad)
                   : s->packing == FR_PACK_TILE_SORTED ? s->tile_pad
                                                      : 0;
    int lossy = (fr_codec_caps(s->codec) & FR_CODEC_LOSSY) != 0;

    Wr w = {0};
    wr_bytes(&w, FRD_MAGIC, 4);
    wr_uint(&w, FRD_VERSION, 2);
    wr_uint(&w, 0, 2);
    wr_uint(&w, name_len, 1);
    wr_bytes(&w, split_name ? split_name : "", name_len);
    wr_uint(&w, (uint64_t)ncuts, 1);
    wr_uint(&w, (uint64_t)s->bits, 1);
    wr_uint(&w, (uint64_t)s->range, 1);
    wr_uint(&w, (uint64_t)s->relu_min0, 1);
    wr_uint(&w, (uint64_t)s->packing, 1);
    wr_uint(&w, (uint64_t)tile_pad, 1);
    wr_uint(&w, (uint64_t)s->codec, 1);
    wr_uint(&w, lossy ? (uint64_t)s->qp : 0, 1);
    wr_uint(&w, s->channel_qp ? 1 : 0, 1);
    uint64_t payload = 0;
    int off = 0;
    for (int i = 0; i < ncuts && !rc; i++) {
        rc = encode_cut(&cuts[i], s, tile_pad, s->channel_qp ? s->channel_qp + off : NULL, &w,
                        &payload, err);
        off += cuts[i].c;
    }
    if (!rc) {
        uint32_t crc = fr_zlib_crc32(w.d, w.n);
        wr_uint(&w, crc, 4);
    }
    if (!rc && w.oom)
        rc = fr_error(err, FR_E_NOMEM, "encode: out of memory for the container");
    if (rc) {
        free(w.d);
        return rc;
    }
    *frd = w.d;
    *frd_len = w.n;
    if (bits) {
        bits->total_bits = (uint64_t)w.n * 8;
        bits->payload_bits = payload * 8;
        bits->side_bits = bits->total_bits - bits->payload_bits;
        bits->encode_seconds = fr_now() - t0;
    }
    return 0;
}

/* ---- decode --------------------------------------------------------------- */

static int read_header(Rd *r, FrFeatureInfo *info, FrError *err)
{
    memset(info, 0, sizeof *info);
    if (r->n < 4 || memcmp(r->p, FRD_MAGIC, 4))
        return fr_error(err, FR_E_FORMAT, ".frd: not a featrd container (bad magic)");
    if (r->n < 30)
        return fr_error(err, FR_E_FORMAT, ".frd: truncated: %zu bytes is shorter than any container",
                        r->n);
    uint32_t want = (uint32_t)(r->p[r->n - 4] | r->p[r->n - 3] << 8 | r->p[r->n - 2] << 16 |
                               (uint32_t)r->p[r->n - 1] << 24);
    if (fr_zlib_crc32(r->p, r->n - 4) != want)
        return fr_error(err, FR_E_FORMAT,
                        ".frd: checksum mismatch: the file is corrupt or truncated (%zu bytes)", r->n);
    r->n -= 4; /* the fields end before the CRC */
    r->pos = 4;
    uint64_t v, ver, nl;
    int rc;
    if ((rc = rd_uint(r, 2, "version", &ver, err)) || (rc = rd_uint(r, 2, "flags", &v, err)))
        return rc;
    if (ver != FRD_VERSION)
        return fr_error(err, FR_E_FORMAT, ".frd: version %llu is not supported (this is version %d)",
                        (unsigned long long)ver, FRD_VERSION);
    if ((rc = rd_uint(r, 1, "split name length", &nl, err)) ||
        (rc = rd_need(r, (size_t)nl, "split name", err)))
        return rc;
    memcpy(info->split_name, r->p + r->pos, (size_t)nl);
    info->split_name[nl] = 0;
    r->pos += (size_t)nl;
    uint64_t f[9];
    static const char *names[9] = {"cut count", "bits",     "range mode", "relu_min0",     "packing",
                                   "tile_pad",  "codec",    "qp",         "channel QP flag"};
    for (int i = 0; i < 9; i++)
        if ((rc = rd_uint(r, 1, names[i], &f[i], err)))
            return rc;
    info->ncuts = (int)f[0];
    info->bits = (int)f[1];
    info->range = (FrRangeMode)f[2];
    info->relu_min0 = (int)f[3];
    info->packing = (FrPacking)f[4];
    info->tile_pad = (int)f[5];
    info->codec = (FrCodecKind)f[6];
    info->qp = (int)f[7];
    info->has_channel_qp = (int)f[8];
    if (info->ncuts < 1 || info->ncuts > FR_MAX_CUTS)
        return fr_error(err, FR_E_FORMAT, ".frd: %d cut tensors (expected 1..%d)", info->ncuts,
                        FR_MAX_CUTS);
    if (!fr_codec_name(info->codec))
        return fr_error(err, FR_E_FORMAT, ".frd: unknown codec id %d", (int)info->codec);
    FrFeatureSettings s;
    fr_feature_defaults(&s);
    s.bits = info->bits;
    s.range = info->range;
    s.relu_min0 = info->relu_min0;
    s.packing = info->packing;
    s.tile_pad = info->tile_pad;
    s.codec = info->codec;
    s.qp = info->qp;
    FrError e2;
    if (fr_feature_validate(&s, &e2))
        return fr_error(err, FR_E_FORMAT, ".frd: bad header: %s", e2.msg);
    unsigned caps = fr_codec_caps(info->codec);
    if (info->has_channel_qp > 1 ||
        (info->has_channel_qp && !(caps & FR_CODEC_BLOCK_QP) &&
         !((caps & FR_CODEC_FRAME_QP) && info->packing == FR_PACK_FRAMES)))
        return fr_error(err, FR_E_FORMAT, ".frd: bad channel QP flag %d", info->has_channel_qp);
    return 0;
}

typedef struct CutHdr {
    int c, h, w, gr, gc;
    size_t ranges_at, qps_at, order_at, payload_at, payload_n;
} CutHdr;

static int read_cut(Rd *r, const FrFeatureInfo *info, CutHdr *ch, FrError *err)
{
    uint64_t c, h, w, gr, gc, pn;
    int rc;
    if ((rc = rd_uint(r, 4, "channels", &c, err)) || (rc = rd_uint(r, 4, "height", &h, err)) ||
        (rc = rd_uint(r, 4, "width", &w, err)) || (rc = rd_uint(r, 2, "grid rows", &gr, err)) ||
        (rc = rd_uint(r, 2, "grid columns", &gc, err)))
        return rc;
    if (c < 1 || h < 1 || w < 1 || c > (1 << 20) || h > (1 << 16) || w > (1 << 16) ||
        c * h * w > ((uint64_t)1 << 31))
        return fr_error(err, FR_E_FORMAT, ".frd: bad tensor shape %llux%llux%llu",
                        (unsigned long long)c, (unsigned long long)h, (unsigned long long)w);
    ch->c = (int)c;
    ch->h = (int)h;
    ch->w = (int)w;
    ch->gr = (int)gr;
    ch->gc = (int)gc;
    ch->ranges_at = r->pos;
    if (info->bits != FR_BITS_FLOAT) {
        size_t nr = (size_t)fr_quant_nranges(info->range, ch->c);
        size_t rb = nr * 4 * (info->relu_min0 ? 1 : 2);
        if ((rc = rd_need(r, rb, "min/max values", err)))
            return rc;
        r->pos += rb;
    }
    ch->qps_at = r->pos;
    if (info->has_channel_qp) {
        if ((rc = rd_need(r, (size_t)ch->c, "channel QPs", err)))
            return rc;
        r->pos += (size_t)ch->c;
    }
    ch->order_at = r->pos;
    if (info->bits != FR_BITS_FLOAT && info->packing == FR_PACK_TILE_SORTED) {
        size_t ob = fr_channel_order_bytes(ch->c);
        if ((rc = rd_need(r, ob, "channel order", err)))
            return rc;
        r->pos += ob;
    }
    if ((rc = rd_uint(r, 4, "payload length", &pn, err)) ||
        (rc = rd_need(r, (size_t)pn, "payload", err)))
        return rc;
    ch->payload_at = r->pos;
    ch->payload_n = (size_t)pn;
    r->pos += (size_t)pn;
    return 0;
}

int fr_feature_probe(const uint8_t *frd, size_t len, FrFeatureInfo *info, FrError *err)
{
    Rd r = {frd, len, 0, NULL};
    int rc = read_header(&r, info, err);
    if (rc)
        return rc;
    uint64_t payload = 0;
    for (int i = 0; i < info->ncuts; i++) {
        CutHdr ch;
        if ((rc = read_cut(&r, info, &ch, err)))
            return rc;
        info->c[i] = ch.c;
        info->h[i] = ch.h;
        info->w[i] = ch.w;
        payload += ch.payload_n;
    }
    if (r.pos != r.n)
        return fr_error(err, FR_E_FORMAT, ".frd: %zu unexpected bytes after the last cut tensor",
                        r.n - r.pos);
    info->bits_stats.total_bits = (uint64_t)len * 8;
    info->bits_stats.payload_bits = payload * 8;
    info->bits_stats.side_bits = info->bits_stats.total_bits - payload * 8;
    return 0;
}

static int decode_cut(const uint8_t *frd, const FrFeatureInfo *info, const CutHdr *ch, FrTensor *t,
                      int contained, FrError *err)
{
    /* the payload is decoded before the tensor is allocated: a shape the
     * payload does not hold is refused without allocating it */
    int rc = 0;
    memset(t, 0, sizeof *t);
    size_t ns = (size_t)ch->c * (size_t)ch->h * (size_t)ch->w;
    const uint8_t *pay = frd + ch->payload_at;
    if (info->bits == FR_BITS_FLOAT) {
        uint8_t *raw = NULL;
        size_t nraw = 0;
        if ((rc = fr_lossless_decode(info->codec, pay, ch->payload_n, &raw, &nraw, err)))
            goto fail;
        if (nraw != ns * 4) {
            free(raw);
            rc = fr_error(err, FR_E_FORMAT, ".frd: corrupt: the float payload holds %zu bytes, the shape %dx%dx%d (fields channels, height, width) needs %zu", nraw,
                          ch->c, ch->h, ch->w, ns * 4);
            goto fail;
        }
        if ((rc = fr_tensor_alloc(t, ch->c, ch->h, ch->w))) {
            free(raw);
            rc = fr_error(err, rc, "decode: out of memory for a %dx%dx%d tensor", ch->c, ch->h, ch->w);
            goto fail;
        }
        for (size_t i = 0; i < ns; i++) {
            uint32_t u = (uint32_t)raw[4 * i] | (uint32_t)raw[4 * i + 1] << 8 |
                         (uint32_t)raw[4 * i + 2] << 16 | (uint32_t)raw[4 * i + 3] << 24;
            memcpy(&t->data[i], &u, 4);
        }
        free(raw);
        return 0;
    }
    FrPackLayout l;
    FrError e2;
    if (fr_pack_layout(info->packing, ch->c, ch->h, ch->w, info->tile_pad, &l, &e2)) {
        rc = fr_error(err, FR_E_FORMAT, ".frd: %s", e2.msg);
        goto fail;
    }
    if (l.grid_rows != ch->gr || l.grid_cols != ch->gc) {
        rc = fr_error(err, FR_E_FORMAT, ".frd: grid %dx%d does not match the shape (expected %dx%d)",
                      ch->gr, ch->gc, l.grid_rows, l.grid_cols);
        goto fail;
    }
    int nr = fr_quant_nranges(info->range, ch->c);
    float *mins = malloc((size_t)nr * sizeof *mins), *maxs = malloc((size_t)nr * sizeof *maxs);
    uint16_t *q = NULL;
    int *order = NULL;
    FrPicture pic = {0};
    if (!mins || !maxs) {
        rc = fr_error(err, FR_E_NOMEM, "decode: out of memory");
        goto done;
    }
    if (info->packing == FR_PACK_TILE_SORTED) {
        if (!(order = malloc((size_t)ch->c * sizeof *order))) {
            rc = fr_error(err, FR_E_NOMEM, "decode: out of memory");
            goto done;
        }
        if (fr_channel_order_get(frd + ch->order_at, ch->c, order, &e2)) {
            rc = fr_error(err, FR_E_FORMAT, ".frd: corrupt: %s", e2.msg);
            goto done;
        }
        l.order = order;
    }
    Rd r = {frd, ch->qps_at, ch->ranges_at, NULL};
    for (int i = 0; i < nr && !rc; i++) {
        mins[i] = 0;
        if (!info->relu_min0)
            rc = rd_f32(&r, "minimum", &mins[i], err);
    }
    for (int i = 0; i < nr && !rc; i++)
        if (!(rc = rd_f32(&r, "maximum", &maxs[i], err)) && maxs[i] < mins[i])
            rc = fr_error(err, FR_E_FORMAT, ".frd: range %d has max %g below min %g", i,
                          (double)maxs[i], (double)mins[i]);
    if (rc)
        goto done;
    if ((rc = (contained ? fr_picture_decode_contained : fr_picture_decode)(
             info->codec, pay, ch->payload_n, l.width, l.height, l.frames, info->bits, &pic, err)))
        goto done;
    if (!(q = malloc(ns * sizeof *q)) || fr_tensor_alloc(t, ch->c, ch->h, ch->w)) {
        rc = fr_error(err, FR_E_NOMEM, "decode: out of memory for a %dx%dx%d tensor", ch->c, ch->h, ch->w);
        goto done;
    }
    if ((rc = fr_unpack(&pic, &l, q, err)) ||
        (rc = fr_dequantize(q, info->bits, info->range, mins, maxs, t, err)))
        goto done;
done:
    free(mins);
    free(maxs);
    free(q);
    free(order);
    fr_picture_free(&pic);
    if (!rc)
        return 0;
fail:
    fr_tensor_free(t);
    return rc;
}

static int feature_decode(const uint8_t *frd, size_t len, FrTensor **cuts, int *ncuts,
                          FrFeatureInfo *info, int contained, FrError *err)
{
    double t0 = fr_now();
    *cuts = NULL;
    *ncuts = 0;
    FrFeatureInfo own;
    if (!info)
        info = &own;
    Rd r = {frd, len, 0, NULL};
    int rc = read_header(&r, info, err);
    if (rc)
        return rc;
    CutHdr hdr[FR_MAX_CUTS];
    uint64_t payload = 0;
    for (int i = 0; i < info->ncuts; i++) {
        if ((rc = read_cut(&r, info, &hdr[i], err)))
            return rc;
        info->c[i] = hdr[i].c;
        info->h[i] = hdr[i].h;
        info->w[i] = hdr[i].w;
        payload += hdr[i].payload_n;
    }
    if (r.pos != r.n)
        return fr_error(err, FR_E_FORMAT, ".frd: %zu unexpected bytes after the last cut tensor",
                        r.n - r.pos);
    FrTensor *t = calloc((size_t)info->ncuts, sizeof *t);
    if (!t)
        return fr_error(err, FR_E_NOMEM, "decode: out of memory");
    for (int i = 0; i < info->ncuts; i++)
        if ((rc = decode_cut(frd, info, &hdr[i], &t[i], contained, err))) {
            for (int j = 0; j < i; j++)
                fr_tensor_free(&t[j]);
            free(t);
            return rc;
        }
    info->bits_stats.total_bits = (uint64_t)len * 8;
    info->bits_stats.payload_bits = payload * 8;
    info->bits_stats.side_bits = info->bits_stats.total_bits - payload * 8;
    info->decode_seconds = fr_now() - t0;
    *cuts = t;
    *ncuts = info->ncuts;
    return 0;
}

int fr_feature_decode(const uint8_t *frd, size_t len, FrTensor **cuts, int *ncuts,
                      FrFeatureInfo *info, FrError *err)
{
    return feature_decode(frd, len, cuts, ncuts, info, 0, err);
}

int fr_feature_decode_untrusted(const uint8_t *frd, size_t len, FrTensor **cuts, int *ncuts,
                                FrFeatureInfo *info, FrError *err)
{
    return feature_decode(frd, len, cuts, ncuts, info, 1, err);
}

int fr_feature_streams(const uint8_t *frd, size_t len, FrFeatureInfo *info,
                       FrFeatureStream *streams, FrError *err)
{
    Rd r = {frd, len, 0, NULL};
    int rc = read_header(&r, info, err);
    if (rc)
        return rc;
    for (int i = 0; i < info->ncuts; i++) {
        CutHdr ch;
        if ((rc = read_cut(&r, info, &ch, err)))
            return rc;
        FrFeatureStream *s = &streams[i];
        memset(s, 0, sizeof *s);
        info->c[i] = s->c = ch.c;
        info->h[i] = s->h = ch.h;
        info->w[i] = s->w = ch.w;
        s->payload = frd + ch.payload_at;
        s->payload_n = ch.payload_n;
        s->min = s->max = NAN;
        if (info->bits == FR_BITS_FLOAT)
            continue;
        FrError e2;
        if (fr_pack_layout(info->packing, ch.c, ch.h, ch.w, info->tile_pad, &s->layout, &e2))
            return fr_error(err, FR_E_FORMAT, ".frd: %s", e2.msg);
        if (info->range == FR_RANGE_TENSOR) {
            Rd q = {frd, ch.qps_at, ch.ranges_at, NULL};
            s->min = 0;
            if ((!info->relu_min0 && (rc = rd_f32(&q, "minimum", &s->min, err))) ||
                (rc = rd_f32(&q, "maximum", &s->max, err)))
                return rc;
        }
    }
    if (r.pos != r.n)
        return fr_error(err, FR_E_FORMAT, ".frd: %zu unexpected bytes after the last cut tensor",
                        r.n - r.pos);
    return 0;
}

double fr_feature_mse_nbit(const FrTensor *a, const FrTensor *b, int bits)
{
    if (!a || !b || a->c != b->c || a->h != b->h || a->w != b->w || bits < 1 || bits > 16 ||
        !a->data || !b->data)
        return NAN;
    size_t n = fr_tensor_size(a);
    float lo = a->data[0], hi = a->data[0];
    for (size_t i = 1; i < n; i++) {
        lo = a->data[i] < lo ? a->data[i] : lo;
        hi = a->data[i] > hi ? a->data[i] : hi;
    }
    double levels = (double)((1u << bits) - 1u), span = (double)hi - lo;
    double scale = span > 0 ? levels / span : 0, sum = 0;
    for (size_t i = 0; i < n; i++) {
        double qa = floor(((double)a->data[i] - lo) * scale + 0.5);
        double vb = ((double)b->data[i] - lo) * scale;
        vb = vb < 0 ? 0 : vb > levels ? levels : vb;
        double qb = floor(vb + 0.5);
        sum += (qa - qb) * (qa - qb);
    }
    return sum / (double)n;
}
