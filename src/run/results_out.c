/* results_out.c: what is made from a finished points.csv (featrd/run.h):
 * bd.csv (the Bjontegaard comparisons the config names, through featrd/bd.h)
 * and the plots (gnuplot run on plots/rd.gp with data files written here).
 * Nothing here computes results; it only reads points.csv. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "featrd.h"
#include "run/results_internal.h"
#include "bd/bd.h"
#include "config/config.h"
#include "metrics/metrics.h"
#include "util/csv.h"

/* points.csv column of a config metric. */
static const char *metric_column(int m)
{
    const FrMetricInfo *mi = fr_metric_info((FrMetric)m);
    return mi ? mi->column : NULL;
}

/* The k-th column of the registry's task metrics (those of one task), in
 * registry order, the order plots and bd.csv prefer them; NULL past the
 * last. */
static const char *task_col(int k)
{
    for (int c = 0; c < fr_metric_ncolumns(); c++) {
        int task = 0;
        for (int m = 0; m < fr_metric_count() && !task; m++)
            task = fr_metric_column_of(m) == c && fr_metric_info(m)->task != FR_TASK_AUTO;
        if (task && k-- == 0)
            return fr_metric_column_name(c);
    }
    return NULL;
}

static int col_has_value(const FrCsv *csv, int col)
{
    if (col < 0)
        return 0;
    for (size_t r = 0; r < fr_csv_nrows(csv); r++) {
        double v;
        if (!fr_csv_get_double(csv, r, col, &v, NULL) && isfinite(v))
            return 1;
    }
    return 0;
}

/* Distinct values of the curve column (in first-appearance order) of rows
 * whose kind column equals kind (NULL: every row). */
static int curve_names(const FrCsv *csv, const char *kind, char ***names, int *n)
{
    int cc = fr_csv_col(csv, "curve"), kc = fr_csv_col(csv, "kind");
    *names = NULL;
    *n = 0;
    if (cc < 0 || kc < 0)
        return 0;
    char **out = calloc(fr_csv_nrows(csv) + 1, sizeof *out);
    if (!out)
        return FR_E_NOMEM;
    int cnt = 0;
    for (size_t r = 0; r < fr_csv_nrows(csv); r++) {
        if (kind && strcmp(fr_csv_get(csv, r, kc), kind))
            continue;
        const char *c = fr_csv_get(csv, r, cc);
        int dup = 0;
        for (int k = 0; k < cnt && !dup; k++)
            dup = !strcmp(out[k], c);
        if (!dup)
            out[cnt++] = (char *)c;
    }
    *names = out;
    *n = cnt;
    return 0;
}

const char *fr_results_default_quality(const FrCsv *csv)
{
    for (int k = 0; task_col(k); k++)
        if (col_has_value(csv, fr_csv_col(csv, task_col(k))))
            return task_col(k);
    return NULL;
}

/* The replicates of one point: columns rcol and qcol of dir/boot/<id>.csv
 * into r[0..B) and q[0..B) (the file read once); returns B, or -1 when the
 * file is missing, unreadable or lacks a column. */
static int boot_columns(const char *dir, const char *id, const char *rcol, const char *qcol,
                        double *r, double *q, int cap)
{
    char path[4500];
    snprintf(path, sizeof path, "%s/boot/%s.csv", dir, id);
    FrCsv *b = NULL;
    if (fr_csv_read(path, &b, NULL))
        return -1;
    int rc = fr_csv_col(b, rcol), qc = fr_csv_col(b, qcol), n = (int)fr_csv_nrows(b);
    if (rc < 0 || qc < 0 || n > cap || n == 0) {
        fr_csv_destroy(&b);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (fr_csv_get_double_nf(b, (size_t)i, rc, &r[i], NULL))
            r[i] = NAN;
        if (fr_csv_get_double_nf(b, (size_t)i, qc, &q[i], NULL))
            q[i] = NAN;
    }
    fr_csv_destroy(&b);
    return n;
}

int fr_results_bd_curve(const char *dir, const FrCsv *csv, const char *name, const char *rate,
                        const char *quality, FrBdCurve *c, FrError *err)
{
    int rc = fr_bd_curve_from_csv(csv, "curve", name, rate, quality, c, err);
    if (rc)
        return rc;
    char lo[80], hi[80];
    snprintf(lo, sizeof lo, "%s_lo", quality);
    snprintf(hi, sizeof hi, "%s_hi", quality);
    int cc = fr_csv_col(csv, "curve"), lc = fr_csv_col(csv, lo), hc = fr_csv_col(csv, hi),
        ic = fr_csv_col(csv, "id");
    size_t nr = fr_csv_nrows(csv);
    if (lc >= 0 && hc >= 0) {
        c->q_lo = malloc(c->n * sizeof *c->q_lo);
        c->q_hi = malloc(c->n * sizeof *c->q_hi);
        if (!c->q_lo || !c->q_hi) {
            fr_bd_curve_free(c);
            return fr_error(err, FR_E_NOMEM, "out of memory");
        }
        size_t k = 0;
        int ok = 1;
        for (size_t r = 0; r < nr && k < c->n; r++) {
            if (strcmp(fr_csv_get(csv, r, cc), name))
                continue;
            if (fr_csv_get_double_nf(csv, r, lc, &c->q_lo[k], NULL) ||
                fr_csv_get_double_nf(csv, r, hc, &c->q_hi[k], NULL) || !isfinite(c->q_lo[k]) ||
                !isfinite(c->q_hi[k]))
                ok = 0;
            k++;
        }
        if (!ok) {
            free(c->q_lo);
            free(c->q_hi);
            c->q_lo = c->q_hi = NULL;
        }
    }
    if (!dir || ic < 0 || strcmp(rate, "kbpi"))
        return 0;
    enum { CAP = 100000 };
    double *tr = malloc(CAP * sizeof *tr), *tq = malloc(CAP * sizeof *tq);
    if (!tr || !tq) {
        free(tr);
        free(tq);
        return 0;
    }
    int B = 0;
    size_t k = 0;
    for (size_t r = 0; r < nr && k < c->n; r++) {
        if (strcmp(fr_csv_get(csv, r, cc), name))
            continue;
        int nb = boot_columns(dir, fr_csv_get(csv, r, ic), "kbpi", quality, tr, tq, CAP);
        if (nb <= 0 || (B && nb != B))
            goto none;
        if (!B) {
            B = nb;
            c->rep_rate = malloc(c->n * (size_t)B * sizeof *c->rep_rate);
            c->rep_quality = malloc(c->n * (size_t)B * sizeof *c->rep_quality);
            if (!c->rep_rate || !c->rep_quality)
                goto none;
        }
        memcpy(c->rep_rate + k * (size_t)B, tr, (size_t)B * sizeof *tr);
        memcpy(c->rep_quality + k * (size_t)B, tq, (size_t)B * sizeof *tq);
        k++;
    }
    c->nrep = B;
    free(tr);
    free(tq);
    return 0;
none:
    free(tr);
    free(tq);
    free(c->rep_rate);
    free(c->rep_quality);
    c->rep_rate = c->rep_quality = NULL;
    c->nrep = 0;
    return 0;
}

const char *fr_bd_csv_header(void)
{
    return "anchor,test,method,rate,quality,anchor_points,test_points,anchor_used,test_used,"
           "bd_rate_pct,bd_rate_lo,bd_rate_hi,bd_quality,bd_quality_lo,bd_quality_hi,"
           "pchip_rate_pct,cubic_rate_pct,pchip_quality,cubic_quality,quality_overlap,"
           "rate_overlap,quality_span,span_threshold,replicates,significant,valid,reason";
}

int fr_results_write_bd(const char *dir, const FrExperiment *e, FrError *err)
{
    char path[4400];
    fr_results_name(path, sizeof path, dir, "points", "csv", 0, 1);
    FrCsv *csv = NULL;
    int rc = fr_csv_read(path, &csv, err);
    if (rc)
        return rc;
    FrText t = {0};
    fr_text_printf(&t, "%s\n", fr_bd_csv_header());
    char **curves = NULL;
    int ncurves = 0;
    rc = curve_names(csv, NULL, &curves, &ncurves);
    for (int b = 0; b < e->n_bd && !rc; b++) {
        const FrBdSpec *s = &e->bd[b];
        const char *rate = s->rate ? s->rate : "kbpi";
        const char *qual = s->quality;
        if (qual && fr_metric_from_name(qual) >= 0) /* a metric: its points.csv column */
            qual = metric_column(fr_metric_from_name(qual));
        if (!qual && e->n_metrics)
            qual = metric_column(e->metrics[0]);
        if (!qual)
            qual = fr_results_default_quality(csv);
        if (!qual) {
            rc = fr_error(err, FR_E_FORMAT, "%s: no task metric column with values for bd", path);
            break;
        }
        FrBdOptions o;
        fr_bd_options_defaults(&o);
        o.method = s->method;
        o.monotone = s->monotone;
        o.min_span = s->min_span;
        o.level = e->bootstrap.level;
        FrBdCurve anchor = {0};
        rc = fr_results_bd_curve(dir, csv, s->anchor, rate, qual, &anchor, err);
        if (rc) {
            char msg[1100];
            snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
            rc = fr_experiment_error(e, err, FR_E_CONFIG, "bd", "anchor '%s': %s", s->anchor, msg);
            break;
        }
        int matched = 0;
        for (int c = 0; c < ncurves && !rc; c++) {
            if (strcmp(curves[c], s->test) && fnmatch(s->test, curves[c], 0))
                continue;
            if (!strcmp(curves[c], s->anchor) || !strcmp(curves[c], "reference") ||
                strstr(curves[c], ":reference-yuv"))
                continue;
            matched++;
            FrBdCurve test = {0};
            FrBdReport rep;
            memset(&rep, 0, sizeof rep);
            FrError e2 = {0};
            int r2 = fr_results_bd_curve(dir, csv, curves[c], rate, qual, &test, &e2);
            if (!r2)
                r2 = fr_bd_report(&anchor, &test, &o, curves[c], &rep, &e2);
            if (r2) {
                rep.valid = 0;
                snprintf(rep.reason, sizeof rep.reason, "%.700s", e2.msg);
                rep.rate_pct = rep.quality = rep.rate_lo = rep.rate_hi = NAN;
                rep.quality_lo = rep.quality_hi = rep.pchip_rate_pct = rep.cubic_rate_pct = NAN;
                rep.pchip_quality = rep.cubic_quality = rep.quality_overlap = NAN;
                rep.rate_overlap = rep.quality_span = rep.span_threshold = NAN;
            }
            fr_text_csv_field(&t, s->anchor, ',');
            fr_text_csv_field(&t, curves[c], ',');
            fr_text_csv_field(&t, fr_bd_method_name(s->method), ',');
            fr_text_csv_field(&t, rate, ',');
            fr_text_csv_field(&t, qual, ',');
            fr_text_printf(&t, "%zu,%zu,%zu,%zu,", anchor.n, test.n, rep.anchor_used,
                           rep.test_used);
            double v[] = {rep.rate_pct,       rep.rate_lo,        rep.rate_hi,
                          rep.quality,        rep.quality_lo,     rep.quality_hi,
                          rep.pchip_rate_pct, rep.cubic_rate_pct, rep.pchip_quality,
                          rep.cubic_quality,  rep.quality_overlap, rep.rate_overlap,
                          rep.quality_span,   rep.span_threshold};
            for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
                fr_text_csv_double(&t, v[k], ',');
            fr_text_printf(&t, "%d,%s,%s,", rep.boot_total,
                           rep.boot_total ? (rep.significant ? "yes" : "no") : "",
                           rep.valid ? "yes" : "no");
            fr_text_csv_field(&t, rep.reason, '\n');
            fr_bd_curve_free(&test);
        }
        fr_bd_curve_free(&anchor);
        if (!matched && !rc)
            rc = fr_experiment_error(e, err, FR_E_CONFIG, "bd",
                                     "test '%s' matches no curve of %s", s->test, path);
    }
    if (!rc) {
        fr_results_name(path, sizeof path, dir, "bd", "csv", 0, 1);
        rc = fr_text_write_atomic(&t, path, err);
    }
    fr_text_free(&t);
    free(curves);
    fr_csv_destroy(&csv);
    return rc;
}

/* ---------------- paired deltas against the reference ---------------- */

const char *fr_vs_reference_csv_header(void)
{
    return "id,curve,desc,kind,kbpi,metric,value,reference,delta,delta_lo,delta_hi,replicates,"
           "verdict";
}

int fr_results_write_vs_reference(const char *dir, double level, FrError *err)
{
    char path[4400];
    fr_results_name(path, sizeof path, dir, "points", "csv", 0, 1);
    FrCsv *csv = NULL;
    int rc = fr_csv_read(path, &csv, err);
    if (rc)
        return rc;
    int kc = fr_csv_col(csv, "kind"), ic = fr_csv_col(csv, "id"), cc = fr_csv_col(csv, "curve"),
        dc = fr_csv_col(csv, "desc"), rc_k = fr_csv_col(csv, "kbpi");
    size_t nr = fr_csv_nrows(csv), ref = nr;
    for (size_t r = 0; kc >= 0 && r < nr && ref == nr; r++)
        if (!strcmp(fr_csv_get(csv, r, kc), "reference"))
            ref = r;
    FrText t = {0};
    fr_text_printf(&t, "%s\n", fr_vs_reference_csv_header());
    enum { CAP = 100000 };
    double *pr = malloc(CAP * sizeof *pr), *pq = malloc(CAP * sizeof *pq);
    double *rr = malloc(CAP * sizeof *rr), *rq = malloc(CAP * sizeof *rq);
    if (!pr || !pq || !rr || !rq) {
        rc = fr_error(err, FR_E_NOMEM, "out of memory");
        goto done;
    }
    /* fidelity is 1 at the reference by definition: its own column says it */
    static const char *const cols[] = {"map07", "map", "top1", "top5"};
    for (size_t m = 0; ref < nr && ic >= 0 && m < sizeof cols / sizeof cols[0]; m++) {
        int qc = fr_csv_col(csv, cols[m]);
        double refv;
        if (qc < 0 || fr_csv_get_double_nf(csv, ref, qc, &refv, NULL) || !isfinite(refv))
            continue;
        int rb = boot_columns(dir, fr_csv_get(csv, ref, ic), "kbpi", cols[m], rr, rq, CAP);
        for (size_t r = 0; r < nr; r++) {
            double v, kb = NAN;
            if (r == ref || fr_csv_get_double_nf(csv, r, qc, &v, NULL) || !isfinite(v))
                continue;
            if (rc_k >= 0 && fr_csv_get_double_nf(csv, r, rc_k, &kb, NULL))
                kb = NAN;
            /* the same resampled image sets at every point (fr_boot_counts),
             * so replicate b of the point pairs with replicate b of the
             * reference: the interval is of the difference itself */
            int pb = rb > 0 ? boot_columns(dir, fr_csv_get(csv, r, ic), "kbpi", cols[m], pr, pq,
                                           CAP)
                            : -1;
            int B = 0;
            double lo = NAN, hi = NAN;
            if (pb == rb && pb > 0) {
                for (int b = 0; b < pb; b++)
                    if (isfinite(pq[b]) && isfinite(rq[b]))
                        pq[B++] = pq[b] - rq[b];
                if (B > 0)
                    fr_ci_percentile(pq, (size_t)B, level, &lo, &hi);
            }
            const char *verdict = !B ? "no-ci" : hi < 0 ? "lower" : lo > 0 ? "higher" : "equal";
            fr_text_csv_field(&t, fr_csv_get(csv, r, ic), ',');
            fr_text_csv_field(&t, cc >= 0 ? fr_csv_get(csv, r, cc) : "", ',');
            fr_text_csv_field(&t, dc >= 0 ? fr_csv_get(csv, r, dc) : "", ',');
            fr_text_csv_field(&t, kc >= 0 ? fr_csv_get(csv, r, kc) : "", ',');
            fr_text_csv_double(&t, kb, ',');
            fr_text_csv_field(&t, cols[m], ',');
            fr_text_csv_double(&t, v, ',');
            fr_text_csv_double(&t, refv, ',');
            fr_text_csv_double(&t, v - refv, ',');
            fr_text_csv_double(&t, lo, ',');
            fr_text_csv_double(&t, hi, ',');
            fr_text_printf(&t, "%d,%s\n", B, verdict);
        }
    }
    if (t.oom)
        rc = fr_error(err, FR_E_NOMEM, "out of memory");
    if (!rc) {
        fr_results_name(path, sizeof path, dir, "vs_reference", "csv", 0, 1);
        rc = fr_text_write_atomic(&t, path, err);
    }
done:
    free(pr);
    free(pq);
    free(rr);
    free(rq);
    fr_text_free(&t);
    fr_csv_destroy(&csv);
    return rc;
}

/* ---------------- plots ---------------- */

/* ---- curve names as key=value lists ---- */

#define MAX_AXES 24

typedef struct Axes {
    int n;
    char key[MAX_AXES][32];
    char val[MAX_AXES][96];
} Axes;

static void parse_axes(const char *curve, Axes *a)
{
    a->n = 0;
    const char *p = curve;
    while (p && *p && a->n < MAX_AXES) {
        const char *eq = strchr(p, '='), *end = strchr(p, ',');
        if (!eq || (end && eq > end))
            break;
        size_t kl = (size_t)(eq - p), vl = end ? (size_t)(end - eq - 1) : strlen(eq + 1);
        snprintf(a->key[a->n], sizeof a->key[0], "%.*s", (int)(kl < 31 ? kl : 31), p);
        snprintf(a->val[a->n], sizeof a->val[0], "%.*s", (int)(vl < 95 ? vl : 95), eq + 1);
        a->n++;
        p = end ? end + 1 : NULL;
    }
}

static const char *axis_val(const Axes *a, const char *key)
{
    for (int i = 0; i < a->n; i++)
        if (!strcmp(a->key[i], key))
            return a->val[i];
    return NULL;
}

/* A codec column value: a registered codec without a QP gives one point,
 * not a curve (anchors' hevc-420/jpeg and the reference are not codecs
 * here and never reach this). */
static int is_lossless_codec(const char *c)
{
    const FrCodec *k = fr_codec_find(c);
    return !k || !(k->caps & FR_CODEC_LOSSY);
}

/* One legend label part: "max_5", "10-bit", "quilt", "alloc=sensitivity". */
static void label_part(FrText *t, const char *key, const char *val)
{
    if (t->len)
        fr_text_printf(t, " ");
    if (!strcmp(key, "split") || !strcmp(key, "packing") || !strcmp(key, "codec"))
        fr_text_printf(t, "%s", val);
    else if (!strcmp(key, "bits"))
        fr_text_printf(t, "%s-bit", val);
    else if (!strcmp(key, "range"))
        fr_text_printf(t, "%s-range", val);
    else if (!strcmp(key, "alloc"))
        fr_text_printf(t, "%s QP", val);
    else
        fr_text_printf(t, "%s=%s", key, val);
}

/* A plotted group: the lossy points of one curve, or the lossless points of
 * one curve less its bit depth (labelled by bit depth, not joined). */
typedef struct Group {
    char key[1024];
    char hue[1024]; /* the key less its split: one colour per hue, one marker per split */
    char title[256];
    int split_no;
    int lossless;
    int dash;
    int colour; /* palette index, set when plotted */
} Group;

/* Group j was plotted before k and has k's hue. */
static int grp_of_hue_seen(const Group *g, int j, int k)
{
    return g[j].colour >= 0 && !strcmp(g[j].hue, g[k].hue);
}

static const char *metric_label(const char *col)
{
    if (!strcmp(col, "map07"))
        return "mAP@0.5 (VOC07 11-point)";
    if (!strcmp(col, "map"))
        return "mAP@0.5 (all-point)";
    if (!strcmp(col, "top1"))
        return "top-1 accuracy";
    if (!strcmp(col, "top5"))
        return "top-5 accuracy";
    if (!strcmp(col, "fidelity"))
        return "fidelity";
    if (!strcmp(col, "psnr"))
        return "feature PSNR (dB)";
    if (!strcmp(col, "recon_psnr"))
        return "reconstructed input image: PSNR (dB, 8-bit RGB)";
    if (!strcmp(col, "recon_ssim"))
        return "reconstructed input image: SSIM (luma)";
    return col; /* a metric merged by featrd score: its own name */
}

static void put_val(FrText *t, const FrCsv *csv, size_t r, int col, char end)
{
    double v;
    if (col >= 0 && !fr_csv_get_double_nf(csv, r, col, &v, NULL) && isfinite(v))
        fr_text_printf(t, "%.17g%c", v, end);
    else
        fr_text_printf(t, "NaN%c", end);
}

/* A PNG ends with its IEND chunk, an SVG with </svg>: anything else is a
 * write gnuplot did not finish (disk full) even when it exits 0. */
static int plot_complete(const char *path, int png)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char tail[64] = {0};
    long n = 0;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 12) {
        long k = n < (long)sizeof tail - 1 ? n : (long)sizeof tail - 1;
        if (fseek(f, -k, SEEK_END) != 0 || fread(tail, 1, (size_t)k, f) != (size_t)k)
            n = 0;
        tail[k] = 0;
        if (png)
            n = n && !memcmp(tail + k - 12, "\0\0\0\0IEND\xae\x42\x60\x82", 12);
        else
            n = n && strstr(tail, "</svg>") != NULL;
    } else {
        n = 0;
    }
    fclose(f);
    return n != 0;
}

static int commit_plots(const char *tmp, const char *final, FrError *err)
{
    static const char *ext[2] = {"png", "svg"};
    char a[2][4600], b[4600];
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        snprintf(a[i], sizeof a[i], "%s.%s", tmp, ext[i]);
        if (!rc && !plot_complete(a[i], i == 0))
            rc = fr_error(err, FR_E_IO, "%s.%s: gnuplot did not write it completely (disk full?); "
                          "the previous plot is kept", final, ext[i]);
    }
    for (int i = 0; i < 2; i++) {
        snprintf(b, sizeof b, "%s.%s", final, ext[i]);
        if (!rc && rename(a[i], b) != 0)
            rc = fr_error(err, FR_E_IO, "%s: cannot write it (%s)", b, strerror(errno));
        if (rc)
            unlink(a[i]);
    }
    return rc;
}

static int plot_metric(const FrCsv *csv, const char *dir, const char *scripts, const char *col,
                       FrError *err)
{
    char lo_name[64], hi_name[64];
    snprintf(lo_name, sizeof lo_name, "%s_lo", col);
    snprintf(hi_name, sizeof hi_name, "%s_hi", col);
    int mc = fr_csv_col(csv, col), kc = fr_csv_col(csv, "kind"), cc = fr_csv_col(csv, "curve"),
        rc_ = fr_csv_col(csv, "kbpi"), bc = fr_csv_col(csv, "bits"), cdc = fr_csv_col(csv, "codec"),
        qc = fr_csv_col(csv, "qp"), loc = fr_csv_col(csv, lo_name), hic = fr_csv_col(csv, hi_name),
        anc = fr_csv_col(csv, "quality");
    size_t nr = fr_csv_nrows(csv);
    Group *g = calloc(nr + 1, sizeof *g);
    int *grp_of = calloc(nr + 1, sizeof *grp_of);
    Axes *ax = calloc(nr + 1, sizeof *ax);
    char splits[32][96];
    int nsplits = 0, ng = 0;
    double ref = NAN, xmin = INFINITY, xmax = -INFINITY;
    if (!g || !grp_of || !ax) {
        free(g);
        free(grp_of);
        free(ax);
        return fr_error(err, FR_E_NOMEM, "out of memory");
    }
    /* Which axes vary between the feature curves: those, and only those,
     * name the curves (a packing ablation is labelled by packing). */
    Axes all = {0};
    int varies[MAX_AXES] = {0};
    for (size_t r = 0; r < nr; r++) {
        grp_of[r] = -1;
        if (strcmp(fr_csv_get(csv, r, kc), "feature"))
            continue;
        parse_axes(fr_csv_get(csv, r, cc), &ax[r]);
        for (int i = 0; i < ax[r].n; i++) {
            const char *k = ax[r].key[i];
            int j = 0;
            while (j < all.n && strcmp(all.key[j], k))
                j++;
            if (j == all.n && all.n < MAX_AXES) {
                snprintf(all.key[j], sizeof all.key[0], "%s", k);
                snprintf(all.val[j], sizeof all.val[0], "%s", ax[r].val[i]);
                all.n++;
            } else if (j < all.n && strcmp(all.val[j], ax[r].val[i])) {
                varies[j] = 1;
            }
        }
    }
    /* lossy curves' distinct bit depths give dash patterns */
    char bitvals[8][16];
    int nbits = 0;
    for (size_t r = 0; r < nr; r++) {
        double v;
        if (!strcmp(fr_csv_get(csv, r, kc), "reference")) {
            if (!fr_csv_get_double_nf(csv, r, mc, &v, NULL))
                ref = v;
            continue;
        }
        if (strcmp(fr_csv_get(csv, r, kc), "feature") && strcmp(fr_csv_get(csv, r, kc), "anchor"))
            continue;
        if (!fr_csv_get_double_nf(csv, r, rc_, &v, NULL) && v > 0 && isfinite(v)) {
            double y;
            if (!fr_csv_get_double_nf(csv, r, mc, &y, NULL) && isfinite(y)) {
                xmin = fmin(xmin, v);
                xmax = fmax(xmax, v);
            }
        }
        if (strcmp(fr_csv_get(csv, r, kc), "feature"))
            continue;
        const char *codec = fr_csv_get(csv, r, cdc);
        const char *split = axis_val(&ax[r], "split");
        if (!split)
            split = "";
        int sn = -1;
        for (int k = 0; k < nsplits; k++)
            if (!strcmp(splits[k], split))
                sn = k;
        if (sn < 0 && nsplits < 32) {
            snprintf(splits[nsplits], sizeof splits[0], "%s", split);
            sn = nsplits++;
        }
        int lossless = is_lossless_codec(codec);
        const char *bits = axis_val(&ax[r], "bits");
        int bn = 0;
        if (!lossless && bits) {
            while (bn < nbits && strcmp(bitvals[bn], bits))
                bn++;
            if (bn == nbits && nbits < 8)
                snprintf(bitvals[nbits++], sizeof bitvals[0], "%s", bits);
        }
        /* group key and label from the varying axes (bits left out of
         * lossless groups: their points carry it) */
        FrText key = {0}, title = {0}, hue = {0};
        fr_text_printf(&key, "%c", lossless ? 'L' : 'C');
        fr_text_printf(&hue, "%c", lossless ? 'L' : 'C');
        for (int i = 0; i < ax[r].n; i++) {
            int j = 0;
            while (j < all.n && strcmp(all.key[j], ax[r].key[i]))
                j++;
            int is_bits = !strcmp(ax[r].key[i], "bits");
            if (!(lossless && is_bits))
                fr_text_printf(&key, "|%s=%s", ax[r].key[i], ax[r].val[i]);
            if (!(lossless && is_bits) && strcmp(ax[r].key[i], "split"))
                fr_text_printf(&hue, "|%s=%s", ax[r].key[i], ax[r].val[i]);
            /* the split always (the primary axis), then what varies */
            if ((j < all.n && varies[j] && !(lossless && is_bits)) ||
                !strcmp(ax[r].key[i], "split"))
                label_part(&title, ax[r].key[i], ax[r].val[i]);
        }
        if (!title.len)
            label_part(&title, "split", split);
        if (lossless && !strstr(title.s ? title.s : "", "lossless"))
            fr_text_printf(&title, " lossless");
        if (lossless)
            fr_text_printf(&title, " (points: bit depth)");
        int gi = -1;
        for (int k = 0; k < ng; k++)
            if (key.s && !strcmp(g[k].key, key.s))
                gi = k;
        if (gi < 0 && key.s && title.s) {
            gi = ng++;
            snprintf(g[gi].key, sizeof g[gi].key, "%s", key.s);
            snprintf(g[gi].hue, sizeof g[gi].hue, "%s", hue.s);
            snprintf(g[gi].title, sizeof g[gi].title, "%s", title.s);
            g[gi].split_no = sn;
            g[gi].lossless = lossless;
            g[gi].dash = lossless ? 1 : bn + 1;
            g[gi].colour = -1;
        }
        fr_text_free(&key);
        fr_text_free(&title);
        fr_text_free(&hue);
        grp_of[r] = gi;
    }
    /* One data file: feature groups first (one index block each), then
     * anchors, then reference-yuv levels. Columns: kbpi, metric, lo, hi, label. */
    char **anchors = NULL, **yuvs = NULL;
    int nanch = 0, nyuv = 0;
    curve_names(csv, "anchor", &anchors, &nanch);
    curve_names(csv, "reference-yuv", &yuvs, &nyuv);
    FrText t = {0}, colors = {0}, dashes = {0}, points = {0};
    /* Okabe-Ito (colour-blind safe), black kept for anchors */
    static const char *palette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00",
                                    "#56B4E9", "#8C6D1F"};
    /* lossless points: Paul Tol's muted set, apart from the lossy curves' */
    static const char *palette_ll[] = {"#332288", "#882255", "#117733", "#44AA99", "#AA4499",
                                       "#999933"};
    static const int filled[] = {7, 9, 5, 13, 11, 15}, open[] = {6, 8, 4, 12, 10, 14};
    int nlossy = 0, nblk = 0, hues = 0, hues_ll = 0; /* lossy groups; colours used */
    for (int pass = 0; pass < 2; pass++)
    for (int k = 0; k < ng; k++) {
        if (g[k].lossless != pass)
            continue;
        fr_text_printf(&t, "\"%s\" \"%s\" x x x\n", g[k].title, col);
        for (size_t r = 0; r < nr; r++) {
            if (grp_of[r] != k)
                continue;
            put_val(&t, csv, r, rc_, ' ');
            put_val(&t, csv, r, mc, ' ');
            put_val(&t, csv, r, loc, ' ');
            put_val(&t, csv, r, hic, ' ');
            fr_text_printf(&t, "%s\n", g[k].lossless ? fr_csv_get(csv, r, bc) : fr_csv_get(csv, r, qc));
        }
        fr_text_printf(&t, "\n\n");
        /* a colour per hue (the curve less its split: the codec, bits, ...)
         * in order of appearance, a marker per split: a codec ladder at two
         * splits reads as one colour per codec */
        int ci = -1;
        for (int j = 0; j < k && ci < 0; j++)
            if (g[j].lossless == g[k].lossless && grp_of_hue_seen(g, j, k))
                ci = g[j].colour;
        if (ci < 0)
            ci = g[k].lossless ? hues_ll++ : hues++;
        g[k].colour = ci;
        nlossy += !g[k].lossless;
        const char *sep = nblk++ ? " " : "";
        fr_text_printf(&colors, "%s%s", sep, g[k].lossless ? palette_ll[ci % 6] : palette[ci % 7]);
        fr_text_printf(&dashes, "%s%d", sep, g[k].dash);
        fr_text_printf(&points, "%s%d", sep,
                       g[k].lossless ? open[g[k].split_no % 6] : filled[g[k].split_no % 6]);
    }
    for (int a = 0; a < nanch; a++) {
        fr_text_printf(&t, "\"%s (cloud-only)\" \"%s\" x x x\n", anchors[a], col);
        for (size_t r = 0; r < nr; r++)
            if (!strcmp(fr_csv_get(csv, r, kc), "anchor") &&
                !strcmp(fr_csv_get(csv, r, cc), anchors[a])) {
                put_val(&t, csv, r, rc_, ' ');
                put_val(&t, csv, r, mc, ' ');
                put_val(&t, csv, r, loc, ' ');
                put_val(&t, csv, r, hic, ' ');
                const char *q = fr_csv_get(csv, r, qc);
                fr_text_printf(&t, "%s\n", strcmp(q, "-1") ? q : fr_csv_get(csv, r, anc));
            }
        fr_text_printf(&t, "\n\n");
    }
    FrText yuvlev = {0}, yuvtit = {0};
    for (int a = 0; a < nyuv; a++)
        for (size_t r = 0; r < nr; r++)
            if (!strcmp(fr_csv_get(csv, r, cc), yuvs[a])) {
                double v;
                if (fr_csv_get_double_nf(csv, r, mc, &v, NULL) || !isfinite(v))
                    continue;
                fr_text_printf(&yuvlev, "%s%.17g", yuvlev.len ? " " : "", v);
                size_t at = yuvtit.len + (yuvtit.len ? 1 : 0);
                fr_text_printf(&yuvtit, "%s%s", yuvtit.len ? " " : "", yuvs[a]);
                for (size_t q = at; yuvtit.s && q < yuvtit.len; q++)
                    if (yuvtit.s[q] == ' ' || yuvtit.s[q] == '\t')
                        yuvtit.s[q] = '_';
                break;
            }
    free(anchors);
    free(yuvs);
    free(g);
    free(grp_of);
    free(ax);
    char dat[4400], out[4400], gp[4400];
    snprintf(dat, sizeof dat, "%s/plot_%s.dat", dir, col);
    /* gnuplot writes NAME.tmp.PID.{png,svg}; they replace NAME.{png,svg}
     * only once complete (a full disk leaves a truncated PNG and exit 0) */
    char final[4300];
    snprintf(final, sizeof final, "%s/rd_%.200s", dir, col);
    snprintf(out, sizeof out, "%s.tmp.%ld", final, (long)getpid());
    snprintf(gp, sizeof gp, "%s/rd.gp", scripts);
    int rc = fr_text_write_atomic(&t, dat, err);
    fr_text_free(&t);
    /* The directory's name titles the plot; quotes would end the -e string. */
    char title[256];
    const char *base = strrchr(dir, '/');
    snprintf(title, sizeof title, "%s: %s vs rate", base && base[1] ? base + 1 : dir, col);
    for (char *q = title; *q; q++)
        if (*q == '\'' || *q == '"' || *q == '\\' || *q == '$' || *q == '`')
            *q = '_';
    /* names are words of one string for gnuplot's word() */
    for (size_t q = 0; yuvtit.s && q < yuvtit.len; q++)
        if (yuvtit.s[q] == '\'' || yuvtit.s[q] == '"' || yuvtit.s[q] == '\\' ||
            yuvtit.s[q] == '$' || yuvtit.s[q] == '`')
            yuvtit.s[q] = '_';
    char refs[64];
    if (isfinite(ref))
        snprintf(refs, sizeof refs, "%.17g", ref);
    else
        snprintf(refs, sizeof refs, "NaN");
    if (!(xmin > 0 && isfinite(xmax))) {
        xmin = 1;
        xmax = 1000;
    }
    /* legend below the plot, two columns: the canvas grows with it */
    int entries = ng + nanch + nyuv + 1, height = 520 + 19 * ((entries + 1) / 2);
    FrText vars = {0};
    if (!rc)
        fr_text_printf(&vars,
                       "title='%s'; datafile='%s'; outbase='%s'; nfeat=%d; nanch=%d; "
                       "colors='%s'; dashes='%s'; points='%s'; nlossy=%d; ylabel='%s'; ref=%s; "
                       "xmin=%.6g; xmax=%.6g; height=%d; yuvlev='%s'; yuvtit='%s'",
                       title, dat, out, ng, nanch, colors.s ? colors.s : "",
                       dashes.s ? dashes.s : "", points.s ? points.s : "",
                       nlossy, metric_label(col), refs, xmin / 1.25, xmax * 1.25,
                       height, yuvlev.s ? yuvlev.s : "", yuvtit.s ? yuvtit.s : "");
    fr_text_free(&colors);
    fr_text_free(&dashes);
    fr_text_free(&points);
    fr_text_free(&yuvlev);
    fr_text_free(&yuvtit);
    if (!rc)
        rc = vars.s ? fr_gnuplot_run(gp, vars.s, err) : fr_error(err, FR_E_NOMEM, "out of memory");
    fr_text_free(&vars);
    if (!rc) {
        rc = commit_plots(out, final, err);
    } else {
        char t[4500];
        snprintf(t, sizeof t, "%s.png", out);
        unlink(t);
        snprintf(t, sizeof t, "%s.svg", out);
        unlink(t);
    }
    return rc;
}

const char *fr_plots_dir(void)
{
    /* the first that holds rd.gp: $FEATRD_PLOTS, ./plots, <binary>/../plots,
     * the source tree featrd was built in */
    static char found[4200];
    char path[4300];
    const char *env = getenv("FEATRD_PLOTS");
    if (env && *env)
        return env;
    if (access("plots/rd.gp", R_OK) == 0)
        return "plots";
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(found, sizeof found, "%s/../plots", exe);
            snprintf(path, sizeof path, "%s/rd.gp", found);
            if (access(path, R_OK) == 0)
                return found;
            snprintf(found, sizeof found, "%s/../share/featrd/plots", exe);
            snprintf(path, sizeof path, "%s/rd.gp", found);
            if (access(path, R_OK) == 0)
                return found;
        }
    }
#ifdef FR_PLOTS_DIR
    return FR_PLOTS_DIR;
#else
    return "plots";
#endif
}

int fr_gnuplot_run(const char *script, const char *vars, FrError *err)
{
    if (access(script, R_OK))
        return fr_error(err, FR_E_NOENT, "%s: gnuplot script missing (set FEATRD_PLOTS to featrd's "
                        "plots/ directory, or pass it: featrd plot DIR PLOTS_DIR)", script);
    /* fork + exec, no shell: gnuplot gets SIGKILL if featrd dies first (a
     * killed run or merge left it plotting on its own); close-on-exec, so a
     * program another thread starts meanwhile does not hold the pipe open */
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return fr_error(err, FR_E_IO, "cannot run gnuplot: pipe: %s", strerror(errno));
    pid_t parent = getpid(), pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return fr_error(err, FR_E_IO, "cannot run gnuplot: fork: %s", strerror(e));
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        execlp("gnuplot", "gnuplot", "-e", vars, script, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char buf[2048], junk[512];
    size_t n = 0;
    for (;;) {
        ssize_t k = n < sizeof buf - 1 ? read(fds[0], buf + n, sizeof buf - 1 - n)
                                       : read(fds[0], junk, sizeof junk);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break; /* drained, so gnuplot never blocks on a full pipe */
        if (n < sizeof buf - 1)
            n += (size_t)k;
    }
    buf[n] = 0;
    close(fds[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) == 127)
        return fr_error(err, FR_E_NOENT, "gnuplot not found: install gnuplot-nox (make deps)");
    if (WEXITSTATUS(st))
        return fr_error(err, FR_E_IO, "gnuplot failed on %s: %s", script, buf);
    return 0;
}

int fr_results_plot(const char *dir, const char *scripts_dir, FrError *err)
{
    char path[4400];
    fr_results_name(path, sizeof path, dir, "points", "csv", 0, 1);
    FrCsv *csv = NULL;
    int rc = fr_csv_read(path, &csv, err);
    if (rc) {
        if (rc == FR_E_NOENT)
            return fr_error(err, FR_E_NOENT,
                            "%s: no points.csv (run `featrd run CONFIG` first, or `featrd merge "
                            "DIR` for shards)",
                            path);
        return rc;
    }
    static const char *need[] = {"kind", "curve", "kbpi", "split", "bits", "codec", "qp"};
    for (size_t k = 0; k < sizeof need / sizeof need[0] && !rc; k++)
        if (fr_csv_require_col(csv, need[k], err) < 0)
            rc = FR_E_FORMAT;
    int plotted = 0;
    const char *sd = scripts_dir ? scripts_dir : fr_plots_dir();
    for (int k = 0; task_col(k) && !rc; k++) {
        if (!col_has_value(csv, fr_csv_col(csv, task_col(k))))
            continue;
        rc = plot_metric(csv, dir, sd, task_col(k), err);
        plotted++;
    }
    /* invert: the reconstructed image's quality, beside the task metric */
    static const char *const recon_cols[] = {"recon_psnr", "recon_ssim"};
    for (int k = 0; k < 2 && !rc; k++)
        if (col_has_value(csv, fr_csv_col(csv, recon_cols[k])))
            rc = plot_metric(csv, dir, sd, recon_cols[k], err);
    /* metrics featrd score merged: the columns the registry does not have */
    int nreg;
    const FrColumnDoc *reg = fr_points_columns(&nreg);
    for (int c = 0; c < fr_csv_ncols(csv) && !rc; c++) {
        const char *name = fr_csv_colname(csv, c);
        size_t l = strlen(name);
        int known = l > 3 && (!strcmp(name + l - 3, "_lo") || !strcmp(name + l - 3, "_hi"));
        for (int k = 0; k < nreg && !known; k++)
            known = !strcmp(reg[k].name, name);
        if (known || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789_") != l || !col_has_value(csv, c))
            continue;
        rc = plot_metric(csv, dir, sd, name, err);
        plotted++;
    }
    /* kind features before any score: the feature PSNR */
    if (!rc && !plotted && col_has_value(csv, fr_csv_col(csv, "psnr"))) {
        rc = plot_metric(csv, dir, sd, "psnr", err);
        plotted++;
    }
    if (!rc && !plotted)
        rc = fr_error(err, FR_E_FORMAT, "%s: no task metric column has values to plot", path);
    fr_csv_destroy(&csv);
    return rc;
}
