/* cmd_encode.c: `featrd encode`: .npy feature(s) → one .frd container. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: featrd encode IN.npy [IN2.npy ...] OUT.frd [options]\n"
            "Quantizes, packs and codes float32 C×H×W feature(s) into one .frd container\n"
            "(several inputs = the tensors of one cut set, each its own sub-stream).\n"
            "options:\n"
            "  --bits N        Q-layer bits 1..16 (8, 10, 12 typical; HEVC at most 12);\n"
            "                  32 = float32 without Q-layer (lossless coders only) [8]\n"
            "  --range R       tensor | channel: min/max per tensor or per channel [tensor]\n"
            "  --relu-min0     take min = 0 (feature after a ReLU; min not sent)\n"
            "  --packing P     tile | quilt | frames [tile]\n"
            "  --tile-pad N    pad tiles to a multiple of 0, 8 or 16 [0]\n"
            "  --codec NAME    a codec of `featrd help codecs` [hevc]\n"
            "  --qp N          QP of a lossy codec (hevc 0..51; featrd help codecs) [32]\n"
            "  --set KEY=VAL   a setting of the codec (its keys: featrd help codecs), e.g.\n"
            "                  --set ctu=32 --set rdoq=2 (hevc), --set level=19 (zstd)\n"
            "  --ctu N, --min-cu N, --no-sao   the same as --set ctu=N, min_cu=N, sao=false\n"
            "  --split NAME    split name stored in the container\n"
            "  --hevc-out F    also write the raw HEVC Annex-B stream to F (featrd frd extract)\n"
            "Prints the bits: total (container bytes × 8), payload, side information.\n");
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

int fr_cmd_encode(int argc, char **argv)
{
    FrFeatureSettings s;
    fr_feature_defaults(&s);
    const char *paths[FR_MAX_CUTS + 1];
    int npaths = 0;
    const char *split = NULL, *hevc_out = NULL;
    FrError err = {0};
    const char *sets[64]; /* codec settings, applied once the codec is known */
    char setbuf[2][32]; /* --ctu, --min-cu */
    int nsets = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (fr_cli_is_help(a)) {
            usage(stdout);
            return 0;
        }
        if (a[0] != '-' || a[1] == 0) {
            if (npaths == FR_MAX_CUTS + 1)
                return fr_cli_fail("encode", FR_E_USAGE, "at most %d input files", FR_MAX_CUTS);
            paths[npaths++] = a;
            continue;
        }
        if (!strcmp(a, "--relu-min0")) {
            s.relu_min0 = 1;
            continue;
        }
        if (!strcmp(a, "--no-sao")) {
            if (nsets < 64)
                sets[nsets++] = "sao=false";
            continue;
        }
        if (i + 1 >= argc)
            return fr_cli_fail("encode", FR_E_USAGE, "%s needs a value (see featrd encode --help)", a);
        const char *v = argv[++i];
        int rc = 0;
        if (!strcmp(a, "--bits")) {
            if (parse_int(v, 1, 32, &s.bits) || (s.bits > 16 && s.bits != FR_BITS_FLOAT))
                rc = fr_error(&err, FR_E_USAGE, "--bits %s: use 1..16 or 32", v);
        } else if (!strcmp(a, "--range")) {
            rc = fr_range_from_name(v, &s.range, &err);
        } else if (!strcmp(a, "--packing")) {
            rc = fr_packing_from_name(v, &s.packing, &err);
        } else if (!strcmp(a, "--codec")) {
            rc = fr_codec_from_name(v, &s.codec, &err);
        } else if (!strcmp(a, "--qp")) {
            if (parse_int(v, 0, 255, &s.qp)) /* the codec's own range is checked on encode */
                rc = fr_error(&err, FR_E_USAGE, "--qp %s: an integer (hevc 0..51; `featrd help "
                              "codecs` gives each codec's range)", v);
        } else if (!strcmp(a, "--tile-pad")) {
            if (parse_int(v, 0, 16, &s.tile_pad))
                rc = fr_error(&err, FR_E_USAGE, "--tile-pad %s: use 0, 8 or 16", v);
        } else if (!strcmp(a, "--ctu") || !strcmp(a, "--min-cu")) {
            int k = !strcmp(a, "--min-cu");
            snprintf(setbuf[k], sizeof setbuf[k], "%s=%.20s", k ? "min_cu" : "ctu", v);
            if (nsets < 64)
                sets[nsets++] = setbuf[k];
        } else if (!strcmp(a, "--set")) {
            if (nsets < 64)
                sets[nsets++] = v;
            else
                rc = fr_error(&err, FR_E_USAGE, "at most 64 --set options");
        } else if (!strcmp(a, "--split")) {
            split = v;
        } else if (!strcmp(a, "--hevc-out")) {
            hevc_out = v;
        } else {
            rc = fr_error(&err, FR_E_USAGE, "unknown option %s (see featrd encode --help)", a);
        }
        if (rc)
            return fr_cli_fail("encode", rc, "%s", err.msg);
    }
    if (npaths < 2)
        return fr_cli_fail("encode", FR_E_USAGE,
                           "needs IN.npy and OUT.frd (see featrd encode --help)");
    const FrCodec *codec = fr_codec_by_id((int)s.codec);
    void *cset = codec ? fr_codec_settings_new(codec) : NULL;
    if (!cset)
        return fr_cli_fail("encode", FR_E_NOMEM, "out of memory");
    int rc = 0;
    for (int k = 0; k < nsets && !rc; k++)
        rc = fr_schema_set_text(codec->settings, cset, sets[k], &err);
    s.codec_settings = cset;
    if (!rc)
        rc = fr_feature_validate(&s, &err);
    if (rc) {
        free(cset);
        return fr_cli_fail("encode", rc, "%s", err.msg);
    }
    if (hevc_out && !(codec->caps & FR_CODEC_ANNEXB)) {
        free(cset);
        return fr_cli_fail("encode", FR_E_USAGE, "--hevc-out needs an HEVC codec (hevc or "
                           "hevc-lossless; %s has no Annex-B stream)", codec->name);
    }
    int ncuts = npaths - 1;
    const char *out = paths[ncuts];
    FrTensor cuts[FR_MAX_CUTS];
    memset(cuts, 0, sizeof cuts);
    uint8_t *frd = NULL;
    size_t len = 0;
    FrBitStats bits;
    size_t elems = 0;
    for (int i = 0; i < ncuts && !rc; i++) {
        FrNpyInfo ni;
        rc = fr_npy_read_ex(paths[i], &cuts[i], &ni, &err);
        elems += rc ? 0 : fr_tensor_size(&cuts[i]);
        if (!rc && (ni.converted || ni.fortran || ni.squeezed))
            fprintf(stderr, "featrd encode: note: %s: %s%s%s%s%sread as C-order float32 %dx%dx%d\n",
                    paths[i], ni.converted ? "dtype " : "", ni.converted ? ni.dtype : "",
                    ni.converted ? " converted, " : "", ni.fortran ? "Fortran order, " : "",
                    ni.squeezed ? "leading 1s dropped, " : "", cuts[i].c, cuts[i].h, cuts[i].w);
    }
    if (!rc)
        rc = fr_feature_encode(cuts, ncuts, split, &s, &frd, &len, &bits, &err);
    if (!rc)
        rc = fr_write_file_atomic(out, frd, len, &err);
    if (!rc && hevc_out)
        rc = fr_cli_write_hevc(frd, len, out, hevc_out, &err);
    for (int i = 0; i < ncuts; i++)
        fr_tensor_free(&cuts[i]);
    free(frd);
    free(cset);
    if (rc)
        return fr_cli_fail("encode", rc, "%s", err.msg);
    printf("%s: %zu elements, bits: total %llu, payload %llu, side info %llu "
           "(%.4f bits per element), %.3f s\n",
           out, elems, (unsigned long long)bits.total_bits, (unsigned long long)bits.payload_bits,
           (unsigned long long)bits.side_bits, (double)bits.total_bits / (double)elems,
           bits.encode_seconds);
    return 0;
}
