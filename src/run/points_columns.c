/* points_columns.c: the points.csv column registry. One row per column:
 * name, unit, meaning and how its value is written, in file order. The CSV
 * header, each row (fr_point_row), points.columns.txt and the docs/run.md
 * table (tests/test_run.c checks it) all come from this one table, so a
 * column cannot be written under another column's name. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "run/points_internal.h"
#include "run/results_internal.h"
#include "config/config.h"

/* COL_MVAL .. COL_MHI: a metric column of the registry (its value, its raw
 * mean, its CI ends), named by the metric's column */
typedef enum { COL_STR, COL_INT, COL_DBL, COL_MVAL, COL_MRAW, COL_MLO, COL_MHI } ColType;

typedef struct Col {
    const char *name, *unit, *doc;
    ColType type;
    const char *(*str)(const FrPointCtx *c, const FrPoint *pt);
    long long (*num)(const FrPointCtx *c, const FrPoint *pt);
    double (*dbl)(const FrPointAgg *a);
    const char *metric; /* COL_M*: the metric column */
    int mcol;           /* its index (fr_metric_column_find), filled in at start */
} Col;

static const char *const KINDS[] = {"reference", "feature", "anchor", "reference-yuv"};

static long long c_ordinal(const FrPointCtx *c, const FrPoint *pt)
{
    (void)c;
    return pt->ordinal;
}

static const char *c_id(const FrPointCtx *c, const FrPoint *pt)
{
    (void)c;
    return pt->id;
}

static const char *c_kind(const FrPointCtx *c, const FrPoint *pt)
{
    (void)c;
    return KINDS[pt->kind];
}

static const char *c_curve(const FrPointCtx *c, const FrPoint *pt)
{
    (void)c;
    return pt->curve;
}

static const char *c_desc(const FrPointCtx *c, const FrPoint *pt)
{
    (void)c;
    return pt->desc;
}

static const char *c_split(const FrPointCtx *c, const FrPoint *pt)
{
    (void)c;
    return pt->split;
}

static const char *c_layer(const FrPointCtx *c, const FrPoint *pt)
{
    int feat = pt->kind == FR_POINT_FEATURE;
    return feat ? c->layer : "";
}

static const char *c_cut(const FrPointCtx *c, const FrPoint *pt)
{
    int feat = pt->kind == FR_POINT_FEATURE;
    return feat ? c->cut : "";
}

static long long c_bits(const FrPointCtx *c, const FrPoint *pt)
{
    (void)c;
    return pt->bits;
}

static const char *c_range(const FrPointCtx *c, const FrPoint *pt)
{
    int feat = pt->kind == FR_POINT_FEATURE;
    return feat ? c->range : "";
}

static const char *c_packing(const FrPointCtx *c, const FrPoint *pt)
{
    int feat = pt->kind == FR_POINT_FEATURE;
    (void)c;
    return feat ? fr_packing_name(pt->packing) : "";
}

static const char *c_codec(const FrPointCtx *c, const FrPoint *pt)
{
    (void)c;
    return pt->codec;
}

static const char *c_alloc(const FrPointCtx *c, const FrPoint *pt)
{
    int feat = pt->kind == FR_POINT_FEATURE;
    (void)c;
    return feat ? fr_allocation_name(pt->allocation) : "";
}

static long long c_qp(const FrPointCtx *c, const FrPoint *pt)
{
    (void)c;
    return pt->qp;
}

static long long c_quality(const FrPointCtx *c, const FrPoint *pt)
{
    (void)c;
    return pt->quality;
}

static long long c_images(const FrPointCtx *c, const FrPoint *pt)
{
    (void)pt;
    return (long long)c->images;
}

static double c_elements(const FrPointAgg *a)
{
    return a->elements;
}

static double c_bits_mean(const FrPointAgg *a)
{
    return a->bits_mean;
}

static double c_bits_std(const FrPointAgg *a)
{
    return a->bits_std;
}

static double c_kbpi(const FrPointAgg *a)
{
    return a->bits_mean / FR_KBIT;
}

static double c_payload_bits(const FrPointAgg *a)
{
    return a->payload;
}

static double c_side_bits(const FrPointAgg *a)
{
    return a->side;
}

static double c_bits_per_element(const FrPointAgg *a)
{
    return a->bits_mean / a->elements;
}

static double c_front_s(const FrPointAgg *a)
{
    return a->front;
}

static double c_encode_s(const FrPointAgg *a)
{
    return a->enc;
}

static double c_decode_s(const FrPointAgg *a)
{
    return a->dec;
}

static double c_back_s(const FrPointAgg *a)
{
    return a->back;
}

static double c_sens_s(const FrPointAgg *a)
{
    return a->sens;
}

static double c_rdopt_lambda(const FrPointAgg *a)
{
    return a->lambda;
}

static double c_d_pred(const FrPointAgg *a)
{
    return a->d_pred;
}

static double c_d_joint(const FrPointAgg *a)
{
    return a->d_joint;
}

static double c_kbpi_paper(const FrPointAgg *a)
{
    return a->paper / FR_KBIT;
}

static double c_kbpi_lo(const FrPointAgg *a)
{
    return a->kbpi_lo;
}

static double c_kbpi_hi(const FrPointAgg *a)
{
    return a->kbpi_hi;
}

static const Col base[] = {
    {"ordinal", "", "0-based position of the point in the sweep expansion (stable for a config)", COL_INT, NULL, c_ordinal, NULL, NULL, 0},
    {"id", "", "p<ordinal>-<8 hex digits of FNV-1a of desc>: stable point id", COL_STR, c_id, NULL, NULL, NULL, 0},
    {"kind", "", "reference (uncompressed network), feature (coded feature at a split), anchor "
             "(cloud-only: the input image coded) or reference-yuv (an HEVC anchor's colour "
             "conversion alone, no coding)", COL_STR, c_kind, NULL, NULL, NULL, 0},
    {"curve", "", "RD curve name: split=..,bits=..,range=..,packing=..,codec=..,alloc=.. for "
              "features (codec=<name>+<key>=<value> for each codec setting off its default); "
              "the anchor's name for anchors; 'reference'", COL_STR, c_curve, NULL, NULL, NULL, 0},
    {"desc", "", "canonical description of the point: curve plus ,qp=N or ,quality=N", COL_STR, c_desc, NULL, NULL, NULL, 0},
    {"split", "", "split as written in the config (empty for anchor/reference)", COL_STR, c_split, NULL, NULL, NULL, 0},
    {"layer", "", "darknet name of the split layer (<type>_<index>)", COL_STR, c_layer, NULL, NULL, NULL, 0},
    {"cut", "", "the cut set: every layer whose output crosses the split, joined by '+'", COL_STR, c_cut, NULL, NULL, NULL, 0},
    {"bits", "bit", "Q-layer bit depth n (0 for anchor/reference)", COL_INT, NULL, c_bits, NULL, NULL, 0},
    {"range", "", "Q-layer range mode: tensor or channel", COL_STR, c_range, NULL, NULL, NULL, 0},
    {"packing", "", "tile, quilt, frames or tile-sorted", COL_STR, c_packing, NULL, NULL, NULL, 0},
    {"codec", "", "inner codec (hevc, hevc-lossless, zlib, ...); anchors: hevc-420, hevc-400 "
              "(luma only) or jpeg; reference-yuv: yuv-420 / yuv-400; reference: none", COL_STR, c_codec, NULL, NULL, NULL, 0},
    {"alloc", "", "QP allocation: uniform, sensitivity, rdopt or rdopt-refine", COL_STR, c_alloc, NULL, NULL, NULL, 0},
    {"qp", "", "HEVC QP (uniform) or QP_base (sensitivity, rdopt, rdopt-refine); -1 when none", COL_INT, NULL, c_qp, NULL, NULL, 0},
    {"quality", "", "JPEG quality of a JPEG anchor; -1 otherwise", COL_INT, NULL, c_quality, NULL, NULL, 0},
    {"images", "", "number of images evaluated", COL_INT, NULL, c_images, NULL, NULL, 0},
    {"elements", "", "feature elements per image (sum over the cut set); anchors: 3*W*H input "
                 "samples of the original image (mean)", COL_DBL, NULL, NULL, c_elements, NULL, 0},
    {"bits_mean", "bit", "mean coded bits per image (container: payload + side info; HEVC anchors: "
                  "the stream + 248 bits of header/shape, JPEG anchors: the file)", COL_DBL, NULL, NULL, c_bits_mean, NULL, 0},
    {"bits_std", "bit", "standard deviation of bits per image (population)", COL_DBL, NULL, NULL, c_bits_std, NULL, 0},
    {"kbpi", "kbit", "kilobits per image = bits_mean / 1000", COL_DBL, NULL, NULL, c_kbpi, NULL, 0},
    {"payload_bits", "bit", "mean bits of the coded sample streams per image", COL_DBL, NULL, NULL, c_payload_bits, NULL, 0},
    {"side_bits", "bit", "mean side-information bits per image (header, shapes, min/max, QPs, CRC)", COL_DBL, NULL, NULL, c_side_bits, NULL, 0},
    {"bits_per_element", "bit", "bits_mean / elements", COL_DBL, NULL, NULL, c_bits_per_element, NULL, 0},
    {"map07", "", "detection: VOC2007 11-point mAP at map_iou (nan for other tasks)", COL_MVAL, NULL, NULL, NULL, "map07", 0},
    {"map", "", "detection: all-point mAP at map_iou (nan for other tasks)", COL_MVAL, NULL, NULL, NULL, "map", 0},
    {"top1", "", "classification: top-1 accuracy (nan for other tasks or without labels)", COL_MVAL, NULL, NULL, NULL, "top1", 0},
    {"top5", "", "classification: top-5 accuracy", COL_MVAL, NULL, NULL, NULL, "top5", 0},
    {"fidelity", "", "classification: share of images whose argmax equals the uncompressed "
                 "network's (seed 004 eq. 4); dense: mean pixel agreement (eq. 5)", COL_MVAL, NULL, NULL, NULL, "fidelity", 0},
    {"mse", "", "feature MSE in the float domain, mean over images (nan for anchors)", COL_MVAL, NULL, NULL, NULL, "mse", 0},
    {"psnr", "dB", "feature PSNR in dB, peak = max-min of the original feature, mean over images "
             "(inf when lossless)", COL_MVAL, NULL, NULL, NULL, "psnr", 0},
    {"mse_nbit", "", "feature MSE in the n-bit domain (both quantized with the original's range)", COL_MRAW, NULL, NULL, NULL, "psnr_nbit", 0},
    {"psnr_nbit", "dB", "feature PSNR in the n-bit domain, peak 2^n-1, from the mean mse_nbit", COL_MVAL, NULL, NULL, NULL, "psnr_nbit", 0},
    {"sqnr", "dB", "feature SQNR in dB: the original's mean square over the MSE, per image (over "
             "the cut set), mean over images (inf when lossless)", COL_MVAL, NULL, NULL, NULL, "sqnr", 0},
    {"front_s", "s", "timing: front-half seconds per image (shared by every point of the split)", COL_DBL, NULL, NULL, c_front_s, NULL, 0},
    {"encode_s", "s", "timing: encode seconds per image (Q-layer, packing, codec, container)", COL_DBL, NULL, NULL, c_encode_s, NULL, 0},
    {"decode_s", "s", "timing: decode seconds per image", COL_DBL, NULL, NULL, c_decode_s, NULL, 0},
    {"back_s", "s", "timing: back-half (anchors: whole network) seconds per image", COL_DBL, NULL, NULL, c_back_s, NULL, 0},
    {"sens_s", "s", "timing: sensitivity measurement seconds per image (allocations sensitivity, "
               "rdopt and rdopt-refine, scope image: for rdopt every QP of sweep.rdopt.qps; "
               "the cached figure when the measurements came from the cache)", COL_DBL, NULL, NULL, c_sens_s, NULL, 0},
    {"kbpi_paper", "kbit", "kilobits per image by seed 001's rule: payload + 32 bits per min/max float "
                   "(64 per tensor-range cut); anchors: the stream alone", COL_DBL, NULL, NULL, c_kbpi_paper, NULL, 0},
    {"kbpi_lo", "kbit", "bootstrap CI of kbpi over images (bootstrap.level, default 95%; percentile)", COL_DBL, NULL, NULL, c_kbpi_lo, NULL, 0},
    {"kbpi_hi", "kbit", "upper end of the kbpi CI", COL_DBL, NULL, NULL, c_kbpi_hi, NULL, 0},
    {"map07_lo", "", "bootstrap CI of map07 (images resampled, detections kept by image)", COL_MLO, NULL, NULL, NULL, "map07", 0},
    {"map07_hi", "", "upper end of the map07 CI", COL_MHI, NULL, NULL, NULL, "map07", 0},
    {"map_lo", "", "bootstrap CI of map", COL_MLO, NULL, NULL, NULL, "map", 0},
    {"map_hi", "", "upper end of the map CI", COL_MHI, NULL, NULL, NULL, "map", 0},
    {"top1_lo", "", "bootstrap CI of top1", COL_MLO, NULL, NULL, NULL, "top1", 0},
    {"top1_hi", "", "upper end of the top1 CI", COL_MHI, NULL, NULL, NULL, "top1", 0},
    {"top5_lo", "", "bootstrap CI of top5", COL_MLO, NULL, NULL, NULL, "top5", 0},
    {"top5_hi", "", "upper end of the top5 CI", COL_MHI, NULL, NULL, NULL, "top5", 0},
    {"fidelity_lo", "", "bootstrap CI of fidelity", COL_MLO, NULL, NULL, NULL, "fidelity", 0},
    {"fidelity_hi", "", "upper end of the fidelity CI", COL_MHI, NULL, NULL, NULL, "fidelity", 0},
    {"psnr_nbit_lo", "dB", "bootstrap CI of psnr_nbit (features)", COL_MLO, NULL, NULL, NULL, "psnr_nbit", 0},
    {"psnr_nbit_hi", "dB", "upper end of the psnr_nbit CI", COL_MHI, NULL, NULL, NULL, "psnr_nbit", 0},
    {"mse_lo", "", "bootstrap CI of mse (features; the mean of the resampled images' MSEs)", COL_MLO, NULL, NULL, NULL, "mse", 0},
    {"mse_hi", "", "upper end of the mse CI", COL_MHI, NULL, NULL, NULL, "mse", 0},
    {"psnr_lo", "dB", "bootstrap CI of psnr (features)", COL_MLO, NULL, NULL, NULL, "psnr", 0},
    {"psnr_hi", "dB", "upper end of the psnr CI", COL_MHI, NULL, NULL, NULL, "psnr", 0},
    {"sqnr_lo", "dB", "bootstrap CI of sqnr (features)", COL_MLO, NULL, NULL, NULL, "sqnr", 0},
    {"sqnr_hi", "dB", "upper end of the sqnr CI", COL_MHI, NULL, NULL, NULL, "sqnr", 0},
    {"rdopt_lambda", "", "rdopt: the Lagrangian slope whose allocation meets uniform QP_base's "
                     "rate, in measurement-layer MSE per bit, mean over images (0 for "
                     "rdopt-refine; nan for other allocations)", COL_DBL, NULL, NULL, c_rdopt_lambda, NULL, 0},
    {"d_pred", "", "rdopt: predicted distortion at the measurement layer, the sum of the chosen "
               "single-channel distortions D_i(q_i), mean over images", COL_DBL, NULL, NULL, c_d_pred, NULL, 0},
    {"d_joint", "", "rdopt: measured distortion (MSE at the measurement layer) of the whole "
                "decoded feature, mean over images; d_joint / d_pred - 1 is the additivity "
                "error", COL_DBL, NULL, NULL, c_d_joint, NULL, 0},
    {"recon_psnr", "dB", "invert: PSNR of the image reconstructed from the decoded feature by the "
                   "split's decoder (anchors and reference-yuv: the decoded image) against the "
                   "network input, both as 8-bit RGB (the recon/ PNGs), peak 255, mean over "
                   "images; nan without invert: or a decoder for the split", COL_MVAL, NULL, NULL, NULL, "recon_psnr", 0},
    {"recon_psnr_lo", "dB", "bootstrap CI of recon_psnr", COL_MLO, NULL, NULL, NULL, "recon_psnr", 0},
    {"recon_psnr_hi", "dB", "upper end of the recon_psnr CI", COL_MHI, NULL, NULL, NULL, "recon_psnr", 0},
    {"recon_ssim", "", "invert: SSIM (Wang et al. 2004; luma, 11x11 Gaussian window sigma 1.5, "
                   "valid windows) of the same 8-bit images, mean over images", COL_MVAL, NULL, NULL, NULL, "recon_ssim", 0},
    {"recon_ssim_lo", "", "bootstrap CI of recon_ssim", COL_MLO, NULL, NULL, NULL, "recon_ssim", 0},
    {"recon_ssim_hi", "", "upper end of the recon_ssim CI", COL_MHI, NULL, NULL, NULL, "recon_ssim", 0},
};
#define NBASE ((int)(sizeof base / sizeof base[0]))

/* The table in use: base, then value, _lo and _hi of every metric column
 * the base does not hold (a metric added to the registry), with the
 * metric's own doc. */
#define NCOLS_MAX (NBASE + 3 * FR_METRIC_MAX)
static Col cols[NCOLS_MAX];
static int ncols;
static char extra_names[3 * FR_METRIC_MAX][80], extra_docs[3 * FR_METRIC_MAX][400];
static FrColumnDoc docs[NCOLS_MAX];
static pthread_once_t cols_once = PTHREAD_ONCE_INIT;

static void fill_cols(void)
{
    int held[FR_METRIC_MAX] = {0}, nx = 0;
    for (int k = 0; k < NBASE; k++) {
        cols[ncols] = base[k];
        if (base[k].metric) {
            cols[ncols].mcol = fr_metric_column_find(base[k].metric);
            if (cols[ncols].mcol < 0) /* the registry lost a column the table writes */
                cols[ncols].type = COL_DBL, cols[ncols].dbl = NULL;
            else
                held[cols[ncols].mcol] = 1;
        }
        ncols++;
    }
    for (int c = 0; c < fr_metric_ncolumns(); c++) {
        if (held[c])
            continue;
        int m = fr_metric_for_column(c, FR_TASK_AUTO);
        for (int t = FR_TASK_DETECTION; m < 0 && t <= FR_TASK_DENSE; t++)
            m = fr_metric_for_column(c, (FrTask)t);
        const FrMetricDef *d = fr_metric_def(m);
        static const char *const suffix[3] = {"", "_lo", "_hi"};
        static const ColType type[3] = {COL_MVAL, COL_MLO, COL_MHI};
        for (int j = 0; j < 3; j++, nx++) {
            snprintf(extra_names[nx], sizeof extra_names[nx], "%s%s", d->info.column, suffix[j]);
            if (j == 0)
                snprintf(extra_docs[nx], sizeof extra_docs[nx], "%s (metric %s), mean over images",
                         d->info.doc, d->info.name);
            else
                snprintf(extra_docs[nx], sizeof extra_docs[nx], "%s end of the bootstrap CI of %s",
                         j == 1 ? "lower" : "upper", d->info.column);
            cols[ncols++] = (Col){extra_names[nx], d->unit, extra_docs[nx], type[j], NULL, NULL,
                                  NULL, d->info.column, c};
        }
    }
    for (int k = 0; k < ncols; k++) {
        docs[k].name = cols[k].name;
        docs[k].doc = cols[k].doc;
        docs[k].unit = cols[k].unit;
    }
}

const FrColumnDoc *fr_points_columns(int *n)
{
    pthread_once(&cols_once, fill_cols);
    *n = ncols;
    return docs;
}

static double metric_cell(const Col *c, const FrPointAgg *a)
{
    switch (c->type) {
    case COL_MVAL: return a->mval[c->mcol];
    case COL_MRAW: return a->mraw[c->mcol];
    case COL_MLO: return a->mlo[c->mcol];
    case COL_MHI: return a->mhi[c->mcol];
    default: return c->dbl ? c->dbl(a) : NAN;
    }
}

char *fr_point_row(const FrPointCtx *c, const FrPoint *pt, const FrPointAgg *a)
{
    pthread_once(&cols_once, fill_cols);
    FrText t = {0};
    for (int k = 0; k < ncols; k++) {
        char sep = k + 1 < ncols ? ',' : '\n';
        switch (cols[k].type) {
        case COL_STR: {
            const char *s = cols[k].str(c, pt);
            fr_text_csv_field(&t, s ? s : "", sep);
            break;
        }
        case COL_INT: fr_text_printf(&t, "%lld%c", cols[k].num(c, pt), sep); break;
        default: fr_text_csv_double(&t, metric_cell(&cols[k], a), sep); break;
        }
    }
    if (t.oom) {
        fr_text_free(&t);
        return NULL;
    }
    t.s[--t.len] = 0; /* rows are stored without their '\n' */
    return t.s;
}
