/* validate.c: the rules that span several keys (one place, after every key
 * is read and in range), the sweep's size check and the values resolved from
 * others (a codec entry's QPs, the rdopt QP set). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "featrd/alloc.h"
#include "featrd/experiments.h"
#include "featrd/metrics.h"
#include "alloc/alloc.h"
#include "codec/codec.h"
#include "config/config.h"
#include "kinds/experiments.h"
#include "metrics/metrics.h"
#include "run/run.h"

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* sweep.rdopt.qps unset: every qp_step-th QP from min(qp_base) - qp_range to
 * max(qp_base) + qp_range (clipped to 0..51), on the grid through
 * min(qp_base), plus every qp_base. */
static int rdopt_default_qps(FrSweepSpec *s)
{
    int lo = 51, hi = 0;
    for (int i = 0; i < s->n_qp_base; i++) {
        lo = s->qp_base[i] < lo ? s->qp_base[i] : lo;
        hi = s->qp_base[i] > hi ? s->qp_base[i] : hi;
    }
    int *v = malloc((size_t)(52 + s->n_qp_base) * sizeof *v), n = 0;
    if (!v)
        return FR_E_NOMEM;
    int step = s->rdopt.qp_step > 0 ? s->rdopt.qp_step : 2;
    int first = lo - (s->qp_range / step) * step;
    for (int q = first; q <= hi + s->qp_range; q += step)
        if (q >= 0 && q <= 51)
            v[n++] = q;
    for (int i = 0; i < s->n_qp_base; i++) {
        int found = 0;
        for (int k = 0; k < n && !found; k++)
            found = v[k] == s->qp_base[i];
        if (!found)
            v[n++] = s->qp_base[i];
    }
    free(s->rdopt.qps);
    s->rdopt.qps = v;
    s->rdopt.n_qps = n;
    return FR_OK;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    return a && b > UINT64_MAX / a ? UINT64_MAX : a * b;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* The points fr_plan_build would make, counted without expanding (the
 * same rules: a codec entry's own splits, no allocation without a QP),
 * saturating instead of overflowing. */
uint64_t cfg_sweep_points(const FrExperiment *e)
{
    const FrSweepSpec *s = &e->sweep;
    uint64_t per = 0, n = 1;
    for (int c = 0; c < s->n_codec; c++) {
        const FrCodecSpec *cs = &s->codec[c];
        int lossy = (cs->codec->caps & FR_CODEC_LOSSY) != 0;
        uint64_t q = 0;
        for (int a = 0; a < s->n_allocation; a++) {
            if (!lossy)
                q = sat_add(q, !fr_alloc_info(s->allocation[a])->per_channel);
            else
                q = sat_add(q, (uint64_t)(fr_alloc_info(s->allocation[a])->rate_from_base
                                              ? s->n_qp_base : cs->n_qp));
        }
        int nsplit = e->kind == FR_KIND_FEATURES ? 1 : s->n_split;
        per = sat_add(per, sat_mul((uint64_t)(cs->n_split ? cs->n_split : nsplit), q));
    }
    n = sat_add(n, sat_mul(sat_mul(per, (uint64_t)s->n_bits), (uint64_t)s->n_packing));
    for (int a = 0; a < e->n_anchors; a++)
        n = sat_add(n, (uint64_t)(e->anchors[a].codec == FR_ANCHOR_JPEG ? e->anchors[a].n_quality
                                                                        : e->anchors[a].n_qp));
    return n;
}

uint64_t fr_experiment_sweep_points(const FrExperiment *e)
{
    return cfg_sweep_points(e);
}

/* hevc entries without their own QP list take sweep.qp. */
int cfg_finish_sweep(FrSweepSpec *s)
{
    for (int i = 0; i < s->n_codec; i++) {
        FrCodecSpec *cs = &s->codec[i];
        if (cs->n_qp >= 0)
            continue;
        cs->n_qp = 0;
        if (!(cs->codec->caps & FR_CODEC_LOSSY))
            continue;
        cs->qp = malloc((size_t)s->n_qp * sizeof *cs->qp);
        if (!cs->qp)
            return FR_E_NOMEM;
        memcpy(cs->qp, s->qp, (size_t)s->n_qp * sizeof *cs->qp);
        cs->n_qp = s->n_qp;
    }
    return 0;
}



/* The allocators (registry order) that are per-channel (rd 0) or measure
 * R-D curves (rd 1), joined by cfg_join_list with last before the last one. */
static void alloc_names_with(int rd, const char *last, char *buf, size_t cap)
{
    const char *v[65];
    int n = 0;
    for (int a = 0; a < fr_alloc_count() && n < 64; a++) {
        const FrAllocInfo *ai = fr_alloc_info(a);
        if (rd ? ai->rd_curves : ai->per_channel)
            v[n++] = ai->name;
    }
    v[n] = NULL;
    cfg_join_list(v, last, buf, cap);
}

/* Rules that span several keys: all here, so the schema walk stays local. */
int cfg_validate(CfgCx *c)
{
    FrExperiment *e = c->e;
    FrError *err = c->err;
    for (int k = 0; k < e->sweep.n_weights; k++) {
        for (int j = 0; j < k; j++)
            if (!strcmp(e->sweep.weights[j], e->sweep.weights[k]))
                return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.weights",
                                           "'%s' is listed twice", e->sweep.weights[k]);
        for (int a = 0; a < e->sweep.n_allocation; a++)
            if (fr_alloc_info(e->sweep.allocation[a])->per_channel)
                return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.weights",
                                           "several weights with allocation %s are not supported "
                                           "(sensitivities are cached per image, not per weights): "
                                           "run one config per weights file",
                                           fr_allocation_name(e->sweep.allocation[a]));
    }
    /* anchors take the features' x265 settings unless they name their own:
     * those of the first lossy entry coded with the HEVC settings */
    const FrCodecSpec *fh = NULL;
    for (int k = 0; k < e->sweep.n_codec && !fh; k++)
        if (e->sweep.codec[k].codec->settings == &fr_hevc_schema &&
            (e->sweep.codec[k].codec->caps & FR_CODEC_LOSSY))
            fh = &e->sweep.codec[k];
    for (int k = 0; k < e->n_anchors; k++) {
        FrAnchorSpec *a = &e->anchors[k];
        if (a->codec != FR_ANCHOR_HEVC)
            continue;
        FrHevcSettings h;
        if (fh)
            h = *(const FrHevcSettings *)fh->settings;
        else
            fr_hevc_defaults(&h); /* without an hevc entry: its defaults */
        for (int f = 0; f < fr_hevc_schema.n_fields; f++)
            if (a->hevc_set & (1u << f)) {
                const FrField *fd = &fr_hevc_schema.fields[f];
                memcpy((char *)&h + fd->offset, (const char *)&a->hevc + fd->offset,
                       fd->type == FR_FIELD_CHOICE ? fd->size : sizeof(int));
            }
        a->hevc = h;
        FrError e2;
        if (fr_hevc_validate(&a->hevc, &e2))
            return fr_experiment_error(e, err, FR_E_CONFIG, "anchors", "anchor '%s': %s", a->name,
                                       e2.msg);
    }
    const FrKindInfo *ki = fr_kind_info(e->kind);
    if (ki && ki->validate) { /* the kind's own rules */
        int rc = ki->validate(e, err);
        if (rc)
            return rc;
    }
    if (!e->model.cfg && fr_kind_info(e->kind)->needs_model)
        return fr_experiment_error(e, err, FR_E_CONFIG, "model.cfg",
                                   "required: the darknet .cfg of the network "
                                   "(e.g. model: {cfg: /usr/share/darknet/cfg/yolo9000.cfg})");
    if (!e->dataset.images && fr_kind_info(e->kind)->needs_images)
        return fr_experiment_error(e, err, FR_E_CONFIG, "dataset.images",
                                   "required for kind %s: a text file listing one image "
                                   "path per line",
                                   KIND_NAMES[e->kind]);
    if (e->dataset.labels == FR_LABELS_VOC_XML && !e->dataset.annotations)
        return fr_experiment_error(e, err, FR_E_CONFIG, "dataset.labels",
                                   "voc-xml needs dataset.annotations (the VOC Annotations "
                                   "directory)");
    if (e->dataset.labels == FR_LABELS_CLASS_LIST && !e->dataset.labels_file)
        return fr_experiment_error(e, err, FR_E_CONFIG, "dataset.labels",
                                   "class-list needs dataset.labels_file (one class id per "
                                   "image, in the order of dataset.images)");
    if (e->dataset.annotations && e->dataset.labels != FR_LABELS_VOC_XML)
        return fr_experiment_error(e, err, FR_E_CONFIG, "dataset.annotations",
                                   "only used with labels: voc-xml (labels is %s)",
                                   LABEL_NAMES[e->dataset.labels]);
    if (e->dataset.labels_file && e->dataset.labels != FR_LABELS_CLASS_LIST)
        return fr_experiment_error(e, err, FR_E_CONFIG, "dataset.labels_file",
                                   "only used with labels: class-list (labels is %s)",
                                   LABEL_NAMES[e->dataset.labels]);
    if ((e->dataset.names || e->dataset.class_map || e->output.detections) &&
        e->kind != FR_KIND_RD)
        return fr_experiment_error(e, err, FR_E_CONFIG,
                                   e->dataset.names       ? "dataset.names"
                                   : e->dataset.class_map ? "dataset.class_map"
                                                          : "output.detections",
                                   "only used with kind: rd (this experiment is kind: %s); "
                                   "remove it", KIND_NAMES[e->kind]);
    if (e->output.keep_streams && e->kind != FR_KIND_RD && e->kind != FR_KIND_FEATURES)
        return fr_experiment_error(e, err, FR_E_CONFIG, "output.keep_streams",
                                   "only used with kind: rd or features (this experiment is "
                                   "kind: %s); remove it", KIND_NAMES[e->kind]);
    if (e->output.decoded_dir && e->kind != FR_KIND_FEATURES)
        return fr_experiment_error(e, err, FR_E_CONFIG, "output.decoded_dir",
                                   "only used with kind: features (this experiment is kind: %s); "
                                   "remove it", KIND_NAMES[e->kind]);
    if ((e->dataset.names || e->dataset.class_map) && !e->model.names)
        return fr_experiment_error(e, err, FR_E_CONFIG,
                                   e->dataset.names ? "dataset.names" : "dataset.class_map",
                                   "needs model.names (the model's class names, one per "
                                   "output class) to compare or map the classes");
    if (e->dataset.class_map && !e->dataset.names)
        return fr_experiment_error(e, err, FR_E_CONFIG, "dataset.class_map",
                                   "needs dataset.names (the class names the map's second "
                                   "column uses)");
    if (e->kind == FR_KIND_RD) {
        FrSweepSpec *s = &e->sweep;
        if (!s->n_split)
            return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.split",
                                       "required for kind rd: the layers to split at "
                                       "(e.g. split: [max_11, max_17])");
        for (int i = 0; i < s->n_codec; i++)
            for (int j = 0; j < s->codec[i].n_split; j++) {
                int found = 0;
                for (int k = 0; k < s->n_split && !found; k++)
                    found = !strcmp(s->split[k], s->codec[i].split[j]);
                if (!found) {
                    char k[96];
                    cfg_pathf(k, sizeof k, "sweep.codec[%d].split[%d]", i, j);
                    return fr_experiment_error(e, err, FR_E_CONFIG, k,
                                               "expected one of sweep.split, got %s",
                                               s->codec[i].split[j]);
                }
            }
        int sens = 0, lossy = 0, rdopt = 0;
        const char *pc_name = "", *rd_name = ""; /* the first such allocation, for messages */
        for (int i = s->n_allocation - 1; i >= 0; i--)
            if (fr_alloc_info(s->allocation[i])->per_channel) {
                sens = 1;
                pc_name = fr_allocation_name(s->allocation[i]);
                if (fr_alloc_info(s->allocation[i])->rd_curves) {
                    rdopt = 1;
                    rd_name = pc_name;
                }
            }
        /* "sensitivity, rdopt, rdopt-refine" and "rdopt or rdopt-refine" */
        char pc_all[256], rd_all[256];
        alloc_names_with(0, ", ", pc_all, sizeof pc_all);
        alloc_names_with(1, " or ", rd_all, sizeof rd_all);
        for (int i = 0; i < s->n_codec; i++)
            lossy |= (s->codec[i].codec->caps & FR_CODEC_BLOCK_QP) != 0;
        if (sens && !s->n_qp_base)
            return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.allocation",
                                       "%s needs sweep.qp_base (e.g. qp_base: [36, 38, "
                                       "40, 42])", pc_name);
        if (sens && !lossy)
            return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.allocation",
                                       "%s needs an entry in sweep.codec whose codec "
                                       "takes a QP per block (hevc)", pc_name);
        for (int i = 0; sens && i < s->n_packing; i++)
            if (s->packing[i] == FR_PACK_QUILT || s->packing[i] == FR_PACK_TILE_SORTED)
                return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.packing",
                                           "allocation %s (a QP per channel) needs "
                                           "packing tile or frames, not %s", pc_name,
                                           s->packing[i] == FR_PACK_QUILT
                                               ? "quilt: it mixes channels within a block"
                                               : "tile-sorted: its channel order depends on the "
                                                 "picture");
        for (int i = 0; rdopt && i < s->n_packing; i++)
            if (s->packing[i] != FR_PACK_FRAMES) {
                char k[48];
                snprintf(k, sizeof k, "sweep.packing[%d]", i);
                return fr_experiment_error(e, err, FR_E_CONFIG, k,
                                           "allocation %s needs packing frames (each "
                                           "channel's rate is read from its own frame), not %s; "
                                           "run tile packing in another experiment",
                                           rd_name, fr_packing_name(s->packing[i]));
            }
        if (!sens && s->n_qp_base)
            return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.qp_base",
                                       "only used with a per-channel allocation (%s)", pc_all);
        if (s->sensitivity.layer == FR_SENS_NAMED && !sens)
            return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.sensitivity.layer",
                                       "only used with a per-channel allocation (%s)", pc_all);
        if (!rdopt && (s->rdopt.n_qps || fr_experiment_loc(e, "sweep.rdopt.qp_step")))
            return fr_experiment_error(e, err, FR_E_CONFIG,
                                       s->rdopt.n_qps ? "sweep.rdopt.qps" : "sweep.rdopt.qp_step",
                                       "only used with allocation %s", rd_all);
        if (rdopt) {
            for (int i = 0; i < s->n_qp_base; i++) {
                int found = !s->rdopt.n_qps;
                for (int k = 0; k < s->rdopt.n_qps && !found; k++)
                    found = s->rdopt.qps[k] == s->qp_base[i];
                if (!found) {
                    char k[48];
                    snprintf(k, sizeof k, "sweep.qp_base[%d]", i);
                    return fr_experiment_error(e, err, FR_E_CONFIG, k,
                                               "qp_base %d is not in sweep.rdopt.qps: rdopt "
                                               "spends uniform QP_base's rate, so it must "
                                               "measure it; add %d to sweep.rdopt.qps",
                                               s->qp_base[i], s->qp_base[i]);
                }
            }
            if (!s->rdopt.n_qps && rdopt_default_qps(s))
                return fr_error(err, FR_E_NOMEM, "out of memory");
            if (s->rdopt.n_qps < 2)
                return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.rdopt.qps",
                                           "rdopt needs at least two QPs to choose from");
            qsort(s->rdopt.qps, (size_t)s->rdopt.n_qps, sizeof *s->rdopt.qps, cmp_int);
        }
        uint64_t np = cfg_sweep_points(e);
        if (np > (uint64_t)s->max_points)
            return fr_experiment_error(
                e, err, FR_E_CONFIG, "sweep.split",
                "the sweep expands to %s%llu points (split %d × bits %d × packing %d × %d codec "
                "entries × their QPs/allocations %d/%d, plus %d anchors), more than sweep.max_points "
                "(%lld); shorten the lists, split it into several experiments or raise max_points",
                np == UINT64_MAX ? "over " : "", (unsigned long long)np, s->n_split, s->n_bits,
                s->n_packing, s->n_codec, s->n_qp, s->n_allocation, e->n_anchors, s->max_points);
        for (int i = 0; i < s->n_qp_base; i++)
            if (s->qp_base[i] - s->qp_range < 0) {
                char k[64];
                snprintf(k, sizeof k, "sweep.qp_base[%d]", i);
                return fr_experiment_error(e, err, FR_E_CONFIG, k,
                                           "qp_base %d minus qp_range %d is below QP 0",
                                           s->qp_base[i], s->qp_range);
            }
    }
    for (int i = 0; i < e->n_metrics; i++) {
        const FrMetricDef *d = fr_metric_def(e->metrics[i]);
        const char *why = d && d->unusable ? d->unusable(e) : NULL;
        if (why) {
            char k[64];
            snprintf(k, sizeof k, "metrics[%d]", i);
            return fr_experiment_error(e, err, FR_E_CONFIG, k, "%s %s", d->info.name, why);
        }
    }
    if (e->model.task != FR_TASK_AUTO)
        for (int i = 0; i < e->n_metrics; i++) {
            FrMetric m = e->metrics[i];
            FrTask need = fr_metric_info(m) ? fr_metric_info(m)->task : FR_TASK_AUTO;
            if (need != FR_TASK_AUTO && need != e->model.task) {
                char k[64];
                snprintf(k, sizeof k, "metrics[%d]", i);
                return fr_experiment_error(e, err, FR_E_CONFIG, k,
                                           "%s needs task %s, but model.task is %s",
                                           METRIC_NAMES[m], TASK_NAMES[need],
                                           TASK_NAMES[e->model.task]);
            }
        }
    return 0;
}

