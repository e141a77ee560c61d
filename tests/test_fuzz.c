/* test_fuzz.c: replays the libFuzzer targets' inputs (fuzz/fuzz_*.c) under
 * make test: every file of tests/data/fuzz/NAME/ (inputs that once crashed
 * or hung a target: regressions) and of fuzz/seeds/NAME/ goes through the
 * same entry point as in `make fuzz`. A crash fails the test binary. */
#include "testutil.h"

#include <dirent.h>

#define LLVMFuzzerTestOneInput fuzz_config_one
#include "../fuzz/fuzz_config.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_frd_one
#include "../fuzz/fuzz_frd.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_npy_one
#include "../fuzz/fuzz_npy.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_csv_one
#include "../fuzz/fuzz_csv.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_rp_one
#include "../fuzz/fuzz_rp.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_cfg_one
#include "../fuzz/fuzz_cfg.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_cfgcheck_one
#include "../fuzz/fuzz_cfgcheck.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_picture_one
#include "../fuzz/fuzz_picture.c"
#include "codec/codec.h"
#include "codec/pack.h"
#undef LLVMFuzzerTestOneInput

typedef int (*OneFn)(const uint8_t *, size_t);

/* Feeds every regular file of dir to fn; returns how many. */
static int replay_dir(const char *dir, OneFn fn)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.')
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(p, &st) || !S_ISREG(st.st_mode))
            continue;
        uint8_t *data = NULL;
        size_t len = 0;
        assert_int_equal(fr_read_file(p, &data, &len, NULL), 0);
        assert_int_equal(fn(data, len), 0);
        free(data);
        n++;
    }
    closedir(d);
    return n;
}

static int replay(const char *name, OneFn fn)
{
    char a[256], b[256];
    snprintf(a, sizeof a, "tests/data/fuzz/%s", name);
    snprintf(b, sizeof b, "fuzz/seeds/%s", name);
    return replay_dir(a, fn) + replay_dir(b, fn);
}

static void test_replay_config(void **s) { (void)s; assert_true(replay("config", fuzz_config_one) + replay_dir("tests/data/config/bad", fuzz_config_one) > 10); }
static void test_replay_frd(void **s) { (void)s; assert_true(replay("frd", fuzz_frd_one) >= 6); }
static void test_replay_npy(void **s) { (void)s; assert_true(replay("npy", fuzz_npy_one) >= 3); }
static void test_replay_csv(void **s) { (void)s; assert_true(replay("csv", fuzz_csv_one) >= 1); }
static void test_replay_rp(void **s) { (void)s; assert_true(replay("rp", fuzz_rp_one) >= 3); }
static void test_replay_cfg(void **s)
{
    (void)s;
    assert_true(replay("cfg", fuzz_cfg_one) + replay_dir("tests/data/model/hostile", fuzz_cfg_one) >= 6);
}

/* the in-process check and its fixed-point rule on the same cfgs, plus the
 * models the tests and the demo ship (which must pass it) */
static void test_replay_cfgcheck(void **s)
{
    (void)s;
    assert_true(replay("cfgcheck", fuzz_cfgcheck_one) +
                    replay_dir("tests/data/model/hostile", fuzz_cfgcheck_one) +
                    replay_dir("tests/data/model", fuzz_cfgcheck_one) +
                    replay_dir("models", fuzz_cfgcheck_one) >= 10);
    /* the shipped cfgs pass the check, and so do their rewrites */
    static const char *const ok[] = {"models/fmnist-yolo.cfg", "models/fmnist-yolo-aug.cfg",
                                     "models/fmnist-vgg.cfg", "tests/data/model/tiny-det.cfg",
                                     "tests/data/model/tiny-cls.cfg"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint8_t *d = NULL;
        size_t n = 0;
        assert_int_equal(fr_read_file(ok[i], &d, &n, NULL), 0);
        FrCfgText out = {0}, again = {0};
        if (check_text(d, n, 0, 0, &out) != 0)
            fail_msg("%s: refused by fr_cfg_rewrite", ok[i]);
        assert_int_equal(check_text(out.p, out.n, 0, 0, &again), 0);
        tu_assert_contains(out.p, "batch=1");
        free(out.p);
        free(again.p);
        free(d);
    }
    /* and a hostile one does not: anchors beyond num (issue 23 defect 1) */
    uint8_t *d = NULL;
    size_t n = 0;
    assert_int_equal(fr_read_file("tests/data/model/hostile/anchors-over-num.cfg", &d, &n, NULL), 0);
    FrCfgText out = {0};
    assert_int_not_equal(check_text(d, n, 0, 0, &out), 0);
    free(out.p);
    free(d);
}

/* the picture seeds: every coder's own stream, each decoding to its
 * geometry (so the fuzzer starts from streams the libraries accept) */
static void test_replay_picture(void **s)
{
    (void)s;
    assert_true(replay("picture", fuzz_picture_one) >= 20);
    DIR *d = opendir("fuzz/seeds/picture");
    assert_non_null(d);
    int ok = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.')
            continue;
        char p[600];
        snprintf(p, sizeof p, "fuzz/seeds/picture/%s", de->d_name);
        uint8_t *b = NULL;
        size_t n = 0;
        assert_int_equal(fr_read_file(p, &b, &n, NULL), 0);
        assert_true(n > 5);
        const FrCodec *c = picture_coder(b[0]);
        assert_non_null(c);
        /* the file is named after its coder */
        if (strncmp(de->d_name, c->name, strlen(c->name)) || de->d_name[strlen(c->name)] != '-')
            fail_msg("%s: byte 0 picks %s", p, c->name);
        FrPicture pic;
        FrError e;
        if (fr_picture_decode((FrCodecKind)c->id, b + 5, n - 5, b[1] % 64 + 1, b[2] % 64 + 1,
                              b[3] % 4 + 1, b[4] % c->max_bits + 1, &pic, &e))
            fail_msg("%s: %s", p, e.msg);
        fr_picture_free(&pic);
        free(b);
        ok++;
    }
    closedir(d);
    assert_int_equal(ok, 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_config), cmocka_unit_test(test_replay_frd),
        cmocka_unit_test(test_replay_npy),    cmocka_unit_test(test_replay_csv),
        cmocka_unit_test(test_replay_rp),     cmocka_unit_test(test_replay_cfg),
        cmocka_unit_test(test_replay_cfgcheck),
        cmocka_unit_test(test_replay_picture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
