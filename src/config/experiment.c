/* experiment.c: an FrExperiment's defaults (fr_experiment_defaults) and
 * its release (fr_experiment_free). */
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

void cfg_codec_clear(FrCodecSpec *cs)
{
    cfg_free_strs(cs->split, cs->n_split);
    free(cs->name);
    free(cs->qp);
    free(cs->settings);
    memset(cs, 0, sizeof *cs);
}

int cfg_codec_init(FrCodecSpec *cs, const FrCodec *codec)
{
    memset(cs, 0, sizeof *cs);
    cs->codec = codec;
    cs->name = cfg_xstrdup(codec->name);
    cs->settings = fr_codec_settings_new(codec);
    cs->n_qp = -1; /* "take sweep.qp", resolved in cfg_finish_sweep() */
    return cs->name && cs->settings ? 0 : FR_E_NOMEM;
}

/* sweep.qp holds x265 QPs: a lossy coder with another QP scale (q-index,
 * distance, NEAR, ratio) must list its own, never inherit numbers that mean
 * something else to it. */
void cfg_codecs_free(FrCodecSpec *cs, int n)
{
    for (int i = 0; i < n; i++)
        cfg_codec_clear(&cs[i]);
    free(cs);
}

void cfg_anchors_free(FrAnchorSpec *a, int n)
{
    for (int i = 0; i < n; i++) {
        free(a[i].name);
        free(a[i].qp);
        free(a[i].quality);
    }
    free(a);
}

void cfg_bd_free(FrBdSpec *b, int n)
{
    for (int i = 0; i < n; i++) {
        free(b[i].anchor);
        free(b[i].test);
        free(b[i].rate);
        free(b[i].quality);
    }
    free(b);
}

/* ------------------------------------------------------------------ */
/* Defaults, free. */

static int int_dup(int **dst, int *n, const int *src, int k)
{
    *dst = malloc((size_t)k * sizeof **dst);
    if (!*dst)
        return FR_E_NOMEM;
    memcpy(*dst, src, (size_t)k * sizeof **dst);
    *n = k;
    return 0;
}

int cfg_set_defaults(FrExperiment *e)
{
    static const int bits[] = {8};
    static const int prec[] = {1, 2, 3, 4, 5, 6, 7, 8};
    static const char *const coders[] = {"gzip", "zlib", "bzip2", "lzma", "zstd"};
    e->name = cfg_xstrdup("experiment");
    e->kind = FR_KIND_RD;
    e->model.seed = 1;
    e->model.task = FR_TASK_AUTO;
    e->model.gemm = FR_GEMM_OPENBLAS;
    e->dataset.labels = FR_LABELS_DARKNET_TXT;
    FrSweepSpec *s = &e->sweep;
    if (int_dup(&s->bits, &s->n_bits, bits, 1) || int_dup(&s->qp, &s->n_qp, cfg_default_qp, 4))
        return FR_E_NOMEM;
    s->range = FR_RANGE_TENSOR;
    if (!(s->packing = calloc(1, sizeof *s->packing)))
        return FR_E_NOMEM;
    s->packing[0] = FR_PACK_TILE;
    s->n_packing = 1;
    if (!(s->codec = calloc(1, sizeof *s->codec)))
        return FR_E_NOMEM;
    s->n_codec = 1;
    if (cfg_codec_init(&s->codec[0], fr_codec_by_id(FR_CODEC_HEVC)))
        return FR_E_NOMEM;
    if (!(s->allocation = calloc(1, sizeof *s->allocation)))
        return FR_E_NOMEM;
    s->allocation[0] = FR_ALLOC_UNIFORM;
    s->n_allocation = 1;
    s->qp_range = 5;
    s->max_points = 100000;
    s->sensitivity.calibration_images = 16;
    s->rdopt.qp_step = 2;
    e->map_iou = 0.5;
    e->bootstrap.replicates = 1000;
    e->bootstrap.seed = 1;
    e->bootstrap.level = 0.95;
    e->det_thresh = 0.005;
    e->nms = 0.45;
    e->output.dir = cfg_xstrdup("results/experiment");
    e->output.plots = 1;
    e->jobs = 1;
    e->lossless.all_layers = 1;
    if (!(e->lossless.coders = calloc(5, sizeof(char *))))
        return FR_E_NOMEM;
    e->lossless.n_coders = 5;
    for (int i = 0; i < 5; i++)
        if (!(e->lossless.coders[i] = cfg_xstrdup(coders[i])))
            return FR_E_NOMEM;
    e->lossless.repeats = 1;
    FrModelCompressionSpec *m = &e->model_compression;
    if (int_dup(&m->precision, &m->n_precision, prec, 8))
        return FR_E_NOMEM;
    m->coder = FR_MODEL_CODER_LZMA;
    if (!e->name || !e->output.dir)
        return FR_E_NOMEM;
    return 0;
}

void fr_experiment_free(FrExperiment **ep)
{
    if (!ep || !*ep)
        return;
    FrExperiment *e = *ep;
    free(e->name);
    free(e->model.cfg);
    free(e->model.weights);
    free(e->model.names);
    free(e->dataset.images);
    free(e->dataset.annotations);
    free(e->dataset.labels_file);
    free(e->dataset.names);
    free(e->dataset.class_map);
    FrSweepSpec *s = &e->sweep;
    cfg_free_strs(s->split, s->n_split);
    cfg_free_strs(s->weights, s->n_weights);
    free(s->bits);
    free(s->packing);
    free(s->qp);
    cfg_codecs_free(s->codec, s->n_codec);
    free(s->allocation);
    free(s->qp_base);
    free(s->sensitivity.layer_name);
    free(s->rdopt.qps);
    cfg_anchors_free(e->anchors, e->n_anchors);
    free(e->metrics);
    cfg_bd_free(e->bd, e->n_bd);
    free(e->output.dir);
    cfg_free_strs(e->lossless.layers, e->lossless.n_layers);
    cfg_free_strs(e->lossless.coders, e->lossless.n_coders);
    free(e->model_compression.precision);
    free(e->model_compression.dom_base);
    free(e->model_compression.dom_target);
    free(e->output.decoded_dir);
    free(e->features.dir);
    free(e->features.list);
    free(e->features.split);
    cfg_priv_free(e->priv);
    free(e);
    *ep = NULL;
}

/* finish = 0 leaves the default hevc entry's QPs open for sweep.qp. */
FrExperiment *cfg_experiment_new(int finish)
{
    FrExperiment *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->priv = calloc(1, sizeof *e->priv);
    if (!e->priv || cfg_set_defaults(e) || (finish && cfg_finish_sweep(&e->sweep))) {
        fr_experiment_free(&e);
        return NULL;
    }
    return e;
}

FrExperiment *fr_experiment_defaults(void)
{
    return cfg_experiment_new(1);
}

