/* featrd/pack.h: arranging an n-bit C×H×W feature into monochrome (4:0:0)
 * pictures for a video coder, and the exact inverse. Thread-safe. */
#ifndef FEATRD_PACK_H
#define FEATRD_PACK_H

#include "featrd/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum FrPacking {
    FR_PACK_TILE = 0,   /* channels in index order into a near-square grid, row-major */
    FR_PACK_QUILT = 1,  /* seed 001 Fig. 3b: the grid interleaved sample by sample, so
                         * neighbouring samples come from different channels */
    FR_PACK_FRAMES = 2, /* one channel per frame */
    FR_PACK_TILE_SORTED = 3, /* tile, channels ordered by their mean sample (ties by index)
                              * along a snake (rows alternate direction), so neighbouring
                              * cells hold similar channels; the order is sent */
} FrPacking;

/* Name <-> enum: "tile", "quilt", "frames", "tile-sorted". */
const char *fr_packing_name(FrPacking p);
int fr_packing_from_name(const char *name, FrPacking *out, FrError *err);

/* One or more monochrome pictures of equal size: samples holds
 * frames × height × width uint16 values (row-major, frame after frame), each
 * below 2^bit_depth. The picture owns samples. */
typedef struct FrPicture {
    int width, height, frames, bit_depth;
    uint16_t *samples;
} FrPicture;

int fr_picture_alloc(FrPicture *p, int width, int height, int frames, int bit_depth);
/* Frees samples and zeroes p; safe on a zeroed picture. */
void fr_picture_free(FrPicture *p);

/* Where each channel goes. Computed by fr_pack_layout() from the tensor
 * shape alone, so a decoder recomputes it from the container header.
 *  tile:   tile_h×tile_w cells (h, w rounded up to tile_pad), grid_rows ×
 *          grid_cols of them; channel k sits in cell (k / grid_cols, k % grid_cols).
 *  quilt:  picture sample (y*grid_rows + i, x*grid_cols + j) is channel
 *          i*grid_cols + j at (y, x).
 *  frames: grid 1×1, frames = c.
 * width/height are the content size rounded up to a multiple of 8 (HEVC's
 * minimum CU); pad_w/pad_h record that rounding. Padding repeats the last
 * row/column (cheap to code); unused grid cells are 0. */
typedef struct FrPackLayout {
    FrPacking packing;
    int c, h, w;
    int tile_pad;             /* 0 (none), 8 or 16: tile cells rounded up to this */
    int tile_h, tile_w;       /* cell size (tile: padded h, w; quilt/frames: h, w) */
    int grid_rows, grid_cols;
    int width, height, frames;
    int pad_w, pad_h;         /* picture padding added for the coder */
    const int *order;         /* tile-sorted: order[k] is the channel in cell k (a
                                 permutation of 0..c-1; see fr_channel_order); NULL means
                                 index order. Not owned; fr_pack_layout sets it NULL */
} FrPackLayout;

/* Near-square grid: grid_cols = ceil(sqrt(c)), grid_rows = ceil(c / grid_cols).
 * tile_pad must be 0, 8 or 16 (used by tile packing only). */
int fr_pack_layout(FrPacking p, int c, int h, int w, int tile_pad, FrPackLayout *out,
                   FrError *err);

/* tile-sorted's channel order: channels by ascending mean sample, ties by
 * index (deterministic; all-zero channels come first and sit together).
 * order holds c entries. */
void fr_channel_order(const uint16_t *q, int c, int h, int w, int *order);
/* Bytes that carry such an order in a container: c entries of
 * ceil(log2 c) bits (at least 1), packed MSB first. */
size_t fr_channel_order_bytes(int c);
void fr_channel_order_put(const int *order, int c, uint8_t *out);
/* The inverse; FR_E_FORMAT unless the bytes hold a permutation of 0..c-1. */
int fr_channel_order_get(const uint8_t *in, int c, int *order, FrError *err);

/* q: c×h×w n-bit samples (from fr_quantize). Allocates out. */
int fr_pack(const uint16_t *q, const FrPackLayout *l, int bits, FrPicture *out, FrError *err);
/* Inverse of fr_pack: picture back to c×h×w samples in q (caller-allocated). */
int fr_unpack(const FrPicture *pic, const FrPackLayout *l, uint16_t *q, FrError *err);

#ifdef __cplusplus
}
#endif
#endif
