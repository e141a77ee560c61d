/* codec_registry.c: the list of inner coders. Adding a coder is its own file
 * (src/codec/codec_<name>.c, defining a const FrCodec) and one line here; see
 * docs/codec.md, "Adding a codec". The order is the order of help texts and
 * error messages; ids, not positions, go into files. */
#include "codec/codec_internal.h"

extern const FrCodec fr_codec_hevc, fr_codec_hevc_lossless, fr_codec_zlib, fr_codec_gzip,
    fr_codec_bzip2, fr_codec_lzma, fr_codec_zstd, fr_codec_av1, fr_codec_av1_lossless,
    fr_codec_jxl, fr_codec_jxl_lossless, fr_codec_j2k, fr_codec_j2k_lossless, fr_codec_jpegls,
    fr_codec_jpegls_lossless;

static const FrCodec *const codecs[] = {
    &fr_codec_hevc,
    &fr_codec_hevc_lossless,
    &fr_codec_zlib,
    &fr_codec_gzip,
    &fr_codec_bzip2,
    &fr_codec_lzma,
    &fr_codec_zstd,
    &fr_codec_av1,
    &fr_codec_av1_lossless,
    &fr_codec_jxl,
    &fr_codec_jxl_lossless,
    &fr_codec_j2k,
    &fr_codec_j2k_lossless,
    &fr_codec_jpegls,
    &fr_codec_jpegls_lossless,
};

int fr_codec_count(void)
{
    return (int)(sizeof codecs / sizeof codecs[0]);
}

const FrCodec *fr_codec_at(int i)
{
    return i >= 0 && i < fr_codec_count() ? codecs[i] : NULL;
}
