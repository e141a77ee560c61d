/* featrd/quant.h: the Q-layer of seed 001 (eq. 2-3): float features to n-bit
 * integers with min/max side information, and back. Pure C, no outside
 * libraries; every function is thread-safe (no global state). */
#ifndef FEATRD_QUANT_H
#define FEATRD_QUANT_H

#include "featrd/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where min/max are taken: over the whole tensor (two float32 of side
 * information) or per channel (two float32 per channel). */
typedef enum FrRangeMode {
    FR_RANGE_TENSOR = 0,
    FR_RANGE_CHANNEL = 1,
} FrRangeMode;

/* Name <-> enum: "tensor", "channel". */
const char *fr_range_name(FrRangeMode m);
int fr_range_from_name(const char *name, FrRangeMode *out, FrError *err);

#ifdef __cplusplus
}
#endif
#endif
