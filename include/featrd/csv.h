/* featrd/csv.h: a small RFC 4180 CSV reader (quoted fields, embedded commas,
 * quotes and newlines, a header row, column lookup by name, the file line of
 * every row for error messages) and writer helpers (quoting when needed,
 * shortest round-trip doubles). Used for points.csv, resume, merge and bd. */
#ifndef FEATRD_CSV_H
#define FEATRD_CSV_H

#include <stddef.h>
#include <stdio.h>

#include "featrd/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A parsed CSV table: one header row, then data rows. Opaque; every string it
 * returns is owned by the table and valid until fr_csv_destroy(). */
typedef struct FrCsv FrCsv;

/* Reads and parses a whole file. The first record is the header (column
 * names, which must be unique and non-empty). Every data record must have as
 * many fields as the header, else FR_E_FORMAT naming file:line. A final empty
 * line, CRLF line ends and a UTF-8 BOM are accepted; blank lines between
 * records are skipped. Missing file: FR_E_NOENT. On success *out is a new
 * table the caller destroys; on failure *out is NULL. */
int fr_csv_read(const char *path, FrCsv **out, FrError *err);
/* Frees the table and sets *csv to NULL; safe on NULL or *csv == NULL. */
void fr_csv_destroy(FrCsv **csv);

size_t fr_csv_nrows(const FrCsv *csv);              /* data rows, header excluded */
/* Index of the column, or FR_E_FORMAT with "FILE: no column 'NAME' (columns: ...)". */
int fr_csv_require_col(const FrCsv *csv, const char *name, FrError *err);
/* Field text (unquoted), never NULL for valid row/col. */
const char *fr_csv_get(const FrCsv *csv, size_t row, int col);

/* ---- writing ---- */

/* Shortest decimal text that reads back to exactly v ("%.15g", then 16, then
 * 17 digits); "nan", "inf", "-inf" for non-finite values. Returns the length
 * like snprintf. cap >= 32 always suffices. */
size_t fr_csv_fmt_double(char *dst, size_t cap, double v);
/* Writes one field (quoted if needed) to f. Returns 0 or FR_E_IO. */
int fr_csv_write_field(FILE *f, const char *field);

#ifdef __cplusplus
}
#endif
#endif
