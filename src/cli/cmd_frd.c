/* cmd_frd.c: `featrd frd extract`: the raw HEVC Annex-B stream(s) of a .frd
 * container, with the geometry a plain HEVC decoder needs to read them back
 * (also used by `featrd encode --hevc-out`). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: featrd frd extract IN.frd OUT.hevc\n"
            "Writes the HEVC Annex-B stream of the container's cut tensor to OUT.hevc (a\n"
            "cut set of several tensors: OUT.hevc, OUT.1.hevc, ...), decodable by any HEVC\n"
            "decoder (ffmpeg -i OUT.hevc -f rawvideo -pix_fmt gray OUT.y, or dec265 -o),\n"
            "and prints the geometry: picture size and frames, bit depth, packing grid\n"
            "and cell size, padding, and the Q-layer range to dequantize with\n"
            "(x = q / (2^bits - 1) * (max - min) + min). Only hevc and hevc-lossless\n"
            "containers hold Annex-B streams.\n");
}

int fr_cli_write_hevc(const uint8_t *frd, size_t len, const char *src, const char *out,
                      FrError *err)
{
    FrFeatureInfo info;
    FrFeatureStream st[FR_MAX_CUTS];
    int rc = fr_feature_streams(frd, len, &info, st, err);
    if (rc) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return fr_error(err, rc, "%s: %s", src, msg);
    }
    if (!(fr_codec_caps(info.codec) & FR_CODEC_ANNEXB))
        return fr_error(err, FR_E_USAGE,
                        "%s: the payload is coded with %s, not HEVC: there is no Annex-B stream "
                        "to extract (featrd decode gives the feature)", src,
                        fr_codec_name(info.codec));
    size_t ol = strlen(out);
    int stem = ol > 5 && !strcmp(out + ol - 5, ".hevc") ? (int)(ol - 5) : (int)ol;
    for (int i = 0; i < info.ncuts; i++) {
        char name[4096];
        if (i == 0)
            snprintf(name, sizeof name, "%s", out);
        else
            snprintf(name, sizeof name, "%.*s.%d.hevc", stem, out, i);
        if ((rc = fr_write_file_atomic(name, st[i].payload, st[i].payload_n, err)))
            return rc;
        const FrPackLayout *l = &st[i].layout;
        printf("%s: cut %d of %d (%dx%dx%d, split '%s'): %zu bytes of HEVC Annex-B, 4:0:0 "
               "%d-bit, %d frame%s of %dx%d (crop a decoder's output to the top-left %dx%d)\n",
               name, i, info.ncuts, st[i].c, st[i].h, st[i].w, info.split_name, st[i].payload_n,
               info.bits, l->frames, l->frames == 1 ? "" : "s", l->width, l->height, l->width,
               l->height);
        printf("  packing %s: grid %d rows x %d columns of %dx%d cells (channel k in cell "
               "k / %d, k %% %d; tile_pad %d), content %dx%d padded by %d columns and %d rows\n",
               fr_packing_name(info.packing), l->grid_rows, l->grid_cols, l->tile_w, l->tile_h,
               l->grid_cols, l->grid_cols, info.tile_pad, l->width - l->pad_w,
               l->height - l->pad_h, l->pad_w, l->pad_h);
        if (info.range == FR_RANGE_TENSOR)
            printf("  Q-layer range: min %.9g max %.9g (x = q / %u * (max - min) + min)\n",
                   (double)st[i].min, (double)st[i].max, (1u << info.bits) - 1u);
        else
            printf("  Q-layer range: one min/max per channel (featrd decode applies them)\n");
    }
    return 0;
}

int fr_cmd_frd(int argc, char **argv)
{
    if (argc < 2 || fr_cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "extract"))
        return fr_cli_fail("frd", FR_E_USAGE, "unknown subcommand '%s' (featrd frd --help)",
                           argv[1]);
    const char *paths[2];
    int npaths = 0;
    for (int i = 2; i < argc; i++) {
        if (fr_cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        }
        if ((argv[i][0] == '-' && argv[i][1]) || npaths == 2)
            return fr_cli_fail("frd extract", FR_E_USAGE, "unexpected argument '%s' (featrd frd "
                               "--help)", argv[i]);
        paths[npaths++] = argv[i];
    }
    if (npaths != 2)
        return fr_cli_fail("frd extract", FR_E_USAGE,
                           "needs IN.frd and OUT.hevc (featrd frd --help)");
    FrError err = {0};
    uint8_t *frd = NULL;
    size_t len = 0;
    int rc = fr_read_file(paths[0], &frd, &len, &err);
    if (!rc)
        rc = fr_cli_write_hevc(frd, len, paths[0], paths[1], &err);
    free(frd);
    if (rc)
        return fr_cli_fail("frd extract", rc, "%s", err.msg);
    return 0;
}
