/* model_internal.h: the darknet adapter's parts (src/model/): the cfg
 * check and rewrite (cfg_check.c, plain text work that needs no darknet)
 * used by model.c before darknet ever sees a cfg. */
#ifndef FEATRD_MODEL_INTERNAL_H
#define FEATRD_MODEL_INTERNAL_H

#include <stddef.h>

#include "featrd/common.h"

/* A growing text (the rewritten cfg). p is malloc'ed; NUL-terminated. */
typedef struct FrCfgText {
    char *p;
    size_t n, cap;
} FrCfgText;

/* What the check learned of the cfg: its layers and each one's section line. */
typedef struct FrCfgInfo {
    int nlayers;
    int *line; /* section line per layer (malloc'ed) */
} FrCfgInfo;

/* Checks what would make darknet exit, hang or crash (unknown sections,
 * kernel/stride/pad/filters/anchors/mask ranges, missing data files) and
 * writes the cfg darknet will parse: batch=1 subdivisions=1, the requested
 * input size (in_w/in_h 0: the cfg's), crop sizes no larger than the input,
 * absolute data file paths. FR_E_FORMAT naming path:line and the key. */
int fr_cfg_rewrite(const char *path, int in_w, int in_h, FrCfgText *out, FrCfgInfo *ci,
                   FrError *err);

#endif
