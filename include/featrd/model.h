/* featrd/model.h: a Darknet network opened for split inference. Loads a cfg
 * with or without weights, names layers (darknet `<type>_<i>`, bare index,
 * stage aliases convK/poolK/fcK), computes the cut set of a split, runs the
 * front half (layers 0..split) and the back half (split+1..N) with the cut
 * tensors written in place, loads and prepares images, and turns detection
 * outputs into boxes. Implemented in src/model/ (model.c and its
 * siblings), the darknet adapter.
 *
 * Threads: each FrModel owns its own darknet network and buffers, so several
 * instances may run in different threads at once. One FrModel must not be
 * used by two threads at the same time.
 *
 * Device (FR_DEVICE_GPU, GPU build only): the network's layers run their
 * CUDA forwards on device 0 of the process's one CUDA context (select the GPU
 * with CUDA_VISIBLE_DEVICES). The input is pushed to the device, the cut
 * tensors (every one of a multi-tensor cut) are pulled to the host by
 * fr_model_front and pushed back by fr_model_back, and the outputs the task
 * reads are pulled after each pass, so every call below sees host tensors
 * as on the CPU. GPU passes of all models in the process take turns under
 * one lock (darknet's CUDA code keeps per-device handles in unguarded
 * statics and runs on the default stream); everything else (image loading,
 * quantization, coding, metrics) runs in parallel outside it, so with
 * several workers the GPU is kept busy while the others code. */
#ifndef FEATRD_MODEL_H
#define FEATRD_MODEL_H

#include <stddef.h>

#include "featrd/common.h"
#include "featrd/task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct FrModel FrModel;

/* FrGemm (FR_GEMM_OPENBLAS, FR_GEMM_DARKNET) and FrTask (FR_TASK_DETECTION,
 * FR_TASK_CLASSIFICATION, FR_TASK_DENSE; FR_TASK_AUTO is config-only) and
 * fr_task_name() come from featrd/task.h. */

typedef struct FrModelSettings {
    const char *cfg;     /* darknet .cfg path; required. Copied by fr_model_open. */
    const char *weights; /* darknet .weights path, or NULL for a seeded random
                          * initialisation (said on stderr unless quiet).
                          * Default NULL. */
    uint64_t seed;       /* seed of the random initialisation and of the crop
                          * layers' offsets; default 1. fr_model_open calls
                          * srand() with it (see there). */
    int width, height;   /* network input size; 0 = the cfg's. Default 0, 0. */
    FrGemm gemm;         /* default FR_GEMM_OPENBLAS */
    int quiet;           /* 1: nothing on stderr (darknet's layer table is always
                          * silenced). Default 0. */
    FrKernels kernels;   /* FR_KERNELS_FAST (default) or FR_KERNELS_DARKNET: the
                          * same outputs bit for bit, darknet's are slower */
    FrDevice device;     /* FR_DEVICE_CPU (default) or FR_DEVICE_GPU; the latter is
                          * refused with FR_E_USAGE by fr_model_open when
                          * fr_gpu_check fails. */
    const char *backend; /* model backend (model.backend): NULL or "" = "darknet",
                          * the only one today; an unknown name is FR_E_USAGE. */
} FrModelSettings;

void fr_model_defaults(FrModelSettings *s);

/* Opens a network. Errors: FR_E_NOENT (cfg, weights or a file the cfg names
 * missing), FR_E_FORMAT (cfg darknet cannot build, with file:line where
 * known, including darknet's own aborts at a bad input size; weights shorter
 * than the cfg needs or with a bad header), FR_E_MISMATCH (weights longer
 * than the cfg needs: saved for another cfg), FR_E_USAGE (bad settings, an
 * input size that leaves a layer empty). Never exits. On error *m is NULL.
 * Close with fr_model_close. Opening holds a process-wide lock while darknet
 * parses and points fd 2 away for that moment.
 * Side effect on the process: opening reseeds the C library's rand() state
 * (srand from s->seed), because darknet draws random weights and crop-layer
 * offsets from rand() and a model must not depend on what ran before; a
 * caller that uses rand() itself gets a new sequence after each open. */
int fr_model_open(FrModel **m, const FrModelSettings *s, FrError *err);
/* Frees the network and sets *m to NULL; safe on NULL. */
void fr_model_close(FrModel **m);

/* Layer information. Strings live as long as the model. */
typedef struct FrLayerInfo {
    int index;          /* 0-based layer index */
    const char *type;   /* darknet section name: conv, max, avg, route, reorg, shortcut,
                         * region, yolo, connected, softmax, dropout, crop, cost, ... */
    const char *name;   /* darknet name `<type>_<index>`, e.g. "max_11" */
    const char *alias;  /* stage alias ("conv1", "pool1", "fc1") or "" if none */
    int c, h, w;        /* output shape (connected: c = outputs, h = w = 1) */
    size_t bytes;       /* float32 bytes of the output: 4·c·h·w */
} FrLayerInfo;

int fr_model_layer_count(const FrModel *m);
/* Fills *info for layer i (0 <= i < count); FR_E_USAGE if out of range. */
int fr_model_layer_info(const FrModel *m, int i, FrLayerInfo *info);
/* Network input size the model runs at (after settings overrides). */
void fr_model_input_size(const FrModel *m, int *c, int *h, int *w);

/* Resolves a layer name: darknet name ("max_11", also with the long section
 * name "maxpool_11"), bare index ("11") or stage alias ("pool2"); case and
 * surrounding spaces ignored. Unknown → FR_E_USAGE with a message listing
 * what valid names look like. */
int fr_model_find_layer(const FrModel *m, const char *name, int *index, FrError *err);

/* The stage alias rule (one paragraph of text), for `featrd layers` and docs. */
const char *fr_model_alias_rule(void);

/* The same with a message: "split after conv_22 (22) leaves no back half: ..." */
int fr_model_cut_set_err(const FrModel *m, int split, int *layers, int max, int *n, FrError *err);

/* No darknet cfg in /usr/share/darknet/cfg has a cut set larger than this;
 * size cut arrays with it. */
#define FR_MODEL_MAX_CUTS 16

/* The task, from the last layer other than cost: region/yolo/detection →
 * FR_TASK_DETECTION; softmax, or a 1×1 output (connected) →
 * FR_TASK_CLASSIFICATION; anything else → FR_TASK_DENSE. Never FR_TASK_AUTO. */
FrTask fr_model_task(const FrModel *m);

/* Loads an image file (jpg/png/bmp/...; via darknet's stb reader) as a
 * 3×H×W float tensor in [0,1] at its original size; grayscale becomes three
 * equal channels. *rgb is allocated (caller frees with fr_tensor_free).
 * FR_E_NOENT / FR_E_FORMAT on a missing or unreadable file. m may be NULL
 * (the model is not used; the argument keeps call sites uniform). */
int fr_model_load_image(FrModel *m, const char *path, FrTensor *rgb, FrError *err);
/* Turns an original-size RGB tensor into the network input: letterbox
 * (detection), or resize shorter side + centre crop (classification and dense);
 * a 1-channel network gets the grayscale of it. *input is allocated (caller
 * frees). m is not changed. Returns 0, FR_E_USAGE (not a 3-channel image) or FR_E_NOMEM. */
int fr_model_prepare_input(FrModel *m, const FrTensor *rgb, FrTensor *input);

/* Full forward pass. input must have the network input shape (FR_E_MISMATCH
 * otherwise). */
int fr_model_forward(FrModel *m, const FrTensor *input, FrError *err);
/* Runs layers 0..split and copies the cut-set tensors out, in cut-set order,
 * into cuts[0..*ncuts-1] (allocated; caller frees each with fr_tensor_free).
 * cuts must have room for FR_MODEL_MAX_CUTS tensors. */
int fr_model_front(FrModel *m, const FrTensor *input, int split, FrTensor *cuts, int *ncuts,
                   FrError *err);
/* Writes the (reconstructed) cut tensors in place into their layers' output
 * buffers and runs layers split+1..N. cuts must be in cut-set order with the
 * layers' shapes (FR_E_MISMATCH otherwise). The input image need not be set
 * again: everything the back half reads is in the cut set. */
int fr_model_back(FrModel *m, int split, const FrTensor *cuts, int ncuts, FrError *err);

/* After fr_model_forward or fr_model_back: a copy of the final layer's
 * output (allocated; caller frees). */
int fr_model_output(FrModel *m, FrTensor *out);
/* A copy of any layer's current output (for sensitivity analysis). Only
 * layers that ran in the last pass hold meaningful values. */
int fr_model_layer_output(FrModel *m, int layer, FrTensor *out);

/* One detected box for one class. Box in original-image pixels. */
typedef struct FrDetection {
    int cls;
    float score;
    float x1, y1, x2, y2;
} FrDetection;

/* Default threshold for mAP evaluation, as darknet's validate_detector. */
#define FR_DETECT_THRESH 0.005f
#define FR_DETECT_NMS 0.45f

/* Detections of the last forward/back (detection models only): one entry per
 * (box, class) with probability > thresh after per-class NMS with IoU nms,
 * boxes mapped back to an orig_w×orig_h image (letterbox undone). *dets is
 * malloc'ed (free with fr_detections_free); *n may be 0. FR_E_USAGE if the
 * model is not a detector, FR_E_NOMEM. */
int fr_model_detections(FrModel *m, int orig_w, int orig_h, float thresh, float nms,
                        FrDetection **dets, int *n);
void fr_detections_free(FrDetection **dets);

/* Number of classes of the output (detection: classes of the region layer;
 * classification: output length). */
int fr_model_classes(const FrModel *m);

/* Saves the current weights in darknet's format (written to a temporary file
 * and renamed). */
int fr_model_save_weights(FrModel *m, const char *path, FrError *err);

/* ------------------------------------------------------------------ GPU -- */

/* FR_OK when FR_DEVICE_GPU can be used: the build has GPU support and
 * cudaGetDeviceCount finds a device. Else FR_E_USAGE (the CLI exits 2) and a
 * message saying what to do: build bin-gpu/featrd (make darknet-gpu && make
 * GPU=1) or run on a machine with a GPU, or use device cpu. */
int fr_gpu_check(FrError *err);
/* What the manifest and `featrd version` say about the GPU: fills buf with
 * YAML-ready lines, each prefixed with ind: compiled (yes/no), and when
 * compiled the CUDA runtime and driver versions, cuDNN, and device 0's name
 * and compute capability (or why there is none). Returns buf. */
const char *fr_gpu_describe(char *buf, size_t cap, const char *ind);

/* Sets the number of OpenBLAS threads every later GEMM uses (n > 0) and
 * returns the number before. The runner parallelises over images, so the
 * CLI sets 1 unless the user set OPENBLAS_NUM_THREADS. Process-wide, as
 * OpenBLAS's own setting is, so the library never calls it by itself. */
int fr_model_blas_threads(int n);

#ifdef __cplusplus
}
#endif
#endif
