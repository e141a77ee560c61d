/* test_demo.c: the demo data sets and models: Fashion-MNIST reading, scene
 * labels against the pasted items' masks, byte-identical regeneration from a
 * seed (and a recorded hash), darknet reading the PNGs back exactly, and the
 * shipped weights reaching their accuracy targets on fixed test subsets. */
#include "testutil.h"
#include "demo/demo.h"
#include "metrics/metrics.h"

#include <limits.h>
#include <math.h>

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001B3ull;
    return h;
}

static void test_fmnist_read(void **state)
{
    (void)state;
    FrFmnist *tr = NULL, *te = NULL;
    FrError err;
    assert_int_equal(fr_fmnist_open(&tr, NULL, "train", &err), 0);
    assert_int_equal(fr_fmnist_open(&te, NULL, "test", &err), 0);
    assert_int_equal(fr_fmnist_count(tr), 60000);
    assert_int_equal(fr_fmnist_count(te), 10000);
    /* first labels and the ink of image 0, as numpy reads the idx files */
    static const int trl[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
    static const int tel[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
    for (int i = 0; i < 10; i++) {
        assert_int_equal(fr_fmnist_label(tr, i), trl[i]);
        assert_int_equal(fr_fmnist_label(te, i), tel[i]);
    }
    long s1 = 0, s2 = 0;
    for (int i = 0; i < 784; i++) {
        s1 += fr_fmnist_pixels(tr, 0)[i];
        s2 += fr_fmnist_pixels(te, 0)[i];
    }
    assert_int_equal(s1, 76247);
    assert_int_equal(s2, 33456);
    fr_fmnist_close(&tr);
    fr_fmnist_close(&te);
    assert_null(tr);
    FrFmnist *x = NULL;
    assert_int_equal(fr_fmnist_open(&x, "/nonexistent", "train", &err), FR_E_NOENT);
    assert_non_null(strstr(err.msg, "/nonexistent/train-images-idx3-ubyte.gz"));
    assert_int_equal(fr_fmnist_open(&x, NULL, "val", &err), FR_E_USAGE);
    assert_null(x);
    assert_string_equal(fr_demo_class_name(6), "shirt");
    assert_null(fr_demo_class_name(10));
}

static void test_scene_labels(void **state)
{
    (void)state;
    FrFmnist *te = NULL;
    FrError err;
    assert_int_equal(fr_fmnist_open(&te, NULL, "test", &err), 0);
    int exact = 0, items = 0;
    for (int idx = 0; idx < 30; idx++) {
        FrDemoScene sc;
        assert_int_equal(fr_demo_scene_render(te, 1, idx, 128, &sc, &err), 0);
        assert_int_equal(sc.size, 128);
        assert_in_range(sc.n, 1, FR_DEMO_MAX_ITEMS);
        for (int k = 0; k < sc.n; k++) {
            const FrDemoItem *it = &sc.items[k];
            items++;
            assert_in_range(it->cls, 0, 9);
            assert_int_equal(it->cls, fr_fmnist_label(te, it->src));
            assert_true(0 <= it->x0 && it->x0 < it->x1 && it->x1 <= 128);
            assert_true(0 <= it->y0 && it->y0 < it->y1 && it->y1 <= 128);
            /* item size 28..64 px: its ink box is at most 64 and not tiny */
            assert_true(it->x1 - it->x0 <= 64 && it->y1 - it->y0 <= 64);
            assert_true(it->x1 - it->x0 >= 4 && it->y1 - it->y0 >= 4);
            /* every visible ink pixel of item k lies in its box */
            int mx0 = 128, my0 = 128, mx1 = 0, my1 = 0, cnt = 0;
            for (int y = 0; y < 128; y++)
                for (int x = 0; x < 128; x++)
                    if (sc.mask[y * 128 + x] == k + 1) {
                        cnt++;
                        if (x < mx0) mx0 = x;
                        if (y < my0) my0 = y;
                        if (x + 1 > mx1) mx1 = x + 1;
                        if (y + 1 > my1) my1 = y + 1;
                    }
            assert_true(cnt > 0);
            assert_true(mx0 >= it->x0 && my0 >= it->y0 && mx1 <= it->x1 && my1 <= it->y1);
            /* items no later item overlaps: the box is exactly the ink's box */
            int covered = 0;
            for (int j = k + 1; j < sc.n; j++) {
                const FrDemoItem *o = &sc.items[j];
                if (o->x0 < it->x1 && it->x0 < o->x1 && o->y0 < it->y1 && it->y0 < o->y1)
                    covered = 1;
            }
            if (!covered) {
                assert_int_equal(mx0, it->x0);
                assert_int_equal(my0, it->y0);
                assert_int_equal(mx1, it->x1);
                assert_int_equal(my1, it->y1);
                exact++;
            }
            /* the item is visible: mean colour inside its mask differs from
             * the mean of the background around it */
        }
        fr_demo_scene_free(&sc);
        assert_null(sc.rgb);
    }
    assert_true(items >= 45); /* 1..4 per scene, mean 2.5 less rejected placements */
    assert_true(exact >= items / 2);
    /* different index or seed: a different scene */
    FrDemoScene a, b, c;
    assert_int_equal(fr_demo_scene_render(te, 1, 3, 128, &a, &err), 0);
    assert_int_equal(fr_demo_scene_render(te, 1, 4, 128, &b, &err), 0);
    assert_int_equal(fr_demo_scene_render(te, 2, 3, 128, &c, &err), 0);
    assert_true(memcmp(a.rgb, b.rgb, 128 * 128 * 3) != 0);
    assert_true(memcmp(a.rgb, c.rgb, 128 * 128 * 3) != 0);
    fr_demo_scene_free(&a);
    fr_demo_scene_free(&b);
    fr_demo_scene_free(&c);
    assert_int_equal(fr_demo_scene_render(te, 1, 0, 32, &a, &err), FR_E_USAGE);
    fr_fmnist_close(&te);
}

/* Hash of every generated file, in list order, with paths relative to root. */
static uint64_t hash_set(const char *root)
{
    static const char *lists[] = {"fmnist-det/train.list", "fmnist-det/test.list",
                                  "fmnist-cls/train.list", "fmnist-cls/test.list"};
    uint64_t h = 0xCBF29CE484222325ull;
    char rootabs[PATH_MAX];
    assert_non_null(realpath(root, rootabs));
    for (int l = 0; l < 4; l++) {
        char path[PATH_MAX + 64], line[PATH_MAX + 2];
        snprintf(path, sizeof path, "%s/%s", root, lists[l]);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        int n = 0;
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\n")] = 0;
            assert_memory_equal(line, rootabs, strlen(rootabs));
            const char *rel = line + strlen(rootabs);
            h = fnv(h, rel, strlen(rel));
            uint8_t *d;
            size_t len;
            assert_int_equal(fr_read_file(line, &d, &len, NULL), 0);
            h = fnv(h, d, len);
            free(d);
            if (l < 2) { /* the darknet label file next to the image */
                char lab[PATH_MAX + 2];
                snprintf(lab, sizeof lab, "%s", line);
                char *p = strstr(lab + strlen(rootabs), "/images/");
                assert_non_null(p);
                memcpy(p, "/labels/", 8);
                strcpy(strrchr(lab, '.'), ".txt");
                assert_int_equal(fr_read_file(lab, &d, &len, NULL), 0);
                h = fnv(h, d, len);
                free(d);
            }
            n++;
        }
        fclose(f);
        assert_int_equal(n, l == 0 ? 12 : l == 1 ? 8 : 10);
    }
    return h;
}

static void gen_small(const char *dir, uint64_t seed)
{
    FrDemoDataSettings s;
    fr_demo_data_defaults(&s);
    s.out_dir = dir;
    s.seed = seed;
    s.det_train = 12;
    s.det_test = 8;
    s.cls_train = 10;
    s.cls_test = 10;
    s.quiet = 1;
    FrError err = {0};
    int rc = fr_demo_data_generate(&s, &err);
    if (rc)
        fail_msg("%s", err.msg);
}

/* Recorded from the first generation (seed 7, 12+8 scenes, 10+10 items):
 * changes only when the generator's output changes. */
#define DEMO_SET_HASH 0x2667f07243a04417ull

static void test_generate_deterministic(void **state)
{
    (void)state;
    char a[300], b[300], c[300];
    snprintf(a, sizeof a, "%s/x", tu_tmpdir());
    snprintf(b, sizeof b, "%s/y/z", tu_tmpdir());
    snprintf(c, sizeof c, "%s", tu_tmpdir());
    gen_small(a, 7);
    gen_small(b, 7);
    gen_small(c, 8);
    uint64_t ha = hash_set(a), hb = hash_set(b), hc = hash_set(c);
    printf("demo set hash 0x%016llx\n", (unsigned long long)ha);
    assert_true(ha == hb);
    assert_true(ha != hc);
    assert_true(ha == DEMO_SET_HASH);

    /* label files hold "cls cx cy w h" with the scene's boxes */
    FrFmnist *tr = NULL;
    assert_int_equal(fr_fmnist_open(&tr, NULL, "train", NULL), 0);
    FrDemoScene sc;
    assert_int_equal(fr_demo_scene_render(tr, 7, 5, 128, &sc, NULL), 0);
    char path[400];
    snprintf(path, sizeof path, "%s/fmnist-det/labels/train/000005.txt", a);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int cls, k = 0;
    double cx, cy, w, h;
    while (fscanf(f, "%d %lf %lf %lf %lf", &cls, &cx, &cy, &w, &h) == 5) {
        assert_true(k < sc.n);
        const FrDemoItem *it = &sc.items[k++];
        assert_int_equal(cls, it->cls);
        assert_true(fabs(cx - (it->x0 + it->x1) / 256.0) < 1e-6);
        assert_true(fabs(cy - (it->y0 + it->y1) / 256.0) < 1e-6);
        assert_true(fabs(w - (it->x1 - it->x0) / 128.0) < 1e-6);
        assert_true(fabs(h - (it->y1 - it->y0) / 128.0) < 1e-6);
    }
    fclose(f);
    assert_int_equal(k, sc.n);

    /* darknet's reader gives back the rendered bytes */
    snprintf(path, sizeof path, "%s/fmnist-det/images/train/000005.png", a);
    FrTensor t = {0};
    FrError err;
    assert_int_equal(fr_model_load_image(NULL, path, &t, &err), 0);
    assert_int_equal(t.c, 3);
    assert_int_equal(t.h, 128);
    assert_int_equal(t.w, 128);
    for (int c3 = 0; c3 < 3; c3++)
        for (int i = 0; i < 128 * 128; i += 7)
            assert_int_equal((int)lrintf(t.data[c3 * 128 * 128 + i] * 255.0f), sc.rgb[i * 3 + c3]);
    fr_tensor_free(&t);
    fr_demo_scene_free(&sc);
    fr_fmnist_close(&tr);
    /* names files */
    snprintf(path, sizeof path, "%s/fmnist-det/fmnist.names", a);
    uint8_t *d;
    size_t len;
    assert_int_equal(fr_read_file(path, &d, &len, NULL), 0);
    static const char names[] = "top\ntrouser\npullover\ndress\ncoat\nsandal\nshirt\nsneaker\nbag\nboot\n";
    assert_int_equal(len, strlen(names));
    assert_memory_equal(d, names, len);
    free(d);
    snprintf(path, sizeof path, "%s/fmnist-cls/test/00002_trouser.png", a);
    assert_int_equal(access(path, R_OK), 0);

    /* bad settings */
    FrDemoDataSettings s;
    fr_demo_data_defaults(&s);
    s.out_dir = a;
    s.det_size = 100;
    assert_int_equal(fr_demo_data_generate(&s, &err), FR_E_USAGE);
    assert_non_null(strstr(err.msg, "100"));
}

static const char tiny_cfg[] =
    "[net]\nbatch=8\nsubdivisions=1\nheight=32\nwidth=32\nchannels=3\nmin_crop=32\n"
    "max_crop=36\nmomentum=0.9\ndecay=0.0005\nlearning_rate=0.01\npolicy=constant\n"
    "max_batches=2\n\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n\n"
    "[maxpool]\nsize=4\nstride=4\n\n"
    "[connected]\noutput=10\nactivation=linear\n\n[softmax]\ngroups=1\n";

/* 40 classification items and the tiny cfg in a fresh directory: dir, and
 * the cfg, train list and labels paths (buffers of 300/400 bytes). */
static void tiny_training_set(char *dir, char *cfg, char *lst, char *lab)
{
    snprintf(dir, 300, "%s", tu_tmpdir());
    FrDemoDataSettings ds;
    fr_demo_data_defaults(&ds);
    ds.out_dir = dir;
    ds.det_train = ds.det_test = ds.cls_test = 0;
    ds.cls_train = 40;
    ds.quiet = 1;
    FrError err = {0};
    assert_int_equal(fr_demo_data_generate(&ds, &err), 0);
    snprintf(cfg, 400, "%s/tiny.cfg", dir);
    tu_write(cfg, tiny_cfg);
    snprintf(lst, 400, "%s/fmnist-cls/train.list", dir);
    snprintf(lab, 400, "%s/fmnist-cls/labels.txt", dir);
}

static void test_train_repeat_resume(void **state)
{
    (void)state;
    char dir[300], cfg[400], o1[400], o2[400], w1[500], w2[500], lst[400], lab[400];
    tiny_training_set(dir, cfg, lst, lab);
    FrError err = {0};
    snprintf(o1, sizeof o1, "%s/a", dir);
    snprintf(o2, sizeof o2, "%s/b", dir);
    FrTrainSettings s;
    fr_train_defaults(&s);
    s.kind = FR_TRAIN_CLASSIFIER;
    s.cfg = cfg;
    s.train_list = lst;
    s.labels = lab;
    s.seed = 5;
    s.quiet = 1;
    s.out_dir = o1;
    int rc = fr_train_run(&s, &err);
    if (rc)
        fail_msg("%s", err.msg);
    s.out_dir = o2;
    assert_int_equal(fr_train_run(&s, &err), 0);
    /* same seed, same data: the same weights, byte for byte */
    snprintf(w1, sizeof w1, "%s/tiny.weights", o1);
    snprintf(w2, sizeof w2, "%s/tiny.weights", o2);
    uint8_t *a, *b;
    size_t la, lb;
    assert_int_equal(fr_read_file(w1, &a, &la, NULL), 0);
    assert_int_equal(fr_read_file(w2, &b, &lb, NULL), 0);
    /* 20-byte header + conv (4 + 108 + 12) + connected (10 + 2560) floats */
    assert_int_equal(la, 20 + 4 * (4 + 108 + 12 + 10 + 2560));
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    /* seen = 2 batches of 8 in the header */
    uint64_t seen;
    memcpy(&seen, a + 12, 8);
    assert_int_equal(seen, 16);
    free(b);
    /* a third batch resumes from the checkpoint: the weights move on */
    s.max_batches = 3;
    assert_int_equal(fr_train_run(&s, &err), 0);
    assert_int_equal(fr_read_file(w2, &b, &lb, NULL), 0);
    memcpy(&seen, b + 12, 8);
    assert_int_equal(seen, 24);
    assert_true(memcmp(a + 20, b + 20, la - 20) != 0);
    free(a);
    free(b);
    /* labels that do not name exactly one class per path */
    tu_write(lab, "top\nto\n");
    assert_int_equal(fr_train_run(&s, &err), FR_E_FORMAT);
    assert_non_null(strstr(err.msg, "line 1"));
    s.labels = NULL;
    assert_int_equal(fr_train_run(&s, &err), FR_E_USAGE);
}

/* Compression-augmented training: with probability 0 the wrapped split
 * layer trains exactly as darknet does (byte-identical weights); the
 * in-place coding equals fr_feature_encode + fr_feature_decode; with
 * probability 1 every image's feature is coded (and the weights differ);
 * the loss falls over 40 augmented batches; bad options are refused. */
static void test_train_augment(void **state)
{
    (void)state;
    char dir[300], cfg[400], lst[400], lab[400], o[4][400], w[4][500];
    tiny_training_set(dir, cfg, lst, lab);
    FrError err = {0};
    int qps[2] = {37, 42};
    FrTrainSettings s[4];
    for (int k = 0; k < 4; k++) {
        snprintf(o[k], sizeof o[k], "%s/run%d", dir, k);
        snprintf(w[k], sizeof w[k], "%.400s/tiny.weights", o[k]);
        fr_train_defaults(&s[k]);
        s[k].kind = FR_TRAIN_CLASSIFIER;
        s[k].cfg = cfg;
        s[k].train_list = lst;
        s[k].labels = lab;
        s[k].seed = 3;
        s[k].quiet = 1;
        s[k].out_dir = o[k];
        s[k].max_batches = 4;
        if (k) {
            s[k].augment_split = "max_1";
            s[k].augment_qp = qps;
            s[k].n_augment_qp = 2;
            s[k].augment_prob = k == 1 ? 0.0 : 1.0;
        }
    }
    s[3].max_batches = 40;
    for (int k = 0; k < 4; k++) {
        int rc = fr_train_run(&s[k], &err);
        if (rc)
            fail_msg("run %d: %s", k, err.msg);
    }
    uint8_t *a, *b, *c;
    size_t la, lb, lc;
    assert_int_equal(fr_read_file(w[0], &a, &la, NULL), 0);
    assert_int_equal(fr_read_file(w[1], &b, &lb, NULL), 0);
    assert_int_equal(fr_read_file(w[2], &c, &lc, NULL), 0);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    assert_int_equal(s[1].coded, 0);
    assert_int_equal(s[1].passed, 4 * 8);
    assert_int_equal(s[2].coded, 4 * 8);
    assert_int_equal(s[2].passed, 0);
    assert_int_equal(la, lc);
    assert_true(memcmp(a + 20, c + 20, la - 20) != 0);
    free(a);
    free(b);
    free(c);
    print_message("augmented training: loss %.4f at batch 1, running average %.4f at batch 40\n",
                  s[3].first_loss, s[3].last_avg_loss);
    assert_true(s[3].last_avg_loss < 0.8 * s[3].first_loss);

    /* the in-place coding is the sweep's encode + decode */
    FrTensor t, ref;
    assert_int_equal(fr_tensor_alloc(&t, 4, 8, 8), 0);
    for (size_t i = 0; i < fr_tensor_size(&t); i++)
        t.data[i] = (float)((i * 37) % 101) / 25.0f;
    assert_int_equal(fr_tensor_alloc(&ref, 4, 8, 8), 0);
    memcpy(ref.data, t.data, fr_tensor_size(&t) * sizeof(float));
    FrFeatureSettings fs;
    fr_feature_defaults(&fs);
    fs.qp = 42;
    uint8_t *frd;
    size_t len;
    FrTensor *rec;
    int nrec;
    assert_int_equal(fr_feature_encode(&ref, 1, NULL, &fs, &frd, &len, NULL, &err), 0);
    assert_int_equal(fr_feature_decode(frd, len, &rec, &nrec, NULL, &err), 0);
    uint64_t bits = 0;
    fs.qp = 0; /* the qp argument wins */
    assert_int_equal(fr_train_code_feature(t.data, 4, 8, 8, &fs, 42, &bits, &err), 0);
    assert_int_equal(bits, 8 * (uint64_t)len);
    assert_memory_equal(t.data, rec[0].data, fr_tensor_size(&t) * sizeof(float));
    assert_true(memcmp(t.data, ref.data, fr_tensor_size(&t) * sizeof(float)) != 0);
    fr_tensor_free(&rec[0]);
    free(rec);
    free(frd);
    fr_tensor_free(&t);
    fr_tensor_free(&ref);

    /* refused: no QPs, a bad QP, a lossless codec, a layer that is not there */
    FrTrainSettings bad = s[2];
    bad.n_augment_qp = 0;
    assert_int_equal(fr_train_run(&bad, &err), FR_E_USAGE);
    tu_assert_contains(err.msg, "--augment-qp");
    bad = s[2];
    int q99 = 99;
    bad.augment_qp = &q99;
    bad.n_augment_qp = 1;
    assert_int_equal(fr_train_run(&bad, &err), FR_E_USAGE);
    bad = s[2];
    bad.augment.codec = FR_CODEC_ZLIB;
    assert_int_equal(fr_train_run(&bad, &err), FR_E_USAGE);
    tu_assert_contains(err.msg, "lossy hevc");
    bad = s[2];
    bad.augment_split = "max_9";
    bad.out_dir = o[1]; /* a finished run: parsing happens before any batch */
    assert_int_equal(fr_train_run(&bad, &err), FR_E_USAGE);
    tu_assert_contains(err.msg, "max_9");
}

/* The shipped-weights tests: generates a small demo subset (cls_test
 * classification items or det_test scenes, seed 1) into a fresh directory
 * and opens models/<name>.cfg with its shipped weights. Skipped under
 * valgrind: hundreds of forwards take tens of minutes there; `make test` and
 * `make sanitize` run them in full. */
static FrModel *shipped_model_on_subset(const char *name, int cls_test, int det_test, char *dir,
                                        size_t dir_size)
{
    if (getenv("FEATRD_VALGRIND"))
        skip();
    snprintf(dir, dir_size, "%s", tu_tmpdir());
    FrDemoDataSettings s;
    fr_demo_data_defaults(&s);
    s.out_dir = dir;
    s.det_train = s.cls_train = 0;
    s.cls_test = cls_test;
    s.det_test = det_test;
    s.quiet = 1;
    FrError err = {0};
    assert_int_equal(fr_demo_data_generate(&s, &err), 0);

    char cfg[256], weights[256];
    snprintf(cfg, sizeof cfg, "models/%s.cfg", name);
    snprintf(weights, sizeof weights, "models/%s.weights", name);
    return tu_open_model(cfg, weights);
}

static void test_classifier_accuracy(void **state)
{
    (void)state;
    char dir[300];
    FrModel *m = shipped_model_on_subset("fmnist-vgg", 300, 0, dir, sizeof dir);
    FrError err = {0};
    assert_int_equal(fr_model_classes(m), 10);
    FrFmnist *te = NULL;
    assert_int_equal(fr_fmnist_open(&te, NULL, "test", NULL), 0);
    int hits = 0;
    for (int i = 0; i < 300; i++) {
        char path[400];
        snprintf(path, sizeof path, "%s/fmnist-cls/test/%05d_%s.png", dir, i,
                 fr_demo_class_name(fr_fmnist_label(te, i)));
        FrTensor rgb = {0}, in = {0}, out = {0};
        assert_int_equal(fr_model_load_image(m, path, &rgb, &err), 0);
        assert_int_equal(fr_model_prepare_input(m, &rgb, &in), 0);
        assert_int_equal(fr_model_forward(m, &in, &err), 0);
        assert_int_equal(fr_model_output(m, &out), 0);
        assert_int_equal(fr_tensor_size(&out), 10);
        hits += fr_argmax(out.data, 10) == fr_fmnist_label(te, i);
        fr_tensor_free(&rgb);
        fr_tensor_free(&in);
        fr_tensor_free(&out);
    }
    double top1 = hits / 300.0;
    printf("fmnist-vgg top-1 on 300 test images: %.4f\n", top1);
    assert_true(top1 >= 0.85);
    fr_fmnist_close(&te);
    fr_model_close(&m);
}

static void test_detector_map(void **state)
{
    (void)state;
    char dir[300];
    FrModel *m = shipped_model_on_subset("fmnist-yolo", 0, 150, dir, sizeof dir);
    FrError err = {0};
    assert_int_equal(fr_model_task(m), FR_TASK_DETECTION);
    FrMapSettings mps;
    fr_map_defaults(&mps);
    mps.nclasses = 10;
    mps.plus_one = 0;
    FrMapAcc *acc = NULL;
    assert_int_equal(fr_map_create(&acc, &mps, &err), 0);
    for (int i = 0; i < 150; i++) {
        char path[400];
        snprintf(path, sizeof path, "%s/fmnist-det/images/test/%06d.png", dir, i);
        FrTensor rgb = {0}, in = {0};
        assert_int_equal(fr_model_load_image(m, path, &rgb, &err), 0);
        assert_int_equal(fr_model_prepare_input(m, &rgb, &in), 0);
        assert_int_equal(fr_model_forward(m, &in, &err), 0);
        FrDetection *d = NULL;
        int nd = 0;
        assert_int_equal(fr_model_detections(m, rgb.w, rgb.h, FR_DETECT_THRESH, FR_DETECT_NMS, &d, &nd), 0);
        /* ground truth from the label file, in pixels */
        snprintf(path, sizeof path, "%s/fmnist-det/labels/test/%06d.txt", dir, i);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        FrGtBox gt[FR_DEMO_MAX_ITEMS];
        int ng = 0, cls;
        double cx, cy, w, h;
        while (ng < FR_DEMO_MAX_ITEMS && fscanf(f, "%d %lf %lf %lf %lf", &cls, &cx, &cy, &w, &h) == 5)
            gt[ng++] = (FrGtBox){cls, 0, {(cx - w / 2) * rgb.w, (cy - h / 2) * rgb.h,
                                          (cx + w / 2) * rgb.w, (cy + h / 2) * rgb.h}};
        fclose(f);
        assert_true(ng >= 1);
        assert_int_equal(fr_map_add_image(acc, gt, (size_t)ng, d, (size_t)nd, &err), 0);
        fr_detections_free(&d);
        fr_tensor_free(&rgb);
        fr_tensor_free(&in);
    }
    FrMapResult res = {0};
    assert_int_equal(fr_map_finish(acc, &res, &err), 0);
    printf("fmnist-yolo mAP@0.5 (VOC07 11-point) on 150 test scenes: %.4f\n", res.map07);
    assert_true(res.map07 >= 0.60);
    fr_map_result_free(&res);
    fr_map_destroy(&acc);
    fr_model_close(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmnist_read),
        cmocka_unit_test(test_scene_labels),
        cmocka_unit_test(test_generate_deterministic),
        cmocka_unit_test(test_train_repeat_resume),
        cmocka_unit_test(test_train_augment),
        cmocka_unit_test(test_classifier_accuracy),
        cmocka_unit_test(test_detector_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
