/* parse.c: the node tree of a config → FrExperiment. One walk over the
 * schema (sections.c) reads every section: the known keys and "did you
 * mean", each key's type and range with FILE:LINE:COL messages, where each
 * key was set. The lists of maps (anchors, bd) are read entry by entry with
 * their entries' schemas (cfg_anchor_schema beside fr_hevc_schema,
 * cfg_bd_schema); the keys whose YAML is more than one typed value (codec
 * entries, model.input, ...) are read here by hand. Rules that span several
 * keys are in validate.c; an anchor's codec-dependent keys are checked
 * after its entry. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "featrd/alloc.h"
#include "featrd/experiments.h"
#include "featrd/metrics.h"
#include "codec/codec.h"
#include "config/config.h"
#include "kinds/experiments.h"
#include "util/schema.h"

/* Keys of a map that may also hold a schema's fields: fixed[] then the
 * schema's keys, NULL-terminated, into keys[cap]. */
static void keys_with_schema(const char *const *fixed, const FrSchema *sch, const char **keys,
                             int cap)
{
    int k = 0;
    for (int i = 0; fixed[i] && k < cap - 1; i++)
        keys[k++] = fixed[i];
    for (int i = 0; sch && i < sch->n_fields && k < cap - 1; i++)
        keys[k++] = sch->fields[i].key;
    keys[k] = NULL;
}

/* One field of a settings schema (featrd/schema.h) from a YAML value. An
 * integer field whose range holds 0 and 1 also takes false/true. */
static int get_schema_field(CfgCx *c, const FrSchema *sch, const FrField *f, void *obj,
                            const Node *x, const char *path)
{
    int rc, v = 0;
    char w[300];
    FrError e2;
    if (f->type == FR_FIELD_CHOICE) {
        if ((rc = cfg_get_enum(c, x, path, f->names, &v)))
            return rc;
        return fr_schema_set_str(sch, f, obj, f->names[v], &e2) ? cfg_expected(c, x, path, "a shorter name")
                                                                : 0;
    }
    if (f->type == FR_FIELD_BOOL) {
        if ((rc = cfg_get_bool(c, x, path, &v)))
            return rc;
        return fr_schema_set_int(sch, f, obj, v, &e2);
    }
    long long ll;
    fr_schema_describe(f, w, sizeof w);
    if (x->type == N_SCALAR && x->plain && (!strcmp(x->s, "true") || !strcmp(x->s, "false")) &&
        fr_schema_accepts_int(f, 0) && fr_schema_accepts_int(f, 1))
        ll = !strcmp(x->s, "true");
    else if (x->type != N_SCALAR || cfg_parse_ll(x, &ll))
        return cfg_expected(c, x, path, w);
    if (fr_schema_set_int(sch, f, obj, ll, &e2))
        return cfg_expected(c, x, path, w);
    return 0;
}

/* sweep.qp holds x265 QPs: a lossy coder with another QP scale (q-index,
 * distance, NEAR, ratio) must list its own, never inherit numbers that mean
 * something else to it. */
static int own_qp_needed(CfgCx *c, const FrCodec *codec, FrSrcLoc loc, const char *path)
{
    if (!(codec->caps & FR_CODEC_LOSSY) || (codec->caps & FR_CODEC_X265_QP))
        return 0;
    return cfg_loc_err(c->err, FR_E_CONFIG, loc, path,
                       "%s needs its own qp list, e.g. {name: %s, qp: [...]} with qp %d..%d (%s); "
                       "sweep.qp holds x265 QPs", codec->name, codec->name, codec->qp_lo,
                       codec->qp_hi, codec->qp_doc ? codec->qp_doc : "its quality parameter");
}

static int parse_codec_entry(CfgCx *c, const Node *v, const char *path, FrCodecSpec *cs)
{
    int rc, t;
    const char *names[MAX_CODECS];
    cfg_codec_names(0, names, MAX_CODECS);
    if (v->type == N_SCALAR) {
        if ((rc = cfg_get_enum(c, v, path, names, &t)))
            return rc;
        if ((rc = cfg_codec_init(cs, fr_codec_find(names[t]))))
            return rc;
        cs->loc = v->loc;
        return own_qp_needed(c, cs->codec, v->loc, path);
    }
    if (v->type != N_MAP)
        return cfg_expected(c, v, path, "a codec name or a map {name: hevc, qp: [...], ...}");
    int ni = cfg_map_find(v, "name");
    if (ni < 0) {
        char w[300];
        cfg_or_list(names, w, sizeof w);
        return cfg_loc_err(c->err, FR_E_CONFIG, v->loc, path, "missing key 'name' (%s)", w);
    }
    char p[300];
    cfg_join(p, sizeof p, path, "name");
    if ((rc = cfg_get_enum(c, v->kids[ni], p, names, &t)))
        return rc;
    const FrCodec *codec = fr_codec_find(names[t]);
    static const char *const fixed_lossy[] = {"name", "qp", "split", NULL};
    static const char *const fixed[] = {"name", "split", NULL};
    const char *keys[64];
    keys_with_schema(codec->caps & FR_CODEC_LOSSY ? fixed_lossy : fixed, codec->settings, keys, 64);
    int qi = cfg_map_find(v, "qp");
    if (qi >= 0 && !(codec->caps & FR_CODEC_LOSSY)) {
        cfg_join(p, sizeof p, path, "qp");
        return cfg_loc_err(c->err, FR_E_CONFIG, v->kloc[qi], p,
                       "%s is lossless and has no QP (use a lossy codec such as hevc for a curve)",
                       codec->name);
    }
    if ((rc = cfg_check_map(c, v, path, keys)))
        return rc;
    if (qi < 0 && (rc = own_qp_needed(c, codec, v->loc, path)))
        return rc;
    if ((rc = cfg_codec_init(cs, codec)))
        return rc;
    cs->loc = v->loc;
    for (int i = 0; i < v->n; i++) {
        const char *k = v->keys[i];
        const Node *x = v->kids[i];
        cfg_join(p, sizeof p, path, k);
        if ((rc = cfg_rec(c, p, x->loc)))
            return rc;
        if (!strcmp(k, "name"))
            continue;
        if (!strcmp(k, "split")) {
            if ((rc = cfg_get_str_list(c, x, p, NULL, "split names from sweep.split", 0, &cs->split,
                                   &cs->n_split)))
                return rc;
        } else if (!strcmp(k, "qp")) {
            char what[200];
            snprintf(what, sizeof what, "%s QPs from %d to %d (%s)", codec->name, codec->qp_lo,
                     codec->qp_hi, codec->qp_doc ? codec->qp_doc : "its QP");
            if ((rc = cfg_get_int_list(c, x, p, codec->qp_lo, codec->qp_hi, NULL, what, 0, &cs->qp,
                                   &cs->n_qp)))
                return rc;
        } else if ((rc = get_schema_field(c, codec->settings, fr_schema_field(codec->settings, k),
                                          cs->settings, x, p))) {
            return rc;
        }
    }
    FrError e2;
    const char *bad = NULL;
    if (fr_schema_validate_key(codec->settings, cs->settings, &bad, &e2)) {
        /* point at the field the rule blames when the entry sets it */
        int at = bad ? cfg_map_find(v, bad) : -1;
        if (at >= 0) {
            cfg_join(p, sizeof p, path, v->keys[at]);
            return cfg_loc_err(c->err, FR_E_CONFIG, v->kids[at]->loc, p, "%s", e2.msg);
        }
        return cfg_loc_err(c->err, FR_E_CONFIG, v->loc, path, "%s", e2.msg);
    }
    return 0;
}

static int parse_codec_list(CfgCx *c, const Node *v, const char *path, FrSweepSpec *s)
{
    Node *const *it;
    Node *one;
    int k, rc;
    char w[300];
    const char *names[MAX_CODECS];
    cfg_codec_names(0, names, MAX_CODECS);
    cfg_or_list(names, w, sizeof w);
    if ((rc = cfg_list_items(c, v, path, 0, w, &one, &it, &k)))
        return rc;
    FrCodecSpec *cs = calloc((size_t)k, sizeof *cs);
    if (!cs)
        return FR_E_NOMEM;
    for (int i = 0; i < k; i++) {
        char p[300];
        cfg_pathf(p, sizeof p, "%s[%d]", path, i);
        if ((rc = cfg_rec(c, p, it[i]->loc)) || (rc = parse_codec_entry(c, it[i], p, &cs[i]))) {
            cfg_codecs_free(cs, k);
            return rc;
        }
        if (it[i]->type == N_SCALAR)
            for (int j = 0; j < i; j++)
                if (it[j]->type == N_SCALAR && !strcmp(cs[j].name, cs[i].name)) {
                    rc = cfg_loc_err(c->err, FR_E_CONFIG, it[i]->loc, path,
                                 "duplicate value %s (also at line %d)", cs[i].name,
                                 it[j]->loc.line);
                    cfg_codecs_free(cs, k);
                    return rc;
                }
    }
    cfg_codecs_free(s->codec, s->n_codec);
    s->codec = cs;
    s->n_codec = k;
    return 0;
}

static int parse_field(CfgCx *c, const FrField *f, void *obj, const Node *v, const char *p,
                       FrSrcLoc kloc);

/* One anchors[] entry: cfg_anchor_schema's keys (name, codec, qp, quality,
 * chroma) and fr_hevc_schema's (the x265 settings) in one map, then the
 * rules between them (which keys go with which codec). */
static int parse_anchor(CfgCx *c, const Node *m, const char *path, FrAnchorSpec *a)
{
    const char *keys[64], *own[16];
    cfg_schema_keys(&cfg_anchor_schema, own, 16);
    keys_with_schema(own, &fr_hevc_schema, keys, 64);
    int rc = cfg_check_map(c, m, path, keys);
    if (rc)
        return rc;
    if (m->type != N_MAP || cfg_map_find(m, "name") < 0)
        return cfg_loc_err(c->err, FR_E_CONFIG, m->loc, path,
                       "missing key 'name' (the anchor's curve name, e.g. cloud-hevc)");
    if ((rc = cfg_schema_defaults(&cfg_anchor_schema, a)))
        return rc;
    int has_qp = 0, has_q = 0, has_hevc = 0;
    fr_hevc_defaults(&a->hevc);
    a->hevc_set = 0;
    for (int i = 0; !rc && i < m->n; i++) {
        const char *k = m->keys[i];
        const Node *v = m->kids[i];
        char p[300];
        cfg_join(p, sizeof p, path, k);
        if ((rc = cfg_rec(c, p, v->loc)))
            break;
        const FrField *f = fr_schema_field(&fr_hevc_schema, k);
        if (f) {
            rc = get_schema_field(c, &fr_hevc_schema, f, &a->hevc, v, p);
            a->hevc_set |= 1u << (f - fr_hevc_schema.fields);
            has_hevc = i + 1;
            continue;
        }
        rc = parse_field(c, fr_schema_field(&cfg_anchor_schema, k), a, v, p, m->kloc[i]);
        if (!strcmp(k, "qp"))
            has_qp = i + 1;
        else if (!strcmp(k, "quality"))
            has_q = i + 1;
        else if (!strcmp(k, "chroma"))
            has_hevc = i + 1;
    }
    if (rc)
        return rc;
    char p[300];
    if (a->codec == FR_ANCHOR_HEVC && has_q) {
        cfg_join(p, sizeof p, path, "quality");
        return cfg_loc_err(c->err, FR_E_CONFIG, m->kloc[has_q - 1], p,
                       "only for codec: jpeg (hevc anchors take qp)");
    }
    if (a->codec == FR_ANCHOR_JPEG && has_hevc) {
        cfg_join(p, sizeof p, path, m->keys[has_hevc - 1]);
        return cfg_loc_err(c->err, FR_E_CONFIG, m->kloc[has_hevc - 1], p,
                       "only for codec: hevc (x265 settings of the anchor)");
    }
    if (a->codec == FR_ANCHOR_JPEG && has_qp) {
        cfg_join(p, sizeof p, path, "qp");
        return cfg_loc_err(c->err, FR_E_CONFIG, m->kloc[has_qp - 1], p,
                       "only for codec: hevc (jpeg anchors take quality)");
    }
    if (a->codec == FR_ANCHOR_JPEG && !has_q) {
        cfg_join(p, sizeof p, path, "quality");
        return cfg_loc_err(c->err, FR_E_CONFIG, m->loc, p,
                       "required for codec: jpeg (e.g. quality: [10, 30, 50, 70, 90])");
    }
    if (a->codec == FR_ANCHOR_JPEG) { /* a jpeg anchor has no QP list (the default's) */
        free(a->qp);
        a->qp = NULL;
        a->n_qp = 0;
    }
    return 0;
}

static int parse_anchors(CfgCx *c, const Node *v)
{
    Node *const *it;
    Node *one;
    int k, rc;
    if ((rc = cfg_list_items(c, v, "anchors", 1, "maps {name: cloud-hevc, codec: hevc, qp: [...]}",
                         &one, &it, &k)))
        return rc;
    FrAnchorSpec *a = k ? calloc((size_t)k, sizeof *a) : NULL;
    if (k && !a)
        return FR_E_NOMEM;
    for (int i = 0; i < k && !rc; i++) {
        char p[300];
        cfg_pathf(p, sizeof p, "anchors[%d]", i);
        a[i].loc = it[i]->loc;
        if (it[i]->type != N_MAP)
            rc = cfg_expected(c, it[i], p, "a map {name: cloud-hevc, codec: hevc, qp: [...]}");
        else if (!(rc = cfg_rec(c, p, it[i]->loc)))
            rc = parse_anchor(c, it[i], p, &a[i]);
        for (int j = 0; j < i && !rc; j++)
            if (!strcmp(a[j].name, a[i].name)) {
                char q[320];
                cfg_pathf(q, sizeof q, "%s.name", p);
                rc = cfg_loc_err(c->err, FR_E_CONFIG, it[i]->loc, q,
                             "duplicate anchor name '%s' (also at line %d)", a[i].name,
                             a[j].loc.line);
            }
    }
    if (rc) {
        cfg_anchors_free(a, k);
        return rc;
    }
    cfg_anchors_free(c->e->anchors, c->e->n_anchors);
    c->e->anchors = a;
    c->e->n_anchors = k;
    return 0;
}

static int parse_section(CfgCx *c, const Node *m, const char *path, const FrSchema *s, void *obj);

/* One bd[] entry: its schema (sections.c), then the two keys it needs. */
static int parse_bd_entry(CfgCx *c, const Node *m, const char *path, FrBdSpec *b)
{
    int rc = cfg_schema_defaults(&cfg_bd_schema, b);
    if (!rc)
        rc = parse_section(c, m, path, &cfg_bd_schema, b);
    if (!rc && (!b->anchor || !b->test))
        rc = cfg_loc_err(c->err, FR_E_CONFIG, m->loc, path,
                     "missing key '%s' (a curve name such as an anchor's name, or a glob "
                     "like \"split=*\")",
                     !b->anchor ? "anchor" : "test");
    return rc;
}

static int parse_bd(CfgCx *c, const Node *v)
{
    Node *const *it;
    Node *one;
    int k, rc;
    if ((rc = cfg_list_items(c, v, "bd", 1, "maps {anchor: NAME, test: NAME-or-glob}", &one, &it, &k)))
        return rc;
    FrBdSpec *b = k ? calloc((size_t)k, sizeof *b) : NULL;
    if (k && !b)
        return FR_E_NOMEM;
    for (int i = 0; i < k && !rc; i++) {
        char p[300];
        cfg_pathf(p, sizeof p, "bd[%d]", i);
        b[i].loc = it[i]->loc;
        if (it[i]->type != N_MAP)
            rc = cfg_expected(c, it[i], p, "a map {anchor: NAME, test: NAME-or-glob}");
        else if (!(rc = cfg_rec(c, p, it[i]->loc)))
            rc = parse_bd_entry(c, it[i], p, &b[i]);
    }
    if (rc) {
        cfg_bd_free(b, k);
        return rc;
    }
    cfg_bd_free(c->e->bd, c->e->n_bd);
    c->e->bd = b;
    c->e->n_bd = k;
    return 0;
}

/* ------------------------------------------------------------------ */
/* The CUSTOM keys (sections.c). */

static int parse_input(CfgCx *c, const Node *v, const char *p, FrModelSpec *s)
{
    const char *what = "WxH (e.g. 544x544), [w, h] or ~ for the cfg's size";
    int w = 0, h = 0, rc;
    if (cfg_is_null(v)) {
        w = h = 0;
    } else if (v->type == N_SEQ) {
        if (v->n != 2)
            return cfg_expected(c, v, p, what);
        if ((rc = cfg_get_int(c, v->kids[0], p, 1, 16384, &w)) ||
            (rc = cfg_get_int(c, v->kids[1], p, 1, 16384, &h)))
            return rc;
    } else if (v->type == N_SCALAR && v->plain) {
        char tail;
        long long x;
        if (!cfg_parse_ll(v, &x) && x >= 1 && x <= 16384) {
            w = h = (int)x;
        } else if (sscanf(v->s, "%dx%d%c", &w, &h, &tail) != 2 || w < 1 || h < 1 || w > 16384 ||
                   h > 16384) {
            return cfg_expected(c, v, p, what);
        }
    } else {
        return cfg_expected(c, v, p, what);
    }
    s->input_w = w;
    s->input_h = h;
    return 0;
}

static int parse_sens_layer(CfgCx *c, const Node *v, const char *p, FrSensitivity *s)
{
    char *name = NULL;
    int rc = cfg_get_str(c, v, p, 0, &name);
    if (rc)
        return rc;
    free(s->layer_name);
    s->layer_name = NULL;
    if (!strcmp(name, "penultimate")) {
        s->layer = FR_SENS_PENULTIMATE;
        free(name);
    } else if (!strcmp(name, "final")) {
        s->layer = FR_SENS_FINAL;
        free(name);
    } else {
        s->layer = FR_SENS_NAMED;
        s->layer_name = name;
    }
    return 0;
}

static int parse_bd_quality(CfgCx *c, const Node *v, const char *p, FrBdSpec *b)
{
    int rc = 0;
    if (cfg_is_null(v)) {
        free(b->quality);
        b->quality = NULL;
    } else if (v->type == N_SCALAR && fr_metric_from_name(v->s) >= 0) {
        free(b->quality);
        if (!(b->quality = cfg_xstrdup(METRIC_NAMES[fr_metric_from_name(v->s)])))
            rc = FR_E_NOMEM;
    } else if (!(rc = cfg_get_str(c, v, p, 0, &b->quality))) {
        /* any points.csv column (psnr_nbit, mse, ...) */
        for (const char *q = b->quality; *q && !rc; q++)
            if (!islower((unsigned char)*q) && !isdigit((unsigned char)*q) && *q != '_')
                rc = cfg_expected(c, v, p, "a metric (map07, top1, ...) or a points.csv "
                                           "column name such as psnr_nbit");
    }
    return rc;
}

static int parse_min_span(CfgCx *c, const Node *v, const char *p, FrBdSpec *b)
{
    if (cfg_is_null(v) || (v->type == N_SCALAR && !strcmp(v->s, "auto"))) {
        b->min_span = -1;
        return 0;
    }
    return cfg_get_double(c, v, p, 0, 1e300, 0, &b->min_span);
}

static int parse_custom(CfgCx *c, const FrField *f, void *obj, const Node *v, const char *p,
                        FrSrcLoc kloc)
{
    switch (f->custom) {
    case CFG_C_INCLUDE:
        return cfg_loc_err(c->err, FR_E_CONFIG, kloc, p, "must be at the top of a file");
    case CFG_C_INPUT:
        return parse_input(c, v, p, obj);
    case CFG_C_CODEC:
        return parse_codec_list(c, v, p, obj);
    case CFG_C_SENS_LAYER:
        return parse_sens_layer(c, v, p, obj);
    case CFG_C_ANCHORS:
        return parse_anchors(c, v);
    case CFG_C_BD:
        return parse_bd(c, v);
    case CFG_C_BD_QUALITY:
        return parse_bd_quality(c, v, p, obj);
    case CFG_C_MIN_SPAN:
        return parse_min_span(c, v, p, obj);
    }
    return cfg_loc_err(c->err, FR_E_CONFIG, kloc, p, "no reader for this key");
}

/* ------------------------------------------------------------------ */
/* The schema walk. */


static void *field_at(const FrField *f, void *obj)
{
    return (char *)obj + f->offset;
}

/* One key of a section from its YAML value: the type's reader (the range
 * is the schema's), then the field's own rule. */
static int parse_field(CfgCx *c, const FrField *f, void *obj, const Node *v, const char *p,
                       FrSrcLoc kloc)
{
    int rc = 0, x = 0;
    long long ll;
    const char *const *names = fr_schema_names(f);
    int empty_ok = (f->flags & FR_FIELD_EMPTY_OK) != 0;
    switch (f->type) {
    case FR_FIELD_INT:
        if (f->allowed) {
            char w[300];
            fr_schema_describe(f, w, sizeof w);
            if (cfg_parse_ll(v, &ll) || !fr_schema_accepts_int(f, ll))
                return cfg_expected(c, v, p, f->what ? f->what : w);
            *(int *)field_at(f, obj) = (int)ll;
        } else {
            rc = cfg_get_int(c, v, p, f->lo, f->hi, field_at(f, obj));
        }
        break;
    case FR_FIELD_BOOL:
        rc = cfg_get_bool(c, v, p, field_at(f, obj));
        break;
    case FR_FIELD_I64:
        if (!(rc = cfg_get_int(c, v, p, f->lo, f->hi, &x)))
            *(long long *)field_at(f, obj) = x;
        break;
    case FR_FIELD_U64:
        if (f->hi <= 0)
            rc = cfg_get_u64(c, v, p, field_at(f, obj));
        else if (!(rc = cfg_get_int(c, v, p, f->lo, f->hi, &x)))
            *(uint64_t *)field_at(f, obj) = (uint64_t)x;
        break;
    case FR_FIELD_DOUBLE:
        rc = cfg_get_double(c, v, p, f->dlo, f->dhi, (f->flags & FR_FIELD_LO_OPEN) != 0,
                            field_at(f, obj));
        break;
    case FR_FIELD_STRING:
        rc = cfg_get_str(c, v, p, (f->flags & FR_FIELD_NULLABLE) != 0, field_at(f, obj));
        break;
    case FR_FIELD_ENUM:
        rc = cfg_get_enum(c, v, p, names, field_at(f, obj));
        break;
    case FR_FIELD_INTS:
        rc = cfg_get_int_list(c, v, p, f->lo, f->hi, f->allowed, f->what, empty_ok,
                              field_at(f, obj), (int *)((char *)obj + f->count_offset));
        break;
    case FR_FIELD_ENUMS:
        rc = cfg_get_enum_list(c, v, p, names, empty_ok, field_at(f, obj),
                               (int *)((char *)obj + f->count_offset));
        break;
    case FR_FIELD_STRINGS:
        if (fr_schema_all_at(f, obj) && v->type == N_SCALAR && v->plain && !strcmp(v->s, "all")) {
            fr_schema_strings_clear(f, obj);
            *fr_schema_all_at(f, obj) = 1;
            break;
        }
        rc = cfg_get_str_list(c, v, p, names, f->what, empty_ok, field_at(f, obj),
                              (int *)((char *)obj + f->count_offset));
        if (fr_schema_all_at(f, obj))
            *fr_schema_all_at(f, obj) = 0;
        break;
    case FR_FIELD_SECTION:
        rc = parse_section(c, v, p, f->sub, field_at(f, obj));
        break;
    case FR_FIELD_CUSTOM:
        rc = parse_custom(c, f, obj, v, p, kloc);
        break;
    case FR_FIELD_CHOICE:
        rc = cfg_loc_err(c->err, FR_E_CONFIG, v->loc, p, "no reader for this key");
        break;
    }
    const char *what;
    if (!rc && f->accept && (what = f->accept(f, obj)))
        rc = cfg_expected(c, v, p, what);
    return rc;
}

/* A section's map: known keys only, then each key in the order written. */
static int parse_section(CfgCx *c, const Node *m, const char *path, const FrSchema *s, void *obj)
{
    const char *keys[64];
    cfg_schema_keys(s, keys, 64);
    int rc = cfg_check_map(c, m, path, keys);
    for (int i = 0; !rc && i < m->n; i++) {
        char p[300];
        cfg_join(p, sizeof p, path, m->keys[i]);
        if (!(rc = cfg_rec(c, p, m->kids[i]->loc)))
            rc = parse_field(c, fr_schema_field(s, m->keys[i]), obj, m->kids[i], p, m->kloc[i]);
    }
    return rc;
}

/* A section another kind owns (featrd/experiments.h: the kinds registry). */
static int section_kind_err(CfgCx *c, FrSrcLoc kloc, const char *key)
{
    const FrKindInfo *owner = fr_kind_of_section(key);
    if (!owner || fr_kind_reads_section(fr_kind_info(c->e->kind), key))
        return 0;
    char kinds[128] = "";
    for (int i = 0; i < fr_kind_count(); i++) {
        const FrKindInfo *k = fr_kind_info((FrExperimentKind)i);
        if (!fr_kind_reads_section(k, key))
            continue;
        size_t l = strlen(kinds);
        snprintf(kinds + l, sizeof kinds - l, "%s%s", l ? " or " : "", k->name);
    }
    return cfg_loc_err(c->err, FR_E_CONFIG, kloc, key,
                   "only used with kind: %s (this experiment is kind: %s); remove it or set kind",
                   kinds, KIND_NAMES[c->e->kind]);
}

int cfg_parse_top(CfgCx *c, const Node *root, int *name_set, int *dir_set)
{
    FrExperiment *e = c->e;
    const FrSchema *s = fr_experiment_schema();
    const char *keys[64 + CFG_MAX_KINDS];
    cfg_schema_keys(s, keys, 64);
    int nk = 0;
    while (keys[nk])
        nk++;
    for (int k = 0; k < fr_kind_count() && k < CFG_MAX_KINDS; k++) /* the kinds' own sections */
        if (cfg_kind_section((FrExperimentKind)k))
            keys[nk++] = cfg_kind_section((FrExperimentKind)k)->key;
    keys[nk] = NULL;
    int rc = cfg_check_map(c, root, "", keys);
    if (rc)
        return rc;
    /* the kind first: it decides which sections may follow */
    int ki = cfg_map_find(root, "kind");
    if (ki >= 0) {
        int t = 0;
        if ((rc = cfg_rec(c, "kind", root->kids[ki]->loc)) ||
            (rc = cfg_get_enum(c, root->kids[ki], "kind", KIND_NAMES, &t)))
            return rc;
        e->kind = (FrExperimentKind)t;
    }
    for (int i = 0; !rc && i < root->n; i++) {
        const char *k = root->keys[i];
        const Node *v = root->kids[i];
        if ((rc = cfg_rec(c, k, v->loc)) || (rc = section_kind_err(c, root->kloc[i], k)))
            break;
        const FrField *ks = cfg_kind_section(e->kind);
        if (ks && !strcmp(k, ks->key)) /* the kind's own section */
            rc = parse_section(c, v, k, ks->sub, e->priv->kind_settings[e->kind]);
        else
            rc = parse_field(c, fr_schema_field(s, k), e, v, k, root->kloc[i]);
    }
    *name_set = fr_experiment_loc(e, "name") != NULL;
    *dir_set = fr_experiment_loc(e, "output.dir") != NULL;
    return rc;
}
