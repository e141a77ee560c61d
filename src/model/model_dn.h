/* model_dn.h: what the files of the darknet adapter (src/model/model*.c)
 * share and nothing else sees: the DnModel struct, the process-wide locks
 * and the helpers around darknet's global state (model_dn.c), the parse and
 * weights steps (model_parse.c), the GEMM choice (model_blas.c). The only
 * header besides train.c and kernels.h that includes darknet.h. */
#ifndef FEATRD_MODEL_DN_H
#define FEATRD_MODEL_DN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include <darknet.h>

#include "featrd/model.h"
#include "model/model_internal.h"

#define MAX_NAME 32

typedef struct DnModel DnModel;

struct DnModel {
    network *net;
    char *cfg;
    int n;
    FrGemm gemm;
    FrKernels kernels;
    int quiet;
    int random_init;
    uint64_t seed;
    FrTask task;
    int out_layer;            /* last layer other than cost */
    int has_recurrent;        /* rnn/gru/lstm/crnn: state crosses any cut */
    int *owner;               /* layer whose buffer holds layer i's output (dropout aliases) */
    char (*names)[MAX_NAME];  /* darknet names */
    char (*aliases)[MAX_NAME];
    int *cfg_line;            /* line of each layer's section in the cfg */
    FrDevice device;
    int width, height;        /* input size asked at open (0: the cfg's) */
    char *weights;            /* weights file opened (NULL: seeded) */
    DnModel *base;            /* parameters are base's (dn_model_open_shared); holds a reference */
    atomic_int refs;          /* 1 + the models sharing this one's parameters */
};


#ifdef GPU
/* darknet's host → device weight copies, exported by the CUDA libdarknet
 * but declared only in its src/ headers. */
void push_convolutional_layer(layer l);
void push_connected_layer(layer l);
void push_batchnorm_layer(layer l);
void push_local_layer(layer l);
void push_deconvolutional_layer(layer l);
#endif

/* The darknet backend's operations (fr_model_backend_darknet, model.c,
 * wraps them for the backend registry; their contracts are those of the
 * fr_model_* functions of the same names in include/featrd/model.h and
 * model/model.h). */
int dn_model_open(DnModel **mp, const FrModelSettings *s, FrError *err);
int dn_model_open_shared(DnModel **mp, DnModel *base, int quiet, FrError *err);
int dn_model_shares_params(const DnModel *a, const DnModel *b);
void dn_model_close(DnModel **mp);
int dn_model_layer_count(const DnModel *m);
int dn_model_layer_info(const DnModel *m, int i, FrLayerInfo *info);
void dn_model_input_size(const DnModel *m, int *c, int *h, int *w);
const char *dn_model_cfg_path(const DnModel *m);
FrTask dn_model_task(const DnModel *m);
int dn_model_classes(const DnModel *m);
void dn_model_set_gemm(DnModel *m, FrGemm g);
void dn_model_set_kernels(DnModel *m, FrKernels k);
FrGemm dn_model_get_gemm(const DnModel *m);
int dn_model_find_layer(const DnModel *m, const char *name, int *index, FrError *err);
int dn_model_cut_set_err(const DnModel *m, int split, int *layers, int max, int *n, FrError *err);
int dn_model_prepare_input(DnModel *m, const FrTensor *rgb, FrTensor *input);
int dn_model_save_weights(DnModel *m, const char *path, FrError *err);
int dn_model_forward(DnModel *m, const FrTensor *input, FrError *err);
int dn_model_front(DnModel *m, const FrTensor *input, int split, FrTensor *cuts, int *ncuts,
                   FrError *err);
int dn_model_forward_cuts(DnModel *m, const FrTensor *input, const int *splits, int n,
                          FrTensor *cuts, int *ncuts, double *t_front, FrError *err);
int dn_model_back_to(DnModel *m, int split, const FrTensor *cuts, int ncuts, int last,
                     FrError *err);
int dn_model_output(DnModel *m, FrTensor *out);
int dn_model_layer_output(DnModel *m, int layer, FrTensor *out);
int dn_model_detections(DnModel *m, int orig_w, int orig_h, float thresh, float nms,
                        FrDetection **dets, int *n);

/* model_dn.c: darknet's process-wide state. parse_lock guards darknet's
 * parser, loader and writer (rand(), gpu_index, the stderr stream); GPU
 * work of every model takes turns under the GPU lock (lock order:
 * parse_lock, then the GPU lock). */
extern pthread_mutex_t fr_dn_parse_lock;
/* The network runs on the GPU (always 0 in the CPU build). */
int fr_dn_on_gpu(const DnModel *m);
/* Take / give back the GPU lock around device work (no-ops on the CPU). */
void fr_dn_gpu_begin(const DnModel *m);
void fr_dn_gpu_end(const DnModel *m);
/* darknet's gpu_index for what is parsed, loaded or saved next (parse_lock held). */
void fr_dn_set_gpu_index(FrDevice d);
/* Points the stdio stream stderr at /dev/null (fd 2 untouched, so
 * sanitizer reports still show) and back; NULL: nothing to restore. */
FILE *fr_dn_quiet_begin(void);
void fr_dn_quiet_end(FILE *saved);
/* The short type names featrd gives layers (conv, max, route, ...). */
const char *fr_dn_type_name(LAYER_TYPE t);
/* A layer's output as C×H×W (C×1×1 where darknet's out_* do not multiply
 * to its outputs). */
void fr_dn_out_shape(const layer *l, int *c, int *h, int *w);

/* model_parse.c: the cfg text probed in a forked child, then parsed here
 * under parse_lock with darknet's printing hidden; NULL with *rc set on
 * failure. */
network *fr_dn_checked_parse(const char *tmp, const FrCfgText *text, const FrCfgInfo *ci,
                             const FrModelSettings *s, FrError *err, int *rc);
/* The weights file's header and size against what load_weights will read
 * for m's network (truncated, another cfg's, unsupported layer types). */
int fr_dn_check_weights(const DnModel *m, const char *path, FrError *err);
/* darknet's initialisation from a per-model generator (seeded weights). */
void fr_dn_seeded_init(network *net, uint64_t seed);
/* Host weights to the device after featrd changed them (GPU lock held). */
void fr_dn_push_weights(DnModel *m);

/* model_blas.c: the GEMM darknet's gemm_cpu calls on this thread. */
void fr_dn_gemm_thread(FrGemm g);

#endif
