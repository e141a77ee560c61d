/* test_quant.c: the Q-layer: error bound, exact ends, per-channel ranges,
 * relu_min0 and a constant tensor. */
#include "testutil.h"
#include "codec/quant.h"

#include <math.h>

static void fill(FrTensor *t, unsigned seed)
{
    srand(seed);
    for (size_t i = 0; i < fr_tensor_size(t); i++)
        t->data[i] = (float)rand() / RAND_MAX * 7.0f - 2.0f;
}

static void check_bound(FrRangeMode m, int bits)
{
    FrTensor t, r;
    assert_int_equal(fr_tensor_alloc(&t, 5, 9, 11), 0);
    assert_int_equal(fr_tensor_alloc(&r, 5, 9, 11), 0);
    fill(&t, 7u + (unsigned)bits);
    float mins[5], maxs[5];
    uint16_t q[5 * 9 * 11];
    assert_int_equal(fr_quant_ranges(&t, m, 0, mins, maxs, NULL), 0);
    assert_int_equal(fr_quantize(&t, bits, m, mins, maxs, q, NULL), 0);
    assert_int_equal(fr_dequantize(q, bits, m, mins, maxs, &r, NULL), 0);
    size_t plane = 99;
    for (size_t i = 0; i < fr_tensor_size(&t); i++) {
        int k = m == FR_RANGE_CHANNEL ? (int)(i / plane) : 0;
        double bound = ((double)maxs[k] - mins[k]) / (2.0 * ((1 << bits) - 1));
        assert_true(q[i] < (1u << bits));
        assert_true(fabs((double)r.data[i] - t.data[i]) <= bound * (1 + 1e-6) + 1e-7);
        if (t.data[i] == mins[k])
            assert_true(r.data[i] == mins[k] && q[i] == 0);
        if (t.data[i] == maxs[k])
            assert_true(r.data[i] == maxs[k] && q[i] == (1u << bits) - 1);
    }
    fr_tensor_free(&t);
    fr_tensor_free(&r);
}

static void test_bound_tensor(void **st)
{
    (void)st;
    for (int b = 1; b <= 16; b++)
        check_bound(FR_RANGE_TENSOR, b);
}

static void test_bound_channel(void **st)
{
    (void)st;
    int bits[] = {8, 10, 12};
    for (int i = 0; i < 3; i++)
        check_bound(FR_RANGE_CHANNEL, bits[i]);
}

static void test_known_values(void **st)
{
    (void)st;
    /* 2 bits over [0, 3]: levels 0..3 exactly at the integers. */
    FrTensor t, r;
    assert_int_equal(fr_tensor_alloc(&t, 1, 1, 6), 0);
    assert_int_equal(fr_tensor_alloc(&r, 1, 1, 6), 0);
    float v[6] = {0, 0.49f, 0.51f, 1.5f, 2.9f, 3};
    memcpy(t.data, v, sizeof v);
    float mn, mx;
    uint16_t q[6];
    assert_int_equal(fr_quant_ranges(&t, FR_RANGE_TENSOR, 0, &mn, &mx, NULL), 0);
    assert_true(mn == 0 && mx == 3);
    assert_int_equal(fr_quantize(&t, 2, FR_RANGE_TENSOR, &mn, &mx, q, NULL), 0);
    uint16_t want[6] = {0, 0, 1, 2, 3, 3};
    assert_memory_equal(q, want, sizeof want);
    assert_int_equal(fr_dequantize(q, 2, FR_RANGE_TENSOR, &mn, &mx, &r, NULL), 0);
    assert_true(r.data[2] == 1.0f && r.data[3] == 2.0f);
    fr_tensor_free(&t);
    fr_tensor_free(&r);
}

static void test_relu_and_constant(void **st)
{
    (void)st;
    FrTensor t, r;
    assert_int_equal(fr_tensor_alloc(&t, 2, 2, 2), 0);
    assert_int_equal(fr_tensor_alloc(&r, 2, 2, 2), 0);
    for (int i = 0; i < 8; i++)
        t.data[i] = i < 4 ? 0.5f : 2.0f + (float)i; /* channel 0 constant 0.5 */
    float mn[2], mx[2];
    uint16_t q[8];
    assert_int_equal(fr_quant_ranges(&t, FR_RANGE_CHANNEL, 1, mn, mx, NULL), 0);
    assert_true(mn[0] == 0 && mn[1] == 0 && mx[0] == 0.5f && mx[1] == 9.0f);
    assert_int_equal(fr_quant_ranges(&t, FR_RANGE_CHANNEL, 0, mn, mx, NULL), 0);
    assert_true(mn[0] == 0.5f && mx[0] == 0.5f); /* max == min */
    assert_int_equal(fr_quantize(&t, 8, FR_RANGE_CHANNEL, mn, mx, q, NULL), 0);
    assert_int_equal(fr_dequantize(q, 8, FR_RANGE_CHANNEL, mn, mx, &r, NULL), 0);
    for (int i = 0; i < 4; i++)
        assert_true(r.data[i] == 0.5f);
    assert_true(r.data[4] == 6.0f && r.data[7] == 9.0f);
    FrError e;
    assert_int_equal(fr_quantize(&t, 17, FR_RANGE_TENSOR, mn, mx, q, &e), FR_E_USAGE);
    tu_assert_contains(e.msg, "1..16");
    t.data[3] = NAN;
    assert_int_equal(fr_quant_ranges(&t, FR_RANGE_TENSOR, 0, mn, mx, &e), FR_E_FORMAT);
    fr_tensor_free(&t);
    fr_tensor_free(&r);
}

static void test_names(void **st)
{
    (void)st;
    FrRangeMode m;
    assert_int_equal(fr_range_from_name("channel", &m, NULL), 0);
    assert_int_equal(m, FR_RANGE_CHANNEL);
    assert_string_equal(fr_range_name(FR_RANGE_TENSOR), "tensor");
    assert_int_equal(fr_range_from_name("bogus", &m, NULL), FR_E_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bound_tensor),  cmocka_unit_test(test_bound_channel),
        cmocka_unit_test(test_known_values),  cmocka_unit_test(test_relu_and_constant),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
