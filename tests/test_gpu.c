/* test_gpu.c: model.device gpu (issue #20), in both builds.
 * - Everywhere: model.device parses, dumps and hashes (a config that does
 *   not set it keeps the hash it had before the key existed); fr_gpu_compiled
 *   says which build this is; fr_model_open, featrd run/layers/train with
 *   device gpu either work or fail with exit status 2 and the message of the
 *   build (no GPU support compiled in) or of the machine (no CUDA device), and
 *   write nothing to output.dir; featrd version says which.
 * - GPU build on a machine with a device: the CUDA forward against the CPU
 *   one (same weights), front + back with untouched cuts against the full
 *   GPU forward (one- and two-tensor cuts), a perturbed cut reaching the
 *   output (the push), detections, four threads sharing the GPU, a
 *   featrd run whose manifest records the GPU and whose points match the
 *   CPU's, and a few GPU training batches. Without a device these print
 *   "no GPU: skipped" and skip.
 * - GPU build on any machine: its device cpu gives bin/featrd's points.csv
 *   exactly (the CUDA libdarknet's CPU path). */
#include "testutil.h"
#include "config/config.h"
#include "config/task.h"
#include "demo/demo.h"
#include "model/model.h"
#include "util/csv.h"

#include <math.h>
#include <pthread.h>

#define DATA "tests/data/model/"

/* The hash of this config before model.device existed (computed with the
 * previous commit's library): configs that do not set the key keep it. */
#define BASE_YAML                                                  \
    "name: h\nmodel: {cfg: /nonexistent/det.cfg, seed: 7%s}\n"     \
    "dataset: {images: /nonexistent/det.list}\n"                   \
    "sweep: {split: [max_1], bits: [8], codec: [hevc], qp: [30]}\n"
#define BASE_HASH 0xcc6b726930f70cc9ull

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("%s: cannot open", path);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strdup(buf);
}

static FrExperiment *load_yaml(const char *extra, int *rc, FrError *err)
{
    char y[1024];
    snprintf(y, sizeof y, BASE_YAML, extra);
    FrExperiment *e = NULL;
    *rc = fr_config_load_string(y, "gpu.yaml", NULL, 0, &e, err);
    return e;
}

static void test_config_device(void **state)
{
    (void)state;
    FrError err = {0};
    int rc;
    FrExperiment *e = load_yaml("", &rc, &err);
    assert_int_equal(rc, 0);
    assert_int_equal(e->model.device, FR_DEVICE_CPU);
    assert_true(fr_experiment_hash(e) == BASE_HASH);
    char *d = fr_experiment_dump_string(e);
    assert_null(strstr(d, "device"));
    free(d);
    fr_experiment_free(&e);

    e = load_yaml(", device: cpu", &rc, &err);
    assert_int_equal(rc, 0);
    assert_true(fr_experiment_hash(e) == BASE_HASH);
    fr_experiment_free(&e);

    e = load_yaml(", device: gpu", &rc, &err);
    assert_int_equal(rc, 0);
    assert_int_equal(e->model.device, FR_DEVICE_GPU);
    assert_true(fr_experiment_hash(e) != BASE_HASH); /* GPU results differ: never mixed */
    d = fr_experiment_dump_string(e);
    tu_assert_contains(d, "  device: gpu\n");
    /* the dump loads back to the same config */
    FrExperiment *f = NULL;
    assert_int_equal(fr_config_load_string(d, "dump.yaml", NULL, 0, &f, &err), 0);
    assert_int_equal(f->model.device, FR_DEVICE_GPU);
    assert_true(fr_experiment_hash(f) == fr_experiment_hash(e));
    fr_experiment_free(&f);
    free(d);
    fr_experiment_free(&e);

    /* -o model.device=gpu is the same as the key */
    const char *ov[] = {"model.device=gpu"};
    char y[1024];
    snprintf(y, sizeof y, BASE_YAML, "");
    assert_int_equal(fr_config_load_string(y, "gpu.yaml", ov, 1, &e, &err), 0);
    assert_int_equal(e->model.device, FR_DEVICE_GPU);
    fr_experiment_free(&e);

    e = load_yaml(", device: tpu", &rc, &err);
    assert_int_equal(rc, FR_E_CONFIG);
    assert_null(e);
    tu_assert_contains(err.msg, "model.device");
    tu_assert_contains(err.msg, "gpu");
    assert_string_equal(fr_device_name(FR_DEVICE_GPU), "gpu");
    assert_string_equal(fr_device_name(FR_DEVICE_CPU), "cpu");
    assert_null(fr_device_name((FrDevice)7));
}

static void test_compiled(void **state)
{
    (void)state;
    char buf[1024];
    fr_gpu_describe(buf, sizeof buf, "  ");
#ifdef GPU
    assert_int_equal(fr_gpu_compiled(), 1);
    tu_assert_contains(buf, "  compiled: yes");
    tu_assert_contains(buf, "  cuda_runtime: ");
    tu_assert_contains(buf, "  cuda_driver: ");
    tu_assert_contains(buf, "  device: ");
#else
    assert_int_equal(fr_gpu_compiled(), 0);
    tu_assert_contains(buf, "  compiled: no");
    tu_assert_contains(buf, "make darknet-gpu && make GPU=1");
#endif
}

/* 1 when device gpu can be used here; else prints why and returns 0. */
static int have_gpu(void)
{
    FrError err = {0};
    if (fr_gpu_check(&err) == FR_OK)
        return 1;
    print_message("no GPU: skipped (%s)\n", err.msg);
    return 0;
}

/* The error a GPU model gives where it cannot run, for this build. */
static void assert_gpu_message(const char *msg)
{
#ifdef GPU
    tu_assert_contains(msg, "no CUDA device on this machine");
    tu_assert_contains(msg, "cudaGetDeviceCount");
#else
    tu_assert_contains(msg, "built without GPU support");
    tu_assert_contains(msg, "make darknet-gpu && make GPU=1");
#endif
    tu_assert_contains(msg, "--device cpu");
}

static FrModel *open_dev(const char *cfg, const char *weights, FrDevice dev)
{
    FrModelSettings s;
    fr_model_defaults(&s);
    s.cfg = cfg;
    s.weights = weights;
    s.quiet = 1;
    s.device = dev;
    FrModel *m = NULL;
    FrError err = {0};
    int rc = fr_model_open(&m, &s, &err);
    if (rc != FR_OK)
        fail_msg("open %s on %s: %s", cfg, fr_device_name(dev), err.msg);
    return m;
}

static void test_open_refused(void **state)
{
    (void)state;
    FrError err = {0};
    int rc = fr_gpu_check(&err);
#ifndef GPU
    assert_int_equal(rc, FR_E_USAGE);
#endif
    if (rc == FR_OK) {
        print_message("a GPU is here: the refusal cannot be checked\n");
        return;
    }
    assert_int_equal(rc, FR_E_USAGE);
    assert_int_equal(fr_exit_status(rc), 2);
    assert_gpu_message(err.msg);
    FrModelSettings s;
    fr_model_defaults(&s);
    s.cfg = DATA "tiny-det.cfg";
    s.quiet = 1;
    s.device = FR_DEVICE_GPU;
    FrModel *m = (FrModel *)&s; /* must come back NULL */
    FrError e2 = {0};
    assert_int_equal(fr_model_open(&m, &s, &e2), FR_E_USAGE);
    assert_null(m);
    assert_gpu_message(e2.msg);
    /* device cpu is unaffected in either build */
    m = open_dev(DATA "tiny-det.cfg", DATA "tiny-det.weights", FR_DEVICE_CPU);
    fr_model_close(&m);
}

/* featrd run / layers / train with --device gpu and model.device: gpu. */
static void test_cli_refused(void **state)
{
    (void)state;
    if (access(tu_bin(), X_OK) != 0) {
        print_message("no %s: CLI check skipped\n", tu_bin());
        return;
    }
    char *out = NULL;
    int rc;
    /* bad values first: they fail the same way in every build */
    rc = tu_sh(&out, "'%s' layers " DATA "tiny-det.cfg --device tpu", tu_bin());
    assert_int_equal(rc, 2);
    tu_assert_contains(out, "--device tpu: expected cpu or gpu");
    free(out);

    FrError err = {0};
    if (fr_gpu_check(&err) == FR_OK) {
        print_message("a GPU is here: the refusals cannot be checked\n");
        return;
    }
    const char *dir = tu_tmpdir();
    char cfg[512], list[512], res[512];
    snprintf(list, sizeof list, "%s/im.list", dir);
    tu_write(list, "/nonexistent/a.png\n");
    snprintf(cfg, sizeof cfg, "%s/g.yaml", dir);
    char y[1024];
    snprintf(y, sizeof y, "name: g\nmodel: {cfg: \"%s/" DATA "tiny-det.cfg\"}\n"
             "dataset: {images: \"%s\"}\nsweep: {split: [max_1], bits: [8], codec: [zlib]}\n"
             "output: {plots: false}\n", getcwd(NULL, 0), list);
    tu_write(cfg, y);
    snprintf(res, sizeof res, "%s/res", dir);

    rc = tu_sh(&out, "'%s' run '%s' --device gpu -o output.dir='%s' --quiet", tu_bin(), cfg, res);
    assert_int_equal(rc, 2);
    tu_assert_contains(out, "featrd run: device gpu: ");
    assert_gpu_message(out);
    free(out);
    struct stat st;
    assert_int_not_equal(stat(res, &st), 0); /* nothing written to output.dir */

    rc = tu_sh(&out, "'%s' run '%s' -o model.device=gpu -o output.dir='%s' --quiet", tu_bin(), cfg, res);
    assert_int_equal(rc, 2);
    assert_gpu_message(out);
    free(out);

    rc = tu_sh(&out, "'%s' layers " DATA "tiny-det.cfg --device gpu", tu_bin());
    assert_int_equal(rc, 2);
    tu_assert_contains(out, "featrd layers: device gpu: ");
    assert_gpu_message(out);
    free(out);

    /* a config's device is taken by featrd layers CONFIG.yaml ... */
    snprintf(y, sizeof y, "%s/g2.yaml", dir);
    char text[1024];
    snprintf(text, sizeof text, "name: g\nmodel: {cfg: \"%s/" DATA "tiny-det.cfg\", device: gpu}\n"
             "dataset: {images: \"%s\"}\nsweep: {split: [max_1], bits: [8], codec: [zlib]}\n",
             getcwd(NULL, 0), list);
    tu_write(y, text);
    rc = tu_sh(&out, "'%s' layers '%s'", tu_bin(), y);
    assert_int_equal(rc, 2);
    assert_gpu_message(out);
    free(out);
    /* ... and --device cpu wins over it */
    rc = tu_sh(&out, "'%s' layers '%s' --device cpu", tu_bin(), y);
    assert_int_equal(rc, 0);
    tu_assert_contains(out, "max_1");
    free(out);

    rc = tu_sh(&out, "'%s' features '%s' --split max_1 --out '%s/f' --device gpu", tu_bin(), cfg, dir);
    assert_int_equal(rc, 2);
    tu_assert_contains(out, "featrd features: device gpu: ");
    assert_gpu_message(out);
    free(out);

    rc = tu_sh(&out, "'%s' train detector --cfg " DATA "tiny-det.cfg --list '%s' --out '%s/t' --device gpu",
               tu_bin(), list, dir);
    assert_int_equal(rc, 2);
    tu_assert_contains(out, "featrd train: device gpu: ");
    assert_gpu_message(out);
    free(out);

    rc = tu_sh(&out, "'%s' version", tu_bin());
    assert_int_equal(rc, 0);
#ifdef GPU
    tu_assert_contains(out, "gpu:\n  compiled: yes");
    tu_assert_contains(out, "  device: none (cudaGetDeviceCount: ");
#else
    tu_assert_contains(out, "gpu:\n  compiled: no");
#endif
    free(out);
}

/* ------------------------------------------------ with a GPU only -- */

static void make_input(FrModel *m, FrTensor *in, unsigned salt)
{
    int c, h, w;
    fr_model_input_size(m, &c, &h, &w);
    assert_int_equal(fr_tensor_alloc(in, c, h, w), 0);
    for (size_t i = 0; i < fr_tensor_size(in); i++) {
        unsigned v = (unsigned)(i * 2654435761u + salt * 40503u);
        in->data[i] = 0.5f + 0.4f * sinf(0.01f * (float)i + (float)salt) * ((float)(v >> 28) / 15.0f);
    }
}

/* max |a-b| / (max |a| + 1e-6) */
static double rel_diff(const FrTensor *a, const FrTensor *b)
{
    assert_int_equal(fr_tensor_size(a), fr_tensor_size(b));
    double d = 0, m = 0;
    for (size_t i = 0; i < fr_tensor_size(a); i++) {
        assert_true(isfinite(a->data[i]) && isfinite(b->data[i]));
        d = fmax(d, fabs((double)a->data[i] - b->data[i]));
        m = fmax(m, fabs((double)a->data[i]));
    }
    return d / (m + 1e-6);
}

/* GPU forward vs CPU forward, GPU front+back vs GPU forward at every split. */
static void gpu_vs_cpu(const char *cfg, const char *weights)
{
    FrModel *c = open_dev(cfg, weights, FR_DEVICE_CPU), *g = open_dev(cfg, weights, FR_DEVICE_GPU);
    FrTensor in, oc, og;
    FrError err = {0};
    make_input(c, &in, 5);
    assert_int_equal(fr_model_forward(c, &in, &err), 0);
    assert_int_equal(fr_model_forward(g, &in, &err), 0);
    assert_int_equal(fr_model_output(c, &oc), 0);
    assert_int_equal(fr_model_output(g, &og), 0);
    double r = rel_diff(&oc, &og);
    print_message("%s: GPU vs CPU output, max relative difference %.3g\n", cfg, r);
    assert_true(r < 1e-3);
    int n = fr_model_layer_count(g), idx[FR_MODEL_MAX_CUTS], nc;
    for (int s = 0; s < n; s++) {
        if (fr_model_cut_set(g, s, idx, FR_MODEL_MAX_CUTS, &nc) != FR_OK)
            continue;
        FrTensor cuts[FR_MODEL_MAX_CUTS], ccuts[FR_MODEL_MAX_CUTS], ob;
        int k = 0, kc = 0;
        assert_int_equal(fr_model_front(g, &in, s, cuts, &k, &err), 0);
        assert_int_equal(fr_model_front(c, &in, s, ccuts, &kc, &err), 0);
        assert_int_equal(k, kc);
        for (int j = 0; j < k; j++) /* the pulled cut is the device's tensor */
            assert_true(rel_diff(&ccuts[j], &cuts[j]) < 1e-3);
        assert_int_equal(fr_model_back(g, s, cuts, k, &err), 0);
        assert_int_equal(fr_model_output(g, &ob), 0);
        assert_true(rel_diff(&og, &ob) < 1e-5);
        fr_tensor_free(&ob);
        /* a perturbed cut must reach the output: it was pushed */
        for (size_t i = 0; i < fr_tensor_size(&cuts[0]); i++)
            cuts[0].data[i] = cuts[0].data[i] * 0.5f + 0.3f;
        assert_int_equal(fr_model_back(g, s, cuts, k, &err), 0);
        assert_int_equal(fr_model_output(g, &ob), 0);
        assert_true(rel_diff(&og, &ob) > 1e-4);
        fr_tensor_free(&ob);
        for (int j = 0; j < k; j++) {
            fr_tensor_free(&cuts[j]);
            fr_tensor_free(&ccuts[j]);
        }
    }
    fr_tensor_free(&in);
    fr_tensor_free(&oc);
    fr_tensor_free(&og);
    fr_model_close(&c);
    fr_model_close(&g);
}

static void test_gpu_forward_and_splits(void **state)
{
    (void)state;
    if (!have_gpu())
        skip();
    gpu_vs_cpu(DATA "tiny-det.cfg", DATA "tiny-det.weights");
    gpu_vs_cpu(DATA "tiny-cls.cfg", DATA "tiny-cls.weights");
    gpu_vs_cpu("tests/data/run/cls.cfg", NULL); /* seeded init: pushed to the device */
}

/* yolov2-voc at 128x128, split at 20: two tensors cross the cut (conv_16
 * for route 25), both pulled, both pushed. */
static void test_gpu_multi_tensor_cut(void **state)
{
    (void)state;
    if (!have_gpu())
        skip();
    FrModelSettings s;
    fr_model_defaults(&s);
    s.cfg = "/usr/share/darknet/cfg/yolov2-voc.cfg";
    s.width = s.height = 128;
    s.quiet = 1;
    FrModel *c = NULL, *g = NULL;
    FrError err = {0};
    assert_int_equal(fr_model_open(&c, &s, &err), 0);
    s.device = FR_DEVICE_GPU;
    assert_int_equal(fr_model_open(&g, &s, &err), 0);
    FrTensor in, cuts[FR_MODEL_MAX_CUTS], ccuts[FR_MODEL_MAX_CUTS], og, oc;
    int k = 0, kc = 0;
    make_input(g, &in, 9);
    assert_int_equal(fr_model_front(g, &in, 20, cuts, &k, &err), 0);
    assert_int_equal(k, 2);
    assert_int_equal(fr_model_front(c, &in, 20, ccuts, &kc, &err), 0);
    for (int j = 0; j < k; j++)
        assert_true(rel_diff(&ccuts[j], &cuts[j]) < 1e-3);
    /* the CPU's cuts decoded on the GPU give the CPU's output (to float noise) */
    assert_int_equal(fr_model_back(g, 20, ccuts, kc, &err), 0);
    assert_int_equal(fr_model_back(c, 20, ccuts, kc, &err), 0);
    assert_int_equal(fr_model_output(g, &og), 0);
    assert_int_equal(fr_model_output(c, &oc), 0);
    assert_true(rel_diff(&oc, &og) < 1e-3);
    fr_tensor_free(&og);
    /* the second tensor alone, changed, reaches the output */
    for (size_t i = 0; i < fr_tensor_size(&ccuts[0]); i++)
        ccuts[0].data[i] += 0.25f;
    assert_int_equal(fr_model_back(g, 20, ccuts, kc, &err), 0);
    assert_int_equal(fr_model_output(g, &og), 0);
    assert_true(rel_diff(&oc, &og) > 1e-4);
    for (int j = 0; j < k; j++) {
        fr_tensor_free(&cuts[j]);
        fr_tensor_free(&ccuts[j]);
    }
    fr_tensor_free(&og);
    fr_tensor_free(&oc);
    fr_tensor_free(&in);
    fr_model_close(&c);
    fr_model_close(&g);
}

static void test_gpu_detections(void **state)
{
    (void)state;
    if (!have_gpu())
        skip();
    FrModel *c = open_dev(DATA "tiny-det.cfg", DATA "tiny-det.weights", FR_DEVICE_CPU);
    FrModel *g = open_dev(DATA "tiny-det.cfg", DATA "tiny-det.weights", FR_DEVICE_GPU);
    FrTensor in;
    FrError err = {0};
    make_input(c, &in, 11);
    assert_int_equal(fr_model_forward(c, &in, &err), 0);
    assert_int_equal(fr_model_forward(g, &in, &err), 0);
    FrDetection *dc = NULL, *dg = NULL;
    int nc = 0, ng = 0;
    assert_int_equal(fr_model_detections(c, 100, 80, 0.005f, 0.45f, &dc, &nc), 0);
    assert_int_equal(fr_model_detections(g, 100, 80, 0.005f, 0.45f, &dg, &ng), 0);
    print_message("detections: CPU %d, GPU %d\n", nc, ng);
    assert_true(nc > 0);
    /* boxes near the threshold may come and go with float noise; every
     * other CPU box has a GPU twin: same class, corners within 1 pixel of
     * the 100x80 image, score within 1e-3 */
    assert_true(abs(nc - ng) <= 1 + nc / 50);
    int matched = 0;
    for (int i = 0; i < nc; i++)
        for (int j = 0; j < ng; j++) {
            float d = fmaxf(fmaxf(fabsf(dc[i].x1 - dg[j].x1), fabsf(dc[i].y1 - dg[j].y1)),
                            fmaxf(fabsf(dc[i].x2 - dg[j].x2), fabsf(dc[i].y2 - dg[j].y2)));
            if (dc[i].cls == dg[j].cls && d < 1.0f && fabsf(dc[i].score - dg[j].score) < 1e-3f) {
                matched++;
                break;
            }
        }
    print_message("%d of %d CPU boxes have a GPU twin\n", matched, nc);
    assert_true(matched >= nc - 1 - nc / 50);
    fr_detections_free(&dc);
    fr_detections_free(&dg);
    fr_tensor_free(&in);
    fr_model_close(&c);
    fr_model_close(&g);
}

typedef struct {
    FrModel *m;
    FrTensor in, out;
    int rc;
} ThreadArg;

static void *thread_main(void *p)
{
    ThreadArg *a = p;
    FrError err = {0};
    for (int r = 0; r < 20 && !a->rc; r++) {
        FrTensor cuts[FR_MODEL_MAX_CUTS];
        int k = 0;
        a->rc = fr_model_front(a->m, &a->in, 3, cuts, &k, &err);
        if (!a->rc)
            a->rc = fr_model_back(a->m, 3, cuts, k, &err);
        for (int j = 0; j < k; j++)
            fr_tensor_free(&cuts[j]);
    }
    if (!a->rc)
        a->rc = fr_model_output(a->m, &a->out);
    return NULL;
}

/* Four workers, four GPU models, one device: the same outputs as one at a time. */
static void test_gpu_threads(void **state)
{
    (void)state;
    if (!have_gpu())
        skip();
    ThreadArg a[4];
    pthread_t th[4];
    for (int t = 0; t < 4; t++) {
        memset(&a[t], 0, sizeof a[t]);
        a[t].m = open_dev(DATA "tiny-det.cfg", DATA "tiny-det.weights", FR_DEVICE_GPU);
        make_input(a[t].m, &a[t].in, (unsigned)t);
        assert_int_equal(pthread_create(&th[t], NULL, thread_main, &a[t]), 0);
    }
    for (int t = 0; t < 4; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < 4; t++) {
        assert_int_equal(a[t].rc, 0);
        FrTensor ref;
        FrError err = {0};
        assert_int_equal(fr_model_forward(a[t].m, &a[t].in, &err), 0);
        assert_int_equal(fr_model_output(a[t].m, &ref), 0);
        assert_true(rel_diff(&ref, &a[t].out) < 1e-5);
        fr_tensor_free(&ref);
        fr_tensor_free(&a[t].out);
        fr_tensor_free(&a[t].in);
        fr_model_close(&a[t].m);
    }
}

/* A small detector sweep (the runner tests' tiny net, four images, HEVC and
 * zlib) in a fresh directory; returns the config's path. */
static const char *write_sweep(void)
{
    const char *dir = tu_tmpdir();
    static char cfg[512];
    char p[512], list[512], l[4096] = "";
    snprintf(p, sizeof p, "%s/images", dir);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/labels", dir);
    mkdir(p, 0777);
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/images/im%d.ppm", dir, i);
        FILE *f = fopen(p, "wb");
        assert_non_null(f);
        fprintf(f, "P6\n40 36\n255\n");
        for (int k = 0; k < 40 * 36 * 3; k++)
            fputc((k * 7 + i * 31 + (k / 120) * 3) & 255, f);
        fclose(f);
        snprintf(p, sizeof p, "%s/labels/im%d.txt", dir, i);
        tu_write(p, "1 0.5 0.4 0.4 0.5\n");
        snprintf(l + strlen(l), sizeof l - strlen(l), "%s/images/im%d.ppm\n", dir, i);
    }
    snprintf(list, sizeof list, "%s/det.list", dir);
    tu_write(list, l);
    char y[2048], *cwd = getcwd(NULL, 0);
    snprintf(cfg, sizeof cfg, "%s/g.yaml", dir);
    snprintf(y, sizeof y, "name: g\nmodel: {cfg: \"%s/tests/data/run/det.cfg\", seed: 7}\n"
             "dataset: {images: \"%s\"}\n"
             "sweep: {split: [max_1, max_3], bits: [8], codec: [hevc, zlib], qp: [22, 37]}\n"
             "output: {plots: false}\n", cwd, list);
    free(cwd);
    tu_write(cfg, y);
    return cfg;
}

/* featrd run (BIN) of cfg into out with extra arguments, which must succeed. */
static void run_sweep(const char *bin, const char *cfg, const char *out, const char *args)
{
    char *o = NULL;
    int rc = tu_sh(&o, "'%s' run '%s' %s -o output.dir='%s' --quiet", bin, cfg, args, out);
    if (rc != 0)
        fail_msg("%s run %s: exit %d: %s", bin, args, rc, o);
    free(o);
}

/* Two points.csv: the same rows; columns ending in _s (timings) left out;
 * numbers within rel·max(|a|,|b|) + abs (both 0: the same text). */
static void assert_points(const char *a, const char *b, double rel, double abs_tol)
{
    FrCsv *x = NULL, *y = NULL;
    FrError err = {0};
    if (fr_csv_read(a, &x, &err) || fr_csv_read(b, &y, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(fr_csv_ncols(x), fr_csv_ncols(y));
    assert_int_equal(fr_csv_nrows(x), fr_csv_nrows(y));
    assert_true(fr_csv_nrows(x) > 0);
    for (int c = 0; c < fr_csv_ncols(x); c++) {
        const char *name = fr_csv_colname(x, c);
        size_t l = strlen(name);
        if (l > 2 && !strcmp(name + l - 2, "_s"))
            continue;
        for (size_t r = 0; r < fr_csv_nrows(x); r++) {
            const char *u = fr_csv_get(x, r, c), *v = fr_csv_get(y, r, c);
            if (!strcmp(u, v))
                continue;
            char *e1, *e2;
            double du = strtod(u, &e1), dv = strtod(v, &e2);
            if ((rel > 0 || abs_tol > 0) && !*e1 && !*e2 && *u && *v &&
                fabs(du - dv) <= rel * fmax(fabs(du), fabs(dv)) + abs_tol)
                continue;
            fail_msg("%s vs %s: row %zu column %s: '%s' != '%s'", a, b, r, name, u, v);
        }
    }
    fr_csv_destroy(&x);
    fr_csv_destroy(&y);
}

/* The GPU build running device cpu gives the CPU build's points exactly
 * (patches 0002 and 0004: no device buffers, the CPU layers' activations).
 * Runs on any machine with both binaries; the CPU one is bin/featrd. */
static void test_gpu_build_cpu_points(void **state)
{
    (void)state;
#ifndef GPU
    print_message("the CPU build: nothing to compare\n");
#else
    if (access(tu_bin(), X_OK) != 0 || access("bin/featrd", X_OK) != 0) {
        print_message("no %s or bin/featrd: skipped\n", tu_bin());
        skip();
    }
    const char *cfg = write_sweep();
    char a[600], b[600];
    snprintf(a, sizeof a, "%s.gpubuild", cfg);
    snprintf(b, sizeof b, "%s.cpubuild", cfg);
    run_sweep(tu_bin(), cfg, a, "--device cpu");
    run_sweep("bin/featrd", cfg, b, "");
    strcat(a, "/points.csv");
    strcat(b, "/points.csv");
    assert_points(a, b, 0, 0);
#endif
}

/* The same sweep on the GPU and on the CPU: the manifest records the GPU
 * (the CPU's does not); the points agree to float noise. */
static void test_gpu_run(void **state)
{
    (void)state;
    if (!have_gpu())
        skip();
    if (access(tu_bin(), X_OK) != 0)
        skip();
    const char *cfg = write_sweep();
    char g[600], c[600], p[700];
    snprintf(g, sizeof g, "%s.gpu", cfg);
    snprintf(c, sizeof c, "%s.cpu", cfg);
    run_sweep(tu_bin(), cfg, g, "--device gpu --jobs 2");
    run_sweep(tu_bin(), cfg, c, "");
    snprintf(p, sizeof p, "%s/manifest.yaml", g);
    char *man = read_text(p);
    tu_assert_contains(man, "device: gpu\ngpu:\n  compiled: yes");
    tu_assert_contains(man, "  cuda_driver: ");
    tu_assert_contains(man, "  device: \"");
    free(man);
    snprintf(p, sizeof p, "%s/manifest.yaml", c);
    man = read_text(p);
    assert_null(strstr(man, "device: gpu"));
    assert_null(strstr(man, "cuda_driver"));
    free(man);
    /* a CPU run's directory refuses the GPU config (the device is in the hash) */
    char *o = NULL;
    assert_int_equal(tu_sh(&o, "'%s' run '%s' --device gpu -o output.dir='%s' --quiet", tu_bin(), cfg, c), 2);
    tu_assert_contains(o, "holds results of a different config");
    tu_assert_contains(o, "changed: model.device");
    free(o);
    snprintf(p, sizeof p, "%s/points.csv", g);
    strcat(c, "/points.csv");
    /* bits can move by a quantization step, mAP by a box near the threshold */
    assert_points(p, c, 0.05, 0.02);
}

/* A few batches of darknet's GPU training loop; the weights come back. */
static void test_gpu_train(void **state)
{
    (void)state;
    if (!have_gpu())
        skip();
    const char *dir = tu_tmpdir();
    char p[512], list[512], labels[512], l[8192] = "";
    for (int i = 0; i < 8; i++) {
        snprintf(p, sizeof p, "%s/%s_%d.png", dir, i % 2 ? "odd" : "even", i);
        uint8_t pix[16 * 16 * 3];
        for (int k = 0; k < 16 * 16 * 3; k++)
            pix[k] = (uint8_t)((k * (i % 2 ? 13 : 5) + i) & 255);
        FrError err = {0};
        assert_int_equal(fr_model_write_png(p, pix, 16, 16, 3, &err), 0);
        snprintf(l + strlen(l), sizeof l - strlen(l), "%s\n", p);
    }
    snprintf(list, sizeof list, "%s/train.list", dir);
    tu_write(list, l);
    snprintf(labels, sizeof labels, "%s/labels.txt", dir);
    tu_write(labels, "even\nodd\n");
    snprintf(p, sizeof p, "%s/c.cfg", dir);
    tu_write(p, "[net]\nbatch=4\nsubdivisions=1\nwidth=16\nheight=16\nchannels=3\n"
                "learning_rate=0.01\nmomentum=0.9\ndecay=0.0005\nmax_batches=4\npolicy=constant\n\n"
                "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n\n"
                "[maxpool]\nsize=2\nstride=2\n\n[connected]\noutput=2\nactivation=linear\n\n[softmax]\ngroups=1\n");
    FrTrainSettings s;
    fr_train_defaults(&s);
    s.kind = FR_TRAIN_CLASSIFIER;
    s.cfg = p;
    s.train_list = list;
    s.labels = labels;
    char od[512];
    snprintf(od, sizeof od, "%s/out", dir);
    s.out_dir = od;
    s.quiet = 1;
    s.device = FR_DEVICE_GPU;
    FrError err = {0};
    if (fr_train_run(&s, &err))
        fail_msg("GPU training: %s", err.msg);
    assert_true(isfinite(s.last_avg_loss));
    char w[600];
    snprintf(w, sizeof w, "%s/c.weights", od);
    FrModel *m = open_dev(p, w, FR_DEVICE_GPU);
    fr_model_close(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_device),
        cmocka_unit_test(test_compiled),
        cmocka_unit_test(test_open_refused),
        cmocka_unit_test(test_cli_refused),
        cmocka_unit_test(test_gpu_build_cpu_points),
        cmocka_unit_test(test_gpu_forward_and_splits),
        cmocka_unit_test(test_gpu_multi_tensor_cut),
        cmocka_unit_test(test_gpu_detections),
        cmocka_unit_test(test_gpu_threads),
        cmocka_unit_test(test_gpu_run),
        cmocka_unit_test(test_gpu_train),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
