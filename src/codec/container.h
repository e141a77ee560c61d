/* codec/container.h: the library-internal part of module container: functions that other
 * modules of libfeatrd and the tests use, which are not part of the public
 * API (include/featrd/container.h) and are not installed. The CLI cannot include
 * this (it is built without -Isrc). */
#ifndef FR_INTERNAL_CODEC_CONTAINER_H
#define FR_INTERNAL_CODEC_CONTAINER_H

#include "featrd/container.h"

/* Mean squared error between the n-bit quantized samples of a and b, each
 * quantized with a's tensor-wide range at `bits` (the "8-bit domain"
 * distortion of the feature-coding papers when bits = 8). */
double fr_feature_mse_nbit(const FrTensor *a, const FrTensor *b, int bits);

#endif
