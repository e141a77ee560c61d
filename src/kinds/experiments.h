/* kinds/experiments.h: the library-internal part of module experiments: functions that other
 * modules of libfeatrd and the tests use, which are not part of the public
 * API (include/featrd/experiments.h) and are not installed. The CLI cannot include
 * this (it is built without -Isrc). */
#ifndef FR_INTERNAL_KINDS_EXPERIMENTS_H
#define FR_INTERNAL_KINDS_EXPERIMENTS_H

#include "featrd/experiments.h"

/* Parses a weights file image; name is used in messages. Errors: FR_E_FORMAT
 * (shorter than its header, or a parameter area that is not a whole number
 * of float32). params is a copy. */
int fr_weights_parse(const uint8_t *data, size_t len, const char *name, FrWeights *w,
                     FrError *err);

/* Writes header + params atomically (temporary file + rename). */
int fr_weights_write(const char *path, const FrWeights *w, FrError *err);

/* Bytes of the file: header_len + 4 * count. */
static inline size_t fr_weights_file_size(const FrWeights *w)
{
    return (size_t)w->header_len + 4 * w->count;
}

/* The integer of one weight at precision p (exposed for tests). FR_E_USAGE
 * through the encoders when |w|·10^p >= 2^62 or w is not finite. */
int64_t fr_rp_quantize(float w, int precision, FrRpRounding r);

/* Back to float: (float)((double)q / 10^p). */
float fr_rp_dequantize(int64_t q, int precision);

/* Codes target at the settings' precision. With base == NULL this is RP
 * coding of one model; with a base (same parameter count, else
 * FR_E_MISMATCH) it is DoM: the coded integers are
 *   d_i = q(target_i) - q(base_i),
 * so the decoder, which has the base, rebuilds q(target_i) exactly and the
 * result equals the RP decoding of the target at the same p. *out is
 * malloc'ed (caller frees). Errors: FR_E_USAGE (bad settings, non-finite or
 * too large weight, naming the parameter index), FR_E_MISMATCH, FR_E_CODEC. */
int fr_rp_encode(const FrWeights *target, const FrWeights *base, const FrRpSettings *s,
                 uint8_t **out, size_t *out_n, FrError *err);

/* Decodes a coded buffer into *out (a new weights struct; header restored
 * bit for bit). A DoM file needs the base it was made from (FR_E_USAGE when
 * base is NULL, FR_E_MISMATCH when its count or CRC differs); base is ignored
 * for plain RP. name is used in messages. Corrupt or truncated input:
 * FR_E_FORMAT ("NAME: ... checksum mismatch: the file is corrupt"). */
int fr_rp_decode(const uint8_t *in, size_t n, const char *name, const FrWeights *base,
                 FrWeights *out, FrError *err);

int fr_lossless_measure(FrCodecKind k, const void *data, size_t n, int repeats,
                        FrLosslessMeasure *out, FrError *err);

/* Runs a `kind: lossless` experiment: for each layer (resume: layers already
 * in OUTDIR/lossless.csv under the same config hash are skipped), the
 * features of every image through every coder; writes lossless.csv
 * (atomically, after each layer), lossless_table.txt (the paper's table
 * layout), lossless_fig4.dat (wide table for plots/lossless.gp) and prints
 * the table. o may be NULL (defaults). Returns 0 or a negative FR_E_*. */
int fr_run_lossless(const struct FrExperiment *e, const struct FrRunOptions *o, FrError *err);

/* Prints the table of a lossless.csv in the paper's layout (Tables II-V):
 * Feat. type, shape, data volume, non-zero rate, then per coder the
 * compression rate and the time per feature, mean ± std. repr selects the
 * rows ("float32" or "q8", ...); NULL: float32. */
int fr_lossless_table(const char *csv_path, const char *repr, FILE *f, FrError *err);

/* Runs a `kind: model` experiment: RP coding of model.weights at every p of
 * model_compression.precision (ratio, timing, decoded model's accuracy and
 * fidelity on the dataset, Δ against the original), and DoM of dom.target
 * against dom.base when given. Writes modelcomp.csv, modelcomp_table.txt
 * (seed 002 Table 3 layout) and modelcomp.dat for plots/modelcomp.gp. */
int fr_run_modelcomp(const struct FrExperiment *e, const struct FrRunOptions *o, FrError *err);

/* Prints a modelcomp.csv as seed 002 Table 3: one line per model (and its
 * DoM), for each p the change of the task metric (top-1, or mAP07 for
 * detectors) against the original model and the compression ratio. */
int fr_modelcomp_table(const char *csv_path, FILE *f, FrError *err);

int fr_kind_count(void);
const FrKindInfo *fr_kind_info(FrExperimentKind k);  /* NULL when unknown */
const FrKindInfo *fr_kind_find(const char *name);    /* NULL when unknown */

/* The first kind that owns a top-level section ("sweep" → rd; features
 * reads it too), or NULL for a section every kind reads. */
const FrKindInfo *fr_kind_of_section(const char *section);

/* 1 when kind k reads section (one of its sections, or a section no kind
 * owns); 0 otherwise or when k is NULL. */
int fr_kind_reads_section(const FrKindInfo *k, const char *section);

/* The rd kind's run (fr_run dispatches to it for kind: rd). */
int fr_run_rd(const struct FrExperiment *e, const struct FrRunOptions *o, FrError *err);

/* Runs a `kind: features` experiment (bring your own features): the .npy
 * tensors of features.dir / features.list, one cut set per image, through
 * the rd sweep's Q-layer, packing, codecs and uniform QPs with the rd
 * runner's accounting, journal, resume, shards, jobs, progress, manifest and
 * lock (src/run/run.c). points.csv has one feature point per sweep point
 * (no reference or anchor points) with rate and feature distortion (mse,
 * psnr, sqnr and their n-bit forms, with bootstrap intervals); task metrics
 * are nan until `featrd score` (fr_results_score, featrd/run.h) merges the
 * user's own. output.decoded_dir receives every point's decoded tensors. */
int fr_run_features(const struct FrExperiment *e, const struct FrRunOptions *o, FrError *err);

/* The kinds' registry entries: their sections (lossless_kind.c,
 * modelcomp_kind.c, features_kind.c), rules and files. */
extern const FrField fr_lossless_section;
extern const FrField fr_modelcomp_section;
extern const FrField fr_features_section;
int fr_modelcomp_validate(const FrExperiment *e, FrError *err);
int fr_modelcomp_check_files(const FrExperiment *e, FrError *err);
int fr_features_validate(const FrExperiment *e, FrError *err);
int fr_features_check_files(const FrExperiment *e, FrError *err);

#endif
