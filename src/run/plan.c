/* plan.c: the sweep expanded into points (fr_plan_build): curve names,
 * descriptions and ids, duplicate points refused, bd[] names checked
 * against the plan. */
#define _GNU_SOURCE
#include <fnmatch.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "featrd.h"
#include "run/points_internal.h"
#include "alloc/alloc.h"
#include "codec/codec.h"
#include "config/config.h"
#include "run/run.h"

/* ---------------- the plan ---------------- */

struct FrPlanPriv {
    char **strs;
    size_t n, cap;
};

static const char *plan_str(FrPlan *p, const char *fmt, ...)
{
    struct FrPlanPriv *pr = p->priv;
    if (pr->n == pr->cap) {
        size_t cap = pr->cap ? pr->cap * 2 : 64;
        char **nw = realloc(pr->strs, cap * sizeof *nw);
        if (!nw)
            return NULL;
        pr->strs = nw;
        pr->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (s)
        pr->strs[pr->n++] = s;
    return s;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static FrPoint *plan_add(FrPlan *p, int *cap)
{
    if (p->n == *cap) {
        int nc = *cap ? *cap * 2 : 64;
        FrPoint *nw = realloc(p->points, (size_t)nc * sizeof *nw);
        if (!nw)
            return NULL;
        p->points = nw;
        *cap = nc;
    }
    FrPoint *pt = &p->points[p->n];
    memset(pt, 0, sizeof *pt);
    pt->ordinal = p->n++;
    pt->split = "";
    pt->split_index = -1;
    pt->codec_entry = -1;
    pt->qp = -1;
    pt->quality = -1;
    pt->anchor = -1;
    pt->weights = -1;
    return pt;
}

static void plan_id(FrPoint *pt)
{
    snprintf(pt->id, sizeof pt->id, "p%04d-%08x", pt->ordinal,
             (unsigned)(fnv1a(pt->desc) & 0xffffffffu));
}

static int cmp_desc(const void *a, const void *b)
{
    const FrPoint *const *x = a, *const *y = b;
    int c = strcmp((*x)->desc, (*y)->desc);
    return c ? c : (*x)->ordinal - (*y)->ordinal;
}

/* Two points with one description would be one curve, id and BD row for
 * two settings (or the same work twice): refused, naming both entries. */
static int plan_unique(const FrExperiment *e, FrPlan *plan, FrError *err)
{
    const FrPoint **v = malloc((size_t)(plan->n ? plan->n : 1) * sizeof *v);
    if (!v) {
        fr_plan_free(plan);
        return fr_error(err, FR_E_NOMEM, "out of memory expanding the sweep");
    }
    for (int i = 0; i < plan->n; i++)
        v[i] = &plan->points[i];
    qsort(v, (size_t)plan->n, sizeof *v, cmp_desc);
    int rc = 0;
    for (int i = 1; i < plan->n && !rc; i++)
        if (!strcmp(v[i - 1]->desc, v[i]->desc)) {
            const FrPoint *a = v[i - 1], *b = v[i];
            char key[64];
            if (a->codec_entry >= 0)
                snprintf(key, sizeof key, "sweep.codec[%d]", b->codec_entry);
            else
                snprintf(key, sizeof key, "anchors[%d]", b->anchor);
            rc = fr_experiment_error(e, err, FR_E_CONFIG, key,
                                     "point '%s' twice (%s%d] and this entry give the same "
                                     "settings): remove one or change a setting",
                                     b->desc, a->codec_entry >= 0 ? "sweep.codec[" : "anchors[",
                                     a->codec_entry >= 0 ? a->codec_entry : a->anchor);
        }
    free(v);
    if (rc)
        fr_plan_free(plan);
    return rc;
}

/* Curve names follow the convention proposed in featrd/config.h (the runner
 * agrees: every axis written, fixed order, the rate axis - QP or QP_base -
 * left out), so bd[] entries and globs written against it match points.csv. */
int fr_plan_build(const FrExperiment *e, FrPlan *plan, FrError *err)
{
    if (e->sweep.n_split < 1) {
        memset(plan, 0, sizeof *plan);
        return fr_experiment_error(e, err, FR_E_CONFIG, "sweep.split",
                                   "an rd experiment needs at least one split");
    }
    return fr_plan_build_splits(e, (const char *const *)e->sweep.split, e->sweep.n_split, 1,
                                plan, err);
}

int fr_plan_build_splits(const FrExperiment *e, const char *const *splits, int n_split,
                         int reference, FrPlan *plan, FrError *err)
{
    memset(plan, 0, sizeof *plan);
    plan->priv = calloc(1, sizeof *plan->priv);
    if (!plan->priv)
        return fr_error(err, FR_E_NOMEM, "out of memory");
    const FrSweepSpec *sw = &e->sweep;
    int cap = 0;
    FrPoint *pt = NULL;
    if (reference) {
        if (!(pt = plan_add(plan, &cap)))
            goto oom;
        pt->kind = FR_POINT_REFERENCE;
        pt->curve = "reference";
        pt->desc = "reference";
        pt->codec = "none";
        plan_id(pt);
    }
    const char *range = fr_range_name(sw->range);
    int nw = sw->n_weights ? sw->n_weights : 1;
    for (int wi = 0; wi < nw; wi++)
    for (int s = 0; s < n_split; s++)
        for (int b = 0; b < sw->n_bits; b++)
            for (int k = 0; k < sw->n_packing; k++)
                for (int c = 0; c < sw->n_codec; c++) {
                    const FrCodecSpec *cs = &sw->codec[c];
                    int lossy = (cs->codec->caps & FR_CODEC_LOSSY) != 0;
                    char clabel[400]; /* the codec and every setting off its default */
                    fr_codec_label(cs->codec, cs->settings, clabel, sizeof clabel);
                    int here = cs->n_split == 0; /* the entry's own split restriction */
                    for (int k2 = 0; k2 < cs->n_split && !here; k2++)
                        here = !strcmp(cs->split[k2], splits[s]);
                    if (!here)
                        continue;
                    for (int a = 0; a < sw->n_allocation; a++) {
                        int alloc = sw->allocation[a];
                        const FrAllocInfo *ai = fr_alloc_info((FrAllocation)alloc);
                        if (!lossy && ai->per_channel)
                            continue; /* nothing to allocate without a QP */
                        /* a weights axis names the file (no dir, no .weights) */
                        char wname[256] = "";
                        if (sw->n_weights) {
                            const char *wb = strrchr(sw->weights[wi], '/');
                            snprintf(wname, sizeof wname, ",weights=%s", wb ? wb + 1 : sw->weights[wi]);
                            char *dot = strstr(wname, ".weights");
                            if (dot && !dot[8])
                                *dot = 0;
                        }
                        const char *curve = plan_str(
                            plan, "split=%s,bits=%d,range=%s,packing=%s,codec=%s,alloc=%s%s",
                            splits[s], sw->bits[b], range, fr_packing_name(sw->packing[k]),
                            clabel, fr_allocation_name(alloc), wname);
                        if (!curve)
                            goto oom;
                        const int *qps = ai->rate_from_base ? sw->qp_base : cs->qp;
                        int nq = lossy ? (ai->rate_from_base ? sw->n_qp_base : cs->n_qp) : 1;
                        for (int q = 0; q < nq; q++) {
                            if (!(pt = plan_add(plan, &cap)))
                                goto oom;
                            pt->kind = FR_POINT_FEATURE;
                            pt->curve = curve;
                            pt->split = plan_str(plan, "%s", splits[s]);
                            if (!pt->split)
                                goto oom;
                            pt->split_index = s;
                            pt->bits = sw->bits[b];
                            pt->packing = sw->packing[k];
                            pt->codec_entry = c;
                            pt->codec = cs->name;
                            pt->allocation = alloc;
                            pt->qp = lossy ? qps[q] : -1;
                            pt->weights = sw->n_weights ? wi : -1;
                            pt->desc = lossy ? plan_str(plan, "%s,qp=%d", curve, pt->qp) : curve;
                            if (!pt->desc)
                                goto oom;
                            plan_id(pt);
                        }
                    }
                }
    for (int a = 0; a < e->n_anchors; a++) {
        const FrAnchorSpec *as = &e->anchors[a];
        int jpeg = as->codec == FR_ANCHOR_JPEG;
        int nq = jpeg ? as->n_quality : as->n_qp;
        if (!jpeg) {
            /* the conversion to YCbCr and back alone, so its cost is seen */
            if (!(pt = plan_add(plan, &cap)))
                goto oom;
            pt->kind = FR_POINT_REFERENCE_YUV;
            pt->curve = plan_str(plan, "%s:reference-yuv", as->name);
            pt->desc = pt->curve;
            pt->codec = as->chroma == 400 ? "yuv-400" : "yuv-420";
            pt->anchor = a;
            if (!pt->curve)
                goto oom;
            plan_id(pt);
        }
        for (int q = 0; q < nq; q++) {
            if (!(pt = plan_add(plan, &cap)))
                goto oom;
            pt->kind = FR_POINT_ANCHOR;
            pt->curve = as->name;
            pt->codec = jpeg ? "jpeg" : as->chroma == 400 ? "hevc-400" : "hevc-420";
            pt->anchor = a;
            pt->bits = 0;
            if (jpeg)
                pt->quality = as->quality[q];
            else
                pt->qp = as->qp[q];
            pt->desc = plan_str(plan, "%s,%s=%d", as->name, jpeg ? "quality" : "qp",
                                jpeg ? pt->quality : pt->qp);
            if (!pt->desc)
                goto oom;
            plan_id(pt);
        }
    }
    return plan_unique(e, plan, err);
oom:
    fr_plan_free(plan);
    return fr_error(err, FR_E_NOMEM, "out of memory expanding the sweep");
}

/* bd entries name curves of this sweep: a typo is refused before the sweep
 * runs, not after it. */
int fr_plan_check_bd(const FrExperiment *e, const FrPlan *plan, FrError *err)
{
    for (int b = 0; b < e->n_bd; b++) {
        const FrBdSpec *s = &e->bd[b];
        int anchor = 0, test = 0;
        for (int i = 0; i < plan->n; i++) {
            const char *c = plan->points[i].curve;
            if (!c || !strcmp(c, "reference"))
                continue;
            anchor |= !strcmp(c, s->anchor);
            test |= strcmp(c, s->anchor) && (!strcmp(c, s->test) || !fnmatch(s->test, c, 0));
        }
        if (anchor && test)
            continue;
        char key[48], names[600] = "";
        snprintf(key, sizeof key, "bd[%d].%s", b, anchor ? "test" : "anchor");
        size_t k = 0;
        for (int i = 0; i < plan->n && k < sizeof names - 80; i++) {
            const char *c = plan->points[i].curve;
            if (!c || !strcmp(c, "reference") || (i > 0 && plan->points[i - 1].curve == c))
                continue;
            k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", k ? ", " : "", c);
        }
        return fr_experiment_error(e, err, FR_E_CONFIG, key,
                                   "'%s' %s no curve of this sweep; curves: %s", anchor ? s->test : s->anchor,
                                   anchor ? "matches" : "is", names);
    }
    return 0;
}

void fr_plan_free(FrPlan *plan)
{
    if (!plan)
        return;
    if (plan->priv) {
        for (size_t i = 0; i < plan->priv->n; i++)
            free(plan->priv->strs[i]);
        free(plan->priv->strs);
        free(plan->priv);
    }
    free(plan->points);
    memset(plan, 0, sizeof *plan);
}

