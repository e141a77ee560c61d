/* featrd/task.h: what a network does and how its GEMMs run: the two enums
 * the config (model.task, model.gemm) and the model API share, so that
 * neither header includes the other. */
#ifndef FEATRD_TASK_H
#define FEATRD_TASK_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum FrTask {
    FR_TASK_AUTO = 0, /* from the cfg's last layer: region/yolo → detection,
                         softmax → classification, else dense */
    FR_TASK_DETECTION,
    FR_TASK_CLASSIFICATION,
    FR_TASK_DENSE,
} FrTask;

typedef enum FrGemm {
    FR_GEMM_OPENBLAS = 0, /* gemm_cpu forwarded to cblas_sgemm (see DESIGN.md) */
    FR_GEMM_DARKNET,      /* darknet's own loops: slow, for cross-checks */
} FrGemm;

/* "auto", "detection", "classification", "dense"; NULL when out of range. */
const char *fr_task_name(FrTask t);

#ifdef __cplusplus
}
#endif
#endif
