/* dump.c: the canonical YAML of an experiment (every key, fixed order) and
 * the config hash over its result-changing part. */
#define _GNU_SOURCE
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

/* ------------------------------------------------------------------ */
/* Canonical dump and hash. */

static void put_str(FILE *f, const char *s)
{
    if (!s) {
        fputc('~', f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        if (*q == '"' || *q == '\\')
            fprintf(f, "\\%c", *q);
        else if (*q < 0x20 || *q == 0x7f)
            fprintf(f, "\\x%02X", *q);
        else
            fputc(*q, f);
    }
    fputc('"', f);
}

static void put_ints(FILE *f, const int *v, int n)
{
    fputc('[', f);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%d", i ? ", " : "", v[i]);
    fputc(']', f);
}

static void put_enums(FILE *f, const int *v, int n, const char *const *names)
{
    fputc('[', f);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%s", i ? ", " : "", names[v[i]]);
    fputc(']', f);
}

static void put_strs(FILE *f, char *const *v, int n)
{
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        if (i)
            fputs(", ", f);
        put_str(f, v[i]);
    }
    fputc(']', f);
}

/* The shortest text that reads back as the same double. */
static void put_double(FILE *f, double x)
{
    char b[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, x);
        if (strtod(b, NULL) == x)
            break;
    }
    /* keep it a float in YAML's eyes */
    if (!strpbrk(b, ".eEn"))
        strcat(b, ".0");
    fputs(b, f);
}

static const char *bool_s(int b)
{
    return b ? "true" : "false";
}

/* ", key: value" for every field of a settings struct, schema order. */
static void put_schema(FILE *f, const FrSchema *sch, const void *obj)
{
    for (int i = 0; i < sch->n_fields; i++) {
        const FrField *fd = &sch->fields[i];
        fprintf(f, ", %s: ", fd->key);
        char v[256];
        fr_schema_field_text(fd, obj, v, sizeof v);
        if (fd->type == FR_FIELD_CHOICE)
            put_str(f, v); /* quoted: a YAML string */
        else
            fputs(v, f);
    }
}

static void dump_model_dataset(const FrExperiment *e, FILE *f, int for_hash)
{
    const FrModelSpec *m = &e->model;
    fputs("model:\n  cfg: ", f);
    put_str(f, m->cfg);
    fputs("\n  weights: ", f);
    put_str(f, m->weights);
    fprintf(f, "\n  task: %s\n  input: ", TASK_NAMES[m->task]);
    if (m->input_w)
        fprintf(f, "[%d, %d]", m->input_w, m->input_h);
    else
        fputc('~', f);
    fputs("\n  names: ", f);
    put_str(f, m->names);
    fprintf(f, "\n  seed: %llu\n  gemm: %s\n", (unsigned long long)m->seed,
            GEMM_NAMES[m->gemm]);
    const FrDatasetSpec *d = &e->dataset;
    fputs("dataset:\n  images: ", f);
    put_str(f, d->images);
    fprintf(f, "\n  labels: %s\n  annotations: ", LABEL_NAMES[d->labels]);
    put_str(f, d->annotations);
    fputs("\n  labels_file: ", f);
    put_str(f, d->labels_file);
    /* printed in the hash form only when set, so earlier results keep their hash */
    if (!for_hash || d->names) {
        fputs("\n  names: ", f);
        put_str(f, d->names);
    }
    if (!for_hash || d->class_map) {
        fputs("\n  class_map: ", f);
        put_str(f, d->class_map);
    }
    fprintf(f, "\n  limit: %d\n  seed: %llu\n", d->limit, (unsigned long long)d->seed);
}

static void dump_to(const FrExperiment *e, FILE *f, int for_hash)
{
    fputs("# featrd experiment (canonical form: every key, defaults included)\n", f);
    if (!for_hash) {
        fputs("name: ", f);
        put_str(f, e->name);
        fputc('\n', f);
    }
    fprintf(f, "kind: %s\n", KIND_NAMES[e->kind]);
    /* kind features reads neither a model nor an image list */
    if (e->kind != FR_KIND_FEATURES)
        dump_model_dataset(e, f, for_hash);
    if (e->kind == FR_KIND_FEATURES) {
        const FrFeaturesSpec *fs = &e->features;
        fputs("features:\n  dir: ", f);
        put_str(f, fs->dir);
        fputs("\n  list: ", f);
        put_str(f, fs->list);
        fputs("\n  split: ", f);
        put_str(f, fs->split);
        fprintf(f, "\n  limit: %d\n", fs->limit);
    }
    if (e->kind == FR_KIND_RD || e->kind == FR_KIND_FEATURES) {
        const FrSweepSpec *s = &e->sweep;
        fputs("sweep:", f);
        if (e->kind == FR_KIND_RD) {
            fputs("\n  split: ", f);
            put_strs(f, s->split, s->n_split);
        }
        if (s->n_weights) {
            fputs("\n  weights: ", f);
            put_strs(f, s->weights, s->n_weights);
        }
        fputs("\n  bits: ", f);
        put_ints(f, s->bits, s->n_bits);
        fprintf(f, "\n  range: %s\n  relu_min0: %s\n  packing: ", RANGE_NAMES[s->range],
                bool_s(s->relu_min0));
        put_enums(f, (const int *)s->packing, s->n_packing, PACK_NAMES);
        fprintf(f, "\n  tile_pad: %d\n  qp: ", s->tile_pad);
        put_ints(f, s->qp, s->n_qp);
        fputs("\n  codec:\n", f);
        for (int i = 0; i < s->n_codec; i++) {
            const FrCodecSpec *cs = &s->codec[i];
            fputs("    - {name: ", f);
            put_str(f, cs->name);
            if (cs->codec->caps & FR_CODEC_LOSSY) {
                fputs(", qp: ", f);
                put_ints(f, cs->qp, cs->n_qp);
            }
            put_schema(f, cs->codec->settings, cs->settings);
            if (cs->n_split) {
                fputs(", split: ", f);
                put_strs(f, cs->split, cs->n_split);
            }
            fputs("}\n", f);
        }
        fputs("  allocation: ", f);
        put_enums(f, (const int *)s->allocation, s->n_allocation, ALLOC_NAMES);
        fputs("\n  qp_base: ", f);
        put_ints(f, s->qp_base, s->n_qp_base);
        fprintf(f, "\n  qp_range: %d\n", s->qp_range);
        if (s->max_points != 100000 && !for_hash) /* a limit, not a setting of the results */
            fprintf(f, "  max_points: %lld\n", s->max_points);
        fputs("  sensitivity: {layer: ", f);
        if (s->sensitivity.layer == FR_SENS_NAMED)
            put_str(f, s->sensitivity.layer_name);
        else
            fputs(s->sensitivity.layer == FR_SENS_FINAL ? "final" : "penultimate", f);
        fprintf(f, ", scope: %s, calibration_images: %d}\n", SCOPE_NAMES[s->sensitivity.scope],
                s->sensitivity.calibration_images);
        int rdopt = 0; /* written only when used, so other configs keep their hashes */
        for (int i = 0; i < s->n_allocation; i++)
            rdopt |= s->allocation[i] == FR_ALLOC_RDOPT || s->allocation[i] == FR_ALLOC_RDOPT_REFINE;
        if (rdopt) {
            fputs("  rdopt: {qps: ", f);
            put_ints(f, s->rdopt.qps, s->rdopt.n_qps);
            fputs("}\n", f);
        }
        if (e->kind == FR_KIND_RD)
            fputs(e->n_anchors ? "anchors:\n" : "anchors: []\n", f);
        for (int i = 0; i < e->n_anchors; i++) {
            const FrAnchorSpec *a = &e->anchors[i];
            fputs("  - {name: ", f);
            put_str(f, a->name);
            fprintf(f, ", codec: %s, ", ANCHOR_CODEC_NAMES[a->codec]);
            if (a->codec == FR_ANCHOR_HEVC) {
                fputs("qp: ", f);
                put_ints(f, a->qp, a->n_qp);
                put_schema(f, &fr_hevc_schema, &a->hevc);
                fprintf(f, ", chroma: %d", a->chroma);
            } else {
                fputs("quality: ", f);
                put_ints(f, a->quality, a->n_quality);
            }
            fputs("}\n", f);
        }
    }
    fputs("metrics: ", f);
    put_enums(f, (const int *)e->metrics, e->n_metrics, METRIC_NAMES);
    fputs("\nmap_iou: ", f);
    put_double(f, e->map_iou);
    if (e->kind == FR_KIND_RD || e->kind == FR_KIND_FEATURES) {
        fprintf(f, "\nbootstrap: {replicates: %d, seed: %llu, level: ", e->bootstrap.replicates,
                (unsigned long long)e->bootstrap.seed);
        put_double(f, e->bootstrap.level);
        fputc('}', f);
    }
    fputs("\ndet_thresh: ", f);
    put_double(f, e->det_thresh);
    fputs("\nnms: ", f);
    put_double(f, e->nms);
    fputc('\n', f);
    if ((e->kind == FR_KIND_RD || e->kind == FR_KIND_FEATURES) && !for_hash) {
        fputs(e->n_bd ? "bd:\n" : "bd: []\n", f);
        for (int i = 0; i < e->n_bd; i++) {
            const FrBdSpec *b = &e->bd[i];
            fputs("  - {anchor: ", f);
            put_str(f, b->anchor);
            fputs(", test: ", f);
            put_str(f, b->test);
            fprintf(f, ", method: %s, rate: ", BD_NAMES[b->method]);
            put_str(f, b->rate);
            fputs(", quality: ", f);
            put_str(f, b->quality);
            fprintf(f, ", monotone: %s, min_span: ", bool_s(b->monotone));
            if (b->min_span < 0)
                fputs("auto", f);
            else
                put_double(f, b->min_span);
            fputs("}\n", f);
        }
    }
    if (e->kind == FR_KIND_LOSSLESS) {
        const FrLosslessSpec *l = &e->lossless;
        fputs("lossless:\n  layers: ", f);
        if (l->all_layers)
            fputs("all", f);
        else
            put_strs(f, l->layers, l->n_layers);
        fputs("\n  coders: ", f);
        put_strs(f, l->coders, l->n_coders);
        fprintf(f, "\n  quantized_bits: %d\n  repeats: %d\n", l->quantized_bits, l->repeats);
    }
    if (e->kind == FR_KIND_MODEL) {
        const FrModelCompressionSpec *mc = &e->model_compression;
        fputs("model_compression:\n  precision: ", f);
        put_ints(f, mc->precision, mc->n_precision);
        fprintf(f, "\n  coder: %s\n  dom: {base: ", MODEL_CODER_NAMES[mc->coder]);
        put_str(f, mc->dom_base);
        fputs(", target: ", f);
        put_str(f, mc->dom_target);
        fprintf(f, "}\n  rounding: %s\n", ROUNDING_NAMES[mc->rounding]);
    }
    fputs("output:\n", f);
    if (!for_hash) {
        fputs("  dir: ", f);
        put_str(f, e->output.dir);
        fputc('\n', f);
    }
    fprintf(f, "  images_csv: %s\n  detections: %s\n", bool_s(e->output.images_csv),
            bool_s(e->output.detections));
    if (!for_hash && e->kind == FR_KIND_FEATURES) {
        fputs("  decoded_dir: ", f);
        put_str(f, e->output.decoded_dir);
        fputc('\n', f);
    }
    if (!for_hash)
        fprintf(f, "  plots: %s\n  keep_streams: %s\njobs: %d\nquiet: %s\n",
                bool_s(e->output.plots), bool_s(e->output.keep_streams), e->jobs,
                bool_s(e->quiet));
}

static char *dump_mem(const FrExperiment *e, int for_hash, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return NULL;
    dump_to(e, f, for_hash);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    if (len)
        *len = n;
    return buf;
}

char *fr_experiment_dump_string(const FrExperiment *e)
{
    return e ? dump_mem(e, 0, NULL) : NULL;
}

int fr_experiment_dump(const FrExperiment *e, FILE *f, FrError *err)
{
    size_t n;
    char *s = e ? dump_mem(e, 0, &n) : NULL;
    if (!s)
        return fr_error(err, FR_E_NOMEM, "cannot format the experiment");
    int ok = fwrite(s, 1, n, f) == n && fflush(f) == 0;
    free(s);
    return ok ? 0 : fr_error(err, FR_E_IO, "writing the experiment: %s", strerror(errno));
}

uint64_t fr_experiment_hash(const FrExperiment *e)
{
    size_t n;
    char *s = e ? dump_mem(e, 1, &n) : NULL;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; s && i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    free(s);
    return h;
}

