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
#include "config/config.h"
#include "kinds/experiments.h"
#include "util/schema.h"

/* ------------------------------------------------------------------ */
/* Canonical dump and hash: one walk over the schema (sections.c) in each
 * section's dump order, its flags saying what the hashed form leaves out. */

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

/* The shortest text that reads back as the same double (as the schema's
 * DOUBLE fields are written). */
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

/* ---- the CUSTOM keys (sections.c): what follows "key:" ---- */

static void put_codecs(FILE *f, const FrSweepSpec *s, int indent)
{
    fputc('\n', f);
    for (int i = 0; i < s->n_codec; i++) {
        const FrCodecSpec *cs = &s->codec[i];
        fprintf(f, "%*s- {name: ", indent + 2, "");
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
}

static void put_anchors(FILE *f, const FrExperiment *e, int indent)
{
    fputs(e->n_anchors ? "\n" : " []\n", f);
    for (int i = 0; i < e->n_anchors; i++) {
        const FrAnchorSpec *a = &e->anchors[i];
        fprintf(f, "%*s- {name: ", indent + 2, "");
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

static void put_flow(FILE *f, const FrField *sec, const void *obj, const FrExperiment *e,
                     int for_hash);

/* bd[]: each entry a flow map of cfg_bd_schema */
static void put_bds(FILE *f, const FrExperiment *e, int indent, int for_hash)
{
    static const FrField entry = {.type = FR_FIELD_SECTION, .sub = &cfg_bd_schema};
    fputs(e->n_bd ? "\n" : " []\n", f);
    for (int i = 0; i < e->n_bd; i++) {
        fprintf(f, "%*s- ", indent + 2, "");
        put_flow(f, &entry, &e->bd[i], e, for_hash);
        fputc('\n', f);
    }
}

/* Block form: the rest of the line(s) after "key:"; flow form (in {...}):
 * the value after "key: ". */
static void put_custom(FILE *f, const FrField *fd, const void *obj, int for_hash, int indent,
                       int flow)
{
    const char *sp = flow ? "" : " ";
    switch (fd->custom) {
    case CFG_C_INPUT: {
        const FrModelSpec *m = obj;
        fputs(sp, f);
        if (m->input_w)
            fprintf(f, "[%d, %d]", m->input_w, m->input_h);
        else
            fputc('~', f);
        break;
    }
    case CFG_C_SENS_LAYER: {
        const FrSensitivity *s = obj;
        fputs(sp, f);
        if (s->layer == FR_SENS_NAMED)
            put_str(f, s->layer_name);
        else
            fputs(s->layer == FR_SENS_FINAL ? "final" : "penultimate", f);
        break;
    }
    case CFG_C_CODEC:
        put_codecs(f, obj, indent);
        return;
    case CFG_C_ANCHORS:
        put_anchors(f, obj, indent);
        return;
    case CFG_C_BD:
        put_bds(f, obj, indent, for_hash);
        return;
    case CFG_C_BD_QUALITY:
        fputs(sp, f);
        put_str(f, ((const FrBdSpec *)obj)->quality);
        break;
    case CFG_C_MIN_SPAN: {
        double m = ((const FrBdSpec *)obj)->min_span;
        fputs(sp, f);
        if (m < 0)
            fputs("auto", f);
        else
            put_double(f, m);
        break;
    }
    }
    if (!flow)
        fputc('\n', f);
}

/* ---- the schema walk ---- */

/* Whether the dump (for_hash: its hashed form) writes the key. */
static int written(const FrField *fd, const void *obj, const FrExperiment *e, int for_hash)
{
    if (fd->flags & FR_FIELD_NODUMP)
        return 0;
    if (fd->shown && !fd->shown(e, fd))
        return 0;
    if (for_hash && (fd->flags & FR_FIELD_NOHASH))
        return 0;
    if ((fd->flags & FR_FIELD_DUMP_IF_SET) || (for_hash && (fd->flags & FR_FIELD_HASH_IF_SET)))
        return !fr_schema_is_default(fd, obj);
    return 1;
}

/* A typed value: strings quoted (put_str), the rest as the schema writes them. */
static void put_value(FILE *f, const FrField *fd, const void *obj)
{
    if (fd->type == FR_FIELD_STRING) {
        put_str(f, fr_schema_get_string(fd, obj));
    } else if (fd->type == FR_FIELD_STRINGS && fr_schema_all_at(fd, obj) &&
               *fr_schema_all_at(fd, obj)) {
        fputs("all", f);
    } else if (fd->type == FR_FIELD_STRINGS) {
        char *const *v;
        int n = fr_schema_get_list(fd, obj, NULL, &v);
        put_strs(f, v, n);
    } else {
        char b[4096];
        int n = fr_schema_field_text(fd, obj, b, sizeof b);
        if (n >= (int)sizeof b) {
            char *big = malloc((size_t)n + 1);
            if (big)
                fr_schema_field_text(fd, obj, big, (size_t)n + 1);
            fputs(big ? big : "", f);
            free(big);
        } else {
            fputs(b, f);
        }
    }
}

/* The section sec's keys, in its dump order (sec->order, else field order). */
static int section_key(const FrField *sec, int i, const FrField **out)
{
    const FrSchema *s = sec->sub;
    if (sec->order) {
        if (!sec->order[i])
            return 0;
        *out = fr_schema_field(s, sec->order[i]);
        return 1;
    }
    if (i >= s->n_fields)
        return 0;
    *out = &s->fields[i];
    return 1;
}

static void put_flow(FILE *f, const FrField *sec, const void *obj, const FrExperiment *e,
                     int for_hash)
{
    const FrField *fd;
    int first = 1;
    fputc('{', f);
    for (int i = 0; section_key(sec, i, &fd); i++) {
        if (!written(fd, obj, e, for_hash))
            continue;
        fprintf(f, "%s%s: ", first ? "" : ", ", fd->key);
        first = 0;
        if (fd->type == FR_FIELD_SECTION)
            put_flow(f, fd, (const char *)obj + fd->offset, e, for_hash);
        else if (fd->type == FR_FIELD_CUSTOM)
            put_custom(f, fd, obj, for_hash, 0, 1);
        else
            put_value(f, fd, obj);
    }
    fputc('}', f);
}

/* "key: value" lines at indent; sections nest two deeper, or as {...}. */
static void put_block(FILE *f, const FrField *sec, const void *obj, const FrExperiment *e,
                      int for_hash, int indent);

/* One key of a block (fd in the struct obj). */
static void put_key(FILE *f, const FrField *fd, const void *obj, const FrExperiment *e,
                    int for_hash, int indent)
{
    if (!written(fd, obj, e, for_hash))
        return;
    fprintf(f, "%*s%s:", indent, "", fd->key);
    if (fd->type == FR_FIELD_CUSTOM) {
        put_custom(f, fd, obj, for_hash, indent, 0);
        return;
    }
    if (fd->type == FR_FIELD_SECTION && !(fd->flags & FR_FIELD_FLOW)) {
        fputc('\n', f);
        put_block(f, fd, (const char *)obj + fd->offset, e, for_hash, indent + 2);
        return;
    }
    fputc(' ', f);
    if (fd->type == FR_FIELD_SECTION)
        put_flow(f, fd, (const char *)obj + fd->offset, e, for_hash);
    else
        put_value(f, fd, obj);
    fputc('\n', f);
}

static void put_block(FILE *f, const FrField *sec, const void *obj, const FrExperiment *e,
                      int for_hash, int indent)
{
    const FrField *fd;
    for (int i = 0; section_key(sec, i, &fd); i++) {
        /* the kind's own section (FrKindInfo.section) comes before its
         * dump_before key, else before output: */
        if (sec == &cfg_root_field && cfg_kind_section(e->kind) &&
            !strcmp(fd->key, fr_kind_info(e->kind)->dump_before
                                 ? fr_kind_info(e->kind)->dump_before
                                 : "output"))
            put_key(f, cfg_kind_section(e->kind), e->priv->kind_settings[e->kind], e, for_hash,
                    indent);
        put_key(f, fd, obj, e, for_hash, indent);
    }
}

static void dump_to(const FrExperiment *e, FILE *f, int for_hash)
{
    fputs("# featrd experiment (canonical form: every key, defaults included)\n", f);
    put_block(f, &cfg_root_field, e, e, for_hash, 0);
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

