/* results_internal.h: the runner's internals shared inside the library
 * (src/run, src/kinds, src/util) and with the white-box tests: progress
 * display, result-file names, manifest, locks, the journal, text buffers,
 * the CSV column registries, images.csv, bd.csv and gnuplot. Not part of the
 * public API (include/featrd/run.h). */
#ifndef FEATRD_RESULTS_INTERNAL_H
#define FEATRD_RESULTS_INTERNAL_H

#include <stdint.h>

#include "featrd.h"

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
/* The bar's label in room columns: the whole label when it fits, else
 * "..." and its end (where a sweep's points differ); room < 4: its start.
 * Writes a NUL-terminated string into out (cap bytes); returns its length. */
size_t fr_progress_fit(const char *label, size_t room, char *out, size_t cap);
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
/* Opens path (created) and takes an exclusive flock without waiting: 0 with
 * *fd held; 1 when another process holds it (*fd -1, the lock file's first
 * line, its holder, in holder[cap]); or FR_E_IO. */
int fr_flock_try(const char *path, int *fd, char *holder, size_t cap, FrError *err);
void fr_results_unlock(int *fd);


/* Result file names of a run: "points.csv" for an unsharded run,
 * "points.shard-I-of-N.csv" for shard I of N (same for journal, manifest).
 * Writes into buf (cap bytes). */
void fr_results_name(char *buf, size_t cap, const char *dir, const char *base, const char *ext,
                     int shard_index, int shard_count);

/* Writes DIR/<manifest name>: the experiment as fr_experiment_dump gives it,
 * its hash, kind, shard, git revision (`git rev-parse HEAD` in git_dir, or
 * "unknown"), featrd and library versions, machine (uname, cores), start and
 * end time. Atomically. extra: more YAML lines to append (may be NULL). */
/* The stop request of fr_run_request_stop, for every kind's runner: enter
 * when the run starts (a request is taken only while some run is entered),
 * poll pending (the request's signal, 0 none) between units of work that are
 * saved, and leave on return (interrupted: the run stopped for the request,
 * so fr_run_interrupt_signal reports it). */
void fr_run_stop_enter(void);
int fr_run_stop_pending(void);
void fr_run_stop_leave(int interrupted);
/* FR_E_INTERRUPTED ("interrupted by SIG; the SAVED finished so far are
 * saved, run again to resume") when a stop is pending, else 0. */
int fr_run_stop_check(const char *saved, FrError *err);

int fr_manifest_write(const char *path, const struct FrExperiment *e, int shard_index,
                      int shard_count, const char *git_dir, const char *extra, FrError *err);

/* The manifest of a kind whose result is one CSV (lossless, model): the
 * unsharded fr_manifest_write with "kind_outputs: CSV" and "state: STATE"
 * (running, done, interrupted or failed). */
int fr_manifest_write_kind(const char *path, const struct FrExperiment *e, const char *git_dir,
                           const char *csv, const char *state, FrError *err);

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

/* The experiment's canonical dump (fr_experiment_dump), written atomically
 * to path: config.yaml, units/config.yaml. */
int fr_results_write_config(const char *path, const struct FrExperiment *e, FrError *err);

/* Runs argv without a shell (argv[0] in PATH), stdin on /dev/null, and
 * keeps its stdout (and, with with_stderr, its stderr) in out (at most
 * cap - 1 bytes, trailing white space removed). Returns its exit status,
 * 128 + a signal, or -1 when it cannot start. */
int fr_spawn_capture(char *const argv[], int with_stderr, char *out, size_t cap);

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


/* Where featrd's gnuplot scripts are: $FEATRD_PLOTS, ./plots, the plots/
 * (or share/featrd/plots) next to the binary's directory, else the source
 * tree it was built in. */
const char *fr_plots_dir(void);

/* Writes DIR/bd.csv for e's bd: entries from DIR/points.csv. */
int fr_results_write_bd(const char *dir, const struct FrExperiment *e, FrError *err);

/* Merges again, in order, every metric file `featrd score` merged into
 * DIR (it keeps a copy of each in DIR/scores/NNNNNN.csv), after a run or a
 * merge rewrote points.csv from the journal: scores are not lost to a
 * rerun. The caller holds the directory's run lock. */
int fr_results_rescore(const char *dir, FrError *err);

/* DIR/vs_reference.csv: every point's task metrics (map07, map, top1, top5)
 * against the reference point (the uncompressed network on the same images),
 * one row per point and metric: value, reference, delta = value − reference
 * and its paired bootstrap interval at level (replicate b of the point minus
 * replicate b of the reference: the same resampled images, boot/<id>.csv),
 * verdict lower / equal / higher (the interval below, around, above 0;
 * no-ci without replicates). Header only when there is no reference. */
int fr_results_write_vs_reference(const char *dir, double level, FrError *err);
const char *fr_vs_reference_csv_header(void);


/* Runs gnuplot on script with `-e "vars"` (gnuplot assignments, e.g.
 * "dir='results/x'"; the caller keeps double quotes out of them). FR_E_NOENT
 * when the script or gnuplot is missing, FR_E_IO with gnuplot's first output
 * when it fails. Shared by every experiment kind's plots. */
int fr_gnuplot_run(const char *script, const char *vars, FrError *err);


#endif
