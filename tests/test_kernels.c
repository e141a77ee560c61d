/* test_kernels.c: featrd's interposed darknet kernels (src/model/kernels.c)
 * give darknet's bits. Each kernel against darknet's own (dlsym RTLD_NEXT)
 * on odd shapes, and every layer output of the demo models and five
 * darknet cfgs at a small input, model.kernels fast vs darknet (memcmp). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "featrd.h"
#include "model/kernels.h"
#include "model/model_internal.h"


static void *darknet_fn(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    assert_non_null(p);
    return p;
}

static uint64_t rng = 88172645463325252ull;
static float frand(void) /* [-1, 1) */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) / (double)(1 << 23) - 1.0);
}

static float *randv(size_t n)
{
    float *v = malloc(n * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++)
        v[i] = frand();
    return v;
}

static void test_im2col(void **st)
{
    (void)st;
    Im2colFn dn = (Im2colFn)(uintptr_t)darknet_fn("im2col_cpu");
    assert_true((uintptr_t)dn != (uintptr_t)im2col_cpu);
    /* c, h, w, ksize, stride, pad */
    static const int shapes[][6] = {
        {3, 7, 5, 3, 1, 1}, {2, 9, 13, 3, 2, 1}, {4, 8, 8, 1, 1, 0}, {1, 6, 11, 5, 3, 2},
        {3, 5, 4, 7, 1, 3}, {2, 10, 7, 2, 2, 0}, {5, 3, 3, 3, 2, 1}, {1, 1, 9, 1, 2, 0},
        {2, 12, 12, 4, 3, 0}, {3, 4, 6, 3, 1, 0},
    };
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const int *s = shapes[k];
        int hc = (s[1] + 2 * s[5] - s[3]) / s[4] + 1, wc = (s[2] + 2 * s[5] - s[3]) / s[4] + 1;
        size_t n = (size_t)s[0] * s[3] * s[3] * hc * wc;
        float *im = randv((size_t)s[0] * s[1] * s[2]);
        float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        memset(a, 0x7f, n * sizeof *a); /* garbage: every entry must be written */
        memset(b, 0x3c, n * sizeof *b);
        im2col_cpu(im, s[0], s[1], s[2], s[3], s[4], s[5], a);
        dn(im, s[0], s[1], s[2], s[3], s[4], s[5], b);
        if (memcmp(a, b, n * sizeof *a))
            fail_msg("im2col c%d h%d w%d k%d s%d p%d differs from darknet's", s[0], s[1], s[2],
                     s[3], s[4], s[5]);
        free(im);
        free(a);
        free(b);
    }
}

static void test_activate(void **st)
{
    (void)st;
    ActivateFn dn = (ActivateFn)(uintptr_t)darknet_fn("activate_array");
    enum { N = 4099 };
    static const ACTIVATION acts[] = {LINEAR, LEAKY, RELU, LOGISTIC, RELIE, RAMP, TANH, PLSE,
                                      ELU, LOGGY, HARDTAN, LHTAN, SELU};
    float *base = randv(N);
    const float special[] = {0.0f, -0.0f, NAN, -NAN, INFINITY, -INFINITY, FLT_MIN, -FLT_MIN,
                             1e-45f, -1e-45f, FLT_MAX, -FLT_MAX, 0.1f, -0.1f, 3.0f, -7.5f};
    memcpy(base, special, sizeof special);
    for (int i = 100; i < 200; i++)
        base[i] *= 1e4f;
    for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++) {
        float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
        memcpy(a, base, N * sizeof *a);
        memcpy(b, base, N * sizeof *b);
        activate_array(a, N, acts[k]);
        dn(b, N, acts[k]);
        for (int i = 0; i < N; i++)
            if (memcmp(&a[i], &b[i], sizeof a[i]))
                fail_msg("activation %d at %d (x = %g): %g, darknet %g", (int)acts[k], i,
                         (double)base[i], (double)a[i], (double)b[i]);
        free(a);
        free(b);
    }
    free(base);
}

static void test_maxpool(void **st)
{
    (void)st;
    LayerFn dn = (LayerFn)(uintptr_t)darknet_fn("forward_maxpool_layer");
    /* batch, c, h, w, size, stride, pad (darknet's padding, default size-1) */
    static const int shapes[][7] = {
        {1, 3, 8, 8, 2, 2, 1}, {1, 2, 7, 9, 2, 2, 1}, {1, 4, 13, 13, 2, 1, 1},
        {2, 3, 6, 10, 3, 2, 2}, {1, 2, 5, 5, 3, 1, 2}, {1, 1, 11, 7, 5, 3, 4},
        {1, 3, 9, 6, 3, 3, 0}, {1, 2, 4, 4, 1, 1, 0}, {1, 2, 10, 3, 4, 2, 3},
        {1, 1, 6, 6, 2, 2, 0},
    };
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const int *s = shapes[k];
        layer l;
        memset(&l, 0, sizeof l);
        l.type = MAXPOOL;
        l.batch = s[0];
        l.c = l.out_c = s[1];
        l.h = s[2];
        l.w = s[3];
        l.size = s[4];
        l.stride = s[5];
        l.pad = s[6];
        l.out_h = (l.h + l.pad - l.size) / l.stride + 1;
        l.out_w = (l.w + l.pad - l.size) / l.stride + 1;
        l.outputs = l.out_h * l.out_w * l.c;
        size_t no = (size_t)l.outputs * l.batch, ni = (size_t)l.h * l.w * l.c * l.batch;
        network net;
        memset(&net, 0, sizeof net);
        net.input = randv(ni);
        for (size_t i = 0; i < ni; i += 7)
            net.input[i] = net.input[(i + 1) % ni]; /* ties: the first maximum wins */
        if (k == 9)
            for (size_t i = 0; i < ni; i++)
                net.input[i] = -INFINITY; /* nothing beats -FLT_MAX: index -1 */
        float *oa = malloc(no * sizeof *oa), *ob = malloc(no * sizeof *ob);
        int *ia = malloc(no * sizeof *ia), *ib = malloc(no * sizeof *ib);
        memset(ia, 0x55, no * sizeof *ia);
        memset(ib, 0x22, no * sizeof *ib);
        l.output = oa;
        l.indexes = ia;
        forward_maxpool_layer(l, net);
        l.output = ob;
        l.indexes = ib;
        dn(l, net);
        if (memcmp(oa, ob, no * sizeof *oa) || memcmp(ia, ib, no * sizeof *ia))
            fail_msg("maxpool b%d c%d h%d w%d size%d stride%d pad%d differs from darknet's",
                     s[0], s[1], s[2], s[3], s[4], s[5], s[6]);
        free(net.input);
        free(oa);
        free(ob);
        free(ia);
        free(ib);
    }
}

static void test_batchnorm(void **st)
{
    (void)st;
    LayerFn dn = (LayerFn)(uintptr_t)darknet_fn("forward_batchnorm_layer");
    static const int shapes[][3] = {{5, 7, 3}, {16, 1, 1}, {3, 13, 9}, {1, 4, 4}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        layer l;
        memset(&l, 0, sizeof l);
        l.type = CONVOLUTIONAL;
        l.batch = 1;
        l.batch_normalize = 1;
        l.out_c = l.n = shapes[k][0];
        l.out_h = shapes[k][1];
        l.out_w = shapes[k][2];
        l.outputs = l.out_c * l.out_h * l.out_w;
        int c = l.out_c;
        size_t no = (size_t)l.outputs;
        l.rolling_mean = randv((size_t)c);
        l.rolling_variance = randv((size_t)c);
        for (int i = 0; i < c; i++)
            l.rolling_variance[i] = fabsf(l.rolling_variance[i]) * 3 + 1e-3f;
        l.scales = randv((size_t)c);
        l.biases = randv((size_t)c);
        float *in = randv(no), *a = malloc(no * sizeof *a), *b = malloc(no * sizeof *b);
        float *x = malloc(no * sizeof *x);
        memcpy(a, in, no * sizeof *a);
        memcpy(b, in, no * sizeof *b);
        network net;
        memset(&net, 0, sizeof net);
        l.x = x;
        l.output = a;
        forward_batchnorm_layer(l, net);
        l.output = b;
        dn(l, net);
        if (memcmp(a, b, no * sizeof *a))
            fail_msg("batchnorm %dx%dx%d differs from darknet's", c, l.out_h, l.out_w);
        /* without the training copy (freed at open): the same bits */
        l.x = NULL;
        l.output = a;
        memcpy(a, in, no * sizeof *a);
        fr_kernels_set_thread(FR_KERNELS_DARKNET); /* l.x gone: the inference path anyway */
        forward_batchnorm_layer(l, net);
        fr_kernels_set_thread(FR_KERNELS_FAST);
        assert_memory_equal(a, b, no * sizeof *a);
        free(l.rolling_mean);
        free(l.rolling_variance);
        free(l.scales);
        free(l.biases);
        free(in);
        free(a);
        free(b);
        free(x);
    }
}

/* The per-thread switch: with darknet chosen the symbol is darknet's own. */
static void test_switch(void **st)
{
    (void)st;
    assert_int_equal(fr_kernels_thread(), FR_KERNELS_FAST);
    fr_kernels_set_thread(FR_KERNELS_DARKNET);
    assert_int_equal(fr_kernels_thread(), FR_KERNELS_DARKNET);
    fr_kernels_set_thread(FR_KERNELS_FAST);
    assert_int_equal(fr_kernels_thread(), FR_KERNELS_FAST);
}

static FrModel *open_net(const char *cfg, const char *weights, int size, FrKernels k)
{
    FrModelSettings s;
    fr_model_defaults(&s);
    s.cfg = cfg;
    s.weights = weights;
    s.width = s.height = size;
    s.quiet = 1;
    s.kernels = k;
    FrModel *m = NULL;
    FrError err = {0};
    if (fr_model_open(&m, &s, &err) != FR_OK)
        fail_msg("%s: %s", cfg, err.msg);
    return m;
}

/* Every layer's output with model.kernels darknet, then fast (the same model,
 * and a second one opened fast, whose batch-norm copies were freed). */
static void check_net(const char *cfg, const char *weights, int size)
{
    FrModel *d = open_net(cfg, weights, size, FR_KERNELS_DARKNET);
    FrModel *f = open_net(cfg, weights, size, FR_KERNELS_FAST);
    int c, h, w;
    fr_model_input_size(d, &c, &h, &w);
    FrTensor in;
    assert_int_equal(fr_tensor_alloc(&in, c, h, w), FR_OK);
    for (size_t i = 0; i < fr_tensor_size(&in); i++)
        in.data[i] = (float)((i * 2654435761u) >> 24) / 255.0f;
    int n = fr_model_layer_count(d);
    FrTensor *ref = calloc((size_t)n, sizeof *ref);
    assert_int_equal(fr_model_forward(d, &in, NULL), FR_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(fr_model_layer_output(d, i, &ref[i]), FR_OK);
    fr_model_set_kernels(d, FR_KERNELS_FAST);
    for (int pass = 0; pass < 2; pass++) {
        FrModel *m = pass ? f : d;
        assert_int_equal(fr_model_forward(m, &in, NULL), FR_OK);
        for (int i = 0; i < n; i++) {
            FrTensor o;
            assert_int_equal(fr_model_layer_output(m, i, &o), FR_OK);
            assert_int_equal(fr_tensor_size(&o), fr_tensor_size(&ref[i]));
            if (memcmp(o.data, ref[i].data, fr_tensor_size(&o) * sizeof(float))) {
                FrLayerInfo li;
                fr_model_layer_info(m, i, &li);
                fail_msg("%s@%d: layer %d (%s) differs with the fast kernels (%s model)", cfg,
                         size, i, li.name, pass ? "fast-opened" : "darknet-opened");
            }
            fr_tensor_free(&o);
        }
    }
    for (int i = 0; i < n; i++)
        fr_tensor_free(&ref[i]);
    free(ref);
    fr_tensor_free(&in);
    fr_model_close(&d);
    fr_model_close(&f);
}

static void test_demo_models(void **st)
{
    (void)st;
    check_net("models/fmnist-yolo.cfg", "models/fmnist-yolo.weights", 0);
    check_net("models/fmnist-vgg.cfg", "models/fmnist-vgg.weights", 0);
    check_net("models/fmnist-yolo-aug.cfg", "models/fmnist-yolo-aug.weights", 0);
    check_net("tests/data/model/tiny-det.cfg", NULL, 0);
    check_net("tests/data/model/tiny-cls.cfg", NULL, 0);
}

static void test_darknet_cfgs(void **st)
{
    (void)st;
    static const char *cfgs[] = {"yolo9000", "vgg-16", "yolov2-tiny-voc", "darknet19", "resnet50"};
    for (size_t k = 0; k < sizeof cfgs / sizeof cfgs[0]; k++) {
        char p[256];
        snprintf(p, sizeof p, "/usr/share/darknet/cfg/%s.cfg", cfgs[k]);
        check_net(p, NULL, 64);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_switch),
        cmocka_unit_test(test_im2col),
        cmocka_unit_test(test_activate),
        cmocka_unit_test(test_maxpool),
        cmocka_unit_test(test_batchnorm),
        cmocka_unit_test(test_demo_models),
        cmocka_unit_test(test_darknet_cfgs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
