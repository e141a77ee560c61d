/* featrd/experiments.h: the two paper experiments that are not RD sweeps,
 * the kind that codes features given as files, and the kinds registry.
 *
 *  - kind: lossless (seed 000, Tables II-V, Fig. 4): float32 features of
 *    every layer (or a listed set) of N images through gzip, zlib, bzip2,
 *    lzma and zstd; compression rate (eq. 1), non-zero rate, time per
 *    feature. src/kinds/lossless_exp.c.
 *  - kind: model (seed 002, Tables 2-3, Fig. 4/6): representation-precision
 *    (RP) coding of darknet weights files and the difference of models (DoM)
 *    between two versions of one cfg. The coding is src/kinds/weights_rp.c, the
 *    experiment src/kinds/modelcomp_exp.c.
 *
 * The weights coding needs no model: it only reads darknet's weights format
 * (header major, minor, revision as int32, then `seen` as uint64 when
 * major*10+minor >= 2 and both are < 1000, else int32; then float32
 * parameters, little-endian). */
#ifndef FEATRD_EXPERIMENTS_H
#define FEATRD_EXPERIMENTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "featrd/common.h"
#include "featrd/codec.h"
#include "featrd/config.h"
#include "featrd/schema.h"

#ifdef __cplusplus
extern "C" {
#endif

/* lossless: kind lossless's section (seed 000), its
 * fr_experiment_kind_settings. */
typedef struct FrLosslessSpec {
    int all_layers;     /* 1: every layer (`layers: all`), else the list below */
    char **layers;      /* names/indices/aliases when all_layers = 0 */
    int n_layers;
    char **coders;      /* [gzip, zlib, bzip2, lzma, zstd]; also hevc-lossless */
    int n_coders;
    int quantized_bits; /* 0: float32 features; 1..16: also the n-bit Q-layer output */
    int repeats;        /* 1: timing repeats per feature */
} FrLosslessSpec;

/* features: kind features' section (bring your own features), its
 * fr_experiment_kind_settings: the tensors to code, one or more per image. */
typedef struct FrFeaturesSpec {
    char *dir;   /* NULL: a directory: DIR/features.txt as `featrd features` writes it,
                    or, without one, every *.npy under DIR (sorted; NAME.npy is one
                    image, NAME.LAYER.npy files sharing NAME are one image's cut set) */
    char *list;  /* NULL: a list file in features.txt's format (`FILE IMAGE LAYER
                    [C H W]` lines, '#' comments, FILE relative to the list's directory).
                    Exactly one of dir and list */
    char *split; /* NULL: the split the curves are named by (split=...); NULL: the
                    list's `# split:` header line, else the last layer of the first image */
    int limit;   /* 0: every image; else the first `limit` images */
} FrFeaturesSpec;

/* model_compression: kind model's section (seed 002), its
 * fr_experiment_kind_settings. */
typedef struct FrModelCompressionSpec {
    int *precision;     /* [1..8]: RP p values, each 1..8 */
    int n_precision;
    FrModelCoder coder; /* FR_MODEL_CODER_LZMA */
    char *dom_base;     /* dom.base: weights of the base model, NULL: no DoM */
    char *dom_target;   /* dom.target: weights of the fine-tuned model; both or neither */
    FrModelRounding rounding; /* FR_MODEL_ROUND_TRUNCATE (seed 002) */
} FrModelCompressionSpec;

/* ================= darknet weights files ================= */

#define FR_WEIGHTS_MAX_HEADER 20

/* A darknet weights file in memory. header holds the header bytes exactly as
 * read (16 or 20 bytes), so a rewrite reproduces them bit for bit. params is
 * owned (fr_weights_free). */
typedef struct FrWeights {
    uint8_t header[FR_WEIGHTS_MAX_HEADER];
    int header_len;       /* 16 (int32 seen) or 20 (uint64 seen) */
    int32_t major, minor, revision;
    uint64_t seen;        /* images seen in training */
    size_t count;         /* number of float32 parameters */
    float *params;
} FrWeights;

/* Reads a file (FR_E_NOENT when missing) and parses it. */
int fr_weights_read(const char *path, FrWeights *w, FrError *err);
/* Frees params and zeroes *w; safe on a zeroed struct. */
void fr_weights_free(FrWeights *w);

/* ================= RP and DoM coding (seed 002 §3.3) ================= */

/* How w·10^p becomes an integer. The paper writes int64(w·10^p), which in
 * numpy/C truncates toward zero (decoded error < 10^-p); rounding to nearest
 * halves the error bound (<= 0.5·10^-p) at the same rate. */
typedef enum FrRpRounding {
    FR_RP_NEAREST = 0, /* llround: |w - ŵ| <= 0.5·10^-p (+ float32 rounding of ŵ) */
    FR_RP_TRUNC = 1,   /* (int64_t) cast, as the paper: |w - ŵ| < 10^-p */
} FrRpRounding;

/* How the integers become bytes before the lossless coder. */
typedef enum FrRpBinarization {
    FR_RP_INT64 = 0,  /* 8-byte little-endian two's complement, as the paper */
    FR_RP_VARINT = 1, /* zigzag then LEB128 (1 byte for |v| < 64): compact for DoM */
} FrRpBinarization;

typedef struct FrRpSettings {
    int precision;                 /* p, 0..12; default 6 (seed 002 Table 2) */
    FrCodecKind coder;             /* FR_CODEC_LZMA (default, the paper) or any general
                                    * lossless coder (FR_CODEC_ZSTD, ...) */
    FrRpRounding rounding;         /* default FR_RP_TRUNC (seed 002's int64(w·10^p)) */
    FrRpBinarization binarization; /* default FR_RP_INT64 */
} FrRpSettings;

void fr_rp_defaults(FrRpSettings *s);
const char *fr_rp_rounding_name(FrRpRounding r);             /* "nearest", "truncate" (also reads "trunc") */
int fr_rp_rounding_from_name(const char *s, FrRpRounding *out, FrError *err);
const char *fr_rp_binarization_name(FrRpBinarization b);     /* "int64", "varint" */
int fr_rp_binarization_from_name(const char *s, FrRpBinarization *out, FrError *err);

/* What a coded file says about itself (no decoding). */
typedef struct FrRpInfo {
    int version;                   /* container version, 1 */
    int dom;                       /* 1: a difference of models (needs the base) */
    int precision;
    FrCodecKind coder;
    FrRpRounding rounding;
    FrRpBinarization binarization;
    int header_len;                /* of the target's weights header */
    uint64_t count;                /* parameters */
    uint64_t raw_bytes;            /* binarised integers before the coder */
    uint64_t payload_bytes;        /* coder output */
    uint32_t base_crc;             /* DoM: CRC-32 of the base's float32 parameters */
    uint64_t original_bytes;       /* the target weights file: header_len + 4·count */
} FrRpInfo;

/* Reads the container header and checks the whole-file checksum. */
int fr_rp_info(const uint8_t *in, size_t n, const char *name, FrRpInfo *info, FrError *err);

/* File conveniences: weights → coded file (base_path NULL: RP), and coded
 * file (+ base for DoM) → weights file. Outputs are written atomically.
 * info (may be NULL) receives the coded file's description. */
int fr_rp_encode_file(const char *target_path, const char *base_path, const char *out_path,
                      const FrRpSettings *s, FrRpInfo *info, FrError *err);
int fr_rp_decode_file(const char *in_path, const char *base_path, const char *out_path,
                      FrError *err);

/* Statistics of the difference between two weights files of equal count. */
typedef struct FrWeightsDiff {
    size_t count;
    size_t changed;        /* parameters whose float32 bits differ */
    double max_abs;        /* max |a - b| */
    double mean_abs;
    double rms;
} FrWeightsDiff;
int fr_weights_diff(const FrWeights *a, const FrWeights *b, FrWeightsDiff *d, FrError *err);

/* ================= the experiments ================= */

struct FrExperiment;
struct FrRunOptions;

/* One buffer through one general lossless coder (seed 000's measurement):
 * encode `repeats` times (time = mean), decode once and compare (FR_E_INTERNAL
 * if not exact). coded_bytes excludes the 8-byte length prefix that
 * fr_lossless_encode adds (the coders' own formats carry what they need), so
 * rate = coded_bytes / original_bytes is the coder's (eq. 1). */
typedef struct FrLosslessMeasure {
    size_t original_bytes, coded_bytes;
    double rate;   /* coded / original; NaN for an empty buffer */
    double enc_s;  /* seconds per encode, single-threaded */
    double dec_s;  /* seconds of the decode */
} FrLosslessMeasure;

/* Runs gnuplot on SCRIPTS_DIR/lossless.gp (NULL: "plots") for DIR: writes
 * DIR/lossless.png and .svg (Fig. 4 layout) from DIR/lossless_fig4.dat.
 * FR_E_NOENT when the script is missing, FR_E_IO when gnuplot fails. */
int fr_lossless_plot(const char *dir, const char *scripts_dir, FrError *err);

/* gnuplot on SCRIPTS_DIR/modelcomp.gp (NULL: "plots"): DIR/modelcomp.png
 * and .svg, ratio against RP, from DIR/modelcomp.dat. */
int fr_modelcomp_plot(const char *dir, const char *scripts_dir, FrError *err);

/* The experiment kinds registry (src/run/kinds.c): one row per `kind:` value.
 * fr_run (featrd/run.h) runs e->kind's row. */
typedef struct FrKindInfo {
    FrExperimentKind id;
    const char *name;             /* the YAML value, e.g. "lossless" */
    const char *summary;
    const char *const *sections;  /* top-level config sections only this kind reads */
    int needs_images;             /* 1: dataset.images is required */
    int (*run)(const struct FrExperiment *e, const struct FrRunOptions *o, FrError *err);
    int needs_model;              /* 1: model.cfg is required */
    /* The kind's own top-level section, NULL: none (or one of FrExperiment's
     * own, for the kinds that came first): a FR_FIELD_SECTION field (key,
     * schema of the settings struct, dump order, doc) that the config
     * parses, defaults, checks, dumps before `output:`, hashes and documents
     * like the built-in sections; the settings are
     * fr_experiment_kind_settings. Its key is also in sections. */
    const FrField *section;
    /* The top-level key the section is dumped (and hashed) before; NULL:
     * output. */
    const char *dump_before;
    /* Rules across keys (after the schema's own checks, before the rules
     * common to every kind, so a section the kind does not read is refused
     * as that) and the files the kind reads (fr_experiment_check_files);
     * NULL: none. */
    int (*validate)(const struct FrExperiment *e, FrError *err);
    int (*check_files)(const struct FrExperiment *e, FrError *err);
} FrKindInfo;

#ifdef __cplusplus
}
#endif
#endif
