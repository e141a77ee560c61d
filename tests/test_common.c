/* test_common.c: error codes, exit statuses, .npy round trips and malformed .npy. */
#include "testutil.h"

static void test_exit_status(void **state)
{
    (void)state;
    assert_int_equal(fr_exit_status(FR_OK), 0);
    assert_int_equal(fr_exit_status(FR_E_CONFIG), 2);
    assert_int_equal(fr_exit_status(FR_E_NOENT), 2);
    assert_int_equal(fr_exit_status(FR_E_FORMAT), 2);
    assert_int_equal(fr_exit_status(FR_E_MISMATCH), 2);
    assert_int_equal(fr_exit_status(FR_E_IO), 1);
    assert_int_equal(fr_exit_status(FR_E_CODEC), 1);
    assert_string_equal(fr_strerror(FR_E_NOENT), "no such file");
}

static void test_npy_roundtrip(void **state)
{
    (void)state;
    FrTensor t, u;
    assert_int_equal(fr_tensor_alloc(&t, 13, 7, 5), 0);
    for (size_t i = 0; i < fr_tensor_size(&t); i++)
        t.data[i] = (float)i * 0.37f - 11.0f;
    char path[512];
    snprintf(path, sizeof path, "%s/a.npy", tu_tmpdir());
    FrError err;
    assert_int_equal(fr_npy_write(path, &t, &err), 0);
    assert_int_equal(fr_npy_read(path, &u, &err), 0);
    assert_int_equal(u.c, 13);
    assert_int_equal(u.h, 7);
    assert_int_equal(u.w, 5);
    assert_memory_equal(t.data, u.data, fr_tensor_size(&t) * 4);
    /* header is 64-byte aligned as numpy requires */
    struct stat st;
    stat(path, &st);
    assert_int_equal((st.st_size - 13 * 7 * 5 * 4) % 64, 0);
    fr_tensor_free(&t);
    fr_tensor_free(&u);
}

static void test_npy_truncated(void **state)
{
    (void)state;
    FrTensor t, u;
    assert_int_equal(fr_tensor_alloc(&t, 2, 3, 4), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/a.npy", tu_tmpdir());
    FrError err;
    assert_int_equal(fr_npy_write(path, &t, &err), 0);
    struct stat st;
    stat(path, &st);
    assert_int_equal(truncate(path, st.st_size - 46), 0); /* 50 of 96 data bytes left */
    assert_int_equal(fr_npy_read(path, &u, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "shape needs 96");
    assert_null(u.data);
    assert_int_equal(fr_npy_read("/nonexistent/x.npy", &u, &err), FR_E_NOENT);
    tu_assert_contains(err.msg, "/nonexistent/x.npy");
    fr_tensor_free(&t);
}

/* A shape whose product overflows 64 bits (2^90 elements) with no data, and
 * one that asks for 2^40 floats from a 130-byte file: corrupt, exit 2. */
static void test_npy_hostile_shape(void **state)
{
    (void)state;
    static const char *shapes[] = {"(1073741824, 1073741824, 1073741824)", "(1024, 1024, 1048576)",
                                   "(1073741824, 1073741824, 16)"};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        char hdr[128], path[512];
        int hl = snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shapes[k]);
        while ((10 + hl + 1) % 64)
            hdr[hl++] = ' ';
        hdr[hl++] = '\n';
        snprintf(path, sizeof path, "%s/h.npy", tu_tmpdir());
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fwrite("\x93NUMPY\x01\x00", 1, 8, f);
        fputc(hl & 0xff, f);
        fputc(hl >> 8, f);
        fwrite(hdr, 1, (size_t)hl, f);
        fwrite("\0\0\0\0\0\0\0\0", 1, k == 1 ? 8 : 0, f);
        fclose(f);
        FrTensor u;
        FrError err;
        assert_int_equal(fr_npy_read(path, &u, &err), FR_E_FORMAT);
        tu_assert_contains(err.msg, "corrupt");
        tu_assert_contains(err.msg, "h.npy");
        assert_null(u.data);
        char *out = NULL;
        assert_int_equal(tu_sh(&out, "%s encode %s %s/o.frd", tu_bin(), path, tu_tmpdir()), 2);
        tu_assert_contains(out, "corrupt");
        free(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_status),
        cmocka_unit_test(test_npy_roundtrip),
        cmocka_unit_test(test_npy_truncated),
        cmocka_unit_test(test_npy_hostile_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
