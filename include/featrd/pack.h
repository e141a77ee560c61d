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

#ifdef __cplusplus
}
#endif
#endif
