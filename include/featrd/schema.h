/* featrd/schema.h: one description per settings struct. A schema lists a
 * struct's fields (key, type, offset, default, allowed values, meaning) and
 * drives everything that touches those settings: defaults, YAML parsing
 * (src/config/config.c), validation (one place), the config dump and its hash, the
 * docs/config.md key tables (tests/test_config.c checks them) and curve
 * names (every field that differs from its default is written, so two
 * different settings never share a curve or a point id).
 *
 * A codec's settings are such a struct (featrd/codec.h: FrCodec.settings);
 * a new codec declares its own struct and schema in its own file. */
#ifndef FEATRD_SCHEMA_H
#define FEATRD_SCHEMA_H

#include <stddef.h>

#include "featrd/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum FrFieldType {
    FR_FIELD_INT = 0, /* int: lo..hi, or one of allowed[] (INT_MIN-terminated) */
    FR_FIELD_BOOL,    /* int 0/1; YAML true/false (or 0/1) */
    FR_FIELD_CHOICE,  /* char[size]: one of names[] (NULL-terminated) */
} FrFieldType;

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
    const char *const *names; /* CHOICE: NULL-terminated */
    const char *doc;          /* one line for docs/config.md */
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

/* Every field at its default. */
void fr_schema_defaults(const FrSchema *s, void *obj);
/* The field named key, or NULL. */
const FrField *fr_schema_field(const FrSchema *s, const char *key);
/* Reads or writes one field (INT/BOOL: *v; CHOICE: the string). set checks
 * the value and fails with "<schema>.<key> is X: use ..." (FR_E_USAGE). */
int fr_schema_get_int(const FrField *f, const void *obj);
const char *fr_schema_get_str(const FrField *f, const void *obj);
int fr_schema_set_int(const FrSchema *s, const FrField *f, void *obj, long long v, FrError *err);
int fr_schema_set_str(const FrSchema *s, const FrField *f, void *obj, const char *v, FrError *err);
/* Sets a field from text: "key=value" (INT: a decimal integer; BOOL: true,
 * false, 1 or 0; CHOICE: one of the names). Unknown key: FR_E_USAGE naming
 * the schema's keys. */
int fr_schema_set_text(const FrSchema *s, void *obj, const char *key_value, FrError *err);
/* What a field accepts, for messages: "16, 32 or 64", "1..22 or -1", "true or false". */
void fr_schema_describe(const FrField *f, char *buf, size_t cap);
/* 1 when an INT/BOOL field accepts v (its range, allowed values or special). */
int fr_schema_accepts_int(const FrField *f, long long v);
/* A field's value as text: the number, true/false, or the choice; obj NULL
 * gives its default. Returns the length it would have had, as snprintf. */
int fr_schema_field_text(const FrField *f, const void *obj, char *buf, size_t cap);
/* Every field in range, then s->check. */
int fr_schema_validate(const FrSchema *s, const void *obj, FrError *err);
/* The same; on an error *key (if key is non-NULL) is the field it blames,
 * so a caller can point at where that field was set. */
int fr_schema_validate_key(const FrSchema *s, const void *obj, const char **key, FrError *err);
/* 1 when the field holds its default. */
int fr_schema_is_default(const FrField *f, const void *obj);
/* Appends "<sep><key>=<value>" for every field (all = 1) or only those that
 * differ from their defaults (all = 0), in schema order, to buf (which
 * holds a NUL-terminated string). Returns the length it would have had,
 * as snprintf. Bools are written true/false. */
size_t fr_schema_format(const FrSchema *s, const void *obj, int all, const char *sep, char *buf,
                        size_t cap);
/* 1 when every field of a and b is equal. */
int fr_schema_equal(const FrSchema *s, const void *a, const void *b);

#ifdef __cplusplus
}
#endif
#endif
