/* test_install.c: `make install` into a staging DESTDIR gives a working
 * featrd: the installed binary runs, its gnuplot scripts and man page are
 * in place, and a program built against the installed library with
 * `pkg-config --cflags --libs featrd` codes and decodes a tensor exactly. Runs on
 * the plain build (make test); other builds (sanitize, valgrind) skip it,
 * since the library they would install is not the one their flags need. */
#include "testutil.h"

static char g_dest[512];

static int plain_build(void)
{
    const char *b = tu_bin();
    size_t n = strlen(b), k = strlen("bin/featrd");
    return n >= k && !strcmp(b + n - k, "bin/featrd") && access("build/libfeatrd.a", R_OK) == 0;
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dest, sizeof g_dest, "%s", tu_tmpdir());
    return 0;
}

static void test_installed_tree(void **state)
{
    (void)state;
    if (!plain_build())
        skip();
    char *out = NULL;
    int rc = tu_sh(&out, "make -s --no-print-directory install DESTDIR='%s' PREFIX=/opt/featrd 2>&1",
                   g_dest);
    if (rc)
        fail_msg("make install: %s", out);
    free(out);
    char p[800];
    /* the binary runs from its new place, and says which version it is */
    assert_int_equal(tu_sh(&out, "cd / && '%s/opt/featrd/bin/featrd' version", g_dest), 0);
    tu_assert_contains(out, "featrd: " FR_VERSION_STRING "\n");
    free(out);
    /* the scripts it looks for next to itself (bin/../share/featrd/plots) */
    snprintf(p, sizeof p, "%s/opt/featrd/share/featrd/plots/rd.gp", g_dest);
    uint8_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    assert_int_equal(fr_read_file(p, &a, &na, NULL), 0);
    assert_int_equal(fr_read_file("plots/rd.gp", &b, &nb, NULL), 0);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    free(a);
    free(b);
    snprintf(p, sizeof p, "%s/opt/featrd/share/man/man1/featrd.1", g_dest);
    assert_int_equal(fr_read_file(p, &a, &na, NULL), 0);
    assert_true(na > 13 && !memcmp(a, ".TH FEATRD 1 ", 13));
    free(a);
    snprintf(p, sizeof p, "%s/opt/featrd/lib/pkgconfig/featrd.pc", g_dest);
    assert_int_equal(fr_read_file(p, &a, &na, NULL), 0);
    a = realloc(a, na + 1);
    a[na] = 0;
    tu_assert_contains((char *)a, "Version: " FR_VERSION_STRING "\n");
    tu_assert_contains((char *)a, "prefix=/opt/featrd\n");
    free(a);
}

static const char *PROGRAM =
    "#include <featrd.h>\n"
    "#include <stdio.h>\n"
    "#include <stdlib.h>\n"
    "#include <string.h>\n"
    "int main(void)\n"
    "{\n"
    "    FrTensor t, *d;\n"
    "    if (fr_tensor_alloc(&t, 3, 5, 7)) return 1;\n"
    "    for (size_t i = 0; i < fr_tensor_size(&t); i++) t.data[i] = (float)(i % 11) * 0.25f;\n"
    "    FrFeatureSettings s;\n"
    "    fr_feature_defaults(&s);\n"
    "    s.codec = FR_CODEC_ZSTD;\n"
    "    s.bits = 32;\n"
    "    uint8_t *frd; size_t n; int nd; FrError e;\n"
    "    if (fr_feature_encode(&t, 1, \"x\", &s, &frd, &n, NULL, &e)) { puts(e.msg); return 2; }\n"
    "    if (fr_feature_decode(frd, n, &d, &nd, NULL, &e)) { puts(e.msg); return 3; }\n"
    "    int same = nd == 1 && !memcmp(d[0].data, t.data, fr_tensor_size(&t) * sizeof(float));\n"
    "    printf(\"codecs %d exact %d\\n\", fr_codec_count(), same);\n"
    "    return 0;\n"
    "}\n";

static void test_pkg_config_program(void **state)
{
    (void)state;
    if (!plain_build())
        skip();
    char src[700], exe[700], *out = NULL;
    snprintf(src, sizeof src, "%s/prog.c", g_dest);
    snprintf(exe, sizeof exe, "%s/prog", g_dest);
    tu_write(src, PROGRAM);
    /* the staged tree stands in for /opt/featrd */
    int rc = tu_sh(&out,
                   "export PKG_CONFIG_PATH='%s/opt/featrd/lib/pkgconfig'; "
                   "cc -std=c11 -o '%s' '%s' $(pkg-config "
                   "--define-variable=prefix='%s/opt/featrd' --cflags --libs featrd) 2>&1 && '%s'",
                   g_dest, exe, src, g_dest, exe);
    if (rc)
        fail_msg("build or run against the installed library: %s", out);
    char want[64];
    snprintf(want, sizeof want, "codecs %d exact 1", fr_codec_count());
    tu_assert_contains(out, want);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_installed_tree),
        cmocka_unit_test(test_pkg_config_program),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
