/* test_metrics.c: VOC AP/mAP on hand-made cases with known answers, top-k,
 * argmax fidelity (seed 004 eq. 4, 5), rate figures and distortion. */
#include "testutil.h"
#include "bd/bd.h"
#include "metrics/metrics.h"

#include <math.h>

#define EPS 1e-12

static FrDetection det(int cls, double score, double x1, double y1, double x2, double y2)
{
    FrDetection d;
    memset(&d, 0, sizeof d);
    d.cls = cls;
    d.score = (float)score;
    d.x1 = (float)x1;
    d.y1 = (float)y1;
    d.x2 = (float)x2;
    d.y2 = (float)y2;
    return d;
}

static FrGtBox gtb(int cls, int difficult, double x1, double y1, double x2, double y2)
{
    FrGtBox g = {cls, difficult, {x1, y1, x2, y2}};
    return g;
}

static FrMapAcc *acc_new(int nclasses)
{
    FrMapSettings s;
    fr_map_defaults(&s);
    s.nclasses = nclasses;
    FrMapAcc *a = NULL;
    assert_int_equal(fr_map_create(&a, &s, NULL), 0);
    return a;
}

static void test_iou(void **state)
{
    (void)state;
    FrBox a = {0, 0, 9, 9}, b = {5, 0, 14, 9};
    /* devkit: 10-pixel-wide boxes, 5 columns shared: 50 / (100 + 100 - 50) */
    assert_true(fabs(fr_box_iou(&a, &b, 1) - 1.0 / 3.0) < EPS);
    /* continuous: 4*9 / (81 + 81 - 36) */
    assert_true(fabs(fr_box_iou(&a, &b, 0) - 36.0 / 126.0) < EPS);
    FrBox c = {20, 20, 30, 30};
    assert_true(fr_box_iou(&a, &c, 1) == 0.0);
    FrMapSettings s;
    fr_map_defaults(&s);
    assert_true(s.iou == 0.5 && s.plus_one == 1);
}

static void test_perfect_and_wrong(void **state)
{
    (void)state;
    FrMapAcc *a = acc_new(2);
    FrGtBox g[3] = {gtb(0, 0, 10, 10, 50, 50), gtb(1, 0, 60, 60, 90, 120), gtb(0, 0, 100, 0, 140, 30)};
    FrDetection d[3] = {det(0, 0.9, 10, 10, 50, 50), det(1, 0.8, 60, 60, 90, 120),
                        det(0, 0.3, 100, 0, 140, 30)};
    assert_int_equal(fr_map_add_image(a, g, 3, d, 3, NULL), 0);
    assert_int_equal(fr_map_add_image(a, NULL, 0, NULL, 0, NULL), 0);
    FrMapResult r;
    assert_int_equal(fr_map_finish(a, &r, NULL), 0);
    assert_true(r.map07 == 1.0 && r.map == 1.0);
    assert_int_equal(r.nclasses_with_gt, 2);
    assert_int_equal(r.npos[0], 2);
    assert_int_equal(r.ndet[1], 1);
    fr_map_result_free(&r);
    fr_map_destroy(&a);
    assert_null(a);

    /* all wrong: right class, wrong place; right place, wrong class */
    a = acc_new(2);
    FrGtBox g2[1] = {gtb(0, 0, 10, 10, 50, 50)};
    FrDetection d2[2] = {det(0, 0.9, 200, 200, 240, 240), det(1, 0.8, 10, 10, 50, 50)};
    assert_int_equal(fr_map_add_image(a, g2, 1, d2, 2, NULL), 0);
    assert_int_equal(fr_map_finish(a, &r, NULL), 0);
    assert_true(r.ap07[0] == 0.0 && r.ap[0] == 0.0);
    assert_true(isnan(r.ap[1])); /* no ground truth: left out of the mean */
    assert_int_equal(r.nclasses_with_gt, 1);
    assert_true(r.map == 0.0);
    fr_map_result_free(&r);
    fr_map_destroy(&a);
}

static void test_duplicates(void **state)
{
    (void)state;
    /* image A: gt A, a hit (0.9) and a duplicate (0.8); image B: hit (0.7).
     * Ranked TP FP TP over npos 2: recall .5 .5 1, precision 1 .5 2/3.
     * all-point: .5*1 + .5*2/3 = 5/6. 11-point: t = 0...0.5 -> 1 (6 of
     * them), t = 0.6...1 -> 2/3 (5): (6 + 10/3) / 11 = 28/33. If the
     * duplicate counted as a TP, recall would exceed 1. */
    FrMapAcc *a = acc_new(1);
    FrGtBox ga = gtb(0, 0, 0, 0, 99, 99), gb = gtb(0, 0, 10, 10, 20, 20);
    FrDetection da[2] = {det(0, 0.9, 0, 0, 99, 99), det(0, 0.8, 2, 2, 98, 97)};
    FrDetection db = det(0, 0.7, 10, 10, 20, 21);
    assert_int_equal(fr_map_add_image(a, &ga, 1, da, 2, NULL), 0);
    assert_int_equal(fr_map_add_image(a, &gb, 1, &db, 1, NULL), 0);
    FrMapResult r;
    assert_int_equal(fr_map_finish(a, &r, NULL), 0);
    assert_true(fabs(r.ap[0] - 5.0 / 6.0) < EPS);
    assert_true(fabs(r.ap07[0] - 28.0 / 33.0) < EPS);
    fr_map_result_free(&r);
    fr_map_destroy(&a);
}

static void test_difficult(void **state)
{
    (void)state;
    /* a detection on a difficult box is neither TP nor FP; a missed
     * difficult box costs no recall; a class with only difficult boxes has
     * no positives and is left out of the mean */
    FrMapAcc *a = acc_new(3);
    FrGtBox g[4] = {gtb(0, 0, 0, 0, 50, 50), gtb(0, 1, 100, 100, 150, 150),
                    gtb(0, 1, 200, 0, 250, 50), gtb(1, 1, 0, 200, 40, 240)};
    FrDetection d[3] = {det(0, 0.95, 100, 100, 150, 150), det(0, 0.6, 0, 0, 50, 50),
                        det(1, 0.9, 0, 200, 40, 240)};
    assert_int_equal(fr_map_add_image(a, g, 4, d, 3, NULL), 0);
    FrMapResult r;
    assert_int_equal(fr_map_finish(a, &r, NULL), 0);
    assert_int_equal(r.npos[0], 1);
    assert_int_equal(r.npos[1], 0);
    assert_true(r.ap[0] == 1.0 && r.ap07[0] == 1.0);
    assert_true(isnan(r.ap[1]) && isnan(r.ap07[1]));
    assert_int_equal(r.nclasses_with_gt, 1);
    assert_true(r.map == 1.0);
    fr_map_result_free(&r);
    fr_map_destroy(&a);
}

static void test_hand_worked(void **state)
{
    (void)state;
    /* Class 0, npos 4 (G1, G2 in image 1; G3, G4 in image 2). Detections by
     * score: .9 on G1 (T), .8 nowhere (F), .7 on G3 (T), .6 nowhere (F),
     * .5 duplicate of G1 (F), .4 on G2 (T); G4 is missed.
     *   cum TP  1    1    2    2    2    3
     *   cum FP  0    1    1    2    3    3
     *   recall .25  .25  .50  .50  .50  .75
     *   prec   1    .5   2/3  .5   .4   .5
     * All-point (VOC2010+): precision made monotone from the right:
     *   1, 2/3, 2/3, .5, .5, .5; recall steps at ranks 1, 3, 6:
     *   AP = .25*1 + .25*2/3 + .25*.5 = 13/24 = 0.541666...
     * 11-point (VOC2007): max precision at recall >= t:
     *   t = 0, .1, .2 -> 1; t = .3, .4, .5 -> 2/3; t = .6, .7 -> .5;
     *   t = .8, .9, 1 -> 0.  AP = (3 + 3*2/3 + 2*.5) / 11 = 6/11 = 0.5454...
     * Class 1: one box, found: AP 1. Class 2: detections but no ground
     * truth: excluded. mAP = (13/24 + 1)/2 and (6/11 + 1)/2. */
    FrMapAcc *a = acc_new(3);
    FrGtBox g1[3] = {gtb(0, 0, 0, 0, 40, 40), gtb(0, 0, 100, 100, 160, 140), gtb(1, 0, 0, 0, 40, 40)};
    FrDetection d1[5] = {det(0, 0.9, 1, 1, 41, 40), det(0, 0.8, 300, 300, 340, 340),
                         det(0, 0.5, 0, 2, 40, 41), det(0, 0.4, 102, 98, 160, 140),
                         det(1, 0.99, 0, 0, 40, 40)};
    FrGtBox g2[2] = {gtb(0, 0, 50, 50, 90, 90), gtb(0, 0, 200, 10, 260, 70)};
    FrDetection d2[3] = {det(0, 0.7, 52, 50, 90, 92), det(0, 0.6, 0, 300, 30, 330),
                         det(2, 0.8, 10, 10, 20, 20)};
    assert_int_equal(fr_map_add_image(a, g1, 3, d1, 5, NULL), 0);
    assert_int_equal(fr_map_add_image(a, g2, 2, d2, 3, NULL), 0);
    FrMapResult r;
    assert_int_equal(fr_map_finish(a, &r, NULL), 0);
    assert_true(fabs(r.ap[0] - 13.0 / 24.0) < EPS);
    assert_true(fabs(r.ap07[0] - 6.0 / 11.0) < EPS);
    assert_true(r.ap[1] == 1.0);
    assert_true(isnan(r.ap[2]));
    assert_int_equal(r.ndet[2], 1);
    assert_true(fabs(r.map - (13.0 / 24.0 + 1) / 2) < EPS);
    assert_true(fabs(r.map07 - (6.0 / 11.0 + 1) / 2) < EPS);
    fr_map_result_free(&r);

    /* finish does not consume: a third image with G5 found at top score
     * (npos 5): ranks T T F T F F T -> recall .2 .4 .4 .6 .6 .6 .8 */
    FrGtBox g3 = gtb(0, 0, 0, 0, 10, 10);
    FrDetection d3 = det(0, 0.95, 0, 0, 10, 10);
    assert_int_equal(fr_map_add_image(a, &g3, 1, &d3, 1, NULL), 0);
    assert_int_equal(fr_map_nimages(a), 3);
    assert_int_equal(fr_map_finish(a, &r, NULL), 0);
    /* precision 1 1 2/3 3/4 3/5 1/2 4/7; monotone: 1 1 .75 .75 4/7 4/7 4/7
     * AP = .2 + .2 + .2*.75 + .2*4/7 */
    assert_true(fabs(r.ap[0] - (0.4 + 0.15 + 0.8 / 7)) < EPS);
    fr_map_result_free(&r);

    /* the ranked-list functions directly */
    const uint8_t tp[6] = {1, 0, 1, 0, 0, 1}, fp[6] = {0, 1, 0, 1, 1, 0};
    assert_true(fabs(fr_ap_allpoint(tp, fp, 6, 4) - 13.0 / 24.0) < EPS);
    assert_true(fabs(fr_ap_voc07(tp, fp, 6, 4) - 6.0 / 11.0) < EPS);
    assert_true(isnan(fr_ap_voc07(tp, fp, 6, 0)));
    fr_map_destroy(&a);
}

/* Recall exactly 0.7 (49 of 70): the python devkit's threshold for k = 7 is
 * np.arange(0., 1.1, 0.1)[7] = 0.7000000000000001, which 49/70 = 0.7 misses,
 * so the precision-1 prefix counts for 7 thresholds, not 8 (k / 10.0). */
static void test_devkit_thresholds(void **state)
{
    (void)state;
    enum { N = 49 + 51 + 21 };
    uint8_t tp[N], fp[N];
    for (int i = 0; i < N; i++) {
        tp[i] = i < 49 || i >= 100;
        fp[i] = !tp[i];
    }
    /* after the 51 false positives precision climbs to 70/121 at recall 1 */
    double devkit = (7.0 + 4.0 * 70.0 / 121.0) / 11.0;
    double k10 = (8.0 + 3.0 * 70.0 / 121.0) / 11.0;
    double ap = fr_ap_voc07(tp, fp, N, 70);
    assert_true(fabs(ap - devkit) < EPS);
    assert_true(fabs(ap - k10) > 0.03);
    /* a recall just above 0.7 (50 of 70 first) keeps the eighth threshold */
    uint8_t tp2[N], fp2[N];
    for (int i = 0; i < N; i++) {
        tp2[i] = i < 50 || i >= 101;
        fp2[i] = !tp2[i];
    }
    assert_true(fabs(fr_ap_voc07(tp2, fp2, N, 70) - (8.0 + 3.0 * 70.0 / 121.0) / 11.0) < EPS);
}

static void test_bad_input(void **state)
{
    (void)state;
    FrMapSettings s;
    fr_map_defaults(&s);
    FrMapAcc *a = NULL;
    FrError err;
    assert_int_equal(fr_map_create(&a, &s, &err), FR_E_USAGE); /* nclasses 0 */
    a = acc_new(2);
    FrDetection d = det(5, 0.5, 0, 0, 1, 1);
    assert_int_equal(fr_map_add_image(a, NULL, 0, &d, 1, &err), FR_E_USAGE);
    tu_assert_contains(err.msg, "class 5 outside 0..1");
    FrGtBox g = gtb(0, 0, 0, 0, NAN, 1);
    assert_int_equal(fr_map_add_image(a, &g, 1, NULL, 0, &err), FR_E_USAGE);
    assert_int_equal(fr_map_nimages(a), 0);
    fr_map_destroy(&a);
}

/* A synthetic detector on n images: 1-3 objects each of 3 classes; per
 * object a detection that hits (jittered) or misses, plus clutter, scores
 * from a fixed LCG (distinct). */
static uint32_t rnd(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

typedef struct Synth {
    size_t n;
    FrGtBox gt[1000][3];
    size_t ngt[1000];
    FrDetection d[1000][6];
    size_t nd[1000];
} Synth;

static void synth(Synth *S, size_t n, uint32_t seed)
{
    S->n = n;
    for (size_t i = 0; i < n; i++) {
        S->ngt[i] = 1 + rnd(&seed) % 3;
        S->nd[i] = 0;
        for (size_t g = 0; g < S->ngt[i]; g++) {
            int c = (int)(rnd(&seed) % 3);
            double x = 10 + (double)(rnd(&seed) % 200), y = 10 + (double)(rnd(&seed) % 200);
            S->gt[i][g] = gtb(c, rnd(&seed) % 10 == 0, x, y, x + 40, y + 40);
            double sc = (rnd(&seed) % 100000) / 100000.0;
            if (rnd(&seed) % 4)
                S->d[i][S->nd[i]++] = det(c, sc, x + 3, y - 2, x + 41, y + 39);
            else
                S->d[i][S->nd[i]++] = det(c, sc * 0.5, x + 30, y + 30, x + 70, y + 70);
        }
        if (rnd(&seed) % 2)
            S->d[i][S->nd[i]++] = det((int)(rnd(&seed) % 3), (rnd(&seed) % 100000) / 200000.0, 300,
                                      300, 330, 330);
    }
}

static FrMapAcc *synth_acc(const Synth *S, const uint32_t *w)
{
    FrMapAcc *a = acc_new(3);
    for (size_t i = 0; i < S->n; i++)
        for (uint32_t k = 0; k < (w ? w[i] : 1); k++)
            assert_int_equal(fr_map_add_image(a, S->gt[i], S->ngt[i], S->d[i], S->nd[i], NULL), 0);
    return a;
}

/* Bootstrap: the weighted evaluation of the ranked detections equals the
 * mAP of the data set with every image really repeated w[i] times, for 40
 * replicates; unweighted equals fr_map_finish exactly; the percentile CI
 * computed from the repeated data sets equals the fast one; the interval
 * narrows as the image count grows (~1/sqrt(n)). */
static void test_bootstrap(void **state)
{
    (void)state;
    static Synth S;
    synth(&S, 120, 7u);
    FrMapAcc *a = synth_acc(&S, NULL);
    FrMapResult mr;
    assert_int_equal(fr_map_finish(a, &mr, NULL), 0);
    FrMapRanked *r = NULL;
    assert_int_equal(fr_map_rank(a, &r, NULL), 0);
    double m07, m;
    fr_map_ranked_eval(r, NULL, &m07, &m);
    assert_true(m07 == mr.map07 && m == mr.map);
    assert_true(mr.map07 > 0.3 && mr.map07 < 0.95);
    fr_map_result_free(&mr);
    uint32_t w[1000], w2[1000];
    enum { B = 40 };
    double fast[B], slow[B];
    for (int b = 0; b < B; b++) {
        fr_boot_counts(99, b, S.n, w);
        fr_boot_counts(99, b, S.n, w2);
        assert_memory_equal(w, w2, S.n * sizeof *w);
        uint32_t tot = 0;
        for (size_t i = 0; i < S.n; i++)
            tot += w[i];
        assert_int_equal(tot, S.n);
        fr_map_ranked_eval(r, w, &fast[b], &m);
        FrMapAcc *ab = synth_acc(&S, w);
        FrMapResult rb;
        assert_int_equal(fr_map_finish(ab, &rb, NULL), 0);
        slow[b] = rb.map07;
        tu_assert_near(fast[b], rb.map07, 1e-12);
        tu_assert_near(m, rb.map, 1e-12);
        fr_map_result_free(&rb);
        fr_map_destroy(&ab);
    }
    fr_boot_counts(99, 1, S.n, w2);
    fr_boot_counts(99, 0, S.n, w);
    assert_true(memcmp(w, w2, S.n * sizeof *w) != 0);
    double lo1, hi1, lo2, hi2;
    fr_ci_percentile(fast, B, 0.95, &lo1, &hi1);
    fr_ci_percentile(slow, B, 0.95, &lo2, &hi2);
    tu_assert_near(lo1, lo2, 1e-12);
    tu_assert_near(hi1, hi2, 1e-12);
    assert_true(lo1 < m07 && m07 < hi1);
    fr_map_ranked_destroy(&r);
    fr_map_destroy(&a);
    /* width vs n: 60 and 960 images from the same detector */
    double width[2];
    size_t ns[2] = {60, 960};
    for (int k = 0; k < 2; k++) {
        synth(&S, ns[k], 11u);
        a = synth_acc(&S, NULL);
        assert_int_equal(fr_map_rank(a, &r, NULL), 0);
        double v[200];
        for (int b = 0; b < 200; b++) {
            fr_boot_counts(5, b, S.n, w);
            fr_map_ranked_eval(r, w, &v[b], &m);
        }
        double lo, hi;
        fr_ci_percentile(v, 200, 0.95, &lo, &hi);
        width[k] = hi - lo;
        fr_map_ranked_destroy(&r);
        fr_map_destroy(&a);
    }
    print_message("95%% CI width of mAP07: %zu images %.4f, %zu images %.4f\n", ns[0], width[0],
                  ns[1], width[1]);
    assert_true(width[1] < width[0] / 2.5 && width[1] > width[0] / 6);
    /* percentile rule: numpy's linear interpolation */
    double v5[5] = {5, 1, 3, NAN, 2}, lo, hi;
    fr_ci_percentile(v5, 5, 0.5, &lo, &hi);
    tu_assert_near(lo, 1.75, 1e-15); /* np.percentile([1,2,3,5], 25) */
    tu_assert_near(hi, 3.5, 1e-15);  /* np.percentile([1,2,3,5], 75) */
    double wv[3] = {1, 2, 4};
    uint32_t ww[3] = {2, 0, 1};
    tu_assert_near(fr_boot_mean(wv, ww, 3), 2.0, 1e-15);
}

static void test_classification(void **state)
{
    (void)state;
    const float s[7] = {0.1f, 0.5f, 0.2f, 0.5f, 0.05f, 0.3f, 0.0f};
    assert_int_equal(fr_argmax(s, 7), 1); /* first of the tie */
    assert_true(fr_topk_hit(s, 7, 1, 1));
    assert_false(fr_topk_hit(s, 7, 3, 1)); /* tie broken toward the lower index */
    assert_true(fr_topk_hit(s, 7, 3, 2));
    assert_true(fr_topk_hit(s, 7, 2, 5));   /* ranks: 1 3 5 2 0 | 4 6 */
    assert_true(fr_topk_hit(s, 7, 0, 5));
    assert_false(fr_topk_hit(s, 7, 4, 5));
    assert_false(fr_topk_hit(s, 7, 9, 5));
    const float nanv[3] = {NAN, 1.0f, 2.0f};
    assert_int_equal(fr_argmax(nanv, 3), 2);

    FrClsAcc acc;
    fr_cls_acc_init(&acc);
    const float ref[7] = {0, 0, 0, 1, 0, 0, 0};
    fr_cls_acc_add(&acc, s, ref, 7, 1);  /* top1 hit, argmax 1 vs ref 3: disagree */
    fr_cls_acc_add(&acc, s, s, 7, 4);    /* miss, agree */
    fr_cls_acc_add(&acc, s, NULL, 7, 5); /* top5 only, no ref */
    fr_cls_acc_add(&acc, s, s, 7, -1);   /* unlabelled, agree */
    assert_true(fr_cls_top1(&acc) == 1.0 / 3.0);
    assert_true(fr_cls_top5(&acc) == 2.0 / 3.0);
    assert_true(fr_cls_fidelity(&acc) == 2.0 / 3.0);
    FrClsAcc empty;
    fr_cls_acc_init(&empty);
    assert_true(isnan(fr_cls_top1(&empty)));
}

static void test_dense(void **state)
{
    (void)state;
    FrTensor o, r;
    assert_int_equal(fr_tensor_alloc(&o, 3, 2, 2), 0);
    assert_int_equal(fr_tensor_alloc(&r, 3, 2, 2), 0);
    /* pixel p, channel c at data[c*4 + p]; argmax of o per pixel: 0 1 2 2,
     * of r: 0 1 1 0 -> 2 of 4 agree */
    const float ov[12] = {9, 0, 0, 0, /**/ 0, 9, 0, 1, /**/ 0, 0, 9, 2};
    const float rv[12] = {9, 0, 0, 5, /**/ 0, 9, 9, 1, /**/ 0, 0, 1, 2};
    memcpy(o.data, ov, sizeof ov);
    memcpy(r.data, rv, sizeof rv);
    double fid;
    assert_int_equal(fr_dense_fidelity(&o, &r, &fid, NULL), 0);
    assert_true(fid == 0.5);
    assert_int_equal(fr_dense_fidelity(&o, &o, &fid, NULL), 0);
    assert_true(fid == 1.0);
    FrTensor bad;
    assert_int_equal(fr_tensor_alloc(&bad, 2, 2, 2), 0);
    FrError err;
    assert_int_equal(fr_dense_fidelity(&o, &bad, &fid, &err), FR_E_MISMATCH);
    fr_tensor_free(&o);
    fr_tensor_free(&r);
    fr_tensor_free(&bad);
}

static void test_rate_and_distortion(void **state)
{
    (void)state;
    assert_true(fr_kbpi(123456.0) == 123.456);
    assert_true(fr_bits_per_image(3000.0, 4) == 750.0);
    assert_true(isnan(fr_bits_per_image(1.0, 0)));
    assert_true(fr_bits_per_element(64.0, 32) == 2.0);
    assert_true(fr_compression_rate(8.0 * 100, 32.0 * 100) == 0.25);
    const float v[8] = {0, 1, 0, -2, 0, 0, 3.5f, 0};
    assert_true(fr_nonzero_rate(v, 8) == 3.0 / 8.0);

    const uint16_t a[4] = {0, 10, 1023, 500}, b[4] = {2, 10, 1020, 500};
    assert_true(fr_mse_u16(a, b, 4) == (4.0 + 9.0) / 4.0);
    assert_true(fabs(fr_psnr_nbit(1.0, 8) - 48.13080360867910) < 1e-12);
    assert_true(fabs(fr_psnr_nbit(fr_mse_u16(a, b, 4), 10) - 10 * log10(1023.0 * 1023.0 / 3.25)) < 1e-12);
    assert_true(isinf(fr_psnr(0.0, 255)));

    FrTensor o, r;
    assert_int_equal(fr_tensor_alloc(&o, 1, 2, 2), 0);
    assert_int_equal(fr_tensor_alloc(&r, 1, 2, 2), 0);
    const float ov[4] = {-1, 0, 1, 3}, rv[4] = {-1, 0.5f, 1, 2};
    memcpy(o.data, ov, sizeof ov);
    memcpy(r.data, rv, sizeof rv);
    FrFeatureDistortion fd;
    assert_int_equal(fr_feature_distortion(&o, &r, &fd, NULL), 0);
    assert_true(fd.mse == (0.25 + 1.0) / 4.0);
    assert_true(fd.peak == 4.0);
    assert_true(fabs(fd.psnr - 10 * log10(16.0 / 0.3125)) < 1e-12);
    fr_tensor_free(&o);
    fr_tensor_free(&r);
}

/* fr_image_psnr8 / fr_image_ssim8 against tests/data/ssim_ref.py, an
 * independent pure-Python implementation (its output hard-coded here). */
static uint32_t lcg_state;
static uint32_t lcg(void)
{
    lcg_state = lcg_state * 1103515245u + 12345u;
    return lcg_state >> 16;
}

static void test_image_quality(void **state)
{
    (void)state;
    enum { W = 24, H = 20 };
    uint8_t a[W * H * 3], b[W * H * 3];
    lcg_state = 12345;
    for (int i = 0; i < W * H * 3; i++)
        a[i] = (uint8_t)(lcg() % 256);
    for (int i = 0; i < W * H * 3; i++) {
        int v = (int)a[i] + (int)(lcg() % 41) - 20;
        b[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    assert_true(fabs(fr_image_psnr8(a, b, W, H, 3) - 26.911126567319) < 1e-9);
    assert_true(fabs(fr_image_ssim8(a, b, W, H, 3) - 0.986702155422) < 1e-9);
    assert_true(fabs(fr_image_ssim8(a, a, W, H, 3) - 1.0) < 1e-12);
    assert_true(isinf(fr_image_psnr8(a, a, W, H, 3)));
    assert_true(isnan(fr_image_ssim8(a, b, 10, 20, 3))); /* smaller than the window */
    assert_true(isnan(fr_image_ssim8(a, b, W, H, 2)));
    /* the 8-bit picture of a tensor: clamp, round, interleave */
    FrTensor t = {0};
    assert_int_equal(fr_tensor_alloc(&t, 3, 1, 2), 0);
    const float v[6] = {-0.5f, 0.5f, 1.0f, 2.0f, 0.1f, 0.0f};
    memcpy(t.data, v, sizeof v);
    uint8_t px[6];
    fr_image_to_bytes(&t, px);
    const uint8_t want[6] = {0, 255, 26, 128, 255, 0}; /* pixel 0 then pixel 1 */
    assert_memory_equal(px, want, 6);
    fr_tensor_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iou),
        cmocka_unit_test(test_perfect_and_wrong),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_difficult),
        cmocka_unit_test(test_hand_worked),
        cmocka_unit_test(test_devkit_thresholds),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_bootstrap),
        cmocka_unit_test(test_classification),
        cmocka_unit_test(test_dense),
        cmocka_unit_test(test_rate_and_distortion),
        cmocka_unit_test(test_image_quality),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
