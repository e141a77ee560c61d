/* model/backend.h: the model-backend registry (issue #15). A backend runs a
 * network in two halves for featrd: it opens a model from FrModelSettings,
 * names its layers, computes cut sets and runs front / back passes. darknet
 * is the only one today (model.c, fr_model_backend_darknet); adding one is
 * its own file defining a const FrModelBackend and one line in backends.c
 * (docs/model.md, "Adding a model backend"). The public fr_model_*
 * functions (model_api.c) dispatch to the backend the model was opened
 * with; a backend's operations get its own handle (`self`) and keep the
 * contracts written in include/featrd/model.h and model/model.h. Every
 * operation is required. */
#ifndef FEATRD_MODEL_BACKEND_H
#define FEATRD_MODEL_BACKEND_H

#include "featrd/model.h"

typedef struct FrModelBackend {
    const char *name; /* the value of model.backend */
    const char *doc;  /* one line for help and docs */
    int (*open)(void **self, const FrModelSettings *s, FrError *err);
    /* a second model on base's parameters (fr_model_open_shared) */
    int (*open_shared)(void **self, void *base, int quiet, FrError *err);
    int (*shares_params)(const void *a, const void *b);
    void (*close)(void *self);
    int (*layer_count)(const void *self);
    int (*layer_info)(const void *self, int i, FrLayerInfo *info);
    void (*input_size)(const void *self, int *c, int *h, int *w);
    const char *(*cfg_path)(const void *self);
    FrTask (*task)(const void *self);
    int (*classes)(const void *self);
    void (*set_gemm)(void *self, FrGemm g);
    FrGemm (*get_gemm)(const void *self);
    void (*set_kernels)(void *self, FrKernels k);
    int (*find_layer)(const void *self, const char *name, int *index, FrError *err);
    int (*cut_set)(const void *self, int split, int *layers, int max, int *n, FrError *err);
    int (*prepare_input)(void *self, const FrTensor *rgb, FrTensor *input);
    int (*save_weights)(void *self, const char *path, FrError *err);
    int (*forward)(void *self, const FrTensor *input, FrError *err);
    int (*front)(void *self, const FrTensor *input, int split, FrTensor *cuts, int *ncuts,
                 FrError *err);
    int (*forward_cuts)(void *self, const FrTensor *input, const int *splits, int n,
                        FrTensor *cuts, int *ncuts, double *t_front, FrError *err);
    /* last < split+1 or >= count: the whole back half */
    int (*back_to)(void *self, int split, const FrTensor *cuts, int ncuts, int last,
                   FrError *err);
    int (*output)(void *self, FrTensor *out);
    int (*layer_output)(void *self, int layer, FrTensor *out);
    int (*detections)(void *self, int orig_w, int orig_h, float thresh, float nms,
                      FrDetection **dets, int *n);
} FrModelBackend;

/* A model: the backend it was opened with and that backend's handle. */
struct FrModel {
    const FrModelBackend *be;
    void *self;
};

/* backends.c: the registry, in the order of help texts. */
int fr_model_backend_count(void);
const FrModelBackend *fr_model_backend_at(int i);
/* By name (case-sensitive); NULL or "" is the default, darknet. NULL when
 * no backend has that name. */
const FrModelBackend *fr_model_backend_find(const char *name);
/* "darknet" or "a, b or c": the names, for error messages. */
const char *fr_model_backend_names(char *buf, size_t cap);

#endif
