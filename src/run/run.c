/* run.c: the experiment runner (featrd/run.h). Expands a `kind: rd` sweep
 * into points, opens one model per worker, and for each split computes the
 * front half of every image once (cut tensors cached in memory or under
 * output.dir/cache/), then runs every unfinished point of that split on the
 * cache (encode, decode, back half, task metrics), aggregates in image order
 * and commits the point (journal record + atomic points.csv). The reference
 * (uncompressed) point and the cloud-only anchors run the whole network.
 * Workers are pthreads over images; results do not depend on their number.
 * This file holds the state, the workers, resume and the kinds' entry; the
 * rest of the runner is in run_truth.c, run_commit.c, run_points.c and
 * run_units.c (run_internal.h). */
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
#include "alloc/alloc.h"
#include "data/dataset.h"
#include "kinds/experiments.h"
#include "codec/codec_internal.h"
#include "model/model.h"
#include "run/run.h"


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
int fr_run_par_for_(Run *r, ImgFn fn, void *arg, FrError *err)
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
int fr_run_take_output_(Run *r, FrModel *m, size_t img, ImgRes *res, FrError *err)
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

static int image_from_cache(const ImgCache *x, FrTensor *rgb)
{
    if (fr_tensor_alloc(rgb, x->c, x->h, x->w))
        return FR_E_NOMEM;
    size_t n = fr_tensor_size(rgb);
    if (x->f)
        memcpy(rgb->data, x->f, n * sizeof(float));
    else
        for (size_t i = 0; i < n; i++)
            rgb->data[i] = (float)(x->u8[i] / 255.);
    return 0;
}

/* Keeps a copy of image img's tensor when the budget has room for it. */
static void image_to_cache(Run *r, size_t img, const FrTensor *rgb)
{
    ImgCache *x = &r->imgs[img];
    size_t n = fr_tensor_size(rgb);
    uint8_t *u8 = malloc(n);
    int exact = u8 != NULL;
    for (size_t i = 0; exact && i < n; i++) {
        long k = lrintf(rgb->data[i] * 255.f);
        exact = k >= 0 && k <= 255 && (float)(k / 255.) == rgb->data[i];
        if (exact)
            u8[i] = (uint8_t)k;
    }
    size_t bytes = exact ? n : n * sizeof(float);
    pthread_mutex_lock(&r->mu);
    int room = r->img_used + bytes <= r->img_cap;
    if (room)
        r->img_used += bytes;
    pthread_mutex_unlock(&r->mu);
    float *f = NULL;
    if (room && !exact && !(f = malloc(bytes)))
        room = 0;
    if (!room) {
        free(u8);
        return;
    }
    if (f) {
        memcpy(f, rgb->data, bytes);
        free(u8);
        u8 = NULL;
    }
    x->c = rgb->c;
    x->h = rgb->h;
    x->w = rgb->w;
    x->u8 = u8;
    x->f = f;
}

int fr_run_load_input_(Run *r, int worker, size_t img, FrTensor *rgb, FrTensor *input,
                      FrError *err)
{
    int rc;
    const ImgCache *x = r->imgs ? &r->imgs[img] : NULL;
    if (x && (x->u8 || x->f)) {
        if (image_from_cache(x, rgb))
            return fr_error(err, FR_E_NOMEM, "%s: out of memory", r->list.items[img].path);
    } else {
        rc = fr_model_load_image(r->models[worker], r->list.items[img].path, rgb, err);
        if (rc)
            return rc;
        if (r->imgs)
            image_to_cache(r, img, rgb);
    }
    if (input) {
        rc = fr_model_prepare_input(r->models[worker], rgb, input);
        if (rc)
            return fr_error(err, rc, "%s: cannot prepare the network input (%s)",
                            r->list.items[img].path, fr_strerror(rc));
    }
    return 0;
}

/* ---------------- the run ---------------- */

int fr_run_mine_(const Run *r, const FrPoint *pt)
{
    if (r->umode == UNIT_COMPUTE)
        return fr_unit_group(&r->up, pt) == r->group;
    return pt->ordinal % r->o.shard_count == r->o.shard_index;
}

int fr_run_todo_(const Run *r, const FrPoint *pt)
{
    if (r->umode == UNIT_COMPUTE)
        return fr_run_mine_(r, pt) && !r->unit_done[pt->ordinal];
    return fr_run_mine_(r, pt) && !r->rows[pt->ordinal];
}

ImgRes *fr_run_res_alloc_(Run *r)
{
    size_t n = r->list.n ? r->list.n : 1;
    ImgRes *res = calloc(n, sizeof(ImgRes));
    for (size_t i = 0; res && i < n; i++)
        for (int m = 0; m < FR_METRIC_MAX; m++)
            res[i].mv[m] = NAN; /* not measured unless the point's hooks measure it */
    return res;
}

void fr_run_res_free_(Run *r, ImgRes **res)
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
        if (strncmp(end + 1, pt->id, il) || end[1 + il] != ',' || !fr_run_mine_(r, pt))
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

/* Opens worker w's model with model.weights (wi -1) or sweep.weights[wi];
 * workers after the first share worker 0's parameters (one copy of the
 * weights; open in order). */
static int open_worker_model(Run *r, int w, int wi, FrError *err)
{
    const FrExperiment *e = r->e;
    if (w > 0)
        return fr_model_open_shared(&r->models[w], r->models[0], 1, err);
    FrModelSettings ms;
    fr_model_spec_settings(&e->model, &ms);
    ms.weights = wi < 0 ? e->model.weights : e->sweep.weights[wi];
    ms.quiet = w > 0 || r->o.progress == FR_PROGRESS_NONE;
    return fr_model_open(&r->models[w], &ms, err);
}

/* The worker models hold weights wi (reopened when they hold others). */
int fr_run_use_weights_(Run *r, int wi, FrError *err)
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

int fr_run_rd_(Run *r, FrError *err)
{
    const FrExperiment *e = r->e;
    /* Reference pass: image sizes and ground truth always; the whole network
     * when the reference point is to do or fidelity needs reference outputs. */
    RefArg ra;
    memset(&ra, 0, sizeof ra);
    const FrPoint *ref = &r->plan.points[0];
    if (r->umode == UNIT_COMPUTE) /* fidelity's references come from group 0 at merge */
        ra.forward = fr_run_todo_(r, ref);
    else
        ra.forward = fr_run_todo_(r, ref) || r->task != FR_TASK_DETECTION;
    /* every image is decoded once (a quarter of cache_mem for the decoded
     * images), and the reference forward yields the splits' cut sets */
    r->img_cap = r->o.cache_mem / 4;
    if (!r->imgs)
        r->imgs = calloc(r->list.n ? r->list.n : 1, sizeof *r->imgs);
    ra.res = fr_run_res_alloc_(r);
    if (!ra.res || !r->imgs) {
        fr_run_res_free_(r, &ra.res);
        return fr_error(err, FR_E_NOMEM, "out of memory");
    }
    int rc = ra.forward ? fr_run_plan_capture_(r, &ra, err) : 0;
    if (rc) {
        fr_run_res_free_(r, &ra.res);
        return rc;
    }
    fr_progress_note(r->prog, "reading %zu images%s", r->img_hi - r->img_lo,
                     !ra.forward ? ""
                     : ra.ncap   ? " and running the uncompressed network (it yields the cut "
                                   "tensors of the splits too)"
                                 : " and running the uncompressed network");
    double t0 = fr_now();
    rc = fr_run_par_for_(r, fr_run_ref_image_, &ra, err);
    r->tot_ref = fr_now() - t0;
    if (!rc)
        rc = fr_run_read_labels_(r, err);
    if (!rc && fr_run_todo_(r, ref))
        rc = fr_run_commit_point_(r, ref, ra.res, err);
    fr_run_res_free_(r, &ra.res);
    for (int wi = e->sweep.n_weights ? 0 : -1; wi < e->sweep.n_weights && !rc; wi++)
        for (int s = 0; s < e->sweep.n_split && !rc; s++)
            rc = fr_run_feature_points_(r, s, wi, err);
    /* anchors run the network as shipped */
    if (!rc)
        rc = fr_run_use_weights_(r, -1, err);
    for (int i = 0; i < r->plan.n && !rc; i++) {
        const FrPoint *pt = &r->plan.points[i];
        if ((pt->kind != FR_POINT_ANCHOR && pt->kind != FR_POINT_REFERENCE_YUV) ||
            !fr_run_todo_(r, pt))
            continue;
        PointArg pa;
        memset(&pa, 0, sizeof pa);
        pa.pt = pt;
        pa.res = fr_run_res_alloc_(r);
        if (!pa.res)
            return fr_error(err, FR_E_NOMEM, "out of memory");
        t0 = fr_now();
        rc = fr_run_par_for_(r, fr_run_anchor_image_, &pa, err);
        r->tot_anchor += fr_now() - t0;
        if (!rc)
            rc = fr_run_commit_point_(r, pt, pa.res, err);
        fr_run_res_free_(r, &pa.res);
    }
    return rc;
}

static void run_free(Run *r)
{
    fr_run_close_decoders_(r);
    fr_run_pre_clear_(r);
    if (r->imgs)
        for (size_t i = 0; i < r->list.n; i++) {
            free(r->imgs[i].u8);
            free(r->imgs[i].f);
        }
    free(r->imgs);
    /* the x265 encoders this thread kept (jobs 1: the workers' are closed
     * at their exit) */
    fr_x265_release();
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
    fr_run_cache_clear_(r);
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
    if (r->task == FR_TASK_DETECTION && (rc = fr_run_detection_classes_(r, err)))
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
        rc = fr_run_check_decoders_(r, err);
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
        rc = fr_experiment_images(e, &r.list, err);
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
        rc = fr_run_unit_(&r, err);
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
            rc = fr_run_units_complete_(&r, err);
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
        rc = fr_results_write_config(cfgp, e, err);
    }
    if (!rc)
        rc = write_columns_doc(r.dir, err);
    size_t already = 0;
    for (int i = 0; i < r.plan.n; i++)
        if (fr_run_mine_(&r, &r.plan.points[i])) {
            r.total_mine++;
            already += r.rows[i] != NULL;
        }
    r.done_mine = already;
    if (!rc)
        rc = write_manifest(&r, "running", err);
    manifest_running = !rc;
    if (!rc)
        rc = fr_run_write_points_csv_(&r, err);
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
        rc = r.feat ? fr_run_feat_(&r, err) : r.umode == UNIT_COLLECT ? fr_run_collect_rd_(&r, err)
                                                                  : fr_run_rd_(&r, err);
    double wall = fr_now() - t0;
    fr_progress_destroy(&r.prog);
    {
        /* also after a failure or a signal: every committed point */
        FrError fe = {0};
        int frc = fr_run_flush_points_csv_(&r, &fe);
        if (frc && !rc) {
            rc = frc;
            if (err)
                *err = fe;
        }
    }
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
