/* test_model.c: the darknet adapter: exact front+back at every split of six
 * darknet cfgs and two shipped tiny nets, perturbed cuts reach the output,
 * layer names/shapes/aliases (yolo9000 @544, VGG-16 and ResNet-50 @224 vs
 * Table I of seed 000), cut sets, OpenBLAS vs darknet GEMM, weights checks
 * and round trips, detections vs a reference decoder, image preparation,
 * the JPEG anchor, threads, weights shared between models, and `featrd
 * layers`. */
#include "testutil.h"
#include "model/model.h"

#include <math.h>
#include <pthread.h>

#define CFG_DIR "/usr/share/darknet/cfg/"
#define DATA "tests/data/model/"

/* Full-size darknet cfgs take minutes under valgrind; `make valgrind` runs
 * the tiny shipped nets only (sanitizers run everything). */
static int heavy_skipped(void)
{
    return getenv("FEATRD_VALGRIND") != NULL;
}
#define HEAVY()                   \
    do {                          \
        if (heavy_skipped())      \
            skip();               \
    } while (0)

static FrModel *open_model(const char *cfg, const char *weights, int size, uint64_t seed)
{
    FrModelSettings s;
    fr_model_defaults(&s);
    s.cfg = cfg;
    s.weights = weights;
    s.width = s.height = size;
    s.seed = seed;
    s.quiet = 1;
    FrModel *m = NULL;
    FrError err = {0};
    int rc = fr_model_open(&m, &s, &err);
    if (rc != FR_OK)
        print_error("open %s: %s\n", cfg, err.msg);
    assert_int_equal(rc, FR_OK);
    assert_non_null(m);
    return m;
}

/* A deterministic input with structure (not constant) in [0,1]. */
static void make_input(FrModel *m, FrTensor *in, unsigned salt)
{
    int c, h, w;
    fr_model_input_size(m, &c, &h, &w);
    assert_int_equal(fr_tensor_alloc(in, c, h, w), 0);
    for (int k = 0; k < c; k++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                unsigned v = (unsigned)(x * 31 + y * 17 + k * 7 + salt) * 2654435761u;
                in->data[((size_t)k * h + y) * w + x] =
                    0.5f + 0.3f * sinf(0.3f * x + 0.2f * y + k) + 0.2f * (float)(v >> 24) / 255.0f - 0.1f;
            }
}

static int last_split(FrModel *m)
{
    /* the last layer whose cut set exists (an output layer has no back half) */
    int n = fr_model_layer_count(m), idx[FR_MODEL_MAX_CUTS], nc;
    for (int s = n - 1; s >= 0; s--)
        if (fr_model_cut_set(m, s, idx, FR_MODEL_MAX_CUTS, &nc) == FR_OK)
            return s;
    return -1;
}

/* What the task reads after a pass: every yolo/region layer of a detector
 * (yolov3 has three), else the final output; concatenated. */
static void gather_outputs(FrModel *m, FrTensor *t)
{
    int n = fr_model_layer_count(m);
    size_t total = 0;
    FrLayerInfo li;
    if (fr_model_task(m) != FR_TASK_DETECTION) {
        assert_int_equal(fr_model_output(m, t), 0);
        return;
    }
    for (int i = 0; i < n; i++)
        if (fr_model_layer_info(m, i, &li) == 0 && (!strcmp(li.type, "yolo") || !strcmp(li.type, "region")))
            total += li.bytes / 4;
    assert_int_equal(fr_tensor_alloc(t, 1, 1, (int)total), 0);
    size_t off = 0;
    for (int i = 0; i < n; i++)
        if (fr_model_layer_info(m, i, &li) == 0 && (!strcmp(li.type, "yolo") || !strcmp(li.type, "region"))) {
            FrTensor o;
            assert_int_equal(fr_model_layer_output(m, i, &o), 0);
            memcpy(t->data + off, o.data, fr_tensor_size(&o) * sizeof(float));
            off += fr_tensor_size(&o);
            fr_tensor_free(&o);
        }
}

/* Every split: front + back with the untouched cuts equals the full forward
 * bit for bit; each cut tensor, perturbed alone, changes the output. */
static void check_all_splits(const char *cfg, const char *weights, int size, int *multi_seen)
{
    FrModel *m = open_model(cfg, weights, size, 1);
    FrTensor in, ref, out;
    FrError err = {0};
    make_input(m, &in, 3);
    assert_int_equal(fr_model_forward(m, &in, &err), 0);
    gather_outputs(m, &ref);
    size_t nout = fr_tensor_size(&ref);
    for (size_t i = 0; i < nout; i++)
        assert_true(isfinite(ref.data[i]));
    int last = last_split(m);
    assert_true(last >= 0);
    for (int s = 0; s <= last; s++) {
        FrTensor cuts[FR_MODEL_MAX_CUTS];
        int nc = 0;
        if (fr_model_front(m, &in, s, cuts, &nc, &err) != FR_OK)
            fail_msg("%s split %d: %s", cfg, s, err.msg);
        assert_true(nc >= 1);
        if (nc > 1 && multi_seen)
            (*multi_seen)++;
        assert_int_equal(fr_model_back(m, s, cuts, nc, &err), 0);
        gather_outputs(m, &out);
        if (memcmp(out.data, ref.data, nout * sizeof(float)) != 0)
            fail_msg("%s: front+back at split %d differs from the full forward", cfg, s);
        fr_tensor_free(&out);
        for (int k = 0; k < nc; k++) {
            FrTensor saved;
            size_t n = fr_tensor_size(&cuts[k]);
            assert_int_equal(fr_tensor_alloc(&saved, cuts[k].c, cuts[k].h, cuts[k].w), 0);
            memcpy(saved.data, cuts[k].data, n * sizeof(float));
            for (size_t i = 0; i < n; i++)
                cuts[k].data[i] = cuts[k].data[i] * 1.25f + 0.05f * (float)((int)(i % 7) - 3);
            assert_int_equal(fr_model_back(m, s, cuts, nc, &err), 0);
            gather_outputs(m, &out);
            if (memcmp(out.data, ref.data, nout * sizeof(float)) == 0)
                fail_msg("%s: perturbing cut tensor %d of split %d did not change the output", cfg, k, s);
            fr_tensor_free(&out);
            memcpy(cuts[k].data, saved.data, n * sizeof(float));
            fr_tensor_free(&saved);
        }
        for (int k = 0; k < nc; k++)
            fr_tensor_free(&cuts[k]);
    }
    fr_tensor_free(&ref);
    fr_tensor_free(&in);
    fr_model_close(&m);
    assert_null(m);
}

static void test_splits_yolo9000(void **state)
{
    (void)state;
    HEAVY();
    check_all_splits(CFG_DIR "yolo9000.cfg", NULL, 64, NULL);
}

static void test_splits_yolov2_voc(void **state)
{
    (void)state;
    HEAVY();
    int multi = 0;
    check_all_splits(CFG_DIR "yolov2-voc.cfg", NULL, 64, &multi);
    assert_int_equal(multi, 11); /* splits 17..27 carry two tensors */
}

static void test_splits_yolov2_tiny_voc(void **state)
{
    (void)state;
    HEAVY();
    check_all_splits(CFG_DIR "yolov2-tiny-voc.cfg", NULL, 96, NULL);
}

static void test_splits_yolov3_tiny(void **state)
{
    (void)state;
    HEAVY();
    int multi = 0;
    check_all_splits(CFG_DIR "yolov3-tiny.cfg", NULL, 64, &multi);
    assert_int_equal(multi, 14); /* splits 9..22 */
    /* yolo_16 is an output: it crosses every later cut */
    FrModel *m = open_model(CFG_DIR "yolov3-tiny.cfg", NULL, 64, 1);
    int idx[FR_MODEL_MAX_CUTS], nc;
    assert_int_equal(fr_model_cut_set(m, 21, idx, FR_MODEL_MAX_CUTS, &nc), 0);
    assert_int_equal(nc, 2);
    assert_int_equal(idx[0], 16);
    assert_int_equal(idx[1], 21);
    fr_model_close(&m);
}

static void test_splits_vgg16(void **state)
{
    (void)state;
    HEAVY();
    check_all_splits(CFG_DIR "vgg-16.cfg", NULL, 64, NULL);
}

static void test_splits_darknet19(void **state)
{
    (void)state;
    HEAVY();
    check_all_splits(CFG_DIR "darknet19.cfg", NULL, 64, NULL);
}

static void test_splits_resnet50(void **state)
{
    (void)state;
    HEAVY();
    int multi = 0;
    check_all_splits(CFG_DIR "resnet50.cfg", NULL, 64, &multi);
    assert_true(multi > 10); /* cuts inside residual blocks carry the skip input */
}

static void test_splits_tiny_shipped(void **state)
{
    (void)state;
    int multi = 0;
    check_all_splits(DATA "tiny-det.cfg", DATA "tiny-det.weights", 0, &multi);
    assert_int_equal(multi, 5); /* splits 3..7: route/shortcut inputs cross the cut */
    check_all_splits(DATA "tiny-cls.cfg", DATA "tiny-cls.weights", 0, NULL);
}

static void expect_shape(FrModel *m, const char *name, int w, int h, int c)
{
    int idx = -1;
    FrError err = {0};
    FrLayerInfo li;
    if (fr_model_find_layer(m, name, &idx, &err) != FR_OK)
        fail_msg("%s: %s", name, err.msg);
    assert_int_equal(fr_model_layer_info(m, idx, &li), 0);
    if (li.w != w || li.h != h || li.c != c)
        fail_msg("%s is %dx%dx%d, expected %dx%dx%d", name, li.w, li.h, li.c, w, h, c);
    assert_int_equal(li.bytes, (size_t)4 * w * h * c);
}

/* The ICIP 2018 split points of seed 001. */
static void test_shapes_yolo9000_544(void **state)
{
    (void)state;
    HEAVY();
    FrModel *m = open_model(CFG_DIR "yolo9000.cfg", NULL, 0, 1);
    int c, h, w;
    fr_model_input_size(m, &c, &h, &w);
    assert_int_equal(w, 544);
    assert_int_equal(h, 544);
    expect_shape(m, "max_3", 136, 136, 64);
    expect_shape(m, "conv_6", 136, 136, 128);
    expect_shape(m, "conv_10", 68, 68, 256);
    expect_shape(m, "max_11", 34, 34, 256);
    expect_shape(m, "max_17", 17, 17, 512);
    /* the ICIP splits are clean single-tensor cuts (no route layers) */
    int idx[FR_MODEL_MAX_CUTS], nc;
    assert_int_equal(fr_model_cut_set(m, 17, idx, FR_MODEL_MAX_CUTS, &nc), 0);
    assert_int_equal(nc, 1);
    assert_int_equal(idx[0], 17);
    assert_int_equal(fr_model_task(m), FR_TASK_DETECTION);
    FrLayerInfo li;
    assert_int_equal(fr_model_layer_info(m, 3, &li), 0);
    assert_string_equal(li.alias, ""); /* detection nets get no stage aliases */
    fr_model_close(&m);
}

/* Table I of seed 000 (VGGNet and ResNet columns) at 224×224. */
static void test_aliases_table1(void **state)
{
    (void)state;
    HEAVY();
    FrModel *m = open_model(CFG_DIR "vgg-16.cfg", NULL, 224, 1);
    assert_int_equal(fr_model_task(m), FR_TASK_CLASSIFICATION);
    expect_shape(m, "conv1", 224, 224, 64);
    expect_shape(m, "pool1", 112, 112, 64);
    expect_shape(m, "conv2", 112, 112, 128);
    expect_shape(m, "pool2", 56, 56, 128);
    expect_shape(m, "conv3", 56, 56, 256);
    expect_shape(m, "pool3", 28, 28, 256);
    expect_shape(m, "conv4", 28, 28, 512);
    expect_shape(m, "pool4", 14, 14, 512);
    expect_shape(m, "conv5", 14, 14, 512);
    expect_shape(m, "pool5", 7, 7, 512);
    expect_shape(m, "fc1", 1, 1, 4096);
    expect_shape(m, "fc2", 1, 1, 4096);
    expect_shape(m, "fc3", 1, 1, 1000);
    int idx;
    assert_int_equal(fr_model_find_layer(m, "pool5", &idx, NULL), 0);
    assert_int_equal(idx, 18);
    assert_int_equal(fr_model_find_layer(m, "conv1", &idx, NULL), 0);
    assert_int_equal(idx, 2);
    fr_model_close(&m);

    m = open_model(CFG_DIR "resnet50.cfg", NULL, 224, 1);
    expect_shape(m, "conv1", 112, 112, 64);
    expect_shape(m, "pool1", 56, 56, 64);
    expect_shape(m, "conv2", 56, 56, 256);
    expect_shape(m, "conv3", 28, 28, 512);
    expect_shape(m, "conv4", 14, 14, 1024);
    expect_shape(m, "conv5", 7, 7, 2048);
    expect_shape(m, "pool5", 1, 1, 2048);
    expect_shape(m, "fc1", 1, 1, 1000);
    fr_model_close(&m);
}

static void test_names_and_cut_sets(void **state)
{
    (void)state;
    HEAVY();
    FrModel *m = open_model(CFG_DIR "yolov2-voc.cfg", NULL, 64, 1);
    int idx[FR_MODEL_MAX_CUTS], nc, i;
    FrError err = {0};
    /* max_17 also needs conv_16 (route 25 reads 16) */
    assert_int_equal(fr_model_find_layer(m, "max_17", &i, &err), 0);
    assert_int_equal(i, 17);
    assert_int_equal(fr_model_cut_set(m, i, idx, FR_MODEL_MAX_CUTS, &nc), 0);
    assert_int_equal(nc, 2);
    assert_int_equal(idx[0], 16);
    assert_int_equal(idx[1], 17);
    /* after route 25 consumed conv_16, route 28 still needs conv_24 */
    assert_int_equal(fr_model_cut_set(m, 26, idx, FR_MODEL_MAX_CUTS, &nc), 0);
    assert_int_equal(nc, 2);
    assert_int_equal(idx[0], 24);
    assert_int_equal(idx[1], 26);
    assert_int_equal(fr_model_cut_set(m, 16, idx, FR_MODEL_MAX_CUTS, &nc), 0);
    assert_int_equal(nc, 1);
    assert_int_equal(fr_model_cut_set(m, 28, idx, FR_MODEL_MAX_CUTS, &nc), 0);
    assert_int_equal(nc, 1);
    /* a split after the output layer leaves no back half */
    int n = fr_model_layer_count(m);
    assert_int_equal(fr_model_cut_set_err(m, n - 1, idx, FR_MODEL_MAX_CUTS, &nc, &err), FR_E_USAGE);
    tu_assert_contains(err.msg, "no back half");
    assert_int_equal(fr_model_cut_set_err(m, n, idx, FR_MODEL_MAX_CUTS, &nc, &err), FR_E_USAGE);
    assert_int_equal(fr_model_cut_set_err(m, 17, idx, 1, &nc, &err), FR_E_USAGE);
    tu_assert_contains(err.msg, "2 tensors");
    /* bare index, long section names, whitespace */
    assert_int_equal(fr_model_find_layer(m, "11", &i, NULL), 0);
    assert_int_equal(i, 11);
    assert_int_equal(fr_model_find_layer(m, " maxpool_11 ", &i, NULL), 0);
    assert_int_equal(i, 11);
    assert_int_equal(fr_model_find_layer(m, "convolutional_6", &i, NULL), 0);
    assert_int_equal(i, 6);
    /* unknown names say what valid ones look like */
    assert_int_equal(fr_model_find_layer(m, "max_6", &i, &err), FR_E_USAGE);
    tu_assert_contains(err.msg, "no layer named 'max_6'");
    tu_assert_contains(err.msg, "conv_0");
    tu_assert_contains(err.msg, "region_31");
    assert_int_equal(fr_model_find_layer(m, "pool2", &i, &err), FR_E_USAGE);
    assert_int_equal(fr_model_find_layer(m, "99", &i, &err), FR_E_USAGE);
    tu_assert_contains(err.msg, "0..31");
    FrLayerInfo li;
    assert_int_equal(fr_model_layer_info(m, 25, &li), 0);
    assert_string_equal(li.name, "route_25");
    assert_string_equal(li.type, "route");
    assert_int_equal(fr_model_layer_info(m, 27, &li), 0);
    assert_string_equal(li.name, "reorg_27");
    assert_int_equal(fr_model_layer_info(m, 32, &li), FR_E_USAGE);
    assert_int_equal(fr_model_classes(m), 20);
    fr_model_close(&m);

    m = open_model(DATA "tiny-cls.cfg", NULL, 0, 1);
    const char *alias[] = {"conv1", "pool1", "conv2", "pool2", "fc1", "", "fc2", ""};
    for (int k = 0; k < 8; k++) {
        assert_int_equal(fr_model_layer_info(m, k, &li), 0);
        assert_string_equal(li.alias, alias[k]);
    }
    /* the dropout layer shares connected_4's buffer: that is what crosses */
    assert_int_equal(fr_model_cut_set(m, 5, idx, FR_MODEL_MAX_CUTS, &nc), 0);
    assert_int_equal(nc, 1);
    assert_int_equal(idx[0], 4);
    assert_int_equal(fr_model_classes(m), 10);
    assert_int_equal(fr_model_task(m), FR_TASK_CLASSIFICATION);
    fr_model_close(&m);
}

static double max_rel(const FrTensor *a, const FrTensor *b)
{
    double md = 0, mb = 0;
    for (size_t i = 0; i < fr_tensor_size(a); i++) {
        double d = fabs((double)a->data[i] - b->data[i]);
        if (d > md)
            md = d;
        if (fabs(b->data[i]) > mb)
            mb = fabs(b->data[i]);
    }
    return mb > 0 ? md / mb : md;
}

/* OpenBLAS and darknet's loops agree to 1e-4 relative on every layer. */
static void test_gemm_openblas_vs_darknet(void **state)
{
    (void)state;
    HEAVY();
    const char *cfgs[] = {CFG_DIR "yolov2-tiny-voc.cfg", CFG_DIR "vgg-16.cfg"};
    const int sizes[] = {128, 64};
    for (int k = 0; k < 2; k++) {
        FrModel *m = open_model(cfgs[k], NULL, sizes[k], 1);
        FrTensor in;
        make_input(m, &in, 5);
        int n = fr_model_layer_count(m);
        FrTensor *a = calloc((size_t)n, sizeof *a), *b = calloc((size_t)n, sizeof *b);
        assert_int_equal(fr_model_get_gemm(m), FR_GEMM_OPENBLAS);
        assert_int_equal(fr_model_forward(m, &in, NULL), 0);
        for (int i = 0; i < n; i++)
            assert_int_equal(fr_model_layer_output(m, i, &a[i]), 0);
        fr_model_set_gemm(m, FR_GEMM_DARKNET);
        assert_int_equal(fr_model_forward(m, &in, NULL), 0);
        int differ = 0;
        for (int i = 0; i < n; i++) {
            assert_int_equal(fr_model_layer_output(m, i, &b[i]), 0);
            double r = max_rel(&a[i], &b[i]);
            if (r > 1e-4)
                fail_msg("%s layer %d: OpenBLAS vs darknet GEMM relative difference %g", cfgs[k], i, r);
            differ |= memcmp(a[i].data, b[i].data, fr_tensor_size(&a[i]) * 4) != 0;
            fr_tensor_free(&a[i]);
            fr_tensor_free(&b[i]);
        }
        /* the switch really swaps the implementation (sums differ in order) */
        assert_true(differ);
        free(a);
        free(b);
        fr_tensor_free(&in);
        fr_model_close(&m);
    }
}

static char *file_bytes(const char *path, size_t *len)
{
    uint8_t *d = NULL;
    assert_int_equal(fr_read_file(path, &d, len, NULL), 0);
    return (char *)d;
}

static void copy_prefix(const char *from, const char *to, long keep)
{
    size_t len;
    char *d = file_bytes(from, &len);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    fwrite(d, 1, keep < 0 ? len + (size_t)keep : (size_t)keep, f);
    fclose(f);
    free(d);
}

static void test_weights_errors(void **state)
{
    (void)state;
    FrModelSettings s;
    fr_model_defaults(&s);
    s.quiet = 1;
    FrModel *m = (FrModel *)&s; /* must come back NULL */
    FrError err = {0};
    const char *dir = tu_tmpdir();
    char p[512];

    s.cfg = DATA "tiny-det.cfg";
    s.weights = "/nonexistent/tiny.weights";
    assert_int_equal(fr_model_open(&m, &s, &err), FR_E_NOENT);
    assert_null(m);
    tu_assert_contains(err.msg, "/nonexistent/tiny.weights");

    snprintf(p, sizeof p, "%s/trunc7.weights", dir);
    copy_prefix(DATA "tiny-det.weights", p, -7);
    s.weights = p;
    assert_int_equal(fr_model_open(&m, &s, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, p);
    tu_assert_contains(err.msg, "truncated");

    snprintf(p, sizeof p, "%s/trunc400.weights", dir);
    copy_prefix(DATA "tiny-det.weights", p, -400);
    assert_int_equal(fr_model_open(&m, &s, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "110132"); /* what the cfg needs */
    tu_assert_contains(err.msg, "truncated");

    snprintf(p, sizeof p, "%s/hdr.weights", dir);
    copy_prefix(DATA "tiny-det.weights", p, 10);
    assert_int_equal(fr_model_open(&m, &s, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "header");

    /* weights of a bigger net */
    s.cfg = DATA "tiny-cls.cfg";
    s.weights = DATA "tiny-det.weights";
    assert_int_equal(fr_model_open(&m, &s, &err), FR_E_MISMATCH);
    tu_assert_contains(err.msg, "another cfg");
    tu_assert_contains(err.msg, "tiny-cls.cfg");
    /* weights of a smaller net: short for this cfg */
    s.cfg = DATA "tiny-det.cfg";
    s.weights = DATA "tiny-cls.weights";
    assert_int_equal(fr_model_open(&m, &s, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "another cfg");
    assert_null(m);
}

static void test_cfg_errors(void **state)
{
    (void)state;
    FrModelSettings s;
    fr_model_defaults(&s);
    s.quiet = 1;
    FrModel *m = NULL;
    FrError err = {0};
    const char *dir = tu_tmpdir();
    char p[512];

    s.cfg = "/nonexistent/net.cfg";
    assert_int_equal(fr_model_open(&m, &s, &err), FR_E_NOENT);
    tu_assert_contains(err.msg, "/nonexistent/net.cfg");

    snprintf(p, sizeof p, "%s/typo.cfg", dir);
    tu_write(p, "[net]\nwidth=8\nheight=8\nchannels=3\n\n[convolution]\nfilters=4\nsize=3\n");
    s.cfg = p;
    assert_int_equal(fr_model_open(&m, &s, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, ":6: unknown layer type [convolution]");

    snprintf(p, sizeof p, "%s/route.cfg", dir);
    tu_write(p, "[net]\nwidth=8\nheight=8\nchannels=3\n[convolutional]\nfilters=4\nsize=3\n"
                "[route]\nlayers=3\n");
    assert_int_equal(fr_model_open(&m, &s, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, ":9: route layer 1 reads layer 3");

    snprintf(p, sizeof p, "%s/nonet.cfg", dir);
    tu_write(p, "width=8\n[net]\n");
    assert_int_equal(fr_model_open(&m, &s, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, ":1:");

    snprintf(p, sizeof p, "%s/first.cfg", dir);
    tu_write(p, "[convolutional]\nfilters=4\n");
    assert_int_equal(fr_model_open(&m, &s, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "[net]");

    snprintf(p, sizeof p, "%s/tree.cfg", dir);
    tu_write(p, "[net]\nwidth=8\nheight=8\nchannels=3\n[convolutional]\nfilters=4\nsize=1\n"
                "[region]\ntree=data/none.tree\nclasses=2\nnum=1\n");
    assert_int_equal(fr_model_open(&m, &s, &err), FR_E_NOENT);
    tu_assert_contains(err.msg, "tree=data/none.tree");

    /* darknet aborts inside its parser at this size (route inputs 8×8 and
     * 9×9): the abort is caught, the model refused, the process goes on */
    s.cfg = DATA "tiny-det.cfg";
    s.width = s.height = 34;
    assert_int_equal(fr_model_open(&m, &s, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "must output image");
    tu_assert_contains(err.msg, "input size");
    assert_null(m);
    s.width = s.height = 64;
    assert_int_equal(fr_model_open(&m, &s, &err), FR_OK);
    fr_model_close(&m);

    s.width = 64;
    s.height = 0;
    assert_int_equal(fr_model_open(&m, &s, &err), FR_E_USAGE);
    assert_null(m);
}

/* Reproducers of hostile cfgs (issue 23): each is refused with exit 2 and a
 * message naming the file, under a kill timeout so a hang fails the test
 * instead of stalling it (anchors-over-num used to deadlock in malloc,
 * conv-size-2001 to segfault in `featrd run` and pass `featrd layers`). */
static void test_hostile_cfgs(void **state)
{
    (void)state;
    static const struct {
        const char *file, *want;
    } cases[] = {
        {"anchors-over-num.cfg", "anchors-over-num.cfg:13: [region] (layer 1): anchors= has 146 values but num=5"},
        {"conv-size-2001.cfg", "conv-size-2001.cfg:8: [convolutional] (layer 0): size=2001 is outside 1..64"},
        {"conv-stride-negative.cfg", ":9: [convolutional] (layer 0): stride=-1 is outside 1..64"},
        {"yolo-mask-range.cfg", ":12: [yolo] (layer 1): mask= must list"},
        {"region-input-mismatch.cfg", "darknet stopped building the network (Aborted: parse_region: l.outputs == params.inputs"},
        {"workspace-huge.cfg", "workspace-huge.cfg:6: layer 0 needs a 12289.50 GiB convolution workspace"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *out = NULL;
        int rc = tu_sh(&out, "timeout -s KILL 120 %s layers " DATA "hostile/%s", tu_bin(), cases[k].file);
        if (rc != 2)
            print_error("%s: exit %d: %s\n", cases[k].file, rc, out);
        assert_int_equal(rc, 2);
        if (getenv("FEATRD_SANITIZE") && strstr(cases[k].file, "workspace")) {
            /* ASan refuses the 12 TB calloc itself (allocation-size-too-big)
             * in the probe child: still exit 2, and its report is passed on */
            tu_assert_contains(out, "AddressSanitizer");
            tu_assert_contains(out, "workspace-huge.cfg: darknet stopped building the network");
        } else {
            tu_assert_contains(out, cases[k].want);
        }
        free(out);
    }
    /* in process: darknet's abort happens in the probe child; this process
     * goes on and opens a good cfg */
    FrModelSettings s;
    fr_model_defaults(&s);
    s.quiet = 1;
    s.cfg = DATA "hostile/region-input-mismatch.cfg";
    FrModel *m = NULL;
    FrError err = {0};
    assert_int_equal(fr_model_open(&m, &s, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "l.outputs == params.inputs");
    assert_null(m);
    FrModel *good = open_model(DATA "tiny-det.cfg", NULL, 0, 1);
    assert_int_equal(fr_model_layer_count(good), 12);
    fr_model_close(&good);
}

/* An image header claiming 60000×60000 pixels in a 20-byte PNM: refused
 * before darknet's loader allocates 43 GB of floats for it. */
static void test_hostile_image(void **state)
{
    (void)state;
    char p[512];
    snprintf(p, sizeof p, "%s/huge.ppm", tu_tmpdir());
    tu_write(p, "P6\n60000 60000\n255\nxyz");
    FrModel *m = open_model(DATA "tiny-cls.cfg", NULL, 0, 1);
    FrTensor rgb;
    FrError err;
    assert_int_equal(fr_model_load_image(m, p, &rgb, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "huge.ppm: corrupt or too large: the header says 60000x60000 pixels");
    assert_null(rgb.data);
    fr_model_close(&m);
}

static void test_weights_round_trip(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/a.weights", dir);
    snprintf(b, sizeof b, "%s/b.weights", dir);
    FrError err = {0};
    const char *cfgs[] = {DATA "tiny-cls.cfg", DATA "tiny-det.cfg"};
    const char *shipped[] = {DATA "tiny-cls.weights", DATA "tiny-det.weights"};
    for (int k = 0; k < 2; k++) {
        FrModel *m = open_model(cfgs[k], NULL, 0, 3);
        assert_int_equal(fr_model_save_weights(m, a, &err), 0);
        FrModel *w = open_model(cfgs[k], a, 0, 99);
        FrTensor in, o1, o2;
        make_input(m, &in, 1);
        assert_int_equal(fr_model_forward(m, &in, NULL), 0);
        assert_int_equal(fr_model_forward(w, &in, NULL), 0);
        assert_int_equal(fr_model_output(m, &o1), 0);
        assert_int_equal(fr_model_output(w, &o2), 0);
        assert_memory_equal(o1.data, o2.data, fr_tensor_size(&o1) * 4);
        assert_int_equal(fr_model_save_weights(w, b, &err), 0);
        size_t la, lb;
        char *da = file_bytes(a, &la), *db = file_bytes(b, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(da, db, la);
        free(da);
        free(db);
        /* the shipped weights are this generator at seed 7 */
        FrModel *s7 = open_model(cfgs[k], NULL, 0, 7);
        assert_int_equal(fr_model_save_weights(s7, a, &err), 0);
        da = file_bytes(a, &la);
        db = file_bytes(shipped[k], &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(da, db, la);
        free(da);
        free(db);
        fr_tensor_free(&in);
        fr_tensor_free(&o1);
        fr_tensor_free(&o2);
        fr_model_close(&s7);
        fr_model_close(&w);
        fr_model_close(&m);
    }
    FrModel *m = open_model(DATA "tiny-cls.cfg", NULL, 0, 3);
    assert_int_equal(fr_model_save_weights(m, "/nonexistent/dir/x.weights", &err), FR_E_IO);
    tu_assert_contains(err.msg, "/nonexistent/dir/x.weights");
    fr_model_close(&m);
}

static void test_deterministic(void **state)
{
    (void)state;
    FrTensor in, o[3];
    for (int k = 0; k < 3; k++) {
        FrModel *other = open_model(DATA "tiny-cls.cfg", NULL, 0, 11); /* stirs darknet's rand() */
        FrModel *m = open_model(DATA "tiny-det.cfg", NULL, 0, k == 2 ? 2 : 1);
        if (k == 0)
            make_input(m, &in, 9);
        assert_int_equal(fr_model_forward(m, &in, NULL), 0);
        assert_int_equal(fr_model_forward(m, &in, NULL), 0);
        assert_int_equal(fr_model_output(m, &o[k]), 0);
        fr_model_close(&m);
        fr_model_close(&other);
    }
    assert_memory_equal(o[0].data, o[1].data, fr_tensor_size(&o[0]) * 4);
    assert_memory_not_equal(o[0].data, o[2].data, fr_tensor_size(&o[0]) * 4);
    for (int k = 0; k < 3; k++)
        fr_tensor_free(&o[k]);
    fr_tensor_free(&in);
}

/* One pass for every split (fr_model_forward_cuts, the runner's reference
 * pass): each split's cut set equals fr_model_front's for that split, and the
 * output fr_model_forward's, bit for bit; splits given out of order and
 * twice; on tiny-det (a route: two-tensor cut sets), on the shipped demo
 * detector and classifier when present. */
static void check_forward_cuts(const char *cfg, const char *weights)
{
    FrModel *m = open_model(cfg, weights, 0, 5);
    FrTensor in, ref, out;
    make_input(m, &in, 3);
    int n = fr_model_layer_count(m), sp[8], ns = 0;
    /* every third layer, deepest first, then the first one again */
    for (int l = n - 2; l >= 0 && ns < 7; l -= 3)
        sp[ns++] = l;
    int shallowest = sp[ns - 1];
    sp[ns++] = shallowest;
    FrTensor cuts[8 * FR_MODEL_MAX_CUTS];
    int ncuts[8], multi = 0;
    double tf[8];
    memset(cuts, 0, sizeof cuts);
    FrError err = {0};
    assert_int_equal(fr_model_forward_cuts(m, &in, sp, ns, cuts, ncuts, tf, &err), 0);
    assert_int_equal(fr_model_output(m, &out), 0);
    assert_int_equal(fr_model_forward(m, &in, &err), 0);
    assert_int_equal(fr_model_output(m, &ref), 0);
    assert_int_equal(fr_tensor_size(&ref), fr_tensor_size(&out));
    assert_memory_equal(ref.data, out.data, fr_tensor_size(&ref) * sizeof(float));
    for (int j = 0; j < ns; j++) {
        FrTensor fc[FR_MODEL_MAX_CUTS];
        int nf = 0;
        assert_int_equal(fr_model_front(m, &in, sp[j], fc, &nf, &err), 0);
        assert_int_equal(nf, ncuts[j]);
        multi |= nf > 1;
        assert_true(tf[j] >= 0);
        for (int k = 0; k < nf; k++) {
            FrTensor *a = &cuts[j * FR_MODEL_MAX_CUTS + k];
            assert_int_equal(a->c, fc[k].c);
            assert_int_equal(a->h, fc[k].h);
            assert_int_equal(a->w, fc[k].w);
            assert_memory_equal(a->data, fc[k].data, fr_tensor_size(a) * sizeof(float));
            fr_tensor_free(a);
            fr_tensor_free(&fc[k]);
        }
    }
    /* deeper splits cost at least as much front time as shallower ones */
    for (int j = 0; j + 1 < ns; j++)
        if (sp[j] > sp[j + 1])
            assert_true(tf[j] >= tf[j + 1]);
    if (strstr(cfg, "tiny-det"))
        assert_true(multi); /* the route's cut sets were exercised */
    /* a split after the last layer is refused, nothing allocated */
    int bad[2] = {0, n - 1};
    assert_int_not_equal(fr_model_forward_cuts(m, &in, bad, 2, cuts, ncuts, NULL, &err), 0);
    fr_tensor_free(&in);
    fr_tensor_free(&ref);
    fr_tensor_free(&out);
    fr_model_close(&m);
}

static void test_forward_cuts(void **state)
{
    (void)state;
    check_forward_cuts(DATA "tiny-det.cfg", DATA "tiny-det.weights");
    check_forward_cuts(DATA "tiny-cls.cfg", DATA "tiny-cls.weights");
    if (access("models/fmnist-yolo.weights", R_OK) == 0)
        check_forward_cuts("models/fmnist-yolo.cfg", "models/fmnist-yolo.weights");
    if (access("models/fmnist-vgg.weights", R_OK) == 0)
        check_forward_cuts("models/fmnist-vgg.cfg", "models/fmnist-vgg.weights");
}

/* Every layer's output of a and b, bit for bit. */
static void assert_same_layers(FrModel *a, FrModel *b, const char *what, int where)
{
    int n = fr_model_layer_count(a);
    assert_int_equal(fr_model_layer_count(b), n);
    for (int i = 0; i < n; i++) {
        FrTensor x, y;
        assert_int_equal(fr_model_layer_output(a, i, &x), 0);
        assert_int_equal(fr_model_layer_output(b, i, &y), 0);
        assert_int_equal(fr_tensor_size(&x), fr_tensor_size(&y));
        if (memcmp(x.data, y.data, fr_tensor_size(&x) * sizeof(float)))
            fail_msg("%s (check %d): layer %d differs", what, where, i);
        fr_tensor_free(&x);
        fr_tensor_free(&y);
    }
}

/* fr_model_open_shared: the shared model's parameter arrays are its base's
 * (one copy), its activations its own: on one input every layer's output
 * equals the base's bit for bit, a pass of one leaves the other's outputs
 * as they were, and either may be closed first (the other keeps working:
 * the weights live until the last closes; ASan checks the frees). */
static void check_shared(const char *cfg, const char *weights, int size, int want_shared)
{
    FrError err = {0};
    FrModel *base = open_model(cfg, weights, size, 9), *sh = NULL, *sh2 = NULL;
    assert_int_equal(fr_model_open_shared(&sh, base, 1, &err), FR_OK);
    int shared = fr_model_shares_params(base, sh);
    if (want_shared)
        assert_true(shared > 0);
    else
        assert_int_equal(shared, 0);
    /* a model opened on its own shares nothing */
    FrModel *own = open_model(cfg, weights, size, 9);
    assert_int_equal(fr_model_shares_params(base, own), 0);
    FrTensor a, b;
    make_input(base, &a, 1);
    make_input(base, &b, 2);
    /* own on input a is the reference for base and sh */
    assert_int_equal(fr_model_forward(own, &a, &err), 0);
    assert_int_equal(fr_model_forward(sh, &a, &err), 0);
    assert_int_equal(fr_model_forward(base, &b, &err), 0); /* must not disturb sh */
    assert_same_layers(own, sh, cfg, 1);
    assert_int_equal(fr_model_forward(base, &a, &err), 0);
    assert_same_layers(own, base, cfg, 2);
    /* a share of a share shares the first base */
    assert_int_equal(fr_model_open_shared(&sh2, sh, 1, &err), FR_OK);
    assert_int_equal(fr_model_shares_params(base, sh2), shared);
    /* base closed first: sh and sh2 still hold the weights */
    fr_model_close(&base);
    assert_null(base);
    assert_int_equal(fr_model_forward(sh2, &b, &err), 0);
    assert_int_equal(fr_model_forward(own, &b, &err), 0);
    assert_same_layers(own, sh2, cfg, 3);
    fr_model_close(&sh2);
    assert_int_equal(fr_model_forward(sh, &a, &err), 0);
    assert_int_equal(fr_model_forward(own, &a, &err), 0);
    assert_same_layers(own, sh, cfg, 4);
    fr_model_close(&sh);
    /* the other order: shared closed first, base goes on */
    base = open_model(cfg, weights, size, 9);
    assert_int_equal(fr_model_open_shared(&sh, base, 1, &err), FR_OK);
    fr_model_close(&sh);
    assert_int_equal(fr_model_forward(base, &b, &err), 0);
    assert_int_equal(fr_model_forward(own, &b, &err), 0);
    assert_same_layers(own, base, cfg, 5);
    fr_model_close(&base);
    fr_model_close(&own);
    fr_tensor_free(&a);
    fr_tensor_free(&b);
    assert_int_equal(fr_model_open_shared(&sh, NULL, 1, &err), FR_E_USAGE);
    assert_null(sh);
}

static void test_shared_weights(void **state)
{
    (void)state;
    check_shared(DATA "tiny-det.cfg", DATA "tiny-det.weights", 0, 1);
    check_shared(DATA "tiny-cls.cfg", DATA "tiny-cls.weights", 0, 1);
    check_shared(CFG_DIR "yolov2-voc.cfg", NULL, 64, 1); /* seeded; batch norm, route, reorg */
    check_shared(CFG_DIR "vgg-16.cfg", NULL, 32, 1);     /* seeded; connected layers */
    if (access("models/fmnist-yolo.weights", R_OK) == 0)
        check_shared("models/fmnist-yolo.cfg", "models/fmnist-yolo.weights", 0, 1);
    if (access("models/fmnist-vgg.weights", R_OK) == 0)
        check_shared("models/fmnist-vgg.cfg", "models/fmnist-vgg.weights", 0, 1);
}

/* fr_model_detections against a direct decoding of tiny-det's region output
 * (darknet's get_region_box, objectness × class softmax, letterbox undone). */
static void test_detections_reference(void **state)
{
    (void)state;
    FrModel *m = open_model(DATA "tiny-det.cfg", DATA "tiny-det.weights", 0, 1);
    FrTensor rgb, in, out;
    FrError err = {0};
    if (fr_model_load_image(m, "/usr/share/darknet/data/dog.jpg", &rgb, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(rgb.c, 3);
    assert_int_equal(rgb.w, 768);
    assert_int_equal(rgb.h, 576);
    assert_int_equal(fr_model_prepare_input(m, &rgb, &in), 0);
    assert_int_equal(fr_model_forward(m, &in, &err), 0);
    assert_int_equal(fr_model_output(m, &out), 0);
    const int W = 768, H = 576, L = 8, N = 2, C = 3, netw = 32, neth = 32;
    const float bias[4] = {1.5f, 1.5f, 4, 3};
    const float thresh = FR_DETECT_THRESH;
    int new_w = netw, new_h = (H * netw) / W; /* 24: letterboxed */
    FrDetection *ref = calloc((size_t)L * L * N * C, sizeof *ref);
    int nref = 0;
    for (int n = 0; n < N; n++)
        for (int i = 0; i < L * L; i++) {
            int row = i / L, col = i % L;
            const float *e = out.data + (size_t)n * L * L * (4 + 1 + C) + i;
            float obj = e[4 * L * L];
            if (!(obj > thresh))
                continue;
            float bx = (col + e[0]) / L, by = (row + e[L * L]) / L;
            float bw = exp(e[2 * L * L]) * bias[2 * n] / L, bh = exp(e[3 * L * L]) * bias[2 * n + 1] / L;
            bx = (bx - (netw - new_w) / 2. / netw) / ((float)new_w / netw);
            by = (by - (neth - new_h) / 2. / neth) / ((float)new_h / neth);
            bw *= (float)netw / new_w;
            bh *= (float)neth / new_h;
            bx *= W;
            bw *= W;
            by *= H;
            bh *= H;
            for (int j = 0; j < C; j++) {
                float p = obj * e[(5 + j) * L * L];
                if (!(p > thresh))
                    continue;
                FrDetection *d = &ref[nref++];
                d->cls = j;
                d->score = p;
                d->x1 = fmaxf(bx - bw / 2, 0);
                d->y1 = fmaxf(by - bh / 2, 0);
                d->x2 = fminf(bx + bw / 2, W - 1);
                d->y2 = fminf(by + bh / 2, H - 1);
            }
        }
    FrDetection *det = NULL;
    int nd = -1;
    assert_int_equal(fr_model_detections(m, W, H, thresh, 0, &det, &nd), 0);
    assert_int_equal(nd, nref);
    assert_true(nd > 20);
    for (int k = 0; k < nd; k++) {
        assert_int_equal(det[k].cls, ref[k].cls);
        assert_float_equal(det[k].score, ref[k].score, 1e-6);
        assert_float_equal(det[k].x1, ref[k].x1, 1e-3);
        assert_float_equal(det[k].y1, ref[k].y1, 1e-3);
        assert_float_equal(det[k].x2, ref[k].x2, 1e-3);
        assert_float_equal(det[k].y2, ref[k].y2, 1e-3);
        assert_true(det[k].x1 <= det[k].x2 && det[k].y1 <= det[k].y2);
    }
    fr_detections_free(&det);
    assert_null(det);
    /* NMS keeps a subset, and never two same-class boxes overlapping > 0.45 */
    int nn = 0;
    assert_int_equal(fr_model_detections(m, W, H, thresh, FR_DETECT_NMS, &det, &nn), 0);
    assert_true(nn > 0 && nn < nd);
    fr_detections_free(&det);
    /* the output tensor is untouched by decoding */
    FrTensor out2;
    assert_int_equal(fr_model_output(m, &out2), 0);
    assert_memory_equal(out.data, out2.data, fr_tensor_size(&out) * 4);
    free(ref);
    fr_tensor_free(&out2);
    fr_tensor_free(&out);
    fr_tensor_free(&in);
    fr_tensor_free(&rgb);
    /* not a detector */
    FrModel *c = open_model(DATA "tiny-cls.cfg", NULL, 0, 1);
    assert_int_equal(fr_model_detections(c, W, H, thresh, 0, &det, &nd), FR_E_USAGE);
    fr_model_close(&c);
    fr_model_close(&m);
}

static void test_images(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir();
    char p[512];
    FrError err = {0};
    /* a 4×3 grayscale PGM: three equal channels of v/255 */
    snprintf(p, sizeof p, "%s/g.pgm", dir);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fprintf(f, "P5\n4 3\n255\n");
    for (int i = 0; i < 12; i++)
        fputc(i * 20, f);
    fclose(f);
    FrTensor g;
    assert_int_equal(fr_model_load_image(NULL, p, &g, &err), 0);
    assert_int_equal(g.c, 3);
    assert_int_equal(g.h, 3);
    assert_int_equal(g.w, 4);
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 12; i++)
            assert_float_equal(g.data[k * 12 + i], i * 20 / 255.0f, 1e-6);
    fr_tensor_free(&g);
    assert_int_equal(fr_model_load_image(NULL, "/nonexistent.jpg", &g, &err), FR_E_NOENT);
    snprintf(p, sizeof p, "%s/not.jpg", dir);
    tu_write(p, "this is not an image\n");
    int had_bad_list = access("bad.list", F_OK) == 0;
    assert_int_equal(fr_model_load_image(NULL, p, &g, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, p);
    /* darknet's own loader would have appended to ./bad.list */
    if (!had_bad_list)
        assert_int_not_equal(access("bad.list", F_OK), 0);

    /* letterbox: a 32×16 image into tiny-det's 32×32 input, grey bars */
    FrModel *det = open_model(DATA "tiny-det.cfg", NULL, 0, 1);
    FrTensor rgb, in;
    assert_int_equal(fr_tensor_alloc(&rgb, 3, 16, 32), 0);
    for (size_t i = 0; i < fr_tensor_size(&rgb); i++)
        rgb.data[i] = (float)(i % 32) / 40.0f;
    assert_int_equal(fr_model_prepare_input(det, &rgb, &in), 0);
    assert_int_equal(in.c, 3);
    assert_int_equal(in.h, 32);
    assert_int_equal(in.w, 32);
    for (int k = 0; k < 3; k++)
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++) {
                float v = in.data[(k * 32 + y) * 32 + x];
                float want = (y < 8 || y >= 24) ? 0.5f : (float)x / 40.0f;
                assert_float_equal(v, want, 1e-6);
            }
    fr_tensor_free(&in);
    /* classification: cover + centre crop of the same image into 16×16 */
    FrModel *cls = open_model(DATA "tiny-cls.cfg", NULL, 0, 1);
    assert_int_equal(fr_model_prepare_input(cls, &rgb, &in), 0);
    assert_int_equal(in.h, 16);
    assert_int_equal(in.w, 16);
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++)
            assert_float_equal(in.data[y * 16 + x], (float)(x + 8) / 40.0f, 1e-6);
    fr_tensor_free(&in);
    /* a mis-shaped input is refused, not read out of bounds */
    assert_int_equal(fr_model_forward(cls, &rgb, &err), FR_E_MISMATCH);
    tu_assert_contains(err.msg, "16×16");
    fr_tensor_free(&rgb);
    fr_model_close(&cls);
    fr_model_close(&det);
}

static void test_jpeg_anchor(void **state)
{
    (void)state;
    FrTensor rgb, d10, d95;
    assert_int_equal(fr_tensor_alloc(&rgb, 3, 48, 64), 0);
    for (int k = 0; k < 3; k++)
        for (int y = 0; y < 48; y++)
            for (int x = 0; x < 64; x++)
                rgb.data[(k * 48 + y) * 64 + x] = 0.5f + 0.4f * sinf(0.1f * x + 0.07f * y * (k + 1));
    size_t b10 = 0, b95 = 0;
    FrError err = {0};
    assert_int_equal(fr_image_jpeg_code(&rgb, 10, &b10, &d10, &err), 0);
    assert_int_equal(fr_image_jpeg_code(&rgb, 95, &b95, &d95, &err), 0);
    assert_true(b10 > 100 && b10 < b95);
    assert_int_equal(d95.c, 3);
    assert_int_equal(d95.h, 48);
    assert_int_equal(d95.w, 64);
    double se10 = 0, se95 = 0;
    for (size_t i = 0; i < fr_tensor_size(&rgb); i++) {
        se10 += pow(d10.data[i] - rgb.data[i], 2);
        se95 += pow(d95.data[i] - rgb.data[i], 2);
    }
    double psnr95 = 10 * log10(1.0 / (se95 / fr_tensor_size(&rgb)));
    assert_true(psnr95 > 35);
    assert_true(se10 > 4 * se95);
    assert_int_equal(fr_image_jpeg_code(&rgb, 0, &b10, &d10, &err), FR_E_USAGE);
    fr_tensor_free(&d10);
    fr_tensor_free(&d95);
    fr_tensor_free(&rgb);
}

typedef struct Job {
    FrGemm gemm;
    int split;
    FrTensor out;
    int rc;
} Job;

static void *job_run(void *arg)
{
    Job *j = arg;
    FrModelSettings s;
    fr_model_defaults(&s);
    s.cfg = DATA "tiny-det.cfg";
    s.weights = DATA "tiny-det.weights";
    s.quiet = 1;
    s.gemm = j->gemm;
    FrModel *m = NULL;
    j->rc = fr_model_open(&m, &s, NULL);
    if (j->rc)
        return NULL;
    FrTensor in, cuts[FR_MODEL_MAX_CUTS];
    int nc;
    make_input(m, &in, 4);
    for (int r = 0; r < 20 && !j->rc; r++) {
        j->rc |= fr_model_front(m, &in, j->split, cuts, &nc, NULL);
        j->rc |= fr_model_back(m, j->split, cuts, nc, NULL);
        for (int k = 0; k < nc; k++)
            fr_tensor_free(&cuts[k]);
    }
    fr_model_output(m, &j->out);
    fr_tensor_free(&in);
    fr_model_close(&m);
    return NULL;
}

/* One model per thread, different GEMMs at once: each equals its
 * single-thread result bit for bit. */
static void test_threads(void **state)
{
    (void)state;
    Job ref[2] = {{FR_GEMM_OPENBLAS, 4, {0}, 0}, {FR_GEMM_DARKNET, 6, {0}, 0}};
    job_run(&ref[0]);
    job_run(&ref[1]);
    assert_int_equal(ref[0].rc, 0);
    assert_int_equal(ref[1].rc, 0);
    Job jobs[4];
    pthread_t th[4];
    for (int k = 0; k < 4; k++) {
        jobs[k] = ref[k % 2];
        memset(&jobs[k].out, 0, sizeof jobs[k].out);
        assert_int_equal(pthread_create(&th[k], NULL, job_run, &jobs[k]), 0);
    }
    for (int k = 0; k < 4; k++) {
        pthread_join(th[k], NULL);
        assert_int_equal(jobs[k].rc, 0);
        assert_memory_equal(jobs[k].out.data, ref[k % 2].out.data, fr_tensor_size(&ref[0].out) * 4);
        fr_tensor_free(&jobs[k].out);
    }
    fr_tensor_free(&ref[0].out);
    fr_tensor_free(&ref[1].out);
}

static void test_cli_layers(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(tu_sh(&out, "%s layers " DATA "tiny-det.cfg --weights " DATA "tiny-det.weights", tu_bin()), 0);
    tu_assert_contains(out, "route_6");
    tu_assert_contains(out, "8x8x80");
    tu_assert_contains(out, "conv_2+max_3+conv_4 (24576 bytes");
    free(out);
    assert_int_equal(tu_sh(&out, "%s layers " DATA "tiny-cls.cfg --input 32x32", tu_bin()), 0);
    tu_assert_contains(out, "pool2");
    tu_assert_contains(out, "8x8x16"); /* pool2 at 32×32 input */
    tu_assert_contains(out, "convK");  /* the alias rule is printed */
    free(out);
    assert_int_equal(tu_sh(&out, "%s layers --help", tu_bin()), 0);
    tu_assert_contains(out, "usage: featrd layers");
    free(out);
    /* an experiment YAML stands for its model (cfg, weights, input size):
     * the same table as the cfg and weights given by hand */
    char *byhand = NULL;
    const char *yaml = tu_tmpdir();
    char yp[600];
    snprintf(yp, sizeof yp, "%s/exp.yaml", yaml);
    tu_write(yp, "name: t\nmodel:\n  cfg: " DATA "tiny-cls.cfg\n  input: 32x32\n"
                 "dataset:\n  images: " DATA "tiny-cls.cfg\nsweep:\n  split: [pool1]\n");
    assert_int_equal(tu_sh(&out, "%s layers '%s'", tu_bin(), yp), 0);
    assert_int_equal(tu_sh(&byhand, "%s layers " DATA "tiny-cls.cfg --input 32x32", tu_bin()), 0);
    assert_string_equal(out, byhand);
    free(out);
    free(byhand);
    assert_int_equal(tu_sh(&out, "%s layers /nonexistent/x.cfg", tu_bin()), 2);
    tu_assert_contains(out, "/nonexistent/x.cfg");
    free(out);
    assert_int_equal(tu_sh(&out, "%s layers " DATA "tiny-det.cfg --weights " DATA "tiny-cls.weights", tu_bin()), 2);
    tu_assert_contains(out, "tiny-cls.weights");
    free(out);
    assert_int_equal(tu_sh(&out, "%s layers " DATA "tiny-det.cfg --weights /nonexistent.weights", tu_bin()), 2);
    free(out);
    assert_int_equal(tu_sh(&out, "%s layers " DATA "tiny-det.cfg --input 32", tu_bin()), 2);
    tu_assert_contains(out, "WxH");
    free(out);
    assert_int_equal(tu_sh(&out, "%s layers", tu_bin()), 2);
    free(out);
    assert_int_equal(tu_sh(&out, "%s layers " DATA "tiny-det.cfg --split shortcut_5", tu_bin()), 0);
    tu_assert_contains(out, "cut set after shortcut_5: 2 tensors, 20480 bytes");
    free(out);
    assert_int_equal(tu_sh(&out, "%s layers " DATA "tiny-cls.cfg --split pool9", tu_bin()), 2);
    tu_assert_contains(out, "no layer named 'pool9'");
    tu_assert_contains(out, "pool1");
    free(out);
    assert_int_equal(tu_sh(&out, "%s layers " DATA "tiny-cls.cfg --split softmax_7", tu_bin()), 2);
    tu_assert_contains(out, "no back half");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_cut_sets),
        cmocka_unit_test(test_shapes_yolo9000_544),
        cmocka_unit_test(test_aliases_table1),
        cmocka_unit_test(test_splits_tiny_shipped),
        cmocka_unit_test(test_splits_yolo9000),
        cmocka_unit_test(test_splits_yolov2_voc),
        cmocka_unit_test(test_splits_yolov2_tiny_voc),
        cmocka_unit_test(test_splits_yolov3_tiny),
        cmocka_unit_test(test_splits_vgg16),
        cmocka_unit_test(test_splits_darknet19),
        cmocka_unit_test(test_splits_resnet50),
        cmocka_unit_test(test_gemm_openblas_vs_darknet),
        cmocka_unit_test(test_weights_errors),
        cmocka_unit_test(test_cfg_errors),
        cmocka_unit_test(test_hostile_cfgs),
        cmocka_unit_test(test_hostile_image),
        cmocka_unit_test(test_weights_round_trip),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_forward_cuts),
        cmocka_unit_test(test_shared_weights),
        cmocka_unit_test(test_detections_reference),
        cmocka_unit_test(test_images),
        cmocka_unit_test(test_jpeg_anchor),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_cli_layers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
