/* cmd_weights.c: `featrd weights encode|decode|apply|info|diff`: RP and DoM
 * coding of darknet weights files (seed 002) from the command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage:\n"
            "  featrd weights encode IN.weights OUT.frw [--base BASE.weights] [--precision P]\n"
            "                        [--coder lzma|zstd|...] [--rounding truncate|nearest]\n"
            "                        [--binarization int64|varint]\n"
            "  featrd weights decode IN.frw OUT.weights [--base BASE.weights]\n"
            "  featrd weights apply  BASE.weights IN.frw OUT.weights   (decode a DoM)\n"
            "  featrd weights info   IN.frw\n"
            "  featrd weights diff   A.weights B.weights\n"
            "RP: w' = round(w*10^P) (or truncation), binarised, lossless-coded; P 0..12, default 6.\n"
            "With --base the file codes the difference of models (DoM) against BASE, and\n"
            "decoding needs the same BASE. Exit 2 on bad or corrupt input.\n");
}

static int parse_int(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < -1000000 || v > 1000000)
        return -1;
    *out = (int)v;
    return 0;
}

static int cmd_encode(int argc, char **argv)
{
    const char *pos[2] = {NULL, NULL}, *base = NULL;
    int npos = 0;
    FrRpSettings s;
    FrError err = {0};
    fr_rp_defaults(&s);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] == '-' && a[1] && !v)
            return fr_cli_fail("weights", FR_E_USAGE, "%s needs a value", a);
        if (!strcmp(a, "--base")) {
            base = v;
            i++;
        } else if (!strcmp(a, "--precision") || !strcmp(a, "-p")) {
            if (parse_int(v, &s.precision))
                return fr_cli_fail("weights", FR_E_USAGE, "--precision: '%s' is not an integer", v);
            i++;
        } else if (!strcmp(a, "--coder")) {
            FrCodecKind k;
            if (fr_codec_from_name(v, &k, &err))
                return fr_cli_fail("weights", FR_E_USAGE, "--coder: %s", err.msg);
            s.coder = k;
            i++;
        } else if (!strcmp(a, "--rounding")) {
            if (fr_rp_rounding_from_name(v, &s.rounding, &err))
                return fr_cli_fail("weights", FR_E_USAGE, "--rounding: %s", err.msg);
            i++;
        } else if (!strcmp(a, "--binarization")) {
            if (fr_rp_binarization_from_name(v, &s.binarization, &err))
                return fr_cli_fail("weights", FR_E_USAGE, "--binarization: %s", err.msg);
            i++;
        } else if (a[0] == '-' && a[1]) {
            return fr_cli_fail("weights", FR_E_USAGE, "unknown option '%s' (see --help)", a);
        } else if (npos < 2) {
            pos[npos++] = a;
        } else {
            return fr_cli_fail("weights", FR_E_USAGE, "unexpected argument '%s'", a);
        }
    }
    if (npos != 2)
        return fr_cli_fail("weights", FR_E_USAGE, "encode needs IN.weights and OUT.frw");
    FrRpInfo info;
    double t0 = fr_now();
    int rc = fr_rp_encode_file(pos[0], base, pos[1], &s, &info, &err);
    if (rc)
        return fr_cli_fail("weights", rc, "%s", err.msg);
    size_t coded = (size_t)info.payload_bytes + 48 + (size_t)info.header_len + 4;
    printf("%s: %s p=%d %s/%s/%s, %llu parameters, %llu -> %zu bytes, ratio %.4f (%.2f s)\n",
           pos[1], info.dom ? "DoM" : "RP", info.precision, fr_rp_rounding_name(info.rounding),
           fr_rp_binarization_name(info.binarization), fr_codec_name(info.coder),
           (unsigned long long)info.count, (unsigned long long)info.original_bytes, coded,
           (double)info.original_bytes / (double)coded, fr_now() - t0);
    return 0;
}

static int cmd_decode(int argc, char **argv, int apply)
{
    const char *pos[3] = {NULL, NULL, NULL}, *base = NULL;
    int npos = 0;
    FrError err = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--base") && !apply) {
            if (i + 1 >= argc)
                return fr_cli_fail("weights", FR_E_USAGE, "--base needs a value");
            base = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return fr_cli_fail("weights", FR_E_USAGE, "unknown option '%s' (see --help)", argv[i]);
        } else if (npos < 3) {
            pos[npos++] = argv[i];
        } else {
            return fr_cli_fail("weights", FR_E_USAGE, "unexpected argument '%s'", argv[i]);
        }
    }
    const char *in, *out;
    if (apply) {
        if (npos != 3)
            return fr_cli_fail("weights", FR_E_USAGE, "apply needs BASE.weights IN.frw OUT.weights");
        base = pos[0];
        in = pos[1];
        out = pos[2];
    } else {
        if (npos != 2)
            return fr_cli_fail("weights", FR_E_USAGE, "decode needs IN.frw and OUT.weights");
        in = pos[0];
        out = pos[1];
    }
    int rc = fr_rp_decode_file(in, base, out, &err);
    if (rc)
        return fr_cli_fail("weights", rc, "%s", err.msg);
    printf("featrd weights %s: wrote %s\n", apply ? "apply" : "decode", out);
    return 0;
}

static int cmd_info(int argc, char **argv)
{
    if (argc != 2)
        return fr_cli_fail("weights", FR_E_USAGE, "info needs IN.frw");
    uint8_t *buf = NULL;
    size_t n = 0;
    FrError err = {0};
    FrRpInfo info;
    int rc = fr_read_file(argv[1], &buf, &n, &err);
    if (!rc)
        rc = fr_rp_info(buf, n, argv[1], &info, &err);
    free(buf);
    if (rc)
        return fr_cli_fail("weights", rc, "%s", err.msg);
    printf("kind: %s\nprecision: %d\nrounding: %s\nbinarization: %s\ncoder: %s\n"
           "parameters: %llu\nweights_bytes: %llu\ncoded_bytes: %zu\nratio: %.4f\n",
           info.dom ? "dom" : "rp", info.precision, fr_rp_rounding_name(info.rounding),
           fr_rp_binarization_name(info.binarization), fr_codec_name(info.coder),
           (unsigned long long)info.count, (unsigned long long)info.original_bytes, n,
           (double)info.original_bytes / (double)n);
    return 0;
}

static int cmd_diff(int argc, char **argv)
{
    if (argc != 3)
        return fr_cli_fail("weights", FR_E_USAGE, "diff needs A.weights B.weights");
    FrWeights a = {0}, b = {0};
    FrWeightsDiff d;
    FrError err = {0};
    int rc = fr_weights_read(argv[1], &a, &err);
    if (!rc)
        rc = fr_weights_read(argv[2], &b, &err);
    if (!rc)
        rc = fr_weights_diff(&a, &b, &d, &err);
    fr_weights_free(&a);
    fr_weights_free(&b);
    if (rc)
        return fr_cli_fail("weights", rc, "%s", err.msg);
    printf("parameters: %zu\nchanged: %zu\nmax_abs: %.9g\nmean_abs: %.9g\nrms: %.9g\n", d.count,
           d.changed, d.max_abs, d.mean_abs, d.rms);
    return 0;
}

int fr_cmd_weights(int argc, char **argv)
{
    if (argc < 2 || fr_cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (int i = 2; i < argc; i++)
        if (fr_cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        }
    const char *sub = argv[1];
    if (!strcmp(sub, "encode"))
        return cmd_encode(argc - 1, argv + 1);
    if (!strcmp(sub, "decode"))
        return cmd_decode(argc - 1, argv + 1, 0);
    if (!strcmp(sub, "apply"))
        return cmd_decode(argc - 1, argv + 1, 1);
    if (!strcmp(sub, "info"))
        return cmd_info(argc - 1, argv + 1);
    if (!strcmp(sub, "diff"))
        return cmd_diff(argc - 1, argv + 1);
    return fr_cli_fail("weights", FR_E_USAGE, "unknown subcommand '%s' (encode, decode, apply, info, diff)",
                       sub);
}
