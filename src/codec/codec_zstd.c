/* codec_zstd.c: the zstd coder (libzstd; level -1 = zstd's default, 3).
 * The only file that includes zstd.h. */
#include "codec/codec_internal.h"

#include <stddef.h>
#include <stdlib.h>
#include <zstd.h>

static int zstd_encode(const void *settings, const uint8_t *in, size_t n, uint8_t **out,
                       size_t *out_n, FrError *err)
{
    int level = settings ? ((const FrLevelSettings *)settings)->level : -1;
    *out = NULL;
    *out_n = 0;
    size_t cap = ZSTD_compressBound(n);
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf)
        return fr_error(err, FR_E_NOMEM, "zstd: out of memory");
    size_t got = ZSTD_compress(buf, cap, in, n, level < 0 ? ZSTD_CLEVEL_DEFAULT : level);
    if (ZSTD_isError(got)) {
        free(buf);
        return fr_error(err, FR_E_CODEC, "zstd: compression failed: %s", ZSTD_getErrorName(got));
    }
    *out = buf;
    *out_n = got;
    return 0;
}

static int zstd_decode(const uint8_t *in, size_t n, FrSink *out, FrError *err)
{
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (!d)
        return fr_error(err, FR_E_NOMEM, "zstd: out of memory");
    /* a frame asking for a window above 2^25 (level 3 uses at most 2^21, level 19 2^23)
     * is refused rather than allocated */
    ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 25);
    ZSTD_inBuffer ib = {in, n, 0};
    size_t ret = 1;
    int room = 0;
    while (!ZSTD_isError(ret) && (ret != 0 || ib.pos < ib.size) && (room = fr_sink_room(out)) == 0) {
        ZSTD_outBuffer ob = {out->p + out->n, out->cap - out->n, 0};
        size_t in_before = ib.pos;
        ret = ZSTD_decompressStream(d, &ob, &ib);
        out->n += ob.pos;
        if (!ZSTD_isError(ret) && ob.pos == 0 && ib.pos == in_before && ob.size > 0)
            break; /* no progress: the input ends inside a frame */
    }
    ZSTD_freeDCtx(d);
    if (room == FR_E_NOMEM)
        return fr_error(err, FR_E_NOMEM, "zstd: out of memory");
    if (ZSTD_isError(ret) || ret != 0 || ib.pos != ib.size || out->n != out->want)
        return fr_error(err, FR_E_FORMAT, "zstd: the coded stream is corrupt or truncated (%s)",
                        ZSTD_isError(ret) ? ZSTD_getErrorName(ret) : "wrong length");
    return 0;
}

static const FrField zstd_schema_fields[] = {
    {.key = "level", .type = FR_FIELD_INT, .offset = offsetof(FrLevelSettings, level), .def = -1,
     .lo = 1, .hi = 19, .special = -1, .doc = "compression level 1..19; -1: zstd's default (3)"},
};
static const FrSchema zstd_schema = {"zstd", sizeof(FrLevelSettings), zstd_schema_fields, 1, NULL};

static const char *zstd_version(void)
{
    return ZSTD_versionString();
}

const FrCodec fr_codec_zstd = {
    .name = "zstd",
    .alias = NULL,
    .id = FR_CODEC_ZSTD,
    .caps = FR_CODEC_LOSSLESS | FR_CODEC_BYTES,
    .max_bits = 16,
    .settings = &zstd_schema,
    .summary = "zstd frame (libzstd)",
    .library = "libzstd",
    .version = zstd_version,
    .encode_bytes = zstd_encode,
    .decode_bytes = zstd_decode,
};
