/* csv.c: the RFC 4180 reader and writer helpers of featrd/csv.h. The whole
 * file is parsed at once into one text arena (fields unquoted, NUL-ended) plus
 * an index of field offsets; tables here are small (points.csv, bd curves). */
#define _POSIX_C_SOURCE 200809L
#include "featrd.h"
#include "util/csv.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct FrCsv {
    char *name;
    char *text;        /* arena of NUL-terminated fields */
    size_t *off;       /* field offsets into text, row-major, header first */
    int *lines;        /* line where each record starts, header first */
    int ncols;
    size_t nrecords;   /* header included */
};

typedef struct Builder {
    char *text;
    size_t len, cap;
    size_t *off;
    size_t noff, capoff;
    int *lines;
    size_t nrec, caprec;
} Builder;

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

static int put_char(Builder *b, char ch)
{
    if (grow((void **)&b->text, &b->cap, b->len + 1, 1))
        return -1;
    b->text[b->len++] = ch;
    return 0;
}

static int start_field(Builder *b)
{
    if (grow((void **)&b->off, &b->capoff, b->noff + 1, sizeof *b->off))
        return -1;
    b->off[b->noff++] = b->len;
    return 0;
}

void fr_csv_destroy(FrCsv **csv)
{
    if (!csv || !*csv)
        return;
    free((*csv)->name);
    free((*csv)->text);
    free((*csv)->off);
    free((*csv)->lines);
    free(*csv);
    *csv = NULL;
}

int fr_csv_parse(const char *text, size_t len, const char *name, FrCsv **out, FrError *err)
{
    *out = NULL;
    if (!name)
        name = "(csv)";
    Builder b = {0};
    size_t i = 0;
    int line = 1;
    int rc = 0;
    int ncols = -1;
    if (len >= 3 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB &&
        (unsigned char)text[2] == 0xBF)
        i = 3;
    while (i < len) {
        /* skip blank lines between records */
        if (text[i] == '\n' || (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')) {
            i += text[i] == '\r' ? 2 : 1;
            line++;
            continue;
        }
        if (text[i] == '\r' && i + 1 == len)
            break;
        int rec_line = line;
        size_t first = b.noff;
        for (;;) { /* one field per iteration */
            if (start_field(&b))
                goto nomem;
            if (i < len && text[i] == '"') {
                int qline = line;
                i++;
                for (;;) {
                    if (i >= len) {
                        rc = fr_error(err, FR_E_FORMAT,
                                      "%s:%d: quoted field never closed (a '\"' is missing); "
                                      "fix the quoting", name, qline);
                        goto fail;
                    }
                    if (text[i] == '"') {
                        if (i + 1 < len && text[i + 1] == '"') {
                            if (put_char(&b, '"'))
                                goto nomem;
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    if (text[i] == '\n')
                        line++;
                    if (put_char(&b, text[i]))
                        goto nomem;
                    i++;
                }
                if (i < len && text[i] != ',' && text[i] != '\n' &&
                    !(text[i] == '\r' && (i + 1 == len || text[i + 1] == '\n'))) {
                    rc = fr_error(err, FR_E_FORMAT,
                                  "%s:%d: unexpected character '%c' after a closing quote; "
                                  "quote the whole field and double inner quotes", name, line, text[i]);
                    goto fail;
                }
            } else {
                while (i < len && text[i] != ',' && text[i] != '\n' &&
                       !(text[i] == '\r' && (i + 1 == len || text[i + 1] == '\n'))) {
                    if (put_char(&b, text[i]))
                        goto nomem;
                    i++;
                }
            }
            if (put_char(&b, '\0'))
                goto nomem;
            if (i < len && text[i] == ',') {
                i++;
                continue;
            }
            /* end of record */
            if (i < len && text[i] == '\r')
                i++;
            if (i < len && text[i] == '\n')
                i++;
            line++;
            break;
        }
        int nf = (int)(b.noff - first);
        if (ncols < 0) {
            ncols = nf;
        } else if (nf != ncols) {
            rc = fr_error(err, FR_E_FORMAT,
                          "%s:%d: %d field%s but the header has %d columns; "
                          "every row needs one value per column", name, rec_line, nf,
                          nf == 1 ? "" : "s", ncols);
            goto fail;
        }
        if (grow((void **)&b.lines, &b.caprec, b.nrec + 1, sizeof *b.lines))
            goto nomem;
        b.lines[b.nrec++] = rec_line;
    }
    if (b.nrec == 0) {
        rc = fr_error(err, FR_E_FORMAT, "%s: empty file, expected a header row", name);
        goto fail;
    }
    /* header names: non-empty and unique */
    for (int c = 0; c < ncols; c++) {
        const char *h = b.text + b.off[c];
        if (!*h) {
            rc = fr_error(err, FR_E_FORMAT, "%s:%d: header column %d has no name", name,
                          b.lines[0], c + 1);
            goto fail;
        }
        for (int d = 0; d < c; d++)
            if (!strcmp(h, b.text + b.off[d])) {
                rc = fr_error(err, FR_E_FORMAT, "%s:%d: column '%s' appears twice in the header",
                              name, b.lines[0], h);
                goto fail;
            }
    }
    FrCsv *t = calloc(1, sizeof *t);
    if (!t || !(t->name = strdup(name))) {
        free(t);
        goto nomem;
    }
    t->text = b.text;
    t->off = b.off;
    t->lines = b.lines;
    t->ncols = ncols;
    t->nrecords = b.nrec;
    *out = t;
    return 0;
nomem:
    rc = fr_error(err, FR_E_NOMEM, "%s: out of memory while reading CSV", name);
fail:
    free(b.text);
    free(b.off);
    free(b.lines);
    return rc;
}

int fr_csv_read(const char *path, FrCsv **out, FrError *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = fr_read_file(path, &data, &len, err);
    if (rc)
        return rc;
    rc = fr_csv_parse((const char *)data, len, path, out, err);
    free(data);
    return rc;
}

const char *fr_csv_name(const FrCsv *csv) { return csv->name; }
int fr_csv_ncols(const FrCsv *csv) { return csv->ncols; }
size_t fr_csv_nrows(const FrCsv *csv) { return csv->nrecords - 1; }

const char *fr_csv_colname(const FrCsv *csv, int col)
{
    if (col < 0 || col >= csv->ncols)
        return NULL;
    return csv->text + csv->off[col];
}

int fr_csv_col(const FrCsv *csv, const char *name)
{
    for (int c = 0; c < csv->ncols; c++)
        if (!strcmp(csv->text + csv->off[c], name))
            return c;
    return -1;
}

int fr_csv_require_col(const FrCsv *csv, const char *name, FrError *err)
{
    int c = fr_csv_col(csv, name);
    if (c >= 0)
        return c;
    char cols[600];
    size_t n = 0;
    cols[0] = 0;
    for (int d = 0; d < csv->ncols && n < sizeof cols; d++)
        n += (size_t)snprintf(cols + n, sizeof cols - n, "%s%s", d ? ", " : "", fr_csv_colname(csv, d));
    return fr_error(err, FR_E_FORMAT, "%s:%d: no column '%s' in the header (columns: %s)",
                    csv->name, csv->lines[0], name, cols);
}

const char *fr_csv_get(const FrCsv *csv, size_t row, int col)
{
    if (row >= csv->nrecords - 1 || col < 0 || col >= csv->ncols)
        return NULL;
    return csv->text + csv->off[(row + 1) * (size_t)csv->ncols + (size_t)col];
}

int fr_csv_line(const FrCsv *csv, size_t row)
{
    if (row >= csv->nrecords - 1)
        return 0;
    return csv->lines[row + 1];
}

static int get_double(const FrCsv *csv, size_t row, int col, double *out, int nonfinite, FrError *err)
{
    const char *s = fr_csv_get(csv, row, col);
    if (!s)
        return fr_error(err, FR_E_INTERNAL, "%s: row %zu column %d out of range", csv->name, row, col);
    const char *p = s;
    while (*p == ' ' || *p == '\t')
        p++;
    char *end;
    errno = 0;
    double v = *p ? strtod(p, &end) : 0.0;
    if (*p)
        while (*end == ' ' || *end == '\t')
            end++;
    if (!*p || *end || (!nonfinite && !isfinite(v)) || (errno == ERANGE && isinf(v)))
        return fr_error(err, FR_E_FORMAT, "%s:%d: column '%s': '%s' is not a %snumber",
                        csv->name, fr_csv_line(csv, row), fr_csv_colname(csv, col), s,
                        nonfinite ? "" : "finite ");
    *out = v;
    return 0;
}

int fr_csv_get_double(const FrCsv *csv, size_t row, int col, double *out, FrError *err)
{
    return get_double(csv, row, col, out, 0, err);
}

int fr_csv_get_double_nf(const FrCsv *csv, size_t row, int col, double *out, FrError *err)
{
    return get_double(csv, row, col, out, 1, err);
}

int fr_csv_get_long(const FrCsv *csv, size_t row, int col, long *out, FrError *err)
{
    const char *s = fr_csv_get(csv, row, col);
    if (!s)
        return fr_error(err, FR_E_INTERNAL, "%s: row %zu column %d out of range", csv->name, row, col);
    const char *p = s;
    while (*p == ' ' || *p == '\t')
        p++;
    char *end;
    errno = 0;
    long v = *p ? strtol(p, &end, 10) : 0;
    if (*p)
        while (*end == ' ' || *end == '\t')
            end++;
    if (!*p || *end || errno == ERANGE)
        return fr_error(err, FR_E_FORMAT, "%s:%d: column '%s': '%s' is not an integer",
                        csv->name, fr_csv_line(csv, row), fr_csv_colname(csv, col), s);
    *out = v;
    return 0;
}

/* ---- writing ---- */

int fr_csv_needs_quote(const char *field)
{
    if (!*field)
        return 0;
    if (field[0] == ' ' || field[0] == '\t' || field[strlen(field) - 1] == ' ' ||
        field[strlen(field) - 1] == '\t')
        return 1;
    return strpbrk(field, ",\"\r\n") != NULL;
}

size_t fr_csv_quote(char *dst, size_t cap, const char *field)
{
    size_t n = 0;
#define PUT(ch)                 \
    do {                        \
        if (n + 1 < cap)        \
            dst[n] = (ch);      \
        n++;                    \
    } while (0)
    if (!fr_csv_needs_quote(field)) {
        for (const char *p = field; *p; p++)
            PUT(*p);
    } else {
        PUT('"');
        for (const char *p = field; *p; p++) {
            if (*p == '"')
                PUT('"');
            PUT(*p);
        }
        PUT('"');
    }
#undef PUT
    if (cap)
        dst[n < cap ? n : cap - 1] = 0;
    return n;
}

size_t fr_csv_fmt_double(char *dst, size_t cap, double v)
{
    char tmp[40];
    if (isnan(v))
        snprintf(tmp, sizeof tmp, "nan");
    else if (isinf(v))
        snprintf(tmp, sizeof tmp, v > 0 ? "inf" : "-inf");
    else {
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(tmp, sizeof tmp, "%.*g", prec, v);
            if (strtod(tmp, NULL) == v)
                break;
        }
    }
    return (size_t)snprintf(dst, cap, "%s", tmp);
}

int fr_csv_write_field(FILE *f, const char *field)
{
    if (!fr_csv_needs_quote(field))
        return fputs(field, f) < 0 ? FR_E_IO : 0;
    if (fputc('"', f) == EOF)
        return FR_E_IO;
    for (const char *p = field; *p; p++) {
        if (*p == '"' && fputc('"', f) == EOF)
            return FR_E_IO;
        if (fputc(*p, f) == EOF)
            return FR_E_IO;
    }
    return fputc('"', f) == EOF ? FR_E_IO : 0;
}

int fr_csv_write_row(FILE *f, const char *const *fields, int n)
{
    for (int i = 0; i < n; i++) {
        if (i && fputc(',', f) == EOF)
            return FR_E_IO;
        int rc = fr_csv_write_field(f, fields[i] ? fields[i] : "");
        if (rc)
            return rc;
    }
    return fputc('\n', f) == EOF ? FR_E_IO : 0;
}
