/* featrd/task.h: what a network does, how its GEMMs run and on which
 * device: the enums the config (model.task, model.gemm, model.device) and the
 * model API share, so that neither header includes the other. */
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

typedef enum FrKernels {
    FR_KERNELS_FAST = 0, /* featrd's im2col, activation, maxpool, inference batch norm:
                            the same bits as darknet's (docs/model.md) */
    FR_KERNELS_DARKNET,  /* darknet's own loops, for cross-checks */
} FrKernels;

typedef enum FrDevice {
    FR_DEVICE_CPU = 0, /* darknet's CPU layers (the default) */
    FR_DEVICE_GPU,     /* darknet's CUDA layers (forward_gpu): needs the GPU build
                          (make darknet-gpu && make GPU=1) and a CUDA device */
} FrDevice;

#ifdef __cplusplus
}
#endif
#endif
