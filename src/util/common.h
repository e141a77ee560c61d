/* util/common.h: the library-internal part of module common: functions that other
 * modules of libfeatrd and the tests use, which are not part of the public
 * API (include/featrd/common.h) and are not installed. The CLI cannot include
 * this (it is built without -Isrc). */
#ifndef FR_INTERNAL_UTIL_COMMON_H
#define FR_INTERNAL_UTIL_COMMON_H

#include "featrd/common.h"

int fr_npy_read(const char *path, FrTensor *out, FrError *err);

#endif
