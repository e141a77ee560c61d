/* modelcomp_exp.c: the `kind: model` experiment (seed 002, Tables 2-3, Fig.
 * 4/6): RP coding of model.weights at each precision p, the task accuracy
 * and fidelity of each decoded model against the original, and DoM of
 * dom.target against dom.base. Owns modelcomp.csv, modelcomp_table.txt and
 * modelcomp.dat. Rows are committed (modelcomp.csv rewritten atomically)
 * after each (model, p), so a killed run resumes where it stopped. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "featrd.h"
#include "run/results_internal.h"
#include "data/dataset.h"
#include "kinds/experiments.h"
#include "metrics/metrics.h"
#include "util/csv.h"

static const char *const csv_cols[] = {
    "model", "mode", "precision", "coder", "rounding", "binarization", "weights", "base",
    "params", "original_bytes", "coded_bytes", "ratio", "enc_s", "dec_s", "max_abs_err",
    "images", "top1", "top5", "fidelity", "map07", "map", "d_top1", "d_top5", "d_map07",
};
#define NCOLS ((int)(sizeof csv_cols / sizeof csv_cols[0]))

/* Task figures of one model on the data set. */
typedef struct Eval {
    size_t images;
    double top1, top5, fidelity, map07, map;
} Eval;

/* What is shared by every evaluation: the data set, prepared inputs (when
 * they fit), the original model's outputs (fidelity reference), labels and
 * ground truth. */
typedef struct EvalCtx {
    const FrExperiment *e;
    FrImageList list;
    FrNames names;
    int have_names;
    FrTensor *inputs;     /* list.n, NULL entries when not cached */
    int cache;
    int *orig_w, *orig_h; /* original image sizes (detection) */
    long *labels;         /* classification labels, -1 unknown */
    int labels_ready;
    float **ref;          /* reference outputs of the original model */
    size_t ref_n;
    FrTask task;
} EvalCtx;

static int read_labels(EvalCtx *c, FrError *err);

static void model_settings(const FrExperiment *e, const char *weights, FrModelSettings *ms)
{
    fr_model_spec_settings(&e->model, ms);
    ms->weights = weights;
    ms->quiet = 1;
}

static void eval_ctx_free(EvalCtx *c)
{
    if (c->inputs)
        for (size_t i = 0; i < c->list.n; i++)
            fr_tensor_free(&c->inputs[i]);
    free(c->inputs);
    if (c->ref)
        for (size_t i = 0; i < c->list.n; i++)
            free(c->ref[i]);
    free(c->ref);
    free(c->labels);
    free(c->orig_w);
    free(c->orig_h);
    if (c->have_names)
        fr_names_free(&c->names);
    fr_image_list_free(&c->list);
    memset(c, 0, sizeof *c);
}

static int get_input(EvalCtx *c, FrModel *m, size_t i, FrTensor *tmp, FrTensor **input,
                     FrError *err)
{
    FrTensor *t = c->cache ? &c->inputs[i] : tmp;
    if (!t->data) {
        FrTensor rgb = {0};
        int rc = fr_model_load_image(m, c->list.items[i].path, &rgb, err);
        if (!rc) {
            c->orig_w[i] = rgb.w;
            c->orig_h[i] = rgb.h;
            rc = fr_model_prepare_input(m, &rgb, t);
        }
        fr_tensor_free(&rgb);
        if (rc)
            return rc;
    }
    *input = t;
    return 0;
}

/* Runs the model of `weights` over the data set. With reference == 1 the
 * outputs are kept as the fidelity reference. */
static int evaluate(EvalCtx *c, const char *weights, int reference, Eval *ev, FrError *err)
{
    const FrExperiment *e = c->e;
    FrModel *m = NULL;
    FrModelSettings ms;
    FrMapAcc *acc = NULL;
    FrClsAcc cls;
    memset(ev, 0, sizeof *ev);
    ev->top1 = ev->top5 = ev->fidelity = ev->map07 = ev->map = NAN;
    model_settings(e, weights, &ms);
    int rc = fr_model_open(&m, &ms, err);
    if (rc)
        return rc;
    FrTask task = e->model.task == FR_TASK_AUTO ? fr_model_task(m) : e->model.task;
    c->task = task;
    fr_cls_acc_init(&cls);
    if (task != FR_TASK_DETECTION && (rc = read_labels(c, err)))
        goto out;
    if (task == FR_TASK_DETECTION) {
        FrMapSettings s;
        fr_map_defaults(&s);
        s.nclasses = fr_model_classes(m);
        s.iou = e->map_iou;
        if ((rc = fr_map_create(&acc, &s, err)))
            goto out;
    }
    for (size_t i = 0; i < c->list.n; i++) {
        FrTensor tmp = {0}, *input = NULL, out = {0};
        if ((rc = get_input(c, m, i, &tmp, &input, err)))
            goto out;
        rc = fr_model_forward(m, input, err);
        fr_tensor_free(&tmp);
        if (rc)
            goto out;
        if (task == FR_TASK_DETECTION) {
            FrDetection *dets = NULL;
            int nd = 0;
            FrGtBox *gt = NULL;
            size_t ngt = 0;
            char lp[4096];
            rc = fr_model_detections(m, c->orig_w[i], c->orig_h[i], (float)e->det_thresh,
                                     (float)e->nms, &dets, &nd);
            if (!rc)
                rc = fr_darknet_label_path(c->list.items[i].path, lp, sizeof lp, err);
            if (!rc)
                rc = fr_gt_read_darknet(lp, c->orig_w[i], c->orig_h[i], fr_model_classes(m), &gt,
                                        &ngt, err);
            if (!rc)
                rc = fr_map_add_image(acc, gt, ngt, dets, (size_t)nd, err);
            free(gt);
            fr_detections_free(&dets);
            if (rc)
                goto out;
        } else {
            if ((rc = fr_model_output(m, &out)))
                goto out;
            size_t n = fr_tensor_size(&out);
            if (reference) {
                free(c->ref[i]);
                c->ref[i] = malloc(n * sizeof(float));
                if (!c->ref[i]) {
                    fr_tensor_free(&out);
                    rc = fr_error(err, FR_E_NOMEM, "out of memory");
                    goto out;
                }
                memcpy(c->ref[i], out.data, n * sizeof(float));
                c->ref_n = n;
            }
            fr_cls_acc_add(&cls, out.data, n == c->ref_n ? c->ref[i] : NULL, n, c->labels[i]);
            fr_tensor_free(&out);
        }
    }
    ev->images = c->list.n;
    if (task == FR_TASK_DETECTION) {
        FrMapResult res;
        memset(&res, 0, sizeof res);
        if ((rc = fr_map_finish(acc, &res, err)))
            goto out;
        ev->map07 = res.map07;
        ev->map = res.map;
        fr_map_result_free(&res);
    } else {
        ev->top1 = fr_cls_top1(&cls);
        ev->top5 = fr_cls_top5(&cls);
        ev->fidelity = fr_cls_fidelity(&cls);
    }
out:
    fr_map_destroy(&acc);
    fr_model_close(&m);
    return rc;
}

static int eval_ctx_init(EvalCtx *c, const FrExperiment *e, FrError *err)
{
    memset(c, 0, sizeof *c);
    c->e = e;
    int rc = fr_experiment_images(e, &c->list, err);
    if (rc)
        return rc;
    size_t n = c->list.n ? c->list.n : 1;
    c->inputs = calloc(n, sizeof *c->inputs);
    c->ref = calloc(n, sizeof *c->ref);
    c->labels = malloc(n * sizeof *c->labels);
    c->orig_w = calloc(n, sizeof *c->orig_w);
    c->orig_h = calloc(n, sizeof *c->orig_h);
    if (!c->inputs || !c->ref || !c->labels || !c->orig_w || !c->orig_h)
        return fr_error(err, FR_E_NOMEM, "out of memory");
    c->cache = 1; /* the demo and 1000-image sets fit; memory is checked below */
    if (e->model.names) {
        if ((rc = fr_names_read(e->model.names, &c->names, err)))
            return rc;
        c->have_names = 1;
    }
    for (size_t i = 0; i < c->list.n; i++)
        c->labels[i] = -1;
    return 0;
}

/* Class labels (classifiers only: detectors take darknet label files). */
static int read_labels(EvalCtx *c, FrError *err)
{
    if (c->labels_ready)
        return 0;
    for (size_t i = 0; c->have_names && i < c->list.n; i++) {
        int rc = fr_image_label(&c->list, i, &c->names, &c->labels[i], err);
        if (rc)
            return rc;
    }
    c->labels_ready = 1;
    return 0;
}

/* ---------------- rows ---------------- */

typedef struct Row {
    const char *model, *mode;
    int precision;
    FrRpSettings s;
    const char *weights, *base;
    size_t params, original_bytes, coded_bytes;
    double enc_s, dec_s, max_abs_err;
    Eval ev, orig;
} Row;

static void add_row(FrText *t, const Row *r)
{
    fr_text_csv_field(t, r->model, ',');
    fr_text_csv_field(t, r->mode, ',');
    fr_text_printf(t, "%d,", r->precision);
    fr_text_csv_field(t, r->precision >= 0 ? fr_codec_name(r->s.coder) : "", ',');
    fr_text_csv_field(t, r->precision >= 0 ? fr_rp_rounding_name(r->s.rounding) : "", ',');
    fr_text_csv_field(t, r->precision >= 0 ? fr_rp_binarization_name(r->s.binarization) : "", ',');
    fr_text_csv_field(t, r->weights ? r->weights : "", ',');
    fr_text_csv_field(t, r->base ? r->base : "", ',');
    fr_text_printf(t, "%zu,%zu,%zu,", r->params, r->original_bytes, r->coded_bytes);
    fr_text_csv_double(t, (double)r->original_bytes / (double)r->coded_bytes, ',');
    fr_text_csv_double(t, r->enc_s, ',');
    fr_text_csv_double(t, r->dec_s, ',');
    fr_text_csv_double(t, r->max_abs_err, ',');
    fr_text_printf(t, "%zu,", r->ev.images);
    fr_text_csv_double(t, r->ev.top1, ',');
    fr_text_csv_double(t, r->ev.top5, ',');
    fr_text_csv_double(t, r->ev.fidelity, ',');
    fr_text_csv_double(t, r->ev.map07, ',');
    fr_text_csv_double(t, r->ev.map, ',');
    fr_text_csv_double(t, r->ev.top1 - r->orig.top1, ',');
    fr_text_csv_double(t, r->ev.top5 - r->orig.top5, ',');
    fr_text_csv_double(t, r->ev.map07 - r->orig.map07, '\n');
}

static int write_csv(const char *path, const FrText *rows, FrError *err)
{
    FrText t = {0};
    for (int c = 0; c < NCOLS; c++)
        fr_text_csv_field(&t, csv_cols[c], c + 1 < NCOLS ? ',' : '\n');
    if (rows->len)
        fr_text_printf(&t, "%.*s", (int)rows->len, rows->s);
    int rc = fr_text_write_atomic(&t, path, err);
    fr_text_free(&t);
    return rc;
}

/* Previous rows (a resumed run): kept verbatim; "model/mode/p" keys listed. */
static int load_previous(const char *path, FrText *rows, FrText *keys, FrError *err)
{
    if (access(path, F_OK) != 0)
        return 0;
    FrCsv *csv = NULL;
    int rc = fr_csv_read(path, &csv, err);
    if (rc)
        return rc;
    if (fr_csv_ncols(csv) != NCOLS) {
        fr_csv_destroy(&csv);
        return fr_error(err, FR_E_FORMAT, "%s: unexpected columns; remove it or run with --force",
                        path);
    }
    for (size_t r = 0; r < fr_csv_nrows(csv); r++) {
        fr_text_printf(keys, "|%s/%s/%s|", fr_csv_get(csv, r, 0), fr_csv_get(csv, r, 1),
                       fr_csv_get(csv, r, 2));
        for (int c = 0; c < NCOLS; c++)
            fr_text_csv_field(rows, fr_csv_get(csv, r, c), c + 1 < NCOLS ? ',' : '\n');
    }
    fr_csv_destroy(&csv);
    return 0;
}

static int have_key(const FrText *keys, const char *model, const char *mode, int p)
{
    char k[512];
    snprintf(k, sizeof k, "|%s/%s/%d|", model, mode, p);
    return keys->s && strstr(keys->s, k) != NULL;
}

/* Reads an Eval back from a committed row (for the Δ of later rows). */
static int eval_from_csv(const char *path, const char *model, Eval *ev)
{
    FrCsv *csv = NULL;
    if (fr_csv_read(path, &csv, NULL))
        return -1;
    int found = -1;
    for (size_t r = 0; r < fr_csv_nrows(csv); r++) {
        if (strcmp(fr_csv_get(csv, r, 0), model) || strcmp(fr_csv_get(csv, r, 1), "original"))
            continue;
        long im = 0;
        fr_csv_get_long(csv, r, 15, &im, NULL);
        ev->images = (size_t)im;
        fr_csv_get_double_nf(csv, r, 16, &ev->top1, NULL);
        fr_csv_get_double_nf(csv, r, 17, &ev->top5, NULL);
        fr_csv_get_double_nf(csv, r, 18, &ev->fidelity, NULL);
        fr_csv_get_double_nf(csv, r, 19, &ev->map07, NULL);
        fr_csv_get_double_nf(csv, r, 20, &ev->map, NULL);
        found = 0;
    }
    fr_csv_destroy(&csv);
    return found;
}

/* ---------------- table and plot data ---------------- */

/* Seed 002 Table 3: one row per model, for each p the Δ of the task metric
 * and the compression ratio. */
int fr_modelcomp_table(const char *csv_path, FILE *f, FrError *err)
{
    FrCsv *csv = NULL;
    int rc = fr_csv_read(csv_path, &csv, err);
    if (rc)
        return rc;
    size_t nr = fr_csv_nrows(csv);
    int ps[16], np = 0;
    for (size_t r = 0; r < nr; r++) {
        long p;
        if (fr_csv_get_long(csv, r, 2, &p, NULL) || p < 0)
            continue;
        int seen = 0;
        for (int i = 0; i < np; i++)
            seen |= ps[i] == p;
        if (!seen && np < 16)
            ps[np++] = (int)p;
    }
    /* descending p, as the paper (RP=6 first) */
    for (int i = 0; i < np; i++)
        for (int j = i + 1; j < np; j++)
            if (ps[j] > ps[i]) {
                int t = ps[i];
                ps[i] = ps[j];
                ps[j] = t;
            }
    /* the task metric: top1 for classifiers, map07 for detectors */
    int metric_col = 21;
    const char *metric = "top1";
    for (size_t r = 0; r < nr; r++) {
        double v;
        if (!fr_csv_get_double_nf(csv, r, 19, &v, NULL) && !isnan(v)) {
            metric_col = 23;
            metric = "mAP07";
        }
    }
    fprintf(f, "%-22s", "Model");
    for (int i = 0; i < np; i++) {
        char h1[32], h2[32];
        snprintf(h1, sizeof h1, "d%s RP=%d", metric, ps[i]);
        snprintf(h2, sizeof h2, "Ratio RP=%d", ps[i]);
        fprintf(f, " %12s %11s", h1, h2);
    }
    fputc('\n', f);
    char done[64][64];
    int nd = 0;
    for (size_t r = 0; r < nr; r++) {
        if (!strcmp(fr_csv_get(csv, r, 1), "original"))
            continue;
        char name[64];
        snprintf(name, sizeof name, "%s%s", fr_csv_get(csv, r, 0),
                 !strcmp(fr_csv_get(csv, r, 1), "dom") ? " (DoM)" : "");
        int seen = 0;
        for (int i = 0; i < nd; i++)
            seen |= !strcmp(done[i], name);
        if (seen || nd >= 64)
            continue;
        snprintf(done[nd++], sizeof done[0], "%s", name);
        fprintf(f, "%-22s", name);
        for (int i = 0; i < np; i++) {
            char d[32] = "-", ra[32] = "-";
            for (size_t rr = 0; rr < nr; rr++) {
                long p;
                if (strcmp(fr_csv_get(csv, rr, 0), fr_csv_get(csv, r, 0)) ||
                    strcmp(fr_csv_get(csv, rr, 1), fr_csv_get(csv, r, 1)) ||
                    fr_csv_get_long(csv, rr, 2, &p, NULL) || p != ps[i])
                    continue;
                double dv, rv;
                if (!fr_csv_get_double_nf(csv, rr, metric_col, &dv, NULL))
                    snprintf(d, sizeof d, "%+.5f", dv);
                if (!fr_csv_get_double_nf(csv, rr, 11, &rv, NULL))
                    snprintf(ra, sizeof ra, "%.4f", rv);
            }
            fprintf(f, " %12s %11s", d, ra);
        }
        fputc('\n', f);
    }
    fr_csv_destroy(&csv);
    return 0;
}

/* modelcomp.dat: "p ratio(model/mode)..." one line per p (gnuplot). */
static int write_dat(const char *dir, const char *csv_path, FrError *err)
{
    FrCsv *csv = NULL;
    int rc = fr_csv_read(csv_path, &csv, err);
    if (rc)
        return rc;
    size_t nr = fr_csv_nrows(csv);
    char series[8][64];
    int ns = 0;
    for (size_t r = 0; r < nr; r++) {
        if (!strcmp(fr_csv_get(csv, r, 1), "original"))
            continue;
        char name[64];
        snprintf(name, sizeof name, "%s%s", fr_csv_get(csv, r, 0),
                 !strcmp(fr_csv_get(csv, r, 1), "dom") ? "-DoM" : "");
        int seen = 0;
        for (int i = 0; i < ns; i++)
            seen |= !strcmp(series[i], name);
        if (!seen && ns < 8)
            snprintf(series[ns++], sizeof series[0], "%s", name);
    }
    FrText t = {0};
    fr_text_printf(&t, "# compression ratio (original/coded bytes) per RP p; written by featrd "
                   "from modelcomp.csv\np");
    for (int i = 0; i < ns; i++)
        fr_text_printf(&t, " %s", series[i]);
    fr_text_printf(&t, "\n");
    for (int p = 0; p <= 12; p++) {
        int any = 0;
        FrText line = {0};
        fr_text_printf(&line, "%d", p);
        for (int i = 0; i < ns; i++) {
            const char *v = "nan";
            for (size_t r = 0; r < nr; r++) {
                long pp;
                char name[64];
                snprintf(name, sizeof name, "%s%s", fr_csv_get(csv, r, 0),
                         !strcmp(fr_csv_get(csv, r, 1), "dom") ? "-DoM" : "");
                if (!strcmp(name, series[i]) && !fr_csv_get_long(csv, r, 2, &pp, NULL) &&
                    pp == p && strcmp(fr_csv_get(csv, r, 1), "original")) {
                    v = fr_csv_get(csv, r, 11);
                    any = 1;
                }
            }
            fr_text_printf(&line, " %s", v);
        }
        if (any && line.s)
            fr_text_printf(&t, "%s\n", line.s);
        fr_text_free(&line);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/modelcomp.dat", dir);
    rc = fr_text_write_atomic(&t, path, err);
    fr_text_free(&t);
    fr_csv_destroy(&csv);
    return rc;
}

int fr_modelcomp_plot(const char *dir, const char *scripts_dir, FrError *err)
{
    char script[4096], vars[4200];
    snprintf(script, sizeof script, "%s/modelcomp.gp", scripts_dir ? scripts_dir : fr_plots_dir());
    if (strpbrk(dir, "'\"\\$`"))
        return fr_error(err, FR_E_USAGE, "%s: quotes, '$' or '`' in a results path cannot be passed to gnuplot", dir);
    snprintf(vars, sizeof vars, "dir='%s'", dir);
    return fr_gnuplot_run(script, vars, err);
}

/* ---------------- the run ---------------- */

/* Codes one model at p (DoM when base), decodes, checks the bound, writes
 * the decoded weights to tmp_path. */
static int code_model(const FrWeights *w, const FrWeights *base, const FrRpSettings *s,
                      const char *tmp_path, Row *row, FrWeights *dec, FrError *err)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    double t0 = fr_now();
    int rc = fr_rp_encode(w, base, s, &buf, &n, err);
    row->enc_s = fr_now() - t0;
    if (rc)
        return rc;
    t0 = fr_now();
    rc = fr_rp_decode(buf, n, "coded model", base, dec, err);
    row->dec_s = fr_now() - t0;
    free(buf);
    if (rc)
        return rc;
    row->params = w->count;
    row->original_bytes = fr_weights_file_size(w);
    row->coded_bytes = n;
    double mx = 0;
    for (size_t i = 0; i < w->count; i++) {
        double d = fabs((double)dec->params[i] - (double)w->params[i]);
        if (d > mx)
            mx = d;
    }
    row->max_abs_err = mx;
    if (tmp_path)
        rc = fr_weights_write(tmp_path, dec, err);
    return rc;
}

static int run_modelcomp(const FrExperiment *e, const FrRunOptions *o_in, FrError *err)
{
    FrRunOptions o;
    if (o_in)
        o = *o_in;
    else
        fr_run_options_defaults(&o);
    if (o.shard_count > 1 || o.chunks > 0)
        return fr_error(err, FR_E_USAGE, "kind model does not shard; run without --shard or "
                        "--chunks, and submit it as one job");
    if (e->kind != FR_KIND_MODEL)
        return fr_error(err, FR_E_USAGE, "fr_run_modelcomp: the experiment is not kind model");
    const FrModelCompressionSpec *mc = fr_experiment_kind_settings(e);
    const char *dir = e->output.dir;
    char csv_path[4096], man_path[4096], tmp_path[4096], path[4096];
    FrText rows = {0}, keys = {0};
    EvalCtx ctx;
    int have_ctx = 0, rc;
    FrWeights w = {0}, base = {0}, target = {0}, dec = {0};
    int lock_fd = -1, manifest_running = 0;
    FrProgress *prog = NULL;
    memset(&ctx, 0, sizeof ctx);

    if (!e->model.weights && !mc->dom_target)
        return fr_experiment_error(e, err, FR_E_CONFIG, "model.weights",
                                   "kind model codes a weights file: set model.weights (and/or "
                                   "model_compression.dom)");
    if ((rc = fr_modelcomp_validate(e, err))) /* as the config checked it (a caller may not have) */
        return rc;
    if (mc->n_precision < 1)
        return fr_experiment_error(e, err, FR_E_CONFIG, "model_compression.precision",
                                   "give at least one RP p (1..8)");
    if ((rc = fr_experiment_check_files(e, err)))
        return rc;
    /* the run lock before anything in dir is read or changed: a second run
     * on the same directory is refused, naming the first one's pid */
    if ((rc = fr_results_dir_prepare(dir, err)) ||
        (rc = fr_results_lock(dir, 0, 1, &lock_fd, err)))
        return rc;
    if ((rc = fr_results_check_config(dir, e, o.force, err))) {
        fr_results_unlock(&lock_fd);
        return rc;
    }
    snprintf(csv_path, sizeof csv_path, "%s/modelcomp.csv", dir);
    snprintf(man_path, sizeof man_path, "%s/manifest.yaml", dir);
    snprintf(tmp_path, sizeof tmp_path, "%s/.modelcomp-decoded.weights", dir);
    if (o.force)
        unlink(csv_path);
    if ((rc = load_previous(csv_path, &rows, &keys, err)))
        goto out;
    if ((rc = fr_manifest_write_kind(man_path, e, o.git_dir, "modelcomp.csv", "running", err)))
        goto out;
    manifest_running = 1;

    FrRpSettings s;
    fr_rp_defaults(&s);
    s.coder = mc->coder == FR_MODEL_CODER_ZSTD ? FR_CODEC_ZSTD : FR_CODEC_LZMA;
    s.rounding = mc->rounding == FR_MODEL_ROUND_NEAREST ? FR_RP_NEAREST : FR_RP_TRUNC;
    if (e->dataset.images) {
        have_ctx = 1;
        if ((rc = eval_ctx_init(&ctx, e, err)))
            goto out;
    }

    /* the models: model.weights (RP only), dom.target (RP and DoM) */
    struct ModelJob {
        const char *label, *path, *base;
    } models[2];
    int nm = 0;
    if (e->model.weights)
        models[nm++] = (struct ModelJob){"model", e->model.weights, NULL};
    if (mc->dom_target)
        models[nm++] = (struct ModelJob){"target", mc->dom_target, mc->dom_base};
    size_t total = 0, already = 0;
    for (int k = 0; k < nm; k++)
        for (int i = 0; i < mc->n_precision; i++) {
            total += models[k].base ? 2 : 1;
            already += have_key(&keys, models[k].label, "rp", mc->precision[i]);
            if (models[k].base)
                already += have_key(&keys, models[k].label, "dom", mc->precision[i]);
        }
    prog = fr_progress_create(e->quiet ? FR_PROGRESS_NONE : o.progress, "model", total, already);

    for (int k = 0; k < nm; k++) {
        fr_weights_free(&w);
        fr_weights_free(&base);
        if ((rc = fr_weights_read(models[k].path, &w, err)))
            goto out;
        if (models[k].base && (rc = fr_weights_read(models[k].base, &base, err)))
            goto out;
        ctx.ref_n = 0; /* fidelity is against this model's own original */
        Row ref;
        memset(&ref, 0, sizeof ref);
        ref.model = models[k].label;
        ref.mode = "original";
        ref.precision = -1;
        ref.s = s;
        ref.weights = models[k].path;
        ref.params = w.count;
        ref.original_bytes = ref.coded_bytes = fr_weights_file_size(&w);
        ref.ev.top1 = ref.ev.top5 = ref.ev.fidelity = ref.ev.map07 = ref.ev.map = NAN;
        if (have_key(&keys, ref.model, "original", -1) &&
            eval_from_csv(csv_path, ref.model, &ref.ev) == 0) {
            /* committed earlier: reuse */
        } else {
            if (have_ctx && (rc = evaluate(&ctx, models[k].path, 1, &ref.ev, err)))
                goto out;
            ref.orig = ref.ev;
            add_row(&rows, &ref);
            if ((rc = write_csv(csv_path, &rows, err)))
                goto out;
        }
        if (have_ctx && !ctx.ref_n && ctx.task != FR_TASK_DETECTION) {
            /* resumed: the fidelity reference must be recomputed */
            Eval tmp;
            if ((rc = evaluate(&ctx, models[k].path, 1, &tmp, err)))
                goto out;
        }
        for (int i = 0; i < mc->n_precision; i++) {
            if ((rc = fr_run_stop_check("rows", err)))
                goto out;
            int p = mc->precision[i];
            Row r = ref;
            r.orig = ref.ev;
            r.precision = p;
            r.s.precision = p;
            int need_rp = !have_key(&keys, r.model, "rp", p);
            int need_dom = models[k].base && !have_key(&keys, r.model, "dom", p);
            if (!need_rp && !need_dom)
                continue;
            Row rp = r;
            rp.mode = "rp";
            fr_weights_free(&dec);
            if ((rc = code_model(&w, NULL, &rp.s, have_ctx ? tmp_path : NULL, &rp, &dec, err)))
                goto out;
            rp.ev = ref.ev;
            if (have_ctx && (rc = evaluate(&ctx, tmp_path, 0, &rp.ev, err)))
                goto out;
            if (need_rp) {
                add_row(&rows, &rp);
                if ((rc = write_csv(csv_path, &rows, err)))
                    goto out;
                if (prog) {
                    char lab[96], det[128];
                    snprintf(lab, sizeof lab, "%s rp p=%d", r.model, p);
                    int isdet = ctx.task == FR_TASK_DETECTION;
                    snprintf(det, sizeof det, "ratio=%.4f %s=%.4f",
                             (double)rp.original_bytes / (double)rp.coded_bytes,
                             isdet ? "map07" : "top1", isdet ? rp.ev.map07 : rp.ev.top1);
                    fr_progress_step(prog, lab, det, o.on_progress, o.progress_user);
                }
            }
            if (need_dom) {
                Row dm = r;
                dm.mode = "dom";
                dm.base = models[k].base;
                FrWeights dd = {0};
                if ((rc = code_model(&w, &base, &dm.s, NULL, &dm, &dd, err)))
                    goto out;
                /* the DoM rebuild is the RP decoding of the target, bit for bit */
                int same = dd.count == dec.count && !memcmp(dd.params, dec.params, 4 * dec.count);
                fr_weights_free(&dd);
                if (!same) {
                    rc = fr_error(err, FR_E_INTERNAL, "DoM rebuild differs from RP at p=%d", p);
                    goto out;
                }
                dm.ev = rp.ev;
                add_row(&rows, &dm);
                if ((rc = write_csv(csv_path, &rows, err)))
                    goto out;
                if (prog) {
                    char lab[96], det[128];
                    snprintf(lab, sizeof lab, "%s dom p=%d", r.model, p);
                    snprintf(det, sizeof det, "ratio=%.4f",
                             (double)dm.original_bytes / (double)dm.coded_bytes);
                    fr_progress_step(prog, lab, det, o.on_progress, o.progress_user);
                }
            }
        }
    }
    if (prog)
        fr_progress_destroy(&prog);
    unlink(tmp_path);
    if ((rc = write_csv(csv_path, &rows, err)))
        goto out;
    {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f) {
            rc = fr_error(err, FR_E_NOMEM, "out of memory");
            goto out;
        }
        rc = fr_modelcomp_table(csv_path, f, err);
        fclose(f);
        snprintf(path, sizeof path, "%s/modelcomp_table.txt", dir);
        if (!rc)
            rc = fr_write_file_atomic(path, buf, len, err);
        if (!rc && !e->quiet && o.progress != FR_PROGRESS_NONE)
            printf("%s:\n%s", csv_path, buf);
        free(buf);
        if (rc)
            goto out;
    }
    if ((rc = write_dat(dir, csv_path, err)))
        goto out;
    if ((rc = fr_manifest_write_kind(man_path, e, o.git_dir, "modelcomp.csv", "done", err)))
        goto out;
    int plots = o.plots >= 0 ? o.plots : e->output.plots;
    if (plots) {
        FrError pe;
        if (fr_modelcomp_plot(dir, NULL, &pe))
            fprintf(stderr, "featrd: warning: no plot: %s\n", pe.msg);
    }
    rc = 0;
out:
    if (prog)
        fr_progress_destroy(&prog);
    if (rc && manifest_running) {
        /* the manifest must not stay "running" after a failure or a signal */
        FrError me = {0};
        fr_manifest_write_kind(man_path, e, o.git_dir, "modelcomp.csv",
                               rc == FR_E_INTERRUPTED ? "interrupted" : "failed", &me);
    }
    fr_results_unlock(&lock_fd);
    unlink(tmp_path);
    fr_weights_free(&w);
    fr_weights_free(&base);
    fr_weights_free(&target);
    fr_weights_free(&dec);
    fr_text_free(&rows);
    fr_text_free(&keys);
    if (have_ctx)
        eval_ctx_free(&ctx);
    return rc;
}

/* The run between fr_run_stop_enter and _leave, so that SIGINT/SIGTERM (the
 * CLI's fr_run_request_stop) stops it between saved rows. */
int fr_run_modelcomp(const FrExperiment *e, const FrRunOptions *o_in, FrError *err)
{
    fr_run_stop_enter();
    int rc = run_modelcomp(e, o_in, err);
    fr_run_stop_leave(rc == FR_E_INTERRUPTED);
    return rc;
}
