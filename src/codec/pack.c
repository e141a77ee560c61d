/* pack.c: tile / quilt / frames arrangement of n-bit feature samples into
 * monochrome pictures, the exact inverses, and the picture type. */
#include "featrd/pack.h"
#include "codec/pack.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

const char *fr_packing_name(FrPacking p)
{
    switch (p) {
    case FR_PACK_TILE: return "tile";
    case FR_PACK_QUILT: return "quilt";
    case FR_PACK_FRAMES: return "frames";
    case FR_PACK_TILE_SORTED: return "tile-sorted";
    }
    return NULL;
}

int fr_packing_from_name(const char *name, FrPacking *out, FrError *err)
{
    static const char *names[] = {"tile", "quilt", "frames", "tile-sorted"};
    for (int i = 0; i < 4; i++)
        if (name && !strcmp(name, names[i])) {
            *out = (FrPacking)i;
            return 0;
        }
    return fr_error(err, FR_E_USAGE, "packing '%s' is unknown: use tile, quilt, frames or tile-sorted",
                    name ? name : "(null)");
}

int fr_picture_alloc(FrPicture *p, int width, int height, int frames, int bit_depth)
{
    memset(p, 0, sizeof *p);
    if (width <= 0 || height <= 0 || frames <= 0 || bit_depth < 1 || bit_depth > 16)
        return FR_E_USAGE;
    p->samples = calloc((size_t)width * (size_t)height * (size_t)frames, sizeof(uint16_t));
    if (!p->samples)
        return FR_E_NOMEM;
    p->width = width;
    p->height = height;
    p->frames = frames;
    p->bit_depth = bit_depth;
    return 0;
}

void fr_picture_free(FrPicture *p)
{
    if (!p)
        return;
    free(p->samples);
    memset(p, 0, sizeof *p);
}

static int round_up(int v, int m) { return m > 1 ? (v + m - 1) / m * m : v; }

int fr_pack_layout(FrPacking p, int c, int h, int w, int tile_pad, FrPackLayout *l, FrError *err)
{
    memset(l, 0, sizeof *l);
    if (c <= 0 || h <= 0 || w <= 0 || c > (1 << 20) || h > (1 << 16) || w > (1 << 16))
        return fr_error(err, FR_E_USAGE, "pack: shape %dx%dx%d is out of range", c, h, w);
    if (tile_pad != 0 && tile_pad != 8 && tile_pad != 16)
        return fr_error(err, FR_E_USAGE, "pack: tile_pad %d is invalid: use 0, 8 or 16", tile_pad);
    if (!fr_packing_name(p))
        return fr_error(err, FR_E_USAGE, "pack: unknown packing %d", (int)p);
    l->packing = p;
    l->c = c;
    l->h = h;
    l->w = w;
    l->tile_pad = p == FR_PACK_TILE || p == FR_PACK_TILE_SORTED ? tile_pad : 0;
    l->tile_h = round_up(h, l->tile_pad);
    l->tile_w = round_up(w, l->tile_pad);
    if (p == FR_PACK_FRAMES) {
        l->grid_rows = l->grid_cols = 1;
        l->frames = c;
    } else {
        int gc = 1;
        while ((long)gc * gc < c)
            gc++;
        l->grid_cols = gc;
        l->grid_rows = (c + gc - 1) / gc;
        l->frames = 1;
    }
    long cw = (long)l->grid_cols * l->tile_w, ch = (long)l->grid_rows * l->tile_h;
    if (cw > 32768 || ch > 32768)
        return fr_error(err, FR_E_USAGE, "pack: picture %ldx%ld for shape %dx%dx%d is too large",
                        cw, ch, c, h, w);
    l->width = round_up((int)cw, 8);
    l->height = round_up((int)ch, 8);
    l->pad_w = l->width - (int)cw;
    l->pad_h = l->height - (int)ch;
    return 0;
}

/* Fills the picture padding (right of and below the content) by repeating
 * the last content column and row, which costs the coder almost nothing. */
static void pad_edges(uint16_t *f, int width, int height, int cw, int ch)
{
    for (int y = 0; y < ch; y++)
        for (int x = cw; x < width; x++)
            f[(size_t)y * width + x] = f[(size_t)y * width + cw - 1];
    for (int y = ch; y < height; y++)
        memcpy(f + (size_t)y * width, f + (size_t)(ch - 1) * width, (size_t)width * sizeof *f);
}

/* The channel in cell k, and the grid column of cell k (tile-sorted runs
 * odd rows right to left). */
static int cell_channel(const FrPackLayout *l, int k)
{
    return l->order ? l->order[k] : k;
}

static int cell_col(const FrPackLayout *l, int k)
{
    int col = k % l->grid_cols;
    return l->packing == FR_PACK_TILE_SORTED && (k / l->grid_cols) % 2 ? l->grid_cols - 1 - col : col;
}

typedef struct ChanMean {
    uint64_t sum;
    int k;
} ChanMean;

static int by_mean(const void *a, const void *b)
{
    const ChanMean *x = a, *y = b;
    if (x->sum != y->sum)
        return x->sum < y->sum ? -1 : 1;
    return (x->k > y->k) - (x->k < y->k);
}

void fr_channel_order(const uint16_t *q, int c, int h, int w, int *order)
{
    size_t plane = (size_t)h * w;
    ChanMean *m = malloc((size_t)c * sizeof *m);
    if (!m) { /* index order: still a valid permutation */
        for (int k = 0; k < c; k++)
            order[k] = k;
        return;
    }
    for (int k = 0; k < c; k++) {
        uint64_t sum = 0;
        for (size_t i = 0; i < plane; i++)
            sum += q[(size_t)k * plane + i];
        m[k] = (ChanMean){sum, k}; /* equal planes: the sum orders like the mean */
    }
    qsort(m, (size_t)c, sizeof *m, by_mean);
    for (int k = 0; k < c; k++)
        order[k] = m[k].k;
    free(m);
}

static int order_bits(int c)
{
    int b = 1;
    while (b < 31 && (1L << b) < c)
        b++;
    return b;
}

size_t fr_channel_order_bytes(int c)
{
    return ((size_t)c * (size_t)order_bits(c) + 7) / 8;
}

void fr_channel_order_put(const int *order, int c, uint8_t *out)
{
    int b = order_bits(c);
    memset(out, 0, fr_channel_order_bytes(c));
    size_t bit = 0;
    for (int k = 0; k < c; k++)
        for (int i = b - 1; i >= 0; i--, bit++)
            if ((order[k] >> i) & 1)
                out[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
}

int fr_channel_order_get(const uint8_t *in, int c, int *order, FrError *err)
{
    int b = order_bits(c);
    uint8_t *seen = calloc((size_t)c, 1);
    if (!seen)
        return fr_error(err, FR_E_NOMEM, "channel order: out of memory");
    size_t bit = 0;
    int rc = 0;
    for (int k = 0; k < c && !rc; k++) {
        int v = 0;
        for (int i = 0; i < b; i++, bit++)
            v = v << 1 | ((in[bit / 8] >> (7 - bit % 8)) & 1);
        if (v >= c || seen[v])
            rc = fr_error(err, FR_E_FORMAT, "channel order: entry %d (%d) is %s", k, v,
                          v >= c ? "not a channel" : "repeated");
        else
            seen[v] = 1;
        order[k] = v;
    }
    free(seen);
    return rc;
}

int fr_pack(const uint16_t *q, const FrPackLayout *l, int bits, FrPicture *out, FrError *err)
{
    int rc = fr_picture_alloc(out, l->width, l->height, l->frames, bits);
    if (rc)
        return fr_error(err, rc, "pack: cannot allocate a %dx%dx%d picture", l->width, l->height,
                        l->frames);
    size_t plane = (size_t)l->h * l->w, W = (size_t)l->width;
    size_t fsz = W * (size_t)l->height;
    for (int k = 0; k < l->c; k++) {
        const uint16_t *s = q + (size_t)cell_channel(l, k) * plane;
        if (l->packing == FR_PACK_FRAMES) {
            uint16_t *f = out->samples + (size_t)k * fsz;
            for (int y = 0; y < l->h; y++)
                memcpy(f + (size_t)y * W, s + (size_t)y * l->w, (size_t)l->w * sizeof *f);
        } else if (l->packing == FR_PACK_TILE || l->packing == FR_PACK_TILE_SORTED) {
            size_t y0 = (size_t)(k / l->grid_cols) * l->tile_h;
            size_t x0 = (size_t)cell_col(l, k) * l->tile_w;
            uint16_t *f = out->samples + y0 * W + x0;
            for (int y = 0; y < l->tile_h; y++) {
                /* Cell padding repeats the channel's edge so a tile stays smooth. */
                const uint16_t *row = s + (size_t)(y < l->h ? y : l->h - 1) * l->w;
                uint16_t *d = f + (size_t)y * W;
                memcpy(d, row, (size_t)l->w * sizeof *d);
                for (int x = l->w; x < l->tile_w; x++)
                    d[x] = row[l->w - 1];
            }
        } else {
            int i = k / l->grid_cols, j = k % l->grid_cols;
            for (int y = 0; y < l->h; y++)
                for (int x = 0; x < l->w; x++)
                    out->samples[((size_t)y * l->grid_rows + i) * W + (size_t)x * l->grid_cols + j] =
                        s[(size_t)y * l->w + x];
        }
    }
    int cw = l->grid_cols * l->tile_w, ch = l->grid_rows * l->tile_h;
    for (int fi = 0; fi < l->frames; fi++)
        pad_edges(out->samples + (size_t)fi * fsz, l->width, l->height, cw, ch);
    return 0;
}

int fr_unpack(const FrPicture *pic, const FrPackLayout *l, uint16_t *q, FrError *err)
{
    if (!pic || !pic->samples || pic->width != l->width || pic->height != l->height ||
        pic->frames != l->frames)
        return fr_error(err, FR_E_MISMATCH,
                        "unpack: picture %dx%dx%d does not match the layout %dx%dx%d",
                        pic ? pic->width : 0, pic ? pic->height : 0, pic ? pic->frames : 0,
                        l->width, l->height, l->frames);
    size_t plane = (size_t)l->h * l->w, W = (size_t)l->width;
    size_t fsz = W * (size_t)l->height;
    for (int k = 0; k < l->c; k++) {
        uint16_t *d = q + (size_t)cell_channel(l, k) * plane;
        const uint16_t *f;
        if (l->packing == FR_PACK_FRAMES) {
            f = pic->samples + (size_t)k * fsz;
        } else if (l->packing == FR_PACK_TILE || l->packing == FR_PACK_TILE_SORTED) {
            f = pic->samples + (size_t)(k / l->grid_cols) * l->tile_h * W +
                (size_t)cell_col(l, k) * l->tile_w;
        } else {
            int i = k / l->grid_cols, j = k % l->grid_cols;
            for (int y = 0; y < l->h; y++)
                for (int x = 0; x < l->w; x++)
                    d[(size_t)y * l->w + x] =
                        pic->samples[((size_t)y * l->grid_rows + i) * W + (size_t)x * l->grid_cols + j];
            continue;
        }
        for (int y = 0; y < l->h; y++)
            memcpy(d + (size_t)y * l->w, f + (size_t)y * W, (size_t)l->w * sizeof *d);
    }
    return 0;
}
