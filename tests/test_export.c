/* test_export.c: what featrd writes for checks outside featrd: `featrd
 * features` (every tensor of a multi-tensor cut set as .npy, equal to the
 * library's front half) and output.keep_streams (every point's .frd per
 * image, whose sizes are the run's bits and which decode and extract).
 * yolov2-voc at 64x64 with seeded random weights: its max_17 cut carries
 * conv_16 too. */
#include "testutil.h"

#include <math.h>
#include "run/results_internal.h"
#include "util/common.h"
#include "util/csv.h"

static char g_dir[256];
static const char *IMAGES[2] = {"dog", "person"};

static void setup_data(void)
{
    snprintf(g_dir, sizeof g_dir, "%s", tu_tmpdir());
    char p[600];
    snprintf(p, sizeof p, "%s/Annotations", g_dir);
    assert_int_equal(tu_sh(NULL, "mkdir -p '%s'", p), 0);
    FrText list = {0};
    for (int i = 0; i < 2; i++) {
        fr_text_printf(&list, "/usr/share/darknet/data/%s.jpg\n", IMAGES[i]);
        snprintf(p, sizeof p, "%s/Annotations/%s.xml", g_dir, IMAGES[i]);
        tu_write(p, "<annotation><object><name>dog</name><difficult>0</difficult><bndbox>"
                    "<xmin>10</xmin><ymin>20</ymin><xmax>200</xmax><ymax>300</ymax></bndbox>"
                    "</object></annotation>\n");
    }
    snprintf(p, sizeof p, "%s/list.txt", g_dir);
    tu_write(p, list.s);
    fr_text_free(&list);
    snprintf(p, sizeof p, "%s/x.yaml", g_dir);
    char text[2048];
    snprintf(text, sizeof text,
             "model: {cfg: /usr/share/darknet/cfg/yolov2-voc.cfg, input: 64x64,\n"
             "        names: /usr/share/darknet/data/voc.names}\n"
             "dataset: {images: '%s/list.txt', labels: voc-xml, annotations: '%s/Annotations'}\n"
             "sweep: {split: [max_17], bits: [8, 10], codec: [{name: hevc, qp: [30]}]}\n"
             "output: {plots: false, keep_streams: true}\n",
             g_dir, g_dir);
    tu_write(p, text);
}

static void test_features(void **state)
{
    (void)state;
    /* yolov2-voc is a full-size cfg, and under valgrind this process's
     * OpenBLAS picks other kernels than featrd's (floats differ at 1e-8):
     * make test and make sanitize run it */
    if (getenv("FEATRD_VALGRIND"))
        skip();
    setup_data();
    char *o = NULL;
    int st = tu_sh(&o, "'%s' features '%s/x.yaml' --split max_17 --out '%s/feat'", tu_bin(), g_dir,
                   g_dir);
    if (st)
        fail_msg("%s", o);
    tu_assert_contains(o, "2 images, split max_17 (cut set of 2 tensors)");
    free(o);
    /* the library's front half on the same images: the same tensors */
    FrModelSettings ms;
    fr_model_defaults(&ms);
    ms.cfg = "/usr/share/darknet/cfg/yolov2-voc.cfg";
    ms.width = ms.height = 64;
    ms.quiet = 1;
    FrModel *m = NULL;
    FrError err = {0};
    if (fr_model_open(&m, &ms, &err))
        fail_msg("%s", err.msg);
    static const char *layers[2] = {"conv_16", "max_17"};
    static const int shape[2][3] = {{512, 4, 4}, {512, 2, 2}};
    for (int i = 0; i < 2; i++) {
        char p[600];
        snprintf(p, sizeof p, "/usr/share/darknet/data/%s.jpg", IMAGES[i]);
        FrTensor rgb = {0}, in = {0}, cuts[FR_MODEL_MAX_CUTS];
        int nc = 0;
        assert_int_equal(fr_model_load_image(m, p, &rgb, &err), 0);
        assert_int_equal(fr_model_prepare_input(m, &rgb, &in), 0);
        assert_int_equal(fr_model_front(m, &in, 17, cuts, &nc, &err), 0);
        assert_int_equal(nc, 2);
        for (int k = 0; k < 2; k++) {
            snprintf(p, sizeof p, "%s/feat/%06d_%s.%s.npy", g_dir, i, IMAGES[i], layers[k]);
            FrTensor f;
            if (fr_npy_read(p, &f, &err))
                fail_msg("%s", err.msg);
            assert_int_equal(f.c, shape[k][0]);
            assert_int_equal(f.h, shape[k][1]);
            assert_int_equal(f.w, shape[k][2]);
            assert_memory_equal(f.data, cuts[k].data, fr_tensor_size(&f) * 4);
            fr_tensor_free(&f);
            fr_tensor_free(&cuts[k]);
        }
        fr_tensor_free(&rgb);
        fr_tensor_free(&in);
    }
    fr_model_close(&m);
    char p[600];
    snprintf(p, sizeof p, "%s/feat/features.txt", g_dir);
    uint8_t *t;
    size_t n;
    assert_int_equal(fr_read_file(p, &t, &n, NULL), 0);
    t = realloc(t, n + 1);
    t[n] = 0;
    tu_assert_contains((char *)t, "000001_person.conv_16.npy /usr/share/darknet/data/person.jpg "
                                  "conv_16 512 4 4\n");
    free(t);
    /* a bad split: exit 2 naming it, nothing written */
    st = tu_sh(&o, "'%s' features '%s/x.yaml' --split max_99 --out '%s/feat2'", tu_bin(), g_dir,
               g_dir);
    assert_int_equal(st, 2);
    tu_assert_contains(o, "max_99");
    free(o);
    snprintf(p, sizeof p, "%s/feat2", g_dir);
    assert_int_not_equal(access(p, F_OK), 0);
    assert_int_equal(tu_sh(&o, "'%s' features '%s/x.yaml' --out '%s/f3'", tu_bin(), g_dir, g_dir), 2);
    tu_assert_contains(o, "--split");
    free(o);
}

static void test_keep_streams(void **state)
{
    (void)state;
    /* yolov2-voc is a full-size cfg, and under valgrind this process's
     * OpenBLAS picks other kernels than featrd's (floats differ at 1e-8):
     * make test and make sanitize run it */
    if (getenv("FEATRD_VALGRIND"))
        skip();
    char *o = NULL;
    int st = tu_sh(&o, "'%s' run '%s/x.yaml' --quiet -o output.dir='%s/res'", tu_bin(), g_dir,
                   g_dir);
    if (st)
        fail_msg("%s", o);
    free(o);
    char p[900];
    snprintf(p, sizeof p, "%s/res/points.csv", g_dir);
    FrCsv *csv = NULL;
    FrError err = {0};
    if (fr_csv_read(p, &csv, &err))
        fail_msg("%s", err.msg);
    int points = 0;
    for (size_t r = 0; r < fr_csv_nrows(csv); r++) {
        if (strcmp(fr_csv_get(csv, r, fr_csv_col(csv, "kind")), "feature"))
            continue;
        points++;
        const char *id = fr_csv_get(csv, r, fr_csv_col(csv, "id"));
        double bits_mean;
        assert_int_equal(fr_csv_get_double_nf(csv, r, fr_csv_col(csv, "bits_mean"), &bits_mean,
                                              &err), 0);
        double sum = 0;
        for (int i = 0; i < 2; i++) {
            snprintf(p, sizeof p, "%s/res/streams/%s/%06d_%s.frd", g_dir, id, i, IMAGES[i]);
            struct stat sb;
            if (stat(p, &sb))
                fail_msg("no stream %s", p);
            sum += 8.0 * (double)sb.st_size;
        }
        /* the kept containers are what the run counted */
        assert_true(fabs(sum / 2 - bits_mean) < 1e-6);
        /* they decode (both cut tensors) and extract to two Annex-B streams */
        snprintf(p, sizeof p, "%s/res/streams/%s/000000_dog.frd", g_dir, id);
        assert_int_equal(tu_sh(&o, "'%s' decode '%s' '%s/d.npy'", tu_bin(), p, g_dir), 0);
        tu_assert_contains(o, "max_17");
        free(o);
        assert_int_equal(tu_sh(&o, "'%s' frd extract '%s' '%s/d.hevc'", tu_bin(), p, g_dir), 0);
        tu_assert_contains(o, "cut 1 of 2 (512x2x2");
        free(o);
        FrTensor a;
        snprintf(p, sizeof p, "%s/d.1.npy", g_dir);
        assert_int_equal(fr_npy_read(p, &a, NULL), 0);
        assert_int_equal(a.c * a.h * a.w, 512 * 2 * 2);
        fr_tensor_free(&a);
        snprintf(p, sizeof p, "%s/d.1.hevc", g_dir);
        assert_int_equal(access(p, F_OK), 0);
    }
    assert_int_equal(points, 2); /* bits 8 and 10 */
    fr_csv_destroy(&csv);
    /* without the key nothing is kept */
    st = tu_sh(&o, "'%s' run '%s/x.yaml' --quiet -o output.dir='%s/res2' -o output.keep_streams=false",
               tu_bin(), g_dir, g_dir);
    assert_int_equal(st, 0);
    free(o);
    snprintf(p, sizeof p, "%s/res2/streams", g_dir);
    assert_int_not_equal(access(p, F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_keep_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
