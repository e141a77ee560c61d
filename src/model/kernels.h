/* model/kernels.h: darknet's names and signatures of the four kernels
 * kernels.c interposes (libdarknet.so exports them; darknet.h does not
 * declare them), and the pointer types through which kernels.c and
 * tests/test_kernels.c reach darknet's own with dlsym(RTLD_NEXT). An adapter
 * header: it includes darknet.h. */
#ifndef FR_INTERNAL_MODEL_KERNELS_H
#define FR_INTERNAL_MODEL_KERNELS_H

#include <darknet.h>

void im2col_cpu(float *data_im, int channels, int height, int width, int ksize, int stride,
                int pad, float *data_col);
void activate_array(float *x, const int n, const ACTIVATION a);
void forward_maxpool_layer(layer l, network net);
void forward_batchnorm_layer(layer l, network net);

typedef void (*Im2colFn)(float *, int, int, int, int, int, int, float *);
typedef void (*ActivateFn)(float *, const int, const ACTIVATION);
typedef void (*LayerFn)(layer, network);

#endif
