/* cmd_data.c: `featrd data`: generates the demo data sets fmnist-det and
 * fmnist-cls from Debian's Fashion-MNIST. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: featrd data [--out DIR] [--seed N] [--fmnist DIR] [--det-train N] [--det-test N]\n"
    "                   [--det-size PX] [--cls-train N] [--cls-test N] [--cls-size PX] [--quiet]\n"
    "Generates DIR/fmnist-det (detection scenes, darknet labels, fmnist.names, train.list,\n"
    "test.list) and DIR/fmnist-cls (class name in each file name, labels.txt, lists) from\n"
    "Fashion-MNIST. The same seed gives the same files. Defaults: --out data --seed 1\n"
    "--det-train 4000 --det-test 500 --det-size 128 --cls-train 20000 --cls-test 10000\n"
    "--cls-size 32; a count of 0 skips that part.\n";

static int parse_int(const char *opt, const char *v, long lo, long hi, long *out)
{
    char *end;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || !*v || *end || x < lo || x > hi)
        return fr_cli_fail("data", FR_E_USAGE, "%s needs an integer in %ld..%ld, not \"%s\"", opt, lo,
                           hi, v ? v : "");
    *out = x;
    return 0;
}

int fr_cmd_data(int argc, char **argv)
{
    FrDemoDataSettings s;
    fr_demo_data_defaults(&s);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x;
        int rc;
        if (fr_cli_is_help(a)) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--quiet")) {
            s.quiet = 1;
            continue;
        } else if (!strcmp(a, "--out") && v) {
            s.out_dir = v;
        } else if (!strcmp(a, "--fmnist") && v) {
            s.fmnist_dir = v;
        } else if (!strcmp(a, "--seed")) {
            if ((rc = parse_int(a, v, 0, 2147483647L, &x)))
                return rc;
            s.seed = (uint64_t)x;
        } else if (!strcmp(a, "--det-train") || !strcmp(a, "--det-test") ||
                   !strcmp(a, "--cls-train") || !strcmp(a, "--cls-test")) {
            if ((rc = parse_int(a, v, 0, 1000000, &x)))
                return rc;
            int *f = !strcmp(a, "--det-train") ? &s.det_train
                   : !strcmp(a, "--det-test")  ? &s.det_test
                   : !strcmp(a, "--cls-train") ? &s.cls_train
                                               : &s.cls_test;
            *f = (int)x;
        } else if (!strcmp(a, "--det-size")) {
            if ((rc = parse_int(a, v, 64, 1024, &x)))
                return rc;
            s.det_size = (int)x;
        } else if (!strcmp(a, "--cls-size")) {
            if ((rc = parse_int(a, v, 28, 256, &x)))
                return rc;
            s.cls_size = (int)x;
        } else {
            fputs(usage, stderr);
            return fr_cli_fail("data", FR_E_USAGE, "unknown option or missing value: %s", a);
        }
        i++;
    }
    FrError err = {0};
    double t0 = fr_now();
    int rc = fr_demo_data_generate(&s, &err);
    if (rc)
        return fr_cli_fail("data", rc, "%s", err.msg);
    if (!s.quiet)
        fprintf(stderr, "featrd data: wrote %s/fmnist-det and %s/fmnist-cls in %.1f s\n", s.out_dir,
                s.out_dir, fr_now() - t0);
    return 0;
}
