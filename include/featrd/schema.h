/* featrd/schema.h: one description per settings struct. A schema lists a
 * struct's fields (key, type, offset, default, allowed values, meaning) and
 * drives everything that touches those settings: defaults, YAML parsing
 * (src/config/parse.c), validation (one place), the config dump and its hash, the
 * docs/config.md key tables (tests/test_registry.c and test_config.c check them) and curve
 * names (every field that differs from its default is written, so two
 * different settings never share a curve or a point id).
 *
 * A codec's settings are such a struct (featrd/codec.h: FrCodec.settings);
 * a new codec declares its own struct and schema in its own file. The
 * experiment config's sections are too (fr_experiment_schema(),
 * featrd/config.h): they use the wider types below (numbers of other
 * widths, owned strings, enums, lists, nested sections) and the flags that
 * say how the canonical dump writes a field. */
#ifndef FEATRD_SCHEMA_H
#define FEATRD_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "featrd/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum FrFieldType {
    FR_FIELD_INT = 0, /* int: lo..hi, or one of allowed[] (INT_MIN-terminated) */
    FR_FIELD_BOOL,    /* int 0/1; YAML true/false (or 0/1) */
    FR_FIELD_CHOICE,  /* char[size]: one of names[] (NULL-terminated) */
    /* The types below are read from YAML by the config module only (the
     * text setters above refuse them). */
    FR_FIELD_I64,     /* long long: lo..hi */
    FR_FIELD_U64,     /* uint64_t: lo..hi when hi > 0, else any value (seeds) */
    FR_FIELD_DOUBLE,  /* double: dlo..dhi, a bound open with FR_FIELD_LO_OPEN/HI_OPEN */
    FR_FIELD_STRING,  /* char *, owned; NULL (YAML ~) only with FR_FIELD_NULLABLE.
                         Paths are strings kept as written (featrd/config.h) */
    FR_FIELD_ENUM,    /* int (an enum): an index into the names */
    FR_FIELD_INTS,    /* int * (owned) and an int count at count_offset: each
                         value lo..hi, or one of allowed[]; no duplicates */
    FR_FIELD_ENUMS,   /* int * (owned) indices into the names, and a count */
    FR_FIELD_STRINGS, /* char ** (owned, each owned) and a count; with names:
                         only those */
    FR_FIELD_SECTION, /* a nested map described by sub; sub's offsets are from
                         this field's offset in obj */
    FR_FIELD_CUSTOM,  /* read, written, defaulted and freed by the schema's
                         owner (custom: its id); the table still gives the
                         key, its place, its dump flags and its docs */
} FrFieldType;

/* FrField.flags */
enum {
    FR_FIELD_NULLABLE = 1 << 0,  /* STRING: ~ (NULL) allowed */
    FR_FIELD_EMPTY_OK = 1 << 1,  /* lists: [] (and ~) allowed */
    FR_FIELD_LO_OPEN = 1 << 2,   /* DOUBLE: > dlo instead of >= */
    FR_FIELD_NOHASH = 1 << 3,    /* dump: left out of the hashed form */
    FR_FIELD_HASH_IF_SET = 1 << 4, /* dump: in the hashed form only when not
                                      the default (a key added later keeps
                                      older results' hashes) */
    FR_FIELD_DUMP_IF_SET = 1 << 5, /* dump: written only when not the default */
    FR_FIELD_NODUMP = 1 << 6,    /* dump: never written (it only shapes values
                                    the dump holds resolved) */
    FR_FIELD_FLOW = 1 << 7,      /* SECTION: dumped as a flow map {k: v, ...} */
    FR_FIELD_ALL = 1 << 8,       /* STRINGS: also the plain word `all` (every item there
                                    is), held as an int at all_offset: 1 = all (the list
                                    empty); its default is def */
};

typedef struct FrField {
    const char *key;          /* YAML key, e.g. "ctu" */
    FrFieldType type;
    size_t offset;            /* offsetof(the struct, the field) */
    size_t size;              /* FR_FIELD_CHOICE: the char array's size */
    int def;                  /* INT/BOOL default */
    const char *def_str;      /* CHOICE default */
    int lo, hi;               /* INT range (ignored when allowed is set) */
    const int *allowed;       /* INT: the only values, INT_MIN-terminated; NULL: lo..hi */
    int special;              /* INT: one more accepted value outside lo..hi (e.g. -1 =
                                 "library default"); 0 when none (0 then needs lo <= 0) */
    const char *const *names; /* CHOICE, ENUM(S), STRINGS: NULL-terminated */
    const char *doc;          /* one line for docs/config.md */
    /* The wider types (all zero for the codec settings): */
    unsigned flags;           /* FR_FIELD_NULLABLE, ... */
    double ddef, dlo, dhi;    /* DOUBLE: default and range */
    const int *def_list;      /* INTS, ENUMS: the default list (n_def items) */
    int n_def;
    const char *const *def_strs; /* STRINGS: the default list, NULL-terminated;
                                    STRING's default is def_str (NULL: none) */
    size_t count_offset;      /* lists: offsetof the int count */
    size_t all_offset;        /* STRINGS with FR_FIELD_ALL: offsetof the int "all" */
    const char *what;         /* lists, INT with allowed: what a message says
                                 the values must be ("8, 10 or 12") */
    const char *const *(*names_fn)(void); /* names computed at run time
                                             (registries); NULL: names */
    /* Beyond the type and range: NULL when the field's value at obj is
     * acceptable, else what it must be (for "expected X, got Y"). */
    const char *(*accept)(const struct FrField *f, const void *obj);
    const struct FrSchema *sub; /* SECTION */
    const char *const *order; /* SECTION: sub's keys in the order the dump
                                 writes them (NULL: field order; messages
                                 and docs use field order) */
    int custom;               /* CUSTOM: the owner's id */
    /* The dump writes the field only when shown(top, f) (NULL: always);
     * top is what the dump's caller passes (the experiment). */
    int (*shown)(const void *top, const struct FrField *f);
    const char *doc_def;      /* docs/config.md's default column when it is
                                 not the default's text in backquotes */
} FrField;

typedef struct FrSchema {
    const char *name;     /* e.g. "hevc" (messages: "hevc.ctu") */
    size_t size;          /* sizeof the struct */
    const FrField *fields;
    int n_fields;
    /* Cross-field rules (e.g. min_cu <= ctu), after every field is in range;
     * NULL: none. On an error *key is the field to blame (its message names
     * it too). */
    int (*check)(const void *obj, const char **key, FrError *err);
} FrSchema;

/* Sets a field from text: "key=value" (INT: a decimal integer; BOOL: true,
 * false, 1 or 0; CHOICE: one of the names). Unknown key: FR_E_USAGE naming
 * the schema's keys. */
int fr_schema_set_text(const FrSchema *s, void *obj, const char *key_value, FrError *err);
/* What a field accepts, for messages: "16, 32 or 64", "1..22 or -1", "true or false". */
void fr_schema_describe(const FrField *f, char *buf, size_t cap);
/* A field's value as text: the number, true/false, or the choice; obj NULL
 * gives its default. The wider types: a double in the shortest form that
 * reads back equal (with ".0" when it would look like an integer), a
 * string or enum name as is ("~" for NULL), a list "[a, b]" (strings
 * unquoted); SECTION and CUSTOM give "". Returns the length it would have
 * had, as snprintf. */
int fr_schema_field_text(const FrField *f, const void *obj, char *buf, size_t cap);

/* The wider types. */

#ifdef __cplusplus
}
#endif
#endif
