/* test_pack.c: tile / quilt / frames layouts and their exact inverses on odd
 * shapes, and the placement of known samples. */
#include "testutil.h"
#include "codec/pack.h"

static void roundtrip(FrPacking p, int c, int h, int w, int pad, int bits)
{
    FrPackLayout l;
    assert_int_equal(fr_pack_layout(p, c, h, w, pad, &l, NULL), 0);
    size_t n = (size_t)c * h * w;
    uint16_t *q = malloc(n * 2), *back = malloc(n * 2);
    srand((unsigned)(c * 31 + h * 7 + w + pad));
    for (size_t i = 0; i < n; i++)
        q[i] = (uint16_t)(rand() % (1 << bits));
    FrPicture pic;
    assert_int_equal(fr_pack(q, &l, bits, &pic, NULL), 0);
    assert_int_equal(pic.width % 8, 0);
    assert_int_equal(pic.height % 8, 0);
    assert_int_equal(pic.bit_depth, bits);
    memset(back, 0xff, n * 2);
    assert_int_equal(fr_unpack(&pic, &l, back, NULL), 0);
    assert_memory_equal(q, back, n * 2);
    fr_picture_free(&pic);
    free(q);
    free(back);
}

static void test_roundtrips(void **st)
{
    (void)st;
    FrPacking ps[] = {FR_PACK_TILE, FR_PACK_QUILT, FR_PACK_FRAMES, FR_PACK_TILE_SORTED};
    for (int i = 0; i < 4; i++)
        for (int pad = 0; pad <= 16; pad += 8) {
            roundtrip(ps[i], 13, 7, 5, pad, 8);
            roundtrip(ps[i], 13, 7, 5, pad, 12);
            roundtrip(ps[i], 1, 1, 1, pad, 10);
            roundtrip(ps[i], 64, 17, 17, pad, 10);
            roundtrip(ps[i], 3, 34, 9, pad, 16);
        }
}

static void test_layouts(void **st)
{
    (void)st;
    FrPackLayout l;
    assert_int_equal(fr_pack_layout(FR_PACK_TILE, 13, 7, 5, 0, &l, NULL), 0);
    assert_int_equal(l.grid_cols, 4);
    assert_int_equal(l.grid_rows, 4);
    assert_int_equal(l.width, 24); /* 4×5 = 20 → 24 */
    assert_int_equal(l.height, 32); /* 4×7 = 28 → 32 */
    assert_int_equal(l.pad_w, 4);
    assert_int_equal(l.pad_h, 4);
    assert_int_equal(fr_pack_layout(FR_PACK_TILE, 256, 34, 34, 16, &l, NULL), 0);
    assert_int_equal(l.tile_w, 48);
    assert_int_equal(l.width, 16 * 48);
    assert_int_equal(fr_pack_layout(FR_PACK_FRAMES, 13, 7, 5, 16, &l, NULL), 0);
    assert_int_equal(l.frames, 13);
    assert_int_equal(l.width, 8);
    assert_int_equal(fr_pack_layout(FR_PACK_TILE, 4, 4, 4, 12, &l, NULL), FR_E_USAGE);
}

static void test_placement(void **st)
{
    (void)st;
    /* 5 channels of 2×3: grid 3 columns × 2 rows. Sample value = 100k + y*3 + x. */
    uint16_t q[5 * 6];
    for (int k = 0; k < 5; k++)
        for (int i = 0; i < 6; i++)
            q[k * 6 + i] = (uint16_t)(100 * k + i);
    FrPackLayout l;
    FrPicture p;
    assert_int_equal(fr_pack_layout(FR_PACK_TILE, 5, 2, 3, 0, &l, NULL), 0);
    assert_int_equal(fr_pack(q, &l, 10, &p, NULL), 0);
    /* channel 4 is cell (1, 1): picture (2 + y, 3 + x) */
    assert_int_equal(p.samples[(2 + 1) * p.width + 3 + 2], 405);
    /* picture padding repeats the last column of content (x = 8) */
    assert_int_equal(p.samples[0 * p.width + 9], p.samples[0 * p.width + 8]);
    fr_picture_free(&p);
    assert_int_equal(fr_pack_layout(FR_PACK_QUILT, 5, 2, 3, 0, &l, NULL), 0);
    assert_int_equal(fr_pack(q, &l, 10, &p, NULL), 0);
    /* quilt: row y*2 + i, column x*3 + j holds channel i*3 + j at (y, x) */
    assert_int_equal(p.samples[0], 0);
    assert_int_equal(p.samples[1], 100);
    assert_int_equal(p.samples[2], 200);
    assert_int_equal(p.samples[3], 1);
    assert_int_equal(p.samples[1 * p.width + 1], 400);
    assert_int_equal(p.samples[(1 * 2 + 1) * p.width + 2 * 3 + 1], 405);
    fr_picture_free(&p);
}

static void test_names(void **st)
{
    (void)st;
    FrPacking p;
    assert_int_equal(fr_packing_from_name("quilt", &p, NULL), 0);
    assert_int_equal(p, FR_PACK_QUILT);
    assert_string_equal(fr_packing_name(FR_PACK_FRAMES), "frames");
    FrError e;
    assert_int_equal(fr_packing_from_name("mosaic", &p, &e), FR_E_USAGE);
    tu_assert_contains(e.msg, "tile, quilt, frames or tile-sorted");
    assert_int_equal(fr_packing_from_name("tile-sorted", &p, NULL), 0);
    assert_int_equal(p, FR_PACK_TILE_SORTED);
}

/* tile-sorted: channels by ascending mean (ties by index) along a snake;
 * the order survives its byte form, and a non-permutation is refused. */
static void test_sorted(void **st)
{
    (void)st;
    /* 5 channels of 1×2 with means 30, 10, 20, 10, 0: order 4, 1, 3, 2, 0 */
    uint16_t q[10] = {30, 30, 10, 10, 20, 20, 5, 15, 0, 0};
    int order[5];
    fr_channel_order(q, 5, 1, 2, order);
    int want[5] = {4, 1, 3, 2, 0};
    assert_memory_equal(order, want, sizeof want);
    FrPackLayout l;
    FrPicture p;
    assert_int_equal(fr_pack_layout(FR_PACK_TILE_SORTED, 5, 1, 2, 0, &l, NULL), 0);
    assert_int_equal(l.grid_cols, 3);
    l.order = order;
    assert_int_equal(fr_pack(q, &l, 8, &p, NULL), 0);
    /* row 0 left to right: channels 4, 1, 3; row 1 right to left: 2 then 0,
     * so cell 3 (channel 2) is at column 2 and cell 4 (channel 0) at column 1 */
    assert_int_equal(p.samples[0], 0);
    assert_int_equal(p.samples[2], 10);
    assert_int_equal(p.samples[4], 5);
    assert_int_equal(p.samples[1 * p.width + 4], 20);
    assert_int_equal(p.samples[1 * p.width + 2], 30);
    uint16_t back[10];
    assert_int_equal(fr_unpack(&p, &l, back, NULL), 0);
    assert_memory_equal(back, q, sizeof q);
    fr_picture_free(&p);
    /* 5 channels: 3 bits each, 15 bits in 2 bytes; 4 -> 100, 1 -> 001, ... */
    assert_int_equal(fr_channel_order_bytes(5), 2);
    assert_int_equal(fr_channel_order_bytes(1), 1);
    assert_int_equal(fr_channel_order_bytes(256), 256);
    assert_int_equal(fr_channel_order_bytes(257), (257 * 9 + 7) / 8);
    uint8_t b[2];
    fr_channel_order_put(order, 5, b);
    assert_int_equal(b[0], 0x85); /* 100 001 01|1 010 000 0 */
    assert_int_equal(b[1], 0xa0);
    int got[5];
    assert_int_equal(fr_channel_order_get(b, 5, got, NULL), 0);
    assert_memory_equal(got, order, sizeof got);
    FrError e;
    b[1] = 0x80; /* 4, 1, 3, 0, 0: channel 0 twice */
    assert_int_equal(fr_channel_order_get(b, 5, got, &e), FR_E_FORMAT);
    tu_assert_contains(e.msg, "repeated");
    b[0] = 0xe5; /* first entry 7: no such channel */
    assert_int_equal(fr_channel_order_get(b, 5, got, &e), FR_E_FORMAT);
    tu_assert_contains(e.msg, "not a channel");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrips),
        cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_placement),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_sorted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
