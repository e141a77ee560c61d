/* test_common.c: error codes, exit statuses, .npy round trips and malformed .npy. */
#include "testutil.h"
#include "util/common.h"

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
    tu_assert_contains(err.msg, "need 96");
    assert_null(u.data);
    assert_int_equal(fr_npy_read("/nonexistent/x.npy", &u, &err), FR_E_NOENT);
    tu_assert_contains(err.msg, "/nonexistent/x.npy");
    fr_tensor_free(&t);
}

/* Writes a .npy with header text hdr and raw data (numpy's layout). */
static void write_npy(const char *path, const char *dict, const void *data, size_t n)
{
    char hdr[256];
    int hl = snprintf(hdr, sizeof hdr, "%s", dict);
    while ((10 + hl + 1) % 64)
        hdr[hl++] = ' ';
    hdr[hl++] = '\n';
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc(hl & 0xff, f);
    fputc(hl >> 8, f);
    fwrite(hdr, 1, (size_t)hl, f);
    fwrite(data, 1, n, f);
    fclose(f);
}

/* A shape whose product overflows 64 bits (2^90 elements) with no data, and
 * one that asks for 2^40 floats from a 130-byte file: corrupt, exit 2. */
static void test_npy_hostile_shape(void **state)
{
    (void)state;
    static const char *shapes[] = {"(1073741824, 1073741824, 1073741824)", "(1024, 1024, 1048576)",
                                   "(1073741824, 1073741824, 16)"};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        char dict[128], path[512];
        snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shapes[k]);
        snprintf(path, sizeof path, "%s/h.npy", tu_tmpdir());
        write_npy(path, dict, "\0\0\0\0\0\0\0\0", k == 1 ? 8 : 0);
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

/* What numpy users write: float64 big-endian, float16, Fortran order, a
 * batch of one (1xCxHxW); each read as the C-order float32 C x H x W they
 * mean, and the info says what was converted. */
static void test_npy_numpy_variants(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/v.npy", tu_tmpdir());
    FrTensor u;
    FrNpyInfo info;
    FrError err;
    /* 2x3 float64 big-endian: 0.5, -1.25, 3, 1e-3, 7, 65504.5 */
    double v8[6] = {0.5, -1.25, 3, 1e-3, 7, 65504.5};
    uint8_t be[48];
    for (int i = 0; i < 6; i++) {
        uint64_t b;
        memcpy(&b, &v8[i], 8);
        for (int k = 0; k < 8; k++)
            be[i * 8 + k] = (uint8_t)(b >> (56 - 8 * k));
    }
    write_npy(path, "{'descr': '>f8', 'fortran_order': False, 'shape': (2, 3), }", be, sizeof be);
    assert_int_equal(fr_npy_read_ex(path, &u, &info, &err), 0);
    assert_int_equal(u.c, 1);
    assert_int_equal(u.h, 2);
    assert_int_equal(u.w, 3);
    for (int i = 0; i < 6; i++)
        assert_true(u.data[i] == (float)v8[i]);
    assert_string_equal(info.dtype, ">f8");
    assert_int_equal(info.converted, 1);
    fr_tensor_free(&u);
    /* float16: 1.0 (0x3c00), -2.0 (0xc000), 65504 (0x7bff), 2^-24 (0x0001, subnormal), -0 */
    uint16_t h[5] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000};
    write_npy(path, "{'descr': '<f2', 'fortran_order': False, 'shape': (5,), }", h, sizeof h);
    assert_int_equal(fr_npy_read_ex(path, &u, &info, &err), 0);
    assert_true(u.data[0] == 1.0f && u.data[1] == -2.0f && u.data[2] == 65504.0f);
    assert_true(u.data[3] == 0x1.0p-24f);
    assert_true(u.data[4] == 0.0f && signbit(u.data[4]));
    fr_tensor_free(&u);
    /* Fortran order, shape (2, 2, 3): element (c, y, x) stored at c + 2 (y + 2 x) */
    float fo[12], want[12];
    for (int c = 0; c < 2; c++)
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 3; x++) {
                float val = (float)(100 * c + 10 * y + x);
                want[(c * 2 + y) * 3 + x] = val;
                fo[c + 2 * (y + 2 * x)] = val;
            }
    write_npy(path, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2, 3), }", fo, sizeof fo);
    assert_int_equal(fr_npy_read_ex(path, &u, &info, &err), 0);
    assert_memory_equal(u.data, want, sizeof want);
    assert_int_equal(info.fortran, 1);
    assert_int_equal(info.converted, 0);
    fr_tensor_free(&u);
    /* a batch of one: 1x2x2x3 reads as 2x2x3; 2x2x2x3 is refused */
    write_npy(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 2, 3), }", want, sizeof want);
    assert_int_equal(fr_npy_read_ex(path, &u, &info, &err), 0);
    assert_int_equal(u.c, 2);
    assert_int_equal(info.squeezed, 1);
    assert_memory_equal(u.data, want, sizeof want);
    fr_tensor_free(&u);
    write_npy(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 2, 3), }", want, sizeof want);
    assert_int_equal(fr_npy_read(path, &u, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "4 dimensions");
    /* encode into a directory that is not there: exit 2, naming it */
    char *out = NULL;
    assert_int_equal(tu_sh(&out, "%s encode tests/data/single.npz /nonexistent/dir/o.frd --codec zlib",
                           tu_bin()), 2);
    tu_assert_contains(out, "/nonexistent/dir/o.frd: cannot create");
    free(out);
    /* integers are refused with what to do */
    write_npy(path, "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", want, 12);
    assert_int_equal(fr_npy_read(path, &u, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "dtype <i4");
    tu_assert_contains(err.msg, "astype(np.float32)");
}

/* .npz as numpy's savez / savez_compressed write it (ZIP, zip64 headers;
 * tests/data/{stored,deflated,single}.npz made with Python's zipfile the
 * way numpy does): members by name, the only member without one, errors
 * listing the arrays, and a flipped byte caught by the CRC. */
static void test_npz(void **state)
{
    (void)state;
    FrTensor u;
    FrNpyInfo info;
    FrError err;
    const char *files[] = {"tests/data/stored.npz", "tests/data/deflated.npz"};
    for (int k = 0; k < 2; k++) {
        char p[256];
        snprintf(p, sizeof p, "%s:feat", files[k]);
        assert_int_equal(fr_npy_read_ex(p, &u, &info, &err), 0);
        assert_int_equal(u.c, 2);
        assert_int_equal(u.h, 2);
        assert_int_equal(u.w, 3);
        for (int i = 0; i < 12; i++)
            assert_true(u.data[i] == 0.5f * (float)i);
        fr_tensor_free(&u);
        snprintf(p, sizeof p, "%s:other.npy", files[k]);
        assert_int_equal(fr_npy_read_ex(p, &u, &info, &err), 0);
        assert_true(u.c == 1 && u.h == 1 && u.w == 3 && u.data[2] == 3.0f);
        assert_string_equal(info.dtype, "<f8");
        fr_tensor_free(&u);
        assert_int_equal(fr_npy_read(files[k], &u, &err), FR_E_USAGE);
        tu_assert_contains(err.msg, "holds 2 arrays (feat, other)");
        snprintf(p, sizeof p, "%s:nope", files[k]);
        assert_int_equal(fr_npy_read(p, &u, &err), FR_E_NOENT);
        tu_assert_contains(err.msg, "no array 'nope' (arrays: feat, other)");
    }
    assert_int_equal(fr_npy_read("tests/data/single.npz", &u, &err), 0);
    assert_true(u.w == 4 && u.data[3] == 4.0f);
    fr_tensor_free(&u);
    /* a flipped payload byte, and a truncated file */
    uint8_t *z;
    size_t n;
    assert_int_equal(fr_read_file("tests/data/stored.npz", &z, &n, &err), 0);
    char p[512];
    snprintf(p, sizeof p, "%s/bad.npz", tu_tmpdir());
    z[200] ^= 0x40; /* inside the first member's data */
    assert_int_equal(fr_write_file_atomic(p, z, n, &err), 0);
    char pk[600];
    snprintf(pk, sizeof pk, "%s:feat", p);
    assert_int_equal(fr_npy_read(pk, &u, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "bad.npz");
    assert_int_equal(fr_write_file_atomic(p, z, n / 2, &err), 0);
    assert_int_equal(fr_npy_read(pk, &u, &err), FR_E_FORMAT);
    tu_assert_contains(err.msg, "not a .npz");
    free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_status),
        cmocka_unit_test(test_npy_roundtrip),
        cmocka_unit_test(test_npy_truncated),
        cmocka_unit_test(test_npy_hostile_shape),
        cmocka_unit_test(test_npy_numpy_variants),
        cmocka_unit_test(test_npz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
