/* featrd/config.h: the experiment description. A YAML file (plus `include:`d
 * base files and `-o key.path=value` overrides) becomes one FrExperiment of
 * plain typed fields. Parsing, defaults and validation live in src/config/
 * (load.c, parse.c, validate.c, dump.c, ...; yaml_tree.c is the only file
 * that sees libyaml). docs/config.md documents every key.
 *
 * Conventions
 * - Every field has the default fr_experiment_defaults() gives it (written on
 *   each field below); YAML only overrides what it names.
 * - Lists are (pointer, count) pairs; a count of 0 means "empty".
 * - Every string and array is owned by the FrExperiment and freed by
 *   fr_experiment_free(). Callers must not free or realloc them.
 * - Paths inside the config (model.cfg, dataset.images, ...) are kept as
 *   written and are relative to the directory featrd runs in (the repository
 *   root for the shipped configs), so a dump reloads to the same experiment.
 *   Only `include:` is relative to the including file.
 * - Every key that was set (from a file or an override) remembers where:
 *   fr_experiment_loc(e, "model.weights") or "sweep.split[2]" gives file, line
 *   and column, and fr_experiment_error() formats "file:line:col: key: ..." so
 *   later stages (model loading, file checks) can point at the YAML line.
 *
 * Curve names (shared with the runner, bd and plot code)
 * - An RD curve is every point that shares all sweep axes except the rate axis
 *   (the QP for hevc, qp_base for sensitivity allocation; lossless codecs give
 *   one-point "curves"). Its name lists the axes in this fixed order:
 *     "split=max_11,bits=8,range=tensor,packing=tile,codec=hevc,alloc=uniform"
 *   (axes with a single value in the whole sweep are still written, so names
 *   do not change when a sweep grows).
 * - An anchor curve is named by its anchors[].name (e.g. "cloud-hevc").
 * - bd[].anchor and bd[].test are such names; test may be an fnmatch(3) glob
 *   ("split=*,bits=8,*codec=hevc*") and then names one comparison per curve it
 *   matches.
 */
#ifndef FEATRD_CONFIG_H
#define FEATRD_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "featrd/codec.h"
#include "featrd/common.h"
#include "featrd/model.h"
#include "featrd/schema.h"
#include "featrd/task.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where a key was set. file is a YAML path as given (or "-o key=value" for an
 * override, with line = col = 0); line and col are 1-based. file is owned by
 * the experiment. A default (never set) key has no location (file NULL). */
typedef struct FrSrcLoc {
    const char *file;
    int line, col;
} FrSrcLoc;

typedef enum FrExperimentKind {
    FR_KIND_RD = 0,   /* rate-distortion sweep over split/bits/packing/codec */
    FR_KIND_LOSSLESS, /* seed 000: lossless coders over every layer */
    FR_KIND_MODEL,    /* seed 002: model-weight compression (RP, DoM) */
    FR_KIND_FEATURES, /* bring your own features: .npy tensors through the rd coding */
} FrExperimentKind;

/* FrTask and FrGemm: featrd/task.h (shared with the model API). */

typedef enum FrLabelFormat {
    FR_LABELS_DARKNET_TXT = 0, /* images/x.jpg → labels/x.txt, "cls cx cy w h" */
    FR_LABELS_VOC_XML,         /* dataset.annotations/<basename>.xml */
    FR_LABELS_CLASS_LIST,      /* dataset.labels_file: one class id per image line */
} FrLabelFormat;

/* FrRangeMode (FR_RANGE_TENSOR, FR_RANGE_CHANNEL) and FrPacking (FR_PACK_TILE,
 * FR_PACK_QUILT, FR_PACK_FRAMES) and their name functions are owned by the
 * codec module. */
#include "featrd/pack.h"
#include "featrd/quant.h"

/* A `sweep.allocation` value: the index of its allocator in the allocators
 * registry (src/alloc/allocators.c, in the order listed there; names by
 * fr_allocation_name). Uniform, one QP for every channel, is always 0 and
 * the default; the others (sensitivity, rdopt, rdopt-refine, ...) are known
 * by name only, so an allocator is added without touching this header. */
typedef int FrAllocation;
#define FR_ALLOC_UNIFORM 0

typedef enum FrSensLayer {
    FR_SENS_PENULTIMATE = 0, /* the layer before the final classifier (seed 004) */
    FR_SENS_FINAL,           /* the network output */
    FR_SENS_NAMED,           /* FrSensitivity.layer_name */
} FrSensLayer;

typedef enum FrSensScope {
    FR_SENS_IMAGE = 0, /* sensitivities per image (needs the back half at the encoder) */
    FR_SENS_DATASET,   /* averaged over calibration images once, one QP map for all */
} FrSensScope;

/* A metric is its index in the metrics registry (src/metrics/
 * metric_registry.c; fr_metric_count, fr_metric_info, fr_metric_from_name).
 * These are the built-in metrics' places; a metric added to the registry
 * later has no constant of its own. */
typedef int FrMetric;
enum {
    FR_METRIC_MAP07 = 0,         /* VOC2007 11-point mAP@map_iou */
    FR_METRIC_MAP,               /* all-point mAP@map_iou */
    FR_METRIC_TOP1,
    FR_METRIC_TOP5,
    FR_METRIC_FIDELITY,          /* seed 004 eq. 4/5: agreement with the uncompressed output */
    FR_METRIC_PIXEL_AGREEMENT,   /* dense tasks: share of equal argmax pixels */
    FR_METRIC_FEATURE_PSNR_NBIT, /* feature PSNR in the n-bit domain */
    FR_METRIC_FEATURE_MSE,
    FR_METRIC_FEATURE_PSNR,
    FR_METRIC_FEATURE_SQNR,
    FR_METRIC_RECON_PSNR,        /* invert: the reconstructed image's PSNR */
    FR_METRIC_RECON_SSIM,
};

typedef enum FrBdMethod {
    FR_BD_PCHIP = 0, /* piecewise cubic, as the JCT-VC/JVET sheets */
    FR_BD_CUBIC,     /* cubic polynomial fit, VCEG-M33 */
} FrBdMethod;

typedef enum FrAnchorCodec {
    FR_ANCHOR_HEVC = 0, /* x265 4:2:0 8-bit, a QP list */
    FR_ANCHOR_JPEG,     /* a quality list */
} FrAnchorCodec;

typedef enum FrModelCoder {
    FR_MODEL_CODER_LZMA = 0,
    FR_MODEL_CODER_ZSTD,
} FrModelCoder;

/* model_compression.rounding: how w·10^p becomes an integer. */
typedef enum FrModelRounding {
    FR_MODEL_ROUND_TRUNCATE = 0, /* toward zero, seed 002's int64(w·10^p) */
    FR_MODEL_ROUND_NEAREST,      /* llround: half the error at the same rate */
} FrModelRounding;

/* model: */
typedef struct FrModelSpec {
    char *backend;    /* "darknet" (the model-backend registry, src/model/backends.c) */
    char *cfg;        /* darknet .cfg; required (error when missing) */
    char *weights;    /* NULL: seeded random weights (the runner warns) */
    FrTask task;      /* FR_TASK_AUTO */
    int input_w;      /* 0: the cfg's width */
    int input_h;      /* 0: the cfg's height */
    char *names;      /* class names file, one per line; NULL: none */
    uint64_t seed;    /* 1: random weights, crop layers' rand() */
    FrGemm gemm;      /* FR_GEMM_OPENBLAS */
    FrDevice device;  /* FR_DEVICE_CPU; gpu needs the GPU build (docs/gpu.md) */
    FrKernels kernels; /* FR_KERNELS_FAST; darknet: the same bits, slower */
} FrModelSpec;

/* The FrModelSettings a model: section gives (backend, cfg, weights, seed,
 * input size, GEMM, device, kernels; quiet 0): the one place the two are
 * mapped, so no caller drops a key. The strings point into spec. */
void fr_model_spec_settings(const FrModelSpec *spec, FrModelSettings *ms);

/* dataset: */
typedef struct FrDatasetSpec {
    char *images;        /* list file, one image path per line; required for kinds
                            rd and lossless, optional for model */
    FrLabelFormat labels;/* FR_LABELS_DARKNET_TXT */
    char *annotations;   /* directory of VOC xml files; required with voc-xml */
    char *labels_file;   /* required with class-list */
    char *names;         /* class names the ground truth uses (voc.names for VOC), one
                            per line; NULL: the model's (model.names). Checked against
                            model.names at run time: a mismatch is refused unless
                            class_map maps one to the other */
    char *class_map;     /* file mapping model classes to data set classes
                            ("MODEL<TAB>DATASET" lines, docs/metrics.md); NULL: none.
                            Model classes it does not name are not scored */
    int limit;           /* 0: every image; else the first `limit` after shuffling */
    uint64_t seed;       /* 0: keep the list order; else shuffle with this seed */
} FrDatasetSpec;

/* One sweep.codec entry: either a bare name ("zlib") or a map of the
 * generic keys (name, qp for lossy codecs, split) and the codec's settings
 * (its schema, featrd/codec.h FrCodec.settings: ctu, rdoq, ... for hevc;
 * level for the general coders). */
typedef struct FrCodecSpec {
    char *name;   /* a registered codec's name (an alias is stored by its name) */
    const FrCodec *codec; /* the registered codec */
    void *settings; /* the codec's settings struct (codec->settings), owned */
    int *qp;      /* lossy codecs only: this entry's QP list; when the entry
                     names none, a copy of sweep.qp. n_qp = 0 for other codecs */
    int n_qp;
    char **split; /* only at these splits (each one of sweep.split, spelled the
                     same); n_split = 0: at every split */
    int n_split;
    FrSrcLoc loc; /* the entry */
} FrCodecSpec;

/* sweep.sensitivity: */
typedef struct FrSensitivity {
    FrSensLayer layer;      /* FR_SENS_PENULTIMATE */
    char *layer_name;       /* with FR_SENS_NAMED, else NULL */
    FrSensScope scope;      /* FR_SENS_IMAGE */
    int calibration_images; /* 16: for FR_SENS_DATASET */
} FrSensitivity;

/* sweep.rdopt: (allocations rdopt and rdopt-refine; the measurement layer and
 * the scope are sweep.sensitivity's) */
typedef struct FrRdoptSpec {
    int *qps;               /* []: the QPs whose per-channel curves are measured; empty =
                               every qp_step-th QP from min(qp_base) - qp_range to
                               max(qp_base) + qp_range, with every qp_base (resolved at
                               load: after loading qps holds the set, sorted) */
    int n_qps;
    int qp_step;            /* 2: the spacing of the default set */
} FrRdoptSpec;

/* sweep: (kind rd). The runner expands split × bits × packing × codec/QP ×
 * allocation in this order. */
typedef struct FrSweepSpec {
    char **split;           /* layer names, indices ("11") or aliases ("pool2");
                               required for kind rd; resolved by the model code */
    int n_split;
    int *bits;              /* [8]; each 8, 10 or 12 (x265's depths) */
    int n_bits;
    FrRangeMode range;      /* FR_RANGE_TENSOR */
    int relu_min0;          /* 0: 1 fixes min at 0 (post-ReLU features) */
    FrPacking *packing;     /* [tile] */
    int n_packing;
    int tile_pad;           /* 0: pad each tile to a multiple of 0 (none), 8 or 16 */
    int *qp;                /* [22, 27, 32, 37]: default QP list of hevc entries */
    int n_qp;
    FrCodecSpec *codec;     /* [hevc] */
    int n_codec;
    FrAllocation *allocation; /* [uniform] */
    int n_allocation;
    int *qp_base;           /* []: required when allocation has sensitivity */
    int n_qp_base;
    int qp_range;           /* 5 */
    FrSensitivity sensitivity;
    FrRdoptSpec rdopt;
    char **weights;         /* []: model.weights only. Else each feature curve is run once per
                               weights file (same cfg), e.g. default and compression-augmented
                               weights side by side (seed 001 Table 1); curve names gain
                               ",weights=<file name without .weights>"; the reference, the
                               anchors and fidelity's uncompressed outputs use model.weights */
    int n_weights;
    long long max_points;   /* 100000: a sweep expanding to more points is refused */
} FrSweepSpec;

/* anchors[]: cloud-only coding of the input image. */
typedef struct FrAnchorSpec {
    char *name;          /* required, unique; the anchor's curve name */
    FrAnchorCodec codec; /* FR_ANCHOR_HEVC */
    int *qp;             /* hevc: QP list (0..51), default [22, 27, 32, 37] */
    int n_qp;
    int *quality;        /* jpeg: quality list (1..100), required for jpeg */
    int n_quality;
    /* hevc: x265 settings (the keys of fr_hevc_schema). Unset in the YAML,
     * each is taken from the first lossy hevc entry of sweep.codec (else the
     * defaults), so the anchor is coded as the features are. Resolved values
     * after loading. */
    FrHevcSettings hevc;
    unsigned hevc_set;   /* bit i: field i of fr_hevc_schema was set in the YAML */
    int chroma;          /* 420 (default: YCbCr 4:2:0) or 400 (luma only) */
    FrSrcLoc loc;
} FrAnchorSpec;

/* bootstrap: confidence intervals over images (kind rd). */
typedef struct FrBootstrapSpec {
    int replicates;      /* 1000; 0 = no intervals */
    uint64_t seed;       /* 1 */
    double level;        /* 0.95 */
} FrBootstrapSpec;

/* bd[]: one Bjontegaard comparison. */
typedef struct FrBdSpec {
    char *anchor;      /* required: a curve name */
    char *test;        /* required: a curve name or fnmatch glob */
    FrBdMethod method; /* FR_BD_PCHIP */
    char *rate;        /* points.csv rate column: "kbpi" */
    char *quality;     /* quality column: NULL = the first of metrics */
    int monotone;      /* 1: fit the upper envelope of each curve (fr_bd_report) */
    double min_span;   /* saturation threshold; -1 = auto (from the CIs) */
    FrSrcLoc loc;
} FrBdSpec;

/* output: */
/* cluster: how `featrd submit` submits the sweep (docs/cluster.md). Not
 * part of the config hash: it changes where the work runs, not the results.
 * The command line's options win over these. */
typedef struct FrClusterSpec {
    char *partition, *time, *gres; /* NULL: sbatch's defaults */
    int cpus;       /* 0: jobs */
    int tasks;      /* 0: from chunks */
    int chunks;     /* 0: 4 (or from tasks) */
    int throttle;   /* 0: none */
    char **sbatch;  /* extra sbatch options, e.g. "--account=vcm" */
    int n_sbatch;
    char **setup;   /* shell lines before featrd runs (module load ...) */
    int n_setup;
} FrClusterSpec;

/* invert: (kind rd; issue 24, seed 003) the input image reconstructed from
 * each feature point's decoded feature by a darknet decoder (featrd invert
 * train), scored against the network input (points.csv recon_psnr,
 * recon_ssim; the anchors' decoded images get the same columns). Unset:
 * those columns are NaN and the config's hash is that of a config without
 * the section. */
typedef struct FrInvertSpec {
    char *cfg;     /* NULL: no reconstruction. The decoder cfg; "{split}" is
                      replaced by the split's name as sweep.split writes it */
    char *weights; /* its weights, with the same placeholder; required with cfg */
    char **splits; /* the splits that have a decoder; [] = every split of the sweep */
    int n_splits;
    int png;       /* 0: the first N images of every point also written as PNG
                      under recon/ (the input beside them); not hashed */
} FrInvertSpec;

typedef struct FrOutputSpec {
    char *dir;      /* "results/<name>" */
    int images_csv; /* 0: 1 also writes images.csv (per image and point) */
    int plots;      /* 1 */
    int keep_streams; /* 0: 1 keeps every point's coded features as .frd files under
                         streams/ in the results directory */
    int detections;   /* 0: 1 writes every point's per-image detections to
                         detections/<point id>.csv (detection tasks) */
    char *decoded_dir; /* NULL: kind features writes every point's decoded tensors as .npy
                          under decoded_dir/<point id>/, the input's file names (a mirrored
                          tree) and a features.txt, for the user's own back half */
} FrOutputSpec;




/* The most worker threads a run uses (config `jobs`, `featrd run --jobs`). */
#define FR_MAX_JOBS 64

typedef struct FrExperiment {
    char *name;            /* default: basename of the top config file without .yaml */
    FrExperimentKind kind; /* FR_KIND_RD */
    FrModelSpec model;
    FrDatasetSpec dataset;
    FrSweepSpec sweep;
    FrAnchorSpec *anchors; /* [] */
    int n_anchors;
    FrMetric *metrics;     /* []: the task's default (detection: map07;
                              classification: top1, fidelity; dense: pixel_agreement) */
    int n_metrics;
    double map_iou;        /* 0.5 */
    double det_thresh;     /* 0.005 */
    double nms;            /* 0.45 */
    FrBdSpec *bd;          /* [] */
    int n_bd;
    FrBootstrapSpec bootstrap;
    FrOutputSpec output;
    int jobs;              /* 1 (1..FR_MAX_JOBS) */
    int quiet;             /* 0 */
    FrClusterSpec cluster;
    FrInvertSpec invert;
    struct FrConfigPriv *priv; /* locations and string storage; private */
} FrExperiment;

/* A new experiment holding every default (model.cfg etc. NULL, name
 * "experiment", output.dir "results/experiment"). Returns NULL on no memory.
 * Free with fr_experiment_free(). Mainly for tools and tests: a loaded config
 * starts from the same defaults. */
FrExperiment *fr_experiment_defaults(void);

/* Loads path (following include:), applies overrides in order ("key.path=value",
 * the value a YAML scalar or flow sequence/map, e.g. "sweep.bits=[8,10]",
 * "sweep.codec[1].qp=[22]"), then validates. On success *out owns a new
 * experiment; on failure *out is NULL and err says
 *   "FILE:LINE:COL: key.path: expected X, got Y"
 * (or "-o key=value: ..." for an override). Returns 0, FR_E_CONFIG (syntax,
 * type, range, unknown key, include cycle), FR_E_NOENT (config or included
 * file missing) or FR_E_NOMEM. Files the config names are NOT checked here:
 * see fr_experiment_check_files(). */
int fr_config_load(const char *path, const char *const *overrides, int n_overrides,
                   FrExperiment **out, FrError *err);

/* The same from YAML text; name is the file name used in messages and for
 * the default experiment name. include: paths are relative to name's dir. */
int fr_config_load_string(const char *yaml, const char *name,
                          const char *const *overrides, int n_overrides,
                          FrExperiment **out, FrError *err);

/* Frees *e and everything it owns; sets *e = NULL. Safe on NULL / *e NULL. */
void fr_experiment_free(FrExperiment **e);

/* Checks that every file the experiment reads exists and is readable
 * (model.cfg, model.weights, model.names, dataset.images, dataset.annotations,
 * dataset.labels_file, model_compression.dom.*). Returns 0 or FR_E_NOENT with
 * "FILE:LINE:COL: model.weights: no such file 'x' (...what to do)". */
int fr_experiment_check_files(const FrExperiment *e, FrError *err);

/* Writes the effective config as canonical YAML: every key, defaults
 * included, fixed order, one line per scalar, flow lists. Loading the dump
 * gives an experiment whose dump is byte-identical. Returns 0 or FR_E_IO. */
int fr_experiment_dump(const FrExperiment *e, FILE *f, FrError *err);

/* FNV-1a 64 of the dump with the keys that do not change any result left out
 * (name, jobs, quiet, output.dir, output.plots, bd). Equal hashes ⇔ the
 * results of one can stand for the other (the runner's resume check). */
/* The settings of e's kind's own section (a kind whose registry entry has
 * a section, featrd/experiments.h: kind model's FrModelCompressionSpec),
 * owned by e; NULL when the kind has none. Every kind's are kept at their
 * defaults or as the YAML set them, so changing e->kind gives that kind's. */
const void *fr_experiment_kind_settings(const FrExperiment *e);

uint64_t fr_experiment_hash(const FrExperiment *e);

/* Fills err with "FILE:LINE:COL: key: <fmt...>" (or "key: ..." when the key
 * was never set, "-o key=value: key: ..." for overrides) and returns code.
 * For later stages that find a config value wrong (unknown layer name). */
int fr_experiment_error(const FrExperiment *e, FrError *err, int code, const char *key,
                        const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* Enum ↔ YAML spelling (static strings; NULL / -1 for out-of-range / unknown).
 * fr_packing_name() and fr_range_name() are in pack.h / quant.h. */
const char *fr_bd_method_name(FrBdMethod m);

#ifdef __cplusplus
}
#endif
#endif
