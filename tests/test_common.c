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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_status),
        cmocka_unit_test(test_npy_roundtrip),
        cmocka_unit_test(test_npy_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
