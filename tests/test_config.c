/* test_config.c: the experiment YAML loader: bad configs (each message must
 * name the file, the line and the key), good configs with their parsed values
 * and defaults, include merging, -o overrides, file checks, the canonical
 * dump round trip and the hash. Fixtures are in tests/data/config/. */
#include "testutil.h"
#include "alloc/alloc.h"
#include "config/config.h"
#include "config/task.h"
#include "kinds/experiments.h"
#include "util/schema.h"

/* a codec entry's setting, through its schema */
#define SETTING(cs, k) fr_schema_get_int(fr_schema_field((cs)->codec->settings, k), (cs)->settings)
#define SETTING_S(cs, k) fr_schema_get_str(fr_schema_field((cs)->codec->settings, k), (cs)->settings)

#include <glob.h>
#include <limits.h>

#define DIR "tests/data/config/"
#define BAD DIR "bad/"

typedef struct BadCase {
    const char *file;     /* fixture under tests/data/config/bad/ */
    const char *override; /* one -o, or NULL */
    int code;
    const char *where;    /* "file:line:col" prefix (or "-o ..." label) */
    const char *key;      /* key path the message must name ("" when none) */
    const char *text;     /* a further fragment the message must hold */
} BadCase;

static const BadCase bad_cases[] = {
    /* YAML syntax */
    {"syntax.yaml", NULL, FR_E_CONFIG, BAD "syntax.yaml:4:10: ", "", "YAML syntax error: did not find expected ',' or ']'"},
    {"indent.yaml", NULL, FR_E_CONFIG, BAD "indent.yaml:4:4: ", "", "YAML syntax error"},
    {"two_docs.yaml", NULL, FR_E_CONFIG, BAD "two_docs.yaml:2:1: ", "", "more than one YAML document"},
    {"top_list.yaml", NULL, FR_E_CONFIG, BAD "top_list.yaml:1:1: ", "", "expected a map of keys"},
    {"dup_key.yaml", NULL, FR_E_CONFIG, BAD "dup_key.yaml:5:3: ", "sweep.bits", "duplicate key (first set at line 3)"},
    /* unknown keys, with and without a suggestion */
    {"unknown_top.yaml", NULL, FR_E_CONFIG, BAD "unknown_top.yaml:2:1: ", "sweeps", "unknown key (did you mean 'sweep'?)"},
    {"unknown_nested.yaml", NULL, FR_E_CONFIG, BAD "unknown_nested.yaml:4:3: ", "sweep.bitz", "unknown key (did you mean 'bits'?)"},
    {"unknown_model.yaml", NULL, FR_E_CONFIG, BAD "unknown_model.yaml:3:3: ", "model.weight", "(did you mean 'weights'?)"},
    {"unknown_far.yaml", NULL, FR_E_CONFIG, BAD "unknown_far.yaml:2:1: ", "frobnicate", "unknown key; known keys here: name, kind"},
    /* wrong types */
    {"bits_map.yaml", NULL, FR_E_CONFIG, BAD "bits_map.yaml:3:9: ", "sweep.bits", "expected a list of 8, 10 or 12, got a map"},
    {"jobs_word.yaml", NULL, FR_E_CONFIG, BAD "jobs_word.yaml:2:7: ", "jobs", "expected an integer from 1 to 64, got two"},
    {"jobs_quoted.yaml", NULL, FR_E_CONFIG, BAD "jobs_quoted.yaml:2:7: ", "jobs", "got \"2\""},
    {"quiet_word.yaml", NULL, FR_E_CONFIG, BAD "quiet_word.yaml:2:8: ", "quiet", "expected true or false, got maybe"},
    {"input_bad.yaml", NULL, FR_E_CONFIG, BAD "input_bad.yaml:3:10: ", "model.input", "expected WxH"},
    {"name_slash.yaml", NULL, FR_E_CONFIG, BAD "name_slash.yaml:2:7: ", "name", "got a/b"},
    /* out of range */
    {"bits9.yaml", NULL, FR_E_CONFIG, BAD "bits9.yaml:7:13: ", "sweep.bits", "expected 8, 10 or 12, got 9"},
    {"qp52.yaml", NULL, FR_E_CONFIG, BAD "qp52.yaml:3:12: ", "sweep.qp", "expected an integer QP from 0 to 51, got 52"},
    {"codec_qp52.yaml", NULL, FR_E_CONFIG, BAD "codec_qp52.yaml:5:29: ", "sweep.codec[1].qp", "got 52"},
    {"limit_neg.yaml", NULL, FR_E_CONFIG, BAD "limit_neg.yaml:3:10: ", "dataset.limit", "expected an integer >= 0, got -1"},
    {"jobs0.yaml", NULL, FR_E_CONFIG, BAD "jobs0.yaml:2:7: ", "jobs", "got 0"},
    {"map_iou.yaml", NULL, FR_E_CONFIG, BAD "map_iou.yaml:2:10: ", "map_iou", "got 1.5"},
    {"precision9.yaml", NULL, FR_E_CONFIG, BAD "precision9.yaml:4:18: ", "model_compression.precision", "from 1 to 8, got 9"},
    {"min_cu.yaml", NULL, FR_E_CONFIG, BAD "min_cu.yaml:4:37: ", "sweep.codec[0].min_cu", "hevc.min_cu is 32: use at most hevc.ctu (16)"},
    /* bad enum values (with suggestions for near misses) */
    {"packing_enum.yaml", NULL, FR_E_CONFIG, BAD "packing_enum.yaml:3:19: ", "sweep.packing", "expected tile, quilt, frames or tile-sorted, got quilts (did you mean 'quilt'?)"},
    {"kind_enum.yaml", NULL, FR_E_CONFIG, BAD "kind_enum.yaml:2:7: ", "kind", "expected rd, lossless, model or features, got lossy"},
    {"task_enum.yaml", NULL, FR_E_CONFIG, BAD "task_enum.yaml:3:9: ", "model.task", "got segmentation"},
    {"codec_name.yaml", NULL, FR_E_CONFIG, BAD "codec_name.yaml:3:26: ", "sweep.codec[1]", "got hevcc (did you mean 'hevc'?)"},
    {"lossless_coder.yaml", NULL, FR_E_CONFIG, BAD "lossless_coder.yaml:5:18: ", "lossless.coders", "got lz4"},
    /* empty and duplicated lists */
    {"empty_bits.yaml", NULL, FR_E_CONFIG, BAD "empty_bits.yaml:3:9: ", "sweep.bits", "expected a non-empty list"},
    {"empty_split.yaml", NULL, FR_E_CONFIG, BAD "empty_split.yaml:3:10: ", "sweep.split", "got an empty list"},
    {"dup_bits.yaml", NULL, FR_E_CONFIG, BAD "dup_bits.yaml:3:17: ", "sweep.bits", "duplicate value 8 (also at line 3)"},
    {"dup_anchor.yaml", NULL, FR_E_CONFIG, BAD "dup_anchor.yaml:4:5: ", "anchors[1].name", "duplicate anchor name 'cloud'"},
    /* includes */
    {"cycle_a.yaml", NULL, FR_E_CONFIG, BAD "cycle_b.yaml:1:10: ", "include", "include cycle: " BAD "cycle_a.yaml -> " BAD "cycle_b.yaml -> " BAD "cycle_a.yaml"},
    {"missing_include.yaml", NULL, FR_E_NOENT, BAD "missing_include.yaml:2:10: ", "include", "no such file '" BAD "nothere.yaml'"},
    /* rules across keys */
    {"no_cfg.yaml", NULL, FR_E_CONFIG, BAD "no_cfg.yaml:1:1: ", "model.cfg", "required"},
    {"no_split.yaml", NULL, FR_E_CONFIG, BAD "no_split.yaml:4:3: ", "sweep.split", "required for kind rd"},
    {"zlib_qp.yaml", NULL, FR_E_CONFIG, BAD "zlib_qp.yaml:4:20: ", "sweep.codec[0].qp", "zlib is lossless and has no QP"},
    {"sens_no_base.yaml", NULL, FR_E_CONFIG, BAD "sens_no_base.yaml:3:15: ", "sweep.allocation", "needs sweep.qp_base"},
    {"jpeg_no_quality.yaml", NULL, FR_E_CONFIG, BAD "jpeg_no_quality.yaml:4:5: ", "anchors[1].quality", "required for codec: jpeg"},
    {"wrong_kind_section.yaml", NULL, FR_E_CONFIG, BAD "wrong_kind_section.yaml:2:1: ", "lossless", "only used with kind: lossless"},
    {"voc_no_ann.yaml", NULL, FR_E_CONFIG, BAD "voc_no_ann.yaml:3:11: ", "dataset.labels", "needs dataset.annotations"},
    {"codec_split.yaml", NULL, FR_E_CONFIG, BAD "codec_split.yaml:4:28: ", "sweep.codec[0].split[0]", "expected one of sweep.split, got max_11"},
    {"metric_task.yaml", NULL, FR_E_CONFIG, BAD "metric_task.yaml:2:18: ", "metrics[1]", "top1 needs task classification"},
    {"bd_missing_test.yaml", NULL, FR_E_CONFIG, BAD "bd_missing_test.yaml:3:5: ", "bd[0]", "missing key 'test'"},
    /* -o overrides on a good file: messages name the override, not a line */
    {"../good.yaml", "sweep.bitz=8", FR_E_CONFIG, "-o sweep.bitz=8: ", "sweep.bitz", "unknown key (did you mean 'bits'?)"},
    {"../good.yaml", "outputs.dir=/tmp/x", FR_E_CONFIG, "-o outputs.dir=/tmp/x: ", "outputs", "did you mean 'output'?"},
    {"../good.yaml", "sweep.bits=[8,9]", FR_E_CONFIG, "-o sweep.bits=[8,9]: ", "sweep.bits", "expected 8, 10 or 12, got 9"},
    {"../good.yaml", "model.backend=onnx", FR_E_CONFIG, "-o model.backend=onnx: ", "model.backend", "expected darknet, got onnx"},
    {"../good.yaml", "dataset.limit=-3", FR_E_CONFIG, "-o dataset.limit=-3: ", "dataset.limit", "got -3"},
    {"../good.yaml", "sweep.bits", FR_E_CONFIG, "-o sweep.bits: ", "", "expected key.path=value"},
    {"../good.yaml", "sweep.bits=[8,", FR_E_CONFIG, "-o sweep.bits=[8,: ", "sweep.bits", "cannot read the value as YAML"},
    {"../good.yaml", "sweep.codec[7].qp=[22]", FR_E_CONFIG, "-o sweep.codec[7].qp=[22]: ", "sweep.codec", "index 7 is past the end"},
    {"../good.yaml", "jobs.x=1", FR_E_CONFIG, "-o jobs.x=1: ", "jobs", "cannot set a key inside 2"},
    {"../good.yaml", "include=other.yaml", FR_E_CONFIG, "-o include=other.yaml: ", "include", "cannot be overridden"},
    {"../model.yaml", "model_compression.rounding=round", FR_E_CONFIG, "-o model_compression.rounding=round: ", "model_compression.rounding", "expected truncate or nearest, got round"},
    {"../minimal.yaml", "dataset.names=voc.names", FR_E_CONFIG, "", "dataset.names", "needs model.names"},
    {"../model.yaml", "output.keep_streams=true", FR_E_CONFIG, "", "output.keep_streams", "only used with kind: rd"},
    {"../lossless.yaml", "dataset.class_map=m.map", FR_E_CONFIG, "", "dataset.class_map", "only used with kind: rd (this experiment is kind: lossless)"},
    {"../good.yaml", "dataset.class_map=9k-voc.map", FR_E_CONFIG, "", "dataset.class_map", "needs dataset.names"},
};

static void test_bad_configs(void **state)
{
    (void)state;
    int n = (int)(sizeof bad_cases / sizeof bad_cases[0]);
    assert_true(n >= 25);
    for (int i = 0; i < n; i++) {
        const BadCase *b = &bad_cases[i];
        char path[256];
        snprintf(path, sizeof path, BAD "%s", b->file);
        FrExperiment *e = (FrExperiment *)1;
        FrError err;
        memset(&err, 0, sizeof err);
        int rc = fr_config_load(path, b->override ? &b->override : NULL, b->override ? 1 : 0,
                                &e, &err);
        if (rc != b->code)
            print_error("case %s: rc %d, message: %s\n", b->file, rc, err.msg);
        assert_int_equal(rc, b->code);
        assert_null(e);
        assert_int_equal(err.code, b->code);
        assert_int_equal(fr_exit_status(rc), 2);
        /* the message starts with the location, then names the key */
        if (strncmp(err.msg, b->where, strlen(b->where))) {
            print_error("case %s: expected the message to start with \"%s\":\n%s\n", b->file,
                        b->where, err.msg);
            fail();
        }
        if (b->key[0]) {
            char k[256];
            snprintf(k, sizeof k, "%s%s: ", b->where, b->key);
            tu_assert_contains(err.msg, k);
        }
        tu_assert_contains(err.msg, b->text);
    }
}

static void test_missing_config_file(void **state)
{
    (void)state;
    FrExperiment *e;
    FrError err;
    assert_int_equal(fr_config_load(DIR "nothere.yaml", NULL, 0, &e, &err), FR_E_NOENT);
    assert_null(e);
    tu_assert_contains(err.msg, DIR "nothere.yaml: no such file");
    assert_int_equal(fr_config_load(DIR, NULL, 0, &e, &err), FR_E_NOENT);
    tu_assert_contains(err.msg, "is a directory");
}

static FrExperiment *load_ok(const char *path, const char *const *ov, int n)
{
    FrExperiment *e = NULL;
    FrError err;
    int rc = fr_config_load(path, ov, n, &e, &err);
    if (rc)
        print_error("%s: %s\n", path, err.msg);
    assert_int_equal(rc, 0);
    assert_non_null(e);
    return e;
}

static void test_good_values(void **state)
{
    (void)state;
    FrExperiment *e = load_ok(DIR "good.yaml", NULL, 0);
    assert_string_equal(e->name, "good");
    assert_int_equal(e->kind, FR_KIND_RD);
    /* from base.yaml */
    assert_string_equal(e->model.cfg, "/usr/share/darknet/cfg/yolo9000.cfg");
    assert_int_equal(e->model.input_w, 544);
    assert_int_equal(e->model.input_h, 544);
    assert_int_equal(e->model.task, FR_TASK_DETECTION);
    assert_string_equal(e->dataset.images, "tests/data/config/images.txt");
    assert_int_equal(e->dataset.limit, 20);
    assert_int_equal(e->sweep.n_split, 2);
    assert_string_equal(e->sweep.split[0], "max_3");
    assert_string_equal(e->sweep.split[1], "conv_6");
    assert_int_equal(e->jobs, 2);
    /* from good.yaml */
    assert_string_equal(e->model.weights, "tests/data/config/missing.weights");
    assert_string_equal(e->model.names, "/usr/share/darknet/data/voc.names");
    assert_int_equal(e->model.seed, 7);
    assert_int_equal(e->sweep.n_bits, 2);
    assert_int_equal(e->sweep.bits[0], 8);
    assert_int_equal(e->sweep.bits[1], 10);
    assert_int_equal(e->sweep.range, FR_RANGE_CHANNEL);
    assert_int_equal(e->sweep.relu_min0, 1);
    assert_int_equal(e->sweep.n_packing, 2);
    assert_int_equal(e->sweep.packing[0], FR_PACK_TILE);
    assert_int_equal(e->sweep.packing[1], FR_PACK_FRAMES);
    assert_int_equal(e->sweep.tile_pad, 16);
    assert_int_equal(e->sweep.n_codec, 4);
    const FrCodecSpec *c = e->sweep.codec;
    assert_string_equal(c[0].name, "hevc-lossless");
    assert_int_equal(c[0].n_qp, 0);
    assert_string_equal(c[1].name, "hevc");
    assert_int_equal(c[1].n_qp, 2);
    assert_int_equal(c[1].qp[0], 22);
    assert_int_equal(c[1].qp[1], 37);
    assert_int_equal(SETTING(&c[1], "rdoq"), 1);
    assert_int_equal(SETTING(&c[1], "sao"), 1);
    assert_int_equal(SETTING(&c[1], "ctu"), 32);
    assert_int_equal(SETTING(&c[1], "min_cu"), 16);
    assert_string_equal(SETTING_S(&c[1], "preset"), "medium");
    assert_int_equal(c[1].n_split, 1);
    assert_string_equal(c[1].split[0], "conv_6");
    /* a bare "hevc" takes sweep.qp */
    assert_string_equal(c[2].name, "hevc");
    assert_int_equal(c[2].n_qp, 2);
    assert_int_equal(c[2].qp[0], 20);
    assert_int_equal(c[2].qp[1], 30);
    assert_int_equal(SETTING(&c[2], "rdoq"), 0);
    assert_int_equal(c[2].n_split, 0);
    assert_string_equal(c[3].name, "zstd");
    assert_int_equal(SETTING(&c[3], "level"), 19);
    assert_int_equal(e->sweep.n_allocation, 2);
    assert_int_equal(e->sweep.allocation[1], fr_alloc_find("sensitivity"));
    assert_int_equal(e->sweep.n_qp_base, 2);
    assert_int_equal(e->sweep.qp_base[1], 38);
    assert_int_equal(e->sweep.qp_range, 4);
    assert_int_equal(e->sweep.sensitivity.layer, FR_SENS_NAMED);
    assert_string_equal(e->sweep.sensitivity.layer_name, "conv_9");
    assert_int_equal(e->sweep.sensitivity.scope, FR_SENS_DATASET);
    assert_int_equal(e->sweep.sensitivity.calibration_images, 8);
    assert_int_equal(e->n_anchors, 2);
    assert_string_equal(e->anchors[0].name, "cloud-hevc");
    assert_int_equal(e->anchors[0].codec, FR_ANCHOR_HEVC);
    assert_int_equal(e->anchors[0].n_qp, 2);
    assert_int_equal(e->anchors[0].qp[1], 32);
    assert_int_equal(e->anchors[1].codec, FR_ANCHOR_JPEG);
    assert_int_equal(e->anchors[1].n_quality, 3);
    assert_int_equal(e->anchors[1].quality[2], 90);
    assert_int_equal(e->n_metrics, 2);
    assert_int_equal(e->metrics[0], FR_METRIC_MAP07);
    assert_int_equal(e->metrics[1], FR_METRIC_FEATURE_PSNR);
    assert_true(e->map_iou == 0.75);
    assert_int_equal(e->n_bd, 2);
    assert_string_equal(e->bd[0].anchor, "cloud-hevc");
    assert_string_equal(e->bd[0].test, "split=*,bits=8,*");
    assert_int_equal(e->bd[0].method, FR_BD_CUBIC);
    assert_string_equal(e->bd[0].rate, "kbpi");
    assert_null(e->bd[0].quality);
    assert_int_equal(e->bd[1].method, FR_BD_PCHIP);
    assert_string_equal(e->bd[1].quality, "map07");
    assert_string_equal(e->output.dir, "results/good");
    assert_int_equal(e->output.images_csv, 1);
    assert_int_equal(e->output.plots, 1);
    assert_int_equal(e->quiet, 1);
    /* locations: keys from the base point into base.yaml */
    const FrSrcLoc *l = fr_experiment_loc(e, "model.cfg");
    assert_non_null(l);
    assert_string_equal(l->file, DIR "base.yaml");
    assert_int_equal(l->line, 3);
    assert_int_equal(l->col, 8);
    l = fr_experiment_loc(e, "model.weights");
    assert_string_equal(l->file, DIR "good.yaml");
    assert_int_equal(l->line, 5);
    l = fr_experiment_loc(e, "sweep.split[1]");
    assert_string_equal(l->file, DIR "base.yaml");
    assert_int_equal(l->line, 10);
    assert_int_equal(l->col, 18);
    assert_null(fr_experiment_loc(e, "model.gemm"));
    FrError err;
    assert_int_equal(fr_experiment_error(e, &err, FR_E_CONFIG, "sweep.split[1]",
                                         "no layer named %s", "conv_6"),
                     FR_E_CONFIG);
    assert_string_equal(err.msg, DIR "base.yaml:10:18: sweep.split[1]: no layer named conv_6");
    /* a key never set falls back to its closest parent that was */
    fr_experiment_error(e, &err, FR_E_CONFIG, "sweep.codec[3].ctu", "x");
    assert_string_equal(err.msg, DIR "good.yaml:19:7: sweep.codec[3].ctu: x");
    fr_experiment_free(&e);
    assert_null(e);
    fr_experiment_free(&e); /* safe on NULL */
    fr_experiment_free(NULL);
}

static void test_defaults(void **state)
{
    (void)state;
    FrExperiment *e = load_ok(DIR "minimal.yaml", NULL, 0);
    assert_string_equal(e->name, "minimal"); /* the file's basename */
    assert_string_equal(e->output.dir, "results/minimal");
    assert_int_equal(e->kind, FR_KIND_RD);
    assert_null(e->model.weights);
    assert_null(e->model.names);
    assert_int_equal(e->model.task, FR_TASK_AUTO);
    assert_int_equal(e->model.input_w, 0);
    assert_int_equal(e->model.seed, 1);
    assert_int_equal(e->model.gemm, FR_GEMM_OPENBLAS);
    assert_int_equal(e->dataset.labels, FR_LABELS_DARKNET_TXT);
    assert_int_equal(e->dataset.limit, 0);
    assert_int_equal(e->sweep.n_split, 1); /* a scalar is a one-item list */
    assert_string_equal(e->sweep.split[0], "max_17");
    assert_int_equal(e->sweep.n_bits, 1);
    assert_int_equal(e->sweep.bits[0], 8);
    assert_int_equal(e->sweep.range, FR_RANGE_TENSOR);
    assert_int_equal(e->sweep.relu_min0, 0);
    assert_int_equal(e->sweep.n_packing, 1);
    assert_int_equal(e->sweep.packing[0], FR_PACK_TILE);
    assert_int_equal(e->sweep.tile_pad, 0);
    assert_int_equal(e->sweep.n_codec, 1);
    assert_string_equal(e->sweep.codec[0].name, "hevc");
    assert_int_equal(e->sweep.codec[0].n_qp, 4);
    assert_int_equal(e->sweep.codec[0].qp[0], 22);
    assert_int_equal(e->sweep.codec[0].qp[3], 37);
    assert_int_equal(SETTING(&e->sweep.codec[0], "ctu"), 16);
    assert_int_equal(SETTING(&e->sweep.codec[0], "min_cu"), 8);
    assert_int_equal(SETTING(&e->sweep.codec[0], "rdoq"), 0);
    assert_int_equal(SETTING(&e->sweep.codec[0], "sao"), 1);
    assert_int_equal(e->sweep.n_allocation, 1);
    assert_int_equal(e->sweep.allocation[0], FR_ALLOC_UNIFORM);
    assert_int_equal(e->sweep.n_qp_base, 0);
    assert_int_equal(e->sweep.qp_range, 5);
    assert_int_equal(e->sweep.sensitivity.layer, FR_SENS_PENULTIMATE);
    assert_int_equal(e->sweep.sensitivity.calibration_images, 16);
    assert_int_equal(e->n_anchors, 0);
    assert_int_equal(e->n_metrics, 0);
    assert_true(e->map_iou == 0.5);
    assert_true(e->det_thresh == 0.005);
    assert_true(e->nms == 0.45);
    assert_int_equal(e->n_bd, 0);
    assert_int_equal(e->output.images_csv, 0);
    assert_int_equal(e->output.plots, 1);
    assert_int_equal(e->jobs, 1);
    assert_int_equal(e->quiet, 0);
    fr_experiment_free(&e);

    e = fr_experiment_defaults();
    assert_non_null(e);
    assert_null(e->model.cfg);
    assert_string_equal(e->name, "experiment");
    assert_string_equal(e->output.dir, "results/experiment");
    /* the kinds' own sections (FrKindInfo.section) are at their defaults
     * whatever the kind: none for rd, the defaults once the kind is theirs */
    assert_null(fr_experiment_kind_settings(e));
    e->kind = FR_KIND_LOSSLESS;
    const FrLosslessSpec *ls = fr_experiment_kind_settings(e);
    assert_non_null(ls);
    assert_int_equal(ls->all_layers, 1);
    assert_int_equal(ls->n_layers, 0);
    assert_int_equal(ls->n_coders, 5);
    assert_string_equal(ls->coders[3], "lzma");
    assert_int_equal(ls->quantized_bits, 0);
    assert_int_equal(ls->repeats, 1);
    e->kind = FR_KIND_MODEL;
    const FrModelCompressionSpec *mc = fr_experiment_kind_settings(e);
    assert_non_null(mc);
    assert_int_equal(mc->n_precision, 8);
    assert_int_equal(mc->precision[7], 8);
    assert_int_equal(mc->coder, FR_MODEL_CODER_LZMA);
    assert_null(mc->dom_base);
    e->kind = FR_KIND_FEATURES;
    const FrFeaturesSpec *fs = fr_experiment_kind_settings(e);
    assert_non_null(fs);
    assert_null(fs->dir);
    assert_null(fs->list);
    assert_int_equal(fs->limit, 0);
    fr_experiment_free(&e);
}

static void test_other_kinds(void **state)
{
    (void)state;
    FrExperiment *e = load_ok(DIR "lossless.yaml", NULL, 0);
    assert_int_equal(e->kind, FR_KIND_LOSSLESS);
    const FrLosslessSpec *ls = fr_experiment_kind_settings(e);
    assert_int_equal(ls->all_layers, 0);
    assert_int_equal(ls->n_layers, 3);
    assert_string_equal(ls->layers[2], "5");
    assert_int_equal(ls->n_coders, 2);
    assert_string_equal(ls->coders[1], "zstd");
    assert_int_equal(ls->quantized_bits, 8);
    assert_int_equal(ls->repeats, 3);
    assert_int_equal(e->dataset.labels, FR_LABELS_CLASS_LIST);
    assert_int_equal(e->metrics[0], FR_METRIC_TOP1);
    fr_experiment_free(&e);
    const char *all = "lossless.layers=all";
    e = load_ok(DIR "lossless.yaml", &all, 1);
    ls = fr_experiment_kind_settings(e);
    assert_int_equal(ls->all_layers, 1);
    assert_int_equal(ls->n_layers, 0);
    fr_experiment_free(&e);
    /* and back to a list: the word all is no layer name */
    const char *two[] = {"lossless.layers=all", "lossless.layers=[conv_0, 3]"};
    e = load_ok(DIR "lossless.yaml", two, 2);
    ls = fr_experiment_kind_settings(e);
    assert_int_equal(ls->all_layers, 0);
    assert_int_equal(ls->n_layers, 2);
    assert_string_equal(ls->layers[0], "conv_0");
    fr_experiment_free(&e);

    e = load_ok(DIR "model.yaml", NULL, 0);
    assert_int_equal(e->kind, FR_KIND_MODEL);
    assert_null(e->dataset.images);
    const FrModelCompressionSpec *mc = fr_experiment_kind_settings(e);
    assert_int_equal(mc->n_precision, 3);
    assert_int_equal(mc->precision[2], 6);
    assert_int_equal(mc->coder, FR_MODEL_CODER_ZSTD);
    assert_string_equal(mc->dom_base, "a.weights");
    assert_string_equal(mc->dom_target, "b.weights");
    /* seed 002's int64(w·10^p) truncates: the default, in the dump and the hash */
    assert_int_equal(mc->rounding, FR_MODEL_ROUND_TRUNCATE);
    char *dump = fr_experiment_dump_string(e);
    tu_assert_contains(dump, "  rounding: truncate\n");
    free(dump);
    const char *nearest = "model_compression.rounding=nearest";
    FrExperiment *en = load_ok(DIR "model.yaml", &nearest, 1);
    assert_int_equal(((const FrModelCompressionSpec *)fr_experiment_kind_settings(en))->rounding,
                     FR_MODEL_ROUND_NEAREST);
    assert_true(fr_experiment_hash(en) != fr_experiment_hash(e));
    fr_experiment_free(&en);
    fr_experiment_free(&e);

    /* kind features' section: read into its kind settings, -o reaches it,
     * dumped where it always was (after kind, before sweep) */
    const char *lim = "features.limit=4";
    FrError err;
    assert_int_equal(fr_config_load_string("kind: features\nfeatures: {dir: fd, split: conv3}\n"
                                           "sweep: {codec: [{name: zstd}]}\n",
                                           "f.yaml", &lim, 1, &e, &err), 0);
    const FrFeaturesSpec *fs = fr_experiment_kind_settings(e);
    assert_string_equal(fs->dir, "fd");
    assert_null(fs->list);
    assert_string_equal(fs->split, "conv3");
    assert_int_equal(fs->limit, 4);
    dump = fr_experiment_dump_string(e);
    tu_assert_contains(dump, "kind: features\nfeatures:\n  dir: \"fd\"\n  list: ~\n  split: \"conv3\"\n"
                             "  limit: 4\nsweep:\n");
    free(dump);
    fr_experiment_free(&e);
    /* its rules come before the common ones: a dataset is refused as a
     * section kind features does not read, not for its labels */
    assert_int_equal(fr_config_load_string("kind: features\nfeatures: {dir: fd}\n"
                                           "dataset: {images: i.txt, labels: voc-xml}\n",
                                           "f.yaml", NULL, 0, &e, &err),
                     FR_E_CONFIG);
    assert_null(e);
    tu_assert_contains(err.msg, "f.yaml:3:19: dataset.images: kind features reads features.dir "
                                "or features.list, not an image list; remove dataset");

    e = load_ok(DIR "anchors_aliases.yaml", NULL, 0);
    assert_int_equal(e->anchors[0].n_qp, 2);
    assert_int_equal(e->anchors[0].qp[0], 24);
    assert_int_equal(e->anchors[0].qp[1], 29);
    assert_int_equal(e->sweep.codec[0].qp[1], 29);
    fr_experiment_free(&e);
}

static void test_overrides(void **state)
{
    (void)state;
    const char *ov[] = {
        "output.dir=/tmp/x",
        "sweep.qp=[22,27]",     /* the bare hevc entry takes it; the map entry keeps its own */
        "dataset.limit=10",
        "sweep.codec[1].qp=[30]",
        "sweep.bits=12",        /* a scalar for a one-item list */
        "model.weights=",       /* empty: back to random weights */
        "sweep.sensitivity.layer=final",
        "anchors[1].quality=[50]",
        "metrics=[map07]",
        "name=renamed",
        "sweep.codec[4]=zlib",  /* index == length appends */
    };
    FrExperiment *e = load_ok(DIR "good.yaml", ov, (int)(sizeof ov / sizeof ov[0]));
    assert_string_equal(e->output.dir, "/tmp/x");
    assert_int_equal(e->sweep.n_qp, 2);
    assert_int_equal(e->sweep.codec[2].n_qp, 2);
    assert_int_equal(e->sweep.codec[2].qp[0], 22);
    assert_int_equal(e->sweep.codec[2].qp[1], 27);
    assert_int_equal(e->sweep.codec[1].n_qp, 1);
    assert_int_equal(e->sweep.codec[1].qp[0], 30);
    assert_int_equal(SETTING(&e->sweep.codec[1], "rdoq"), 1); /* only qp was replaced in that entry */
    assert_int_equal(e->dataset.limit, 10);
    assert_int_equal(e->sweep.n_bits, 1);
    assert_int_equal(e->sweep.bits[0], 12);
    assert_null(e->model.weights);
    assert_int_equal(e->sweep.sensitivity.layer, FR_SENS_FINAL);
    assert_null(e->sweep.sensitivity.layer_name);
    assert_int_equal(e->anchors[1].n_quality, 1);
    assert_int_equal(e->anchors[1].quality[0], 50);
    assert_int_equal(e->n_metrics, 1);
    assert_string_equal(e->name, "renamed");
    assert_int_equal(e->sweep.n_codec, 5);
    assert_string_equal(e->sweep.codec[4].name, "zlib");
    const FrSrcLoc *l = fr_experiment_loc(e, "dataset.limit");
    assert_non_null(l);
    assert_string_equal(l->file, "-o dataset.limit=10");
    assert_int_equal(l->line, 0);
    FrError err;
    fr_experiment_error(e, &err, FR_E_CONFIG, "dataset.limit", "too many");
    assert_string_equal(err.msg, "-o dataset.limit=10: dataset.limit: too many");
    fr_experiment_free(&e);

    /* output.dir follows an overridden name when the config does not set it */
    const char *ov2[] = {"name=other"};
    e = load_ok(DIR "minimal.yaml", ov2, 1);
    assert_string_equal(e->output.dir, "results/other");
    fr_experiment_free(&e);

    /* a later override wins; a flow map sets a whole section */
    const char *ov3[] = {"jobs=3", "jobs=4", "output={dir: /tmp/y, plots: false}"};
    e = load_ok(DIR "minimal.yaml", ov3, 3);
    assert_int_equal(e->jobs, 4);
    assert_string_equal(e->output.dir, "/tmp/y");
    assert_int_equal(e->output.plots, 0);
    fr_experiment_free(&e);
}

/* The trust keys: anchors take the features' x265 settings unless they
 * name their own; bootstrap and bd options parse, dump and reload; errors
 * name the key. */
static void test_anchor_and_bootstrap_keys(void **state)
{
    (void)state;
    FrExperiment *e = NULL;
    FrError err = {0};
    const char *base = "model: {cfg: a.cfg}\ndataset: {images: i.txt}\nsweep:\n  split: [max_1]\n"
                       "  codec: [{name: hevc, ctu: 32, min_cu: 16, rdoq: true}]\n";
    char buf[2048];
    snprintf(buf, sizeof buf, "%sanchors:\n  - {name: a1}\n  - {name: a2, ctu: 64, chroma: 400}\n"
             "bootstrap: {replicates: 200, seed: 9, level: 0.9}\n"
             "bd:\n  - {anchor: a1, test: 'split=*', monotone: false, min_span: 0.02}\n", base);
    assert_int_equal(fr_config_load_string(buf, "t.yaml", NULL, 0, &e, &err), 0);
    assert_int_equal(e->anchors[0].hevc.ctu, 32);
    assert_int_equal(e->anchors[0].hevc.min_cu, 16);
    assert_int_equal(e->anchors[0].hevc.rdoq, 1);
    assert_int_equal(e->anchors[0].hevc.sao, 1);
    assert_int_equal(e->anchors[0].chroma, 420);
    assert_int_equal(e->anchors[1].hevc.ctu, 64);
    assert_int_equal(e->anchors[1].hevc.min_cu, 16);
    assert_int_equal(e->anchors[1].chroma, 400);
    assert_int_equal(e->bootstrap.replicates, 200);
    assert_true(e->bootstrap.seed == 9);
    tu_assert_near(e->bootstrap.level, 0.9, 0);
    assert_int_equal(e->bd[0].monotone, 0);
    tu_assert_near(e->bd[0].min_span, 0.02, 0);
    /* the dump holds the resolved values and reloads to the same dump */
    char *d1 = fr_experiment_dump_string(e);
    tu_assert_contains(d1, "ctu: 32, min_cu: 16, rdoq: 1, psy: false, sao: true, deblock: true, wpp: false, intra: true, tskip: false, preset: \"medium\", chroma: 420");
    tu_assert_contains(d1, "bootstrap: {replicates: 200, seed: 9, level: 0.9}");
    FrExperiment *f = NULL;
    assert_int_equal(fr_config_load_string(d1, "dump.yaml", NULL, 0, &f, &err), 0);
    char *d2 = fr_experiment_dump_string(f);
    assert_string_equal(d1, d2);
    assert_true(fr_experiment_hash(e) == fr_experiment_hash(f));
    /* replicates change the results (CIs): part of the hash */
    f->bootstrap.replicates = 100;
    assert_true(fr_experiment_hash(e) != fr_experiment_hash(f));
    free(d1);
    free(d2);
    fr_experiment_free(&f);
    fr_experiment_free(&e);
    /* defaults */
    snprintf(buf, sizeof buf, "%s", "model: {cfg: a.cfg}\ndataset: {images: i.txt}\nsweep: {split: [x]}\n"
             "anchors: [{name: a}]\n");
    assert_int_equal(fr_config_load_string(buf, "t.yaml", NULL, 0, &e, &err), 0);
    assert_int_equal(e->anchors[0].hevc.ctu, 16);
    assert_int_equal(e->anchors[0].hevc.rdoq, 0);
    assert_int_equal(e->bootstrap.replicates, 1000);
    fr_experiment_free(&e);
    /* errors */
    struct { const char *yaml, *msg; } bad[] = {
        {"anchors: [{name: a, chroma: 422}]\n", "anchors[0].chroma: expected 420 (YCbCr 4:2:0) or 400"},
        {"anchors: [{name: a, codec: jpeg, quality: [50], ctu: 32}]\n", "anchors[0].ctu: only for codec: hevc"},
        {"anchors: [{name: a, ctu: 16, min_cu: 32}]\n", "anchor 'a': hevc.min_cu is 32: use at most hevc.ctu (16)"},
        {"bootstrap: {replicates: -1}\n", "bootstrap.replicates"},
        {"bootstrap: {level: 1}\n", "bootstrap.level"},
        {"bootstrap: {reps: 3}\n", "bootstrap.reps"},
        {"bd: [{anchor: a, test: b, min_span: -2}]\n", "bd[0].min_span"},
        {"bd: [{anchor: a, test: b, quality: 'PSNR!'}]\n", "bd[0].quality"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(buf, sizeof buf, "model: {cfg: a.cfg}\ndataset: {images: i.txt}\nsweep: {split: [x]}\n%s",
                 bad[i].yaml);
        assert_int_equal(fr_config_load_string(buf, "t.yaml", NULL, 0, &e, &err), FR_E_CONFIG);
        tu_assert_contains(err.msg, bad[i].msg);
    }
}

/* 50,000 keys in one mapping (issue 23: quadratic before, 13 s at 40k):
 * the duplicate at the very end is found, at its line, naming the first. */
static void test_many_keys(void **state)
{
    (void)state;
    enum { N = 50000 };
    size_t cap = (size_t)N * 24 + 256, k = 0;
    char *t = malloc(cap);
    assert_non_null(t);
    k += (size_t)snprintf(t + k, cap - k, "model:\n");
    for (int i = 0; i < N; i++)
        k += (size_t)snprintf(t + k, cap - k, "  k%d: %d\n", i, i);
    k += (size_t)snprintf(t + k, cap - k, "  k%d: again\n", 31337);
    FrExperiment *e = NULL;
    FrError err;
    assert_int_equal(fr_config_load_string(t, "keys.yaml", NULL, 0, &e, &err), FR_E_CONFIG);
    char want[128];
    snprintf(want, sizeof want, "keys.yaml:%d:3: model.k31337: duplicate key (first set at line %d)",
             N + 2, 31337 + 2);
    assert_string_equal(err.msg, want);
    assert_null(e);
    free(t);
}

/* The sweep's size is checked before it is expanded (issue 23: ~10^9 points
 * grew to 4.6 GB): 400 splits × 3 bits × 3 packings × 52 QPs + the reference
 * = 187,201 points > the default max_points of 100,000. */
static void test_sweep_cap(void **state)
{
    (void)state;
    size_t cap = 64 * 1024, k = 0;
    char *t = malloc(cap);
    assert_non_null(t);
    k += (size_t)snprintf(t + k, cap - k, "model: {cfg: a.cfg}\ndataset: {images: i.txt}\nsweep:\n  split: [");
    for (int i = 0; i < 400; i++)
        k += (size_t)snprintf(t + k, cap - k, "%sl%d", i ? ", " : "", i);
    k += (size_t)snprintf(t + k, cap - k, "]\n  bits: [8, 10, 12]\n  packing: [tile, quilt, frames]\n  qp: [");
    for (int i = 0; i < 52; i++)
        k += (size_t)snprintf(t + k, cap - k, "%s%d", i ? ", " : "", i);
    k += (size_t)snprintf(t + k, cap - k, "]\n");
    FrExperiment *e = NULL;
    FrError err;
    assert_int_equal(fr_config_load_string(t, "big.yaml", NULL, 0, &e, &err), FR_E_CONFIG);
    tu_assert_contains(err.msg, "big.yaml:4:");
    tu_assert_contains(err.msg, "expands to 187201 points (split 400 × bits 3 × packing 3");
    tu_assert_contains(err.msg, "max_points (100000)");
    assert_null(e);
    const char *ov[] = {"sweep.max_points=200000"};
    assert_int_equal(fr_config_load_string(t, "big.yaml", ov, 1, &e, &err), 0);
    assert_int_equal(e->sweep.max_points, 200000);
    fr_experiment_free(&e);
    const char *ov2[] = {"sweep.max_points=187200"};
    assert_int_equal(fr_config_load_string(t, "big.yaml", ov2, 1, &e, &err), FR_E_CONFIG);
    free(t);
}

/* Errors before any work, at the right place (issue 23 defect 8). */
static void test_early_errors(void **state)
{
    (void)state;
    FrExperiment *e = NULL;
    FrError err;
    const char *base = "model: {cfg: a.cfg}\ndataset: {images: i.txt}\nsweep:\n  split: [max_1]\n";
    char t[512];
    /* bad bytes: libyaml's reader error at its line and column, not 1:1 */
    snprintf(t, sizeof t, "%s  bits: [8\xff]\n", base);
    assert_int_equal(fr_config_load_string(t, "u.yaml", NULL, 0, &e, &err), FR_E_CONFIG);
    tu_assert_contains(err.msg, "u.yaml:5:11: invalid leading UTF-8 octet (byte 0xff)");
    snprintf(t, sizeof t, "%sname: ab\x01" "c\n", base);
    assert_int_equal(fr_config_load_string(t, "u.yaml", NULL, 0, &e, &err), FR_E_CONFIG);
    tu_assert_contains(err.msg, "u.yaml:5:9: control characters are not allowed (byte 0x01)");
    /* an override with an empty key part */
    const char *ov[] = {"sweep..bits=10"};
    assert_int_equal(fr_config_load_string(base, "u.yaml", ov, 1, &e, &err), FR_E_CONFIG);
    tu_assert_contains(err.msg, "-o sweep..bits=10: key path 'sweep..bits' has an empty part");
    /* a 300-character name is the name's error, not output.dir's */
    char nm[400];
    memset(nm, 'a', 300);
    nm[300] = 0;
    snprintf(t, sizeof t, "%sname: %s\n", base, nm);
    assert_int_equal(fr_config_load_string(t, "u.yaml", NULL, 0, &e, &err), FR_E_CONFIG);
    tu_assert_contains(err.msg, "u.yaml:5:7: name: expected at most 128 characters");
    /* sensitivity with quilt packing: refused at load, naming the key */
    snprintf(t, sizeof t, "%s  packing: [tile, quilt]\n  allocation: [sensitivity]\n  qp_base: [40]\n", base);
    assert_int_equal(fr_config_load_string(t, "u.yaml", NULL, 0, &e, &err), FR_E_CONFIG);
    tu_assert_contains(err.msg, "u.yaml:5:");
    tu_assert_contains(err.msg, "sweep.packing: allocation sensitivity (a QP per channel) needs packing tile or frames");
    assert_null(e);
}


/* sweep.rdopt (issue #19): the default QP set, and every misuse refused at
 * load with file:line:col and the key. */
static void test_rdopt_keys(void **state)
{
    (void)state;
    FrExperiment *e = NULL;
    FrError err;
    const char *base = "model: {cfg: a.cfg}\ndataset: {images: i.txt}\nsweep:\n  split: [max_1]\n";
    char t[768];
    snprintf(t, sizeof t, "%s  packing: [frames]\n  allocation: [uniform, rdopt]\n"
             "  qp_base: [36, 38, 40, 42]\n", base);
    assert_int_equal(fr_config_load_string(t, "r.yaml", NULL, 0, &e, &err), 0);
    /* every 2nd QP from 36 - 4 to 42 + 5 on the grid through 36 */
    const int want[] = {32, 34, 36, 38, 40, 42, 44, 46};
    assert_int_equal(e->sweep.rdopt.n_qps, 8);
    assert_memory_equal(e->sweep.rdopt.qps, want, sizeof want);
    fr_experiment_free(&e);
    /* qp_step 3 from 37 - 3 to 37 + 5 */
    snprintf(t, sizeof t, "%s  packing: [frames]\n  allocation: [rdopt-refine]\n"
             "  qp_base: [37]\n  rdopt: {qp_step: 3}\n", base);
    assert_int_equal(fr_config_load_string(t, "r.yaml", NULL, 0, &e, &err), 0);
    const int want2[] = {34, 37, 40};
    assert_int_equal(e->sweep.rdopt.n_qps, 3);
    assert_memory_equal(e->sweep.rdopt.qps, want2, sizeof want2);
    fr_experiment_free(&e);
    snprintf(t, sizeof t, "%s  packing: [frames]\n  allocation: [rdopt]\n"
             "  qp_base: [40, 36]\n  rdopt: {qps: [44, 36, 40, 30]}\n", base);
    assert_int_equal(fr_config_load_string(t, "r.yaml", NULL, 0, &e, &err), 0);
    const int want3[] = {30, 36, 40, 44};
    assert_memory_equal(e->sweep.rdopt.qps, want3, sizeof want3);
    fr_experiment_free(&e);

    snprintf(t, sizeof t, "%s  packing: [frames, tile]\n  allocation: [rdopt]\n"
             "  qp_base: [40]\n", base);
    assert_int_equal(fr_config_load_string(t, "r.yaml", NULL, 0, &e, &err), FR_E_CONFIG);
    tu_assert_contains(err.msg, "r.yaml:5:");
    tu_assert_contains(err.msg, "sweep.packing[1]: allocation rdopt needs packing frames");
    snprintf(t, sizeof t, "%s  packing: [frames]\n  allocation: [rdopt]\n"
             "  qp_base: [40, 41]\n  rdopt: {qps: [36, 40, 44]}\n", base);
    assert_int_equal(fr_config_load_string(t, "r.yaml", NULL, 0, &e, &err), FR_E_CONFIG);
    tu_assert_contains(err.msg, "r.yaml:7:");
    tu_assert_contains(err.msg, "sweep.qp_base[1]: qp_base 41 is not in sweep.rdopt.qps");
    snprintf(t, sizeof t, "%s  packing: [frames]\n  allocation: [sensitivity]\n"
             "  qp_base: [40]\n  rdopt: {qps: [36, 40]}\n", base);
    assert_int_equal(fr_config_load_string(t, "r.yaml", NULL, 0, &e, &err), FR_E_CONFIG);
    tu_assert_contains(err.msg, "r.yaml:8:");
    tu_assert_contains(err.msg, "sweep.rdopt.qps: only used with allocation rdopt");
    snprintf(t, sizeof t, "%s  packing: [frames]\n  allocation: [rdopt]\n", base);
    assert_int_equal(fr_config_load_string(t, "r.yaml", NULL, 0, &e, &err), FR_E_CONFIG);
    tu_assert_contains(err.msg, "rdopt needs sweep.qp_base");
    snprintf(t, sizeof t, "%s  packing: [frames]\n  allocation: [rdopt]\n"
             "  qp_base: [40]\n  rdopt: {qps: [40]}\n", base);
    assert_int_equal(fr_config_load_string(t, "r.yaml", NULL, 0, &e, &err), FR_E_CONFIG);
    tu_assert_contains(err.msg, "at least two QPs");
    snprintf(t, sizeof t, "%s  packing: [frames]\n  allocation: [rdopt]\n"
             "  qp_base: [40]\n  rdopt: {qps: [40, 52]}\n", base);
    assert_int_equal(fr_config_load_string(t, "r.yaml", NULL, 0, &e, &err), FR_E_CONFIG);
    tu_assert_contains(err.msg, "r.yaml:8:");
    snprintf(t, sizeof t, "%s  packing: [frames]\n  allocation: [rdopt]\n"
             "  qp_base: [40]\n  rdopt: {qp: [40]}\n", base);
    assert_int_equal(fr_config_load_string(t, "r.yaml", NULL, 0, &e, &err), FR_E_CONFIG);
    tu_assert_contains(err.msg, "r.yaml:8:");
    assert_null(e);
}

static void test_load_string(void **state)
{
    (void)state;
    FrExperiment *e = NULL;
    FrError err;
    assert_int_equal(fr_config_load_string("model: {cfg: a.cfg}\ndataset: {images: i.txt}\n"
                                           "sweep: {split: [conv_3], bits: [8, 10, 12]}\n",
                                           "mem/exp.yaml", NULL, 0, &e, &err),
                     0);
    assert_string_equal(e->name, "exp");
    assert_int_equal(e->sweep.n_bits, 3);
    fr_experiment_free(&e);
    assert_int_equal(fr_config_load_string("model: {cfg: a.cfg}\nmodel:\n  x: 1\n", "mem.yaml",
                                           NULL, 0, &e, &err),
                     FR_E_CONFIG);
    assert_string_equal(err.msg, "mem.yaml:2:1: model: duplicate key (first set at line 1)");
    assert_int_equal(fr_config_load_string("a: *nope\n", "mem.yaml", NULL, 0, &e, &err),
                     FR_E_CONFIG);
    tu_assert_contains(err.msg, "mem.yaml:1:");
    /* aliases that expand exponentially are refused, not followed */
    char bomb[2048] = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 9; i++) {
        char line[128];
        snprintf(line, sizeof line, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i,
                 i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
        strcat(bomb, line);
    }
    assert_int_equal(fr_config_load_string(bomb, "bomb.yaml", NULL, 0, &e, &err), FR_E_CONFIG);
    tu_assert_contains(err.msg, "bomb.yaml:");
    tu_assert_contains(err.msg, "aliases expand to more than");
    /* an empty file is a config with nothing set: it fails on model.cfg */
    assert_int_equal(fr_config_load_string("", "empty.yaml", NULL, 0, &e, &err), FR_E_CONFIG);
    assert_string_equal(err.msg, "empty.yaml:1:1: model.cfg: required: the darknet .cfg of the "
                                 "network (e.g. model: {cfg: "
                                 "/usr/share/darknet/cfg/yolo9000.cfg})");
}

static void test_check_files(void **state)
{
    (void)state;
    FrExperiment *e = load_ok(DIR "good.yaml", NULL, 0);
    FrError err;
    /* cfg, names and images exist; the weights do not */
    assert_int_equal(fr_experiment_check_files(e, &err), FR_E_NOENT);
    assert_int_equal(fr_exit_status(FR_E_NOENT), 2);
    tu_assert_contains(err.msg, DIR "good.yaml:5:12: model.weights: no such file "
                                    "'tests/data/config/missing.weights'");
    tu_assert_contains(err.msg, "random weights");
    fr_experiment_free(&e);

    const char *ov[] = {"model.weights=~", "dataset.images=tests/data/config/none.txt"};
    e = load_ok(DIR "good.yaml", ov, 2);
    assert_int_equal(fr_experiment_check_files(e, &err), FR_E_NOENT);
    tu_assert_contains(err.msg, "-o dataset.images=tests/data/config/none.txt: dataset.images: "
                                "no such file 'tests/data/config/none.txt'");
    /* a relative path says where it was looked for */
    char cwd[4096], want[4300];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(want, sizeof want, "(relative paths are taken from the working directory, %s:", cwd);
    tu_assert_contains(err.msg, want);
    fr_experiment_free(&e);
    /* the demo's generated data says how it is made */
    const char *ovd[] = {"model.weights=~", "dataset.images=data/fmnist-det/nope.list"};
    e = load_ok(DIR "good.yaml", ovd, 2);
    assert_int_equal(fr_experiment_check_files(e, &err), FR_E_NOENT);
    tu_assert_contains(err.msg, "it is the built-in demo data: `featrd data --out data` (or "
                                "`make run`) writes it");
    fr_experiment_free(&e);

    const char *ov2[] = {"model.weights=~"};
    e = load_ok(DIR "good.yaml", ov2, 1);
    assert_int_equal(fr_experiment_check_files(e, &err), 0);
    fr_experiment_free(&e);

    /* a directory where a file belongs */
    const char *ov3[] = {"model.weights=tests/data/config"};
    e = load_ok(DIR "good.yaml", ov3, 1);
    assert_int_equal(fr_experiment_check_files(e, &err), FR_E_NOENT);
    tu_assert_contains(err.msg, "model.weights: 'tests/data/config' is a directory");
    fr_experiment_free(&e);

    e = load_ok(DIR "model.yaml", NULL, 0);
    assert_int_equal(fr_experiment_check_files(e, &err), FR_E_NOENT);
    tu_assert_contains(err.msg, DIR "model.yaml:8:15: model_compression.dom.base: no such file "
                                    "'a.weights'");
    fr_experiment_free(&e);
}

/* dump → load → dump gives the same text, for every fixture kind. */
static void roundtrip(const char *path, const char *const *ov, int n)
{
    FrExperiment *e = load_ok(path, ov, n);
    char *d1 = fr_experiment_dump_string(e);
    assert_non_null(d1);
    uint64_t h1 = fr_experiment_hash(e);
    FrExperiment *f = NULL;
    FrError err;
    int rc = fr_config_load_string(d1, "dump.yaml", NULL, 0, &f, &err);
    if (rc)
        print_error("%s reloaded: %s\n%s\n", path, err.msg, d1);
    assert_int_equal(rc, 0);
    char *d2 = fr_experiment_dump_string(f);
    assert_string_equal(d1, d2);
    assert_true(fr_experiment_hash(f) == h1);
    /* also through a file, with fr_experiment_dump */
    char p[512];
    snprintf(p, sizeof p, "%s/dump.yaml", tu_tmpdir());
    FILE *fp = fopen(p, "w");
    assert_int_equal(fr_experiment_dump(f, fp, &err), 0);
    fclose(fp);
    FrExperiment *g = load_ok(p, NULL, 0);
    char *d3 = fr_experiment_dump_string(g);
    assert_string_equal(d1, d3);
    free(d1);
    free(d2);
    free(d3);
    fr_experiment_free(&e);
    fr_experiment_free(&f);
    fr_experiment_free(&g);
}

static void test_dump_roundtrip(void **state)
{
    (void)state;
    roundtrip(DIR "good.yaml", NULL, 0);
    roundtrip(DIR "minimal.yaml", NULL, 0);
    roundtrip(DIR "lossless.yaml", NULL, 0);
    roundtrip(DIR "model.yaml", NULL, 0);
    /* awkward strings and numbers survive */
    const char *ov[] = {"model.cfg=\"we\\\"ird: \\\\ path\\t#1\"", "det_thresh=0.1",
                        "nms=0.3333333333333333", "model.seed=18446744073709551615"};
    roundtrip(DIR "good.yaml", ov, 4);
    FrExperiment *e = load_ok(DIR "good.yaml", ov, 4);
    assert_string_equal(e->model.cfg, "we\"ird: \\ path\t#1");
    assert_true(e->model.seed == UINT64_MAX);
    char *d = fr_experiment_dump_string(e);
    tu_assert_contains(d, "  cfg: \"we\\\"ird: \\\\ path\\x09#1\"\n");
    tu_assert_contains(d, "det_thresh: 0.1\n");
    tu_assert_contains(d, "  bits: [8, 10]\n");
    tu_assert_contains(d, "    - {name: \"zstd\", level: 19}\n");
    free(d);
    fr_experiment_free(&e);
}

static void test_hash(void **state)
{
    (void)state;
    FrExperiment *a = load_ok(DIR "good.yaml", NULL, 0);
    const char *same[] = {"jobs=7", "output.dir=/tmp/elsewhere", "quiet=false", "name=x",
                          "bd=[]", "output.plots=false", "output.keep_streams=true"};
    FrExperiment *b = load_ok(DIR "good.yaml", same, 7);
    assert_true(fr_experiment_hash(a) == fr_experiment_hash(b));
    char *da = fr_experiment_dump_string(a), *db = fr_experiment_dump_string(b);
    assert_string_not_equal(da, db); /* the dump still records them */
    free(da);
    free(db);
    fr_experiment_free(&b);
    const char *changes[] = {"sweep.bits=[8]", "dataset.limit=21", "model.seed=8",
                             "sweep.codec[1].rdoq=false", "output.images_csv=false",
                             "map_iou=0.5", "dataset.names=/usr/share/darknet/data/voc.names"};
    for (int i = 0; i < 7; i++) {
        b = load_ok(DIR "good.yaml", &changes[i], 1);
        if (fr_experiment_hash(a) == fr_experiment_hash(b)) {
            print_error("-o %s did not change the hash\n", changes[i]);
            fail();
        }
        fr_experiment_free(&b);
    }
    fr_experiment_free(&a);
}

static void test_enum_names(void **state)
{
    (void)state;
    assert_string_equal(fr_kind_name(FR_KIND_LOSSLESS), "lossless");
    assert_string_equal(fr_task_name(FR_TASK_DENSE), "dense");
    assert_string_equal(fr_allocation_name(fr_alloc_find("sensitivity")), "sensitivity");
    assert_string_equal(fr_metric_name(FR_METRIC_FEATURE_PSNR), "feature_psnr");
    assert_int_equal(fr_metric_from_name("top5"), FR_METRIC_TOP5);
    assert_int_equal(fr_metric_from_name("top6"), -1);
    assert_string_equal(fr_bd_method_name(FR_BD_CUBIC), "cubic");
    assert_string_equal(fr_label_format_name(FR_LABELS_VOC_XML), "voc-xml");
    assert_null(fr_kind_name((FrExperimentKind)7));
}

/* Every shipped config (each .yaml in configs/) parses and round-trips through its
 * dump; their data files need not exist. */
static void test_shipped_configs(void **state)
{
    (void)state;
    glob_t g;
    assert_int_equal(glob("configs/*.yaml", 0, NULL, &g), 0);
    assert_true(g.gl_pathc >= 4);
    for (size_t i = 0; i < g.gl_pathc; i++)
        roundtrip(g.gl_pathv[i], NULL, 0);
    globfree(&g);
}

/* Every prefix of a good config, and seeded byte mutations of it, give 0 or a
 * message naming the file: never a crash or a message without a location. */
static void test_truncated_and_mutated(void **state)
{
    (void)state;
    uint8_t *data;
    size_t len;
    FrError err;
    assert_int_equal(fr_read_file(DIR "good.yaml", &data, &len, &err), 0);
    char *buf = malloc(len + 1);
    int ok = 0, bad = 0;
    for (size_t n = 0; n <= len; n++) {
        memcpy(buf, data, n);
        buf[n] = 0;
        FrExperiment *e = NULL;
        int rc = fr_config_load_string(buf, DIR "good.yaml", NULL, 0, &e, &err);
        if (rc == 0) {
            ok++;
            fr_experiment_free(&e);
            continue;
        }
        bad++;
        assert_true(rc == FR_E_CONFIG || rc == FR_E_NOENT);
        assert_null(e);
        if (strncmp(err.msg, DIR, strlen(DIR))) {
            print_error("prefix %zu: %s\n", n, err.msg);
            fail();
        }
    }
    assert_true(ok > 0 && bad > 0);
    uint64_t x = 12345;
    const char junk[] = "[]{}:,-#&*!|>'\"%@` \n\t9x";
    for (int it = 0; it < 400; it++) {
        memcpy(buf, data, len);
        buf[len] = 0;
        for (int m = 0; m < 3; m++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t pos = (size_t)(x >> 33) % len;
            buf[pos] = junk[(x >> 20) % (sizeof junk - 1)];
        }
        FrExperiment *e = NULL;
        int rc = fr_config_load_string(buf, DIR "good.yaml", NULL, 0, &e, &err);
        if (rc) {
            assert_true(rc == FR_E_CONFIG || rc == FR_E_NOENT);
            assert_int_equal(strncmp(err.msg, DIR, strlen(DIR)), 0);
        }
        fr_experiment_free(&e);
    }
    free(buf);
    free(data);
}

/* featrd run prints the loader's message and exits 2 (skipped when no binary). */
static void test_cli_exit_status(void **state)
{
    (void)state;
    if (access(tu_bin(), X_OK)) {
        print_message("no %s: CLI check skipped\n", tu_bin());
        return;
    }
    char *out = NULL;
    assert_int_equal(tu_sh(&out, "%s run " BAD "bits9.yaml", tu_bin()), 2);
    tu_assert_contains(out, BAD "bits9.yaml:7:13: sweep.bits: expected 8, 10 or 12, got 9");
    free(out);
    assert_int_equal(tu_sh(&out, "%s run " DIR "good.yaml -o sweep.bitz=8", tu_bin()), 2);
    tu_assert_contains(out, "-o sweep.bitz=8: sweep.bitz: unknown key (did you mean 'bits'?)");
    free(out);
    assert_int_equal(tu_sh(&out, "%s run " BAD "cycle_a.yaml", tu_bin()), 2);
    tu_assert_contains(out, "include cycle: ");
    free(out);
    /* the weights are missing: refused before any output is written */
    const char *dir = tu_tmpdir();
    assert_int_equal(tu_sh(&out, "%s run " DIR "good.yaml -o output.dir=%s/res", tu_bin(), dir),
                     2);
    tu_assert_contains(out, DIR "good.yaml:5:12: model.weights: no such file");
    free(out);
    char p[512];
    snprintf(p, sizeof p, "%s/res/points.csv", dir);
    assert_int_not_equal(access(p, F_OK), 0);
}

/* ---- the schema drives the config (src/config/sections.c) ---- */

/* Every key below the section sch at prefix that is not a section itself,
 * with the struct holding it and whether the dump of e shows it. */
typedef void (*LeafFn)(const FrField *f, const char *path, const void *obj, int shown,
                       void *arg);

static void each_leaf(const FrSchema *sch, const char *prefix, const void *obj,
                      const FrExperiment *e, int shown, LeafFn fn, void *arg)
{
    for (int i = 0; i < sch->n_fields; i++) {
        const FrField *f = &sch->fields[i];
        char path[200];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", f->key);
        /* a section dumped only when set (cluster) is not in a dump of the defaults */
        int sh = shown && !(f->flags & FR_FIELD_NODUMP) && (!f->shown || !e || f->shown(e, f)) &&
                 !(f->type == FR_FIELD_SECTION && (f->flags & FR_FIELD_DUMP_IF_SET));
        if (f->type == FR_FIELD_SECTION) {
            each_leaf(f->sub, path, obj ? (const char *)obj + f->offset : NULL, e, sh, fn, arg);
            continue;
        }
        fn(f, path, obj, sh, arg);
        if (f->sub) { /* a list of maps (bd): its entries' keys as "bd[].key" */
            strcat(path, "[]");
            each_leaf(f->sub, path, NULL, NULL, 0, fn, arg);
        }
    }
}

/* each_leaf over the kinds' own sections (FrKindInfo.section) at their
 * keys; with e, only e's kind's, on its settings. */
static void each_kind_leaf(const FrExperiment *e, LeafFn fn, void *arg)
{
    for (int k = 0; k < fr_kind_count(); k++) {
        const FrField *sec = fr_kind_info((FrExperimentKind)k)->section;
        if (!sec || (e && (int)e->kind != k))
            continue;
        each_leaf(sec->sub, sec->key, e ? fr_experiment_kind_settings(e) : NULL, e, 1, fn, arg);
    }
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strdup(buf);
}

typedef struct DocsCheck {
    const char *docs;
    int rows;
    char paths[16384];
} DocsCheck;

static void doc_row(const FrField *f, const char *path, const void *obj, int shown, void *arg)
{
    (void)obj;
    (void)shown;
    DocsCheck *d = arg;
    char def[300], row[400], bold[200];
    if (f->doc_def) {
        snprintf(def, sizeof def, "%s", f->doc_def);
    } else {
        char v[256];
        fr_schema_field_text(f, NULL, v, sizeof v);
        snprintf(def, sizeof def, "`%s`", v);
    }
    /* "| `path` | default |", or a section-like top key "| **path** ... | default |" */
    snprintf(row, sizeof row, "| `%s` | %s |", path, def);
    snprintf(bold, sizeof bold, "| **%s**", path);
    const char *b = strstr(d->docs, bold);
    char cell[320];
    snprintf(cell, sizeof cell, " | %s |", def);
    const char *eol = b ? strchr(b, '\n') : NULL;
    const char *c = b ? strstr(b, cell) : NULL;
    if (!strstr(d->docs, row) && !(b && c && eol && c < eol))
        fail_msg("docs/config.md has no row \"%s\" (the schema in src/config/sections.c)", row);
    d->rows++;
    size_t l = strlen(d->paths);
    snprintf(d->paths + l, sizeof d->paths - l, " %s ", path);
}

/* docs/config.md's key table and the schema agree both ways: every key
 * with its default, and no row for a key the schema lacks. */
static void test_docs_list_config_keys(void **state)
{
    (void)state;
    DocsCheck d = {read_text("docs/config.md"), 0, ""};
    each_leaf(fr_experiment_schema(), "", NULL, NULL, 1, doc_row, &d);
    each_kind_leaf(NULL, doc_row, &d);
    assert_true(d.rows >= 60);
    const char *from = strstr(d.docs, "\n## Keys\n"), *to = strstr(d.docs, "\n### `sweep.codec` entries");
    assert_non_null(from);
    assert_non_null(to);
    int seen = 0;
    for (const char *q = from; q && q < to; q = strchr(q + 1, '\n')) {
        const char *r = q + 1;
        int bold = !strncmp(r, "| **", 4);
        if (strncmp(r, "| `", 3) && !bold)
            continue;
        r += bold ? 4 : 3;
        char key[120];
        size_t n = strcspn(r, bold ? "*" : "`");
        if (n >= sizeof key)
            continue;
        memcpy(key, r, n);
        key[n] = 0;
        /* the row of an anchor's x265 keys (fr_hevc_schema's, beside
         * cfg_anchor_schema's in the entry) */
        if (!strncmp(key, "anchors[].", 10) && fr_schema_field(&fr_hevc_schema, key + 10))
            continue;
        char pat[140];
        snprintf(pat, sizeof pat, " %s ", key);
        const FrKindInfo *owner = fr_kind_of_section(key);
        int kind_sec = owner && owner->section && !strcmp(owner->section->key, key);
        if (!strstr(d.paths, pat) &&
            !(bold && (fr_schema_field(fr_experiment_schema(), key) || kind_sec)))
            fail_msg("docs/config.md has a row for '%s', a key the schema does not have", key);
        seen++;
    }
    assert_true(seen >= d.rows);
    free((char *)d.docs);
}

typedef struct DumpCheck {
    const char *dump;
    int checked;
} DumpCheck;

static void default_in_dump(const FrField *f, const char *path, const void *obj, int shown,
                            void *arg)
{
    DumpCheck *d = arg;
    (void)obj;
    /* (kind is what the test changes) */
    if (!shown || f->type == FR_FIELD_CUSTOM || (f->flags & FR_FIELD_DUMP_IF_SET) ||
        !strcmp(path, "kind"))
        return;
    char v[300], want[400];
    if (f->type == FR_FIELD_STRING && f->def_str) {
        snprintf(v, sizeof v, "\"%s\"", f->def_str);
    } else if (f->type == FR_FIELD_STRINGS && (f->flags & FR_FIELD_ALL) && f->def) {
        snprintf(v, sizeof v, "all");
    } else if (f->type == FR_FIELD_STRINGS) {
        size_t k = (size_t)snprintf(v, sizeof v, "[");
        for (int i = 0; f->def_strs && f->def_strs[i]; i++)
            k += (size_t)snprintf(v + k, sizeof v - k, "%s\"%s\"", i ? ", " : "", f->def_strs[i]);
        snprintf(v + k, sizeof v - k, "]");
    } else {
        fr_schema_field_text(f, NULL, v, sizeof v);
    }
    snprintf(want, sizeof want, "%s: %s", f->key, v);
    if (!strstr(d->dump, want))
        fail_msg("%s: the dump of the defaults has no \"%s\":\n%s", path, want, d->dump);
    d->checked++;
}

/* Every key the dump writes for a kind appears there at the schema's default. */
static void test_schema_defaults_in_dump(void **state)
{
    (void)state;
    int total = 0;
    for (int k = 0; k < fr_kind_count(); k++) {
        FrExperiment *e = fr_experiment_defaults();
        assert_non_null(e);
        e->kind = (FrExperimentKind)k;
        FrError err;
        if (fr_schema_validate(fr_experiment_schema(), e, &err))
            fail_msg("the defaults are out of the schema's ranges: %s", err.msg);
        char *dump = fr_experiment_dump_string(e);
        DumpCheck d = {dump, 0};
        each_leaf(fr_experiment_schema(), "", e, e, 1, default_in_dump, &d);
        each_kind_leaf(e, default_in_dump, &d);
        assert_true(d.checked >= 15);
        total += d.checked;
        free(dump);
        fr_experiment_free(&e);
    }
    assert_true(total >= 80);
    /* the ranges hold for values set in the struct too (fr_schema_validate) */
    FrExperiment *e = fr_experiment_defaults();
    FrExperiment *same = fr_experiment_defaults();
    FrError err;
    assert_true(fr_schema_equal(fr_experiment_schema(), e, same));
    e->sweep.qp_range = 60;
    assert_false(fr_schema_equal(fr_experiment_schema(), e, same));
    assert_int_equal(fr_schema_validate(fr_experiment_schema(), e, &err), FR_E_USAGE);
    tu_assert_contains(err.msg, "sweep.qp_range is 60: use 0..51");
    e->sweep.qp_range = 5;
    e->bootstrap.level = 1;
    assert_int_equal(fr_schema_validate(fr_experiment_schema(), e, &err), FR_E_USAGE);
    tu_assert_contains(err.msg, "bootstrap.level is 1.0: use a confidence level between 0 and 1");
    fr_experiment_free(&same);
    fr_experiment_free(&e);
}

/* The kind under which a top-level section may be set. */
static const char *kind_for(const char *path)
{
    if (!strncmp(path, "lossless.", 9))
        return "lossless";
    if (!strncmp(path, "model_compression.", 18))
        return "model";
    if (!strncmp(path, "features.", 9))
        return "features";
    return "rd";
}

static void one_out_of_range(const FrField *f, const char *path, const char *val, int list)
{
    /* path a.b.c as nested maps under the kind, the value on the last line */
    char yaml[600], want[500], range[300];
    const char *entry = strstr(path, "[].");
    if (entry) { /* a key of a list's entries (anchors[].qp): the first entry of the list */
        fr_schema_range_text(f, range, sizeof range);
        const char *key = entry + 3;
        snprintf(yaml, sizeof yaml, "kind: rd\n%.*s:\n  - name: a\n    %s: %s%s%s\n",
                 (int)(entry - path), path, key, list ? "[" : "", val, list ? "]" : "");
        snprintf(want, sizeof want, "range.yaml:4:%d: %.*s[0].%s: expected %s, got %s",
                 4 + (int)strlen(key) + 3 + (list ? 1 : 0), (int)(entry - path), path, key, range,
                 val);
        FrExperiment *e = NULL;
        FrError err;
        int rc = fr_config_load_string(yaml, "range.yaml", NULL, 0, &e, &err);
        if (rc != FR_E_CONFIG || !strstr(err.msg, want))
            fail_msg("%s = %s: rc %d, message \"%s\", want \"%s\"\n%s", path, val, rc, err.msg,
                     want, yaml);
        fr_experiment_free(&e);
        return;
    }
    size_t k = (size_t)snprintf(yaml, sizeof yaml, "kind: %s\n", kind_for(path));
    int depth = 0, line = 1;
    const char *p = path, *dot;
    while ((dot = strchr(p, '.'))) {
        k += (size_t)snprintf(yaml + k, sizeof yaml - k, "%*s%.*s:\n", 2 * depth, "",
                              (int)(dot - p), p);
        depth++;
        line++;
        p = dot + 1;
    }
    snprintf(yaml + k, sizeof yaml - k, "%*s%s: %s%s%s\n", 2 * depth, "", p, list ? "[" : "", val,
             list ? "]" : "");
    line++;
    int col = 2 * depth + (int)strlen(p) + 3 + (list ? 1 : 0);
    fr_schema_range_text(f, range, sizeof range);
    snprintf(want, sizeof want, "range.yaml:%d:%d: %s: expected %s, got %s", line, col, path,
             range, val);
    FrExperiment *e = NULL;
    FrError err;
    int rc = fr_config_load_string(yaml, "range.yaml", NULL, 0, &e, &err);
    if (rc != FR_E_CONFIG || !strstr(err.msg, want))
        fail_msg("%s = %s: rc %d, message \"%s\", want \"%s\"\n%s", path, val, rc, err.msg, want,
                 yaml);
    fr_experiment_free(&e);
}

static void out_of_range(const FrField *f, const char *path, const void *obj, int shown,
                         void *arg)
{
    (void)obj;
    (void)shown;
    int *n = arg;
    char v[64];
    int list = f->type == FR_FIELD_INTS;
    if (f->type == FR_FIELD_DOUBLE) {
        snprintf(v, sizeof v, "%g", f->dhi + 1);
        one_out_of_range(f, path, v, 0);
        snprintf(v, sizeof v, "%g", f->flags & FR_FIELD_LO_OPEN ? f->dlo : f->dlo - 1);
        one_out_of_range(f, path, v, 0);
        *n += 2;
    } else if ((f->type == FR_FIELD_INT || f->type == FR_FIELD_I64 || list ||
                (f->type == FR_FIELD_U64 && f->hi > 0))) {
        if (f->allowed) {
            snprintf(v, sizeof v, "%d", f->allowed[0] + 1);
            one_out_of_range(f, path, v, list);
            *n += 1;
            return;
        }
        if (f->hi != INT_MAX) {
            snprintf(v, sizeof v, "%lld", (long long)f->hi + 1);
            one_out_of_range(f, path, v, list);
        }
        snprintf(v, sizeof v, "%lld", (long long)f->lo - 1);
        one_out_of_range(f, path, v, list);
        *n += 1 + (f->hi != INT_MAX);
    }
}

/* Each numeric key's range is the schema's: a value past either end is
 * refused at its file:line:col, naming the key and the range. */
static void test_schema_ranges(void **state)
{
    (void)state;
    int n = 0;
    each_leaf(fr_experiment_schema(), "", NULL, NULL, 1, out_of_range, &n);
    each_kind_leaf(NULL, out_of_range, &n);
    assert_true(n >= 35);
}

/* Each section's "known keys here" list is its schema's keys, in order. */
static void test_schema_known_keys(void **state)
{
    (void)state;
    const FrSchema *top = fr_experiment_schema();
    int n = 0, nk = fr_kind_count();
    for (int i = 0; i < top->n_fields + nk; i++) { /* the top's sections, then the kinds' own */
        const FrField *f = i < top->n_fields ? &top->fields[i]
                                             : fr_kind_info((FrExperimentKind)(i - top->n_fields))->section;
        if (!f || f->type != FR_FIELD_SECTION)
            continue;
        char yaml[200], want[600];
        /* under the kind that reads the section */
        char path[64];
        snprintf(path, sizeof path, "%s.x", f->key);
        snprintf(yaml, sizeof yaml, "kind: %s\n%s:\n  bogus_key_xyz: 1\n", kind_for(path), f->key);
        size_t k = (size_t)snprintf(want, sizeof want,
                                    "keys.yaml:3:3: %s.bogus_key_xyz: unknown key; known keys here: ",
                                    f->key);
        for (int j = 0; j < f->sub->n_fields; j++)
            k += (size_t)snprintf(want + k, sizeof want - k, "%s%s", j ? ", " : "",
                                  f->sub->fields[j].key);
        FrExperiment *e = NULL;
        FrError err;
        assert_int_equal(fr_config_load_string(yaml, "keys.yaml", NULL, 0, &e, &err), FR_E_CONFIG);
        tu_assert_contains(err.msg, want);
        n++;
    }
    assert_true(n >= 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_missing_config_file),
        cmocka_unit_test(test_good_values),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_other_kinds),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_load_string),
        cmocka_unit_test(test_rdopt_keys),
        cmocka_unit_test(test_anchor_and_bootstrap_keys),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_sweep_cap),
        cmocka_unit_test(test_early_errors),
        cmocka_unit_test(test_check_files),
        cmocka_unit_test(test_dump_roundtrip),
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_enum_names),
        cmocka_unit_test(test_shipped_configs),
        cmocka_unit_test(test_truncated_and_mutated),
        cmocka_unit_test(test_cli_exit_status),
        cmocka_unit_test(test_docs_list_config_keys),
        cmocka_unit_test(test_schema_defaults_in_dump),
        cmocka_unit_test(test_schema_ranges),
        cmocka_unit_test(test_schema_known_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
