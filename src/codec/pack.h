/* codec/pack.h: the library-internal part of module pack: functions that other
 * modules of libfeatrd and the tests use, which are not part of the public
 * API (include/featrd/pack.h) and are not installed. The CLI cannot include
 * this (it is built without -Isrc). */
#ifndef FR_INTERNAL_CODEC_PACK_H
#define FR_INTERNAL_CODEC_PACK_H

#include "featrd/pack.h"

int fr_picture_alloc(FrPicture *p, int width, int height, int frames, int bit_depth);

/* Frees samples and zeroes p; safe on a zeroed picture. */
void fr_picture_free(FrPicture *p);

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

#endif
