/* bd.c: Bjontegaard deltas (featrd/bd.h), the GSL adapter: the only file that
 * includes GSL headers. GSL's default error handler aborts the process, so it
 * is switched off and every GSL status is turned into an FrError.
 *
 * Both methods integrate an interpolant of one curve coordinate against the
 * other over the overlap of the two curves and average the difference:
 *   BD-rate:    x = quality, y = log10(rate); 100 (10^mean(y_test - y_anchor) - 1)
 *   BD-quality: x = log10(rate), y = quality; mean(y_test - y_anchor)
 * cubic (VCEG-M33): least-squares cubic in x over all points. The abscissa is
 * centred and scaled to [-1, 1] and the fit is solved by SVD
 * (gsl_multifit_linear): the normal equations of a raw Vandermonde matrix in
 * x ~ 0.9..1.0 (accuracies near saturation) or x ~ 3..5 (log rates) lose
 * most of their digits.
 * pchip: piecewise cubic Hermite with Fritsch–Carlson (MATLAB/SciPy pchip)
 * slopes, integrated exactly piece by piece — what the JCT-VC/JVET CTC Excel
 * sheets and the Python bjontegaard package compute (for strictly monotonic
 * data their end-slope rules coincide). */
#define _POSIX_C_SOURCE 200809L
#include "featrd.h"
#include "bd/bd.h"
#include "util/csv.h"
#include "util/version.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit.h>
#include <gsl/gsl_version.h>

/* Below this share of the smaller curve's range the delta is an
 * extrapolation in disguise; it is computed but flagged. */
#define SMALL_OVERLAP 0.5

int fr_bd_method_parse(const char *s, FrBdMethod *m, FrError *err)
{
    if (s && !strcmp(s, "pchip")) {
        *m = FR_BD_PCHIP;
        return 0;
    }
    if (s && !strcmp(s, "cubic")) {
        *m = FR_BD_CUBIC;
        return 0;
    }
    return fr_error(err, FR_E_USAGE, "unknown BD method '%s'; use pchip or cubic", s ? s : "(null)");
}

void fr_bd_curve_free(FrBdCurve *c)
{
    if (!c)
        return;
    free(c->rate);
    free(c->quality);
    free(c->line);
    free(c->q_lo);
    free(c->q_hi);
    free(c->rep_rate);
    free(c->rep_quality);
    memset(c, 0, sizeof *c);
}

/* ---------------- points ---------------- */

typedef struct Pt {
    double lr;      /* log10 rate */
    double r, q;
    int line;       /* CSV line or 0 */
    size_t idx;     /* input order, for a stable sort */
} Pt;

static int cmp_rate(const void *pa, const void *pb)
{
    const Pt *a = pa, *b = pb;
    if (a->r != b->r)
        return a->r < b->r ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static void pt_name(char *buf, size_t cap, const Pt *p)
{
    if (p->line > 0)
        snprintf(buf, cap, "line %d (rate %g, quality %g)", p->line, p->r, p->q);
    else
        snprintf(buf, cap, "point %zu (rate %g, quality %g)", p->idx + 1, p->r, p->q);
}

/* Copies a curve into points sorted by rate; checks values. */
static int load(const FrBdCurve *c, const char *role, const char *what, Pt **out, FrError *err)
{
    *out = NULL;
    if (!c || c->n == 0 || !c->rate || !c->quality)
        return fr_error(err, FR_E_USAGE, "%s: the %s curve has no points", what, role);
    Pt *p = malloc(c->n * sizeof *p);
    if (!p)
        return fr_error(err, FR_E_NOMEM, "%s: out of memory", what);
    for (size_t i = 0; i < c->n; i++) {
        p[i] = (Pt){0, c->rate[i], c->quality[i], c->line ? c->line[i] : 0, i};
        if (!(isfinite(p[i].r) && p[i].r > 0) || !isfinite(p[i].q)) {
            char nm[160];
            pt_name(nm, sizeof nm, &p[i]);
            free(p);
            return fr_error(err, FR_E_USAGE,
                            "%s: %s curve, %s: rates must be finite and > 0 and qualities finite",
                            what, role, nm);
        }
        p[i].lr = log10(p[i].r);
    }
    qsort(p, c->n, sizeof *p, cmp_rate);
    *out = p;
    return 0;
}

/* pchip needs quality strictly monotonic in rate; returns +1 or -1 in *dir. */
static int check_monotone(const Pt *p, size_t n, const char *role, const char *what, int *dir,
                          FrError *err)
{
    if (n < 2)
        return fr_error(err, FR_E_USAGE, "%s: the %s curve has %zu point; pchip needs at least 2",
                        what, role, n);
    int d = p[n - 1].q > p[0].q ? 1 : -1;
    for (size_t i = 0; i + 1 < n; i++) {
        int bad = p[i + 1].r == p[i].r || (d > 0 ? !(p[i + 1].q > p[i].q) : !(p[i + 1].q < p[i].q));
        if (bad) {
            char a[160], b[160];
            pt_name(a, sizeof a, &p[i]);
            pt_name(b, sizeof b, &p[i + 1]);
            return fr_error(err, FR_E_USAGE,
                            "%s: the %s curve is not monotonic: %s and %s break it (pchip needs "
                            "distinct rates and quality strictly %s with rate); fix or drop one "
                            "of them, or use --method cubic",
                            what, role, a, b, d > 0 ? "increasing" : "decreasing");
        }
    }
    *dir = d;
    return 0;
}

/* ---------------- interpolants ---------------- */

typedef struct Model {
    FrBdMethod m;
    size_t n;
    double *x, *y, *d;      /* pchip: knots (increasing), values, slopes */
    double c[4], mid, half; /* cubic: y = sum c_j u^j, u = (x - mid) / half */
    double xmin, xmax;
} Model;

static void model_free(Model *md)
{
    free(md->x);
    free(md->y);
    free(md->d);
    memset(md, 0, sizeof *md);
}

static double sgn(double v) { return (v > 0) - (v < 0); }

static void pchip_slopes(const double *x, const double *y, double *d, size_t n)
{
    if (n == 2) {
        d[0] = d[1] = (y[1] - y[0]) / (x[1] - x[0]);
        return;
    }
    for (size_t k = 1; k + 1 < n; k++) {
        double h0 = x[k] - x[k - 1], h1 = x[k + 1] - x[k];
        double s0 = (y[k] - y[k - 1]) / h0, s1 = (y[k + 1] - y[k]) / h1;
        if (s0 * s1 <= 0) {
            d[k] = 0;
        } else {
            double w1 = 2 * h1 + h0, w2 = h1 + 2 * h0;
            d[k] = (w1 + w2) / (w1 / s0 + w2 / s1);
        }
    }
    for (int end = 0; end < 2; end++) {
        /* one-sided three-point estimate, kept shape-preserving */
        size_t a = end ? n - 1 : 0, b = end ? n - 2 : 1, c = end ? n - 3 : 2;
        double h0 = fabs(x[b] - x[a]), h1 = fabs(x[c] - x[b]);
        double s0 = (y[b] - y[a]) / (x[b] - x[a]), s1 = (y[c] - y[b]) / (x[c] - x[b]);
        double v = ((2 * h0 + h1) * s0 - h0 * s1) / (h0 + h1);
        if (sgn(v) != sgn(s0))
            v = 0;
        else if (sgn(s0) != sgn(s1) && fabs(v) > fabs(3 * s0))
            v = 3 * s0;
        d[a] = v;
    }
}

/* x must be strictly increasing for pchip (callers sort and check). */
static int model_fit(Model *md, FrBdMethod m, const double *x, const double *y, size_t n,
                     const char *role, const char *axis, const char *what, FrError *err)
{
    memset(md, 0, sizeof *md);
    md->m = m;
    md->n = n;
    md->xmin = x[0];
    md->xmax = x[0];
    for (size_t i = 1; i < n; i++) {
        md->xmin = fmin(md->xmin, x[i]);
        md->xmax = fmax(md->xmax, x[i]);
    }
    if (m == FR_BD_PCHIP) {
        md->x = malloc(n * sizeof *md->x);
        md->y = malloc(n * sizeof *md->y);
        md->d = malloc(n * sizeof *md->d);
        if (!md->x || !md->y || !md->d) {
            model_free(md);
            return fr_error(err, FR_E_NOMEM, "%s: out of memory", what);
        }
        memcpy(md->x, x, n * sizeof *x);
        memcpy(md->y, y, n * sizeof *y);
        pchip_slopes(x, y, md->d, n);
        return 0;
    }
    /* cubic: at least 4 distinct abscissae, else the fit is not unique */
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = x[j] == x[i];
        distinct += !seen;
    }
    if (distinct < 4)
        return fr_error(err, FR_E_USAGE,
                        "%s: the %s curve has %zu distinct %s value%s; the cubic method needs at "
                        "least 4 points (use --method pchip for fewer)",
                        what, role, distinct, axis, distinct == 1 ? "" : "s");
    md->mid = 0.5 * (md->xmin + md->xmax);
    md->half = 0.5 * (md->xmax - md->xmin);
    gsl_set_error_handler_off();
    gsl_matrix *X = gsl_matrix_alloc(n, 4);
    gsl_vector *Y = gsl_vector_alloc(n), *c = gsl_vector_alloc(4);
    gsl_matrix *cov = gsl_matrix_alloc(4, 4);
    gsl_multifit_linear_workspace *ws = gsl_multifit_linear_alloc(n, 4);
    int rc = 0;
    if (!X || !Y || !c || !cov || !ws) {
        rc = fr_error(err, FR_E_NOMEM, "%s: out of memory (GSL)", what);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        double u = (x[i] - md->mid) / md->half, p = 1;
        for (int j = 0; j < 4; j++, p *= u)
            gsl_matrix_set(X, i, (size_t)j, p);
        gsl_vector_set(Y, i, y[i]);
    }
    double chisq;
    size_t rank;
    /* tol 1e-12 drops only numerically null singular values */
    int st = gsl_multifit_linear_tsvd(X, Y, 1e-12, c, cov, &chisq, &rank, ws);
    if (st != GSL_SUCCESS || rank < 4) {
        rc = fr_error(err, FR_E_USAGE, "%s: the cubic fit of the %s curve failed (%s, rank %zu of 4); "
                      "check its points",
                      what, role, st != GSL_SUCCESS ? gsl_strerror(st) : "rank deficient", rank);
        goto done;
    }
    for (int j = 0; j < 4; j++)
        md->c[j] = gsl_vector_get(c, (size_t)j);
done:
    gsl_multifit_linear_free(ws);
    gsl_matrix_free(X);
    gsl_matrix_free(cov);
    gsl_vector_free(Y);
    gsl_vector_free(c);
    return rc;
}

/* Exact integral of the interpolant over [lo, hi] (within the knots). */
static double model_integral(const Model *md, double lo, double hi)
{
    if (md->m == FR_BD_CUBIC) {
        double u0 = (lo - md->mid) / md->half, u1 = (hi - md->mid) / md->half;
        double s = 0, p0 = u0, p1 = u1;
        for (int j = 0; j < 4; j++, p0 *= u0, p1 *= u1)
            s += md->c[j] * (p1 - p0) / (j + 1);
        return s * md->half;
    }
    double s = 0;
    for (size_t k = 0; k + 1 < md->n; k++) {
        double a = fmax(md->x[k], lo), b = fmin(md->x[k + 1], hi);
        if (b <= a)
            continue;
        double h = md->x[k + 1] - md->x[k];
        double del = (md->y[k + 1] - md->y[k]) / h;
        double c2 = (3 * del - 2 * md->d[k] - md->d[k + 1]) / h;
        double c3 = (md->d[k] - 2 * del + md->d[k + 1]) / (h * h);
        double s0 = a - md->x[k], s1 = b - md->x[k];
        s += md->y[k] * (s1 - s0) + md->d[k] * (s1 * s1 - s0 * s0) / 2 +
             c2 * (s1 * s1 * s1 - s0 * s0 * s0) / 3 +
             c3 * (s1 * s1 * s1 * s1 - s0 * s0 * s0 * s0) / 4;
    }
    return s;
}

/* ---------------- the deltas ---------------- */

typedef struct Axis {
    double *x, *y; /* sorted by x for pchip */
} Axis;

static int cmp_dbl_pair(const void *pa, const void *pb)
{
    const double *a = pa, *b = pb;
    return (a[0] > b[0]) - (a[0] < b[0]);
}

/* Builds (x, y) arrays from points: quality_x selects x = quality (BD-rate)
 * or x = log10 rate (BD-quality); sorted by x. */
static int axes(const Pt *p, size_t n, int quality_x, double **x, double **y)
{
    double *pairs = malloc(2 * n * sizeof *pairs);
    *x = malloc(n * sizeof **x);
    *y = malloc(n * sizeof **y);
    if (!pairs || !*x || !*y) {
        free(pairs);
        free(*x);
        free(*y);
        *x = *y = NULL;
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        pairs[2 * i] = quality_x ? p[i].q : p[i].lr;
        pairs[2 * i + 1] = quality_x ? p[i].lr : p[i].q;
    }
    qsort(pairs, n, 2 * sizeof *pairs, cmp_dbl_pair);
    for (size_t i = 0; i < n; i++) {
        (*x)[i] = pairs[2 * i];
        (*y)[i] = pairs[2 * i + 1];
    }
    free(pairs);
    return 0;
}

static void add_warning(char *warning, size_t cap, const char *text)
{
    if (!warning || !cap)
        return;
    size_t len = strlen(warning);
    if (len + 2 < cap)
        snprintf(warning + len, cap - len, "%s%s", len ? "; " : "", text);
}

/* quality_x = 1: BD-rate, 0: BD-quality. */
static int delta(const FrBdCurve *anchor, const FrBdCurve *test, FrBdMethod m, const char *what,
                 int quality_x, double *out, double *overlap, char *warning, size_t warn_cap,
                 FrError *err)
{
    char defwhat[] = "BD";
    if (!what)
        what = defwhat;
    if (m != FR_BD_PCHIP && m != FR_BD_CUBIC)
        return fr_error(err, FR_E_USAGE, "%s: unknown BD method %d", what, (int)m);
    Pt *pa = NULL, *pt = NULL;
    double *xa = NULL, *ya = NULL, *xt = NULL, *yt = NULL;
    Model ma = {0}, mt = {0};
    int rc = load(anchor, "anchor", what, &pa, err);
    if (!rc)
        rc = load(test, "test", what, &pt, err);
    if (rc)
        goto done;
    if (m == FR_BD_PCHIP) {
        int da, dt;
        if ((rc = check_monotone(pa, anchor->n, "anchor", what, &da, err)) ||
            (rc = check_monotone(pt, test->n, "test", what, &dt, err)))
            goto done;
        if (da != dt) {
            rc = fr_error(err, FR_E_USAGE,
                          "%s: quality %s with rate on the anchor curve but %s on the test curve; "
                          "the curves must measure the same quality",
                          what, da > 0 ? "increases" : "decreases", dt > 0 ? "increases" : "decreases");
            goto done;
        }
    }
    if (axes(pa, anchor->n, quality_x, &xa, &ya) || axes(pt, test->n, quality_x, &xt, &yt)) {
        rc = fr_error(err, FR_E_NOMEM, "%s: out of memory", what);
        goto done;
    }
    const char *axis = quality_x ? "quality" : "rate";
    if ((rc = model_fit(&ma, m, xa, ya, anchor->n, "anchor", axis, what, err)) ||
        (rc = model_fit(&mt, m, xt, yt, test->n, "test", axis, what, err)))
        goto done;
    double lo = fmax(ma.xmin, mt.xmin), hi = fmin(ma.xmax, mt.xmax);
    if (!(hi > lo)) {
        if (quality_x)
            rc = fr_error(err, FR_E_USAGE,
                          "%s: the quality ranges do not overlap (anchor %g..%g, test %g..%g), so "
                          "BD-rate is undefined; add points so both curves reach common qualities",
                          what, ma.xmin, ma.xmax, mt.xmin, mt.xmax);
        else
            rc = fr_error(err, FR_E_USAGE,
                          "%s: the rate ranges do not overlap (anchor %g..%g, test %g..%g), so "
                          "BD-quality is undefined; add points so both curves cover common rates",
                          what, pow(10, ma.xmin), pow(10, ma.xmax), pow(10, mt.xmin), pow(10, mt.xmax));
        goto done;
    }
    double ov = (hi - lo) / fmin(ma.xmax - ma.xmin, mt.xmax - mt.xmin);
    if (overlap)
        *overlap = ov;
    if (ov < SMALL_OVERLAP) {
        char w[256];
        snprintf(w, sizeof w, "%s: the curves overlap on only %.0f%% of the smaller %s range; "
                 "BD-%s rests on little common ground",
                 what, 100 * ov, axis, quality_x ? "rate" : "quality");
        add_warning(warning, warn_cap, w);
    }
    double mean = (model_integral(&mt, lo, hi) - model_integral(&ma, lo, hi)) / (hi - lo);
    *out = quality_x ? (pow(10.0, mean) - 1.0) * 100.0 : mean;
    if (!isfinite(*out))
        rc = fr_error(err, FR_E_USAGE, "%s: BD-%s is not finite; check the curves", what,
                      quality_x ? "rate" : "quality");
done:
    model_free(&ma);
    model_free(&mt);
    free(pa);
    free(pt);
    free(xa);
    free(ya);
    free(xt);
    free(yt);
    return rc;
}

int fr_bd_rate(const FrBdCurve *anchor, const FrBdCurve *test, FrBdMethod m, double *pct,
               char *warning, size_t warn_cap, FrError *err)
{
    if (warning && warn_cap)
        warning[0] = 0;
    return delta(anchor, test, m, NULL, 1, pct, NULL, warning, warn_cap, err);
}

int fr_bd_quality(const FrBdCurve *anchor, const FrBdCurve *test, FrBdMethod m, double *dq,
                  char *warning, size_t warn_cap, FrError *err)
{
    if (warning && warn_cap)
        warning[0] = 0;
    return delta(anchor, test, m, NULL, 0, dq, NULL, warning, warn_cap, err);
}

int fr_bd(const FrBdCurve *anchor, const FrBdCurve *test, FrBdMethod m, const char *what,
          FrBdResult *res, FrError *err)
{
    memset(res, 0, sizeof *res);
    res->rate_pct = res->quality = NAN;
    int rc = delta(anchor, test, m, what, 1, &res->rate_pct, &res->quality_overlap, res->warning,
                   sizeof res->warning, err);
    if (rc)
        return rc;
    return delta(anchor, test, m, what, 0, &res->quality, &res->rate_overlap, res->warning,
                 sizeof res->warning, err);
}

/* ---------------- curves from CSV ---------------- */

int fr_bd_curve_from_csv(const FrCsv *csv, const char *curve_col, const char *name,
                         const char *rate_col, const char *quality_col, FrBdCurve *c, FrError *err)
{
    memset(c, 0, sizeof *c);
    int cc = fr_csv_require_col(csv, curve_col, err);
    if (cc < 0)
        return cc;
    int rcol = fr_csv_require_col(csv, rate_col, err);
    if (rcol < 0)
        return rcol;
    int qcol = fr_csv_require_col(csv, quality_col, err);
    if (qcol < 0)
        return qcol;
    size_t rows = fr_csv_nrows(csv), n = 0;
    for (size_t i = 0; i < rows; i++)
        n += !strcmp(fr_csv_get(csv, i, cc), name);
    if (n == 0) {
        char names[512] = "";
        size_t len = 0;
        int shown = 0;
        for (size_t i = 0; i < rows && len + 1 < sizeof names; i++) {
            const char *v = fr_csv_get(csv, i, cc);
            int seen = 0;
            for (size_t j = 0; j < i && !seen; j++)
                seen = !strcmp(fr_csv_get(csv, j, cc), v);
            if (seen)
                continue;
            if (shown == 12) {
                len += (size_t)snprintf(names + len, sizeof names - len, ", ...");
                break;
            }
            len += (size_t)snprintf(names + len, sizeof names - len, "%s'%s'", shown ? ", " : "", v);
            shown++;
        }
        return fr_error(err, FR_E_FORMAT, "%s: no row has %s '%s' (curves in the file: %s)",
                        fr_csv_name(csv), curve_col, name, shown ? names : "none");
    }
    c->rate = malloc(n * sizeof *c->rate);
    c->quality = malloc(n * sizeof *c->quality);
    c->line = malloc(n * sizeof *c->line);
    if (!c->rate || !c->quality || !c->line) {
        fr_bd_curve_free(c);
        return fr_error(err, FR_E_NOMEM, "%s: out of memory", fr_csv_name(csv));
    }
    for (size_t i = 0; i < rows; i++) {
        if (strcmp(fr_csv_get(csv, i, cc), name))
            continue;
        double r, q;
        int rc = fr_csv_get_double(csv, i, rcol, &r, err);
        if (!rc)
            rc = fr_csv_get_double(csv, i, qcol, &q, err);
        if (!rc && !(r > 0))
            rc = fr_error(err, FR_E_FORMAT, "%s:%d: column '%s': rate %g must be > 0 (BD uses its logarithm)",
                          fr_csv_name(csv), fr_csv_line(csv, i), rate_col, r);
        if (rc) {
            fr_bd_curve_free(c);
            return rc;
        }
        c->rate[c->n] = r;
        c->quality[c->n] = q;
        c->line[c->n] = fr_csv_line(csv, i);
        c->n++;
    }
    return 0;
}

/* ---------------- monotone curves, verdicts, bootstrap ---------------- */

void fr_bd_options_defaults(FrBdOptions *o)
{
    o->method = FR_BD_PCHIP;
    o->monotone = 1;
    o->min_points = 4;
    o->min_overlap = SMALL_OVERLAP;
    o->max_disagree_pp = 1.0;
    o->min_span = -1;
    o->level = 0.95;
}

int fr_bd_direction(const FrBdCurve *c)
{
    size_t lo = 0, hi = 0;
    for (size_t i = 1; i < c->n; i++) {
        if (c->rate[i] < c->rate[lo])
            lo = i;
        if (c->rate[i] > c->rate[hi])
            hi = i;
    }
    return c->n && c->quality[hi] >= c->quality[lo] ? 1 : -1;
}

static int cmp_dbl(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

void fr_ci_percentile(const double *v, size_t n, double level, double *lo, double *hi)
{
    *lo = *hi = NAN;
    double *s = malloc((n ? n : 1) * sizeof *s);
    if (!s)
        return;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            s[m++] = v[i];
    if (m) {
        qsort(s, m, sizeof *s, cmp_dbl);
        double q[2] = {(1 - level) / 2, (1 + level) / 2}, *out[2] = {lo, hi};
        for (int k = 0; k < 2; k++) {
            double h = (double)(m - 1) * q[k];
            size_t f = (size_t)floor(h), c = f + 1 < m ? f + 1 : f;
            *out[k] = s[f] + (h - (double)f) * (s[c] - s[f]);
        }
    }
    free(s);
}

/* Rate order of a curve's points (stable). */
static size_t *rate_order(const FrBdCurve *c)
{
    Pt *p = malloc((c->n ? c->n : 1) * sizeof *p);
    size_t *ord = malloc((c->n ? c->n : 1) * sizeof *ord);
    if (!p || !ord) {
        free(p);
        free(ord);
        return NULL;
    }
    for (size_t i = 0; i < c->n; i++)
        p[i] = (Pt){0, c->rate[i], c->quality[i], 0, i};
    qsort(p, c->n, sizeof *p, cmp_rate);
    for (size_t i = 0; i < c->n; i++)
        ord[i] = p[i].idx;
    free(p);
    return ord;
}

int fr_bd_envelope(const FrBdCurve *in, int dir, FrBdCurve *out, size_t *dropped, FrError *err)
{
    memset(out, 0, sizeof *out);
    size_t n = in->n, *ord = rate_order(in);
    size_t *keep = malloc((n ? n : 1) * sizeof *keep);
    if (!ord || !keep) {
        free(ord);
        free(keep);
        return fr_error(err, FR_E_NOMEM, "BD: out of memory");
    }
    /* Up by rate with a running best: each group of equal rates offers its
     * best quality, kept only if it beats every lower rate's. */
    size_t m = 0;
    double best = -INFINITY;
    for (size_t k = 0; k < n;) {
        size_t g = k, pick = n;
        for (; g < n && in->rate[ord[g]] == in->rate[ord[k]]; g++) {
            size_t i = ord[g];
            if (isfinite(in->quality[i]) && in->rate[i] > 0 &&
                (pick == n || dir * in->quality[i] > dir * in->quality[pick]))
                pick = i;
        }
        if (pick != n && dir * in->quality[pick] > best) {
            keep[m++] = pick;
            best = dir * in->quality[pick];
        }
        k = g;
    }
    free(ord);
    out->n = m;
    int rc = 0;
    out->rate = malloc((m ? m : 1) * sizeof *out->rate);
    out->quality = malloc((m ? m : 1) * sizeof *out->quality);
    if (!out->rate || !out->quality)
        rc = FR_E_NOMEM;
    if (!rc && in->line && !(out->line = malloc((m ? m : 1) * sizeof *out->line)))
        rc = FR_E_NOMEM;
    if (!rc && in->q_lo && in->q_hi &&
        (!(out->q_lo = malloc((m ? m : 1) * sizeof *out->q_lo)) ||
         !(out->q_hi = malloc((m ? m : 1) * sizeof *out->q_hi))))
        rc = FR_E_NOMEM;
    if (!rc && in->nrep > 0 && in->rep_rate && in->rep_quality) {
        size_t r = (size_t)in->nrep;
        out->nrep = in->nrep;
        if (!(out->rep_rate = malloc((m ? m : 1) * r * sizeof *out->rep_rate)) ||
            !(out->rep_quality = malloc((m ? m : 1) * r * sizeof *out->rep_quality)))
            rc = FR_E_NOMEM;
    }
    if (rc) {
        free(keep);
        fr_bd_curve_free(out);
        return fr_error(err, FR_E_NOMEM, "BD: out of memory");
    }
    for (size_t k = 0; k < m; k++) {
        size_t i = keep[k];
        out->rate[k] = in->rate[i];
        out->quality[k] = in->quality[i];
        if (out->line)
            out->line[k] = in->line[i];
        if (out->q_lo) {
            out->q_lo[k] = in->q_lo[i];
            out->q_hi[k] = in->q_hi[i];
        }
        if (out->nrep) {
            size_t r = (size_t)in->nrep;
            memcpy(out->rep_rate + k * r, in->rep_rate + i * r, r * sizeof *out->rep_rate);
            memcpy(out->rep_quality + k * r, in->rep_quality + i * r, r * sizeof *out->rep_quality);
        }
    }
    free(keep);
    if (dropped)
        *dropped = n - m;
    return 0;
}

static void reason(FrBdReport *rep, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void reason(FrBdReport *rep, const char *fmt, ...)
{
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    add_warning(rep->reason, sizeof rep->reason, buf);
    rep->valid = 0;
}

static void qrange(const FrBdCurve *c, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t i = 0; i < c->n; i++) {
        *lo = fmin(*lo, c->quality[i]);
        *hi = fmax(*hi, c->quality[i]);
    }
}

static void lrange(const FrBdCurve *c, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t i = 0; i < c->n; i++) {
        *lo = fmin(*lo, log10(c->rate[i]));
        *hi = fmax(*hi, log10(c->rate[i]));
    }
}

static double overlap_of(double alo, double ahi, double tlo, double thi)
{
    double lo = fmax(alo, tlo), hi = fmin(ahi, thi), small = fmin(ahi - alo, thi - tlo);
    if (!(hi > lo))
        return 0;
    return small > 0 ? (hi - lo) / small : 0;
}

/* One replicate: curves made of replicate b of every point. */
static int replicate_curve(const FrBdCurve *c, int b, int dir, int monotone, FrBdCurve *out)
{
    FrBdCurve raw = {0};
    size_t r = (size_t)c->nrep;
    raw.rate = malloc((c->n ? c->n : 1) * sizeof *raw.rate);
    raw.quality = malloc((c->n ? c->n : 1) * sizeof *raw.quality);
    if (!raw.rate || !raw.quality) {
        fr_bd_curve_free(&raw);
        return FR_E_NOMEM;
    }
    for (size_t i = 0; i < c->n; i++) {
        double rr = c->rep_rate[i * r + (size_t)b], qq = c->rep_quality[i * r + (size_t)b];
        if (isfinite(rr) && rr > 0 && isfinite(qq)) {
            raw.rate[raw.n] = rr;
            raw.quality[raw.n] = qq;
            raw.n++;
        }
    }
    if (!monotone) {
        *out = raw;
        return 0;
    }
    int rc = fr_bd_envelope(&raw, dir, out, NULL, NULL);
    fr_bd_curve_free(&raw);
    return rc;
}

int fr_bd_report(const FrBdCurve *anchor, const FrBdCurve *test, const FrBdOptions *opt,
                 const char *what, FrBdReport *rep, FrError *err)
{
    FrBdOptions defo;
    if (!opt) {
        fr_bd_options_defaults(&defo);
        opt = &defo;
    }
    if (!what)
        what = "BD";
    memset(rep, 0, sizeof *rep);
    rep->valid = 1;
    rep->rate_pct = rep->quality = rep->pchip_rate_pct = rep->pchip_quality = NAN;
    rep->cubic_rate_pct = rep->cubic_quality = NAN;
    rep->rate_lo = rep->rate_hi = rep->quality_lo = rep->quality_hi = NAN;
    rep->quality_span = rep->span_threshold = NAN;
    if (!anchor || !anchor->n || !test || !test->n)
        return fr_error(err, FR_E_USAGE, "%s: the %s curve has no points", what,
                        !anchor || !anchor->n ? "anchor" : "test");
    rep->anchor_points = anchor->n;
    rep->test_points = test->n;
    int dir = fr_bd_direction(anchor);
    if (fr_bd_direction(test) != dir)
        reason(rep, "quality %s with rate on the anchor but %s on the test",
               dir > 0 ? "rises" : "falls", dir > 0 ? "falls" : "rises");
    FrBdCurve ea = {0}, et = {0};
    const FrBdCurve *a = anchor, *t = test;
    int rc = 0;
    if (opt->monotone) {
        size_t da = 0, dt = 0;
        if ((rc = fr_bd_envelope(anchor, dir, &ea, &da, err)) ||
            (rc = fr_bd_envelope(test, dir, &et, &dt, err)))
            goto done;
        a = &ea;
        t = &et;
        if (da)
            reason(rep, "anchor not monotone: %zu of %zu points dropped by the upper envelope", da,
                   anchor->n);
        if (dt)
            reason(rep, "test not monotone: %zu of %zu points dropped by the upper envelope", dt,
                   test->n);
    }
    rep->anchor_used = a->n;
    rep->test_used = t->n;
    if ((int)a->n < opt->min_points || (int)t->n < opt->min_points)
        reason(rep, "fewer than %d points (anchor %zu, test %zu)", opt->min_points, a->n, t->n);
    double aql, aqh, tql, tqh, alr, ahr, tlr, thr;
    qrange(a, &aql, &aqh);
    qrange(t, &tql, &tqh);
    lrange(a, &alr, &ahr);
    lrange(t, &tlr, &thr);
    rep->quality_overlap = overlap_of(aql, aqh, tql, tqh);
    rep->rate_overlap = overlap_of(alr, ahr, tlr, thr);
    if (rep->quality_overlap < opt->min_overlap)
        reason(rep, "quality ranges overlap on %.0f%% (< %.0f%%)", 100 * rep->quality_overlap,
               100 * opt->min_overlap);
    if (rep->rate_overlap < opt->min_overlap)
        reason(rep, "rate ranges overlap on %.0f%% (< %.0f%%)", 100 * rep->rate_overlap,
               100 * opt->min_overlap);
    /* saturation: how much quality the common interval spans vs the noise */
    rep->quality_span = fmax(0, fmin(aqh, tqh) - fmax(aql, tql));
    if (opt->min_span >= 0) {
        rep->span_threshold = opt->min_span;
    } else if (a->q_lo && a->q_hi && t->q_lo && t->q_hi) {
        size_t m = 0;
        double *hw = malloc((a->n + t->n) * sizeof *hw);
        if (!hw) {
            rc = fr_error(err, FR_E_NOMEM, "%s: out of memory", what);
            goto done;
        }
        for (size_t i = 0; i < a->n; i++)
            hw[m++] = (a->q_hi[i] - a->q_lo[i]) / 2;
        for (size_t i = 0; i < t->n; i++)
            hw[m++] = (t->q_hi[i] - t->q_lo[i]) / 2;
        double lo, hi;
        fr_ci_percentile(hw, m, 0, &lo, &hi); /* level 0: both are the median */
        free(hw);
        rep->span_threshold = isfinite(lo) ? 2 * lo : 0;
    } else {
        rep->span_threshold = 0.01 * fmax(fmax(fabs(aql), fabs(aqh)), fmax(fabs(tql), fabs(tqh)));
    }
    if (rep->quality_span < rep->span_threshold)
        reason(rep, "saturated: the common quality interval spans %.3g, under %.3g", rep->quality_span,
               rep->span_threshold);
    FrBdMethod ms[2] = {FR_BD_PCHIP, FR_BD_CUBIC};
    double *rp[2] = {&rep->pchip_rate_pct, &rep->cubic_rate_pct};
    double *qp[2] = {&rep->pchip_quality, &rep->cubic_quality};
    for (int k = 0; k < 2; k++) {
        FrBdResult res;
        FrError e2 = {0};
        if (fr_bd(a, t, ms[k], what, &res, &e2) == 0) {
            *rp[k] = res.rate_pct;
            *qp[k] = res.quality;
        } else {
            const char *m = e2.msg;
            size_t wl = strlen(what);
            if (!strncmp(m, what, wl) && !strncmp(m + wl, ": ", 2))
                m += wl + 2;
            reason(rep, "%s: %s", fr_bd_method_name(ms[k]), m);
        }
    }
    rep->rate_pct = opt->method == FR_BD_CUBIC ? rep->cubic_rate_pct : rep->pchip_rate_pct;
    rep->quality = opt->method == FR_BD_CUBIC ? rep->cubic_quality : rep->pchip_quality;
    if (isfinite(rep->pchip_rate_pct) && isfinite(rep->cubic_rate_pct) &&
        fabs(rep->pchip_rate_pct - rep->cubic_rate_pct) > opt->max_disagree_pp)
        reason(rep, "pchip and cubic BD-rates differ by %.2f points (> %g)",
               fabs(rep->pchip_rate_pct - rep->cubic_rate_pct), opt->max_disagree_pp);
    /* bootstrap: replicate b of both curves comes from the same resampled
     * images, so the interval is that of the paired difference */
    if (anchor->nrep > 0 && anchor->nrep == test->nrep && anchor->rep_rate && test->rep_rate &&
        anchor->rep_quality && test->rep_quality) {
        int B = anchor->nrep;
        double *br = malloc((size_t)B * sizeof *br), *bq = malloc((size_t)B * sizeof *bq);
        if (!br || !bq) {
            free(br);
            free(bq);
            rc = fr_error(err, FR_E_NOMEM, "%s: out of memory", what);
            goto done;
        }
        rep->boot_total = B;
        for (int b = 0; b < B; b++) {
            FrBdCurve ra = {0}, rt = {0};
            br[b] = bq[b] = NAN;
            if (replicate_curve(anchor, b, dir, opt->monotone, &ra) ||
                replicate_curve(test, b, dir, opt->monotone, &rt)) {
                fr_bd_curve_free(&ra);
                fr_bd_curve_free(&rt);
                free(br);
                free(bq);
                rc = fr_error(err, FR_E_NOMEM, "%s: out of memory", what);
                goto done;
            }
            double x, y;
            if (delta(&ra, &rt, opt->method, what, 1, &x, NULL, NULL, 0, NULL) == 0 &&
                delta(&ra, &rt, opt->method, what, 0, &y, NULL, NULL, 0, NULL) == 0) {
                br[b] = x;
                bq[b] = y;
                rep->boot_ok++;
            }
            fr_bd_curve_free(&ra);
            fr_bd_curve_free(&rt);
        }
        fr_ci_percentile(br, (size_t)B, opt->level, &rep->rate_lo, &rep->rate_hi);
        fr_ci_percentile(bq, (size_t)B, opt->level, &rep->quality_lo, &rep->quality_hi);
        free(br);
        free(bq);
        rep->significant = rep->rate_lo > 0 || rep->rate_hi < 0;
        if (rep->boot_ok < B - B / 20)
            reason(rep, "%d of %d bootstrap replicates give no BD", B - rep->boot_ok, B);
    }
done:
    fr_bd_curve_free(&ea);
    fr_bd_curve_free(&et);
    return rc;
}

const char *fr_bd_gsl_version(void)
{
    return gsl_version;
}
