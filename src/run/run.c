/* run.c: the experiment runner (featrd/run.h). Expands a `kind: rd` sweep
 * into points, opens one model per worker, and for each split computes the
 * front half of every image once (cut tensors cached in memory or under
 * output.dir/cache/), then runs every unfinished point of that split on the
 * cache (encode, decode, back half, task metrics), aggregates in image order
 * and commits the point (journal record + atomic points.csv). The reference
 * (uncompressed) point and the cloud-only anchors run the whole network.
 * Workers are pthreads over images; results do not depend on their number. */
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

#include "featrd.h"
#include "run/features_internal.h"
#include "run/points_internal.h"
#include "run/results_internal.h"
#include "run/units_internal.h"

/* ---------------- run state ---------------- */

/* One image's result for one point (units_internal.h: a unit's file holds them). */
typedef FrImgRes ImgRes;

/* What is known about an image once: its size and ground truth. */
typedef struct ImgInfo {
    int w, h;
    FrGtBox *gt;
    size_t ngt;
    long label;
    FrTensor ref; /* the uncompressed network's output (classification/dense) */
} ImgInfo;

/* Cut tensors of one image at the current split. */
typedef struct CutCache {
    int ncuts;
    FrTensor cuts[FR_MODEL_MAX_CUTS];
    double t_front;
    int on_disk; /* cut files under cache/ instead of cuts[] */
} CutCache;

typedef struct Run Run;
typedef int (*ImgFn)(Run *r, int worker, size_t img, void *arg, FrError *err);

struct Run {
    int feat;            /* kind features: no network; the cut sets are fset's files */
    FrFeatureSet fset;
    int cur_weights; /* weights the worker models hold: -1 model.weights, else sweep.weights[i] */
    const FrExperiment *e;
    FrRunOptions o;
    FrPlan plan;
    int jobs;
    FrModel **models;
    FrImageList list;
    ImgInfo *info;
    FrTask task;
    int nclasses;  /* detection: the classes scored (the data set's) */
    FrNames names; /* the data set's class names (dataset.names, else model.names) */
    int *cmap;     /* model class -> scored class or -1; NULL: the same index */
    int nmodel_classes;
    char dir[4096];
    char csv_path[4200], journal_path[4200], manifest_path[4200];
    FrJournal *journal;
    char **rows; /* committed CSV rows by ordinal, NULL = not done */
    size_t total_mine, done_mine;
    FrProgress *prog;
    FrSensCache *sens_cache;
    /* current split */
    int split_layer;
    const char *split_name;
    char split_lname[256], cut_desc[512];
    CutCache *cache;
    char cache_dir[4400];
    /* the parallel loop */
    pthread_mutex_t mu;
    size_t next, nimg;
    int failed;
    int fail_rc;
    FrError fail_err;
    ImgFn fn;
    void *arg;
    /* image-chunk units (units_internal.h): 0 off, UNIT_COMPUTE one unit's
     * per-image results, UNIT_COLLECT the merge of every unit's */
    int umode;
    FrUnitPlan up;
    int unit, group, chunk;
    size_t img_lo, img_hi;     /* images of this run: the chunk's, else all */
    unsigned char *unit_done;  /* UNIT_COMPUTE: by ordinal, the point's chunk file is there */
    /* invert: the current split's image decoder, one per worker (NULL: none) */
    FrModel **dec;
    /* totals for the benchmark line */
    double tot_front, tot_back, tot_enc, tot_dec, tot_anchor, tot_ref;
};

enum { UNIT_NONE = 0, UNIT_COMPUTE, UNIT_COLLECT };

typedef struct WorkerArg {
    Run *r;
    int worker;
} WorkerArg;

/* A stop request during fr_run (fr_run_request_stop, typically from the
 * caller's SIGINT/SIGTERM handler): the workers stop after their current
 * image, the journal keeps what is committed, the manifest says
 * "interrupted" and the CLI exits 128 + the signal. The library installs no
 * signal handler itself. Lock-free atomics, because the request comes from
 * a signal handler and is read by the worker threads. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "fr_run_request_stop needs lock-free atomics");
static atomic_int runs_active; /* runs (any kind) between fr_run_stop_enter and _leave */
static atomic_int run_signal;  /* the pending request's signal; 0 none */
static int last_signal;

int fr_run_request_stop(int sig)
{
    int none = 0;
    if (sig <= 0 || atomic_load(&runs_active) == 0)
        return 0;
    return atomic_compare_exchange_strong(&run_signal, &none, sig);
}

int fr_run_interrupt_signal(void)
{
    return last_signal;
}

void fr_run_stop_enter(void)
{
    last_signal = 0;
    atomic_fetch_add(&runs_active, 1);
}

int fr_run_stop_pending(void)
{
    return atomic_load(&run_signal);
}

int fr_run_stop_check(const char *saved, FrError *err)
{
    int sig = fr_run_stop_pending();
    if (!sig)
        return 0;
    return fr_error(err, FR_E_INTERRUPTED,
                    "interrupted by %s; the %s finished so far are saved, run again to resume",
                    strsignal(sig), saved);
}

void fr_run_stop_leave(int interrupted)
{
    if (interrupted)
        last_signal = atomic_load(&run_signal);
    /* the request is spent with the last run it applied to */
    if (atomic_fetch_sub(&runs_active, 1) == 1)
        atomic_store(&run_signal, 0);
}

static void *worker_main(void *p)
{
    WorkerArg *wa = p;
    Run *r = wa->r;
    FrError err = {0};
    for (;;) {
        pthread_mutex_lock(&r->mu);
        size_t i = r->next++;
        int stop = r->failed;
        int sig = atomic_load(&run_signal);
        if (!stop && sig && i < r->nimg) {
            r->failed = stop = 1;
            r->fail_rc = fr_error(&r->fail_err, FR_E_INTERRUPTED, "interrupted by %s; the points "
                                  "finished so far are saved, run again to resume",
                                  strsignal(sig));
        }
        pthread_mutex_unlock(&r->mu);
        if (stop || i >= r->nimg)
            break;
        int rc = r->fn(r, wa->worker, i, r->arg, &err);
        if (rc) {
            pthread_mutex_lock(&r->mu);
            if (!r->failed) {
                r->failed = 1;
                r->fail_rc = rc;
                r->fail_err = err;
            }
            pthread_mutex_unlock(&r->mu);
            break;
        }
    }
    return NULL;
}

/* Runs fn over every image with r->jobs workers; the first error wins. */
static int par_for(Run *r, ImgFn fn, void *arg, FrError *err)
{
    r->fn = fn;
    r->arg = arg;
    r->next = r->img_lo;
    r->nimg = r->img_hi;
    r->failed = 0;
    r->fail_rc = 0;
    if (r->jobs <= 1) {
        WorkerArg wa = {r, 0};
        worker_main(&wa);
    } else {
        pthread_t th[64];
        WorkerArg wa[64];
        int n = r->jobs > 64 ? 64 : r->jobs, started = 0;
        for (int w = 0; w < n; w++) {
            wa[w].r = r;
            wa[w].worker = w;
            if (pthread_create(&th[w], NULL, worker_main, &wa[w]) == 0)
                started++;
            else
                break;
        }
        if (!started) {
            WorkerArg w0 = {r, 0};
            worker_main(&w0);
        }
        for (int w = 0; w < started; w++)
            pthread_join(th[w], NULL);
    }
    if (r->failed) {
        if (err)
            *err = r->fail_err;
        return r->fail_rc;
    }
    return 0;
}

static void imgres_free(ImgRes *x)
{
    fr_detections_free(&x->dets);
    fr_tensor_free(&x->out);
    memset(x, 0, sizeof *x);
}

/* The task output of the last pass into res (detections or output tensor). */
static int take_output(Run *r, FrModel *m, size_t img, ImgRes *res, FrError *err)
{
    if (r->task == FR_TASK_DETECTION) {
        int rc = fr_model_detections(m, r->info[img].w, r->info[img].h, (float)r->e->det_thresh,
                                     (float)r->e->nms, &res->dets, &res->ndet);
        if (rc)
            return fr_error(err, rc, "%s: detections failed (%s)", r->list.items[img].path,
                            fr_strerror(rc));
        if (r->cmap) { /* dataset.class_map: rename, drop the unmapped */
            int k = 0;
            for (int i = 0; i < res->ndet; i++) {
                int c = res->dets[i].cls;
                if (c < 0 || c >= r->nmodel_classes || r->cmap[c] < 0)
                    continue;
                res->dets[k] = res->dets[i];
                res->dets[k++].cls = r->cmap[c];
            }
            res->ndet = k;
        }
        return 0;
    }
    int rc = fr_model_output(m, &res->out);
    if (rc)
        return fr_error(err, rc, "%s: cannot read the network output", r->list.items[img].path);
    return 0;
}

static int load_input(Run *r, int worker, size_t img, FrTensor *rgb, FrTensor *input,
                      FrError *err)
{
    int rc = fr_model_load_image(r->models[worker], r->list.items[img].path, rgb, err);
    if (rc)
        return rc;
    if (input) {
        rc = fr_model_prepare_input(r->models[worker], rgb, input);
        if (rc)
            return fr_error(err, rc, "%s: cannot prepare the network input (%s)",
                            r->list.items[img].path, fr_strerror(rc));
    }
    return 0;
}

/* ---------------- ground truth and the reference pass ---------------- */

typedef struct RefArg {
    ImgRes *res;
    int forward; /* run the whole network (reference point or fidelity refs needed) */
} RefArg;

static int read_gt(Run *r, size_t img, FrError *err)
{
    ImgInfo *in = &r->info[img];
    const FrExperiment *e = r->e;
    const char *path = r->list.items[img].path;
    in->label = -1;
    if (r->task == FR_TASK_DETECTION) {
        if (e->dataset.labels == FR_LABELS_VOC_XML) {
            const char *base = strrchr(path, '/');
            base = base ? base + 1 : path;
            char xml[4400];
            const char *dot = strrchr(base, '.');
            int bl = dot ? (int)(dot - base) : (int)strlen(base);
            snprintf(xml, sizeof xml, "%s/%.*s.xml", e->dataset.annotations, bl, base);
            return fr_gt_read_voc_xml(xml, &r->names, &in->gt, &in->ngt, NULL, NULL, err);
        }
        char lp[4400];
        int rc = fr_darknet_label_path(path, lp, sizeof lp, err);
        if (!rc)
            rc = fr_gt_read_darknet(lp, in->w, in->h, r->nclasses, &in->gt, &in->ngt, err);
        return rc;
    }
    return 0;
}

/* err's message again, prefixed with the config location of key. */
static int at_key(const FrExperiment *e, FrError *err, int rc, const char *key, const char *tail)
{
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
    return fr_experiment_error(e, err, rc, key, "%s%s", msg, tail);
}

/* The classes a detection run scores: the model's names (model.names) are
 * checked against the network and against the data set's (dataset.names),
 * or mapped onto them by dataset.class_map; r->names, r->nclasses and
 * r->cmap are set. Without names files, ids are used as they are. */
static int detection_classes(Run *r, FrError *err)
{
    const FrExperiment *e = r->e;
    r->nmodel_classes = r->nclasses;
    int rc = 0;
    if (e->dataset.labels == FR_LABELS_DARKNET_TXT) {
        /* voc_label.py drops difficult objects from the label files (and
         * the VOC07 devkit ignores detections of them), so the score comes
         * out lower than the devkit's */
        for (size_t i = 0; i < r->list.n; i++)
            if (strstr(r->list.items[i].path, "JPEGImages/") ||
                strstr(r->list.items[i].path, "VOC20")) {
                fprintf(stderr,
                        "featrd run: warning: %s: VOC images with darknet label files: those "
                        "carry no 'difficult' flags (voc_label.py leaves difficult objects "
                        "out), so difficult objects cannot be ignored: detections of them count "
                        "as false positives and mAP comes out lower than the VOC devkit's. Use "
                        "-o dataset.labels=voc-xml -o dataset.annotations=.../Annotations\n",
                        e->dataset.images);
                break;
            }
    }
    if (!e->model.names) {
        if (e->dataset.labels == FR_LABELS_VOC_XML)
            return fr_experiment_error(e, err, FR_E_CONFIG, "model.names",
                                       "VOC XML labels need the class names file: set "
                                       "model.names (and dataset.names if the data set's "
                                       "classes differ)");
        return 0;
    }
    FrNames mn = {0};
    if ((rc = fr_names_read_model(e->model.names, &mn, err)))
        return at_key(e, err, rc, "model.names", "");
    if (mn.n != r->nclasses) {
        rc = fr_experiment_error(e, err, FR_E_MISMATCH, "model.names",
                                 "'%s' has %d class names but the network (%s) outputs %d "
                                 "classes: give this model's names file", e->model.names, mn.n,
                                 e->model.cfg, r->nclasses);
        goto done;
    }
    const char *dpath = e->dataset.names ? e->dataset.names : e->model.names;
    if ((rc = fr_names_read(dpath, &r->names, err))) {
        rc = at_key(e, err, rc, e->dataset.names ? "dataset.names" : "model.names",
                    e->dataset.names ? ""
                                     : " (a model whose names repeat needs dataset.names and "
                                       "dataset.class_map)");
        goto done;
    }
    if (e->dataset.names || e->dataset.class_map) {
        int *map = NULL;
        rc = fr_class_map_build(&mn, e->model.names, &r->names, dpath, e->dataset.class_map,
                                &map, err);
        if (rc) {
            rc = at_key(e, err, rc, e->dataset.class_map ? "dataset.class_map" : "dataset.names",
                        "");
            goto done;
        }
        r->cmap = map;
        r->nclasses = r->names.n;
    }
done:
    fr_names_free(&mn);
    return rc;
}

static int ref_image(Run *r, int worker, size_t img, void *arg, FrError *err)
{
    RefArg *ra = arg;
    FrTensor rgb = {0}, input = {0};
    int rc = load_input(r, worker, img, &rgb, ra->forward ? &input : NULL, err);
    if (rc)
        goto done;
    r->info[img].w = rgb.w;
    r->info[img].h = rgb.h;
    rc = read_gt(r, img, err);
    if (rc || !ra->forward)
        goto done;
    double t0 = fr_now();
    rc = fr_model_forward(r->models[worker], &input, err);
    if (rc)
        goto done;
    ImgRes *res = &ra->res[img];
    rc = take_output(r, r->models[worker], img, res, err);
    res->t_back = fr_now() - t0;
    if (!rc && r->task != FR_TASK_DETECTION) {
        FrTensor *ref = &r->info[img].ref;
        rc = fr_tensor_alloc(ref, res->out.c, res->out.h, res->out.w);
        if (!rc)
            memcpy(ref->data, res->out.data, fr_tensor_size(ref) * sizeof(float));
    }
done:
    fr_tensor_free(&rgb);
    fr_tensor_free(&input);
    return rc;
}

/* Class labels for classification (list `path label`, darknet's class name
 * in the path, or dataset.labels_file with one class id per list line). */
static int read_labels(Run *r, FrError *err)
{
    const FrExperiment *e = r->e;
    if (r->task != FR_TASK_CLASSIFICATION)
        return 0;
    if (e->dataset.labels == FR_LABELS_CLASS_LIST && e->dataset.labels_file) {
        FILE *f = fopen(e->dataset.labels_file, "r");
        if (!f)
            return fr_experiment_error(e, err, FR_E_NOENT, "dataset.labels_file",
                                       "cannot open '%s' (%s)", e->dataset.labels_file,
                                       strerror(errno));
        /* The k-th label line belongs to the k-th image line of the list. */
        long *lab = NULL;
        size_t n = 0, cap = 0;
        char line[256];
        while (fgets(line, sizeof line, f)) {
            char *end;
            long v = strtol(line, &end, 10);
            if (end == line)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                long *nw = realloc(lab, cap * sizeof *nw);
                if (!nw) {
                    free(lab);
                    fclose(f);
                    return fr_error(err, FR_E_NOMEM, "out of memory");
                }
                lab = nw;
            }
            lab[n++] = v;
        }
        fclose(f);
        /* Map list lines to ordinals of image lines: lines are increasing. */
        FrImageList full = {0};
        int rc = fr_image_list_read(e->dataset.images, &full, err);
        if (rc) {
            free(lab);
            return rc;
        }
        for (size_t i = 0; i < r->list.n; i++) {
            r->info[i].label = -1;
            for (size_t k = 0; k < full.n && k < n; k++)
                if (full.items[k].line == r->list.items[i].line)
                    r->info[i].label = lab[k];
        }
        fr_image_list_free(&full);
        free(lab);
        return 0;
    }
    FrNames names = {0};
    const char *nf = e->model.names ? e->model.names : e->dataset.labels_file;
    if (!nf) {
        /* Without class names only numeric labels (`path 3`) can be read. */
        for (size_t i = 0; i < r->list.n; i++) {
            const char *t = r->list.items[i].label;
            char *end = NULL;
            long v = t ? strtol(t, &end, 10) : -1;
            r->info[i].label = t && end != t && !*end && v >= 0 ? v : -1;
        }
        return 0;
    }
    int rc = fr_names_read(nf, &names, err);
    for (size_t i = 0; i < r->list.n && !rc; i++)
        rc = fr_image_label(&r->list, i, &names, &r->info[i].label, err);
    fr_names_free(&names);
    return rc;
}

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

static int is_rdopt(int allocation)
{
    return allocation == FR_ALLOC_RDOPT || allocation == FR_ALLOC_RDOPT_REFINE;
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
    if (!(pt->kind == FR_POINT_FEATURE && is_rdopt(pt->allocation)))
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

static int write_points_csv(Run *r, FrError *err)
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
    return rc;
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

static int commit_point(Run *r, const FrPoint *pt, ImgRes *res, FrError *err)
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
    rc = write_points_csv(r, err);
    if (rc)
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

/* ---------------- per-split front half and the cache ---------------- */

static void cache_file(Run *r, size_t img, int k, char *buf, size_t cap)
{
    if (r->feat) /* kind features: the input files themselves */
        snprintf(buf, cap, "%s", r->fset.images[img].files[k].path);
    else
        snprintf(buf, cap, "%s/%06zu_%d.npy", r->cache_dir, img, k);
}

static int front_image(Run *r, int worker, size_t img, void *arg, FrError *err)
{
    (void)arg;
    CutCache *cc = &r->cache[img];
    if (cc->on_disk) {
        /* A cut file per tensor; the last one written marks the image done. */
        char p[4600];
        cache_file(r, img, cc->ncuts - 1, p, sizeof p);
        if (cc->ncuts > 0 && access(p, R_OK) == 0)
            return 0;
    }
    FrTensor rgb = {0}, input = {0};
    int rc = load_input(r, worker, img, &rgb, &input, err);
    if (!rc) {
        double t0 = fr_now();
        FrTensor cuts[FR_MODEL_MAX_CUTS];
        int ncuts = 0;
        memset(cuts, 0, sizeof cuts);
        rc = fr_model_front(r->models[worker], &input, r->split_layer, cuts, &ncuts, err);
        cc->t_front = fr_now() - t0;
        if (!rc) {
            if (cc->on_disk) {
                for (int k = 0; k < ncuts && !rc; k++) {
                    char p[4600];
                    cache_file(r, img, k, p, sizeof p);
                    rc = fr_npy_write(p, &cuts[k], err);
                }
                for (int k = 0; k < ncuts; k++)
                    fr_tensor_free(&cuts[k]);
            } else {
                memcpy(cc->cuts, cuts, sizeof cuts);
            }
            cc->ncuts = ncuts;
        }
    }
    fr_tensor_free(&rgb);
    fr_tensor_free(&input);
    return rc;
}

static int cache_get(Run *r, size_t img, FrTensor *cuts, int *ncuts, int *owned, FrError *err)
{
    CutCache *cc = &r->cache[img];
    *ncuts = cc->ncuts;
    if (!cc->on_disk) {
        memcpy(cuts, cc->cuts, sizeof(FrTensor) * (size_t)cc->ncuts);
        *owned = 0;
        return 0;
    }
    *owned = 1;
    for (int k = 0; k < cc->ncuts; k++) {
        char p[4600];
        cache_file(r, img, k, p, sizeof p);
        int rc = fr_npy_read(p, &cuts[k], err);
        if (rc) {
            for (int j = 0; j < k; j++)
                fr_tensor_free(&cuts[j]);
            return rc;
        }
    }
    return 0;
}

static void cache_clear(Run *r)
{
    if (!r->cache)
        return;
    for (size_t i = 0; i < r->list.n; i++)
        for (int k = 0; k < (r->cache[i].on_disk ? 0 : r->cache[i].ncuts); k++)
            fr_tensor_free(&r->cache[i].cuts[k]);
    free(r->cache);
    r->cache = NULL;
}

/* ---------------- one feature point on one image ---------------- */

typedef struct PointArg {
    const FrPoint *pt;
    FrFeatureSettings fs;
    ImgRes *res;
    const int *dataset_qps; /* sensitivity with dataset scope: one map for all images */
    int n_qps;
    int sens_layer;
    FrRdoptResult dataset_rd; /* rdopt with dataset scope: what the one map predicts */
} PointArg;

/* rdopt, scope image: this image's curves over sweep.rdopt.qps (through the
 * sensitivity cache) and the Lagrangian map at uniform QP_base's rate
 * (rdopt-refine: Algorithm 1's map from the same curves, refined). */
static int rdopt_image_qps(Run *r, int worker, size_t img, PointArg *pa, const FrTensor *cuts,
                           int ncuts, int *qps, int n, ImgRes *res, FrError *err)
{
    const FrRdoptSpec *rs = &r->e->sweep.rdopt;
    size_t nn = (size_t)n * (size_t)rs->n_qps;
    double *R = malloc(2 * nn * sizeof *R);
    int *start = malloc((size_t)n * sizeof *start);
    double *S = malloc((size_t)n * sizeof *S);
    int rc = !R || !start || !S ? fr_error(err, FR_E_NOMEM, "out of memory") : 0;
    double *D = R ? R + nn : NULL;
    if (!rc)
        rc = fr_rdopt_curves(r->models[worker], r->sens_cache, r->list.items[img].path,
                             pa->pt->split, r->split_layer, cuts, ncuts, &pa->fs, rs->qps,
                             rs->n_qps, pa->sens_layer, r->e->model.cfg, R, D, n, &res->t_sens,
                             err);
    int refine = pa->pt->allocation == FR_ALLOC_RDOPT_REFINE;
    if (!rc && refine) {
        int kb = 0;
        for (int k = 0; k < rs->n_qps; k++)
            kb = rs->qps[k] == pa->pt->qp ? k : kb;
        for (int i = 0; i < n; i++)
            S[i] = D[(size_t)i * (size_t)rs->n_qps + (size_t)kb];
        rc = fr_alloc_qps(S, n, pa->pt->qp, r->e->sweep.qp_range, start, err);
    }
    FrRdoptResult rr;
    if (!rc)
        rc = fr_rdopt_allocate(R, D, n, rs->qps, rs->n_qps, pa->pt->qp, FR_RDOPT_MAP_BITS(n),
                               refine ? start : NULL, qps, &rr, err);
    if (!rc) {
        res->lambda = rr.lambda;
        res->d_pred = rr.dist;
    }
    free(R);
    free(start);
    free(S);
    return rc;
}

/* Hook for issue #8: the per-channel QPs of one image at one point. Uniform
 * allocation needs none (NULL); sensitivity allocation measures the channel
 * sensitivities on this image (cached in output.dir/cache/sens) or uses the
 * data-set map computed once per point; rdopt likewise with its curves. */
static int point_channel_qps(Run *r, int worker, size_t img, PointArg *pa, const FrTensor *cuts,
                             int ncuts, int **qps, int *nq, ImgRes *res, FrError *err)
{
    double *secs = &res->t_sens;
    *qps = NULL;
    *nq = 0;
    *secs = 0;
    if (!fr_alloc_info(pa->pt->allocation)->per_channel)
        return 0;
    int n = fr_alloc_channels(cuts, ncuts);
    if (pa->dataset_qps) {
        if (n != pa->n_qps)
            return fr_error(err, FR_E_INTERNAL, "channel count changed between images");
        *qps = malloc(sizeof(int) * (size_t)n);
        if (!*qps)
            return fr_error(err, FR_E_NOMEM, "out of memory");
        memcpy(*qps, pa->dataset_qps, sizeof(int) * (size_t)n);
        *nq = n;
        res->lambda = pa->dataset_rd.lambda;
        res->d_pred = pa->dataset_rd.dist;
        return 0;
    }
    *qps = malloc(sizeof(int) * (size_t)n);
    if (!*qps)
        return fr_error(err, FR_E_NOMEM, "out of memory");
    *nq = n;
    if (is_rdopt(pa->pt->allocation))
        return rdopt_image_qps(r, worker, img, pa, cuts, ncuts, *qps, n, res, err);
    return fr_alloc_image_qps(r->models[worker], r->sens_cache, r->list.items[img].path,
                              pa->pt->split, r->split_layer, cuts, ncuts, &pa->fs, pa->pt->qp,
                              r->e->sweep.qp_range, pa->sens_layer, r->e->model.cfg, *qps, n,
                              NULL, secs, err);
}

/* rdopt: the additivity check. The distortion the whole decoded feature
 * causes at the measurement layer (the back half has just run on it), against
 * the sum of single-channel distortions the allocation predicted. */
static int joint_distortion(Run *r, int worker, PointArg *pa, const FrTensor *cuts, int ncuts,
                            ImgRes *res, FrError *err)
{
    FrModel *m = r->models[worker];
    FrTensor jo = {0}, ro = {0};
    int rc = fr_model_layer_output(m, pa->sens_layer, &jo);
    if (!rc)
        rc = fr_model_back(m, r->split_layer, cuts, ncuts, err);
    else
        fr_error(err, rc, "cannot read the measurement layer's output");
    if (!rc && (rc = fr_model_layer_output(m, pa->sens_layer, &ro)))
        fr_error(err, rc, "cannot read the measurement layer's output");
    if (!rc) {
        size_t ne = fr_tensor_size(&ro);
        double acc = 0;
        for (size_t i = 0; i < ne; i++) {
            double d = (double)jo.data[i] - (double)ro.data[i];
            acc += d * d;
        }
        res->d_joint = ne ? acc / (double)ne : 0;
    }
    fr_tensor_free(&jo);
    fr_tensor_free(&ro);
    return rc;
}

/* output.keep_streams: the image's container as streams/<point id>/<NNNNNN>_<image
 * name>.frd (NNNNNN: its 0-based position in the (subset) list), readable by
 * featrd decode and featrd frd extract. */
static int keep_stream(Run *r, const FrPoint *pt, size_t img, const uint8_t *frd, size_t len,
                       FrError *err)
{
    char dir[4500], path[4800];
    snprintf(dir, sizeof dir, "%s/streams", r->dir);
    mkdir(dir, 0777);
    snprintf(dir, sizeof dir, "%s/streams/%s", r->dir, pt->id);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return fr_error(err, FR_E_IO, "%s: cannot create (%s)", dir, strerror(errno));
    const char *p = r->list.items[img].path, *base = strrchr(p, '/');
    base = base ? base + 1 : p;
    const char *dot = strrchr(base, '.');
    int bl = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
    snprintf(path, sizeof path, "%s/%06zu_%.*s.frd", dir, img, bl, base);
    return fr_write_file_atomic(path, frd, len, err);
}

/* mkdir -p of the directory part of path (workers may race: EEXIST is fine). */
static int mkdir_parents(const char *path, FrError *err)
{
    char d[4800];
    snprintf(d, sizeof d, "%s", path);
    for (char *p = d + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(d, 0777) != 0 && errno != EEXIST)
            return fr_error(err, FR_E_IO, "%s: cannot create the directory (%s)", d,
                            strerror(errno));
        *p = '/';
    }
    return 0;
}

/* output.decoded_dir (kind features): the decoded cut set of one image at
 * one point, under the input's own file names, for the user's back half. */
static int write_decoded(Run *r, const FrPoint *pt, size_t img, const FrTensor *rec, int nrec,
                         FrError *err)
{
    const FrFeatureImage *im = &r->fset.images[img];
    for (int k = 0; k < nrec && k < im->n; k++) {
        char path[4800];
        snprintf(path, sizeof path, "%s/%s/%s", r->e->output.decoded_dir, pt->id,
                 im->files[k].rel);
        int rc = mkdir_parents(path, err);
        if (!rc)
            rc = fr_npy_write(path, &rec[k], err);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---------------- invert: the input image from the decoded feature ---------------- */

/* 1 when invert: gives sweep.split[s] a decoder. */
static int invert_split(const FrExperiment *e, int s)
{
    if (!e->invert.cfg)
        return 0;
    if (e->invert.n_splits == 0)
        return 1;
    for (int k = 0; k < e->invert.n_splits; k++)
        if (!strcmp(e->invert.splits[k], e->sweep.split[s]))
            return 1;
    return 0;
}

/* tmpl with every "{split}" replaced by split; -1 when it does not fit. */
static int invert_path(const char *tmpl, const char *split, char *buf, size_t cap)
{
    size_t n = 0, ls = strlen(split);
    for (const char *p = tmpl; *p;) {
        if (!strncmp(p, "{split}", 7)) {
            if (n + ls >= cap)
                return -1;
            memcpy(buf + n, split, ls);
            n += ls;
            p += 7;
        } else {
            if (n + 1 >= cap)
                return -1;
            buf[n++] = *p++;
        }
    }
    buf[n] = 0;
    return 0;
}

static int open_decoder(const Run *r, int s, FrModel **m, FrError *err)
{
    const FrExperiment *e = r->e;
    char cfg[4096], w[4096];
    if (invert_path(e->invert.cfg, e->sweep.split[s], cfg, sizeof cfg) ||
        invert_path(e->invert.weights, e->sweep.split[s], w, sizeof w))
        return fr_experiment_error(e, err, FR_E_CONFIG, "invert.cfg", "path too long");
    FrModelSettings ms;
    fr_model_defaults(&ms);
    ms.cfg = cfg;
    ms.weights = w;
    ms.gemm = e->model.gemm;
    ms.quiet = 1;
    int rc = fr_model_open(m, &ms, err);
    if (rc) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
        return fr_experiment_error(e, err, rc, "invert.cfg", "split %s: %s", e->sweep.split[s],
                                   msg);
    }
    return 0;
}

static void close_decoders(Run *r)
{
    if (!r->dec)
        return;
    for (int w = 0; w < r->jobs; w++)
        fr_model_close(&r->dec[w]);
    free(r->dec);
    r->dec = NULL;
}

/* The decoders of split s for every worker (none when it has no decoder). */
static int open_decoders(Run *r, int s, FrError *err)
{
    close_decoders(r);
    if (r->feat || !invert_split(r->e, s))
        return 0;
    if (!(r->dec = calloc((size_t)r->jobs, sizeof *r->dec)))
        return fr_error(err, FR_E_NOMEM, "out of memory");
    int rc = 0;
    for (int w = 0; w < r->jobs && !rc; w++)
        rc = open_decoder(r, s, &r->dec[w], err);
    if (rc)
        close_decoders(r);
    return rc;
}

/* invert: before anything runs, every decoder opens and fits its split
 * (input = the split's one cut tensor, output = the network input). */
static int check_decoders(Run *r, FrError *err)
{
    const FrExperiment *e = r->e;
    if (!e->invert.cfg)
        return 0;
    if (!e->invert.weights)
        return fr_experiment_error(e, err, FR_E_CONFIG, "invert.weights",
                                   "invert.cfg needs its weights (featrd invert train writes them)");
    for (int k = 0; k < e->invert.n_splits; k++) {
        int found = 0;
        for (int s = 0; s < e->sweep.n_split && !found; s++)
            found = !strcmp(e->invert.splits[k], e->sweep.split[s]);
        if (!found) {
            char key[64];
            snprintf(key, sizeof key, "invert.splits[%d]", k);
            return fr_experiment_error(e, err, FR_E_CONFIG, key,
                                       "'%s' is not one of sweep.split (write it as there)",
                                       e->invert.splits[k]);
        }
    }
    int ic, ih, iw;
    fr_model_input_size(r->models[0], &ic, &ih, &iw);
    for (int s = 0; s < e->sweep.n_split; s++) {
        if (!invert_split(e, s))
            continue;
        int li, cut[FR_MODEL_MAX_CUTS], nc = 0;
        int rc = fr_model_find_layer(r->models[0], e->sweep.split[s], &li, err);
        if (!rc)
            rc = fr_model_cut_set_err(r->models[0], li, cut, FR_MODEL_MAX_CUTS, &nc, err);
        if (rc)
            return rc;
        if (nc != 1)
            return fr_experiment_error(e, err, FR_E_CONFIG, "invert.splits",
                                       "split %s: its cut set is %d tensors; a decoder takes one "
                                       "(list the splits that have a decoder)", e->sweep.split[s],
                                       nc);
        FrModel *m = NULL;
        if ((rc = open_decoder(r, s, &m, err)))
            return rc;
        FrLayerInfo cl, ol;
        fr_model_layer_info(r->models[0], cut[0], &cl);
        int dc, dh, dw, last = fr_model_layer_count(m) - 1;
        fr_model_input_size(m, &dc, &dh, &dw);
        fr_model_layer_info(m, last, &ol);
        if (!strcmp(ol.type, "cost") && last > 0)
            fr_model_layer_info(m, last - 1, &ol);
        fr_model_close(&m);
        if (dc != cl.c || dh != cl.h || dw != cl.w)
            return fr_experiment_error(e, err, FR_E_CONFIG, "invert.cfg",
                                       "split %s: the decoder takes %d×%d×%d, the split outputs "
                                       "%d×%d×%d (C×H×W)", e->sweep.split[s], dc, dh, dw, cl.c,
                                       cl.h, cl.w);
        if (ol.c != ic || ol.h != ih || ol.w != iw || ic != 3)
            return fr_experiment_error(e, err, FR_E_CONFIG, "invert.cfg",
                                       "split %s: the decoder outputs %d×%d×%d, the network input "
                                       "is %d×%d×%d (an RGB image)", e->sweep.split[s], ol.c, ol.h,
                                       ol.w, ic, ih, iw);
    }
    return 0;
}

/* "dir/a/b.png" -> "b" */
static void image_stem(const char *path, char *buf, size_t cap)
{
    const char *sl = strrchr(path, '/');
    snprintf(buf, cap, "%s", sl ? sl + 1 : path);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf)
        *dot = 0;
}

/* Scores an image (3×H×W, 0..1) against the network input as 8-bit
 * pictures and, for the first invert.png images, writes both as PNG:
 * recon/<point id>/<stem>.png and recon/input/<stem>.png. */
static int recon_score(Run *r, const FrPoint *pt, size_t img, const FrTensor *im,
                       const FrTensor *input, ImgRes *res, FrError *err)
{
    if (im->c != 3 || input->c != 3 || im->h != input->h || im->w != input->w)
        return fr_error(err, FR_E_MISMATCH, "%s: reconstruction %d×%d×%d, input %d×%d×%d",
                        r->list.items[img].path, im->c, im->h, im->w, input->c, input->h,
                        input->w);
    size_t n = fr_tensor_size(im);
    uint8_t *a = malloc(n), *b = malloc(n);
    int rc = 0;
    if (!a || !b) {
        rc = fr_error(err, FR_E_NOMEM, "out of memory");
        goto done;
    }
    fr_image_to_bytes(im, a);
    fr_image_to_bytes(input, b);
    res->rpsnr = fr_image_psnr8(a, b, im->w, im->h, 3);
    res->rssim = fr_image_ssim8(a, b, im->w, im->h, 3);
    if (img < (size_t)r->e->invert.png) {
        char stem[512], path[4800];
        struct stat st;
        image_stem(r->list.items[img].path, stem, sizeof stem);
        snprintf(path, sizeof path, "%s/recon/%s/%s.png", r->dir, pt->id, stem);
        rc = mkdir_parents(path, err);
        if (!rc)
            rc = fr_demo_write_png(path, a, im->w, im->h, 3, err);
        snprintf(path, sizeof path, "%s/recon/input/%s.png", r->dir, stem);
        if (!rc && stat(path, &st) != 0 && !(rc = mkdir_parents(path, err)))
            rc = fr_demo_write_png(path, b, im->w, im->h, 3, err);
    }
done:
    free(a);
    free(b);
    return rc;
}

/* The split's decoder on the decoded feature, scored against the input. */
static int recon_feature(Run *r, int worker, size_t img, const FrPoint *pt, const FrTensor *rec,
                         int nrec, ImgRes *res, FrError *err)
{
    FrTensor rgb = {0}, input = {0}, out = {0};
    FrModel *d = r->dec[worker];
    int rc = nrec == 1 ? 0 : fr_error(err, FR_E_INTERNAL, "a decoder takes one tensor");
    if (!rc)
        rc = load_input(r, worker, img, &rgb, &input, err);
    if (!rc)
        rc = fr_model_forward(d, &rec[0], err);
    if (!rc && (rc = fr_model_output(d, &out)))
        fr_error(err, rc, "the decoder's output");
    if (!rc)
        rc = recon_score(r, pt, img, &out, &input, res, err);
    fr_tensor_free(&rgb);
    fr_tensor_free(&input);
    fr_tensor_free(&out);
    return rc;
}

static int feature_image(Run *r, int worker, size_t img, void *arg, FrError *err)
{
    PointArg *pa = arg;
    ImgRes *res = &pa->res[img];
    FrTensor cuts[FR_MODEL_MAX_CUTS];
    int ncuts = 0, owned = 0;
    int rc = cache_get(r, img, cuts, &ncuts, &owned, err);
    if (rc)
        return rc;
    uint8_t *frd = NULL;
    size_t len = 0;
    FrTensor *rec = NULL;
    int nrec = 0;
    int *qps = NULL, nq = 0;
    FrFeatureSettings fs = pa->fs;
    rc = point_channel_qps(r, worker, img, pa, cuts, ncuts, &qps, &nq, res, err);
    if (rc)
        goto done;
    if (nq > 0 && is_rdopt(pa->pt->allocation)) {
        /* rdopt's map of one QP (its fallback to uniform QP_base) is sent as
         * that uniform QP, without the 8 bits a channel of the list */
        int same = 1;
        for (int i = 1; i < nq && same; i++)
            same = qps[i] == qps[0];
        if (same) {
            fs.qp = qps[0];
            free(qps);
            qps = NULL;
            nq = 0;
        }
    }
    fs.channel_qp = qps;
    fs.n_channel_qp = nq;
    FrBitStats bs;
    memset(&bs, 0, sizeof bs);
    double t0 = fr_now();
    rc = fr_feature_encode(cuts, ncuts, pa->pt->split, &fs, &frd, &len, &bs, err);
    if (rc)
        goto done;
    res->t_enc = fr_now() - t0;
    if (r->e->output.keep_streams && (rc = keep_stream(r, pa->pt, img, frd, len, err)))
        goto done;
    res->bits = (double)bs.total_bits;
    res->payload = (double)bs.payload_bits;
    res->side = (double)bs.side_bits;
    res->paper = res->payload;
    if (fs.bits != FR_BITS_FLOAT)
        for (int k = 0; k < ncuts; k++)
            res->paper += 32.0 * (fs.relu_min0 ? 1 : 2) *
                          (fs.range == FR_RANGE_CHANNEL ? cuts[k].c : 1);
    t0 = fr_now();
    rc = fr_feature_decode(frd, len, &rec, &nrec, NULL, err);
    if (rc)
        goto done;
    res->t_dec = fr_now() - t0;
    if (nrec != ncuts) {
        rc = fr_error(err, FR_E_INTERNAL, "decoded %d cut tensors, coded %d", nrec, ncuts);
        goto done;
    }
    /* Distortion over the whole cut set: element-weighted MSE; PSNR with the
     * widest original range (the Q-layer's tensor range for one cut). */
    double se = 0, se_n = 0, peak = 0, elems = 0, pw = 0;
    for (int k = 0; k < ncuts; k++) {
        FrFeatureDistortion d;
        rc = fr_feature_distortion(&cuts[k], &rec[k], &d, err);
        if (rc)
            goto done;
        double ne = (double)fr_tensor_size(&cuts[k]);
        se += d.mse * ne;
        pw += d.power * ne;
        se_n += fr_feature_mse_nbit(&cuts[k], &rec[k], pa->pt->bits) * ne;
        if (d.peak > peak)
            peak = d.peak;
        elems += ne;
    }
    res->elements = elems;
    res->mse = se / elems;
    res->mse_nbit = se_n / elems;
    res->psnr = fr_psnr(res->mse, peak);
    res->sqnr = fr_sqnr(res->mse, pw / elems);
    res->t_front = r->cache[img].t_front;
    if (r->feat) { /* no back half: the decoded tensors go to the user's */
        if (r->e->output.decoded_dir)
            rc = write_decoded(r, pa->pt, img, rec, nrec, err);
        goto done;
    }
    if (r->dec && (rc = recon_feature(r, worker, img, pa->pt, rec, nrec, res, err)))
        goto done;
    t0 = fr_now();
    rc = fr_model_back(r->models[worker], r->split_layer, rec, nrec, err);
    if (!rc)
        rc = take_output(r, r->models[worker], img, res, err);
    res->t_back = fr_now() - t0;
    if (!rc && is_rdopt(pa->pt->allocation))
        rc = joint_distortion(r, worker, pa, cuts, ncuts, res, err);
done:
    free(qps);
    free(frd);
    if (rec) {
        for (int k = 0; k < nrec; k++)
            fr_tensor_free(&rec[k]);
        free(rec);
    }
    if (owned)
        for (int k = 0; k < ncuts; k++)
            fr_tensor_free(&cuts[k]);
    return rc;
}

/* ---------------- anchors ---------------- */

static int anchor_image(Run *r, int worker, size_t img, void *arg, FrError *err)
{
    PointArg *pa = arg;
    ImgRes *res = &pa->res[img];
    const FrAnchorSpec *as = &r->e->anchors[pa->pt->anchor];
    FrTensor rgb = {0}, dec = {0}, input = {0};
    size_t bytes = 0;
    int rc = load_input(r, worker, img, &rgb, NULL, err);
    if (rc)
        return rc;
    double t0 = fr_now();
    if (pa->pt->quality >= 0) {
        rc = fr_image_jpeg_code(&rgb, pa->pt->quality, &bytes, &dec, err);
    } else {
        /* the features' x265 settings (resolved by the config) */
        FrRgbCoding cs;
        fr_rgb_coding_defaults(&cs);
        cs.qp = pa->pt->qp;
        cs.code = pa->pt->kind == FR_POINT_ANCHOR;
        cs.chroma = as->chroma;
        cs.hevc = as->hevc;
        rc = fr_rgb_code(&rgb, &cs, &bytes, &dec, err);
    }
    res->t_enc = fr_now() - t0;
    if (!rc)
        rc = fr_model_prepare_input(r->models[worker], &dec, &input);
    if (!rc && r->e->invert.cfg) {
        /* invert: the anchor's own reconstruction is its decoded image, at
         * the network input like the features' */
        FrTensor orig = {0};
        rc = fr_model_prepare_input(r->models[worker], &rgb, &orig);
        if (!rc)
            rc = recon_score(r, pa->pt, img, &input, &orig, res, err);
        fr_tensor_free(&orig);
    }
    if (!rc) {
        t0 = fr_now();
        rc = fr_model_forward(r->models[worker], &input, err);
        if (!rc)
            rc = take_output(r, r->models[worker], img, res, err);
        res->t_back = fr_now() - t0;
    }
    /* the stream plus the side information a receiver needs, as features
     * pay their container; a JPEG file carries its own header */
    res->payload = 8.0 * (double)bytes;
    res->side = pa->pt->quality >= 0 ? 0 : FR_ANCHOR_SIDE_BITS;
    res->bits = res->payload + res->side;
    res->paper = res->payload;
    res->elements = 3.0 * rgb.w * rgb.h;
    fr_tensor_free(&rgb);
    fr_tensor_free(&dec);
    fr_tensor_free(&input);
    return rc;
}

/* ---------------- the run ---------------- */

static int mine(const Run *r, const FrPoint *pt)
{
    if (r->umode == UNIT_COMPUTE)
        return fr_unit_group(&r->up, pt) == r->group;
    return pt->ordinal % r->o.shard_count == r->o.shard_index;
}

static int todo(const Run *r, const FrPoint *pt)
{
    if (r->umode == UNIT_COMPUTE)
        return mine(r, pt) && !r->unit_done[pt->ordinal];
    return mine(r, pt) && !r->rows[pt->ordinal];
}

static ImgRes *res_alloc(Run *r)
{
    size_t n = r->list.n ? r->list.n : 1;
    ImgRes *res = calloc(n, sizeof(ImgRes));
    for (size_t i = 0; res && i < n; i++)
        res[i].rpsnr = res[i].rssim = NAN; /* not measured unless invert: says so */
    return res;
}

static void res_free(Run *r, ImgRes **res)
{
    if (!*res)
        return;
    for (size_t i = 0; i < r->list.n; i++)
        imgres_free(&(*res)[i]);
    free(*res);
    *res = NULL;
}

/* Fields of one CSV row (commas outside double quotes, plus one). */
static int csv_fields(const char *row)
{
    int n = 1, q = 0;
    for (const char *p = row; *p && *p != '\n'; p++) {
        if (*p == '"')
            q = !q;
        else if (*p == ',' && !q)
            n++;
    }
    return n;
}

/* Loads the journal: rows of points this config expands to (id checked).
 * A row with another number of fields than this featrd's points.csv has
 * was written by another featrd version: refused, never mixed in. */
static int load_journal(Run *r, FrError *err)
{
    char **lines = NULL;
    size_t n = 0;
    int rc = fr_journal_read(r->journal_path, &lines, &n, err);
    if (rc)
        return rc;
    int ncols;
    fr_points_columns(&ncols);
    for (size_t i = 0; i < n; i++) {
        char *e0;
        long o0 = strtol(lines[i], &e0, 10);
        int nf = csv_fields(lines[i]);
        if (e0 != lines[i] && *e0 == ',' && o0 >= 0 && nf != ncols) {
            fr_journal_lines_free(&lines, n);
            if (r->o.force) { /* recompute every point: the rows cannot be kept */
                if (unlink(r->journal_path) && errno != ENOENT)
                    return fr_error(err, FR_E_IO, "%s: cannot remove (%s)", r->journal_path,
                                    strerror(errno));
                unlink(r->csv_path);
                return 0;
            }
            return fr_error(err, FR_E_MISMATCH,
                          "%s: its points were written by a featrd with another points.csv "
                          "(%d columns; this featrd writes %d): rerun with --force to recompute "
                          "them, or choose a new output.dir (-o output.dir=PATH)",
                          r->journal_path, nf, ncols);
        }
    }
    for (size_t i = 0; i < n; i++) {
        char *end;
        long ord = strtol(lines[i], &end, 10);
        if (end == lines[i] || *end != ',' || ord < 0 || ord >= r->plan.n)
            continue;
        const FrPoint *pt = &r->plan.points[ord];
        size_t il = strlen(pt->id);
        if (strncmp(end + 1, pt->id, il) || end[1 + il] != ',' || !mine(r, pt))
            continue;
        if (!r->rows[ord]) {
            r->rows[ord] = lines[i];
            lines[i] = NULL;
        }
    }
    fr_journal_lines_free(&lines, n);
    return 0;
}

/* After `featrd merge` the directory has points.csv but no unsharded journal:
 * its rows (same config, checked by the manifest hash) count as committed,
 * so a later unsharded run resumes instead of starting over. Every row
 * adopted is appended to the journal. */
static int adopt_merged_rows(Run *r, FrError *err)
{
    if (r->o.shard_count != 1 || access(r->journal_path, F_OK) == 0 ||
        access(r->csv_path, R_OK) != 0)
        return 0;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = fr_read_file(r->csv_path, &data, &len, err);
    if (rc)
        return rc;
    char *s = (char *)data;
    size_t pos = 0;
    int header = 1;
    while (pos < len && !rc) {
        char *nl = memchr(s + pos, '\n', len - pos);
        if (!nl)
            break; /* points.csv is written atomically; no torn line expected */
        *nl = 0;
        char *line = s + pos;
        pos = (size_t)(nl - s) + 1;
        if (header) {
            /* a points.csv of another featrd version is not adopted: with
             * --force the points are recomputed, else the run is refused */
            int ncols, nf = csv_fields(line);
            fr_points_columns(&ncols);
            if (nf != ncols) {
                free(data);
                if (r->o.force)
                    return 0;
                return fr_error(err, FR_E_MISMATCH,
                                "%s: written by a featrd with another points.csv (%d columns; this "
                                "featrd writes %d): rerun with --force to recompute the points, or "
                                "choose a new output.dir (-o output.dir=PATH)",
                                r->csv_path, nf, ncols);
            }
            header = 0;
            continue;
        }
        char *end;
        long ord = strtol(line, &end, 10);
        if (end == line || *end != ',' || ord < 0 || ord >= r->plan.n || r->rows[ord])
            continue;
        const FrPoint *pt = &r->plan.points[ord];
        size_t il = strlen(pt->id);
        if (strncmp(end + 1, pt->id, il) || end[1 + il] != ',')
            continue;
        if (!r->journal && (rc = fr_journal_open(&r->journal, r->journal_path, err)))
            break;
        rc = fr_journal_append(r->journal, line, err);
        if (!rc && !(r->rows[ord] = strdup(line)))
            rc = fr_error(err, FR_E_NOMEM, "out of memory");
    }
    free(data);
    return rc;
}

/* Opens worker w's model with model.weights (wi -1) or sweep.weights[wi]. */
static int open_worker_model(Run *r, int w, int wi, FrError *err)
{
    const FrExperiment *e = r->e;
    FrModelSettings ms;
    fr_model_defaults(&ms);
    ms.cfg = e->model.cfg;
    ms.weights = wi < 0 ? e->model.weights : e->sweep.weights[wi];
    ms.seed = e->model.seed;
    ms.width = e->model.input_w;
    ms.height = e->model.input_h;
    ms.gemm = e->model.gemm;
    ms.quiet = w > 0 || r->o.progress == FR_PROGRESS_NONE;
    return fr_model_open(&r->models[w], &ms, err);
}

/* The worker models hold weights wi (reopened when they hold others). */
static int use_weights(Run *r, int wi, FrError *err)
{
    if (r->cur_weights == wi)
        return 0;
    for (int w = 0; w < r->jobs; w++)
        fr_model_close(&r->models[w]);
    r->cur_weights = wi;
    int rc = 0;
    for (int w = 0; w < r->jobs && !rc; w++)
        rc = open_worker_model(r, w, wi, err);
    if (!rc && wi >= 0)
        fr_progress_note(r->prog, "weights %s", r->e->sweep.weights[wi]);
    return rc;
}

static int run_split_points(Run *r, int s, int wi, const int *cut, int ncut, FrError *err);

/* Split s: its layer, name and cut set (r->split_layer, split_lname,
 * cut_desc); cut/ncut its cut layers, *bytes one image's cut tensors. */
static int split_resolve(Run *r, int s, int *cut, int *ncut, size_t *bytes, FrError *err)
{
    const FrExperiment *e = r->e;
    r->split_name = e->sweep.split[s];
    int rc = fr_model_find_layer(r->models[0], r->split_name, &r->split_layer, err);
    if (!rc)
        rc = fr_model_cut_set_err(r->models[0], r->split_layer, cut, FR_MODEL_MAX_CUTS, ncut,
                                  err);
    if (rc) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
        char key[64];
        snprintf(key, sizeof key, "sweep.split[%d]", s);
        return fr_experiment_error(e, err, FR_E_USAGE, key, "%s", msg);
    }
    FrLayerInfo li;
    fr_model_layer_info(r->models[0], r->split_layer, &li);
    snprintf(r->split_lname, sizeof r->split_lname, "%s", li.name);
    r->cut_desc[0] = 0;
    *bytes = 0;
    for (int k = 0; k < *ncut; k++) {
        FrLayerInfo ci;
        fr_model_layer_info(r->models[0], cut[k], &ci);
        size_t l = strlen(r->cut_desc);
        snprintf(r->cut_desc + l, sizeof r->cut_desc - l, "%s%s", k ? "+" : "", ci.name);
        *bytes += ci.bytes;
    }
    return 0;
}

static int run_feature_points(Run *r, int s, int wi, FrError *err)
{
    int any = 0;
    for (int i = 0; i < r->plan.n; i++)
        if (r->plan.points[i].kind == FR_POINT_FEATURE && r->plan.points[i].split_index == s &&
            r->plan.points[i].weights == wi && todo(r, &r->plan.points[i]))
            any = 1;
    if (!any)
        return 0;
    int rc = use_weights(r, wi, err);
    int cut[FR_MODEL_MAX_CUTS], ncut = 0;
    size_t bytes = 0;
    if (!rc)
        rc = split_resolve(r, s, cut, &ncut, &bytes, err);
    if (rc)
        return rc;
    r->cache = calloc(r->list.n ? r->list.n : 1, sizeof *r->cache);
    if (!r->cache)
        return fr_error(err, FR_E_NOMEM, "out of memory");
    int disk = bytes * r->list.n > r->o.cache_mem;
    if (disk) {
        /* One directory per shard: a shard deletes its cache when its points
         * of the split are done, which must not pull files from under another. */
        if (r->umode == UNIT_COMPUTE)
            snprintf(r->cache_dir, sizeof r->cache_dir, "%s/cache/%s.unit-%d", r->dir,
                     r->split_lname, r->unit);
        else if (r->o.shard_count > 1)
            snprintf(r->cache_dir, sizeof r->cache_dir, "%s/cache/%s.shard-%d-of-%d", r->dir,
                     r->split_lname, r->o.shard_index, r->o.shard_count);
        else
            snprintf(r->cache_dir, sizeof r->cache_dir, "%s/cache/%s", r->dir, r->split_lname);
        char tmp[4500];
        snprintf(tmp, sizeof tmp, "%s/cache", r->dir);
        mkdir(tmp, 0777);
        mkdir(r->cache_dir, 0777);
        for (size_t i = 0; i < r->list.n; i++) {
            r->cache[i].on_disk = 1;
            r->cache[i].ncuts = ncut;
        }
    }
    fr_progress_note(r->prog, "split %s: front half of %zu images", r->split_name,
                     r->img_hi - r->img_lo);
    rc = par_for(r, front_image, NULL, err);
    for (size_t i = 0; i < r->list.n; i++)
        r->tot_front += r->cache[i].t_front;
    if (!rc)
        rc = run_split_points(r, s, wi, cut, ncut, err);
    if (!rc && disk) {
        /* Every point of the split is committed: the cut tensors (images ×
         * cut bytes, 23 GB for yolo9000 max_3 on VOC07 test) are not needed. */
        for (size_t i = 0; i < r->list.n; i++)
            for (int k = 0; k < ncut; k++) {
                char p[4600];
                cache_file(r, i, k, p, sizeof p);
                unlink(p);
            }
        rmdir(r->cache_dir);
    }
    cache_clear(r);
    return rc;
}

/* rdopt, scope dataset: the curves averaged over the calibration images
 * (each image's through the cache, so later points reuse them) and one map. */
static int rdopt_dataset_qps(Run *r, PointArg *pa, const char **paths, int ncal, int nc,
                             int *dqps, FrError *err)
{
    const FrRdoptSpec *rs = &r->e->sweep.rdopt;
    size_t nn = (size_t)nc * (size_t)rs->n_qps;
    double *R = malloc(2 * nn * sizeof *R), *S = malloc((size_t)nc * sizeof *S), secs = 0;
    int *start = malloc((size_t)nc * sizeof *start);
    int rc = !R || !S || !start ? fr_error(err, FR_E_NOMEM, "out of memory") : 0;
    double *D = R ? R + nn : NULL;
    if (!rc)
        rc = fr_rdopt_dataset_curves(r->models[0], r->sens_cache, paths, ncal, pa->pt->split,
                                     r->split_layer, &pa->fs, rs->qps, rs->n_qps, pa->sens_layer,
                                     r->e->model.cfg, R, D, nc, &secs, err);
    int refine = pa->pt->allocation == FR_ALLOC_RDOPT_REFINE;
    if (!rc && refine) {
        int kb = 0;
        for (int k = 0; k < rs->n_qps; k++)
            kb = rs->qps[k] == pa->pt->qp ? k : kb;
        for (int i = 0; i < nc; i++)
            S[i] = D[(size_t)i * (size_t)rs->n_qps + (size_t)kb];
        rc = fr_alloc_qps(S, nc, pa->pt->qp, r->e->sweep.qp_range, start, err);
    }
    if (!rc)
        rc = fr_rdopt_allocate(R, D, nc, rs->qps, rs->n_qps, pa->pt->qp, FR_RDOPT_MAP_BITS(nc),
                               refine ? start : NULL, dqps, &pa->dataset_rd, err);
    free(R);
    free(S);
    free(start);
    return rc;
}

/* Every unfinished feature point of split s (weights wi) on the cut sets
 * in r->cache: the rd kind's after its front half, kind features' on its
 * input files. cut/ncut: the split's cut layers (sensitivity allocation). */
static int run_split_points(Run *r, int s, int wi, const int *cut, int ncut, FrError *err)
{
    const FrExperiment *e = r->e;
    int rc = open_decoders(r, s, err);
    for (int i = 0; i < r->plan.n && !rc; i++) {
        const FrPoint *pt = &r->plan.points[i];
        if (pt->kind != FR_POINT_FEATURE || pt->split_index != s || pt->weights != wi ||
            !todo(r, pt))
            continue;
        PointArg pa;
        memset(&pa, 0, sizeof pa);
        pa.pt = pt;
        fr_feature_defaults(&pa.fs);
        const FrCodecSpec *cs = &e->sweep.codec[pt->codec_entry];
        pa.fs.bits = pt->bits;
        pa.fs.range = e->sweep.range;
        pa.fs.relu_min0 = e->sweep.relu_min0;
        pa.fs.packing = pt->packing;
        pa.fs.tile_pad = e->sweep.tile_pad;
        pa.fs.codec = (FrCodecKind)cs->codec->id;
        pa.fs.codec_settings = cs->settings;
        pa.fs.qp = pt->qp >= 0 ? pt->qp : 0;
        rc = fr_feature_validate(&pa.fs, err);
        if (rc) {
            char msg[sizeof err->msg], key[64];
            snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
            snprintf(key, sizeof key, "sweep.codec[%d]", pt->codec_entry);
            rc = fr_experiment_error(e, err, FR_E_CONFIG, key, "%s", msg);
            break;
        }
        int *dqps = NULL;
        if (fr_alloc_info(pt->allocation)->per_channel) {
            rc = fr_alloc_sens_layer(r->models[0], r->split_layer, e->sweep.sensitivity.layer,
                                     e->sweep.sensitivity.layer_name, &pa.sens_layer, err);
            if (!rc && !r->sens_cache) {
                char sd[4500];
                snprintf(sd, sizeof sd, "%s/cache/sens", r->dir);
                rc = fr_sens_cache_create(&r->sens_cache, sd, err);
            }
            if (!rc && e->sweep.sensitivity.scope == FR_SENS_DATASET) {
                /* One QP map for every image from the first calibration images. */
                int nc = 0;
                for (int k = 0; k < ncut; k++) {
                    FrLayerInfo ci;
                    fr_model_layer_info(r->models[0], cut[k], &ci);
                    nc += ci.c;
                }
                int ncal = e->sweep.sensitivity.calibration_images;
                if (ncal > (int)r->list.n)
                    ncal = (int)r->list.n;
                const char **paths = calloc((size_t)ncal + 1, sizeof *paths);
                double *sv = calloc((size_t)nc + 1, sizeof *sv);
                dqps = calloc((size_t)nc + 1, sizeof *dqps);
                if (!paths || !sv || !dqps)
                    rc = fr_error(err, FR_E_NOMEM, "out of memory");
                for (int k = 0; k < ncal && !rc; k++)
                    paths[k] = r->list.items[k].path;
                double secs = 0;
                if (!rc && is_rdopt(pt->allocation))
                    rc = rdopt_dataset_qps(r, &pa, paths, ncal, nc, dqps, err);
                else if (!rc)
                    rc = fr_alloc_dataset_sensitivity(r->models[0], r->sens_cache, paths, ncal,
                                                      pt->split, r->split_layer, &pa.fs, pt->qp,
                                                      pa.sens_layer, e->model.cfg, sv, nc, &secs,
                                                      err);
                if (!rc && !is_rdopt(pt->allocation))
                    rc = fr_alloc_qps(sv, nc, pt->qp, e->sweep.qp_range, dqps, err);
                pa.dataset_qps = dqps;
                pa.n_qps = nc;
                free(paths);
                free(sv);
            }
        }
        pa.res = rc ? NULL : res_alloc(r);
        if (!rc && !pa.res)
            rc = fr_error(err, FR_E_NOMEM, "out of memory");
        if (!rc) {
            rc = par_for(r, feature_image, &pa, err);
            if (!rc) {
                for (size_t k = 0; k < r->list.n; k++) {
                    r->tot_back += pa.res[k].t_back;
                    r->tot_enc += pa.res[k].t_enc;
                    r->tot_dec += pa.res[k].t_dec;
                }
                rc = commit_point(r, pt, pa.res, err);
            }
        }
        free(dqps);
        res_free(r, &pa.res);
    }
    close_decoders(r);
    return rc;
}

/* kind features: one image's tensors read into the memory cache. */
static int feat_load_image(Run *r, int worker, size_t img, void *arg, FrError *err)
{
    (void)worker;
    (void)arg;
    CutCache *cc = &r->cache[img];
    const FrFeatureImage *im = &r->fset.images[img];
    for (int k = 0; k < im->n; k++) {
        int rc = fr_npy_read(im->files[k].path, &cc->cuts[k], err);
        if (rc)
            return rc;
        cc->ncuts = k + 1;
    }
    return 0;
}

/* kind features: the one split of the input, its tensors in memory (or
 * read from their files at each point when they exceed --cache-mem). */
static int run_feat(Run *r, FrError *err)
{
    r->split_name = r->fset.split;
    snprintf(r->split_lname, sizeof r->split_lname, "%s", r->fset.layer);
    snprintf(r->cut_desc, sizeof r->cut_desc, "%s", r->fset.cut);
    r->cache = calloc(r->list.n ? r->list.n : 1, sizeof *r->cache);
    if (!r->cache)
        return fr_error(err, FR_E_NOMEM, "out of memory");
    int rc = 0;
    if (r->fset.bytes > r->o.cache_mem) {
        for (size_t i = 0; i < r->list.n; i++) {
            r->cache[i].on_disk = 1;
            r->cache[i].ncuts = r->fset.images[i].n;
        }
    } else {
        fr_progress_note(r->prog, "reading the features of %zu images", r->list.n);
        rc = par_for(r, feat_load_image, NULL, err);
    }
    if (!rc)
        rc = run_split_points(r, 0, -1, NULL, 0, err);
    cache_clear(r);
    return rc;
}

static int run_rd(Run *r, FrError *err)
{
    const FrExperiment *e = r->e;
    /* Reference pass: image sizes and ground truth always; the whole network
     * when the reference point is to do or fidelity needs reference outputs. */
    RefArg ra = {NULL, 0};
    const FrPoint *ref = &r->plan.points[0];
    if (r->umode == UNIT_COMPUTE) /* fidelity's references come from group 0 at merge */
        ra.forward = todo(r, ref);
    else
        ra.forward = todo(r, ref) || r->task != FR_TASK_DETECTION;
    ra.res = res_alloc(r);
    if (!ra.res)
        return fr_error(err, FR_E_NOMEM, "out of memory");
    fr_progress_note(r->prog, "reading %zu images%s", r->img_hi - r->img_lo,
                     ra.forward ? " and running the uncompressed network" : "");
    double t0 = fr_now();
    int rc = par_for(r, ref_image, &ra, err);
    r->tot_ref = fr_now() - t0;
    if (!rc)
        rc = read_labels(r, err);
    if (!rc && todo(r, ref))
        rc = commit_point(r, ref, ra.res, err);
    res_free(r, &ra.res);
    for (int wi = e->sweep.n_weights ? 0 : -1; wi < e->sweep.n_weights && !rc; wi++)
        for (int s = 0; s < e->sweep.n_split && !rc; s++)
            rc = run_feature_points(r, s, wi, err);
    /* anchors run the network as shipped */
    if (!rc)
        rc = use_weights(r, -1, err);
    for (int i = 0; i < r->plan.n && !rc; i++) {
        const FrPoint *pt = &r->plan.points[i];
        if ((pt->kind != FR_POINT_ANCHOR && pt->kind != FR_POINT_REFERENCE_YUV) || !todo(r, pt))
            continue;
        PointArg pa;
        memset(&pa, 0, sizeof pa);
        pa.pt = pt;
        pa.res = res_alloc(r);
        if (!pa.res)
            return fr_error(err, FR_E_NOMEM, "out of memory");
        t0 = fr_now();
        rc = par_for(r, anchor_image, &pa, err);
        r->tot_anchor += fr_now() - t0;
        if (!rc)
            rc = commit_point(r, pt, pa.res, err);
        res_free(r, &pa.res);
    }
    return rc;
}

/* ---------------- the merge of image-chunk units ---------------- */

/* Every chunk's file of point pt into res (and the image sizes). */
static int unit_load(Run *r, const FrPoint *pt, ImgRes *res, int *w, int *h, FrError *err)
{
    int rc = 0;
    for (int c = 0; c < r->up.chunks && !rc; c++)
        rc = fr_unit_res_read(r->dir, &r->up, pt, c, res, w, h, err);
    return rc;
}

/* Refuses the merge when a unit has not written every file it owes, naming
 * the units to rerun, or a file is corrupted or of another plan (before
 * anything is written). */
static int units_complete(Run *r, FrError *err)
{
    unsigned char *miss = calloc((size_t)r->up.units + 1, 1);
    if (!miss)
        return fr_error(err, FR_E_NOMEM, "out of memory");
    int nmiss = 0;
    for (int i = 0; i < r->plan.n; i++) {
        const FrPoint *pt = &r->plan.points[i];
        int g = fr_unit_group(&r->up, pt);
        for (int c = 0; c < r->up.chunks; c++) {
            int u = g * r->up.chunks + c;
            if (!miss[u] && !fr_unit_res_exists(r->dir, pt->id, c, r->up.chunks)) {
                miss[u] = 1;
                nmiss++;
            }
        }
    }
    if (!nmiss) {
        free(miss);
        /* every file whole and of this plan, before anything is committed */
        for (int i = 0; i < r->plan.n; i++) {
            const FrPoint *pt = &r->plan.points[i];
            for (int c = 0; c < r->up.chunks; c++) {
                int rc = fr_unit_res_check(r->dir, &r->up, pt, c, err);
                if (rc)
                    return rc;
            }
        }
        return 0;
    }
    char list[1024] = "";
    int shown = 0;
    for (int u = 0; u < r->up.units && shown < 24; u++)
        if (miss[u]) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%d", shown ? "," : "", u);
            shown++;
        }
    free(miss);
    return fr_error(err, FR_E_MISMATCH,
                    "%s: %d of %d units are not finished (units %s%s): `featrd status %s` says "
                    "which are running; rerun the others (`featrd submit` again submits only "
                    "them, or `featrd run %s/units/config.yaml --chunks %d --unit U`)",
                    r->dir, nmiss, r->up.units, list, nmiss > shown ? ",..." : "", r->dir,
                    r->dir, r->up.chunks);
}

/* UNIT_COLLECT: the points of a `featrd submit` run from their units'
 * files, aggregated and committed exactly as one run commits them. */
static int collect_rd(Run *r, FrError *err)
{
    const FrExperiment *e = r->e;
    int rc = 0;
    int *w = calloc(r->list.n + 1, sizeof *w), *h = calloc(r->list.n + 1, sizeof *h);
    ImgRes *res = res_alloc(r);
    if (!w || !h || !res) {
        free(w);
        free(h);
        free(res);
        return fr_error(err, FR_E_NOMEM, "out of memory");
    }
    const FrPoint *ref = &r->plan.points[0];
    fr_progress_note(r->prog, "merging %d units of %zu images", r->up.units, r->list.n);
    rc = unit_load(r, ref, res, w, h, err);
    for (size_t i = 0; i < r->list.n && !rc; i++) {
        r->info[i].w = w[i];
        r->info[i].h = h[i];
        rc = read_gt(r, i, err);
        if (!rc && r->task != FR_TASK_DETECTION && res[i].out.data) {
            FrTensor *t = &r->info[i].ref;
            rc = fr_tensor_alloc(t, res[i].out.c, res[i].out.h, res[i].out.w);
            if (!rc)
                memcpy(t->data, res[i].out.data, fr_tensor_size(t) * sizeof(float));
        }
    }
    if (!rc)
        rc = read_labels(r, err);
    if (!rc && todo(r, ref))
        rc = commit_point(r, ref, res, err);
    res_free(r, &res);
    for (int s = 0; s < e->sweep.n_split && !rc; s++) {
        int cut[FR_MODEL_MAX_CUTS], ncut = 0;
        size_t bytes = 0;
        int named = 0;
        for (int i = 1; i < r->plan.n && !rc; i++) {
            const FrPoint *pt = &r->plan.points[i];
            if (pt->kind != FR_POINT_FEATURE || pt->split_index != s || !todo(r, pt))
                continue;
            if (!named && (rc = split_resolve(r, s, cut, &ncut, &bytes, err)))
                break;
            named = 1;
            if (!(res = res_alloc(r)))
                rc = fr_error(err, FR_E_NOMEM, "out of memory");
            if (!rc)
                rc = unit_load(r, pt, res, w, h, err);
            if (!rc)
                rc = commit_point(r, pt, res, err);
            res_free(r, &res);
        }
    }
    for (int i = 1; i < r->plan.n && !rc; i++) {
        const FrPoint *pt = &r->plan.points[i];
        if (pt->kind == FR_POINT_FEATURE || !todo(r, pt))
            continue;
        if (!(res = res_alloc(r)))
            rc = fr_error(err, FR_E_NOMEM, "out of memory");
        if (!rc)
            rc = unit_load(r, pt, res, w, h, err);
        if (!rc)
            rc = commit_point(r, pt, res, err);
        res_free(r, &res);
    }
    free(w);
    free(h);
    return rc;
}

static void run_free(Run *r)
{
    close_decoders(r);
    if (r->models)
        for (int w = 0; w < r->jobs; w++)
            fr_model_close(&r->models[w]);
    free(r->models);
    if (r->info) {
        for (size_t i = 0; i < r->list.n; i++) {
            free(r->info[i].gt);
            fr_tensor_free(&r->info[i].ref);
        }
        free(r->info);
    }
    cache_clear(r);
    if (r->rows) {
        for (int i = 0; i < r->plan.n; i++)
            free(r->rows[i]);
        free(r->rows);
    }
    fr_sens_cache_destroy(&r->sens_cache);
    fr_journal_close(&r->journal);
    fr_progress_destroy(&r->prog);
    fr_image_list_free(&r->list);
    fr_names_free(&r->names);
    free(r->cmap);
    fr_plan_free(&r->plan);
    fr_feature_set_free(&r->fset);
    free(r->unit_done);
    pthread_mutex_destroy(&r->mu);
}

static int write_manifest(Run *r, const char *state, FrError *err)
{
    char extra[512];
    snprintf(extra, sizeof extra,
             "points_total: %d\npoints_this_shard: %zu\npoints_done: %zu\nstate: %s\n"
             "images: %zu\njobs: %d\n",
             r->plan.n, r->total_mine, r->done_mine, state, r->list.n, r->jobs);
    return fr_manifest_write(r->manifest_path, r->e, r->o.shard_index, r->o.shard_count,
                             r->o.git_dir, extra, err);
}

static int write_columns_doc(const char *dir, FrError *err)
{
    FrText t = {0};
    int nc;
    const FrColumnDoc *cols = fr_points_columns(&nc);
    fr_text_printf(&t, "# points.csv columns (featrd %s); numbers are nan when not applicable;\n"
                       "# columns ending in _s are wall-clock timings and differ run to run.\n"
                       "# name, unit (- for counts, ratios and text), meaning\n",
                   FR_VERSION_STRING);
    for (int k = 0; k < nc; k++)
        fr_text_printf(&t, "%-17s %-5s %s\n", cols[k].name,
                       cols[k].unit && cols[k].unit[0] ? cols[k].unit : "-", cols[k].doc);
    char path[4200];
    snprintf(path, sizeof path, "%s/points.columns.txt", dir);
    int rc = fr_text_write_atomic(&t, path, err);
    fr_text_free(&t);
    return rc;
}

/* kind rd: one model per worker, the task and its classes, and every
 * split resolved before anything is written, so a typo fails fast. */
static int setup_network(Run *r, FrError *err)
{
    const FrExperiment *e = r->e;
    int rc = 0;
    r->cur_weights = -1;
    for (int w = 0; w < r->jobs && !rc; w++)
        rc = open_worker_model(r, w, -1, err);
    if (rc)
        return rc;
    r->task = e->model.task != FR_TASK_AUTO ? e->model.task : fr_model_task(r->models[0]);
    if (fr_model_task(r->models[0]) == FR_TASK_DETECTION && r->task != FR_TASK_DETECTION) {
        /* a detector's output is boxes: scoring it as a class vector would
         * report fidelity 1 whatever the coding did */
        rc = fr_experiment_error(e, err, FR_E_CONFIG, "model.task",
                                 "%s ends in a detection layer; use task detection (or auto)",
                                 e->model.cfg);
        return rc;
    }
    r->nclasses = fr_model_classes(r->models[0]);
    if (r->task == FR_TASK_DETECTION && (rc = detection_classes(r, err)))
        return rc;
    /* Resolve every split before anything is written, so a typo fails fast;
     * two spellings of one layer (max_5 and 5) would run its points twice. */
    int *split_of = calloc((size_t)fr_model_layer_count(r->models[0]) + 1, sizeof *split_of);
    if (!split_of)
        rc = fr_error(err, FR_E_NOMEM, "out of memory");
    for (int s = 0; s < e->sweep.n_split && !rc; s++) {
        int li, cut[FR_MODEL_MAX_CUTS], nc;
        char key[64];
        snprintf(key, sizeof key, "sweep.split[%d]", s);
        rc = fr_model_find_layer(r->models[0], e->sweep.split[s], &li, err);
        if (!rc)
            rc = fr_model_cut_set_err(r->models[0], li, cut, FR_MODEL_MAX_CUTS, &nc, err);
        if (rc) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
            rc = fr_experiment_error(e, err, FR_E_USAGE, key, "%s", msg);
        } else if (split_of[li]) {
            FrLayerInfo info;
            fr_model_layer_info(r->models[0], li, &info);
            rc = fr_experiment_error(e, err, FR_E_USAGE, key,
                                     "'%s' is layer %d (%s), already listed as sweep.split[%d] "
                                     "'%s'; list each layer once",
                                     e->sweep.split[s], li, info.name, split_of[li] - 1,
                                     e->sweep.split[split_of[li] - 1]);
        } else {
            split_of[li] = s + 1;
        }
    }
    free(split_of);
    if (!rc)
        rc = check_decoders(r, err);
    return rc;
}

/* UNIT_COMPUTE (`featrd run --chunks C --unit U`): the unit's points over
 * its chunk of images, one file per point under units/; no points.csv,
 * journal or manifest (the merge writes them). The files are the commit:
 * a requeued or rerun unit skips the points whose file is there. */
static int run_unit(Run *r, FrError *err)
{
    const FrExperiment *e = r->e;
    r->group = r->unit / r->up.chunks;
    r->chunk = r->unit % r->up.chunks;
    fr_unit_chunk_range(&r->up, r->chunk, &r->img_lo, &r->img_hi);
    int lock_fd = -1;
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = 0;
    int rc = fr_results_dir_prepare(r->dir, err);
    if (!rc)
        rc = fr_results_check_config(r->dir, e, 0, err);
    if (!rc)
        rc = fr_unit_plan_write(r->dir, &r->up, cwd, err);
    if (!rc)
        rc = fr_unit_lock(r->dir, r->unit, &lock_fd, err);
    if (rc)
        return rc;
    char cfgp[4300];
    snprintf(cfgp, sizeof cfgp, "%s/units/config.yaml", r->dir);
    if (access(cfgp, F_OK) != 0) { /* what the merge loads; every unit writes the same */
        char *dump = fr_experiment_dump_string(e);
        rc = dump ? fr_write_file_atomic(cfgp, dump, strlen(dump), err)
                  : fr_error(err, FR_E_NOMEM, "out of memory");
        free(dump);
    }
    r->unit_done = calloc((size_t)r->plan.n + 1, 1);
    if (!rc && !r->unit_done)
        rc = fr_error(err, FR_E_NOMEM, "out of memory");
    size_t already = 0;
    for (int i = 0; i < r->plan.n && !rc; i++) {
        const FrPoint *pt = &r->plan.points[i];
        if (!mine(r, pt))
            continue;
        r->total_mine++;
        if (fr_unit_res_exists(r->dir, pt->id, r->chunk, r->up.chunks)) {
            r->unit_done[i] = 1;
            already++;
        }
    }
    r->done_mine = already;
    if (!rc)
        rc = fr_unit_state_write(r->dir, r->unit, "running", (int)already, (int)r->total_mine,
                                 err);
    if (rc) {
        fr_results_unlock(&lock_fd);
        return rc;
    }
    char name[200];
    snprintf(name, sizeof name, "%s [unit %d/%d: group %d, images %zu..%zu]", e->name, r->unit,
             r->up.units, r->group, r->img_lo, r->img_hi);
    r->prog = fr_progress_create(r->o.progress, name, r->total_mine, already);
    double t0 = fr_now();
    if (already < r->total_mine && r->img_hi > r->img_lo)
        rc = run_rd(r, err);
    fr_progress_destroy(&r->prog);
    FrError se = {0};
    fr_unit_state_write(r->dir, r->unit,
                        !rc ? "done" : rc == FR_E_INTERRUPTED ? "interrupted" : "failed",
                        (int)r->done_mine, (int)r->total_mine, &se);
    if (!rc && r->o.progress != FR_PROGRESS_NONE)
        fprintf(stderr, "%s: %zu points in %.1f s, %zu done earlier; front %.1f s, back %.1f s, "
                "encode %.1f s, decode %.1f s, anchors %.1f s (thread seconds)\n",
                name, r->done_mine - already, fr_now() - t0, already, r->tot_front, r->tot_back,
                r->tot_enc, r->tot_dec, r->tot_anchor);
    fr_results_unlock(&lock_fd);
    return rc;
}

/* The runner of kinds rd and features: plan, journal, lock, manifest,
 * progress and commit are shared; what differs is where a split's cut sets
 * come from (the front half, or the input files) and the back half. */
static int run_main(const FrExperiment *e, const FrRunOptions *opt, FrError *err)
{
    Run r;
    memset(&r, 0, sizeof r);
    pthread_mutex_init(&r.mu, NULL);
    int lock_fd = -1, manifest_running = 0;
    fr_run_stop_enter();
    r.e = e;
    if (opt)
        r.o = *opt;
    else
        fr_run_options_defaults(&r.o);
    if (r.o.shard_count < 1)
        r.o.shard_count = 1;
    r.jobs = r.o.jobs > 0 ? r.o.jobs : (e->jobs > 0 ? e->jobs : 1);
    if (r.jobs > FR_MAX_JOBS) /* the config and the CLI refuse more */
        r.jobs = FR_MAX_JOBS;
    snprintf(r.dir, sizeof r.dir, "%s", e->output.dir);
    r.feat = e->kind == FR_KIND_FEATURES;
    r.umode = r.o.chunks > 0 ? (r.o.collect ? UNIT_COLLECT : UNIT_COMPUTE) : UNIT_NONE;
    int rc = fr_experiment_check_files(e, err);
    if (!rc && r.umode && (r.feat || r.o.shard_count > 1))
        rc = fr_error(err, FR_E_USAGE, r.feat ? "kind features does not run in units (--chunks); "
                                                "use --shard I/N"
                                              : "--chunks/--unit and --shard I/N do not combine; "
                                                "use one");
    if (!rc && r.umode == UNIT_COLLECT)
        r.jobs = 1; /* the merge runs no network */
    if (!rc && r.feat) {
        rc = fr_feature_set_read(e, &r.fset, err);
        const char *split = r.fset.split;
        if (!rc)
            rc = fr_plan_build_splits(e, &split, 1, 0, &r.plan, err);
    } else if (!rc) {
        rc = fr_plan_build(e, &r.plan, err);
    }
    if (!rc)
        rc = fr_plan_check_bd(e, &r.plan, err);
    if (!rc && r.feat) {
        rc = fr_feature_set_list(&r.fset, &r.list, err);
    } else if (!rc) {
        rc = fr_image_list_read(e->dataset.images, &r.list, err);
        if (!rc && e->dataset.limit > 0)
            rc = fr_image_list_subset(&r.list, (size_t)e->dataset.limit, e->dataset.seed, err);
    }
    if (rc)
        goto out;
    r.img_lo = 0;
    r.img_hi = r.list.n;
    if (r.umode) {
        fr_unit_plan_init(&r.up, e, r.o.chunks, r.list.n);
        if (r.umode == UNIT_COMPUTE && (r.o.unit < 0 || r.o.unit >= r.up.units)) {
            rc = fr_error(err, FR_E_USAGE,
                          "--unit %d: this config has %d units with --chunks %d (%d groups: the "
                          "whole-network points and %d split x weight sets, times %d chunks of "
                          "the %zu images): use 0..%d",
                          r.o.unit, r.up.units, r.up.chunks, r.up.groups, r.up.groups - 1,
                          r.up.chunks, r.list.n, r.up.units - 1);
            goto out;
        }
        r.unit = r.o.unit;
    }
    r.models = calloc((size_t)r.jobs, sizeof *r.models);
    r.info = calloc(r.list.n, sizeof *r.info);
    r.rows = calloc((size_t)r.plan.n, sizeof *r.rows);
    if (!r.models || !r.info || !r.rows) {
        rc = fr_error(err, FR_E_NOMEM, "out of memory");
        goto out;
    }
    if (r.feat)
        r.task = FR_TASK_AUTO; /* no network: task metrics come from featrd score */
    else
        rc = setup_network(&r, err);
    if (!rc && r.umode == UNIT_COMPUTE) {
        rc = run_unit(&r, err);
        goto out;
    }
    if (!rc && r.umode == UNIT_COLLECT) {
        FrUnitPlan old;
        rc = fr_unit_plan_read(r.dir, &old, NULL, 0, err);
        if (!rc && (old.hash != r.up.hash || old.chunks != r.up.chunks ||
                    old.images != r.up.images))
            rc = fr_error(err, FR_E_MISMATCH, "%s/units/plan.yaml: planned for another config "
                          "or chunk count than the merge's (%s/units/config.yaml, --chunks %d)",
                          r.dir, r.dir, r.up.chunks);
        if (!rc) /* before anything is written: a refused merge leaves no points.csv */
            rc = units_complete(&r, err);
    }
    if (!rc)
        rc = fr_results_dir_prepare(r.dir, err);
    if (!rc)
        rc = fr_results_lock(r.dir, r.o.shard_index, r.o.shard_count, &lock_fd, err);
    if (!rc)
        rc = fr_results_check_config(r.dir, e, r.o.force, err);
    if (rc)
        goto out;
    fr_results_name(r.csv_path, sizeof r.csv_path, r.dir, "points", "csv", r.o.shard_index,
                    r.o.shard_count);
    fr_results_name(r.journal_path, sizeof r.journal_path, r.dir, "points", "journal",
                    r.o.shard_index, r.o.shard_count);
    fr_results_name(r.manifest_path, sizeof r.manifest_path, r.dir, "manifest", "yaml",
                    r.o.shard_index, r.o.shard_count);
    rc = load_journal(&r, err);
    if (!rc)
        rc = adopt_merged_rows(&r, err);
    if (!rc && !r.journal)
        rc = fr_journal_open(&r.journal, r.journal_path, err);
    if (!rc) {
        char cfgp[4200];
        fr_results_name(cfgp, sizeof cfgp, r.dir, "config", "yaml", r.o.shard_index,
                        r.o.shard_count);
        char *dump = fr_experiment_dump_string(e);
        rc = dump ? fr_write_file_atomic(cfgp, dump, strlen(dump), err)
                  : fr_error(err, FR_E_NOMEM, "out of memory");
        free(dump);
    }
    if (!rc)
        rc = write_columns_doc(r.dir, err);
    size_t already = 0;
    for (int i = 0; i < r.plan.n; i++)
        if (mine(&r, &r.plan.points[i])) {
            r.total_mine++;
            already += r.rows[i] != NULL;
        }
    r.done_mine = already;
    if (!rc)
        rc = write_manifest(&r, "running", err);
    manifest_running = !rc;
    if (!rc)
        rc = write_points_csv(&r, err);
    if (rc)
        goto out;
    char name[160];
    if (r.o.shard_count > 1)
        snprintf(name, sizeof name, "%s [shard %d/%d]", e->name, r.o.shard_index,
                 r.o.shard_count);
    else
        snprintf(name, sizeof name, "%s", e->name);
    r.prog = fr_progress_create(r.o.progress, name, r.total_mine, already);
    double t0 = fr_now();
    if (already < r.total_mine)
        rc = r.feat ? run_feat(&r, err) : r.umode == UNIT_COLLECT ? collect_rd(&r, err)
                                                                  : run_rd(&r, err);
    double wall = fr_now() - t0;
    fr_progress_destroy(&r.prog);
    if (rc)
        goto out;
    if (r.o.stats) {
        FrRunStats *st = r.o.stats;
        st->points_run = r.done_mine - already;
        st->images = r.list.n;
        st->wall = wall;
        st->front = r.tot_front;
        st->back = r.tot_back;
        st->encode = r.tot_enc;
        st->decode = r.tot_dec;
        st->anchors = r.tot_anchor;
        st->reference = r.tot_ref;
    }
    char timing[512];
    snprintf(timing, sizeof timing,
             "timing:\n  wall_s: %.3f\n  points_run: %zu\n  front_s: %.3f\n  back_s: %.3f\n"
             "  encode_s: %.3f\n  decode_s: %.3f\n  anchors_s: %.3f\n",
             wall, r.done_mine - already, r.tot_front, r.tot_back, r.tot_enc, r.tot_dec,
             r.tot_anchor);
    {
        char extra[1200], units[160] = "";
        if (r.umode == UNIT_COLLECT) /* the timings are the units' thread-seconds */
            snprintf(units, sizeof units, "units: %d\nunit_chunks: %d\nunit_groups: %d\n",
                     r.up.units, r.up.chunks, r.up.groups);
        snprintf(extra, sizeof extra,
                 "points_total: %d\npoints_this_shard: %zu\npoints_done: %zu\nstate: done\n"
                 "images: %zu\njobs: %d\n%s%s",
                 r.plan.n, r.total_mine, r.done_mine, r.list.n, r.jobs, units, timing);
        rc = fr_manifest_write(r.manifest_path, e, r.o.shard_index, r.o.shard_count, r.o.git_dir,
                               extra, err);
        manifest_running = rc != 0; /* "done" stays: what fails later is not the points */
    }
    if (!rc && r.o.progress != FR_PROGRESS_NONE && r.done_mine == already && already > 0)
        fprintf(stderr, "%s: nothing to do: all %zu points are done in %s (bd.csv and plots are "
                "rewritten; --force recomputes)\n", name, already, r.dir);
    if (!rc && r.o.progress != FR_PROGRESS_NONE)
        fprintf(stderr,
                "%s: %zu points in %.1f s (%.1f points/min), %zu done earlier; front %.1f s, "
                "back %.1f s, encode %.1f s, decode %.1f s, anchors %.1f s (thread seconds)\n",
                name, r.done_mine - already, wall,
                wall > 0 ? (double)(r.done_mine - already) * 60.0 / wall : 0.0, already,
                r.tot_front,
                r.tot_back, r.tot_enc, r.tot_dec, r.tot_anchor);
    if (!rc && r.o.shard_count == 1) {
        /* points.csv was rewritten from the journal: metrics merged by
         * featrd score go back in */
        rc = fr_results_rescore(r.dir, err);
        if (!rc && e->output.images_csv)
            rc = fr_results_images_csv(r.dir, r.plan.n, err);
        if (!rc && e->n_bd && r.feat) {
            /* kind features: the task metric a bd entry names may come
             * later, from featrd score, which then writes bd.csv */
            FrError be = {0};
            if (fr_results_write_bd(r.dir, e, &be) && r.o.progress != FR_PROGRESS_NONE)
                fprintf(stderr, "%s: bd.csv not written yet (%s); `featrd score %s "
                        "--metric-file F` merges your task metric and writes it\n", name,
                        be.msg, r.dir);
        } else if (!rc && e->n_bd) {
            rc = fr_results_write_bd(r.dir, e, err);
        }
        if (!rc)
            rc = fr_results_write_vs_reference(r.dir, e->bootstrap.level, err);
        int plots = r.o.plots >= 0 ? r.o.plots : e->output.plots;
        if (!rc && plots) {
            FrError pe = {0};
            int prc = fr_results_plot(r.dir, NULL, &pe);
            if (prc == FR_E_IO) /* a write that failed is an error; no gnuplot is not */
                rc = fr_error(err, prc, "%s", pe.msg);
            else if (prc && r.o.progress != FR_PROGRESS_NONE)
                fprintf(stderr, "featrd run: plots skipped: %s\n", pe.msg);
        }
    }
out:
    if (rc && manifest_running) {
        /* the manifest must not stay "running" after a failure or a signal */
        FrError me = {0};
        write_manifest(&r, rc == FR_E_INTERRUPTED ? "interrupted" : "failed", &me);
    }
    run_free(&r);
    fr_results_unlock(&lock_fd);
    fr_run_stop_leave(rc == FR_E_INTERRUPTED);
    return rc;
}

int fr_run_rd(const FrExperiment *e, const FrRunOptions *opt, FrError *err)
{
    return run_main(e, opt, err);
}

int fr_run_features(const FrExperiment *e, const FrRunOptions *opt, FrError *err)
{
    return run_main(e, opt, err);
}
