/* sections.c: the schema of the experiment config (featrd/schema.h), one
 * table per section. A table gives each key in the order messages list
 * them ("known keys here: ..."), its type, default, range and docs
 * (docs/config.md's default column; tests/test_config.c checks the docs
 * against these tables), and how the canonical dump writes it; parse.c,
 * dump.c and experiment.c walk the tables. The few keys whose YAML is not a
 * plain typed value (model.input, sweep.codec, anchors, bd, ...) are
 * FR_FIELD_CUSTOM: parse.c, dump.c and experiment.c handle those by id. */
#include <assert.h>
#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "config/config_internal.h"
#include "alloc/alloc.h"
#include "config/config.h"
#include "model/backend.h"
#include "util/schema.h"

/* ENUM and ENUMS fields store C enums through an int. */
static_assert(sizeof(FrTask) == sizeof(int) && sizeof(FrGemm) == sizeof(int) &&
                  sizeof(FrLabelFormat) == sizeof(int) && sizeof(FrRangeMode) == sizeof(int) &&
                  sizeof(FrPacking) == sizeof(int) && sizeof(FrAllocation) == sizeof(int) &&
                  sizeof(FrSensScope) == sizeof(int) && sizeof(FrMetric) == sizeof(int) &&
                  sizeof(FrModelCoder) == sizeof(int) && sizeof(FrModelRounding) == sizeof(int) &&
                  sizeof(FrExperimentKind) == sizeof(int) && sizeof(FrDevice) == sizeof(int),
              "enum fields are read and written as int");

/* ---- when the dump writes a section or key (top: the experiment) ---- */

static FrExperimentKind kind_of(const void *top)
{
    return ((const FrExperiment *)top)->kind;
}

/* kind features reads neither a model nor an image list */
static int not_features(const void *top, const FrField *f)
{
    (void)f;
    return kind_of(top) != FR_KIND_FEATURES;
}

static int rd_or_features(const void *top, const FrField *f)
{
    (void)f;
    return kind_of(top) == FR_KIND_RD || kind_of(top) == FR_KIND_FEATURES;
}

static int rd_only(const void *top, const FrField *f)
{
    (void)f;
    return kind_of(top) == FR_KIND_RD;
}

static int features_only(const void *top, const FrField *f)
{
    (void)f;
    return kind_of(top) == FR_KIND_FEATURES;
}

/* sweep.rdopt is written only when used, so other configs keep their hashes */
static int rdopt_used(const void *top, const FrField *f)
{
    (void)f;
    const FrSweepSpec *s = &((const FrExperiment *)top)->sweep;
    for (int i = 0; i < s->n_allocation; i++)
        if (fr_alloc_info(s->allocation[i])->rd_curves)
            return 1;
    return 0;
}

/* ---- rules on a key's own value ---- */

static const char *name_ok(const FrField *f, const void *obj)
{
    const char *s = fr_schema_get_string(f, obj);
    for (const char *q = s; q && *q; q++)
        if (!isalnum((unsigned char)*q) && !strchr("._-+=,", *q))
            return "letters, digits and . _ - + = , only (it names the results directory)";
    if (s && strlen(s) > 128)
        return "at most 128 characters (it names the results directory)";
    return NULL;
}

static const char *level_ok(const FrField *f, const void *obj)
{
    return fr_schema_get_double(f, obj) < 1 ? NULL
                                            : "a confidence level between 0 and 1, e.g. 0.95";
}

/* rate and quality name points.csv columns */
static const char *column_ok(const FrField *f, const void *obj)
{
    for (const char *q = fr_schema_get_string(f, obj); q && *q; q++)
        if (!islower((unsigned char)*q) && !isdigit((unsigned char)*q) && *q != '_')
            return "a points.csv column name such as kbpi";
    return NULL;
}

/* model.backend: a name in the model-backend registry (model/backend.h) */
static char backend_names[256];
static pthread_once_t backend_names_once = PTHREAD_ONCE_INIT;

static void list_backends(void)
{
    fr_model_backend_names(backend_names, sizeof backend_names);
}

static const char *backend_ok(const FrField *f, const void *obj)
{
    if (fr_model_backend_find(fr_schema_get_string(f, obj)))
        return NULL;
    pthread_once(&backend_names_once, list_backends);
    return backend_names;
}

static const int BITS_ALLOWED[] = {8, 10, 12, INT_MIN};
static const int TILE_PAD_ALLOWED[] = {0, 8, 16, INT_MIN};
static const int DEF_BITS[] = {8};
static const int DEF_ZERO[] = {0}; /* packing tile, allocation uniform */
const int cfg_default_qp[4] = {22, 27, 32, 37};

#define SEC(T, k, S) .key = #k, .type = FR_FIELD_SECTION, .offset = offsetof(T, k), .sub = &(S)

/* ---- model ---- */

static const FrField model_fields[] = {
    /* written only when not the default, so configs keep their dump and hash */
    {FR_STR(FrModelSpec, backend, FR_FIELD_DUMP_IF_SET), .def_str = "darknet", .accept = backend_ok,
     .doc = "model backend (the registry in src/model/backends.c)"},
    {FR_STR(FrModelSpec, cfg, 0), .doc = "darknet .cfg of the network",
     .doc_def = "required (kinds rd, lossless, model; refused for features)"},
    {FR_STR(FrModelSpec, weights, FR_FIELD_NULLABLE), .doc = "darknet weights; ~ = seeded random"},
    {.key = "task", .type = FR_FIELD_ENUM, .offset = offsetof(FrModelSpec, task),
     .def = FR_TASK_AUTO, .names = cfg_task_names, .doc = "the network's task"},
    {.key = "input", .type = FR_FIELD_CUSTOM, .custom = CFG_C_INPUT,
     .doc = "WxH, [w, h] or one size", .doc_def = "`~` (the cfg's)"},
    {FR_STR(FrModelSpec, names, FR_FIELD_NULLABLE), .doc = "class names file"},
    {.key = "seed", .type = FR_FIELD_U64, .offset = offsetof(FrModelSpec, seed), .def = 1,
     .doc = "random weights, darknet's rand()"},
    {.key = "gemm", .type = FR_FIELD_ENUM, .offset = offsetof(FrModelSpec, gemm),
     .def = FR_GEMM_OPENBLAS, .names = cfg_gemm_names, .doc = "GEMM loops"},
    /* written only when not the default, so CPU configs keep their dump and
     * hash; a GPU run's outputs differ from the CPU's (docs/gpu.md), so the
     * device is part of the hash then */
    {.key = "device", .type = FR_FIELD_ENUM, .offset = offsetof(FrModelSpec, device),
     .def = FR_DEVICE_CPU, .names = cfg_device_names, .flags = FR_FIELD_DUMP_IF_SET,
     .doc = "cpu or gpu (the GPU build, docs/gpu.md)"},
    /* the same outputs bit for bit either way (tested), so never in the
     * hash, and dumped only when not the default */
    {.key = "kernels", .type = FR_FIELD_ENUM, .offset = offsetof(FrModelSpec, kernels),
     .def = FR_KERNELS_FAST, .names = cfg_kernels_names,
     .flags = FR_FIELD_DUMP_IF_SET | FR_FIELD_NOHASH,
     .doc = "im2col, activation, maxpool, batch norm loops"},
};
static const FrSchema model_schema = FR_SCHEMA("model", FrModelSpec, model_fields);

/* ---- dataset ---- */

static const FrField dataset_fields[] = {
    {FR_STR(FrDatasetSpec, images, FR_FIELD_NULLABLE), .doc = "image list file",
     .doc_def = "required (kinds rd, lossless)"},
    {.key = "labels", .type = FR_FIELD_ENUM, .offset = offsetof(FrDatasetSpec, labels),
     .def = FR_LABELS_DARKNET_TXT, .names = cfg_label_names, .doc = "ground-truth format"},
    {FR_STR(FrDatasetSpec, annotations, FR_FIELD_NULLABLE), .doc = "VOC Annotations directory"},
    {FR_STR(FrDatasetSpec, labels_file, FR_FIELD_NULLABLE), .doc = "class id per image"},
    /* written in the hash form only when set, so earlier results keep their hash */
    {FR_STR(FrDatasetSpec, names, FR_FIELD_NULLABLE | FR_FIELD_HASH_IF_SET),
     .doc = "the ground truth's class names", .doc_def = "`~` = `model.names`"},
    {FR_STR(FrDatasetSpec, class_map, FR_FIELD_NULLABLE | FR_FIELD_HASH_IF_SET),
     .doc = "model class → data set class file"},
    {.key = "limit", .type = FR_FIELD_INT, .offset = offsetof(FrDatasetSpec, limit), .lo = 0,
     .hi = INT_MAX, .doc = "the first N images; 0 = all"},
    {.key = "seed", .type = FR_FIELD_U64, .offset = offsetof(FrDatasetSpec, seed), .def = 0,
     .doc = "0 = list order; else shuffle"},
};
static const FrSchema dataset_schema = FR_SCHEMA("dataset", FrDatasetSpec, dataset_fields);

/* ---- sweep.sensitivity, sweep.rdopt, sweep ---- */

static const FrField sens_fields[] = {
    {.key = "layer", .type = FR_FIELD_CUSTOM, .custom = CFG_C_SENS_LAYER,
     .doc = "penultimate, final or a layer name", .doc_def = "`penultimate`"},
    {.key = "scope", .type = FR_FIELD_ENUM, .offset = offsetof(FrSensitivity, scope),
     .def = FR_SENS_IMAGE, .names = cfg_scope_names, .doc = "per image or data set"},
    {.key = "calibration_images", .type = FR_FIELD_INT,
     .offset = offsetof(FrSensitivity, calibration_images), .def = 16, .lo = 1, .hi = 1000000,
     .doc = "images for scope: dataset"},
};
static const FrSchema sens_schema = FR_SCHEMA("sweep.sensitivity", FrSensitivity, sens_fields);

static const FrField rdopt_fields[] = {
    {FR_LIST(FrRdoptSpec, qps, n_qps), .type = FR_FIELD_INTS, .lo = 0, .hi = 51,
     .flags = FR_FIELD_EMPTY_OK, .what = QP_WHAT, .doc = "measured QPs"},
    /* it only shapes the default qps, which the dump holds resolved */
    {.key = "qp_step", .type = FR_FIELD_INT, .offset = offsetof(FrRdoptSpec, qp_step), .def = 2,
     .lo = 1, .hi = 51, .flags = FR_FIELD_NODUMP, .doc = "spacing of the default qps"},
};
static const FrSchema rdopt_schema = FR_SCHEMA("sweep.rdopt", FrRdoptSpec, rdopt_fields);

static const FrField sweep_fields[] = {
    {FR_LIST(FrSweepSpec, split, n_split), .type = FR_FIELD_STRINGS,
     .what = "layer names (max_11), indices (11) or aliases (pool2)", .shown = rd_only,
     .doc = "layers to split at", .doc_def = "required"},
    {FR_LIST(FrSweepSpec, bits, n_bits), .type = FR_FIELD_INTS, .lo = 8, .hi = 12,
     .allowed = BITS_ALLOWED, .what = "8, 10 or 12", .def_list = DEF_BITS, .n_def = 1,
     .doc = "Q-layer bit depths"},
    {.key = "range", .type = FR_FIELD_ENUM, .offset = offsetof(FrSweepSpec, range),
     .def = FR_RANGE_TENSOR, .names = cfg_range_names, .doc = "min/max per tensor or channel"},
    {.key = "relu_min0", .type = FR_FIELD_BOOL, .offset = offsetof(FrSweepSpec, relu_min0),
     .doc = "fix min at 0"},
    {FR_LIST(FrSweepSpec, packing, n_packing), .type = FR_FIELD_ENUMS, .names = cfg_pack_names,
     .def_list = DEF_ZERO, .n_def = 1, .doc = "packings"},
    {.key = "tile_pad", .type = FR_FIELD_INT, .offset = offsetof(FrSweepSpec, tile_pad),
     .allowed = TILE_PAD_ALLOWED, .what = "0, 8 or 16", .doc = "tile padding"},
    {FR_LIST(FrSweepSpec, qp, n_qp), .type = FR_FIELD_INTS, .lo = 0, .hi = 51, .what = QP_WHAT,
     .def_list = cfg_default_qp, .n_def = 4, .doc = "QPs of hevc entries"},
    {.key = "codec", .type = FR_FIELD_CUSTOM, .custom = CFG_C_CODEC, .doc = "codec entries",
     .doc_def = "`[hevc]`"},
    {FR_LIST(FrSweepSpec, allocation, n_allocation), .type = FR_FIELD_ENUMS,
     .names_fn = cfg_alloc_names, .def_list = DEF_ZERO, .n_def = 1, .doc = "QP allocations"},
    {FR_LIST(FrSweepSpec, qp_base, n_qp_base), .type = FR_FIELD_INTS, .lo = 0, .hi = 51,
     .flags = FR_FIELD_EMPTY_OK, .what = QP_WHAT, .doc = "QP_base list"},
    {.key = "qp_range", .type = FR_FIELD_INT, .offset = offsetof(FrSweepSpec, qp_range),
     .def = 5, .lo = 0, .hi = 51, .doc = "QP_range"},
    {SEC(FrSweepSpec, sensitivity, sens_schema), .flags = FR_FIELD_FLOW,
     .doc = "sensitivity measurement"},
    {SEC(FrSweepSpec, rdopt, rdopt_schema), .flags = FR_FIELD_FLOW, .shown = rdopt_used,
     .doc = "rdopt curves"},
    {FR_LIST(FrSweepSpec, weights, n_weights), .type = FR_FIELD_STRINGS,
     .what = "darknet .weights files of model.cfg", .flags = FR_FIELD_DUMP_IF_SET,
     .doc = "weights files, one feature curve each"},
    /* a limit, not a setting of the results */
    {.key = "max_points", .type = FR_FIELD_I64, .offset = offsetof(FrSweepSpec, max_points),
     .def = 100000, .lo = 1, .hi = 1000000000, .flags = FR_FIELD_DUMP_IF_SET | FR_FIELD_NOHASH,
     .doc = "the most RD points"},
};
static const char *const sweep_dump_order[] = {
    "split", "weights", "bits", "range", "relu_min0", "packing", "tile_pad", "qp", "codec",
    "allocation", "qp_base", "qp_range", "max_points", "sensitivity", "rdopt", NULL};
static const FrSchema sweep_schema = FR_SCHEMA("sweep", FrSweepSpec, sweep_fields);

/* ---- bootstrap ---- */

static const FrField boot_fields[] = {
    {.key = "replicates", .type = FR_FIELD_INT, .offset = offsetof(FrBootstrapSpec, replicates),
     .def = 1000, .lo = 0, .hi = 100000, .doc = "0 = no intervals"},
    {.key = "seed", .type = FR_FIELD_U64, .offset = offsetof(FrBootstrapSpec, seed), .def = 1,
     .lo = 0, .hi = INT_MAX, .doc = "the draws' seed"},
    {.key = "level", .type = FR_FIELD_DOUBLE, .offset = offsetof(FrBootstrapSpec, level),
     .ddef = 0.95, .dlo = 0, .dhi = 1, .flags = FR_FIELD_LO_OPEN, .accept = level_ok,
     .doc = "interval level"},
};
static const FrSchema boot_schema = FR_SCHEMA("bootstrap", FrBootstrapSpec, boot_fields);

/* ---- output ---- */

static const FrField output_fields[] = {
    {FR_STR(FrOutputSpec, dir, FR_FIELD_NOHASH), .def_str = "results/experiment",
     .doc = "results directory", .doc_def = "`results/<name>`"},
    {.key = "images_csv", .type = FR_FIELD_BOOL, .offset = offsetof(FrOutputSpec, images_csv),
     .doc = "also images.csv"},
    {.key = "plots", .type = FR_FIELD_BOOL, .offset = offsetof(FrOutputSpec, plots), .def = 1,
     .flags = FR_FIELD_NOHASH, .doc = "plots after the run"},
    {.key = "keep_streams", .type = FR_FIELD_BOOL,
     .offset = offsetof(FrOutputSpec, keep_streams), .flags = FR_FIELD_NOHASH,
     .doc = "keep the coded features"},
    {.key = "detections", .type = FR_FIELD_BOOL, .offset = offsetof(FrOutputSpec, detections),
     .doc = "per-image detections"},
    {FR_STR(FrOutputSpec, decoded_dir, FR_FIELD_NULLABLE | FR_FIELD_NOHASH),
     .shown = features_only, .doc = "decoded tensors' directory"},
};
static const char *const output_dump_order[] = {"dir", "images_csv", "detections", "decoded_dir",
                                                "plots", "keep_streams", NULL};
static const FrSchema output_schema = FR_SCHEMA("output", FrOutputSpec, output_fields);

/* ---- cluster (featrd submit; not hashed, dumped only when set) ---- */

static const FrField cluster_fields[] = {
    {FR_STR(FrClusterSpec, partition, FR_FIELD_NULLABLE), .doc = "sbatch --partition"},
    {FR_STR(FrClusterSpec, time, FR_FIELD_NULLABLE), .doc = "sbatch --time of a unit"},
    {FR_STR(FrClusterSpec, gres, FR_FIELD_NULLABLE),
     .doc = "sbatch --gres of a unit (not the merge)"},
    {.key = "cpus", .type = FR_FIELD_INT, .offset = offsetof(FrClusterSpec, cpus), .lo = 0,
     .hi = FR_MAX_JOBS, .doc = "cpus per task and each unit's --jobs; 0 = `jobs`"},
    {.key = "tasks", .type = FR_FIELD_INT, .offset = offsetof(FrClusterSpec, tasks), .lo = 0,
     .hi = 10000000, .doc = "about this many array tasks (chunks = tasks / groups); 0 = chunks"},
    {.key = "chunks", .type = FR_FIELD_INT, .offset = offsetof(FrClusterSpec, chunks), .lo = 0,
     .hi = 1000000, .doc = "image chunks; 0 = 4"},
    {.key = "throttle", .type = FR_FIELD_INT, .offset = offsetof(FrClusterSpec, throttle),
     .lo = 0, .hi = 1000000, .doc = "at most this many tasks at once; 0 = no limit"},
    {FR_LIST(FrClusterSpec, sbatch, n_sbatch), .type = FR_FIELD_STRINGS, .flags = FR_FIELD_EMPTY_OK,
     .what = "sbatch options such as --account=NAME", .doc = "more sbatch options",
     .doc_def = "`[]`"},
    {FR_LIST(FrClusterSpec, setup, n_setup), .type = FR_FIELD_STRINGS, .flags = FR_FIELD_EMPTY_OK,
     .what = "shell lines", .doc = "shell lines before featrd (module load ...)",
     .doc_def = "`[]`"},
};
static const FrSchema cluster_schema = FR_SCHEMA("cluster", FrClusterSpec, cluster_fields);

/* ---- invert (issue 24; hashed and dumped only when set) ---- */

static const FrField invert_fields[] = {
    {FR_STR(FrInvertSpec, cfg, FR_FIELD_NULLABLE),
     .doc = "decoder cfg; {split} = the split's name"},
    {FR_STR(FrInvertSpec, weights, FR_FIELD_NULLABLE), .doc = "decoder weights; {split} as in cfg"},
    {FR_LIST(FrInvertSpec, splits, n_splits), .type = FR_FIELD_STRINGS, .flags = FR_FIELD_EMPTY_OK,
     .what = "split names of sweep.split", .doc = "splits with a decoder; [] = every split",
     .doc_def = "`[]`"},
    {.key = "png", .type = FR_FIELD_INT, .offset = offsetof(FrInvertSpec, png), .lo = 0,
     .hi = 1000000, .flags = FR_FIELD_NOHASH, .doc = "the first N images as PNG under recon/"},
};
static const FrSchema invert_schema = FR_SCHEMA("invert", FrInvertSpec, invert_fields);

/* ---- bd[]: one entry ---- */

static const FrField bd_fields[] = {
    {FR_STR(FrBdSpec, anchor, 0), .doc = "a curve name or an anchor's name", .doc_def = "required"},
    {FR_STR(FrBdSpec, test, 0), .doc = "a curve name or a glob", .doc_def = "required"},
    {.key = "method", .type = FR_FIELD_ENUM, .offset = offsetof(FrBdSpec, method),
     .def = FR_BD_PCHIP, .names = cfg_bd_names, .doc = "pchip or cubic"},
    {FR_STR(FrBdSpec, rate, 0), .def_str = "kbpi", .accept = column_ok, .doc = "rate column"},
    {.key = "quality", .type = FR_FIELD_CUSTOM, .custom = CFG_C_BD_QUALITY,
     .doc = "a metric or a points.csv column", .doc_def = "`~` = first metric"},
    {.key = "monotone", .type = FR_FIELD_BOOL, .offset = offsetof(FrBdSpec, monotone), .def = 1,
     .doc = "fit the upper envelope"},
    {.key = "min_span", .type = FR_FIELD_CUSTOM, .custom = CFG_C_MIN_SPAN,
     .doc = "a number >= 0 or auto", .doc_def = "`auto`"},
};
const FrSchema cfg_bd_schema = FR_SCHEMA("bd", FrBdSpec, bd_fields);

/* ---- anchors[]: one entry (fr_hevc_schema's keys sit beside these: the
 * anchor's x265 settings, parse.c) ---- */

static const int CHROMA_ALLOWED[] = {420, 400, INT_MIN};
static const FrField anchor_fields[] = {
    {FR_STR(FrAnchorSpec, name, 0), .doc = "the anchor's curve name", .doc_def = "required"},
    {.key = "codec", .type = FR_FIELD_ENUM, .offset = offsetof(FrAnchorSpec, codec),
     .def = FR_ANCHOR_HEVC, .names = cfg_anchor_codec_names, .doc = "hevc or jpeg"},
    {FR_LIST(FrAnchorSpec, qp, n_qp), .type = FR_FIELD_INTS, .lo = 0, .hi = 51, .what = QP_WHAT,
     .def_list = cfg_default_qp, .n_def = 4, .doc = "hevc: QPs"},
    {FR_LIST(FrAnchorSpec, quality, n_quality), .type = FR_FIELD_INTS, .lo = 1, .hi = 100,
     .what = "an integer JPEG quality from 1 to 100", .doc = "jpeg: qualities",
     .doc_def = "required for jpeg"},
    {.key = "chroma", .type = FR_FIELD_INT, .offset = offsetof(FrAnchorSpec, chroma), .def = 420,
     .allowed = CHROMA_ALLOWED, .what = "420 (YCbCr 4:2:0) or 400 (luma only)",
     .doc = "hevc: 420 or 400"},
};
const FrSchema cfg_anchor_schema = FR_SCHEMA("anchor", FrAnchorSpec, anchor_fields);

/* ---- the top level ---- */

static const FrField top_fields[] = {
    {FR_STR(FrExperiment, name, FR_FIELD_NOHASH), .def_str = "experiment", .accept = name_ok,
     .doc = "names the results directory", .doc_def = "the config file's name without `.yaml`"},
    {.key = "kind", .type = FR_FIELD_ENUM, .offset = offsetof(FrExperiment, kind),
     .def = FR_KIND_RD, .names_fn = cfg_kind_names, .doc = "the experiment's kind"},
    {SEC(FrExperiment, model, model_schema), .shown = not_features, .doc = "the network"},
    {SEC(FrExperiment, dataset, dataset_schema), .shown = not_features, .doc = "the images"},
    {SEC(FrExperiment, sweep, sweep_schema), .order = sweep_dump_order, .shown = rd_or_features,
     .doc = "the RD sweep"},
    {.key = "anchors", .type = FR_FIELD_CUSTOM, .custom = CFG_C_ANCHORS,
     .sub = &cfg_anchor_schema, .shown = rd_only,
     .doc = "cloud-only coding of the input image", .doc_def = "`[]`"},
    {FR_LIST(FrExperiment, metrics, n_metrics), .type = FR_FIELD_ENUMS,
     .names_fn = cfg_metric_names, .flags = FR_FIELD_EMPTY_OK, .doc = "task metrics",
     .doc_def = "`[]` = task default"},
    {.key = "map_iou", .type = FR_FIELD_DOUBLE, .offset = offsetof(FrExperiment, map_iou),
     .ddef = 0.5, .dlo = 0, .dhi = 1, .flags = FR_FIELD_LO_OPEN, .doc = "IoU of mAP"},
    {.key = "det_thresh", .type = FR_FIELD_DOUBLE, .offset = offsetof(FrExperiment, det_thresh),
     .ddef = 0.005, .dlo = 0, .dhi = 1, .doc = "detection score threshold"},
    {.key = "nms", .type = FR_FIELD_DOUBLE, .offset = offsetof(FrExperiment, nms), .ddef = 0.45,
     .dlo = 0, .dhi = 1, .doc = "NMS IoU threshold"},
    {.key = "bd", .type = FR_FIELD_CUSTOM, .custom = CFG_C_BD, .sub = &cfg_bd_schema,
     .shown = rd_or_features,
     .flags = FR_FIELD_NOHASH, .doc = "Bjontegaard comparisons", .doc_def = "`[]`"},
    {SEC(FrExperiment, bootstrap, boot_schema), .flags = FR_FIELD_FLOW, .shown = rd_or_features,
     .doc = "confidence intervals"},
    {SEC(FrExperiment, output, output_schema), .order = output_dump_order, .doc = "results"},
    {.key = "jobs", .type = FR_FIELD_INT, .offset = offsetof(FrExperiment, jobs), .def = 1,
     .lo = 1, .hi = FR_MAX_JOBS, .flags = FR_FIELD_NOHASH, .doc = "worker threads"},
    {.key = "quiet", .type = FR_FIELD_BOOL, .offset = offsetof(FrExperiment, quiet),
     .flags = FR_FIELD_NOHASH, .doc = "no progress output"},
    {SEC(FrExperiment, cluster, cluster_schema), .shown = rd_only,
     .flags = FR_FIELD_NOHASH | FR_FIELD_DUMP_IF_SET, .doc = "featrd submit (docs/cluster.md)"},
    {SEC(FrExperiment, invert, invert_schema), .shown = rd_only,
     .flags = FR_FIELD_HASH_IF_SET | FR_FIELD_DUMP_IF_SET,
     .doc = "image reconstruction from the decoded features"},
    {.key = "include", .type = FR_FIELD_CUSTOM, .custom = CFG_C_INCLUDE,
     .flags = FR_FIELD_NODUMP, .doc = "base files", .doc_def = "—"},
};
static const char *const top_dump_order[] = {
    "name", "kind", "model", "dataset", "sweep", "anchors", "metrics", "map_iou",
    "bootstrap", "det_thresh", "nms", "bd", "output", "jobs",
    "quiet", "cluster", "invert", "include", NULL};
static const FrSchema top_schema = FR_SCHEMA("experiment", FrExperiment, top_fields);

/* The top level as the dump walks it: a section whose keys are the top
 * schema's. */
const FrField cfg_root_field = {.key = "", .type = FR_FIELD_SECTION, .sub = &top_schema,
                                .order = top_dump_order};

const FrSchema *fr_experiment_schema(void)
{
    return &top_schema;
}

void cfg_schema_keys(const FrSchema *s, const char **keys, int cap)
{
    int k = 0;
    for (int i = 0; i < s->n_fields && k < cap - 1; i++)
        keys[k++] = s->fields[i].key;
    keys[k] = NULL;
}
