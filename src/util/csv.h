/* util/csv.h: the library-internal part of module csv: functions that other
 * modules of libfeatrd and the tests use, which are not part of the public
 * API (include/featrd/csv.h) and are not installed. The CLI cannot include
 * this (it is built without -Isrc). */
#ifndef FR_INTERNAL_UTIL_CSV_H
#define FR_INTERNAL_UTIL_CSV_H

#include "featrd/csv.h"

/* The same from memory; name is used in messages (e.g. the file it came from). */
int fr_csv_parse(const char *text, size_t len, const char *name, FrCsv **out, FrError *err);

const char *fr_csv_name(const FrCsv *csv);          /* the path or name given */

int fr_csv_ncols(const FrCsv *csv);

const char *fr_csv_colname(const FrCsv *csv, int col);

/* Index of the column with this exact name, or -1. */
int fr_csv_col(const FrCsv *csv, const char *name);

/* 1-based line of the file where data row `row` starts (header is line 1
 * in a plain file). */
int fr_csv_line(const FrCsv *csv, size_t row);

/* Parses a field as a finite double (or, with allow_nonfinite, also nan/inf).
 * Bad text: FR_E_FORMAT naming "FILE:LINE: column 'COL': 'TEXT' is not a number". */
int fr_csv_get_double(const FrCsv *csv, size_t row, int col, double *out, FrError *err);
int fr_csv_get_double_nf(const FrCsv *csv, size_t row, int col, double *out, FrError *err);

/* Parses a field as a long integer; same error convention. */
int fr_csv_get_long(const FrCsv *csv, size_t row, int col, long *out, FrError *err);

/* True if the field must be quoted (comma, quote, CR, LF, or leading/trailing
 * space). */
int fr_csv_needs_quote(const char *field);

/* Writes field into dst (cap bytes, always NUL-terminated when cap > 0),
 * quoted and with doubled quotes when needed. Returns the length the full
 * result needs (excluding the NUL), like snprintf. */
size_t fr_csv_quote(char *dst, size_t cap, const char *field);

/* Writes n fields separated by commas and a terminating "\n". 0 or FR_E_IO. */
int fr_csv_write_row(FILE *f, const char *const *fields, int n);

#endif
