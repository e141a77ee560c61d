/* cmd_decode.c: `featrd decode`: a .frd container → .npy feature(s). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: featrd decode IN.frd OUT.npy\n"
               "Decodes a .frd container to float32 C×H×W .npy. A container with several\n"
               "cut tensors writes OUT.npy, then OUT.1.npy, OUT.2.npy, ... for the others.\n");
}

int fr_cmd_decode(int argc, char **argv)
{
    const char *paths[2];
    int npaths = 0;
    for (int i = 1; i < argc; i++) {
        if (fr_cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1])
            return fr_cli_fail("decode", FR_E_USAGE, "unknown option %s (see featrd decode --help)",
                               argv[i]);
        if (npaths == 2)
            return fr_cli_fail("decode", FR_E_USAGE, "too many arguments (see featrd decode --help)");
        paths[npaths++] = argv[i];
    }
    if (npaths != 2)
        return fr_cli_fail("decode", FR_E_USAGE, "needs IN.frd and OUT.npy (see featrd decode --help)");
    FrError err = {0};
    uint8_t *frd = NULL;
    size_t len = 0;
    FrTensor *cuts = NULL;
    int ncuts = 0;
    FrFeatureInfo info;
    int rc = fr_read_file(paths[0], &frd, &len, &err);
    if (!rc) {
        rc = fr_feature_decode_untrusted(frd, len, &cuts, &ncuts, &info, &err);
        if (rc) {
            /* name the file: the library only knows the bytes */
            char msg[sizeof err.msg];
            snprintf(msg, sizeof msg, "%s", err.msg);
            fr_error(&err, rc, "%s: %s", paths[0], msg);
        }
    }
    char name[4096];
    const char *out = paths[1];
    size_t ol = strlen(out);
    int stem = ol > 4 && !strcmp(out + ol - 4, ".npy") ? (int)(ol - 4) : (int)ol;
    for (int i = 0; i < ncuts && !rc; i++) {
        if (i == 0)
            snprintf(name, sizeof name, "%s", out);
        else
            snprintf(name, sizeof name, "%.*s.%d.npy", stem, out, i);
        rc = fr_npy_write(name, &cuts[i], &err);
        if (!rc)
            printf("%s: %dx%dx%d\n", name, cuts[i].c, cuts[i].h, cuts[i].w);
    }
    for (int i = 0; i < ncuts; i++)
        fr_tensor_free(&cuts[i]);
    free(cuts);
    free(frd);
    if (rc)
        return fr_cli_fail("decode", rc, "%s", err.msg);
    printf("split '%s', %d-bit, range %s, packing %s, codec %s, qp %d: %llu bits "
           "(payload %llu, side info %llu)\n",
           info.split_name, info.bits, fr_range_name(info.range), fr_packing_name(info.packing),
           fr_codec_name(info.codec), info.qp, (unsigned long long)info.bits_stats.total_bits,
           (unsigned long long)info.bits_stats.payload_bits,
           (unsigned long long)info.bits_stats.side_bits);
    return 0;
}
