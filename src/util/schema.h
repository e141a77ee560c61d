/* util/schema.h: the library-internal part of module schema: functions that other
 * modules of libfeatrd and the tests use, which are not part of the public
 * API (include/featrd/schema.h) and are not installed. The CLI cannot include
 * this (it is built without -Isrc). */
#ifndef FR_INTERNAL_UTIL_SCHEMA_H
#define FR_INTERNAL_UTIL_SCHEMA_H

#include <stddef.h>

#include "featrd/schema.h"

/* Table-writing shorthands for a schema's fields (sections.c, a kind's own
 * section): a STRING key of T, a list key with its count, a whole schema. */
#define FR_STR(T, k, fl) .key = #k, .type = FR_FIELD_STRING, .offset = offsetof(T, k), .flags = (fl)
#define FR_LIST(T, k, n) .key = #k, .offset = offsetof(T, k), .count_offset = offsetof(T, n)
#define FR_SCHEMA(nm, T, F) \
    {.name = nm, .size = sizeof(T), .fields = F, .n_fields = (int)(sizeof F / sizeof F[0])}

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

/* 1 when an INT/BOOL field accepts v (its range, allowed values or special). */
int fr_schema_accepts_int(const FrField *f, long long v);

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

/* A field's names (ENUM, ENUMS, CHOICE, STRINGS), NULL-terminated, or NULL. */
const char *const *fr_schema_names(const FrField *f);

/* Every field at its default without clearing the rest of obj: owned
 * strings and lists are allocated, SECTIONs recurse, CUSTOM fields are left
 * to the owner. 0 or FR_E_NOMEM (then what was allocated is still owned by
 * obj: fr_schema_release() frees it). */
int fr_schema_init(const FrSchema *s, void *obj);

/* Frees what fields own (strings, lists; SECTIONs recurse; not CUSTOM) and
 * sets them to NULL / 0. */
void fr_schema_release(const FrSchema *s, void *obj);
double fr_schema_get_double(const FrField *f, const void *obj);
long long fr_schema_get_i64(const FrField *f, const void *obj);
uint64_t fr_schema_get_u64(const FrField *f, const void *obj);

/* A STRINGS field's list freed and emptied. */
void fr_schema_strings_clear(const FrField *f, void *obj);

/* A STRINGS field's FR_FIELD_ALL flag (1: `all`), or NULL without one. */
int *fr_schema_all_at(const FrField *f, const void *obj);

/* An owned string (STRING) or NULL. */
const char *fr_schema_get_string(const FrField *f, const void *obj);

/* A list field's items and count (INTS, ENUMS: *ints; STRINGS: *strs). */
int fr_schema_get_list(const FrField *f, const void *obj, const int **ints,
                       char *const **strs);

/* 1 when the value of a numeric field (INT, I64, U64, DOUBLE) or every item
 * of an INTS field is in the field's range, and accept() takes it. */
int fr_schema_in_range(const FrField *f, const void *obj);

/* What a numeric field accepts in the config's words: "an integer from 1
 * to 64", "an integer >= 0", "a number > 0 and <= 1", "a non-negative
 * integer", or what. */
void fr_schema_range_text(const FrField *f, char *buf, size_t cap);

#endif
