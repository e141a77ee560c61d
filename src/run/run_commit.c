/* run_commit.c: a point's per-image results turned into its points.csv row
 * (aggregate: means, mAP or accuracy, the bootstrap replicates and
 * intervals), the per-image and detection files, and the commit (journal
 * record + atomic points.csv), or a unit's file. Part of the runner. */
#define _GNU_SOURCE
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run/run_internal.h"
#include "bd/bd.h"
#include "metrics/metrics.h"

/* ---------------- aggregation and commit ---------------- */

typedef FrPointAgg Agg; /* points_internal.h: what the column registry writes */

/* Per point: the metric of each registry column under the run's task and
 * its images' values (v[c][i]; NaN: not measured), kbpi's in kv. */
typedef struct Cols {
    int n;                        /* fr_metric_ncolumns */
    int met[FR_METRIC_MAX];       /* FrMetric, -1: no metric of the task writes it */
    double *v[FR_METRIC_MAX];
    void *state[FR_METRIC_MAX];   /* data-set metrics: their state */
    int owner[FR_METRIC_MAX];     /* 1: this column opened state (others share it) */
    double *kv;
} Cols;

/* The mean of image values with image i counted w[i] times (w NULL: once):
 * over the scored images (not NaN) for FR_METRIC_SCORED_ONLY metrics. */
static double scored_mean(const double *v, const uint32_t *w, size_t n)
{
    double s = 0, cnt = 0;
    for (size_t i = 0; i < n; i++) {
        double k = w ? (double)w[i] : 1.0;
        if (k == 0 || isnan(v[i]))
            continue;
        s += k * v[i];
        cnt += k;
    }
    return cnt ? s / cnt : NAN;
}

/* Column c's value with weights w (replicate rep; -1 and NULL: the point). */
static double col_value(const Cols *cs, int c, int rep, const uint32_t *w, size_t n,
                        const FrPoint *pt, double *raw)
{
    const FrMetricDef *d = fr_metric_def(cs->met[c]);
    double mean;
    if (d->set_eval)
        mean = d->set_eval(cs->state[c], rep, w);
    else if (d->flags & FR_METRIC_SCORED_ONLY)
        mean = scored_mean(cs->v[c], w, n);
    else if (!w) { /* the plain mean: inf stays inf (a lossless point's PSNR) */
        mean = 0;
        for (size_t i = 0; i < n; i++)
            mean += cs->v[c][i];
        mean /= (double)n;
    } else
        mean = fr_boot_mean(cs->v[c], w, n);
    if (raw)
        *raw = mean;
    return d->finish ? d->finish(mean, pt->bits) : mean;
}

/* B replicates of the point over resampled images (fr_boot_counts, the
 * same draws at every point, shard and rerun): boot/<id>.csv holds them
 * (one row per replicate: kbpi, then every metric column of the registry;
 * written before the point's journal record, so a committed point has its
 * file), and the percentile intervals go into a->kbpi_lo/hi and
 * a->mlo/mhi. Quantities a point does not have are NaN in every replicate. */
static int bootstrap_point(Run *r, const FrPoint *pt, const Cols *cs, int B, Agg *a,
                           FrError *err)
{
    size_t n = r->list.n;
    int nq = 1 + cs->n; /* kbpi, the metric columns */
    uint32_t *w = malloc(n * sizeof *w);
    double *rep = malloc((size_t)B * nq * sizeof *rep), *col = malloc((size_t)B * sizeof *col);
    FrText t = {0};
    int rc = 0;
    if (!w || !rep || !col) {
        rc = fr_error(err, FR_E_NOMEM, "out of memory");
        goto done;
    }
    int have[1 + FR_METRIC_MAX];
    for (int k = 0; k < nq; k++) {
        const double *v = k ? cs->v[k - 1] : cs->kv;
        have[k] = 0;
        if (k && cs->met[k - 1] >= 0 && fr_metric_def(cs->met[k - 1])->set_eval)
            have[k] = 1;
        for (size_t i = 0; v && i < n && !have[k]; i++)
            have[k] = !isnan(v[i]);
    }
    for (int b = 0; b < B; b++) {
        double *row = rep + (size_t)b * nq;
        fr_boot_counts(r->e->bootstrap.seed, b, n, w);
        row[0] = have[0] ? fr_boot_mean(cs->kv, w, n) : NAN;
        for (int c = 0; c < cs->n; c++)
            row[1 + c] = have[1 + c] ? col_value(cs, c, b, w, n, pt, NULL) : NAN;
    }
    for (int k = 0; k < nq; k++) {
        for (int b = 0; b < B; b++)
            col[b] = rep[(size_t)b * nq + k];
        fr_ci_percentile(col, (size_t)B, r->e->bootstrap.level, k ? &a->mlo[k - 1] : &a->kbpi_lo,
                         k ? &a->mhi[k - 1] : &a->kbpi_hi);
    }
    for (int k = 0; k < nq; k++)
        fr_text_printf(&t, "%s%c", k ? fr_metric_column_name(k - 1) : "kbpi",
                       k + 1 < nq ? ',' : '\n');
    for (int b = 0; b < B; b++)
        for (int k = 0; k < nq; k++)
            fr_text_csv_double(&t, rep[(size_t)b * nq + k], k + 1 < nq ? ',' : '\n');
    char path[4500];
    snprintf(path, sizeof path, "%s/boot", r->dir);
    if (mkdir(path, 0777) && errno != EEXIST) {
        rc = fr_error(err, FR_E_IO, "%s: cannot create the directory (%s)", path, strerror(errno));
        goto done;
    }
    snprintf(path, sizeof path, "%s/boot/%s.csv", r->dir, pt->id);
    rc = fr_text_write_atomic(&t, path, err);
done:
    fr_text_free(&t);
    free(w);
    free(rep);
    free(col);
    return rc;
}

/* The images' values of every column's metric, and the data-set metrics'
 * states. */
static int cols_open(Run *r, ImgRes *res, Cols *cs, FrError *err)
{
    size_t n = r->list.n;
    memset(cs, 0, sizeof *cs);
    cs->n = fr_metric_ncolumns();
    int rc = 0;
    if (!(cs->kv = malloc((n ? n : 1) * sizeof *cs->kv)))
        return fr_error(err, FR_E_NOMEM, "out of memory");
    for (int c = 0; c < cs->n && !rc; c++) {
        int m = cs->met[c] = fr_metric_for_column(c, r->task);
        if (!(cs->v[c] = malloc((n ? n : 1) * sizeof *cs->v[c])))
            return fr_error(err, FR_E_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
            cs->v[c][i] = NAN;
        if (m < 0)
            continue;
        const FrMetricDef *d = fr_metric_def(m);
        if (d->feature || d->picture)
            for (size_t i = 0; i < n; i++)
                cs->v[c][i] = res[i].mv[m];
        else if (d->output)
            for (size_t i = 0; i < n && !rc; i++) {
                FrMetricOutput o = {&res[i].out, &r->info[i].ref, r->info[i].label};
                rc = d->output(&o, &cs->v[c][i], err);
            }
        else if (d->set_open) {
            for (int c2 = 0; c2 < c && !cs->state[c]; c2++)
                if (cs->met[c2] >= 0 && fr_metric_def(cs->met[c2])->set_open == d->set_open)
                    cs->state[c] = cs->state[c2];
            if (!cs->state[c]) {
                const FrGtBox **gt = malloc((n ? n : 1) * sizeof *gt);
                const FrDetection **dets = malloc((n ? n : 1) * sizeof *dets);
                size_t *ngt = malloc((n ? n : 1) * sizeof *ngt);
                int *ndet = malloc((n ? n : 1) * sizeof *ndet);
                if (!gt || !dets || !ngt || !ndet)
                    rc = fr_error(err, FR_E_NOMEM, "out of memory");
                for (size_t i = 0; i < n && !rc; i++) {
                    gt[i] = r->info[i].gt;
                    ngt[i] = r->info[i].ngt;
                    dets[i] = res[i].dets;
                    ndet[i] = res[i].ndet;
                }
                FrMetricSet set = {n, r->nclasses, r->e->map_iou, gt, ngt, dets, ndet};
                if (!rc && !(rc = d->set_open(&set, &cs->state[c], err)))
                    cs->owner[c] = 1;
                free(gt);
                free(dets);
                free(ngt);
                free(ndet);
            }
        }
    }
    return rc;
}

static void cols_close(Cols *cs)
{
    for (int c = 0; c < cs->n; c++) {
        if (cs->owner[c])
            fr_metric_def(cs->met[c])->set_close(cs->state[c]);
        free(cs->v[c]);
    }
    free(cs->kv);
}

static int aggregate(Run *r, const FrPoint *pt, ImgRes *res, Agg *a, FrError *err)
{
    size_t n = r->list.n;
    memset(a, 0, sizeof *a);
    double s1 = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        s1 += res[i].bits;
        a->payload += res[i].payload;
        a->side += res[i].side;
        a->paper += res[i].paper;
        a->elements += res[i].elements;
        a->front += res[i].t_front;
        a->enc += res[i].t_enc;
        a->dec += res[i].t_dec;
        a->back += res[i].t_back;
        a->sens += res[i].t_sens;
        a->lambda += res[i].lambda;
        a->d_pred += res[i].d_pred;
        a->d_joint += res[i].d_joint;
    }
    double dn = (double)n;
    a->bits_mean = s1 / dn;
    for (size_t i = 0; i < n; i++)
        s2 += (res[i].bits - a->bits_mean) * (res[i].bits - a->bits_mean);
    a->bits_std = sqrt(s2 / dn);
    a->payload /= dn;
    a->side /= dn;
    a->paper /= dn;
    a->elements /= dn;
    a->front /= dn;
    a->enc /= dn;
    a->dec /= dn;
    a->back /= dn;
    a->sens /= dn;
    a->lambda /= dn;
    a->d_pred /= dn;
    a->d_joint /= dn;
    if (!(pt->kind == FR_POINT_FEATURE && fr_alloc_info(pt->allocation)->rd_curves))
        a->lambda = a->d_pred = a->d_joint = NAN;
    if (pt->kind == FR_POINT_REFERENCE || pt->kind == FR_POINT_REFERENCE_YUV)
        a->bits_mean = a->bits_std = a->payload = a->side = a->paper = NAN;
    a->kbpi_lo = a->kbpi_hi = NAN;
    for (int c = 0; c < FR_METRIC_MAX; c++)
        a->mval[c] = a->mraw[c] = a->mlo[c] = a->mhi[c] = NAN;
    int B = r->e->bootstrap.replicates;
    int rated = pt->kind == FR_POINT_FEATURE || pt->kind == FR_POINT_ANCHOR;
    Cols cs;
    int rc = cols_open(r, res, &cs, err);
    for (size_t i = 0; i < n && !rc; i++)
        cs.kv[i] = rated ? res[i].bits / FR_KBIT : NAN;
    for (int c = 0; c < cs.n && !rc && n > 0; c++)
        if (cs.met[c] >= 0)
            a->mval[c] = col_value(&cs, c, -1, NULL, n, pt, &a->mraw[c]);
    if (!rc && B > 0 && n > 0)
        rc = bootstrap_point(r, pt, &cs, B, a, err);
    cols_close(&cs);
    return rc;
}

static char *point_row(Run *r, const FrPoint *pt, const Agg *a)
{
    FrPointCtx c = {r->split_lname, r->cut_desc, fr_range_name(r->e->sweep.range), r->list.n};
    return fr_point_row(&c, pt, a);
}

int fr_run_write_points_csv_(Run *r, FrError *err)
{
    FrText t = {0};
    int nc;
    const FrColumnDoc *cols = fr_points_columns(&nc);
    for (int k = 0; k < nc; k++)
        fr_text_csv_field(&t, cols[k].name, k + 1 < nc ? ',' : '\n');
    for (int i = 0; i < r->plan.n; i++)
        if (r->rows[i])
            fr_text_printf(&t, "%s\n", r->rows[i]);
    int rc = fr_text_write_atomic(&t, r->csv_path, err);
    fr_text_free(&t);
    if (!rc) {
        r->csv_at = fr_now();
        r->csv_stale = 0;
    }
    return rc;
}

int fr_run_flush_points_csv_(Run *r, FrError *err)
{
    return r->csv_stale ? fr_run_write_points_csv_(r, err) : 0;
}

/* images.d/<ordinal>.csv: the point's per-image rows, written before the
 * point's journal record so a committed point always has its file. */
static int write_image_rows(Run *r, const FrPoint *pt, const ImgRes *res, FrError *err)
{
    FrText t = {0};
    for (size_t i = 0; i < r->list.n; i++) {
        const ImgRes *x = &res[i];
        int feat = pt->kind == FR_POINT_FEATURE;
        fr_text_printf(&t, "%d,", pt->ordinal);
        fr_text_csv_field(&t, pt->id, ',');
        fr_text_printf(&t, "%zu,", i);
        fr_text_csv_field(&t, r->list.items[i].path, ',');
        long pred = -1;
        double agree = NAN;
        if (r->task == FR_TASK_CLASSIFICATION && x->out.data) {
            pred = fr_argmax(x->out.data, fr_tensor_size(&x->out));
            const FrTensor *ref = &r->info[i].ref;
            agree = ref->data ? pred == fr_argmax(ref->data, fr_tensor_size(ref)) : NAN;
        } else if (r->task == FR_TASK_DENSE && x->out.data && r->info[i].ref.data) {
            if (fr_dense_fidelity(&x->out, &r->info[i].ref, &agree, NULL))
                agree = NAN;
        }
        double v[] = {pt->kind == FR_POINT_REFERENCE ? NAN : x->bits,
                      pt->kind == FR_POINT_REFERENCE ? NAN : x->payload,
                      pt->kind == FR_POINT_REFERENCE ? NAN : x->side,
                      feat ? x->mv[FR_METRIC_FEATURE_MSE] : NAN,
                      feat ? x->mv[FR_METRIC_FEATURE_PSNR] : NAN,
                      feat ? x->mv[FR_METRIC_FEATURE_PSNR_NBIT] : NAN};
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
            fr_text_csv_double(&t, v[k], ',');
        fr_text_printf(&t, "%d,%ld,%ld,", r->task == FR_TASK_DETECTION ? x->ndet : -1, pred,
                       r->task == FR_TASK_CLASSIFICATION ? r->info[i].label : -1L);
        fr_text_csv_double(&t, agree, ',');
        fr_text_csv_double(&t, x->t_enc, ',');
        fr_text_csv_double(&t, x->t_dec, ',');
        fr_text_csv_double(&t, x->t_back, '\n');
    }
    char path[4500];
    snprintf(path, sizeof path, "%s/images.d", r->dir);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/images.d/%06d.csv", r->dir, pt->ordinal);
    int rc = fr_text_write_atomic(&t, path, err);
    fr_text_free(&t);
    return rc;
}

/* detections/<id>.csv: every detection of every image of the point, as
 * scored (after dataset.class_map, in image pixels, the box convention of
 * the ground truth), written before the point's journal record. */
static int write_detections(Run *r, const FrPoint *pt, const ImgRes *res, FrError *err)
{
    FrText t = {0};
    fr_text_printf(&t, "image,image_id,class,name,score,x1,y1,x2,y2\n");
    for (size_t i = 0; i < r->list.n; i++) {
        const char *p = r->list.items[i].path, *b = strrchr(p, '/');
        b = b ? b + 1 : p;
        const char *dot = strrchr(b, '.');
        int bl = dot && dot != b ? (int)(dot - b) : (int)strlen(b);
        for (int k = 0; k < res[i].ndet; k++) {
            const FrDetection *d = &res[i].dets[k];
            char id[300];
            snprintf(id, sizeof id, "%.*s", bl, b);
            fr_text_printf(&t, "%zu,", i);
            fr_text_csv_field(&t, id, ',');
            fr_text_printf(&t, "%d,", d->cls);
            fr_text_csv_field(&t, d->cls >= 0 && d->cls < r->names.n ? r->names.names[d->cls] : "",
                              ',');
            /* %.9g: every float reads back exactly */
            fr_text_printf(&t, "%.9g,%.9g,%.9g,%.9g,%.9g\n", d->score, d->x1, d->y1, d->x2, d->y2);
        }
    }
    char path[4500];
    snprintf(path, sizeof path, "%s/detections", r->dir);
    if (mkdir(path, 0777) && errno != EEXIST) {
        fr_text_free(&t);
        return fr_error(err, FR_E_IO, "%s: cannot create the directory (%s)", path, strerror(errno));
    }
    snprintf(path, sizeof path, "%s/detections/%s.csv", r->dir, pt->id);
    int rc = fr_text_write_atomic(&t, path, err);
    fr_text_free(&t);
    return rc;
}

/* UNIT_COMPUTE: the point's per-image results of this chunk go to its unit
 * file (the merge aggregates them); that file is the commit. */
static int commit_unit(Run *r, const FrPoint *pt, const ImgRes *res, FrError *err)
{
    int *w = calloc(r->list.n + 1, sizeof *w), *h = calloc(r->list.n + 1, sizeof *h);
    int rc = !w || !h ? fr_error(err, FR_E_NOMEM, "out of memory") : 0;
    for (size_t i = r->img_lo; i < r->img_hi && !rc; i++) {
        w[i] = r->info[i].w;
        h[i] = r->info[i].h;
    }
    if (!rc)
        rc = fr_unit_res_write(r->dir, &r->up, pt, r->chunk, res, w, h, err);
    free(w);
    free(h);
    if (rc)
        return rc;
    r->unit_done[pt->ordinal] = 1;
    r->done_mine++;
    char label[300];
    snprintf(label, sizeof label, "%s %s", pt->id, pt->desc);
    fr_progress_step(r->prog, label, "", r->o.on_progress, r->o.progress_user);
    return 0;
}

int fr_run_commit_point_(Run *r, const FrPoint *pt, ImgRes *res, FrError *err)
{
    if (r->umode == UNIT_COMPUTE)
        return commit_unit(r, pt, res, err);
    Agg a;
    int rc = aggregate(r, pt, res, &a, err);
    if (rc)
        return rc;
    if (r->e->output.images_csv && (rc = write_image_rows(r, pt, res, err)))
        return rc;
    if (r->e->output.detections && r->task == FR_TASK_DETECTION &&
        (rc = write_detections(r, pt, res, err)))
        return rc;
    if (r->feat && r->e->output.decoded_dir && pt->kind == FR_POINT_FEATURE) {
        char d[4400];
        snprintf(d, sizeof d, "%s/%s", r->e->output.decoded_dir, pt->id);
        if ((rc = fr_feature_set_write_index(&r->fset, d, err)))
            return rc;
    }
    char *row = point_row(r, pt, &a);
    if (!row)
        return fr_error(err, FR_E_NOMEM, "out of memory");
    rc = fr_journal_append(r->journal, row, err);
    if (rc) {
        free(row);
        return rc;
    }
    r->rows[pt->ordinal] = row;
    /* the journal line is the commit; points.csv follows at most every few
     * seconds (one fsync per point, not two) and at the end of the run */
    r->csv_stale = 1;
    if (fr_now() - r->csv_at >= FR_RUN_CSV_EVERY_S && (rc = fr_run_write_points_csv_(r, err)))
        return rc;
    r->done_mine++;
    char detail[160];
    /* the task's first metric (kind features: the feature PSNR) */
    int mc = r->feat ? fr_metric_column_of(FR_METRIC_FEATURE_PSNR) : -1;
    for (int c = 0; mc < 0 && c < fr_metric_ncolumns(); c++) {
        int m = fr_metric_for_column(c, r->task);
        if (m >= 0 && fr_metric_info(m)->task == r->task)
            mc = c;
    }
    const char *mname = mc >= 0 ? fr_metric_column_name(mc) : "fidelity";
    double mv = mc >= 0 ? a.mval[mc] : NAN;
    snprintf(detail, sizeof detail, "kbpi=%.3f %s=%.4f", a.bits_mean / FR_KBIT, mname, mv);
    char label[300];
    snprintf(label, sizeof label, "%s %s", pt->id, pt->desc);
    fr_progress_step(r->prog, label, detail, r->o.on_progress, r->o.progress_user);
    return 0;
}
