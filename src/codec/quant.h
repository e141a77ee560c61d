/* codec/quant.h: the library-internal part of module quant: functions that other
 * modules of libfeatrd and the tests use, which are not part of the public
 * API (include/featrd/quant.h) and are not installed. The CLI cannot include
 * this (it is built without -Isrc). */
#ifndef FR_INTERNAL_CODEC_QUANT_H
#define FR_INTERNAL_CODEC_QUANT_H

#include "featrd/quant.h"

/* Number of (min, max) pairs for a tensor of c channels: 1 or c. */
static inline int fr_quant_nranges(FrRangeMode m, int c) { return m == FR_RANGE_CHANNEL ? c : 1; }

/* Finds the ranges of t. mins/maxs have fr_quant_nranges() entries. With
 * relu_min0 the minimum is 0 (the feature follows a ReLU; it is not sent)
 * and the maximum is at least 0. */
int fr_quant_ranges(const FrTensor *t, FrRangeMode m, int relu_min0, float *mins, float *maxs,
                    FrError *err);

/* Eq. 2: q = round((x - min) / (max - min) * (2^bits - 1)), clipped to
 * [0, 2^bits - 1]; bits is 1..16. q has fr_tensor_size(t) entries (same
 * C×H×W order). When max == min every sample maps to 0. */
int fr_quantize(const FrTensor *t, int bits, FrRangeMode m, const float *mins, const float *maxs,
                uint16_t *q, FrError *err);

/* Eq. 3: x = q / (2^bits - 1) * (max - min) + min, into out (already
 * allocated with the shape of the original tensor). */
int fr_dequantize(const uint16_t *q, int bits, FrRangeMode m, const float *mins, const float *maxs,
                  FrTensor *out, FrError *err);

#endif
