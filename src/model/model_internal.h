/* model_internal.h: the darknet adapter's parts (src/model/): the cfg
 * check and rewrite (cfg_check.c, plain text work that needs no darknet)
 * used by model.c before darknet ever sees a cfg, and what the adapter's
 * darknet-free files (kernels.c's switch, model_blas.c) export. */
#ifndef FEATRD_MODEL_INTERNAL_H
#define FEATRD_MODEL_INTERNAL_H

#include <stddef.h>

#include "featrd/common.h"
#include "featrd/model.h"

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

/* kernels.c: the interposed darknet kernels (im2col_cpu, activate_array,
 * forward_maxpool_layer, forward_batchnorm_layer). The choice is per
 * thread (default FR_KERNELS_FAST); run passes set their model's. */
void fr_kernels_set_thread(FrKernels k);
FrKernels fr_kernels_thread(void);
/* model.kernels for this model's next passes (the outputs are the same bits). */
void fr_model_set_kernels(FrModel *m, FrKernels k);
/* This thread's CPU seconds inside OpenBLAS sgemm since the last call, then
 * counting on (on 1) or off; sgemm's own threads are not counted (bench with
 * fr_model_blas_threads(1)). */
double fr_model_gemm_clock(int on);
struct network;
/* Frees the batch-norm training copies l.x / l.x_norm (inference only). */
void fr_kernels_drop_training_copies(struct network *net);

#endif
