/* model/model.h: the library-internal part of module model: functions that other
 * modules of libfeatrd and the tests use, which are not part of the public
 * API (include/featrd/model.h) and are not installed. The CLI cannot include
 * this (it is built without -Isrc). */
#ifndef FR_INTERNAL_MODEL_MODEL_H
#define FR_INTERNAL_MODEL_MODEL_H

#include "featrd/model.h"

/* The cfg path the model was opened with. */
const char *fr_model_cfg_path(const FrModel *m);

/* Cut set of a split after layer `split`: the indices of every layer whose
 * output is produced at or before split and read by a layer after it (the
 * next layer's input, route inputs, shortcut `from`; a dropout's input for
 * the dropout, whose buffer it shares), plus detection layers at or before
 * split (yolov3's earlier yolo layers: the box decoder reads them), in
 * increasing order. Writes up to max indices into layers and the count into *n.
 * Errors: FR_E_USAGE if split is not in 0..count-2 (a split after the last
 * layer leaves no back half) or max is too small. */
int fr_model_cut_set(const FrModel *m, int split, int *layers, int max, int *n);

/* One full forward pass (as fr_model_forward: the output afterwards is the
 * same bit for bit) that also yields the cut tensors of n splits, so the
 * reference pass replaces every split's front half. The network runs layer
 * by layer; when layer splits[j] has run (in any order given; repeats
 * allowed), the cut set of split splits[j] is copied into
 * cuts[j * FR_MODEL_MAX_CUTS + k] (allocated; the caller frees), its count
 * into ncuts[j], and t_front[j] (may be NULL) gets the seconds of layers
 * 0..splits[j] and that copy: what fr_model_front for that split costs.
 * The values equal fr_model_front's for each split bit for bit. On error
 * nothing stays allocated. */
int fr_model_forward_cuts(FrModel *m, const FrTensor *input, const int *splits, int n,
                          FrTensor *cuts, int *ncuts, double *t_front, FrError *err);

/* fr_model_back that stops after layer `last` (the layers after it do not
 * feed it, so its output and every earlier one equal fr_model_back's bit
 * for bit; the later layers' outputs are left stale). last outside
 * split+1..count-1: the whole back half, as fr_model_back. */
int fr_model_back_to(FrModel *m, int split, const FrTensor *cuts, int ncuts, int last,
                     FrError *err);

/* Opens a second model of base's network (same cfg, input size, GEMM,
 * kernels, seed) whose parameter arrays (weights, biases, batch-norm scales
 * and rolling statistics) are base's: one copy of the weights for many
 * workers, each with its own activations and workspace. Passes of the two
 * may run concurrently (inference only reads parameters); nothing may
 * change the parameters while they are shared. Ownership: the shared model
 * holds a reference on base, so either may be closed first with
 * fr_model_close; the parameters are freed with the last of them. Where
 * parameters cannot be aliased (device gpu, binary/xnor or recurrent
 * layers) it opens a full copy from base's weights file instead, so the
 * result is the same either way. quiet as in FrModelSettings. */
int fr_model_open_shared(FrModel **m, FrModel *base, int quiet, FrError *err);

/* How many parameter arrays a and b share (0 when any differs). For tests. */
int fr_model_shares_params(const FrModel *a, const FrModel *b);

/* Cloud-only anchor: JPEG-codes an RGB tensor (values in [0,1]) at quality
 * 1..100 with darknet's stb writer, reads it back, and returns the file size
 * in *bytes and the decoded image in *decoded (allocated; caller frees). */
int fr_image_jpeg_code(const FrTensor *rgb, int quality, size_t *bytes, FrTensor *decoded,
                       FrError *err);

/* Switches the GEMM this model's passes use (the setting given at open).
 * darknet calls gemm_cpu by name, so the choice is kept per thread and set
 * at the start of every pass: models in other threads are not affected. */
void fr_model_set_gemm(FrModel *m, FrGemm g);
FrGemm fr_model_get_gemm(const FrModel *m);

/* 1 when this featrd is built against a CUDA libdarknet (make GPU=1), else 0. */
int fr_gpu_compiled(void);

/* Writes an 8-bit image (w×h×c interleaved, c = 1 or 3) as PNG with darknet's
 * stb writer, atomically (temporary name, then rename): the run's invert:
 * reconstructions, the demo data set's scenes. FR_E_USAGE (bad arguments, a
 * path too long for darknet's 256-byte name buffer), FR_E_IO. */
int fr_model_write_png(const char *path, const uint8_t *pix, int w, int h, int c, FrError *err);

#endif
