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

static const char *const boot_cols[B_N] = {"kbpi",      "map07", "map",  "top1", "top5",
                                           "fidelity",  "psnr_nbit", "mse", "psnr", "sqnr",
                                           "recon_psnr", "recon_ssim"};

typedef FrPointAgg Agg; /* points_internal.h: what the column registry writes */

/* B replicates of the point over resampled images (fr_boot_counts, the
 * same draws at every point, shard and rerun): boot/<id>.csv holds them
 * (one row per replicate, the columns of boot_cols; written before the
 * point's journal record, so a committed point has its file), and the
 * percentile intervals go into a->lo / a->hi. Quantities a point does not
 * have are NaN in every replicate. */
static int bootstrap_point(Run *r, const FrPoint *pt, double *const v[B_N], const FrMapRanked *rk,
                           int B, Agg *a, FrError *err)
{
    size_t n = r->list.n;
    uint32_t *w = malloc(n * sizeof *w);
    double *rep = malloc((size_t)B * B_N * sizeof *rep), *col = malloc((size_t)B * sizeof *col);
    FrText t = {0};
    int rc = 0;
    if (!w || !rep || !col) {
        rc = fr_error(err, FR_E_NOMEM, "out of memory");
        goto done;
    }
    int have[B_N];
    for (int k = 0; k < B_N; k++) {
        have[k] = 0;
        for (size_t i = 0; i < n && !have[k]; i++)
            have[k] = !isnan(v[k][i]);
    }
    for (int b = 0; b < B; b++) {
        double *row = rep + (size_t)b * B_N;
        fr_boot_counts(r->e->bootstrap.seed, b, n, w);
        for (int k = 0; k < B_N; k++)
            row[k] = have[k] ? fr_boot_mean(v[k], w, n) : NAN;
        if (have[B_PSNR_NBIT])
            row[B_PSNR_NBIT] = fr_psnr_nbit(row[B_PSNR_NBIT], pt->bits);
        if (rk)
            fr_map_ranked_eval(rk, w, &row[B_MAP07], &row[B_MAP]);
    }
    for (int k = 0; k < B_N; k++) {
        for (int b = 0; b < B; b++)
            col[b] = rep[(size_t)b * B_N + k];
        fr_ci_percentile(col, (size_t)B, r->e->bootstrap.level, &a->lo[k], &a->hi[k]);
    }
    for (int k = 0; k < B_N; k++)
        fr_text_printf(&t, "%s%c", boot_cols[k], k + 1 < B_N ? ',' : '\n');
    for (int b = 0; b < B; b++)
        for (int k = 0; k < B_N; k++)
            fr_text_csv_double(&t, rep[(size_t)b * B_N + k], k + 1 < B_N ? ',' : '\n');
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
        a->mse += res[i].mse;
        a->psnr += res[i].psnr;
        a->mse_nbit += res[i].mse_nbit;
        a->sqnr += res[i].sqnr;
        a->front += res[i].t_front;
        a->enc += res[i].t_enc;
        a->dec += res[i].t_dec;
        a->back += res[i].t_back;
        a->sens += res[i].t_sens;
        a->lambda += res[i].lambda;
        a->d_pred += res[i].d_pred;
        a->d_joint += res[i].d_joint;
        a->rpsnr += res[i].rpsnr; /* NaN unless every image was reconstructed */
        a->rssim += res[i].rssim;
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
    a->mse /= dn;
    a->psnr /= dn;
    a->mse_nbit /= dn;
    a->sqnr /= dn;
    a->front /= dn;
    a->enc /= dn;
    a->dec /= dn;
    a->back /= dn;
    a->sens /= dn;
    a->lambda /= dn;
    a->d_pred /= dn;
    a->d_joint /= dn;
    a->rpsnr /= dn;
    a->rssim /= dn;
    if (!(pt->kind == FR_POINT_FEATURE && fr_alloc_info(pt->allocation)->rd_curves))
        a->lambda = a->d_pred = a->d_joint = NAN;
    a->psnr_nbit = pt->kind == FR_POINT_FEATURE ? fr_psnr_nbit(a->mse_nbit, pt->bits) : NAN;
    if (pt->kind != FR_POINT_FEATURE) {
        a->mse = a->psnr = a->mse_nbit = a->sqnr = NAN;
        if (pt->kind == FR_POINT_REFERENCE || pt->kind == FR_POINT_REFERENCE_YUV)
            a->bits_mean = a->bits_std = a->payload = a->side = a->paper = NAN;
    }
    a->map07 = a->map = a->top1 = a->top5 = a->fidelity = NAN;
    for (int k = 0; k < B_N; k++)
        a->lo[k] = a->hi[k] = NAN;
    int rc = 0, B = r->e->bootstrap.replicates;
    int rated = pt->kind == FR_POINT_FEATURE || pt->kind == FR_POINT_ANCHOR;
    /* per-image values of every mean-type quantity (NaN: not measured) */
    double *v[B_N] = {0};
    for (int k = 0; k < B_N; k++)
        if (!(v[k] = malloc((n ? n : 1) * sizeof *v[k])))
            rc = fr_error(err, FR_E_NOMEM, "out of memory");
    FrMapRanked *rk = NULL;
    for (size_t i = 0; i < n && !rc; i++) {
        v[B_KBPI][i] = rated ? res[i].bits / FR_KBIT : NAN;
        for (int k = B_MAP07; k < B_N; k++)
            v[k][i] = NAN;
        /* the n-bit MSE; replicates turn its mean into PSNR as psnr_nbit is */
        if (pt->kind == FR_POINT_FEATURE) {
            v[B_PSNR_NBIT][i] = res[i].mse_nbit;
            v[B_MSE][i] = res[i].mse;
            v[B_PSNR][i] = res[i].psnr;
            v[B_SQNR][i] = res[i].sqnr;
        }
        v[B_RPSNR][i] = res[i].rpsnr;
        v[B_RSSIM][i] = res[i].rssim;
    }
    if (rc)
        goto done;
    if (r->task == FR_TASK_DETECTION) {
        FrMapSettings ms;
        fr_map_defaults(&ms);
        ms.nclasses = r->nclasses;
        ms.iou = r->e->map_iou;
        FrMapAcc *acc = NULL;
        rc = fr_map_create(&acc, &ms, err);
        for (size_t i = 0; i < n && !rc; i++)
            rc = fr_map_add_image(acc, r->info[i].gt, r->info[i].ngt, res[i].dets,
                                  (size_t)res[i].ndet, err);
        if (!rc)
            rc = fr_map_rank(acc, &rk, err);
        fr_map_destroy(&acc);
        if (rc)
            goto done;
        fr_map_ranked_eval(rk, NULL, &a->map07, &a->map);
    } else if (r->task == FR_TASK_CLASSIFICATION) {
        FrClsAcc ca;
        fr_cls_acc_init(&ca);
        for (size_t i = 0; i < n; i++) {
            const FrTensor *ref = &r->info[i].ref;
            size_t no = fr_tensor_size(&res[i].out);
            fr_cls_acc_add(&ca, res[i].out.data, ref->data, no, r->info[i].label);
            FrClsAcc one; /* the same rule on this image alone */
            fr_cls_acc_init(&one);
            fr_cls_acc_add(&one, res[i].out.data, ref->data, no, r->info[i].label);
            v[B_TOP1][i] = fr_cls_top1(&one);
            v[B_TOP5][i] = fr_cls_top5(&one);
            v[B_FID][i] = fr_cls_fidelity(&one);
        }
        a->top1 = fr_cls_top1(&ca);
        a->top5 = fr_cls_top5(&ca);
        a->fidelity = fr_cls_fidelity(&ca);
    } else if (r->task == FR_TASK_DENSE) {
        for (size_t i = 0; i < n && !rc; i++)
            rc = fr_dense_fidelity(&res[i].out, &r->info[i].ref, &v[B_FID][i], err);
        if (rc)
            goto done;
        a->fidelity = fr_boot_mean(v[B_FID], NULL, n);
    }
    if (B > 0 && n > 0)
        rc = bootstrap_point(r, pt, v, rk, B, a, err);
done:
    fr_map_ranked_destroy(&rk);
    for (int k = 0; k < B_N; k++)
        free(v[k]);
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
                      feat ? x->mse : NAN,
                      feat ? x->psnr : NAN,
                      feat ? x->mse_nbit : NAN};
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
    const char *mname = r->task == FR_TASK_DETECTION        ? "map07"
                        : r->task == FR_TASK_CLASSIFICATION ? "top1"
                        : r->feat                           ? "psnr"
                                                            : "fidelity";
    double mv = r->task == FR_TASK_DETECTION        ? a.map07
                : r->task == FR_TASK_CLASSIFICATION ? a.top1
                : r->feat                           ? a.psnr
                                                    : a.fidelity;
    snprintf(detail, sizeof detail, "kbpi=%.3f %s=%.4f", a.bits_mean / FR_KBIT, mname, mv);
    char label[300];
    snprintf(label, sizeof label, "%s %s", pt->id, pt->desc);
    fr_progress_step(r->prog, label, detail, r->o.on_progress, r->o.progress_user);
    return 0;
}
