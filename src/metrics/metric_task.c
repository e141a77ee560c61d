/* metric_task.c: the task metrics of the registry: detection mAP (a
 * data-set statistic over the ranked detections), classification top-k and
 * fidelity, dense pixel agreement (per-image values). */
#include <math.h>
#include <stdlib.h>

#include "featrd.h"
#include "metrics/metrics.h"

/* ---------------- detection: one ranking, both mAPs ---------------- */

typedef struct MapState {
    FrMapRanked *rk;
    int rep;            /* the replicate map07/map hold (-2: none yet) */
    double map07, map;
} MapState;

static int map_open(const FrMetricSet *s, void **state, FrError *err)
{
    *state = NULL;
    FrMapSettings ms;
    fr_map_defaults(&ms);
    ms.nclasses = s->nclasses;
    ms.iou = s->iou;
    FrMapAcc *acc = NULL;
    MapState *st = calloc(1, sizeof *st);
    int rc = st ? fr_map_create(&acc, &ms, err) : fr_error(err, FR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < s->n && !rc; i++)
        rc = fr_map_add_image(acc, s->gt[i], s->ngt[i], s->dets[i], (size_t)s->ndet[i], err);
    if (!rc)
        rc = fr_map_rank(acc, &st->rk, err);
    fr_map_destroy(&acc);
    if (rc) {
        if (st)
            fr_map_ranked_destroy(&st->rk);
        free(st);
        return rc;
    }
    st->rep = -2;
    *state = st;
    return 0;
}

static MapState *map_at(void *state, int rep, const uint32_t *w)
{
    MapState *st = state;
    if (st->rep != rep) {
        fr_map_ranked_eval(st->rk, w, &st->map07, &st->map);
        st->rep = rep;
    }
    return st;
}

static double map07_eval(void *state, int rep, const uint32_t *w)
{
    return map_at(state, rep, w)->map07;
}

static double map_eval(void *state, int rep, const uint32_t *w)
{
    return map_at(state, rep, w)->map;
}

static void map_close(void *state)
{
    MapState *st = state;
    if (st)
        fr_map_ranked_destroy(&st->rk);
    free(st);
}

const FrMetricDef fr_metric_map07 = {
    .info = {"map07", "map07", FR_TASK_DETECTION, 1,
             "VOC2007 11-point mAP at map_iou (the devkit's, python voc_eval)"},
    .unit = "",
    .set_open = map_open,
    .set_eval = map07_eval,
    .set_close = map_close,
};

const FrMetricDef fr_metric_map = {
    .info = {"map", "map", FR_TASK_DETECTION, 1, "all-point (VOC2010+) mAP at map_iou"},
    .unit = "",
    .set_open = map_open,
    .set_eval = map_eval,
    .set_close = map_close,
};

/* ---------------- classification: the accumulator's rule on one image ---------------- */

static FrClsAcc cls_one(const FrMetricOutput *o)
{
    FrClsAcc a;
    fr_cls_acc_init(&a);
    fr_cls_acc_add(&a, o->out->data, o->ref->data, fr_tensor_size(o->out), o->label);
    return a;
}

static int top1(const FrMetricOutput *o, double *v, FrError *err)
{
    (void)err;
    FrClsAcc a = cls_one(o);
    *v = fr_cls_top1(&a);
    return 0;
}

static int top5(const FrMetricOutput *o, double *v, FrError *err)
{
    (void)err;
    FrClsAcc a = cls_one(o);
    *v = fr_cls_top5(&a);
    return 0;
}

static int fidelity(const FrMetricOutput *o, double *v, FrError *err)
{
    (void)err;
    FrClsAcc a = cls_one(o);
    *v = fr_cls_fidelity(&a);
    return 0;
}

/* NaN on an unlabelled image: top-k is the share of the labelled images */
const FrMetricDef fr_metric_top1 = {
    .info = {"top1", "top1", FR_TASK_CLASSIFICATION, 1, "top-1 accuracy"},
    .unit = "",
    .flags = FR_METRIC_SCORED_ONLY,
    .output = top1,
};

const FrMetricDef fr_metric_top5 = {
    .info = {"top5", "top5", FR_TASK_CLASSIFICATION, 1, "top-5 accuracy"},
    .unit = "",
    .flags = FR_METRIC_SCORED_ONLY,
    .output = top5,
};

const FrMetricDef fr_metric_fidelity = {
    .info = {"fidelity", "fidelity", FR_TASK_CLASSIFICATION, 1,
             "agreement of the top-1 class with the uncompressed network (seed 004 eq. 4/5)"},
    .unit = "",
    .flags = FR_METRIC_SCORED_ONLY,
    .output = fidelity,
};

/* ---------------- dense ---------------- */

static int pixel_agreement(const FrMetricOutput *o, double *v, FrError *err)
{
    return fr_dense_fidelity(o->out, o->ref, v, err);
}

const FrMetricDef fr_metric_pixel_agreement = {
    .info = {"pixel_agreement", "fidelity", FR_TASK_DENSE, 1,
             "share of pixels whose argmax equals the uncompressed network's"},
    .unit = "",
    .output = pixel_agreement,
};
