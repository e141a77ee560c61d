/* points_columns.c: the points.csv column registry. One row per column:
 * name, unit, meaning and how its value is written, in file order. The CSV
 * header, each row (fr_point_row), points.columns.txt and the docs/run.md
 * table (tests/test_run.c checks it) all come from this one table, so a
 * column cannot be written under another column's name. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "run/points_internal.h"
#include "run/results_internal.h"
#include "config/config.h"

typedef enum { COL_STR, COL_INT, COL_DBL } ColType;

typedef struct Col {
    const char *name, *unit, *doc;
    ColType type;
    const char *(*str)(const FrPointCtx *c, const FrPoint *pt);
    long long (*num)(const FrPointCtx *c, const FrPoint *pt);
    double (*dbl)(const FrPointAgg *a);
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

static double c_map07(const FrPointAgg *a)
{
    return a->map07;
}

static double c_map(const FrPointAgg *a)
{
    return a->map;
}

static double c_top1(const FrPointAgg *a)
{
    return a->top1;
}

static double c_top5(const FrPointAgg *a)
{
    return a->top5;
}

static double c_fidelity(const FrPointAgg *a)
{
    return a->fidelity;
}

static double c_mse(const FrPointAgg *a)
{
    return a->mse;
}

static double c_psnr(const FrPointAgg *a)
{
    return a->psnr;
}

static double c_mse_nbit(const FrPointAgg *a)
{
    return a->mse_nbit;
}

static double c_psnr_nbit(const FrPointAgg *a)
{
    return a->psnr_nbit;
}

static double c_sqnr(const FrPointAgg *a)
{
    return a->sqnr;
}

static double c_mse_lo(const FrPointAgg *a)
{
    return a->lo[B_MSE];
}

static double c_mse_hi(const FrPointAgg *a)
{
    return a->hi[B_MSE];
}

static double c_psnr_lo(const FrPointAgg *a)
{
    return a->lo[B_PSNR];
}

static double c_psnr_hi(const FrPointAgg *a)
{
    return a->hi[B_PSNR];
}

static double c_sqnr_lo(const FrPointAgg *a)
{
    return a->lo[B_SQNR];
}

static double c_sqnr_hi(const FrPointAgg *a)
{
    return a->hi[B_SQNR];
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
    return a->lo[B_KBPI];
}

static double c_kbpi_hi(const FrPointAgg *a)
{
    return a->hi[B_KBPI];
}

static double c_map07_lo(const FrPointAgg *a)
{
    return a->lo[B_MAP07];
}

static double c_map07_hi(const FrPointAgg *a)
{
    return a->hi[B_MAP07];
}

static double c_map_lo(const FrPointAgg *a)
{
    return a->lo[B_MAP];
}

static double c_map_hi(const FrPointAgg *a)
{
    return a->hi[B_MAP];
}

static double c_top1_lo(const FrPointAgg *a)
{
    return a->lo[B_TOP1];
}

static double c_top1_hi(const FrPointAgg *a)
{
    return a->hi[B_TOP1];
}

static double c_top5_lo(const FrPointAgg *a)
{
    return a->lo[B_TOP5];
}

static double c_top5_hi(const FrPointAgg *a)
{
    return a->hi[B_TOP5];
}

static double c_fidelity_lo(const FrPointAgg *a)
{
    return a->lo[B_FID];
}

static double c_fidelity_hi(const FrPointAgg *a)
{
    return a->hi[B_FID];
}

static double c_psnr_nbit_lo(const FrPointAgg *a)
{
    return a->lo[B_PSNR_NBIT];
}

static double c_psnr_nbit_hi(const FrPointAgg *a)
{
    return a->hi[B_PSNR_NBIT];
}

static double c_recon_psnr(const FrPointAgg *a)
{
    return a->rpsnr;
}

static double c_recon_psnr_lo(const FrPointAgg *a)
{
    return a->lo[B_RPSNR];
}

static double c_recon_psnr_hi(const FrPointAgg *a)
{
    return a->hi[B_RPSNR];
}

static double c_recon_ssim(const FrPointAgg *a)
{
    return a->rssim;
}

static double c_recon_ssim_lo(const FrPointAgg *a)
{
    return a->lo[B_RSSIM];
}

static double c_recon_ssim_hi(const FrPointAgg *a)
{
    return a->hi[B_RSSIM];
}

static const Col cols[] = {
    {"ordinal", "", "0-based position of the point in the sweep expansion (stable for a config)", COL_INT, NULL, c_ordinal, NULL},
    {"id", "", "p<ordinal>-<8 hex digits of FNV-1a of desc>: stable point id", COL_STR, c_id, NULL, NULL},
    {"kind", "", "reference (uncompressed network), feature (coded feature at a split), anchor "
             "(cloud-only: the input image coded) or reference-yuv (an HEVC anchor's colour "
             "conversion alone, no coding)", COL_STR, c_kind, NULL, NULL},
    {"curve", "", "RD curve name: split=..,bits=..,range=..,packing=..,codec=..,alloc=.. for "
              "features (codec=<name>+<key>=<value> for each codec setting off its default); "
              "the anchor's name for anchors; 'reference'", COL_STR, c_curve, NULL, NULL},
    {"desc", "", "canonical description of the point: curve plus ,qp=N or ,quality=N", COL_STR, c_desc, NULL, NULL},
    {"split", "", "split as written in the config (empty for anchor/reference)", COL_STR, c_split, NULL, NULL},
    {"layer", "", "darknet name of the split layer (<type>_<index>)", COL_STR, c_layer, NULL, NULL},
    {"cut", "", "the cut set: every layer whose output crosses the split, joined by '+'", COL_STR, c_cut, NULL, NULL},
    {"bits", "bit", "Q-layer bit depth n (0 for anchor/reference)", COL_INT, NULL, c_bits, NULL},
    {"range", "", "Q-layer range mode: tensor or channel", COL_STR, c_range, NULL, NULL},
    {"packing", "", "tile, quilt, frames or tile-sorted", COL_STR, c_packing, NULL, NULL},
    {"codec", "", "inner codec (hevc, hevc-lossless, zlib, ...); anchors: hevc-420, hevc-400 "
              "(luma only) or jpeg; reference-yuv: yuv-420 / yuv-400; reference: none", COL_STR, c_codec, NULL, NULL},
    {"alloc", "", "QP allocation: uniform, sensitivity, rdopt or rdopt-refine", COL_STR, c_alloc, NULL, NULL},
    {"qp", "", "HEVC QP (uniform) or QP_base (sensitivity, rdopt, rdopt-refine); -1 when none", COL_INT, NULL, c_qp, NULL},
    {"quality", "", "JPEG quality of a JPEG anchor; -1 otherwise", COL_INT, NULL, c_quality, NULL},
    {"images", "", "number of images evaluated", COL_INT, NULL, c_images, NULL},
    {"elements", "", "feature elements per image (sum over the cut set); anchors: 3*W*H input "
                 "samples of the original image (mean)", COL_DBL, NULL, NULL, c_elements},
    {"bits_mean", "bit", "mean coded bits per image (container: payload + side info; HEVC anchors: "
                  "the stream + 248 bits of header/shape, JPEG anchors: the file)", COL_DBL, NULL, NULL, c_bits_mean},
    {"bits_std", "bit", "standard deviation of bits per image (population)", COL_DBL, NULL, NULL, c_bits_std},
    {"kbpi", "kbit", "kilobits per image = bits_mean / 1000", COL_DBL, NULL, NULL, c_kbpi},
    {"payload_bits", "bit", "mean bits of the coded sample streams per image", COL_DBL, NULL, NULL, c_payload_bits},
    {"side_bits", "bit", "mean side-information bits per image (header, shapes, min/max, QPs, CRC)", COL_DBL, NULL, NULL, c_side_bits},
    {"bits_per_element", "bit", "bits_mean / elements", COL_DBL, NULL, NULL, c_bits_per_element},
    {"map07", "", "detection: VOC2007 11-point mAP at map_iou (nan for other tasks)", COL_DBL, NULL, NULL, c_map07},
    {"map", "", "detection: all-point mAP at map_iou (nan for other tasks)", COL_DBL, NULL, NULL, c_map},
    {"top1", "", "classification: top-1 accuracy (nan for other tasks or without labels)", COL_DBL, NULL, NULL, c_top1},
    {"top5", "", "classification: top-5 accuracy", COL_DBL, NULL, NULL, c_top5},
    {"fidelity", "", "classification: share of images whose argmax equals the uncompressed "
                 "network's (seed 004 eq. 4); dense: mean pixel agreement (eq. 5)", COL_DBL, NULL, NULL, c_fidelity},
    {"mse", "", "feature MSE in the float domain, mean over images (nan for anchors)", COL_DBL, NULL, NULL, c_mse},
    {"psnr", "dB", "feature PSNR in dB, peak = max-min of the original feature, mean over images "
             "(inf when lossless)", COL_DBL, NULL, NULL, c_psnr},
    {"mse_nbit", "", "feature MSE in the n-bit domain (both quantized with the original's range)", COL_DBL, NULL, NULL, c_mse_nbit},
    {"psnr_nbit", "dB", "feature PSNR in the n-bit domain, peak 2^n-1, from the mean mse_nbit", COL_DBL, NULL, NULL, c_psnr_nbit},
    {"sqnr", "dB", "feature SQNR in dB: the original's mean square over the MSE, per image (over "
             "the cut set), mean over images (inf when lossless)", COL_DBL, NULL, NULL, c_sqnr},
    {"front_s", "s", "timing: front-half seconds per image (shared by every point of the split)", COL_DBL, NULL, NULL, c_front_s},
    {"encode_s", "s", "timing: encode seconds per image (Q-layer, packing, codec, container)", COL_DBL, NULL, NULL, c_encode_s},
    {"decode_s", "s", "timing: decode seconds per image", COL_DBL, NULL, NULL, c_decode_s},
    {"back_s", "s", "timing: back-half (anchors: whole network) seconds per image", COL_DBL, NULL, NULL, c_back_s},
    {"sens_s", "s", "timing: sensitivity measurement seconds per image (allocations sensitivity, "
               "rdopt and rdopt-refine, scope image: for rdopt every QP of sweep.rdopt.qps; "
               "the cached figure when the measurements came from the cache)", COL_DBL, NULL, NULL, c_sens_s},
    {"kbpi_paper", "kbit", "kilobits per image by seed 001's rule: payload + 32 bits per min/max float "
                   "(64 per tensor-range cut); anchors: the stream alone", COL_DBL, NULL, NULL, c_kbpi_paper},
    {"kbpi_lo", "kbit", "bootstrap CI of kbpi over images (bootstrap.level, default 95%; percentile)", COL_DBL, NULL, NULL, c_kbpi_lo},
    {"kbpi_hi", "kbit", "upper end of the kbpi CI", COL_DBL, NULL, NULL, c_kbpi_hi},
    {"map07_lo", "", "bootstrap CI of map07 (images resampled, detections kept by image)", COL_DBL, NULL, NULL, c_map07_lo},
    {"map07_hi", "", "upper end of the map07 CI", COL_DBL, NULL, NULL, c_map07_hi},
    {"map_lo", "", "bootstrap CI of map", COL_DBL, NULL, NULL, c_map_lo},
    {"map_hi", "", "upper end of the map CI", COL_DBL, NULL, NULL, c_map_hi},
    {"top1_lo", "", "bootstrap CI of top1", COL_DBL, NULL, NULL, c_top1_lo},
    {"top1_hi", "", "upper end of the top1 CI", COL_DBL, NULL, NULL, c_top1_hi},
    {"top5_lo", "", "bootstrap CI of top5", COL_DBL, NULL, NULL, c_top5_lo},
    {"top5_hi", "", "upper end of the top5 CI", COL_DBL, NULL, NULL, c_top5_hi},
    {"fidelity_lo", "", "bootstrap CI of fidelity", COL_DBL, NULL, NULL, c_fidelity_lo},
    {"fidelity_hi", "", "upper end of the fidelity CI", COL_DBL, NULL, NULL, c_fidelity_hi},
    {"psnr_nbit_lo", "dB", "bootstrap CI of psnr_nbit (features)", COL_DBL, NULL, NULL, c_psnr_nbit_lo},
    {"psnr_nbit_hi", "dB", "upper end of the psnr_nbit CI", COL_DBL, NULL, NULL, c_psnr_nbit_hi},
    {"mse_lo", "", "bootstrap CI of mse (features; the mean of the resampled images' MSEs)", COL_DBL, NULL, NULL, c_mse_lo},
    {"mse_hi", "", "upper end of the mse CI", COL_DBL, NULL, NULL, c_mse_hi},
    {"psnr_lo", "dB", "bootstrap CI of psnr (features)", COL_DBL, NULL, NULL, c_psnr_lo},
    {"psnr_hi", "dB", "upper end of the psnr CI", COL_DBL, NULL, NULL, c_psnr_hi},
    {"sqnr_lo", "dB", "bootstrap CI of sqnr (features)", COL_DBL, NULL, NULL, c_sqnr_lo},
    {"sqnr_hi", "dB", "upper end of the sqnr CI", COL_DBL, NULL, NULL, c_sqnr_hi},
    {"rdopt_lambda", "", "rdopt: the Lagrangian slope whose allocation meets uniform QP_base's "
                     "rate, in measurement-layer MSE per bit, mean over images (0 for "
                     "rdopt-refine; nan for other allocations)", COL_DBL, NULL, NULL, c_rdopt_lambda},
    {"d_pred", "", "rdopt: predicted distortion at the measurement layer, the sum of the chosen "
               "single-channel distortions D_i(q_i), mean over images", COL_DBL, NULL, NULL, c_d_pred},
    {"d_joint", "", "rdopt: measured distortion (MSE at the measurement layer) of the whole "
                "decoded feature, mean over images; d_joint / d_pred - 1 is the additivity "
                "error", COL_DBL, NULL, NULL, c_d_joint},
    {"recon_psnr", "dB", "invert: PSNR of the image reconstructed from the decoded feature by the "
                   "split's decoder (anchors and reference-yuv: the decoded image) against the "
                   "network input, both as 8-bit RGB (the recon/ PNGs), peak 255, mean over "
                   "images; nan without invert: or a decoder for the split", COL_DBL, NULL, NULL, c_recon_psnr},
    {"recon_psnr_lo", "dB", "bootstrap CI of recon_psnr", COL_DBL, NULL, NULL, c_recon_psnr_lo},
    {"recon_psnr_hi", "dB", "upper end of the recon_psnr CI", COL_DBL, NULL, NULL, c_recon_psnr_hi},
    {"recon_ssim", "", "invert: SSIM (Wang et al. 2004; luma, 11x11 Gaussian window sigma 1.5, "
                   "valid windows) of the same 8-bit images, mean over images", COL_DBL, NULL, NULL, c_recon_ssim},
    {"recon_ssim_lo", "", "bootstrap CI of recon_ssim", COL_DBL, NULL, NULL, c_recon_ssim_lo},
    {"recon_ssim_hi", "", "upper end of the recon_ssim CI", COL_DBL, NULL, NULL, c_recon_ssim_hi},
};
#define NCOLS ((int)(sizeof cols / sizeof cols[0]))


static FrColumnDoc docs[NCOLS];
static pthread_once_t docs_once = PTHREAD_ONCE_INIT;

static void fill_docs(void)
{
    for (int k = 0; k < NCOLS; k++) {
        docs[k].name = cols[k].name;
        docs[k].doc = cols[k].doc;
        docs[k].unit = cols[k].unit;
    }
}

const FrColumnDoc *fr_points_columns(int *n)
{
    pthread_once(&docs_once, fill_docs);
    *n = NCOLS;
    return docs;
}

char *fr_point_row(const FrPointCtx *c, const FrPoint *pt, const FrPointAgg *a)
{
    FrText t = {0};
    for (int k = 0; k < NCOLS; k++) {
        char sep = k + 1 < NCOLS ? ',' : '\n';
        switch (cols[k].type) {
        case COL_STR: {
            const char *s = cols[k].str(c, pt);
            fr_text_csv_field(&t, s ? s : "", sep);
            break;
        }
        case COL_INT: fr_text_printf(&t, "%lld%c", cols[k].num(c, pt), sep); break;
        case COL_DBL: fr_text_csv_double(&t, cols[k].dbl(a), sep); break;
        }
    }
    if (t.oom) {
        fr_text_free(&t);
        return NULL;
    }
    t.s[--t.len] = 0; /* rows are stored without their '\n' */
    return t.s;
}
