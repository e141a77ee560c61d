/* config_internal.h: what the files of the config module share: the node
 * tree libyaml's events become (yaml_tree.c, the only file that includes
 * yaml.h), the error and allocation helpers, the experiment's private
 * storage (load.c), the enum spellings (names.c), the typed node readers
 * (getters.c), the sections (parse.c), the cross-key rules (validate.c), the
 * defaults (experiment.c); dump.c and files.c use them. */
#ifndef FEATRD_CONFIG_INTERNAL_H
#define FEATRD_CONFIG_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "featrd/config.h"
#include "config/config.h"
#include "run/run.h"

enum { N_SCALAR, N_SEQ, N_MAP };

/* YAML nesting deeper than this is refused (a stack-depth guard). */
#define MAX_DEPTH 64

typedef struct Node {
    int type;
    char *s;   /* scalar text */
    int plain; /* scalar was unquoted (numbers, booleans and null must be) */
    FrSrcLoc loc;
    int n, cap;
    struct Node **kids;
    char **keys;     /* N_MAP only */
    FrSrcLoc *kloc;  /* N_MAP only: where each key is */
} Node;

const char *cfg_describe(const Node *n, char *buf, size_t cap);
int cfg_is_null(const Node *n);
int cfg_loc_err(FrError *err, int code, FrSrcLoc loc, const char *path, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
int cfg_map_find(const Node *n, const char *key);
void cfg_map_remove(Node *n, int i);
int cfg_node_add(Node *n, const char *key, FrSrcLoc kloc, Node *kid);
void cfg_node_free(Node *n);
Node *cfg_node_new(int type, FrSrcLoc loc);
void cfg_pathf(char *buf, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
int cfg_read_yaml(const char *text, size_t len, const char *file, FrError *err, Node **out);
int cfg_vloc_err(FrError *err, int code, FrSrcLoc loc, const char *path, const char *fmt,
                    va_list ap);
void *cfg_xgrow(void *p, int *cap, int need, size_t elem);
char *cfg_xstrdup(const char *s);

/* ---- the experiment's private storage (load.c) ---- */

typedef struct LocEntry {
    char *key;
    FrSrcLoc loc;
} LocEntry;

/* File names (locations point into them) and where each key was set. */
#define CFG_MAX_KINDS 32

struct FrConfigPriv {
    char **files;
    int n_files, cap_files;
    LocEntry *locs;
    int n_locs, cap_locs;
    /* each kind's own section (FrKindInfo.section), indexed by kind: kept
     * for every kind so a change of e->kind finds its defaults */
    void *kind_settings[CFG_MAX_KINDS];
};

/* The kind's section field (FrKindInfo.section), NULL when it has none. */
const FrField *cfg_kind_section(FrExperimentKind k);
/* Allocates every kind's section settings at their defaults / frees them. */
int cfg_kind_settings_init(FrExperiment *e);
void cfg_kind_settings_free(FrExperiment *e);

/* Interns a file name; the returned pointer lives as long as p. */
const char *cfg_priv_file(struct FrConfigPriv *p, const char *name);
int cfg_priv_setloc(struct FrConfigPriv *p, const char *key, FrSrcLoc loc);
void cfg_priv_free(struct FrConfigPriv *p);

/* ---- enum spellings (names.c), NULL-terminated ---- */

const char *const *cfg_kind_names(void);   /* the kinds registry's names */
const char *const *cfg_alloc_names(void);  /* the allocators registry's */
const char *const *cfg_metric_names(void); /* the metrics registry's */
#define KIND_NAMES (cfg_kind_names())
#define ALLOC_NAMES (cfg_alloc_names())
#define METRIC_NAMES (cfg_metric_names())
extern const char *const cfg_device_names[];
extern const char *const cfg_kernels_names[];
extern const char *const cfg_task_names[], *const cfg_gemm_names[], *const cfg_label_names[],
    *const cfg_range_names[], *const cfg_pack_names[], *const cfg_scope_names[],
    *const cfg_bd_names[], *const cfg_anchor_codec_names[];
#define TASK_NAMES cfg_task_names
#define GEMM_NAMES cfg_gemm_names
#define LABEL_NAMES cfg_label_names
#define RANGE_NAMES cfg_range_names
#define PACK_NAMES cfg_pack_names
#define SCOPE_NAMES cfg_scope_names
#define BD_NAMES cfg_bd_names
#define ANCHOR_CODEC_NAMES cfg_anchor_codec_names

int cfg_count_names(const char *const *names);
const char *cfg_name_at(const char *const *names, int i);
/* "a, b or c" */
void cfg_or_list(const char *const *names, char *buf, size_t cap);
/* NULL-terminated names joined by ", ", the last by last ("a, b" + last + "c") */
void cfg_join_list(const char *const *names, const char *last, char *buf, size_t cap);
/* The closest name within a small distance, or NULL. */
const char *cfg_suggest(const char *word, const char *const *names);

/* ---- typed node readers (getters.c) ---- */

/* What a reader needs: the experiment (for locations) and the error. */
typedef struct CfgCx {
    FrExperiment *e;
    FrError *err;
} CfgCx;

#define QP_WHAT "an integer QP from 0 to 51"

/* Records where path was set. */
int cfg_rec(CfgCx *c, const char *path, FrSrcLoc loc);
int cfg_rec_item(CfgCx *c, const char *path, int i, FrSrcLoc loc);
/* "LOC: path: expected what, got <n>" (FR_E_CONFIG). */
int cfg_expected(CfgCx *c, const Node *n, const char *path, const char *what);
/* prefix.key (or key when prefix is empty) */
void cfg_join(char *buf, size_t cap, const char *prefix, const char *key);
int cfg_parse_ll(const Node *n, long long *v);
int cfg_get_int(CfgCx *c, const Node *n, const char *path, int lo, int hi, int *out);
int cfg_get_u64(CfgCx *c, const Node *n, const char *path, uint64_t *out);
int cfg_get_bool(CfgCx *c, const Node *n, const char *path, int *out);
int cfg_get_double(CfgCx *c, const Node *n, const char *path, double lo, double hi, int lo_open,
                   double *out);
/* A string; null allowed only when nullable (then *out = NULL). Replaces *out. */
int cfg_get_str(CfgCx *c, const Node *n, const char *path, int nullable, char **out);
int cfg_get_enum(CfgCx *c, const Node *n, const char *path, const char *const *names, int *out);
/* A list node's items: a scalar stands for a one-item list (then *items
 * points at *one, which the caller provides). */
int cfg_list_items(CfgCx *c, const Node *n, const char *path, int allow_empty, const char *what,
                   Node **one, Node *const **items, int *count);
/* An integer list; allowed (terminated by INT_MIN) restricts values when set. */
int cfg_get_int_list(CfgCx *c, const Node *n, const char *path, int lo, int hi,
                     const int *allowed, const char *what, int allow_empty, int **arr, int *cnt);
int cfg_get_enum_list(CfgCx *c, const Node *n, const char *path, const char *const *names,
                      int allow_empty, int **arr, int *cnt);
/* A list of strings; names (optional) restricts the values. */
int cfg_get_str_list(CfgCx *c, const Node *n, const char *path, const char *const *names,
                     const char *what, int allow_empty, char ***arr, int *cnt);
void cfg_free_strs(char **s, int n);
/* Checks that n is a map (null counts as empty) whose keys are all known. */
int cfg_check_map(CfgCx *c, const Node *n, const char *path, const char *const *known);

/* ---- sections, defaults, rules ---- */

/* The FR_FIELD_CUSTOM keys of the config schema (sections.c); parse.c,
 * dump.c and experiment.c handle each. obj is the section struct holding
 * the key. */
enum {
    CFG_C_INCLUDE = 1, /* include: (merged by load.c; an error anywhere else) */
    CFG_C_INPUT,       /* model.input: WxH, [w, h], one size or ~ */
    CFG_C_CODEC,       /* sweep.codec: names or maps with the codec's settings */
    CFG_C_SENS_LAYER,  /* sweep.sensitivity.layer: penultimate, final or a name */
    CFG_C_ANCHORS,     /* anchors: maps */
    CFG_C_BD,          /* bd: maps, each described by cfg_bd_schema */
    CFG_C_BD_QUALITY,  /* bd[].quality: a metric, a points.csv column or ~ */
    CFG_C_MIN_SPAN,    /* bd[].min_span: a number >= 0, auto or ~ */
};
/* The whole config as one SECTION field (its sub is fr_experiment_schema()),
 * with the top level's dump order. */
extern const FrField cfg_root_field;
/* One bd[] entry (FrBdSpec). */
extern const FrSchema cfg_bd_schema;
extern const FrSchema cfg_anchor_schema; /* one anchors[] entry, without its x265 keys */
/* A schema's keys in field order, NULL-terminated, into keys[cap]. */
void cfg_schema_keys(const FrSchema *s, const char **keys, int cap);

extern const int cfg_default_qp[4]; /* [22, 27, 32, 37] */

/* parse.c: the whole tree into c->e; *name_set / *dir_set when the config
 * names the experiment / its output directory. */
int cfg_parse_top(CfgCx *c, const Node *root, int *name_set, int *dir_set);
/* validate.c */
int cfg_validate(CfgCx *c);
/* hevc entries without their own QP list take sweep.qp. */
int cfg_finish_sweep(FrSweepSpec *s);
/* The points fr_plan_build would make, counted without expanding. */
uint64_t cfg_sweep_points(const FrExperiment *e);
/* experiment.c */
int cfg_codec_init(FrCodecSpec *cs, const FrCodec *codec);
void cfg_codec_clear(FrCodecSpec *cs);
void cfg_codecs_free(FrCodecSpec *cs, int n);
void cfg_anchors_free(FrAnchorSpec *a, int n);
void cfg_bd_free(FrBdSpec *b, int n);
int cfg_set_defaults(FrExperiment *e);
/* Every field of s in obj at its default, CUSTOM keys included; 0 or
 * FR_E_NOMEM. And the release of what they own. */
int cfg_schema_defaults(const FrSchema *s, void *obj);
void cfg_schema_free(const FrSchema *s, void *obj);
/* A new experiment at its defaults; finish = 0 leaves the default hevc
 * entry's QPs open for sweep.qp. */
FrExperiment *cfg_experiment_new(int finish);

#endif
