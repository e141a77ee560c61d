/* lossless_kind.c: kind lossless's entry in the kinds registry
 * (src/run/kinds.c): its section `lossless` (seed 000's layers, coders, the
 * Q-layer's bits and timing repeats), read, defaulted, checked, dumped and
 * hashed by the config module from this schema and handed to the run
 * (lossless_exp.c) as fr_experiment_kind_settings. */
#include <pthread.h>
#include <stddef.h>

#include "config/config.h"
#include "kinds/experiments.h"
#include "util/schema.h"

/* coders of any bytes (float32 features), from the codec registry */
static const char *byte_coders[MAX_CODECS];
static pthread_once_t byte_coders_once = PTHREAD_ONCE_INIT;

static void fill_byte_coders(void)
{
    cfg_codec_names(FR_CODEC_BYTES, byte_coders, MAX_CODECS);
}

static const char *const *byte_coder_names(void)
{
    pthread_once(&byte_coders_once, fill_byte_coders);
    return byte_coders;
}

static const char *const DEF_CODERS[] = {"gzip", "zlib", "bzip2", "lzma", "zstd", NULL};

static const FrField lossless_fields[] = {
    {FR_LIST(FrLosslessSpec, layers, n_layers), .type = FR_FIELD_STRINGS,
     .flags = FR_FIELD_ALL, .all_offset = offsetof(FrLosslessSpec, all_layers), .def = 1,
     .what = "layer names, indices or aliases (or all)", .doc = "all or a list of layers",
     .doc_def = "`all`"},
    {FR_LIST(FrLosslessSpec, coders, n_coders), .type = FR_FIELD_STRINGS,
     .names_fn = byte_coder_names, .what = "coder names", .def_strs = DEF_CODERS,
     .doc = "coders of any bytes"},
    {.key = "quantized_bits", .type = FR_FIELD_INT,
     .offset = offsetof(FrLosslessSpec, quantized_bits), .lo = 0, .hi = 16,
     .doc = "0 = float32; also the n-bit Q-layer output"},
    {.key = "repeats", .type = FR_FIELD_INT, .offset = offsetof(FrLosslessSpec, repeats),
     .def = 1, .lo = 1, .hi = 1000, .doc = "timing repeats"},
};
static const FrSchema lossless_schema = FR_SCHEMA("lossless", FrLosslessSpec, lossless_fields);

/* The section as a top-level key of the config. */
const FrField fr_lossless_section = {.key = "lossless", .type = FR_FIELD_SECTION,
                                     .sub = &lossless_schema, .doc = "seed 000"};
