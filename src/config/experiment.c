/* experiment.c: an FrExperiment's defaults (fr_experiment_defaults) and
 * its release (fr_experiment_free), both from the schema (sections.c), and
 * the parts of its CUSTOM keys (codec entries, anchors, bd). */
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
#include "config/config.h"
#include "kinds/experiments.h"
#include "util/schema.h"

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

void cfg_codecs_free(FrCodecSpec *cs, int n)
{
    for (int i = 0; i < n; i++)
        cfg_codec_clear(&cs[i]);
    free(cs);
}

void cfg_anchors_free(FrAnchorSpec *a, int n)
{
    for (int i = 0; i < n; i++)
        cfg_schema_free(&cfg_anchor_schema, &a[i]);
    free(a);
}

void cfg_bd_free(FrBdSpec *b, int n)
{
    for (int i = 0; i < n; i++)
        cfg_schema_free(&cfg_bd_schema, &b[i]);
    free(b);
}

/* ------------------------------------------------------------------ */
/* Defaults, free: the schema's (sections.c), plus its CUSTOM keys. */

static int custom_init(int id, void *obj)
{
    if (id == CFG_C_CODEC) {
        FrSweepSpec *s = obj;
        if (!(s->codec = calloc(1, sizeof *s->codec)))
            return FR_E_NOMEM;
        s->n_codec = 1;
        return cfg_codec_init(&s->codec[0], fr_codec_by_id(FR_CODEC_HEVC));
    }
    if (id == CFG_C_MIN_SPAN)
        ((FrBdSpec *)obj)->min_span = -1; /* auto */
    /* model.input 0x0, sensitivity.layer penultimate, anchors [], bd []:
     * zero */
    return 0;
}

static void custom_release(int id, void *obj)
{
    if (id == CFG_C_CODEC) {
        FrSweepSpec *s = obj;
        cfg_codecs_free(s->codec, s->n_codec);
        s->codec = NULL;
        s->n_codec = 0;
    } else if (id == CFG_C_SENS_LAYER) {
        FrSensitivity *s = obj;
        free(s->layer_name);
        s->layer_name = NULL;
    } else if (id == CFG_C_ANCHORS) {
        FrExperiment *e = obj;
        cfg_anchors_free(e->anchors, e->n_anchors);
        e->anchors = NULL;
        e->n_anchors = 0;
    } else if (id == CFG_C_BD_QUALITY) {
        FrBdSpec *b = obj;
        free(b->quality);
        b->quality = NULL;
    } else if (id == CFG_C_BD) {
        FrExperiment *e = obj;
        cfg_bd_free(e->bd, e->n_bd);
        e->bd = NULL;
        e->n_bd = 0;
    }
}

/* Every CUSTOM key of s (and its sections) in obj: init or release. */
static int each_custom(const FrSchema *s, void *obj, int init)
{
    for (int i = 0; i < s->n_fields; i++) {
        const FrField *f = &s->fields[i];
        int rc = 0;
        if (f->type == FR_FIELD_SECTION)
            rc = each_custom(f->sub, (char *)obj + f->offset, init);
        else if (f->type == FR_FIELD_CUSTOM && init)
            rc = custom_init(f->custom, obj);
        else if (f->type == FR_FIELD_CUSTOM)
            custom_release(f->custom, obj);
        if (rc)
            return rc;
    }
    return 0;
}

int cfg_schema_defaults(const FrSchema *s, void *obj)
{
    return fr_schema_init(s, obj) || each_custom(s, obj, 1) ? FR_E_NOMEM : 0;
}

void cfg_schema_free(const FrSchema *s, void *obj)
{
    each_custom(s, obj, 0);
    fr_schema_release(s, obj);
}

int cfg_set_defaults(FrExperiment *e)
{
    return cfg_schema_defaults(fr_experiment_schema(), e);
}

void fr_experiment_free(FrExperiment **ep)
{
    if (!ep || !*ep)
        return;
    FrExperiment *e = *ep;
    cfg_schema_free(fr_experiment_schema(), e);
    cfg_kind_settings_free(e);
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
    if (!e->priv || cfg_set_defaults(e) || cfg_kind_settings_init(e) ||
        (finish && cfg_finish_sweep(&e->sweep))) {
        fr_experiment_free(&e);
        return NULL;
    }
    return e;
}

/* ---- the kinds' own sections (FrKindInfo.section) ---- */

const FrField *cfg_kind_section(FrExperimentKind k)
{
    const FrKindInfo *ki = fr_kind_info(k);
    return ki && (int)k < CFG_MAX_KINDS ? ki->section : NULL;
}

int cfg_kind_settings_init(FrExperiment *e)
{
    for (int k = 0; k < fr_kind_count(); k++) {
        const FrField *sec = cfg_kind_section((FrExperimentKind)k);
        if (!sec)
            continue;
        if (!(e->priv->kind_settings[k] = calloc(1, sec->sub->size)) ||
            cfg_schema_defaults(sec->sub, e->priv->kind_settings[k]))
            return FR_E_NOMEM;
    }
    return 0;
}

void cfg_kind_settings_free(FrExperiment *e)
{
    for (int k = 0; e->priv && k < fr_kind_count() && k < CFG_MAX_KINDS; k++) {
        const FrField *sec = cfg_kind_section((FrExperimentKind)k);
        if (sec && e->priv->kind_settings[k])
            cfg_schema_free(sec->sub, e->priv->kind_settings[k]);
        free(e->priv->kind_settings[k]);
        e->priv->kind_settings[k] = NULL;
    }
}

const void *fr_experiment_kind_settings(const FrExperiment *e)
{
    if (!e || !e->priv || !cfg_kind_section(e->kind))
        return NULL;
    return e->priv->kind_settings[e->kind];
}

FrExperiment *fr_experiment_defaults(void)
{
    return cfg_experiment_new(1);
}

void fr_model_spec_settings(const FrModelSpec *spec, FrModelSettings *ms)
{
    fr_model_defaults(ms);
    ms->backend = spec->backend;
    ms->cfg = spec->cfg;
    ms->weights = spec->weights;
    ms->seed = spec->seed;
    ms->width = spec->input_w;
    ms->height = spec->input_h;
    ms->gemm = spec->gemm;
    ms->device = spec->device;
    ms->kernels = spec->kernels;
}
