/* score.c: `featrd score` (fr_results_score): task metrics the user
 * computed elsewhere (on kind features' decoded tensors, with their own back
 * half) merged into a results directory's points.csv, so bd.csv, `featrd
 * bd` and the plots read them as they read a darknet model's. The metric
 * file is checked whole before anything is written; points.csv, the boot
 * files and bd.csv are each replaced atomically. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "featrd.h"
#include "run/results_internal.h"
#include "bd/bd.h"
#include "metrics/metrics.h"
#include "util/csv.h"

#define MAX_METRICS 32

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Task columns the runner writes for darknet models: scores may fill them. */
static const char *const TASK_COLS[] = {"map07", "map", "top1", "top5", "fidelity", NULL};

typedef struct Metric {
    char name[64];
    double *val;     /* [points]: the point's value, NaN when not given */
    int *line;       /* [points]: the line that gave it (per point) or its first line */
    double **img;    /* per image: [points][images], NULL until the point appears */
    int **img_line;
} Metric;

typedef struct Score {
    const char *file;
    const FrCsv *pts;
    size_t np;
    long *images; /* [points]: the images column */
    int per_image;
    int nm;
    Metric m[MAX_METRICS];
} Score;

static int is_task_col(const char *name)
{
    for (int k = 0; TASK_COLS[k]; k++)
        if (!strcmp(TASK_COLS[k], name))
            return 1;
    return 0;
}

/* A name the runner computes (rates, distortion, ids, ...) would be
 * overwritten by the score or shadow it: refused. */
static const char *reserved(const char *name)
{
    size_t l = strlen(name);
    if (l > 3 && (!strcmp(name + l - 3, "_lo") || !strcmp(name + l - 3, "_hi")))
        return "names ending in _lo or _hi are the intervals featrd writes";
    if (is_task_col(name))
        return NULL;
    int nc;
    const FrColumnDoc *cols = fr_points_columns(&nc);
    for (int k = 0; k < nc; k++)
        if (!strcmp(cols[k].name, name))
            return "a column featrd computes itself";
    return NULL;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t l = strlen(s);
    while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\r'))
        s[--l] = 0;
    return s;
}

static long find_point(const Score *sc, const char *id)
{
    int ic = fr_csv_col(sc->pts, "id");
    for (size_t r = 0; r < sc->np; r++)
        if (!strcmp(fr_csv_get(sc->pts, r, ic), id))
            return (long)r;
    return -1;
}

static int metric_index(Score *sc, const char *name, int ln, FrError *err)
{
    for (int k = 0; k < sc->nm; k++)
        if (!strcmp(sc->m[k].name, name))
            return k;
    int ok = (isalpha((unsigned char)name[0]) || name[0] == '_') && strlen(name) < 64;
    for (const char *p = name; *p && ok; p++)
        ok = isalnum((unsigned char)*p) || *p == '_';
    if (!ok)
        return fr_error(err, FR_E_FORMAT, "%s:%d: metric '%s': expected a name of letters, "
                        "digits and _ (it becomes a points.csv column)", sc->file, ln, name);
    const char *why = reserved(name);
    if (why)
        return fr_error(err, FR_E_FORMAT, "%s:%d: metric '%s' is %s; name your metric "
                        "otherwise (e.g. task_%s)", sc->file, ln, name, why, name);
    if (sc->nm == MAX_METRICS)
        return fr_error(err, FR_E_FORMAT, "%s:%d: more than %d metrics", sc->file, ln,
                        MAX_METRICS);
    Metric *m = &sc->m[sc->nm];
    snprintf(m->name, sizeof m->name, "%s", name);
    m->val = malloc(sc->np * sizeof *m->val);
    m->line = calloc(sc->np, sizeof *m->line);
    if (sc->per_image) {
        m->img = calloc(sc->np, sizeof *m->img);
        m->img_line = calloc(sc->np, sizeof *m->img_line);
    }
    if (!m->val || !m->line || (sc->per_image && (!m->img || !m->img_line)))
        return fr_error(err, FR_E_NOMEM, "out of memory");
    for (size_t p = 0; p < sc->np; p++)
        m->val[p] = NAN;
    return sc->nm++;
}

/* One data row: point_id,[image,]metric,value. */
static int parse_row(Score *sc, char *line, int ln, FrError *err)
{
    char *f[5];
    int nf = 0;
    for (char *p = line;; nf++) {
        char *c = strchr(p, ',');
        if (nf < 5)
            f[nf] = p;
        if (!c) {
            nf++;
            break;
        }
        *c = 0;
        p = c + 1;
    }
    int want = sc->per_image ? 4 : 3;
    if (nf != want)
        return fr_error(err, FR_E_FORMAT, "%s:%d: expected %d fields (%s), got %d", sc->file, ln,
                        want, sc->per_image ? "point_id,image,metric,value" : "point_id,metric,value",
                        nf);
    for (int k = 0; k < nf; k++)
        f[k] = trim(f[k]);
    long p = find_point(sc, f[0]);
    if (p < 0)
        return fr_error(err, FR_E_FORMAT, "%s:%d: unknown point id '%s' (ids are the id column "
                        "of %s, e.g. %s)", sc->file, ln, f[0], fr_csv_name(sc->pts),
                        sc->np ? fr_csv_get(sc->pts, 0, fr_csv_col(sc->pts, "id")) : "none");
    long img = -1;
    if (sc->per_image) {
        char *end;
        errno = 0;
        img = strtol(f[1], &end, 10);
        if (end == f[1] || *end || errno || img < 0 || img >= sc->images[p])
            return fr_error(err, FR_E_FORMAT, "%s:%d: image '%s': expected 0 .. %ld (the "
                            "0-based position of the image; point %s has %ld images)", sc->file,
                            ln, f[1], sc->images[p] - 1, f[0], sc->images[p]);
    }
    const char *mname = f[sc->per_image ? 2 : 1], *vs = f[sc->per_image ? 3 : 2];
    int mi = metric_index(sc, mname, ln, err);
    if (mi < 0)
        return mi;
    char *end;
    double v = strtod(vs, &end);
    if (end == vs || *end || !isfinite(v))
        return fr_error(err, FR_E_FORMAT, "%s:%d: value '%s': expected a finite number", sc->file,
                        ln, vs);
    Metric *m = &sc->m[mi];
    if (!sc->per_image) {
        if (m->line[p])
            return fr_error(err, FR_E_FORMAT, "%s:%d: point %s, metric %s is given again (first "
                            "at line %d)", sc->file, ln, f[0], mname, m->line[p]);
        m->val[p] = v;
        m->line[p] = ln;
        return 0;
    }
    if (!m->img[p]) {
        m->img[p] = malloc((size_t)sc->images[p] * sizeof **m->img);
        m->img_line[p] = calloc((size_t)sc->images[p], sizeof **m->img_line);
        if (!m->img[p] || !m->img_line[p])
            return fr_error(err, FR_E_NOMEM, "out of memory");
        m->line[p] = ln;
    }
    if (m->img_line[p][img])
        return fr_error(err, FR_E_FORMAT, "%s:%d: point %s, image %ld, metric %s is given again "
                        "(first at line %d)", sc->file, ln, f[0], img, mname,
                        m->img_line[p][img]);
    m->img[p][img] = v;
    m->img_line[p][img] = ln;
    return 0;
}

static int read_metric_file(Score *sc, FrError *err)
{
    uint8_t *raw = NULL;
    size_t len = 0;
    int rc = fr_read_file(sc->file, &raw, &len, err);
    if (rc)
        return rc == FR_E_NOENT ? fr_error(err, FR_E_NOENT, "%s: no such metric file", sc->file)
                                : rc;
    char *data = malloc(len + 1); /* room for the last line's terminator */
    if (!data) {
        free(raw);
        return fr_error(err, FR_E_NOMEM, "out of memory");
    }
    memcpy(data, raw, len);
    data[len] = 0;
    free(raw);
    char *s = data;
    int ln = 0, header = 0;
    size_t pos = 0;
    while (pos < len && !rc) {
        char *nl = memchr(s + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - s) : len;
        s[end] = 0;
        char *line = trim(s + pos);
        pos = end + 1;
        ln++;
        if (!*line || *line == '#')
            continue;
        if (!header) {
            char h[200];
            snprintf(h, sizeof h, "%s", line);
            for (char *p = h; *p; p++)
                if (*p == ' ' || *p == '\t')
                    memmove(p, p + 1, strlen(p)), p--;
            if (!strcmp(h, "point_id,metric,value"))
                sc->per_image = 0;
            else if (!strcmp(h, "point_id,image,metric,value"))
                sc->per_image = 1;
            else
                rc = fr_error(err, FR_E_FORMAT, "%s:%d: expected the header point_id,metric,value "
                              "(one value per point) or point_id,image,metric,value (one per "
                              "image), got '%.80s'", sc->file, ln, line);
            header = 1;
            continue;
        }
        rc = parse_row(sc, line, ln, err);
    }
    if (!rc && !header)
        rc = fr_error(err, FR_E_FORMAT, "%s: empty: expected the header point_id,metric,value or "
                      "point_id,image,metric,value and one row per value", sc->file);
    if (!rc && sc->nm == 0)
        rc = fr_error(err, FR_E_FORMAT, "%s: a header but no values", sc->file);
    /* per image: every image of every point a metric names */
    int ic = fr_csv_col(sc->pts, "id");
    for (int k = 0; k < sc->nm && !rc && sc->per_image; k++)
        for (size_t p = 0; p < sc->np && !rc; p++) {
            Metric *m = &sc->m[k];
            if (!m->img[p])
                continue;
            long miss = 0, first = -1;
            for (long i = 0; i < sc->images[p]; i++)
                if (!m->img_line[p][i]) {
                    if (first < 0)
                        first = i;
                    miss++;
                }
            if (miss)
                rc = fr_error(err, FR_E_FORMAT, "%s:%d: point %s, metric %s: %ld of its %ld "
                              "images have no value (the first is image %ld); give every image "
                              "or use the per-point format", sc->file, m->line[p],
                              fr_csv_get(sc->pts, p, ic), m->name, miss, sc->images[p], first);
            else
                m->val[p] = fr_boot_mean(m->img[p], NULL, (size_t)sc->images[p]);
        }
    free(data);
    return rc;
}

static void score_free(Score *sc)
{
    for (int k = 0; k < sc->nm; k++) {
        Metric *m = &sc->m[k];
        for (size_t p = 0; m->img && p < sc->np; p++) {
            free(m->img[p]);
            free(m->img_line[p]);
        }
        free(m->img);
        free(m->img_line);
        free(m->val);
        free(m->line);
    }
    free(sc->images);
}

/* Rewrites boot/<id>.csv with column name = reps (replacing one of that
 * name), so bd.csv's intervals pair the metric with kbpi replicate by
 * replicate. A point without a boot file (bootstrap.replicates 0) is left. */
static int boot_add(const char *dir, const char *id, const char *name, const double *reps, int B,
                    FrError *err)
{
    char path[4500];
    snprintf(path, sizeof path, "%s/boot/%s.csv", dir, id);
    FrCsv *b = NULL;
    if (access(path, F_OK) != 0)
        return 0;
    int rc = fr_csv_read(path, &b, err);
    if (rc)
        return rc;
    if ((int)fr_csv_nrows(b) != B) {
        fr_csv_destroy(&b);
        return fr_error(err, FR_E_MISMATCH, "%s: %zu replicates, the config says %d", path,
                        fr_csv_nrows(b), B);
    }
    int nc = fr_csv_ncols(b), keep = fr_csv_col(b, name);
    FrText t = {0};
    for (int c = 0; c < nc; c++)
        if (c != keep)
            fr_text_csv_field(&t, fr_csv_colname(b, c), ',');
    fr_text_csv_field(&t, name, '\n');
    for (int r = 0; r < B; r++) {
        for (int c = 0; c < nc; c++)
            if (c != keep)
                fr_text_csv_field(&t, fr_csv_get(b, (size_t)r, c), ',');
        fr_text_csv_double(&t, reps[r], '\n');
    }
    rc = fr_text_write_atomic(&t, path, err);
    fr_text_free(&t);
    fr_csv_destroy(&b);
    return rc;
}

static int score_apply(const char *dir, const char *metric_file, FrScoreReport *rep, FrError *err)
{
    char path[4400], cfgp[4400];
    fr_results_name(path, sizeof path, dir, "points", "csv", 0, 1);
    snprintf(cfgp, sizeof cfgp, "%s/config.yaml", dir);
    if (rep)
        memset(rep, 0, sizeof *rep);
    FrCsv *pts = NULL;
    FrExperiment *e = NULL;
    Score sc;
    memset(&sc, 0, sizeof sc);
    double *col = NULL, *reps = NULL;
    uint32_t *w = NULL;
    FrText t = {0};
    int rc;
    if ((rc = fr_csv_read(path, &pts, err))) {
        if (rc == FR_E_NOENT)
            rc = fr_error(err, FR_E_NOENT, "%s: no points.csv (run `featrd run CONFIG` first)",
                          path);
        goto done;
    }
    if (fr_csv_require_col(pts, "id", err) < 0 || fr_csv_require_col(pts, "images", err) < 0) {
        rc = FR_E_FORMAT;
        goto done;
    }
    /* the bootstrap settings and bd entries of the run (none without a config) */
    if (access(cfgp, R_OK) == 0 && (rc = fr_config_load(cfgp, NULL, 0, &e, err)))
        goto done;
    sc.file = metric_file;
    sc.pts = pts;
    sc.np = fr_csv_nrows(pts);
    sc.images = calloc(sc.np ? sc.np : 1, sizeof *sc.images);
    if (!sc.images) {
        rc = fr_error(err, FR_E_NOMEM, "out of memory");
        goto done;
    }
    for (size_t p = 0; p < sc.np; p++)
        if ((rc = fr_csv_get_long(pts, p, fr_csv_col(pts, "images"), &sc.images[p], err)))
            goto done;
    if ((rc = read_metric_file(&sc, err)))
        goto done;
    /* per-image values: bootstrap intervals with the run's draws */
    int B = e && sc.per_image ? e->bootstrap.replicates : 0;
    double level = e ? e->bootstrap.level : 0.95;
    int ic = fr_csv_col(pts, "id");
    double *lo[MAX_METRICS], *hi[MAX_METRICS];
    for (int k = 0; k < sc.nm; k++) {
        lo[k] = malloc(sc.np * sizeof *lo[k]);
        hi[k] = malloc(sc.np * sizeof *hi[k]);
        if (!lo[k] || !hi[k])
            rc = fr_error(err, FR_E_NOMEM, "out of memory");
        for (size_t p = 0; p < sc.np && !rc; p++)
            lo[k][p] = hi[k][p] = NAN;
    }
    for (int k = 0; k < sc.nm && !rc && B > 0; k++)
        for (size_t p = 0; p < sc.np && !rc; p++) {
            Metric *m = &sc.m[k];
            if (!m->img[p])
                continue;
            size_t n = (size_t)sc.images[p];
            free(w);
            w = malloc(n * sizeof *w);
            free(reps);
            reps = malloc((size_t)B * sizeof *reps);
            if (!w || !reps) {
                rc = fr_error(err, FR_E_NOMEM, "out of memory");
                break;
            }
            for (int b = 0; b < B; b++) {
                fr_boot_counts(e->bootstrap.seed, b, n, w);
                reps[b] = fr_boot_mean(m->img[p], w, n);
            }
            free(col);
            if (!(col = malloc((size_t)B * sizeof *col))) {
                rc = fr_error(err, FR_E_NOMEM, "out of memory");
                break;
            }
            memcpy(col, reps, (size_t)B * sizeof *col);
            fr_ci_percentile(col, (size_t)B, level, &lo[k][p], &hi[k][p]);
            rc = boot_add(dir, fr_csv_get(pts, p, ic), m->name, reps, B, err);
        }
    if (rc)
        goto free_ci;
    /* points.csv: every column as it was, a scored metric's values (and
     * intervals) replaced; new metrics appended with their _lo/_hi */
    int nc = fr_csv_ncols(pts);
    int at[MAX_METRICS], at_lo[MAX_METRICS], at_hi[MAX_METRICS], extra = 0;
    for (int k = 0; k < sc.nm; k++) {
        char n2[80];
        at[k] = fr_csv_col(pts, sc.m[k].name);
        snprintf(n2, sizeof n2, "%s_lo", sc.m[k].name);
        at_lo[k] = fr_csv_col(pts, n2);
        snprintf(n2, sizeof n2, "%s_hi", sc.m[k].name);
        at_hi[k] = fr_csv_col(pts, n2);
        if (at[k] < 0) {
            at[k] = nc + extra++;
            at_lo[k] = nc + extra++;
            at_hi[k] = nc + extra++;
        }
    }
    int total = nc + extra;
    for (int c = 0; c < total; c++) {
        const char *name = c < nc ? fr_csv_colname(pts, c) : NULL;
        char n2[80];
        for (int k = 0; k < sc.nm && !name; k++) {
            if (at[k] == c)
                name = sc.m[k].name;
            else if (at_lo[k] == c || at_hi[k] == c) {
                snprintf(n2, sizeof n2, "%s_%s", sc.m[k].name, at_lo[k] == c ? "lo" : "hi");
                name = n2;
            }
        }
        fr_text_csv_field(&t, name, c + 1 < total ? ',' : '\n');
    }
    for (size_t p = 0; p < sc.np; p++)
        for (int c = 0; c < total; c++) {
            char sep = c + 1 < total ? ',' : '\n';
            int done = 0;
            for (int k = 0; k < sc.nm && !done; k++) {
                int given = !isnan(sc.m[k].val[p]);
                if (c == at[k] && (given || c >= nc))
                    fr_text_csv_double(&t, sc.m[k].val[p], sep), done = 1;
                else if ((c == at_lo[k] || c == at_hi[k]) && (given || c >= nc))
                    fr_text_csv_double(&t, c == at_lo[k] ? lo[k][p] : hi[k][p], sep), done = 1;
            }
            if (!done)
                fr_text_csv_field(&t, fr_csv_get(pts, p, c), sep);
        }
    rc = fr_text_write_atomic(&t, path, err);
    if (!rc && rep) {
        rep->metrics = sc.nm;
        rep->per_image = sc.per_image;
        for (size_t p = 0; p < sc.np; p++)
            for (int k = 0; k < sc.nm; k++)
                if (!isnan(sc.m[k].val[p])) {
                    rep->points++;
                    break;
                }
        for (int k = 0; k < sc.nm; k++) {
            size_t l = strlen(rep->names);
            snprintf(rep->names + l, sizeof rep->names - l, "%s%s", k ? "," : "", sc.m[k].name);
        }
    }
    if (!rc && e && e->n_bd) {
        rc = fr_results_write_bd(dir, e, err);
        if (!rc && rep)
            rep->bd = 1;
    }
free_ci:
    for (int k = 0; k < sc.nm; k++) {
        free(lo[k]);
        free(hi[k]);
    }
done:
    fr_text_free(&t);
    free(col);
    free(reps);
    free(w);
    score_free(&sc);
    fr_experiment_free(&e);
    fr_csv_destroy(&pts);
    return rc;
}

/* The metric files merged so far, in the order they were: DIR/scores/NNNNNN.csv. */
static int score_files(const char *dir, char ***names, int *n, FrError *err)
{
    char sd[4400];
    snprintf(sd, sizeof sd, "%s/scores", dir);
    *names = NULL;
    *n = 0;
    DIR *d = opendir(sd);
    if (!d)
        return errno == ENOENT ? 0 : fr_error(err, FR_E_IO, "%s: %s", sd, strerror(errno));
    int cap = 0, rc = 0;
    for (struct dirent *de; (de = readdir(d)) && !rc;) {
        size_t l = strlen(de->d_name);
        if (l != 10 || strspn(de->d_name, "0123456789") != 6 || strcmp(de->d_name + 6, ".csv"))
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            char **g = realloc(*names, (size_t)cap * sizeof *g);
            if (!g) {
                rc = fr_error(err, FR_E_NOMEM, "out of memory");
                break;
            }
            *names = g;
        }
        if (!((*names)[*n] = strdup(de->d_name)))
            rc = fr_error(err, FR_E_NOMEM, "out of memory");
        else
            (*n)++;
    }
    closedir(d);
    qsort(*names, (size_t)*n, sizeof **names, cmp_names);
    return rc;
}

static void names_free(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int fr_results_score(const char *dir, const char *metric_file, FrScoreReport *rep, FrError *err)
{
    int lock = -1;
    int rc = fr_results_lock(dir, 0, 1, &lock, err);
    if (!rc)
        rc = score_apply(dir, metric_file, rep, err);
    /* kept, so that a later run, which rewrites points.csv from its
     * journal, merges it again (fr_results_rescore) */
    char **names = NULL;
    int n = 0;
    if (!rc)
        rc = score_files(dir, &names, &n, err);
    if (!rc) {
        char sd[4400], dst[4500];
        snprintf(sd, sizeof sd, "%s/scores", dir);
        long next = n ? strtol(names[n - 1], NULL, 10) + 1 : 1;
        uint8_t *data = NULL;
        size_t len = 0;
        if (mkdir(sd, 0777) && errno != EEXIST)
            rc = fr_error(err, FR_E_IO, "%s: cannot create the directory (%s)", sd, strerror(errno));
        if (!rc)
            rc = fr_read_file(metric_file, &data, &len, err);
        snprintf(dst, sizeof dst, "%s/%06ld.csv", sd, next);
        if (!rc)
            rc = fr_write_file_atomic(dst, data, len, err);
        free(data);
    }
    names_free(names, n);
    fr_results_unlock(&lock);
    return rc;
}

int fr_results_rescore(const char *dir, FrError *err)
{
    char **names = NULL;
    int n = 0;
    int rc = score_files(dir, &names, &n, err);
    for (int i = 0; i < n && !rc; i++) {
        char p[4500];
        snprintf(p, sizeof p, "%s/scores/%s", dir, names[i]);
        rc = score_apply(dir, p, NULL, err);
    }
    names_free(names, n);
    return rc;
}
