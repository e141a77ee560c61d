/* config/config.h: the library-internal part of module config: functions that other
 * modules of libfeatrd and the tests use, which are not part of the public
 * API (include/featrd/config.h) and are not installed. The CLI cannot include
 * this (it is built without -Isrc). */
#ifndef FR_INTERNAL_CONFIG_CONFIG_H
#define FR_INTERNAL_CONFIG_CONFIG_H

#include "featrd/config.h"

/* The dump as a malloc'ed NUL-terminated string (caller frees), or NULL. */
char *fr_experiment_dump_string(const FrExperiment *e);

/* Where key (e.g. "model.weights", "sweep.split[1]", "anchors[0].qp") was
 * set; NULL when it holds its default. Valid while e lives. */
const FrSrcLoc *fr_experiment_loc(const FrExperiment *e, const char *key);

/* The schema of the config (featrd/schema.h): the top level's keys, each
 * section an FR_FIELD_SECTION field with its own schema. It drives the
 * YAML parsing, defaults, ranges, the dump and hash and docs/config.md's
 * key table (tests/test_config.c checks it). Static. */
const FrSchema *fr_experiment_schema(void);

const char *fr_kind_name(FrExperimentKind k);

/* The points the sweep (and anchors) expand to, saturated at UINT64_MAX:
 * what sweep.max_points bounds. */
uint64_t fr_experiment_sweep_points(const FrExperiment *e);

const char *fr_allocation_name(FrAllocation a);

const char *fr_metric_name(FrMetric m);

int fr_metric_from_name(const char *s); /* FrMetric or -1 */

const char *fr_label_format_name(FrLabelFormat l);

/* One file a key names (for a kind's check_files, featrd/experiments.h): 0
 * when path is NULL or readable (a directory when want_dir), else
 * FR_E_NOENT "FILE:LINE:COL: key: no such file ...: advice". */
int fr_experiment_check_file(const FrExperiment *e, const char *key, const char *path,
                             int want_dir, const char *advice, FrError *err);

#define MAX_CODECS 64
/* The registered codecs' names (featrd/codec.h) with all of the
 * capabilities in need, NULL-terminated, into names[cap] (a kind's schema
 * lists its coders with it). */
void cfg_codec_names(unsigned need, const char **names, int cap);

#endif
