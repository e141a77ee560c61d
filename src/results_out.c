/* results_out.c: what is made from a finished points.csv (featrd/run.h):
 * bd.csv (the Bjontegaard comparisons the config names, through featrd/bd.h)
 * and the plots (gnuplot run on plots/rd.gp with data files written here).
 * Nothing here computes results; it only reads points.csv. */
#define _GNU_SOURCE
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "featrd.h"

/* points.csv column of a config metric. */
static const char *metric_column(int m)
{
    switch (m) {
    case FR_METRIC_MAP07: return "map07";
    case FR_METRIC_MAP: return "map";
    case FR_METRIC_TOP1: return "top1";
    case FR_METRIC_TOP5: return "top5";
    case FR_METRIC_FIDELITY: return "fidelity";
    case FR_METRIC_PIXEL_AGREEMENT: return "fidelity";
    case FR_METRIC_FEATURE_MSE: return "mse";
    case FR_METRIC_FEATURE_PSNR: return "psnr";
    default: return NULL;
    }
}

/* The task metric columns, in the order plots and bd.csv prefer them. */
static const char *const task_cols[] = {"map07", "map", "top1", "top5", "fidelity"};
#define N_TASK_COLS 5

static int col_has_value(const FrCsv *csv, int col)
{
    if (col < 0)
        return 0;
    for (size_t r = 0; r < fr_csv_nrows(csv); r++) {
        double v;
        if (!fr_csv_get_double(csv, r, col, &v, NULL) && isfinite(v))
            return 1;
    }
    return 0;
}

/* Distinct values of the curve column (in first-appearance order) of rows
 * whose kind column equals kind (NULL: every row). */
static int curve_names(const FrCsv *csv, const char *kind, char ***names, int *n)
{
    int cc = fr_csv_col(csv, "curve"), kc = fr_csv_col(csv, "kind");
    *names = NULL;
    *n = 0;
    if (cc < 0 || kc < 0)
        return 0;
    char **out = calloc(fr_csv_nrows(csv) + 1, sizeof *out);
    if (!out)
        return FR_E_NOMEM;
    int cnt = 0;
    for (size_t r = 0; r < fr_csv_nrows(csv); r++) {
        if (kind && strcmp(fr_csv_get(csv, r, kc), kind))
            continue;
        const char *c = fr_csv_get(csv, r, cc);
        int dup = 0;
        for (int k = 0; k < cnt && !dup; k++)
            dup = !strcmp(out[k], c);
        if (!dup)
            out[cnt++] = (char *)c;
    }
    *names = out;
    *n = cnt;
    return 0;
}

int fr_results_write_bd(const char *dir, const FrExperiment *e, FrError *err)
{
    char path[4400];
    fr_results_name(path, sizeof path, dir, "points", "csv", 0, 1);
    FrCsv *csv = NULL;
    int rc = fr_csv_read(path, &csv, err);
    if (rc)
        return rc;
    FrText t = {0};
    fr_text_printf(&t, "anchor,test,method,rate,quality,anchor_points,test_points,bd_rate_pct,"
                       "bd_quality,quality_overlap,rate_overlap,warning\n");
    char **curves = NULL;
    int ncurves = 0;
    rc = curve_names(csv, NULL, &curves, &ncurves);
    for (int b = 0; b < e->n_bd && !rc; b++) {
        const FrBdSpec *s = &e->bd[b];
        const char *rate = s->rate ? s->rate : "kbpi";
        const char *qual = s->quality;
        if (!qual && e->n_metrics)
            qual = metric_column(e->metrics[0]);
        for (int k = 0; !qual && k < N_TASK_COLS; k++)
            if (col_has_value(csv, fr_csv_col(csv, task_cols[k])))
                qual = task_cols[k];
        if (!qual) {
            rc = fr_error(err, FR_E_FORMAT, "%s: no task metric column with values for bd", path);
            break;
        }
        FrBdCurve anchor = {0};
        rc = fr_bd_curve_from_csv(csv, "curve", s->anchor, rate, qual, &anchor, err);
        if (rc) {
            char msg[1100];
            snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
            rc = fr_experiment_error(e, err, FR_E_CONFIG, "bd", "anchor '%s': %s", s->anchor, msg);
            break;
        }
        int matched = 0;
        for (int c = 0; c < ncurves && !rc; c++) {
            if (strcmp(curves[c], s->test) && fnmatch(s->test, curves[c], 0))
                continue;
            if (!strcmp(curves[c], s->anchor) || !strcmp(curves[c], "reference"))
                continue;
            matched++;
            FrBdCurve test = {0};
            FrBdResult res;
            memset(&res, 0, sizeof res);
            FrError e2 = {0};
            int r2 = fr_bd_curve_from_csv(csv, "curve", curves[c], rate, qual, &test, &e2);
            if (!r2)
                r2 = fr_bd(&anchor, &test, s->method, curves[c], &res, &e2);
            fr_text_csv_field(&t, s->anchor, ',');
            fr_text_csv_field(&t, curves[c], ',');
            fr_text_csv_field(&t, fr_bd_method_name(s->method), ',');
            fr_text_csv_field(&t, rate, ',');
            fr_text_csv_field(&t, qual, ',');
            fr_text_printf(&t, "%zu,%zu,", anchor.n, test.n);
            if (r2) {
                fr_text_printf(&t, "nan,nan,nan,nan,");
                fr_text_csv_field(&t, e2.msg, '\n');
            } else {
                fr_text_csv_double(&t, res.rate_pct, ',');
                fr_text_csv_double(&t, res.quality, ',');
                fr_text_csv_double(&t, res.quality_overlap, ',');
                fr_text_csv_double(&t, res.rate_overlap, ',');
                fr_text_csv_field(&t, res.warning, '\n');
            }
            fr_bd_curve_free(&test);
        }
        fr_bd_curve_free(&anchor);
        if (!matched && !rc)
            rc = fr_experiment_error(e, err, FR_E_CONFIG, "bd",
                                     "test '%s' matches no curve of %s", s->test, path);
    }
    if (!rc) {
        fr_results_name(path, sizeof path, dir, "bd", "csv", 0, 1);
        rc = fr_text_write_atomic(&t, path, err);
    }
    fr_text_free(&t);
    free(curves);
    fr_csv_destroy(&csv);
    return rc;
}

/* ---------------- plots ---------------- */

/* A plotted group: lossy points of one curve, or the lossless points of one
 * (split, codec, packing, alloc) across bit depths (one-point curves would
 * flood the legend). */
typedef struct Group {
    char key[512];
    char title[256];
    int split_no;
    int lossless;
    int sensitivity; /* alloc other than uniform: drawn with its own marker */
    int bits;
} Group;

static int is_lossless_codec(const char *c)
{
    return strcmp(c, "hevc") != 0;
}

/* Value of "key=" in a curve name, copied into buf. */
static void curve_axis(const char *curve, const char *key, char *buf, size_t cap)
{
    buf[0] = 0;
    size_t kl = strlen(key);
    const char *p = curve;
    while (p && *p) {
        if (!strncmp(p, key, kl) && p[kl] == '=') {
            const char *v = p + kl + 1, *end = strchr(v, ',');
            size_t n = end ? (size_t)(end - v) : strlen(v);
            if (n >= cap)
                n = cap - 1;
            memcpy(buf, v, n);
            buf[n] = 0;
            return;
        }
        p = strchr(p, ',');
        if (p)
            p++;
    }
}

static const char *metric_label(const char *col)
{
    if (!strcmp(col, "map07"))
        return "mAP@0.5 (VOC07 11-point)";
    if (!strcmp(col, "map"))
        return "mAP@0.5 (all-point)";
    if (!strcmp(col, "top1"))
        return "top-1 accuracy";
    if (!strcmp(col, "top5"))
        return "top-5 accuracy";
    return "fidelity";
}

/* A PNG ends with its IEND chunk, an SVG with </svg>: anything else is a
 * write gnuplot did not finish (disk full) even when it exits 0. */
static int plot_complete(const char *path, int png)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char tail[64] = {0};
    long n = 0;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 12) {
        long k = n < (long)sizeof tail - 1 ? n : (long)sizeof tail - 1;
        if (fseek(f, -k, SEEK_END) != 0 || fread(tail, 1, (size_t)k, f) != (size_t)k)
            n = 0;
        tail[k] = 0;
        if (png)
            n = n && !memcmp(tail + k - 12, "\0\0\0\0IEND\xae\x42\x60\x82", 12);
        else
            n = n && strstr(tail, "</svg>") != NULL;
    } else {
        n = 0;
    }
    fclose(f);
    return n != 0;
}

static int commit_plots(const char *tmp, const char *final, FrError *err)
{
    static const char *ext[2] = {"png", "svg"};
    char a[2][4600], b[4600];
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        snprintf(a[i], sizeof a[i], "%s.%s", tmp, ext[i]);
        if (!rc && !plot_complete(a[i], i == 0))
            rc = fr_error(err, FR_E_IO, "%s.%s: gnuplot did not write it completely (disk full?); "
                          "the previous plot is kept", final, ext[i]);
    }
    for (int i = 0; i < 2; i++) {
        snprintf(b, sizeof b, "%s.%s", final, ext[i]);
        if (!rc && rename(a[i], b) != 0)
            rc = fr_error(err, FR_E_IO, "%s: cannot write it (%s)", b, strerror(errno));
        if (rc)
            unlink(a[i]);
    }
    return rc;
}

static int plot_metric(const FrCsv *csv, const char *dir, const char *scripts, const char *col,
                       FrError *err)
{
    int mc = fr_csv_col(csv, col), kc = fr_csv_col(csv, "kind"), cc = fr_csv_col(csv, "curve"),
        rc_ = fr_csv_col(csv, "kbpi"), sc = fr_csv_col(csv, "split"), bc = fr_csv_col(csv, "bits"),
        cdc = fr_csv_col(csv, "codec"), qc = fr_csv_col(csv, "qp");
    size_t nr = fr_csv_nrows(csv);
    Group *g = calloc(nr + 1, sizeof *g);
    int *grp_of = calloc(nr + 1, sizeof *grp_of);
    char splits[32][64];
    int nsplits = 0, ng = 0;
    double ref = NAN;
    if (!g || !grp_of) {
        free(g);
        free(grp_of);
        return fr_error(err, FR_E_NOMEM, "out of memory");
    }
    for (size_t r = 0; r < nr; r++) {
        grp_of[r] = -1;
        const char *kind = fr_csv_get(csv, r, kc);
        double v;
        if (!strcmp(kind, "reference")) {
            if (!fr_csv_get_double_nf(csv, r, mc, &v, NULL))
                ref = v;
            continue;
        }
        if (strcmp(kind, "feature"))
            continue;
        const char *curve = fr_csv_get(csv, r, cc), *split = fr_csv_get(csv, r, sc),
                   *codec = fr_csv_get(csv, r, cdc);
        int sn = -1;
        for (int k = 0; k < nsplits; k++)
            if (!strcmp(splits[k], split))
                sn = k;
        if (sn < 0 && nsplits < 32) {
            snprintf(splits[nsplits], sizeof splits[0], "%s", split);
            sn = nsplits++;
        }
        char key[512], pk[64], al[64];
        int lossless = is_lossless_codec(codec);
        curve_axis(curve, "packing", pk, sizeof pk);
        curve_axis(curve, "alloc", al, sizeof al);
        if (lossless)
            snprintf(key, sizeof key, "L|%s|%s|%s|%s", split, codec, pk, al);
        else
            snprintf(key, sizeof key, "C|%s", curve);
        int gi = -1;
        for (int k = 0; k < ng; k++)
            if (!strcmp(g[k].key, key))
                gi = k;
        if (gi < 0) {
            gi = ng++;
            snprintf(g[gi].key, sizeof g[gi].key, "%s", key);
            g[gi].split_no = sn;
            g[gi].lossless = lossless;
            g[gi].sensitivity = *al && strcmp(al, "uniform") != 0;
            g[gi].bits = atoi(fr_csv_get(csv, r, bc));
            if (lossless)
                snprintf(g[gi].title, sizeof g[gi].title, "%s %s%s (one point per bit depth)", split,
                         codec, strstr(codec, "lossless") ? "" : " lossless");
            else
                snprintf(g[gi].title, sizeof g[gi].title, "%s %d-bit %s%s%s", split, g[gi].bits,
                         codec, strcmp(al, "uniform") && *al ? " " : "",
                         strcmp(al, "uniform") && *al ? al : "");
        }
        grp_of[r] = gi;
    }
    /* One data file: feature groups first (one index block each), then anchors. */
    char **anchors = NULL;
    int nanch = 0;
    curve_names(csv, "anchor", &anchors, &nanch);
    FrText t = {0}, colors = {0}, dashes = {0}, lossless = {0};
    for (int k = 0; k < ng; k++) {
        fr_text_printf(&t, "\"%s\" \"%s\"\n", g[k].title, col);
        for (size_t r = 0; r < nr; r++) {
            if (grp_of[r] != k)
                continue;
            fr_text_printf(&t, "%s %s %s\n", fr_csv_get(csv, r, rc_), fr_csv_get(csv, r, mc),
                           g[k].lossless ? fr_csv_get(csv, r, bc) : fr_csv_get(csv, r, qc));
        }
        fr_text_printf(&t, "\n\n");
        /* colour by split; dash by bit depth; lossless groups as open points only */
        fr_text_printf(&colors, "%s%d", k ? " " : "", g[k].split_no + 1);
        fr_text_printf(&dashes, "%s%d", k ? " " : "", g[k].lossless ? 1 : (g[k].bits - 8) / 2 + 1);
        /* marker: 0 filled circle (uniform QP), 1 open square (lossless),
         * 2 filled triangle (per-channel QP allocation) */
        fr_text_printf(&lossless, "%s%d", k ? " " : "", g[k].lossless ? 1 : g[k].sensitivity ? 2 : 0);
    }
    for (int a = 0; a < nanch; a++) {
        fr_text_printf(&t, "\"%s (cloud-only)\" \"%s\"\n", anchors[a], col);
        for (size_t r = 0; r < nr; r++)
            if (!strcmp(fr_csv_get(csv, r, kc), "anchor") &&
                !strcmp(fr_csv_get(csv, r, cc), anchors[a]))
                fr_text_printf(&t, "%s %s %s\n", fr_csv_get(csv, r, rc_), fr_csv_get(csv, r, mc),
                               fr_csv_get(csv, r, qc));
        fr_text_printf(&t, "\n\n");
    }
    free(anchors);
    free(g);
    free(grp_of);
    char dat[4400], out[4400], gp[4400];
    snprintf(dat, sizeof dat, "%s/plot_%s.dat", dir, col);
    /* gnuplot writes NAME.tmp.PID.{png,svg}; they replace NAME.{png,svg}
     * only once complete (a full disk leaves a truncated PNG and exit 0) */
    char final[4300];
    snprintf(final, sizeof final, "%s/rd_%.200s", dir, col);
    snprintf(out, sizeof out, "%s.tmp.%ld", final, (long)getpid());
    snprintf(gp, sizeof gp, "%s/rd.gp", scripts);
    int rc = fr_text_write_atomic(&t, dat, err);
    fr_text_free(&t);
    if (rc) {
        fr_text_free(&colors);
        fr_text_free(&dashes);
        fr_text_free(&lossless);
        return rc;
    }
    /* The directory's name titles the plot; quotes would end the -e string. */
    char title[256];
    const char *base = strrchr(dir, '/');
    snprintf(title, sizeof title, "%s: %s vs rate", base && base[1] ? base + 1 : dir, col);
    for (char *q = title; *q; q++)
        if (*q == '\'' || *q == '"' || *q == '\\' || *q == '$' || *q == '`')
            *q = '_';
    char refs[64];
    if (isfinite(ref))
        snprintf(refs, sizeof refs, "%.17g", ref);
    else
        snprintf(refs, sizeof refs, "NaN");
    FrText vars = {0};
    fr_text_printf(&vars,
                   "title='%s'; datafile='%s'; outbase='%s'; nfeat=%d; nanch=%d; "
                   "colors='%s'; dashes='%s'; lossless='%s'; ylabel='%s'; ref=%s",
                   title, dat, out, ng, nanch, colors.s ? colors.s : "", dashes.s ? dashes.s : "",
                   lossless.s ? lossless.s : "", metric_label(col), refs);
    fr_text_free(&colors);
    fr_text_free(&dashes);
    fr_text_free(&lossless);
    rc = vars.s ? fr_gnuplot_run(gp, vars.s, err) : fr_error(err, FR_E_NOMEM, "out of memory");
    fr_text_free(&vars);
    if (!rc) {
        rc = commit_plots(out, final, err);
    } else {
        char t[4500];
        snprintf(t, sizeof t, "%s.png", out);
        unlink(t);
        snprintf(t, sizeof t, "%s.svg", out);
        unlink(t);
    }
    return rc;
}

int fr_gnuplot_run(const char *script, const char *vars, FrError *err)
{
    if (access(script, R_OK))
        return fr_error(err, FR_E_NOENT, "%s: gnuplot script missing (run from the featrd source "
                        "tree, or pass the plots directory)", script);
    /* fork + exec, no shell: gnuplot gets SIGKILL if featrd dies first (a
     * killed run or merge left it plotting on its own) */
    int fds[2];
    if (pipe(fds) != 0)
        return fr_error(err, FR_E_IO, "cannot run gnuplot: pipe: %s", strerror(errno));
    pid_t parent = getpid(), pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return fr_error(err, FR_E_IO, "cannot run gnuplot: fork: %s", strerror(e));
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        execlp("gnuplot", "gnuplot", "-e", vars, script, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char buf[2048], junk[512];
    size_t n = 0;
    for (;;) {
        ssize_t k = n < sizeof buf - 1 ? read(fds[0], buf + n, sizeof buf - 1 - n)
                                       : read(fds[0], junk, sizeof junk);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break; /* drained, so gnuplot never blocks on a full pipe */
        if (n < sizeof buf - 1)
            n += (size_t)k;
    }
    buf[n] = 0;
    close(fds[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) == 127)
        return fr_error(err, FR_E_NOENT, "gnuplot not found: install gnuplot-nox (make deps)");
    if (WEXITSTATUS(st))
        return fr_error(err, FR_E_IO, "gnuplot failed on %s: %s", script, buf);
    return 0;
}

int fr_results_plot(const char *dir, const char *scripts_dir, FrError *err)
{
    char path[4400];
    fr_results_name(path, sizeof path, dir, "points", "csv", 0, 1);
    FrCsv *csv = NULL;
    int rc = fr_csv_read(path, &csv, err);
    if (rc) {
        if (rc == FR_E_NOENT)
            return fr_error(err, FR_E_NOENT,
                            "%s: no points.csv (run `featrd run CONFIG` first, or `featrd merge "
                            "DIR` for shards)",
                            path);
        return rc;
    }
    static const char *need[] = {"kind", "curve", "kbpi", "split", "bits", "codec", "qp"};
    for (size_t k = 0; k < sizeof need / sizeof need[0] && !rc; k++)
        if (fr_csv_require_col(csv, need[k], err) < 0)
            rc = FR_E_FORMAT;
    int plotted = 0;
    for (int k = 0; k < N_TASK_COLS && !rc; k++) {
        if (!col_has_value(csv, fr_csv_col(csv, task_cols[k])))
            continue;
        rc = plot_metric(csv, dir, scripts_dir ? scripts_dir : "plots", task_cols[k], err);
        plotted++;
    }
    if (!rc && !plotted)
        rc = fr_error(err, FR_E_FORMAT, "%s: no task metric column has values to plot", path);
    fr_csv_destroy(&csv);
    return rc;
}
