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
    int chunks;         /* > 0: image-chunk units (`featrd submit`): the image list in
                         * `chunks` chunks; unit = (point group, chunk). Default 0 */
    int unit;           /* with chunks and collect = 0: compute only this unit's
                         * per-image results (DIR/units/). Default -1 */
    int collect;        /* with chunks: merge every unit's files into points.csv,
                         * bd.csv, ... as one run (`featrd merge`). Default 0 */
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

/* ---------------- stopping a run ---------------- */

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
 * run is in progress (of any kind: rd stops after its images in flight,
 * lossless before its next image, model before its next row), or a
 * stop was already requested. On 0 a signal handler should end the process
 * the default way (restore SIG_DFL and raise the signal), which is how a
 * second Ctrl-C ends a run at once. A request applies to every fr_run in
 * progress and is forgotten when the last of them returns. */
int fr_run_request_stop(int sig);

/* The signal given to fr_run_request_stop that stopped the last fr_run
 * with FR_E_INTERRUPTED, or 0. The CLI exits 128 + it. Not synchronised:
 * read it in the thread that called fr_run, after it returned. */
int fr_run_interrupt_signal(void);

/* Joins DIR/points.shard-I-of-N.csv (every I of one N, all with the same
 * config hash in their manifests) into DIR/points.csv sorted by ordinal,
 * writes manifest.yaml and bd.csv as a single run would. Refuses (FR_E_MISMATCH)
 * missing or extra shards, mixed N or config hashes, a point in two shards,
 * or points missing from the union. */
int fr_results_merge(const char *dir, FrError *err);

/* ---------------- image-chunk work units (featrd submit) ---------------- */

/* A unit is a group of points (the whole-network points, or one split of
 * one weight set) over one chunk of the image list; `featrd submit` runs
 * every unit as a Slurm array task (or a local process), each writing its
 * per-image results under DIR/units/, and `featrd merge DIR` turns them into
 * points.csv, bd.csv and the plots exactly as one run (docs/cluster.md). */
typedef enum FrUnitState {
    FR_UNIT_MISSING = 0, /* never started (or its state file is gone) */
    FR_UNIT_RUNNING,     /* its lock is held by a live process */
    FR_UNIT_DONE,        /* finished: every point's file of its chunk is there */
    FR_UNIT_FAILED,      /* ended with an error (its log says which) */
    FR_UNIT_INTERRUPTED, /* stopped by a signal or pre-empted; resubmit to resume */
} FrUnitState;

typedef struct FrUnitsStatus {
    int chunks, groups, units;
    size_t images;
    char cwd[4096];       /* where the units were started (relative config paths) */
    char config[4200];    /* DIR/units/config.yaml: the config every unit ran */
    FrUnitState *state;   /* per unit (malloc'ed; fr_units_status_free) */
    int *points_done, *points_total; /* per unit, from its state file (-1 unknown) */
    int count[5];         /* units in each FrUnitState */
} FrUnitsStatus;

/* Reads DIR/units/: FR_E_NOENT when DIR has no units (then it is a plain
 * or --shard run). */
int fr_units_status(const char *dir, FrUnitsStatus *st, FrError *err);
void fr_units_status_free(FrUnitsStatus *st);
const char *fr_unit_state_name(FrUnitState s);

/* How `featrd submit` lays out and submits the units of an experiment.
 * Every field's default is what fr_submit_options_defaults() sets. */
typedef struct FrSubmitOptions {
    int chunks;          /* image chunks; 0: from tasks. Default 0 */
    int tasks;           /* wanted array tasks (chunks = tasks / groups, at least 1);
                          * 0 with chunks 0: 4 chunks. Default 0 */
    int throttle;        /* at most this many tasks at once (sbatch --array=...%K); 0 none */
    const char *partition, *time, *gres; /* sbatch --partition/--time/--gres; NULL none */
    int cpus;            /* --cpus-per-task and each unit's --jobs; 0: the config's jobs */
    const char *const *sbatch; /* extra sbatch options, e.g. "--account=vcm"; n_sbatch */
    int n_sbatch;
    const char *const *setup; /* shell lines run before featrd (module load ...) */
    int n_setup;
    int dry_run;         /* write and print the scripts, submit nothing */
    int local;           /* run the units here, local_jobs processes at a time, then merge */
    int local_jobs;      /* default 1 */
    int force;           /* discard results and units of another config in output.dir */
    int plots;           /* -1: the config's output.plots (merge) */
    const char *featrd;  /* the featrd binary the tasks run; NULL: this process's */
    int max_array;       /* MaxArraySize; 0: asked of `scontrol show config` (1001 if not) */
    FrProgressMode progress; /* local runs' progress over units */
} FrSubmitOptions;

typedef struct FrSubmitReport {
    int groups, chunks, units;
    size_t images;
    int submitted;       /* units submitted (or run, with local); done ones are skipped */
    int arrays;          /* job arrays (MaxArraySize splits them) */
    char jobs[512];      /* the array job ids, ':'-separated */
    char merge_job[64];  /* the merge job's id ("" with local or dry_run) */
    char script_dir[4200]; /* DIR/units/slurm */
} FrSubmitReport;

void fr_submit_options_defaults(FrSubmitOptions *o);

/* `featrd submit`: freezes e as DIR/units/config.yaml with its unit plan,
 * then either submits one Slurm job array of the units not yet done plus a
 * merge job that depends on it (afterok), or with local runs them here and
 * merges. Submitting again after a task failed or was cancelled submits only
 * the units that are missing. rep may be NULL. Errors: FR_E_USAGE (no
 * sbatch, kinds other than rd), FR_E_MISMATCH (DIR holds another config's
 * results: force), FR_E_IO. */
int fr_submit(const struct FrExperiment *e, const FrSubmitOptions *o, FrSubmitReport *rep,
              FrError *err);

/* What fr_results_score merged. */
typedef struct FrScoreReport {
    int metrics;     /* metric columns written */
    int points;      /* points that received a value */
    int per_image;   /* 1: the file gave a value per image (intervals computed) */
    int bd;          /* 1: bd.csv was rewritten (the config has bd: entries) */
    char names[512]; /* the metrics, comma-separated */
} FrScoreReport;

/* `featrd score DIR --metric-file F`: merges task metrics computed outside
 * featrd into DIR/points.csv (and its boot/ files), then rewrites bd.csv
 * for the bd: entries of DIR/config.yaml. F is a CSV with the header
 *   point_id,metric,value         one value per point, or
 *   point_id,image,metric,value   one per image (0-based, as the file names'
 *                                 NNNNNN): the point's value is the mean over
 *                                 its images, with a bootstrap interval drawn
 *                                 as the run's (bootstrap: of the config)
 * ('#' lines and blank lines skipped). point_id is points.csv's id. A metric
 * is a new column (with _lo/_hi), or one of map07, map, top1, top5, fidelity;
 * columns featrd computes are refused. Points the file does not name keep
 * nan. Nothing is written unless the whole file is valid: unknown point
 * ids, images out of range, duplicates, missing images, bad numbers and bad
 * headers are FR_E_FORMAT naming FILE:LINE. points.csv is replaced
 * atomically; the directory's run lock is held meanwhile. A copy of the
 * metric file goes to DIR/scores/NNNNNN.csv, and a later `featrd run` or
 * `featrd merge` in DIR, which rewrites points.csv from the journal, merges
 * every kept file again in order (`--force` on another config drops them).
 * rep may be NULL. */
int fr_results_score(const char *dir, const char *metric_file, FrScoreReport *rep, FrError *err);

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

/* Plots DIR/points.csv with gnuplot and plots/rd.gp (scripts_dir: where the
 * .gp files are; NULL = "plots"): DIR/rd_<metric>.png and .svg for each task
 * metric present. FR_E_NOENT when gnuplot or the scripts are missing. */
int fr_results_plot(const char *dir, const char *scripts_dir, FrError *err);
#ifdef __cplusplus
}
#endif
#endif
