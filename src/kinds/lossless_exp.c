/* lossless_exp.c: the `kind: lossless` experiment (seed 000, Tables II-V,
 * Fig. 4): float32 features of every layer (or a listed set) of N images
 * through the general lossless coders, with compression rate (eq. 1),
 * non-zero rate and time per feature; optionally the same on the n-bit
 * Q-layer output. Owns lossless.csv, lossless_table.txt, lossless_fig4.dat
 * and the table printer. Layers run one after another and lossless.csv is
 * rewritten atomically after each, so a killed run resumes at the next layer.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "featrd.h"
#include "run/results_internal.h"
#include "codec/codec.h"
#include "codec/quant.h"
#include "kinds/experiments.h"
#include "metrics/metrics.h"
#include "util/csv.h"

/* fr_lossless_encode prepends the original length (8 bytes) so that it can
 * decode without side channel; the coders' own formats (gzip, xz, zstd)
 * already carry what they need, so the rate counts the coder's bytes only. */
#define LOSSLESS_PREFIX 8
#define MAX_CODERS 8

/* The columns of lossless.csv, documented in docs/experiments.md. */
static const char *const csv_cols[] = {
    "layer_index", "layer", "alias", "type", "c", "h", "w", "repr", "images", "volume_bytes",
    "nonzero_mean", "nonzero_std", "coder", "rate_mean", "rate_std", "bytes_mean",
    "enc_s_mean", "enc_s_std", "dec_s_mean", "dec_s_std",
};
#define NCOLS ((int)(sizeof csv_cols / sizeof csv_cols[0]))

/* running mean / variance (Welford) */
typedef struct Stat {
    size_t n;
    double mean, m2;
} Stat;

static void stat_add(Stat *s, double x)
{
    s->n++;
    double d = x - s->mean;
    s->mean += d / (double)s->n;
    s->m2 += d * (x - s->mean);
}

/* sample standard deviation; 0 for one sample */
static double stat_std(const Stat *s) { return s->n > 1 ? sqrt(s->m2 / (double)(s->n - 1)) : 0; }

typedef struct CoderStats {
    Stat rate, bytes, enc, dec;
} CoderStats;

typedef struct ReprStats {
    Stat nonzero;
    CoderStats coder[MAX_CODERS];
} ReprStats;

int fr_lossless_measure(FrCodecKind k, const void *data, size_t n, int repeats,
                        FrLosslessMeasure *out, FrError *err)
{
    uint8_t *enc = NULL, *dec = NULL;
    size_t enc_n = 0, dec_n = 0;
    double t_enc = 0;
    int rc = 0;
    memset(out, 0, sizeof *out);
    if (repeats < 1)
        repeats = 1;
    for (int r = 0; r < repeats; r++) {
        free(enc);
        enc = NULL;
        double t0 = fr_now();
        rc = fr_lossless_encode(k, data, n, &enc, &enc_n, err);
        t_enc += fr_now() - t0;
        if (rc)
            goto done;
    }
    double t0 = fr_now();
    rc = fr_lossless_decode(k, enc, enc_n, &dec, &dec_n, err);
    out->dec_s = fr_now() - t0;
    if (rc)
        goto done;
    if (dec_n != n || (n && memcmp(dec, data, n))) {
        rc = fr_error(err, FR_E_INTERNAL, "%s did not decode back exactly", fr_codec_name(k));
        goto done;
    }
    out->original_bytes = n;
    out->coded_bytes = enc_n > LOSSLESS_PREFIX ? enc_n - LOSSLESS_PREFIX : enc_n;
    out->rate = fr_compression_rate(8.0 * (double)out->coded_bytes, 8.0 * (double)n);
    out->enc_s = t_enc / repeats;
done:
    free(enc);
    free(dec);
    return rc;
}

/* One feature through one coder into the running statistics. */
static int code_one(FrCodecKind k, const uint8_t *data, size_t n, int repeats, CoderStats *cs,
                    const char *what, FrError *err)
{
    FrLosslessMeasure m;
    int rc = fr_lossless_measure(k, data, n, repeats, &m, err);
    if (rc) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err ? err->msg : fr_strerror(rc));
        return fr_error(err, rc, "%s: %.600s", what, why);
    }
    stat_add(&cs->rate, m.rate);
    stat_add(&cs->bytes, (double)m.coded_bytes);
    stat_add(&cs->enc, m.enc_s);
    stat_add(&cs->dec, m.dec_s);
    return 0;
}

/* The n-bit Q-layer samples (global min/max, eq. 2) as the coders see them
 * in kind rd: 1 byte per sample up to 8 bits, else 2 bytes little-endian. */
static int quantized_bytes(const FrTensor *t, int bits, uint8_t **out, size_t *out_n,
                           double *nonzero, FrError *err)
{
    size_t n = fr_tensor_size(t);
    float mn, mx;
    int rc = fr_quant_ranges(t, FR_RANGE_TENSOR, 0, &mn, &mx, err);
    if (rc)
        return rc;
    uint16_t *q = malloc((n ? n : 1) * sizeof *q);
    size_t bps = bits <= 8 ? 1 : 2;
    uint8_t *b = malloc(n ? n * bps : 1);
    if (!q || !b) {
        free(q);
        free(b);
        return fr_error(err, FR_E_NOMEM, "out of memory quantizing a feature");
    }
    rc = fr_quantize(t, bits, FR_RANGE_TENSOR, &mn, &mx, q, err);
    size_t nz = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        nz += q[i] != 0;
        if (bps == 1)
            b[i] = (uint8_t)q[i];
        else {
            b[2 * i] = (uint8_t)q[i];
            b[2 * i + 1] = (uint8_t)(q[i] >> 8);
        }
    }
    free(q);
    if (rc) {
        free(b);
        return rc;
    }
    *nonzero = n ? (double)nz / (double)n : NAN;
    *out = b;
    *out_n = n * bps;
    return 0;
}

static void add_rows(FrText *t, const FrLayerInfo *li, const char *repr, size_t images,
                     size_t volume, const ReprStats *rs, const FrCodecKind *coders, int ncoders)
{
    for (int k = 0; k < ncoders; k++) {
        const CoderStats *c = &rs->coder[k];
        fr_text_printf(t, "%d,", li->index);
        fr_text_csv_field(t, li->name, ',');
        fr_text_csv_field(t, li->alias ? li->alias : "", ',');
        fr_text_csv_field(t, li->type, ',');
        fr_text_printf(t, "%d,%d,%d,", li->c, li->h, li->w);
        fr_text_csv_field(t, repr, ',');
        fr_text_printf(t, "%zu,%zu,", images, volume);
        fr_text_csv_double(t, rs->nonzero.mean, ',');
        fr_text_csv_double(t, stat_std(&rs->nonzero), ',');
        fr_text_csv_field(t, fr_codec_name(coders[k]), ',');
        fr_text_csv_double(t, c->rate.mean, ',');
        fr_text_csv_double(t, stat_std(&c->rate), ',');
        fr_text_csv_double(t, c->bytes.mean, ',');
        fr_text_csv_double(t, c->enc.mean, ',');
        fr_text_csv_double(t, stat_std(&c->enc), ',');
        fr_text_csv_double(t, c->dec.mean, ',');
        fr_text_csv_double(t, stat_std(&c->dec), '\n');
    }
}

/* Rows of an earlier (killed) run: kept verbatim; their layer indices are
 * marked done. */
static int load_previous(const char *path, FrText *rows, unsigned char *done, int nlayers,
                         FrError *err)
{
    if (access(path, F_OK) != 0)
        return 0;
    FrCsv *csv = NULL;
    int rc = fr_csv_read(path, &csv, err);
    if (rc)
        return rc;
    if (fr_csv_ncols(csv) != NCOLS) {
        fr_csv_destroy(&csv);
        return fr_error(err, FR_E_FORMAT,
                        "%s: %d columns, expected %d: written by another featrd version; "
                        "remove it or run with --force", path, fr_csv_ncols(csv), NCOLS);
    }
    for (size_t r = 0; r < fr_csv_nrows(csv); r++) {
        long li;
        if ((rc = fr_csv_get_long(csv, r, 0, &li, err)))
            break;
        if (li >= 0 && li < nlayers)
            done[li] = 1;
        for (int c = 0; c < NCOLS; c++)
            fr_text_csv_field(rows, fr_csv_get(csv, r, c), c + 1 < NCOLS ? ',' : '\n');
    }
    fr_csv_destroy(&csv);
    return rc;
}

static int write_csv(const char *path, const FrText *rows, FrError *err)
{
    FrText t = {0};
    for (int c = 0; c < NCOLS; c++)
        fr_text_csv_field(&t, csv_cols[c], c + 1 < NCOLS ? ',' : '\n');
    if (rows->len)
        fr_text_printf(&t, "%.*s", (int)rows->len, rows->s);
    int rc = fr_text_write_atomic(&t, path, err);
    fr_text_free(&t);
    return rc;
}

/* ---------------- table printer ---------------- */

static void fmt_volume(char *buf, size_t cap, double bytes)
{
    /* the paper's units: 12.25M, 1568K, 4000 (binary multiples) */
    if (bytes >= 2 * 1048576.0)
        snprintf(buf, cap, "%gM", bytes / 1048576.0);
    else if (bytes >= 16384)
        snprintf(buf, cap, "%gK", bytes / 1024.0);
    else
        snprintf(buf, cap, "%.0f", bytes);
}

/* seconds with the paper's "m" for milliseconds below 0.01 s */
static void fmt_time(char *buf, size_t cap, double mean, double sd)
{
    if (mean < 0.01)
        snprintf(buf, cap, "%.3fm±%.3fm", mean * 1e3, sd * 1e3);
    else
        snprintf(buf, cap, "%.3f±%.3f", mean, sd);
}

int fr_lossless_table(const char *csv_path, const char *repr, FILE *f, FrError *err)
{
    FrCsv *csv = NULL;
    int rc = fr_csv_read(csv_path, &csv, err);
    if (rc)
        return rc;
    if (!repr)
        repr = "float32";
    int col[NCOLS];
    for (int c = 0; c < NCOLS; c++)
        if ((col[c] = fr_csv_require_col(csv, csv_cols[c], err)) < 0) {
            fr_csv_destroy(&csv);
            return FR_E_FORMAT;
        }
    /* coder order as first seen */
    char coders[MAX_CODERS][16];
    int ncod = 0;
    size_t nrows = fr_csv_nrows(csv);
    for (size_t r = 0; r < nrows; r++) {
        if (strcmp(fr_csv_get(csv, r, col[7]), repr))
            continue;
        const char *cn = fr_csv_get(csv, r, col[12]);
        int found = 0;
        for (int k = 0; k < ncod; k++)
            found |= !strcmp(coders[k], cn);
        if (!found && ncod < MAX_CODERS)
            snprintf(coders[ncod++], sizeof coders[0], "%s", cn);
    }
    fprintf(f, "%-16s %-16s %-8s %-13s", "Feat. type", "Feat. shape", "Volume", "Non-zero");
    for (int k = 0; k < ncod; k++) {
        char up[16];
        for (int i = 0; i < 16; i++)
            up[i] = (char)(coders[k][i] >= 'a' && coders[k][i] <= 'z' ? coders[k][i] - 32
                                                                        : coders[k][i]);
        fprintf(f, " | %-13s %-19s", up, "");
    }
    fprintf(f, "\n%-16s %-16s %-8s %-13s", "", "", "", "");
    for (int k = 0; k < ncod; k++)
        fprintf(f, " | %-13s %-19s", "Comp. rate", "Time (s)");
    fputc('\n', f);
    long last = -1;
    for (size_t r = 0; r < nrows; r++) {
        if (strcmp(fr_csv_get(csv, r, col[7]), repr))
            continue;
        long li;
        if ((rc = fr_csv_get_long(csv, r, col[0], &li, err)))
            break;
        if (li == last)
            continue;
        last = li;
        char name[64], shape[48], vol[24], nz[32];
        const char *alias = fr_csv_get(csv, r, col[2]);
        snprintf(name, sizeof name, "%s", *alias ? alias : fr_csv_get(csv, r, col[1]));
        long c, h, w;
        double v, nzm, nzs;
        if ((rc = fr_csv_get_long(csv, r, col[4], &c, err)) ||
            (rc = fr_csv_get_long(csv, r, col[5], &h, err)) ||
            (rc = fr_csv_get_long(csv, r, col[6], &w, err)) ||
            (rc = fr_csv_get_double(csv, r, col[9], &v, err)) ||
            (rc = fr_csv_get_double_nf(csv, r, col[10], &nzm, err)) ||
            (rc = fr_csv_get_double_nf(csv, r, col[11], &nzs, err)))
            break;
        /* the paper writes H × W × C, and "4096 × 1" for vectors */
        if (h == 1 && w == 1)
            snprintf(shape, sizeof shape, "%ld x 1", c);
        else
            snprintf(shape, sizeof shape, "%ld x %ld x %ld", h, w, c);
        fmt_volume(vol, sizeof vol, v);
        snprintf(nz, sizeof nz, "%.3f±%.3f", nzm, nzs);
        fprintf(f, "%-16s %-16s %-8s %-13s", name, shape, vol, nz);
        for (int k = 0; k < ncod; k++) {
            /* the row of this layer, repr and coder */
            size_t rr = r;
            int ok = 0;
            for (; rr < nrows; rr++) {
                long lj;
                if (fr_csv_get_long(csv, rr, col[0], &lj, NULL) || lj != li)
                    break;
                if (!strcmp(fr_csv_get(csv, rr, col[7]), repr) &&
                    !strcmp(fr_csv_get(csv, rr, col[12]), coders[k])) {
                    ok = 1;
                    break;
                }
            }
            char rate[32] = "-", tm[40] = "-";
            if (ok) {
                double rm, rs, em, es;
                if (!fr_csv_get_double_nf(csv, rr, col[13], &rm, NULL) &&
                    !fr_csv_get_double_nf(csv, rr, col[14], &rs, NULL))
                    snprintf(rate, sizeof rate, "%.3f±%.3f", rm, rs);
                if (!fr_csv_get_double_nf(csv, rr, col[16], &em, NULL) &&
                    !fr_csv_get_double_nf(csv, rr, col[17], &es, NULL))
                    fmt_time(tm, sizeof tm, em, es);
            }
            fprintf(f, " | %-13s %-19s", rate, tm);
        }
        fputc('\n', f);
    }
    fr_csv_destroy(&csv);
    return rc;
}

/* lossless_fig4.dat: one line per layer, "feature nonzero rate(coder)...",
 * for plots/lossless.gp (gnuplot reads whitespace-separated columns). */
static int write_fig4(const char *dir, const char *csv_path, const char *repr, const char *file,
                      FrError *err)
{
    FrCsv *csv = NULL;
    int rc = fr_csv_read(csv_path, &csv, err);
    if (rc)
        return rc;
    FrText t = {0};
    char coders[MAX_CODERS][16];
    int ncod = 0;
    size_t nrows = fr_csv_nrows(csv);
    for (size_t r = 0; r < nrows; r++) {
        if (strcmp(fr_csv_get(csv, r, 7), repr))
            continue;
        const char *cn = fr_csv_get(csv, r, 12);
        int found = 0;
        for (int k = 0; k < ncod; k++)
            found |= !strcmp(coders[k], cn);
        if (!found && ncod < MAX_CODERS)
            snprintf(coders[ncod++], sizeof coders[0], "%s", cn);
    }
    fr_text_printf(&t, "# %s features: compression rate per coder (seed 000 eq. 1); written by "
                   "featrd from lossless.csv\nfeature nonzero", repr);
    for (int k = 0; k < ncod; k++)
        fr_text_printf(&t, " %s", coders[k]);
    fr_text_printf(&t, "\n");
    const char *last = NULL;
    for (size_t r = 0; r < nrows; r++) {
        if (strcmp(fr_csv_get(csv, r, 7), repr))
            continue;
        if (last && !strcmp(last, fr_csv_get(csv, r, 0)))
            continue;
        last = fr_csv_get(csv, r, 0);
        const char *alias = fr_csv_get(csv, r, 2);
        fr_text_printf(&t, "%s %s", *alias ? alias : fr_csv_get(csv, r, 1), fr_csv_get(csv, r, 10));
        for (int k = 0; k < ncod; k++) {
            const char *v = "nan";
            for (size_t rr = r; rr < nrows && !strcmp(fr_csv_get(csv, rr, 0), last); rr++)
                if (!strcmp(fr_csv_get(csv, rr, 7), repr) &&
                    !strcmp(fr_csv_get(csv, rr, 12), coders[k]))
                    v = fr_csv_get(csv, rr, 13);
            fr_text_printf(&t, " %s", v);
        }
        fr_text_printf(&t, "\n");
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    rc = fr_text_write_atomic(&t, path, err);
    fr_text_free(&t);
    fr_csv_destroy(&csv);
    return rc;
}

static int write_table_file(const char *csv_path, const char *repr, const char *path,
                            FrError *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return fr_error(err, FR_E_NOMEM, "out of memory for the table");
    int rc = fr_lossless_table(csv_path, repr, f, err);
    fclose(f);
    if (!rc)
        rc = fr_write_file_atomic(path, buf, len, err);
    free(buf);
    return rc;
}

int fr_lossless_plot(const char *dir, const char *scripts_dir, FrError *err)
{
    char script[4096], vars[4200];
    snprintf(script, sizeof script, "%s/lossless.gp", scripts_dir ? scripts_dir : fr_plots_dir());
    if (strpbrk(dir, "'\"\\$`"))
        return fr_error(err, FR_E_USAGE, "%s: quotes, '$' or '`' in a results path cannot be passed to gnuplot", dir);
    snprintf(vars, sizeof vars, "dir='%s'", dir);
    return fr_gnuplot_run(script, vars, err);
}

/* ---------------- the run ---------------- */

static void model_settings(const FrExperiment *e, FrModelSettings *ms)
{
    fr_model_spec_settings(&e->model, ms);
    ms->quiet = 1;
}

/* Runs the network on one image up to `layer` and copies its output. */
static int layer_feature(FrModel *m, int nlayers, const FrTensor *input, int layer, FrTensor *out,
                         FrError *err)
{
    int rc;
    if (layer < nlayers - 1) {
        FrTensor cuts[FR_MODEL_MAX_CUTS];
        int ncuts = 0;
        rc = fr_model_front(m, input, layer, cuts, &ncuts, err);
        for (int i = 0; i < ncuts; i++)
            fr_tensor_free(&cuts[i]);
        if (rc) /* e.g. a cut set too large: the full pass computes the layer too */
            rc = fr_model_forward(m, input, err);
    } else {
        rc = fr_model_forward(m, input, err);
    }
    if (!rc)
        rc = fr_model_layer_output(m, layer, out);
    return rc;
}

static int run_lossless(const FrExperiment *e, const FrRunOptions *o_in, FrError *err)
{
    FrRunOptions o;
    if (o_in)
        o = *o_in;
    else
        fr_run_options_defaults(&o);
    if (o.shard_count > 1 || o.chunks > 0)
        return fr_error(err, FR_E_USAGE, "kind lossless does not shard (its layers resume "
                        "instead); run without --shard or --chunks, and submit it as one job");
    const FrLosslessSpec *ls = fr_experiment_kind_settings(e);
    FrModel *m = NULL;
    FrImageList list = {0};
    FrTensor *inputs = NULL;
    unsigned char *done = NULL;
    int *layers = NULL, nl = 0;
    FrText rows = {0};
    int lock_fd = -1, manifest_running = 0;
    FrProgress *prog = NULL;
    FrCodecKind coders[MAX_CODERS];
    int ncoders = 0, rc;
    const char *dir = e->output.dir;
    char csv_path[4096], man_path[4096], path[4096];

    if (!e->dataset.images)
        return fr_experiment_error(e, err, FR_E_CONFIG, "dataset.images",
                                   "kind lossless needs an image list (dataset.images)");
    if (ls->n_coders < 1 || ls->n_coders > MAX_CODERS)
        return fr_experiment_error(e, err, FR_E_CONFIG, "lossless.coders",
                                   "give 1 to %d coders", MAX_CODERS);
    for (int k = 0; k < ls->n_coders; k++) {
        char key[64];
        snprintf(key, sizeof key, "lossless.coders[%d]", k);
        if (fr_codec_from_name(ls->coders[k], &coders[k], NULL) || !fr_codec_is_general(coders[k]))
            return fr_experiment_error(e, err, FR_E_CONFIG, key,
                                       "'%s' is not a coder of any bytes (see featrd help "
                                       "codecs)", ls->coders[k]);
        ncoders++;
    }
    int repeats = ls->repeats > 0 ? ls->repeats : 1;
    int qbits = ls->quantized_bits;
    if (qbits < 0 || qbits > 16)
        return fr_experiment_error(e, err, FR_E_CONFIG, "lossless.quantized_bits",
                                   "%d is out of range (0 = off, 1..16)", qbits);
    if ((rc = fr_experiment_check_files(e, err)))
        return rc;
    /* the run lock before anything in dir is read or changed: a second run
     * on the same directory is refused, naming the first one's pid */
    if ((rc = fr_results_dir_prepare(dir, err)) ||
        (rc = fr_results_lock(dir, 0, 1, &lock_fd, err)))
        return rc;
    if ((rc = fr_results_check_config(dir, e, o.force, err))) {
        fr_results_unlock(&lock_fd);
        return rc;
    }
    snprintf(csv_path, sizeof csv_path, "%s/lossless.csv", dir);
    snprintf(man_path, sizeof man_path, "%s/manifest.yaml", dir);
    if (o.force)
        unlink(csv_path);

    FrModelSettings ms;
    model_settings(e, &ms);
    if ((rc = fr_model_open(&m, &ms, err)))
        goto out;
    int count = fr_model_layer_count(m);
    if ((rc = fr_experiment_images(e, &list, err)))
        goto out;

    layers = malloc(sizeof *layers * (size_t)(count > 0 ? count : 1));
    done = calloc((size_t)(count > 0 ? count : 1), 1);
    if (!layers || !done) {
        rc = fr_error(err, FR_E_NOMEM, "out of memory");
        goto out;
    }
    if (ls->all_layers) {
        for (int i = 0; i < count; i++)
            layers[nl++] = i;
    } else {
        for (int i = 0; i < ls->n_layers && nl < count; i++) {
            int idx;
            FrError le;
            if (fr_model_find_layer(m, ls->layers[i], &idx, &le)) {
                char key[64];
                snprintf(key, sizeof key, "lossless.layers[%d]", i);
                rc = fr_experiment_error(e, err, FR_E_CONFIG, key, "%s", le.msg);
                goto out;
            }
            layers[nl++] = idx;
        }
    }
    if ((rc = load_previous(csv_path, &rows, done, count, err)))
        goto out;
    if ((rc = fr_manifest_write_kind(man_path, e, o.git_dir, "lossless.csv", "running", err)))
        goto out;
    manifest_running = 1;

    /* network inputs are small next to the features; keep them when they fit */
    int ic, ih, iw;
    fr_model_input_size(m, &ic, &ih, &iw);
    size_t in_bytes = (size_t)ic * (size_t)ih * (size_t)iw * 4 * list.n;
    int cache_inputs = in_bytes <= ((size_t)512 << 20);
    inputs = calloc(list.n ? list.n : 1, sizeof *inputs);
    if (!inputs) {
        rc = fr_error(err, FR_E_NOMEM, "out of memory");
        goto out;
    }
    size_t already = 0;
    for (int i = 0; i < nl; i++)
        already += done[layers[i]];
    char pname[256];
    snprintf(pname, sizeof pname, "lossless %s", e->name ? e->name : "");
    prog = fr_progress_create(e->quiet ? FR_PROGRESS_NONE : o.progress, pname, (size_t)nl, already);

    for (int li = 0; li < nl; li++) {
        int L = layers[li];
        if (done[L])
            continue;
        FrLayerInfo info;
        if ((rc = fr_model_layer_info(m, L, &info))) {
            rc = fr_error(err, rc, "layer %d: no such layer", L);
            goto out;
        }
        ReprStats fs, qs;
        memset(&fs, 0, sizeof fs);
        memset(&qs, 0, sizeof qs);
        size_t qvol = 0;
        for (size_t im = 0; im < list.n; im++) {
            if ((rc = fr_run_stop_check("layers", err)))
                goto out;
            FrTensor in_t = {0}, feat = {0};
            FrTensor *input = cache_inputs ? &inputs[im] : &in_t;
            if (!input->data) {
                FrTensor rgb = {0};
                rc = fr_model_load_image(m, list.items[im].path, &rgb, err);
                if (!rc)
                    rc = fr_model_prepare_input(m, &rgb, input);
                fr_tensor_free(&rgb);
                if (rc)
                    goto out;
            }
            rc = layer_feature(m, count, input, L, &feat, err);
            fr_tensor_free(&in_t);
            if (rc)
                goto out;
            size_t n = fr_tensor_size(&feat);
            stat_add(&fs.nonzero, fr_nonzero_rate(feat.data, n));
            char what[512];
            snprintf(what, sizeof what, "%s, %s", info.name, list.items[im].path);
            for (int k = 0; k < ncoders && !rc; k++)
                rc = code_one(coders[k], (const uint8_t *)feat.data, 4 * n, repeats, &fs.coder[k],
                              what, err);
            if (!rc && qbits) {
                uint8_t *qb = NULL;
                size_t qn = 0;
                double nz = 0;
                rc = quantized_bytes(&feat, qbits, &qb, &qn, &nz, err);
                if (!rc) {
                    stat_add(&qs.nonzero, nz);
                    qvol = qn;
                }
                for (int k = 0; k < ncoders && !rc; k++)
                    rc = code_one(coders[k], qb, qn, repeats, &qs.coder[k], what, err);
                free(qb);
            }
            fr_tensor_free(&feat);
            if (rc)
                goto out;
            if (prog)
                fr_progress_note(prog, "%s: image %zu/%zu", info.name, im + 1, list.n);
        }
        add_rows(&rows, &info, "float32", list.n, info.bytes, &fs, coders, ncoders);
        if (qbits) {
            char repr[8];
            snprintf(repr, sizeof repr, "q%d", qbits);
            add_rows(&rows, &info, repr, list.n, qvol, &qs, coders, ncoders);
        }
        if ((rc = write_csv(csv_path, &rows, err)))
            goto out;
        done[L] = 1;
        if (prog) {
            char detail[256];
            int best = 0;
            for (int k = 1; k < ncoders; k++)
                if (fs.coder[k].rate.mean < fs.coder[best].rate.mean)
                    best = k;
            snprintf(detail, sizeof detail, "nonzero=%.3f best=%s rate=%.3f", fs.nonzero.mean,
                     fr_codec_name(coders[best]), fs.coder[best].rate.mean);
            fr_progress_step(prog, info.name, detail, o.on_progress, o.progress_user);
        }
    }
    if (prog)
        fr_progress_destroy(&prog);
    if (rows.oom) {
        rc = fr_error(err, FR_E_NOMEM, "out of memory building %s", csv_path);
        goto out;
    }
    /* a resumed run with nothing left still (re)writes the derived files */
    if ((rc = write_csv(csv_path, &rows, err)))
        goto out;
    snprintf(path, sizeof path, "%s/lossless_table.txt", dir);
    if ((rc = write_table_file(csv_path, "float32", path, err)))
        goto out;
    if ((rc = write_fig4(dir, csv_path, "float32", "lossless_fig4.dat", err)))
        goto out;
    if (qbits) {
        char repr[8];
        snprintf(repr, sizeof repr, "q%d", qbits);
        snprintf(path, sizeof path, "%s/lossless_table_%s.txt", dir, repr);
        if ((rc = write_table_file(csv_path, repr, path, err)))
            goto out;
        snprintf(path, sizeof path, "lossless_fig4_%s.dat", repr);
        if ((rc = write_fig4(dir, csv_path, repr, path, err)))
            goto out;
    }
    if (!e->quiet && o.progress != FR_PROGRESS_NONE) {
        printf("%s: %zu images per layer\n", csv_path, list.n);
        fr_lossless_table(csv_path, "float32", stdout, NULL);
    }
    if ((rc = fr_manifest_write_kind(man_path, e, o.git_dir, "lossless.csv", "done", err)))
        goto out;
    int plots = o.plots >= 0 ? o.plots : e->output.plots;
    if (plots) {
        FrError pe;
        if (fr_lossless_plot(dir, NULL, &pe))
            fprintf(stderr, "featrd: warning: no plot: %s\n", pe.msg);
    }
    rc = 0;
out:
    if (prog)
        fr_progress_destroy(&prog);
    if (rc && manifest_running) {
        /* the manifest must not stay "running" after a failure or a signal */
        FrError me = {0};
        fr_manifest_write_kind(man_path, e, o.git_dir, "lossless.csv",
                               rc == FR_E_INTERRUPTED ? "interrupted" : "failed", &me);
    }
    fr_results_unlock(&lock_fd);
    if (inputs)
        for (size_t i = 0; i < list.n; i++)
            fr_tensor_free(&inputs[i]);
    free(inputs);
    free(layers);
    free(done);
    fr_text_free(&rows);
    fr_image_list_free(&list);
    fr_model_close(&m);
    return rc;
}

/* The run between fr_run_stop_enter and _leave, so that SIGINT/SIGTERM (the
 * CLI's fr_run_request_stop) stops it between saved layers. */
int fr_run_lossless(const FrExperiment *e, const FrRunOptions *o_in, FrError *err)
{
    fr_run_stop_enter();
    int rc = run_lossless(e, o_in, err);
    fr_run_stop_leave(rc == FR_E_INTERRUPTED);
    return rc;
}
