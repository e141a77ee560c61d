/* kernels.c: faster CPU kernels for darknet's per-element loops, interposed
 * as gemm_cpu is in model_blas.c (libdarknet.so calls them by name through its
 * PLT or takes their address through its GOT; the Makefile links
 * libfeatrd.a whole, so these definitions win). Each gives the same bits as
 * darknet's own (the same float operations in the same order; tested layer
 * by layer and per kernel against darknet's, found with dlsym(RTLD_NEXT)):
 *
 * - im2col_cpu: darknet calls im2col_get_pixel per element; here each
 *   output row is a zero run, a copy (a memcpy at stride 1) and a zero run.
 * - activate_array: darknet calls activate() per element; here LINEAR is a
 *   no-op and LEAKY / RELU are one loop each, computed as darknet's -Ofast
 *   build does (leaky: (float)(0.1 * (double)x) for x <= 0; relu: max(x, 0),
 *   so -0 and NaN give +0). Every other activation goes to darknet's.
 * - forward_maxpool_layer: the window is clipped to the input once per row
 *   instead of a bounds test per tap; the same strict > order, so the same
 *   maxima and the same l.indexes. Training passes (net.train) go to darknet's.
 * - forward_batchnorm_layer at inference (net.train == 0): darknet's own
 *   normalize_cpu, scale_bias, add_bias in its order, without the copy into
 *   the training buffer l.x (fr_model_open frees l.x and l.x_norm). Training
 *   passes go to darknet's.
 *
 * FR_KERNELS_DARKNET (model.kernels: darknet) sends every call to darknet's
 * own, per thread, as model.gemm does for the GEMM. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <float.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/kernels.h"
#include "model/model_internal.h"

/* exported by libdarknet.so, declared only in its src/ headers */
void scale_bias(float *output, float *scales, int batch, int n, int size);
void add_bias(float *output, float *biases, int batch, int n, int size);


static _Thread_local int tl_kernels = FR_KERNELS_FAST;
static pthread_once_t dn_once = PTHREAD_ONCE_INIT;
static Im2colFn dn_im2col;
static ActivateFn dn_activate;
static LayerFn dn_maxpool, dn_batchnorm;

static void find_darknet(void)
{
    dn_im2col = (Im2colFn)(uintptr_t)dlsym(RTLD_NEXT, "im2col_cpu");
    dn_activate = (ActivateFn)(uintptr_t)dlsym(RTLD_NEXT, "activate_array");
    dn_maxpool = (LayerFn)(uintptr_t)dlsym(RTLD_NEXT, "forward_maxpool_layer");
    dn_batchnorm = (LayerFn)(uintptr_t)dlsym(RTLD_NEXT, "forward_batchnorm_layer");
    if (dn_im2col == im2col_cpu)
        dn_im2col = NULL;
    if (dn_activate == activate_array)
        dn_activate = NULL;
    if (dn_maxpool == forward_maxpool_layer)
        dn_maxpool = NULL;
    if (dn_batchnorm == forward_batchnorm_layer)
        dn_batchnorm = NULL;
}

void fr_kernels_set_thread(FrKernels k)
{
    tl_kernels = k == FR_KERNELS_DARKNET ? FR_KERNELS_DARKNET : FR_KERNELS_FAST;
}

FrKernels fr_kernels_thread(void)
{
    return (FrKernels)tl_kernels;
}

/* This thread's calls go to darknet's own (model.kernels: darknet). */
static int use_darknet(void)
{
    pthread_once(&dn_once, find_darknet);
    return tl_kernels == FR_KERNELS_DARKNET;
}

/* ------------------------------------------------------------- im2col -- */

void im2col_cpu(float *im, int channels, int height, int width, int ksize, int stride, int pad,
                float *col)
{
    if (use_darknet() && dn_im2col) {
        dn_im2col(im, channels, height, width, ksize, stride, pad, col);
        return;
    }
    const int hc = (height + 2 * pad - ksize) / stride + 1;
    const int wc = (width + 2 * pad - ksize) / stride + 1;
    const int cc = channels * ksize * ksize;
    if (hc <= 0 || wc <= 0)
        return;
    for (int c = 0; c < cc; c++) {
        const int wo = c % ksize, ho = (c / ksize) % ksize, ci = c / ksize / ksize;
        const float *plane = im + (size_t)width * height * ci;
        float *dst = col + (size_t)c * hc * wc;
        /* the output columns whose input column wo + w*stride - pad is inside */
        int w_lo = pad - wo > 0 ? (pad - wo + stride - 1) / stride : 0;
        int last = width - 1 + pad - wo;
        int w_hi = last < 0 ? -1 : last / stride;
        if (w_hi > wc - 1)
            w_hi = wc - 1;
        if (w_lo > wc)
            w_lo = wc;
        for (int h = 0; h < hc; h++, dst += wc) {
            const int row = ho + h * stride - pad;
            if (row < 0 || row >= height || w_hi < w_lo) {
                memset(dst, 0, (size_t)wc * sizeof *dst);
                continue;
            }
            const float *src = plane + (size_t)row * width + (wo - pad);
            int w = 0;
            for (; w < w_lo; w++)
                dst[w] = 0;
            if (stride == 1) {
                memcpy(dst + w_lo, src + w_lo, (size_t)(w_hi - w_lo + 1) * sizeof *dst);
                w = w_hi + 1;
            } else {
                for (; w <= w_hi; w++)
                    dst[w] = src[(ptrdiff_t)w * stride];
            }
            for (; w < wc; w++)
                dst[w] = 0;
        }
    }
}

/* --------------------------------------------------------- activation -- */

void activate_array(float *x, const int n, const ACTIVATION a)
{
    if ((use_darknet() || (a != LINEAR && a != LEAKY && a != RELU)) && dn_activate) {
        dn_activate(x, n, a);
        return;
    }
    switch (a) {
    case LINEAR:
        return;
    case LEAKY:
        for (int i = 0; i < n; i++) {
            float v = x[i];
            x[i] = v > 0 ? v : (float)(0.1 * (double)v);
        }
        return;
    case RELU:
        for (int i = 0; i < n; i++) {
            float v = x[i];
            x[i] = v > 0 ? v : 0.0f;
        }
        return;
    default: /* unreachable: darknet's was found (libdarknet defines it) */
        return;
    }
}

/* ------------------------------------------------------------ maxpool -- */

void forward_maxpool_layer(layer l, network net)
{
    if ((use_darknet() || net.train) && dn_maxpool) {
        dn_maxpool(l, net);
        return;
    }
    const int off = -l.pad / 2, oh = l.out_h, ow = l.out_w, s = l.stride, k = l.size;
    for (int b = 0; b < l.batch; b++) {
        for (int ch = 0; ch < l.c; ch++) {
            const int base = l.w * l.h * (ch + b * l.c);
            const float *in = net.input + base;
            float *out = l.output + (size_t)ow * oh * (ch + l.c * b);
            int *idx = l.indexes + (size_t)ow * oh * (ch + l.c * b);
            for (int i = 0; i < oh; i++) {
                const int h0 = off + i * s;
                const int n_lo = h0 < 0 ? -h0 : 0;
                const int n_hi = h0 + k > l.h ? l.h - h0 : k;
                for (int j = 0; j < ow; j++) {
                    const int w0 = off + j * s;
                    const int m_lo = w0 < 0 ? -w0 : 0;
                    const int m_hi = w0 + k > l.w ? l.w - w0 : k;
                    /* taps outside the input are -FLT_MAX in darknet's loop and
                     * never beat max (>= -FLT_MAX): skipping them is exact */
                    float max = -FLT_MAX;
                    int max_i = -1;
                    for (int n = n_lo; n < n_hi; n++) {
                        const int rowi = (h0 + n) * l.w + w0;
                        for (int m = m_lo; m < m_hi; m++) {
                            const float val = in[rowi + m];
                            if (val > max) {
                                max = val;
                                max_i = base + rowi + m;
                            }
                        }
                    }
                    out[i * ow + j] = max;
                    idx[i * ow + j] = max_i;
                }
            }
        }
    }
}

/* ---------------------------------------------------------- batchnorm -- */

void forward_batchnorm_layer(layer l, network net)
{
    /* darknet's would copy into l.x, which fr_model_open freed for the fast
     * kernels: with it gone, the inference path below whatever the switch */
    if ((use_darknet() || net.train) && (l.x || net.train) && dn_batchnorm) {
        dn_batchnorm(l, net);
        return;
    }
    const int sp = l.out_h * l.out_w;
    if (l.type == BATCHNORM)
        memcpy(l.output, net.input, (size_t)l.outputs * l.batch * sizeof *l.output);
    normalize_cpu(l.output, l.rolling_mean, l.rolling_variance, l.batch, l.out_c, sp);
    scale_bias(l.output, l.scales, l.batch, l.out_c, sp);
    add_bias(l.output, l.biases, l.batch, l.out_c, sp);
}

/* The training copies darknet allocates for batch norm (l.x, l.x_norm) are
 * written and read by training passes only; a model opened for inference
 * with the fast kernels frees them. */
void fr_kernels_drop_training_copies(network *net)
{
    for (int i = 0; i < net->n; i++) {
        layer *l = &net->layers[i];
        if (l->type != CONVOLUTIONAL && l->type != CONNECTED && l->type != DECONVOLUTIONAL &&
            l->type != BATCHNORM)
            continue;
        free(l->x);
        free(l->x_norm);
        l->x = l->x_norm = NULL;
    }
}
