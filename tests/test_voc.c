/* test_voc.c: the rules a real-data VOC reproduction depends on, end to end
 * through `featrd run` on the shipped demo detector (models/fmnist-yolo) and a
 * generated demo test subset laid out as VOC:
 * - difficult objects (VOC XML) are ignored exactly as voc_eval.py does: the
 *   run's map07/map equal an independent evaluation written here, and differ
 *   from a darknet-label run of the same objects (which also warns);
 * - class names are checked: a data set whose names differ is refused (exit
 *   2, naming the first differing class); dataset.class_map maps the model's
 *   classes (by name, @N and @N:name, with repeated model names as WordTree's)
 *   to the data set's and gives the identity run's mAP; classes it leaves out
 *   are not scored.
 * Skipped under valgrind (hundreds of forwards). */
#include "testutil.h"

#include <math.h>
#include "run/results_internal.h"
#include "data/dataset.h"
#include "demo/demo.h"
#include "util/csv.h"

#define NIMG 60
#define NCLS 10

static char g_dir[256];
static char g_names[800];   /* the model's names (fmnist.names of the subset) */

typedef struct Obj {
    int cls, difficult;
    double x1, y1, x2, y2;
} Obj;

static Obj g_obj[NIMG][FR_DEMO_MAX_ITEMS];
static char g_line[NIMG][FR_DEMO_MAX_ITEMS][128]; /* label lines as generated */
static int g_nobj[NIMG];
static FrDetection *g_det[NIMG];
static int g_ndet[NIMG];

/* Reads the generated darknet labels (128x128 scenes) into g_obj; every
 * third object is flagged difficult. */
static void read_labels(const char *dir)
{
    int k = 0;
    for (int i = 0; i < NIMG; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/fmnist-det/labels/test/%06d.txt", dir, i);
        FILE *f = fopen(p, "r");
        assert_non_null(f);
        int cls;
        double cx, cy, w, h;
        g_nobj[i] = 0;
        while (g_nobj[i] < FR_DEMO_MAX_ITEMS &&
               fscanf(f, "%d %lf %lf %lf %lf", &cls, &cx, &cy, &w, &h) == 5) {
            snprintf(g_line[i][g_nobj[i]], sizeof g_line[i][0], "%d %.17g %.17g %.17g %.17g", cls,
                     cx, cy, w, h);
            Obj *o = &g_obj[i][g_nobj[i]++];
            o->cls = cls;
            o->difficult = (k++ % 3) == 1;
            /* as fr_gt_read_darknet computes them */
            o->x1 = (cx - w / 2) * 128;
            o->x2 = (cx + w / 2) * 128;
            o->y1 = (cy - h / 2) * 128;
            o->y2 = (cy + h / 2) * 128;
        }
        fclose(f);
    }
}

/* ---------------- an independent VOC07 evaluation ---------------- */

/* voc_eval.py for one class: detections sorted by score (stable), each
 * matched to the most-overlapping ground truth of its image and class
 * (+1 pixel widths); overlap >= 0.5 on a difficult box: ignored; first hit:
 * TP; else FP. 11-point AP over np.arange(0., 1.1, 0.1) = k * 0.1. map[c] gives the
 * data set class of a model class (-1: dropped), NULL = identity. */
static double iou1(const Obj *g, const FrDetection *d)
{
    double iw = fmin(g->x2, d->x2) - fmax(g->x1, d->x1) + 1;
    double ih = fmin(g->y2, d->y2) - fmax(g->y1, d->y1) + 1;
    if (iw <= 0 || ih <= 0)
        return 0;
    double ua = (g->x2 - g->x1 + 1) * (g->y2 - g->y1 + 1) +
                ((double)d->x2 - d->x1 + 1) * ((double)d->y2 - d->y1 + 1) - iw * ih;
    return iw * ih / ua;
}

typedef struct Ranked {
    int img, idx;
    float score;
} Ranked;

/* How the reference sees difficult objects. */
enum { DIFF_COUNTED = 0, DIFF_IGNORED = 1, DIFF_ABSENT = 2 };

static double ref_map07(int mode, const int *map, double *map_all)
{
    int honour_difficult = mode == DIFF_IGNORED;
    double sum07 = 0, sumall = 0;
    int ncls = 0;
    for (int c = 0; c < NCLS; c++) {
        int npos = 0;
        for (int i = 0; i < NIMG; i++)
            for (int j = 0; j < g_nobj[i]; j++)
                npos += g_obj[i][j].cls == c && !(mode != DIFF_COUNTED && g_obj[i][j].difficult);
        if (!npos)
            continue;
        Ranked *r = NULL;
        int n = 0;
        for (int i = 0; i < NIMG; i++)
            for (int j = 0; j < g_ndet[i]; j++) {
                int dc = map ? map[g_det[i][j].cls] : g_det[i][j].cls;
                if (dc != c)
                    continue;
                r = realloc(r, (size_t)(n + 1) * sizeof *r);
                r[n++] = (Ranked){i, j, g_det[i][j].score};
            }
        /* insertion sort: descending score, stable */
        for (int a = 1; a < n; a++) {
            Ranked x = r[a];
            int b = a;
            while (b > 0 && r[b - 1].score < x.score) {
                r[b] = r[b - 1];
                b--;
            }
            r[b] = x;
        }
        int used[NIMG][FR_DEMO_MAX_ITEMS];
        memset(used, 0, sizeof used);
        double *rec = malloc((size_t)(n ? n : 1) * sizeof *rec);
        double *prec = malloc((size_t)(n ? n : 1) * sizeof *prec);
        double tp = 0, fp = 0;
        for (int k = 0; k < n; k++) {
            const FrDetection *d = &g_det[r[k].img][r[k].idx];
            double best = -1;
            int jb = -1;
            for (int j = 0; j < g_nobj[r[k].img]; j++) {
                const Obj *g = &g_obj[r[k].img][j];
                if (g->cls != c || (mode == DIFF_ABSENT && g->difficult))
                    continue;
                double v = iou1(g, d);
                if (v > best) {
                    best = v;
                    jb = j;
                }
            }
            if (best >= 0.5) {
                if (!(honour_difficult && g_obj[r[k].img][jb].difficult)) {
                    if (!used[r[k].img][jb]) {
                        tp++;
                        used[r[k].img][jb] = 1;
                    } else {
                        fp++;
                    }
                }
            } else {
                fp++;
            }
            rec[k] = tp / npos;
            prec[k] = tp / fmax(tp + fp, 2.220446049250313e-16);
        }
        double ap = 0;
        for (int t = 0; t <= 10; t++) {
            double th = 0.0 + t * 0.1, p = 0;
            for (int k = 0; k < n; k++)
                if (rec[k] >= th && prec[k] > p)
                    p = prec[k];
            ap += p;
        }
        sum07 += ap / 11.0;
        /* all-point: monotone precision envelope, area under the steps */
        for (int k = n - 1; k > 0; k--)
            if (prec[k] > prec[k - 1])
                prec[k - 1] = prec[k];
        double all = 0, prev = 0;
        for (int k = 0; k < n; k++) {
            all += (rec[k] - prev) * prec[k];
            prev = rec[k];
        }
        sumall += all;
        ncls++;
        free(rec);
        free(prec);
        free(r);
    }
    if (map_all)
        *map_all = sumall / ncls;
    return sum07 / ncls;
}

/* ---------------- the data sets ---------------- */

static void write_voc_tree(void)
{
    char p[600], q[600];
    snprintf(p, sizeof p, "%s/VOC2007/JPEGImages", g_dir);
    assert_int_equal(tu_sh(NULL, "mkdir -p '%s' '%s/VOC2007/Annotations' '%s/VOC2007/labels' "
                                 "'%s/perm/images' '%s/perm/labels'",
                           p, g_dir, g_dir, g_dir, g_dir),
                     0);
    FrText list = {0}, plist = {0};
    for (int i = 0; i < NIMG; i++) {
        snprintf(p, sizeof p, "%s/fmnist-det/images/test/%06d.png", g_dir, i);
        snprintf(q, sizeof q, "%s/VOC2007/JPEGImages/%06d.png", g_dir, i);
        assert_int_equal(symlink(p, q), 0);
        fr_text_printf(&list, "%s\n", q);
        snprintf(q, sizeof q, "%s/perm/images/%06d.png", g_dir, i);
        assert_int_equal(symlink(p, q), 0);
        fr_text_printf(&plist, "%s\n", q);
        /* darknet labels as voc_label.py writes them: difficult objects left out */
        snprintf(p, sizeof p, "%s/fmnist-det/labels/test/%06d.txt", g_dir, i);
        snprintf(q, sizeof q, "%s/VOC2007/labels/%06d.txt", g_dir, i);
        FrText lab = {0};
        for (int j = 0; j < g_nobj[i]; j++)
            if (!g_obj[i][j].difficult)
                fr_text_printf(&lab, "%s\n", g_line[i][j]);
        tu_write(q, lab.s ? lab.s : "");
        fr_text_free(&lab);
        /* the permuted data set: the same objects, class c written as 9 - c */
        snprintf(p, sizeof p, "%s/perm/labels/%06d.txt", g_dir, i);
        assert_int_equal(tu_sh(NULL, "awk '{ $1 = 9 - $1; print }' '%s' > '%s'", q, p), 0);

        /* VOC XML: 1-based corners, difficult flags */
        FrText x = {0};
        fr_text_printf(&x, "<annotation>\n  <filename>%06d.png</filename>\n  <size><width>128"
                           "</width><height>128</height><depth>3</depth></size>\n", i);
        for (int j = 0; j < g_nobj[i]; j++) {
            const Obj *o = &g_obj[i][j];
            fr_text_printf(&x, "  <object>\n    <name>%s</name>\n    <difficult>%d</difficult>\n"
                               "    <bndbox><xmin>%.17g</xmin><ymin>%.17g</ymin><xmax>%.17g"
                               "</xmax><ymax>%.17g</ymax></bndbox>\n  </object>\n",
                           fr_demo_class_name(o->cls), o->difficult, o->x1 + 1, o->y1 + 1,
                           o->x2 + 1, o->y2 + 1);
        }
        fr_text_printf(&x, "</annotation>\n");
        snprintf(q, sizeof q, "%s/VOC2007/Annotations/%06d.xml", g_dir, i);
        tu_write(q, x.s);
        fr_text_free(&x);
    }
    snprintf(p, sizeof p, "%s/VOC2007/test.list", g_dir);
    tu_write(p, list.s);
    snprintf(p, sizeof p, "%s/perm/test.list", g_dir);
    tu_write(p, plist.s);
    fr_text_free(&list);
    fr_text_free(&plist);
    FrText names = {0};
    for (int c = NCLS - 1; c >= 0; c--)
        fr_text_printf(&names, "%s\n", fr_demo_class_name(c));
    snprintf(p, sizeof p, "%s/perm/perm.names", g_dir);
    tu_write(p, names.s);
    fr_text_free(&names);
}

/* The detections of the uncompressed model, as the run's reference point
 * computes them (default det_thresh and nms). */
static void detect_all(void)
{
    FrModel *m = tu_open_model("models/fmnist-yolo.cfg", "models/fmnist-yolo.weights");
    FrError err = {0};
    for (int i = 0; i < NIMG; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/VOC2007/JPEGImages/%06d.png", g_dir, i);
        FrTensor rgb = {0}, in = {0};
        assert_int_equal(fr_model_load_image(m, p, &rgb, &err), 0);
        assert_int_equal(fr_model_prepare_input(m, &rgb, &in), 0);
        assert_int_equal(fr_model_forward(m, &in, &err), 0);
        assert_int_equal(fr_model_detections(m, rgb.w, rgb.h, FR_DETECT_THRESH, FR_DETECT_NMS,
                                             &g_det[i], &g_ndet[i]),
                         0);
        fr_tensor_free(&rgb);
        fr_tensor_free(&in);
    }
    fr_model_close(&m);
}

static int setup(void **state)
{
    (void)state;
    if (getenv("FEATRD_VALGRIND"))
        return 0;
    snprintf(g_dir, sizeof g_dir, "%s", tu_tmpdir());
    FrDemoDataSettings s;
    fr_demo_data_defaults(&s);
    s.out_dir = g_dir;
    s.det_train = s.cls_train = s.cls_test = 0;
    s.det_test = NIMG;
    s.quiet = 1;
    FrError err = {0};
    if (fr_demo_data_generate(&s, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    snprintf(g_names, sizeof g_names, "%s/fmnist-det/fmnist.names", g_dir);
    read_labels(g_dir);
    write_voc_tree();
    detect_all();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NIMG; i++)
        fr_detections_free(&g_det[i]);
    return 0;
}

static const char *g_out_extra = ""; /* more output: keys for run() */

/* featrd run of the demo detector on LIST with extra config text; returns
 * the exit status, *out the output; map07/map of the reference point. */
static int run(const char *tag, const char *list, const char *extra, char **out, double *map07,
               double *map)
{
    char cfg[600], dir[600], text[4096];
    snprintf(cfg, sizeof cfg, "%s/%s.yaml", g_dir, tag);
    snprintf(dir, sizeof dir, "%s/res-%s", g_dir, tag);
    snprintf(text, sizeof text,
             "model: {cfg: models/fmnist-yolo.cfg, weights: models/fmnist-yolo.weights,\n"
             "        names: '%s'}\n"
             "dataset:\n  images: '%s/%s'\n%s"
             "sweep: {split: [max_7], bits: [8], codec: [zlib]}\n"
             "metrics: [map07, map]\n"
             "output: {plots: false, dir: '%s'%s}\n",
             g_names, g_dir, list, extra, dir, g_out_extra);
    tu_write(cfg, text);
    int st = tu_sh(out, "'%s' run '%s' --quiet 2>&1", tu_bin(), cfg);
    if (st == 0 && map07) {
        char csvp[700];
        snprintf(csvp, sizeof csvp, "%s/points.csv", dir);
        FrCsv *csv = NULL;
        FrError err = {0};
        if (fr_csv_read(csvp, &csv, &err))
            fail_msg("%s", err.msg);
        assert_int_equal(fr_csv_get_double_nf(csv, 0, fr_csv_col(csv, "map07"), map07, &err), 0);
        assert_int_equal(fr_csv_get_double_nf(csv, 0, fr_csv_col(csv, "map"), map, &err), 0);
        fr_csv_destroy(&csv);
    }
    return st;
}

#define assert_close(a, b, tol)                                                          \
    do {                                                                                 \
        double a_ = (a), b_ = (b);                                                       \
        if (!(fabs(a_ - b_) <= (tol))) {                                                 \
            print_error("%s = %.17g, %s = %.17g\n", #a, a_, #b, b_);                     \
            fail();                                                                      \
        }                                                                                \
    } while (0)

static void test_difficult(void **state)
{
    (void)state;
    if (getenv("FEATRD_VALGRIND"))
        skip();
    char *out = NULL;
    double xml07, xml, txt07, txt;
    char extra[700];
    snprintf(extra, sizeof extra,
             "  labels: voc-xml\n  annotations: '%s/VOC2007/Annotations'\n", g_dir);
    int st = run("xml", "VOC2007/test.list", extra, &out, &xml07, &xml);
    if (st)
        fail_msg("%s", out);
    free(out);
    st = run("txt", "VOC2007/test.list", "", &out, &txt07, &txt);
    if (st)
        fail_msg("%s", out);
    /* darknet labels on VOC images: told that difficult objects count */
    tu_assert_contains(out, "warning");
    tu_assert_contains(out, "difficult");
    tu_assert_contains(out, "voc-xml");
    free(out);
    double ref_all_d, ref_all_n;
    double ref07_d = ref_map07(DIFF_IGNORED, NULL, &ref_all_d);
    double ref07_n = ref_map07(DIFF_ABSENT, NULL, &ref_all_n);
    printf("demo detector on %d scenes, a third of the objects difficult: map07 %.4f "
           "(VOC XML, difficult ignored) vs %.4f (darknet labels without them, "
           "voc_label.py); map %.4f vs %.4f; every object a positive: map07 %.4f\n",
           NIMG, xml07, txt07, xml, txt, ref_map07(DIFF_COUNTED, NULL, NULL));
    assert_close(xml07, ref07_d, 1e-9);
    assert_close(xml, ref_all_d, 1e-9);
    assert_close(txt07, ref07_n, 1e-9);
    assert_close(txt, ref_all_n, 1e-9);
    /* without the difficult objects in the labels their detections are
     * false positives */
    assert_true(xml07 > txt07 + 0.005);
}

/* output.detections: the exported file holds exactly the detections featrd
 * scored, and the independent voc_eval-style reference of this file scores
 * them to the run's map07 / map. */
static void test_detections_export(void **state)
{
    (void)state;
    if (getenv("FEATRD_VALGRIND"))
        skip();
    char *out = NULL, extra[900];
    double m07, m;
    snprintf(extra, sizeof extra,
             "  labels: voc-xml\n  annotations: '%s/VOC2007/Annotations'\n"
             "bootstrap: {replicates: 0}\n", g_dir);
    g_out_extra = ", detections: true";
    int st = run("detx", "VOC2007/test.list", extra, &out, &m07, &m);
    g_out_extra = "";
    if (st)
        fail_msg("%s", out);
    free(out);
    char p[800];
    snprintf(p, sizeof p, "%s/res-detx/points.csv", g_dir);
    FrCsv *pts = NULL, *d = NULL;
    FrError err = {0};
    assert_int_equal(fr_csv_read(p, &pts, &err), 0);
    snprintf(p, sizeof p, "%s/res-detx/detections/%s.csv", g_dir,
             fr_csv_get(pts, 0, fr_csv_col(pts, "id")));
    assert_int_equal(fr_csv_read(p, &d, &err), 0);
    FrDetection *mine[NIMG];
    int nmine[NIMG] = {0};
    for (int i = 0; i < NIMG; i++)
        mine[i] = calloc(4096, sizeof **mine);
    int ci = fr_csv_col(d, "image"), cc = fr_csv_col(d, "class"), cs = fr_csv_col(d, "score"),
        cx1 = fr_csv_col(d, "x1"), cy1 = fr_csv_col(d, "y1"), cx2 = fr_csv_col(d, "x2"),
        cy2 = fr_csv_col(d, "y2"), cid = fr_csv_col(d, "image_id");
    for (size_t r = 0; r < fr_csv_nrows(d); r++) {
        int i = atoi(fr_csv_get(d, r, ci));
        assert_true(i >= 0 && i < NIMG && nmine[i] < 4096);
        char want[16];
        snprintf(want, sizeof want, "%06d", i);
        assert_string_equal(fr_csv_get(d, r, cid), want);
        FrDetection *x = &mine[i][nmine[i]++];
        x->cls = atoi(fr_csv_get(d, r, cc));
        x->score = strtof(fr_csv_get(d, r, cs), NULL);
        x->x1 = strtof(fr_csv_get(d, r, cx1), NULL);
        x->y1 = strtof(fr_csv_get(d, r, cy1), NULL);
        x->x2 = strtof(fr_csv_get(d, r, cx2), NULL);
        x->y2 = strtof(fr_csv_get(d, r, cy2), NULL);
    }
    /* the uncompressed network's detections, float for float */
    for (int i = 0; i < NIMG; i++) {
        assert_int_equal(nmine[i], g_ndet[i]);
        for (int k = 0; k < g_ndet[i]; k++) {
            assert_int_equal(mine[i][k].cls, g_det[i][k].cls);
            assert_true(mine[i][k].score == g_det[i][k].score);
            assert_true(mine[i][k].x1 == g_det[i][k].x1 && mine[i][k].y2 == g_det[i][k].y2);
        }
    }
    /* scored by the reference from the file alone */
    FrDetection *keep[NIMG];
    int nkeep[NIMG];
    for (int i = 0; i < NIMG; i++) {
        keep[i] = g_det[i];
        nkeep[i] = g_ndet[i];
        g_det[i] = mine[i];
        g_ndet[i] = nmine[i];
    }
    double ref_all, ref07 = ref_map07(DIFF_IGNORED, NULL, &ref_all);
    for (int i = 0; i < NIMG; i++) {
        g_det[i] = keep[i];
        g_ndet[i] = nkeep[i];
        free(mine[i]);
    }
    printf("exported detections scored independently: map07 %.6f (featrd %.6f), map %.6f (%.6f)\n",
           ref07, m07, ref_all, m);
    assert_close(ref07, m07, 1e-9);
    assert_close(ref_all, m, 1e-9);
    fr_csv_destroy(&d);
    fr_csv_destroy(&pts);
}

static void test_class_names(void **state)
{
    (void)state;
    if (getenv("FEATRD_VALGRIND"))
        skip();
    char *out = NULL;
    char extra[1200], p[600];
    double id07, id, m07, m;
    /* the same names on both sides: accepted, the plain run's numbers */
    snprintf(extra, sizeof extra, "  names: '%s'\n", g_names);
    int st = run("same", "VOC2007/test.list", extra, &out, &id07, &id);
    if (st)
        fail_msg("%s", out);
    free(out);
    assert_close(id07, ref_map07(DIFF_ABSENT, NULL, NULL), 1e-9);

    /* the permuted data set without a map: refused, first differing class named */
    snprintf(extra, sizeof extra, "  names: '%s/perm/perm.names'\n", g_dir);
    st = run("perm-nomap", "perm/test.list", extra, &out, NULL, NULL);
    assert_int_equal(st, 2);
    tu_assert_contains(out, "class 0 of the model is 'top'");
    tu_assert_contains(out, "'boot'");
    tu_assert_contains(out, "dataset.class_map");
    free(out);
    char res[700];
    snprintf(res, sizeof res, "%s/res-perm-nomap/points.csv", g_dir);
    assert_int_not_equal(access(res, F_OK), 0); /* no partial results */

    /* with a map (by name, @N and @N:name): the identity run's mAP. The
     * model's names repeat one name, as WordTree's do; only @N can map it. */
    FrText mn = {0}, map = {0};
    for (int c = 0; c < NCLS; c++)
        fr_text_printf(&mn, "%s\n", c == 9 ? "top" : fr_demo_class_name(c));
    char dupnames[600];
    snprintf(dupnames, sizeof dupnames, "%s/dup.names", g_dir);
    tu_write(dupnames, mn.s);
    fr_text_printf(&map, "# model class<TAB>data set class\n");
    for (int c = 0; c < NCLS; c++) {
        if (c == 0 || c == 9)
            fr_text_printf(&map, "@%d:top\t%s\n", c, fr_demo_class_name(c));
        else if (c % 2)
            fr_text_printf(&map, "@%d\t%s\n", c, fr_demo_class_name(c));
        else
            fr_text_printf(&map, "%s\t%s\n", fr_demo_class_name(c), fr_demo_class_name(c));
    }
    snprintf(p, sizeof p, "%s/perm.map", g_dir);
    tu_write(p, map.s);
    fr_text_free(&mn);
    fr_text_free(&map);
    snprintf(extra, sizeof extra, "  names: '%s/perm/perm.names'\n  class_map: '%s'\n", g_dir, p);
    char cfgnames[800];
    snprintf(cfgnames, sizeof cfgnames, "%s", g_names);
    snprintf(g_names, sizeof g_names, "%s", dupnames);
    st = run("perm-map", "perm/test.list", extra, &out, &m07, &m);
    if (st)
        fail_msg("%s", out);
    free(out);
    assert_close(m07, id07, 1e-12);
    assert_close(m, id, 1e-12);

    /* a map naming a repeated model class by name: refused */
    tu_write(p, "top\ttop\n");
    st = run("perm-ambig", "perm/test.list", extra, &out, NULL, NULL);
    assert_int_equal(st, 2);
    tu_assert_contains(out, "perm.map:1:");
    tu_assert_contains(out, "@INDEX");
    free(out);
    snprintf(g_names, sizeof g_names, "%s", cfgnames);

    /* only classes 0..4 mapped: 5..9 are dropped from scoring, their ground
     * truth stays (AP 0) */
    FrText half = {0};
    for (int c = 0; c < 5; c++)
        fr_text_printf(&half, "%s\t%s\n", fr_demo_class_name(c), fr_demo_class_name(c));
    tu_write(p, half.s);
    fr_text_free(&half);
    int keep[NCLS];
    for (int c = 0; c < NCLS; c++)
        keep[c] = c < 5 ? c : -1;
    st = run("perm-half", "perm/test.list", extra, &out, &m07, &m);
    if (st)
        fail_msg("%s", out);
    free(out);
    assert_close(m07, ref_map07(DIFF_ABSENT, keep, NULL), 1e-9);
    assert_true(m07 < id07 - 0.1);

    /* a names file of another length than the network's classes */
    snprintf(p, sizeof p, "%s/nine.names", g_dir);
    FrText nine = {0};
    for (int c = 0; c < 9; c++)
        fr_text_printf(&nine, "%s\n", fr_demo_class_name(c));
    tu_write(p, nine.s);
    fr_text_free(&nine);
    snprintf(g_names, sizeof g_names, "%s", p);
    st = run("nine", "VOC2007/test.list", "", &out, NULL, NULL);
    assert_int_equal(st, 2);
    tu_assert_contains(out, "has 9 class names but the network");
    tu_assert_contains(out, "outputs 10 classes");
    free(out);
    snprintf(g_names, sizeof g_names, "%s", cfgnames);
}

/* The shipped VOC configs pass their class check (yolov2-voc: voc.names on
 * both sides; yolo9000: 9k.names through configs/9k-voc.map) on a one-image
 * VOC tree with seeded random weights, and yolo9000 without its map is
 * refused before anything is written. */
static int run_shipped(const char *config, const char *extra, const char *res, char **out)
{
    return tu_sh(out,
                 "'%s' run configs/%s.yaml --quiet -o model.weights= -o model.input=64x64 "
                 "-o dataset.images='%s/one.list' -o dataset.annotations='%s/one/Annotations' "
                 "-o 'sweep.split=[max_17]' -o 'sweep.bits=[8]' -o 'sweep.codec=[zlib]' "
                 "-o 'anchors=[]' -o 'bd=[]' -o output.plots=false -o output.dir='%s/%s' %s",
                 tu_bin(), config, g_dir, g_dir, g_dir, res, extra);
}

static void test_shipped_configs(void **state)
{
    (void)state;
    if (getenv("FEATRD_VALGRIND"))
        skip();
    char p[600];
    snprintf(p, sizeof p, "%s/one/JPEGImages", g_dir);
    assert_int_equal(tu_sh(NULL, "mkdir -p '%s' '%s/one/Annotations' && cp "
                                 "/usr/share/darknet/data/dog.jpg '%s/000001.jpg'",
                           p, g_dir, p),
                     0);
    char list[700];
    snprintf(list, sizeof list, "%s/one.list", g_dir);
    snprintf(p, sizeof p, "%s/one/JPEGImages/000001.jpg\n", g_dir);
    tu_write(list, p);
    snprintf(p, sizeof p, "%s/one/Annotations/000001.xml", g_dir);
    tu_write(p, "<annotation><size><width>768</width><height>576</height></size>\n"
                "<object><name>dog</name><difficult>0</difficult><bndbox><xmin>129</xmin>"
                "<ymin>224</ymin><xmax>314</xmax><ymax>541</ymax></bndbox></object>\n"
                "<object><name>bicycle</name><difficult>1</difficult><bndbox><xmin>128</xmin>"
                "<ymin>128</ymin><xmax>570</xmax><ymax>420</ymax></bndbox></object>\n"
                "</annotation>\n");
    char *out = NULL;
    int st = run_shipped("choi2018_yolov2voc", "", "res-v2", &out);
    if (st)
        fail_msg("%s", out);
    free(out);
    st = run_shipped("choi2018_yolo9000", "", "res-9k", &out);
    if (st)
        fail_msg("%s", out);
    free(out);
    for (int k = 0; k < 2; k++) {
        snprintf(p, sizeof p, "%s/%s/points.csv", g_dir, k ? "res-9k" : "res-v2");
        FrCsv *csv = NULL;
        FrError err = {0};
        if (fr_csv_read(p, &csv, &err))
            fail_msg("%s", err.msg);
        assert_int_equal(fr_csv_nrows(csv), 2); /* reference + one point */
        fr_csv_destroy(&csv);
    }
    st = run_shipped("choi2018_yolo9000", "-o dataset.class_map=", "res-9k-nomap", &out);
    assert_int_equal(st, 2);
    tu_assert_contains(out, "choi2018_yolo9000.yaml:");
    tu_assert_contains(out, "class 0 of the model is 'thing'");
    tu_assert_contains(out, "configs/9k-voc.map");
    free(out);
    snprintf(p, sizeof p, "%s/res-9k-nomap", g_dir);
    assert_int_not_equal(access(p, F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_difficult),
        cmocka_unit_test(test_detections_export),
        cmocka_unit_test(test_class_names),
        cmocka_unit_test(test_shipped_configs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
