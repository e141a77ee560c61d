/* modelcomp_kind.c: kind model's entry in the kinds registry (src/run/kinds.c):
 * its section model_compression (the schema: parsed, defaulted, checked,
 * dumped and hashed by the config module like any section, stored in the
 * experiment as fr_experiment_kind_settings), its rules across keys and the
 * files it reads. The run is modelcomp_exp.c, the coding weights_rp.c. */
#include <stddef.h>

#include "config/config.h"
#include "kinds/experiments.h"
#include "util/schema.h"

static const char *const coder_names[] = {"lzma", "zstd", NULL};
static const char *const rounding_names[] = {"truncate", "nearest", NULL};
static const int DEF_PRECISION[] = {1, 2, 3, 4, 5, 6, 7, 8};

/* dom's keys are fields of the same struct */
static const FrField dom_fields[] = {
    {.key = "base", .type = FR_FIELD_STRING, .offset = offsetof(FrModelCompressionSpec, dom_base),
     .flags = FR_FIELD_NULLABLE, .doc = "weights of the base model"},
    {.key = "target", .type = FR_FIELD_STRING,
     .offset = offsetof(FrModelCompressionSpec, dom_target), .flags = FR_FIELD_NULLABLE,
     .doc = "weights of the fine-tuned model"},
};
static const FrSchema dom_schema =
    FR_SCHEMA("model_compression.dom", FrModelCompressionSpec, dom_fields);

static const FrField mc_fields[] = {
    {FR_LIST(FrModelCompressionSpec, precision, n_precision), .type = FR_FIELD_INTS, .lo = 1,
     .hi = 8, .what = "an integer precision p from 1 to 8", .def_list = DEF_PRECISION,
     .n_def = 8, .doc = "RP values p", .doc_def = "`[1, 2, …, 8]`"},
    {.key = "coder", .type = FR_FIELD_ENUM, .offset = offsetof(FrModelCompressionSpec, coder),
     .def = FR_MODEL_CODER_LZMA, .names = coder_names, .doc = "lzma or zstd"},
    {.key = "rounding", .type = FR_FIELD_ENUM,
     .offset = offsetof(FrModelCompressionSpec, rounding), .def = FR_MODEL_ROUND_TRUNCATE,
     .names = rounding_names, .doc = "w·10^p to an integer"},
    {.key = "dom", .type = FR_FIELD_SECTION, .offset = 0, .sub = &dom_schema,
     .flags = FR_FIELD_FLOW, .doc = "difference-of-models weights"},
};
static const char *const mc_dump_order[] = {"precision", "coder", "dom", "rounding", NULL};
static const FrSchema mc_schema =
    FR_SCHEMA("model_compression", FrModelCompressionSpec, mc_fields);

/* The section as a top-level key of the config. */
const FrField fr_modelcomp_section = {.key = "model_compression", .type = FR_FIELD_SECTION,
                                      .sub = &mc_schema, .order = mc_dump_order,
                                      .doc = "seed 002"};

int fr_modelcomp_validate(const FrExperiment *e, FrError *err)
{
    const FrModelCompressionSpec *mc = fr_experiment_kind_settings(e);
    if (!mc->dom_base != !mc->dom_target)
        return fr_experiment_error(e, err, FR_E_CONFIG, "model_compression.dom",
                                   "needs both base and target weights (or neither)");
    return 0;
}

int fr_modelcomp_check_files(const FrExperiment *e, FrError *err)
{
    const FrModelCompressionSpec *mc = fr_experiment_kind_settings(e);
    int rc;
    if ((rc = fr_experiment_check_file(e, "model_compression.dom.base", mc->dom_base, 0,
                                       "darknet weights of the base model", err)) ||
        (rc = fr_experiment_check_file(e, "model_compression.dom.target", mc->dom_target, 0,
                                       "darknet weights of the fine-tuned model", err)))
        return rc;
    return 0;
}
