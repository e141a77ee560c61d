/* featrd.h: the public API of libfeatrd. The CLI (src/cli/) and the tests
 * include only this header. Each module has its own header under featrd/. */
#ifndef FEATRD_H
#define FEATRD_H

#include "featrd/common.h"
#include "featrd/version.h"
#include "featrd/config.h"
#include "featrd/quant.h"
#include "featrd/pack.h"
#include "featrd/codec.h"
#include "featrd/container.h"
#include "featrd/model.h"
#include "featrd/alloc.h"
#include "featrd/demo.h"
#include "featrd/csv.h"
#include "featrd/metrics.h"
#include "featrd/bd.h"
#include "featrd/dataset.h"
#include "featrd/run.h"
#include "featrd/experiments.h"
#include "featrd/invert.h"

#endif
