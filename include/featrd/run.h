/* featrd/run.h: the experiment runner. Expands a `kind: rd` experiment into
 * RD points in a stable order, runs them (front half once per image and
 * split, every point on the cached cut tensors, back half, task metrics),
 * resumes after a kill, splits the work into shards and merges them, and
 * writes results/<name>/ (points.csv, points.columns.txt, bd.csv,
 * manifest.yaml, optional images.csv). src/run/run.c owns the sweep and the
 * workers, src/run/results.c the result files (journal, CSV, shards, merge,
 * manifest), src/util/progress.c the progress display.
 *
 * The helpers below (options, progress, manifest, journal, atomic CSV) are
 * public so that the other experiment kinds (featrd/experiments.h) report
 * and resume the same way. */
#ifndef FEATRD_RUN_H
#define FEATRD_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "featrd/bd.h"
#include "featrd/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct FrExperiment;

/* ---------------- options ---------------- */

/* How progress is shown on stderr. */
typedef enum FrProgressMode {
    FR_PROGRESS_AUTO = 0, /* a bar when stderr is a terminal, else lines */
    FR_PROGRESS_BAR,      /* one redrawn line with a bar and the ETA */
    FR_PROGRESS_LINES,    /* one line per finished unit (logs, CI, Slurm) */
    FR_PROGRESS_NONE,     /* nothing (--quiet) */
} FrProgressMode;

/* One progress event: a unit (an RD point, a layer, ...) finished. Valid
 * only during the callback. */
typedef struct FrProgressEvent {
    size_t done;        /* units finished so far in this run (resumed ones count) */
    size_t total;       /* units this run (this shard) has to finish */
    const char *label;  /* the unit, e.g. "p0007 split=max_3,bits=8,...,qp=27" */
    const char *detail; /* a short result, e.g. "kbpi=12.3 map07=0.512", or "" */
    double elapsed;     /* seconds since the run started */
    double eta;         /* estimated seconds left, < 0 when unknown */
} FrProgressEvent;

typedef void (*FrProgressFn)(const FrProgressEvent *ev, void *user);

/* Options of one run, from the command line. Every field's default is what
 * fr_run_options_defaults() sets. */
typedef struct FrRunOptions {
    int jobs;           /* worker threads over images; 0 = the experiment's `jobs`. Default 0 */
    int shard_index;    /* this shard, 0 <= shard_index < shard_count. Default 0 */
    int shard_count;    /* number of shards; 1 = no sharding. Default 1 */
    int force;          /* 1: discard earlier results in output.dir even when the
                         * config changed (else a changed config is FR_E_MISMATCH).
                         * Default 0 */
    FrProgressMode progress; /* default FR_PROGRESS_AUTO; --quiet sets FR_PROGRESS_NONE */
    FrProgressFn on_progress; /* called (from the calling thread) after each
                               * finished unit, in addition to the display;
                               * NULL: none. Default NULL */
    void *progress_user;      /* passed to on_progress. Default NULL */
    int plots;          /* -1: the experiment's output.plots; 0/1 override. Default -1 */
    const char *git_dir;/* where `git rev-parse HEAD` runs for the manifest; NULL = ".". */
    size_t cache_mem;   /* bytes of cut tensors kept in memory per split before the
                         * cache spills to output.dir/cache/. Default 1 GiB */
    struct FrRunStats *stats; /* if non-NULL, filled at the end of an rd run. Default NULL */
} FrRunOptions;

/* Where the time of an rd run went (seconds summed over worker threads,
 * except wall). */
typedef struct FrRunStats {
    size_t points_run;  /* points computed by this run (resumed ones not counted) */
    size_t images;
    double wall;        /* wall-clock seconds of the sweep */
    double front;       /* front halves (once per image and split) */
    double back;        /* back halves of feature points */
    double encode;      /* feature encode (Q-layer, packing, codec, container) */
    double decode;      /* feature decode */
    double anchors;     /* anchor points, wall (image coding + whole network) */
    double reference;   /* the reference pass, wall (image loading, ground truth, network) */
} FrRunStats;

void fr_run_options_defaults(FrRunOptions *o);

/* Parses "I/N" (0 <= I < N, N >= 1) into o. FR_E_USAGE with a message. */
int fr_run_parse_shard(const char *text, FrRunOptions *o, FrError *err);

/* ---------------- the runner ---------------- */

/* Runs an experiment of any kind: `rd` here; `lossless` and `model` are
 * dispatched to featrd/experiments.h. o may be NULL (defaults). Writes into
 * e->output.dir (created). Returns 0 or a negative FR_E_*:
 *   FR_E_NOENT   a file the config names is missing (model, weights, list, images)
 *   FR_E_MISMATCH the directory holds results of a different config (use --force)
 *   FR_E_USAGE / FR_E_CONFIG bad split name, unsupported combination
 *   FR_E_USAGE   the output directory cannot be created or written
 * A run that fails or is killed leaves the points finished so far committed;
 * running again resumes. */
int fr_run(const struct FrExperiment *e, const FrRunOptions *o, FrError *err);

/* One expanded RD point (the sweep, in run order). Strings are owned by the
 * plan. */
typedef enum FrPointKind {
    FR_POINT_REFERENCE = 0, /* the uncompressed network (no coding, rate 0) */
    FR_POINT_FEATURE,       /* a coded feature at a split */
    FR_POINT_ANCHOR,        /* cloud-only: the input image coded (HEVC or JPEG) */
    FR_POINT_REFERENCE_YUV, /* an HEVC anchor's colour conversion alone, no coding (rate 0) */
} FrPointKind;

typedef struct FrPoint {
    int ordinal;           /* 0-based position in the expansion (stable) */
    char id[24];           /* "p<ordinal>-<8 hex of FNV-1a(desc)>" */
    FrPointKind kind;
    const char *curve;     /* curve name (featrd/config.h convention) or anchor name */
    const char *desc;      /* canonical description: curve + ",qp=N" (or quality) */
    const char *split;     /* split as written in the config ("" for anchors) */
    int split_index;       /* index in e->sweep.split, -1 for anchors/reference */
    int bits;              /* 8/10/12 (0 for anchors) */
    int packing;           /* FrPacking */
    int codec_entry;       /* index in e->sweep.codec, -1 for anchors */
    const char *codec;     /* "hevc", "zlib", ..., anchors "hevc-420" / "jpeg", "none" */
    int allocation;        /* FrAllocation */
    int qp;                /* hevc QP or qp_base; -1 when none */
    int quality;           /* JPEG quality of an anchor; -1 when none */
    int anchor;            /* index in e->anchors, -1 otherwise */
    int weights;           /* feature points: index in e->sweep.weights, -1 = model.weights */
} FrPoint;

typedef struct FrPlan {
    int n;
    FrPoint *points;
    struct FrPlanPriv *priv; /* string storage */
} FrPlan;

/* Expands e's sweep (kind rd) into points: first the reference point, then
 * split × bits × packing × codec entry × allocation × QP (lossless codecs
 * one point), then each anchor × its QP/quality list. Errors: FR_E_CONFIG
 * (empty sweep). Free with fr_plan_free. */
int fr_plan_build(const struct FrExperiment *e, FrPlan *plan, FrError *err);
void fr_plan_free(FrPlan *plan);

/* ---------------- progress display ---------------- */

typedef struct FrProgress FrProgress;

/* A display for `total` units; mode AUTO picks bar/lines from isatty(stderr).
 * already: units finished before this run (resumed), shown but not in the
 * ETA. name: a prefix ("run demo"). Returns NULL on no memory. */
FrProgress *fr_progress_create(FrProgressMode mode, const char *name, size_t total,
                               size_t already);
/* One unit finished: redraw the bar or print a line; then the callback, if any. */
void fr_progress_step(FrProgress *p, const char *label, const char *detail, FrProgressFn fn,
                      void *user);
/* A free-form status line ("split max_3: front half 40/200"); bar mode
 * redraws in place, line mode prints nothing (to keep logs short). */
void fr_progress_note(FrProgress *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Ends the bar line (if any) and frees; sets *p to NULL. */
void fr_progress_destroy(FrProgress **p);

/* ---------------- result files ---------------- */

/* mkdir -p. FR_E_IO naming the directory when it cannot be made or written
 * (a probe file is created and removed). */
int fr_results_dir_prepare(const char *dir, FrError *err);

/* Takes the advisory lock (flock) of a run on dir: file
 * .featrd-run[.shard-I-of-N].lock holding the owner's pid, so two runs of
 * one shard cannot both compute every point. *fd is the lock (release with
 * fr_results_unlock). FR_E_USAGE naming the other pid when it is held. */
int fr_results_lock(const char *dir, int shard_index, int shard_count, int *fd, FrError *err);
void fr_results_unlock(int *fd);

/* Asks the fr_run in progress in this process to stop: its workers finish
 * the images they are on, the points committed so far stay in the journal,
 * the manifest says "interrupted", and fr_run returns FR_E_INTERRUPTED
 * ("interrupted by <strsignal(sig)>"); running again resumes. sig (> 0) is
 * what fr_run_interrupt_signal() reports afterwards.
 *
 * The library installs no signal handler: a program that wants Ctrl-C to
 * stop a run cleanly calls this from its own SIGINT/SIGTERM handler (the
 * featrd CLI does, src/cli/cmd_run.c). Async-signal-safe and thread-safe
 * (lock-free atomics, no allocation, no locks); it may also be called from
 * any thread, e.g. the on_progress callback.
 *
 * Returns 1 when the request was taken, 0 when nothing will act on it: no
 * rd run is in progress (kinds lossless and model do not stop early), or a
 * stop was already requested. On 0 a signal handler should end the process
 * the default way (restore SIG_DFL and raise the signal), which is how a
 * second Ctrl-C ends a run at once. A request applies to every fr_run in
 * progress and is forgotten when the last of them returns. */
int fr_run_request_stop(int sig);

/* The signal given to fr_run_request_stop that stopped the last fr_run
 * with FR_E_INTERRUPTED, or 0. The CLI exits 128 + it. Not synchronised:
 * read it in the thread that called fr_run, after it returned. */
int fr_run_interrupt_signal(void);

/* Result file names of a run: "points.csv" for an unsharded run,
 * "points.shard-I-of-N.csv" for shard I of N (same for journal, manifest).
 * Writes into buf (cap bytes). */
void fr_results_name(char *buf, size_t cap, const char *dir, const char *base, const char *ext,
                     int shard_index, int shard_count);

/* Writes DIR/<manifest name>: the experiment as fr_experiment_dump gives it,
 * its hash, kind, shard, git revision (`git rev-parse HEAD` in git_dir, or
 * "unknown"), featrd and library versions, machine (uname, cores), start and
 * end time. Atomically. extra: more YAML lines to append (may be NULL). */
int fr_manifest_write(const char *path, const struct FrExperiment *e, int shard_index,
                      int shard_count, const char *git_dir, const char *extra, FrError *err);

/* Reads the `config_hash:` of a manifest. 1 found (*hash set), 0 no such
 * file, negative error (FR_E_FORMAT: no hash line). */
int fr_manifest_read_hash(const char *path, uint64_t *hash, FrError *err);

/* The check before a run writes into dir: if any manifest there (manifest.yaml
 * or manifest.shard-*.yaml) records a config hash other than e's, returns
 * FR_E_MISMATCH ("DIR holds results of a different config (...); use --force
 * to discard them or set output.dir") unless force, in which case the old
 * result files are removed. 0 when dir is new or holds the same config. */
int fr_results_check_config(const char *dir, const struct FrExperiment *e, int force,
                            FrError *err);

/* An append-only journal of committed results: each line is
 * "<8 hex CRC-32 of the payload> <payload>\n", written with one write() and
 * fsync'ed. A reader keeps every line whose CRC matches and drops the rest
 * (a torn last line after kill -9), so a record is either whole or absent. */
typedef struct FrJournal FrJournal;

/* Opens (creating) path for appending; a torn tail left by a kill is cut off
 * first so new records start on a line of their own. */
int fr_journal_open(FrJournal **j, const char *path, FrError *err);
/* payload must not contain '\n'. Durable when it returns 0. */
int fr_journal_append(FrJournal *j, const char *payload, FrError *err);
void fr_journal_close(FrJournal **j);
/* Reads every valid record: *lines is a malloc'ed array of malloc'ed strings
 * (free with fr_journal_lines_free). A missing file gives 0 records. */
int fr_journal_read(const char *path, char ***lines, size_t *n, FrError *err);
void fr_journal_lines_free(char ***lines, size_t n);

/* CRC-32 (IEEE, as zlib) of n bytes, no outside library. */
uint32_t fr_crc32(const void *data, size_t n);

/* A growable text buffer for building files before an atomic write. */
typedef struct FrText {
    char *s;
    size_t len, cap;
    int oom; /* 1 after an allocation failed; later appends are ignored */
} FrText;

void fr_text_printf(FrText *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Appends a CSV field (quoted when needed) followed by sep (',' or '\n'). */
void fr_text_csv_field(FrText *t, const char *field, char sep);
/* Appends a double with the shortest round-trip text (nan/inf spelled out). */
void fr_text_csv_double(FrText *t, double v, char sep);
void fr_text_free(FrText *t);
/* fr_write_file_atomic of the buffer; FR_E_NOMEM if an append failed. */
int fr_text_write_atomic(const FrText *t, const char *path, FrError *err);

/* ---------------- points.csv, merge ---------------- */

/* The columns of points.csv, in order, with one line of documentation each
 * (what points.columns.txt and docs/run.md say). */
typedef struct FrColumnDoc {
    const char *name;
    const char *doc;
    const char *unit; /* "bit", "kbit", "s", "dB" or "" (a count, a ratio or text) */
} FrColumnDoc;
const FrColumnDoc *fr_points_columns(int *n);

/* The columns of images.csv (output.images_csv: one row per image and point). */
const FrColumnDoc *fr_images_columns(int *n);

/* Writes DIR/images.csv from the per-point files DIR/images.d/NNNNNN.csv of
 * points 0..total-1 (each written atomically when its point committed), in
 * ordinal order. Nothing when images.d does not exist. */
int fr_results_images_csv(const char *dir, int total, FrError *err);

/* Joins DIR/points.shard-I-of-N.csv (every I of one N, all with the same
 * config hash in their manifests) into DIR/points.csv sorted by ordinal,
 * writes manifest.yaml and bd.csv as a single run would. Refuses (FR_E_MISMATCH)
 * missing or extra shards, mixed N or config hashes, a point in two shards,
 * or points missing from the union. */
int fr_results_merge(const char *dir, FrError *err);

/* Curve `name` of a points.csv (csv, read from dir) for BD: rate and
 * quality columns, the quality's CI (<quality>_lo/_hi columns) when present,
 * and the bootstrap replicates from dir/boot/<id>.csv when every point of
 * the curve has them and rate is kbpi. Errors as fr_bd_curve_from_csv. */
int fr_results_bd_curve(const char *dir, const FrCsv *csv, const char *name, const char *rate,
                        const char *quality, FrBdCurve *c, FrError *err);

/* The quality column BD uses when none is named: the first of map07, map,
 * top1, top5, fidelity with a value in csv; NULL if none. The same rule for
 * bd.csv and `featrd bd`. */
const char *fr_results_default_quality(const FrCsv *csv);

/* The header line (without newline) of bd.csv and the row of one report. */
const char *fr_bd_csv_header(void);

/* Where featrd's gnuplot scripts are: $FEATRD_PLOTS, ./plots, the plots/
 * (or share/featrd/plots) next to the binary's directory, else the source
 * tree it was built in. */
const char *fr_plots_dir(void);

/* Writes DIR/bd.csv for e's bd: entries from DIR/points.csv. */
int fr_results_write_bd(const char *dir, const struct FrExperiment *e, FrError *err);

/* Plots DIR/points.csv with gnuplot and plots/rd.gp (scripts_dir: where the
 * .gp files are; NULL = "plots"): DIR/rd_<metric>.png and .svg for each task
 * metric present. FR_E_NOENT when gnuplot or the scripts are missing. */
int fr_results_plot(const char *dir, const char *scripts_dir, FrError *err);
/* Runs gnuplot on script with `-e "vars"` (gnuplot assignments, e.g.
 * "dir='results/x'"; the caller keeps double quotes out of them). FR_E_NOENT
 * when the script or gnuplot is missing, FR_E_IO with gnuplot's first output
 * when it fails. Shared by every experiment kind's plots. */
int fr_gnuplot_run(const char *script, const char *vars, FrError *err);

#ifdef __cplusplus
}
#endif
#endif
