/* test_csv.c: the RFC 4180 reader (quoting, embedded commas/quotes/newlines,
 * line numbers, errors) and the writer helpers (quoting, round-trip doubles). */
#include "testutil.h"
#include "data/dataset.h"
#include "util/csv.h"

#include <math.h>

static FrCsv *parse(const char *text, FrError *err)
{
    FrCsv *c = NULL;
    int rc = fr_csv_parse(text, strlen(text), "t.csv", &c, err);
    if (rc)
        return NULL;
    return c;
}

static void test_quoted_fields(void **state)
{
    (void)state;
    FrError err;
    const char *text = "\xEF\xBB\xBF" "name,value,note\r\n"
                       "a,1,plain\r\n"
                       "\"b,c\",2,\"say \"\"hi\"\"\"\r\n"
                       "\n"
                       "d,3,\"two\nlines\"\n"
                       "e,,\"\"\n";
    FrCsv *c = parse(text, &err);
    assert_non_null(c);
    assert_int_equal(fr_csv_ncols(c), 3);
    assert_int_equal(fr_csv_nrows(c), 4);
    assert_string_equal(fr_csv_colname(c, 0), "name"); /* BOM stripped */
    assert_int_equal(fr_csv_col(c, "note"), 2);
    assert_int_equal(fr_csv_col(c, "nope"), -1);
    assert_string_equal(fr_csv_get(c, 1, 0), "b,c");
    assert_string_equal(fr_csv_get(c, 1, 2), "say \"hi\"");
    assert_string_equal(fr_csv_get(c, 2, 2), "two\nlines");
    assert_string_equal(fr_csv_get(c, 3, 1), "");
    assert_string_equal(fr_csv_get(c, 3, 2), "");
    /* lines: header 1, a 2, b 3, blank 4, d 5 (spans 5-6), e 7 */
    assert_int_equal(fr_csv_line(c, 0), 2);
    assert_int_equal(fr_csv_line(c, 1), 3);
    assert_int_equal(fr_csv_line(c, 2), 5);
    assert_int_equal(fr_csv_line(c, 3), 7);
    double v;
    long l;
    assert_int_equal(fr_csv_get_double(c, 2, 1, &v, &err), 0);
    assert_true(v == 3.0);
    assert_int_equal(fr_csv_get_long(c, 0, 1, &l, &err), 0);
    assert_int_equal(l, 1);
    assert_int_equal(fr_csv_get_double(c, 3, 1, &v, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "t.csv:7: column 'value'");
    assert_int_equal(fr_csv_get_double(c, 0, 2, &v, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "t.csv:2: column 'note': 'plain' is not a finite number");
    assert_int_equal(fr_csv_require_col(c, "kbpi", &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "no column 'kbpi'");
    tu_assert_contains(err.msg, "name, value, note");
    fr_csv_destroy(&c);
    assert_null(c);
    fr_csv_destroy(&c); /* safe twice */
}

static void test_nonfinite(void **state)
{
    (void)state;
    FrError err;
    FrCsv *c = parse("x\nnan\ninf\n-inf\n 2.5 \n1e999\n", &err);
    assert_non_null(c);
    double v;
    assert_int_equal(fr_csv_get_double(c, 0, 0, &v, &err), FR_E_FORMAT);
    assert_int_equal(fr_csv_get_double_nf(c, 0, 0, &v, &err), 0);
    assert_true(isnan(v));
    assert_int_equal(fr_csv_get_double_nf(c, 2, 0, &v, &err), 0);
    assert_true(isinf(v) && v < 0);
    assert_int_equal(fr_csv_get_double(c, 3, 0, &v, &err), 0);
    assert_true(v == 2.5);
    assert_int_equal(fr_csv_get_double(c, 4, 0, &v, &err), FR_E_FORMAT); /* overflow */
    fr_csv_destroy(&c);
}

static void test_errors(void **state)
{
    (void)state;
    FrError err;
    FrCsv *c = NULL;
    const char *t1 = "a,b\n1,2\n3\n";
    assert_int_equal(fr_csv_parse(t1, strlen(t1), "f.csv", &c, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "f.csv:3: 1 field but the header has 2 columns");
    assert_null(c);
    const char *t2 = "a,b\n1,\"open\n2,3\n";
    assert_int_equal(fr_csv_parse(t2, strlen(t2), "f.csv", &c, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "f.csv:2: quoted field never closed");
    const char *t3 = "a,b\n\"x\"y,2\n";
    assert_int_equal(fr_csv_parse(t3, strlen(t3), "f.csv", &c, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "f.csv:2: unexpected character 'y'");
    const char *t4 = "a,a\n";
    assert_int_equal(fr_csv_parse(t4, strlen(t4), "f.csv", &c, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "column 'a' appears twice");
    assert_int_equal(fr_csv_parse("", 0, "f.csv", &c, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "empty");
    assert_int_equal(fr_csv_read("/nonexistent/p.csv", &c, &err), FR_E_NOENT);
    tu_assert_contains(err.msg, "/nonexistent/p.csv");
}

static void test_write_roundtrip(void **state)
{
    (void)state;
    const char *fields[] = {"plain", "with,comma", "with \"quote\"", "multi\nline", "", " pad", "x"};
    char buf[64];
    assert_int_equal(fr_csv_quote(buf, sizeof buf, "with \"quote\""), 16);
    assert_string_equal(buf, "\"with \"\"quote\"\"\"");
    assert_int_equal(fr_csv_quote(buf, 4, "abcdef"), 6); /* truncated, snprintf-like */
    assert_string_equal(buf, "abc");
    assert_false(fr_csv_needs_quote("1.5"));
    assert_true(fr_csv_needs_quote(" 1"));

    char path[512];
    snprintf(path, sizeof path, "%s/w.csv", tu_tmpdir());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    const char *hdr[] = {"a", "b", "c", "d", "e", "f", "g"};
    assert_int_equal(fr_csv_write_row(f, hdr, 7), 0);
    assert_int_equal(fr_csv_write_row(f, fields, 7), 0);
    /* doubles: shortest text that reads back to the same bits */
    uint64_t s = 7;
    char dtext[200][40];
    const char *drow[7];
    for (int r = 0; r < 200; r++) {
        uint64_t bits = fr_splitmix64(&s);
        double v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v))
            v = (double)r / 3.0;
        fr_csv_fmt_double(dtext[r], sizeof dtext[r], v);
        assert_true(strtod(dtext[r], NULL) == v);
    }
    for (int r = 0; r < 200; r += 7) {
        for (int k = 0; k < 7; k++)
            drow[k] = dtext[(r + k) % 200];
        assert_int_equal(fr_csv_write_row(f, drow, 7), 0);
    }
    fclose(f);
    fr_csv_fmt_double(buf, sizeof buf, 0.1);
    assert_string_equal(buf, "0.1");
    fr_csv_fmt_double(buf, sizeof buf, 1.0 / 3.0);
    assert_string_equal(buf, "0.3333333333333333");
    fr_csv_fmt_double(buf, sizeof buf, NAN);
    assert_string_equal(buf, "nan");
    fr_csv_fmt_double(buf, sizeof buf, -INFINITY);
    assert_string_equal(buf, "-inf");

    FrError err;
    FrCsv *c = NULL;
    assert_int_equal(fr_csv_read(path, &c, &err), 0);
    assert_int_equal(fr_csv_nrows(c), 1 + 29);
    for (int k = 0; k < 7; k++)
        assert_string_equal(fr_csv_get(c, 0, k), fields[k]);
    for (int r = 0, row = 1; r < 200; r += 7, row++)
        for (int k = 0; k < 7; k++) {
            double v;
            assert_int_equal(fr_csv_get_double_nf(c, (size_t)row, k, &v, &err), 0);
            assert_true(v == strtod(dtext[(r + k) % 200], NULL));
        }
    fr_csv_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quoted_fields),
        cmocka_unit_test(test_nonfinite),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_write_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
