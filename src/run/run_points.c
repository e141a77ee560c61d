/* run_points.c: the work of the points. A split's front half once per
 * image (cut tensors in memory or under cache/), every unfinished feature
 * point of the split on them (allocation maps, encode, decode, distortion,
 * back half), and the cloud-only anchors (the image coded, the whole
 * network). Part of the runner (run_internal.h). */
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
#include "codec/codec.h"
#include "codec/container.h"
#include "metrics/metrics.h"
#include "model/model.h"
#include "util/common.h"

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
    int rc = fr_run_load_input_(r, worker, img, &rgb, &input, err);
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

void fr_run_cache_clear_(Run *r)
{
    if (!r->cache)
        return;
    for (size_t i = 0; i < r->list.n; i++)
        for (int k = 0; k < (r->cache[i].on_disk ? 0 : r->cache[i].ncuts); k++)
            fr_tensor_free(&r->cache[i].cuts[k]);
    free(r->cache);
    r->cache = NULL;
}

void fr_run_pre_clear_(Run *r)
{
    for (int s = 0; s < r->npre; s++) {
        if (!r->pre[s])
            continue;
        for (size_t i = 0; i < r->list.n; i++)
            for (int k = 0; k < r->pre[s][i].ncuts; k++)
                fr_tensor_free(&r->pre[s][i].cuts[k]);
        free(r->pre[s]);
    }
    free(r->pre);
    r->pre = NULL;
    r->npre = 0;
}

int fr_run_plan_capture_(Run *r, RefArg *ra, FrError *err)
{
    const FrExperiment *e = r->e;
    ra->ncap = 0;
    /* sweep.weights: the feature points run other weights than the reference */
    if (r->feat || e->sweep.n_weights || r->cur_weights != -1 || e->sweep.n_split <= 0)
        return 0;
    r->pre = calloc((size_t)e->sweep.n_split, sizeof *r->pre);
    if (!r->pre)
        return fr_error(err, FR_E_NOMEM, "out of memory");
    r->npre = e->sweep.n_split;
    size_t used = 0, n = r->list.n ? r->list.n : 1;
    for (int s = 0; s < e->sweep.n_split && ra->ncap < 8; s++) {
        int any = 0;
        for (int i = 0; i < r->plan.n && !any; i++)
            any = r->plan.points[i].kind == FR_POINT_FEATURE &&
                  r->plan.points[i].split_index == s && r->plan.points[i].weights == -1 &&
                  fr_run_todo_(r, &r->plan.points[i]);
        int layer, cut[FR_MODEL_MAX_CUTS], ncut = 0;
        /* a split that does not resolve gets its error where it is run */
        if (!any || fr_model_find_layer(r->models[0], e->sweep.split[s], &layer, NULL) ||
            fr_model_cut_set(r->models[0], layer, cut, FR_MODEL_MAX_CUTS, &ncut))
            continue;
        size_t bytes = 0;
        for (int k = 0; k < ncut; k++) {
            FrLayerInfo ci;
            fr_model_layer_info(r->models[0], cut[k], &ci);
            bytes += ci.bytes;
        }
        if (used + bytes * r->list.n > r->o.cache_mem)
            continue; /* its own front pass, cut files on disk when too big */
        if (!(r->pre[s] = calloc(n, sizeof *r->pre[s])))
            return fr_error(err, FR_E_NOMEM, "out of memory");
        used += bytes * r->list.n;
        ra->split[ra->ncap] = s;
        ra->layer[ra->ncap++] = layer;
    }
    return 0;
}

/* ---------------- one feature point on one image ---------------- */

/* The allocator's job at point pa on worker's model (the scope's fields are
 * the caller's). */
static void alloc_job(Run *r, int worker, const PointArg *pa, FrAllocJob *j)
{
    memset(j, 0, sizeof *j);
    j->m = r->models[worker];
    j->cache = r->sens_cache;
    j->model_id = r->e->model.cfg;
    j->split_name = pa->pt->split;
    j->split = r->split_layer;
    j->layer = pa->sens_layer;
    j->fs = &pa->fs;
    j->qp_base = pa->pt->qp;
    j->qp_range = r->e->sweep.qp_range;
    j->rd_qps = r->e->sweep.rdopt.qps;
    j->n_rd_qps = r->e->sweep.rdopt.n_qps;
}

/* Hook for issue #8: the per-channel QPs of one image at one point. Uniform
 * allocation needs none (NULL); sensitivity allocation measures the channel
 * sensitivities on this image (cached in output.dir/cache/sens) or uses the
 * data-set map computed once per point; rdopt likewise with its curves. */
static int point_channel_qps(Run *r, int worker, size_t img, PointArg *pa, const FrTensor *cuts,
                             int ncuts, int **qps, int *nq, ImgRes *res, FrError *err)
{
    const FrAllocator *al = fr_allocator(pa->pt->allocation);
    *qps = NULL;
    *nq = 0;
    res->t_sens = 0;
    if (!al->info.per_channel)
        return 0;
    int n = fr_alloc_channels(cuts, ncuts);
    if (pa->dataset_qps && n != pa->n_qps)
        return fr_error(err, FR_E_INTERNAL, "channel count changed between images");
    *qps = malloc(sizeof(int) * (size_t)n);
    if (!*qps)
        return fr_error(err, FR_E_NOMEM, "out of memory");
    *nq = n;
    if (pa->dataset_qps) {
        memcpy(*qps, pa->dataset_qps, sizeof(int) * (size_t)n);
        res->lambda = pa->dataset_rd.lambda;
        res->d_pred = pa->dataset_rd.d_pred;
        return 0;
    }
    FrAllocJob job;
    alloc_job(r, worker, pa, &job);
    job.image = r->list.items[img].path;
    job.cuts = cuts;
    job.ncuts = ncuts;
    FrAllocStats st = {0, res->lambda, res->d_pred};
    int rc = al->image_qps(&job, *qps, n, &st, err);
    res->t_sens = st.seconds;
    res->lambda = st.lambda;
    res->d_pred = st.d_pred;
    return rc;
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
    ms.backend = e->model.backend;
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

void fr_run_close_decoders_(Run *r)
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
    fr_run_close_decoders_(r);
    if (r->feat || !invert_split(r->e, s))
        return 0;
    if (!(r->dec = calloc((size_t)r->jobs, sizeof *r->dec)))
        return fr_error(err, FR_E_NOMEM, "out of memory");
    int rc = 0;
    for (int w = 0; w < r->jobs && !rc; w++) /* workers share worker 0's weights */
        rc = w ? fr_model_open_shared(&r->dec[w], r->dec[0], 1, err) : open_decoder(r, s, &r->dec[w], err);
    if (rc)
        fr_run_close_decoders_(r);
    return rc;
}

/* invert: before anything runs, every decoder opens and fits its split
 * (input = the split's one cut tensor, output = the network input). */
int fr_run_check_decoders_(Run *r, FrError *err)
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
    FrMetricPicture pic = {a, b, im->w, im->h, 3};
    for (int m = 0; m < fr_metric_count(); m++)
        if (fr_metric_def(m)->picture)
            res->mv[m] = fr_metric_def(m)->picture(&pic);
    if (img < (size_t)r->e->invert.png) {
        char stem[512], path[4800];
        struct stat st;
        image_stem(r->list.items[img].path, stem, sizeof stem);
        snprintf(path, sizeof path, "%s/recon/%s/%s.png", r->dir, pt->id, stem);
        rc = mkdir_parents(path, err);
        if (!rc)
            rc = fr_model_write_png(path, a, im->w, im->h, 3, err);
        snprintf(path, sizeof path, "%s/recon/input/%s.png", r->dir, stem);
        if (!rc && stat(path, &st) != 0 && !(rc = mkdir_parents(path, err)))
            rc = fr_model_write_png(path, b, im->w, im->h, 3, err);
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
        rc = fr_run_load_input_(r, worker, img, &rgb, &input, err);
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
    if (nq > 0 && fr_alloc_info(pa->pt->allocation)->rd_curves) {
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
    double elems = 0;
    for (int k = 0; k < ncuts; k++)
        elems += (double)fr_tensor_size(&cuts[k]);
    res->elements = elems;
    FrMetricFeature mf = {cuts, rec, ncuts, pa->pt->bits};
    for (int m = 0; m < fr_metric_count(); m++)
        if (fr_metric_def(m)->feature)
            res->mv[m] = fr_metric_def(m)->feature(&mf);
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
        rc = fr_run_take_output_(r, r->models[worker], img, res, err);
    res->t_back = fr_now() - t0;
    if (!rc && fr_alloc_info(pa->pt->allocation)->rd_curves)
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

int fr_run_anchor_image_(Run *r, int worker, size_t img, void *arg, FrError *err)
{
    PointArg *pa = arg;
    ImgRes *res = &pa->res[img];
    const FrAnchorSpec *as = &r->e->anchors[pa->pt->anchor];
    FrTensor rgb = {0}, dec = {0}, input = {0};
    size_t bytes = 0;
    int rc = fr_run_load_input_(r, worker, img, &rgb, NULL, err);
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
            rc = fr_run_take_output_(r, r->models[worker], img, res, err);
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

static int run_split_points(Run *r, int s, int wi, const int *cut, int ncut, FrError *err);

/* Split s: its layer, name and cut set (r->split_layer, split_lname,
 * cut_desc); cut/ncut its cut layers, *bytes one image's cut tensors. */
int fr_run_split_resolve_(Run *r, int s, int *cut, int *ncut, size_t *bytes, FrError *err)
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

int fr_run_feature_points_(Run *r, int s, int wi, FrError *err)
{
    int any = 0;
    for (int i = 0; i < r->plan.n; i++)
        if (r->plan.points[i].kind == FR_POINT_FEATURE && r->plan.points[i].split_index == s &&
            r->plan.points[i].weights == wi && fr_run_todo_(r, &r->plan.points[i]))
            any = 1;
    if (!any)
        return 0;
    int rc = fr_run_use_weights_(r, wi, err);
    int cut[FR_MODEL_MAX_CUTS], ncut = 0;
    size_t bytes = 0;
    if (!rc)
        rc = fr_run_split_resolve_(r, s, cut, &ncut, &bytes, err);
    if (rc)
        return rc;
    if (wi == -1 && s < r->npre && r->pre[s]) {
        /* the reference forward computed this split's front halves */
        r->cache = r->pre[s];
        r->pre[s] = NULL;
        for (size_t i = 0; i < r->list.n; i++)
            r->tot_front += r->cache[i].t_front;
        rc = run_split_points(r, s, wi, cut, ncut, err);
        fr_run_cache_clear_(r);
        return rc;
    }
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
    rc = fr_run_par_for_(r, front_image, NULL, err);
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
    fr_run_cache_clear_(r);
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
            !fr_run_todo_(r, pt))
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
                dqps = calloc((size_t)nc + 1, sizeof *dqps);
                if (!paths || !dqps)
                    rc = fr_error(err, FR_E_NOMEM, "out of memory");
                for (int k = 0; k < ncal && !rc; k++)
                    paths[k] = r->list.items[k].path;
                if (!rc) {
                    FrAllocJob job;
                    alloc_job(r, 0, &pa, &job);
                    job.images = paths;
                    job.nimages = ncal;
                    pa.dataset_rd = (FrAllocStats){0, NAN, NAN};
                    rc = fr_allocator(pt->allocation)->dataset_qps(&job, dqps, nc,
                                                                   &pa.dataset_rd, err);
                }
                pa.dataset_qps = dqps;
                pa.n_qps = nc;
                free(paths);
            }
        }
        pa.res = rc ? NULL : fr_run_res_alloc_(r);
        if (!rc && !pa.res)
            rc = fr_error(err, FR_E_NOMEM, "out of memory");
        if (!rc) {
            rc = fr_run_par_for_(r, feature_image, &pa, err);
            if (!rc) {
                for (size_t k = 0; k < r->list.n; k++) {
                    r->tot_back += pa.res[k].t_back;
                    r->tot_enc += pa.res[k].t_enc;
                    r->tot_dec += pa.res[k].t_dec;
                }
                rc = fr_run_commit_point_(r, pt, pa.res, err);
            }
        }
        free(dqps);
        fr_run_res_free_(r, &pa.res);
    }
    fr_run_close_decoders_(r);
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
int fr_run_feat_(Run *r, FrError *err)
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
        rc = fr_run_par_for_(r, feat_load_image, NULL, err);
    }
    if (!rc)
        rc = run_split_points(r, 0, -1, NULL, 0, err);
    fr_run_cache_clear_(r);
    return rc;
}
