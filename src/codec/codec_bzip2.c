/* codec_bzip2.c: the bzip2 coder (libbz2; level = block size, -1 = bzip2's
 * default 9). The only
 * file that includes bzlib.h. */
#include "codec/codec_internal.h"

#include <bzlib.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static int bzip2_encode(const void *settings, const uint8_t *in, size_t n, uint8_t **out,
                        size_t *out_n, FrError *err)
{
    int level = settings ? ((const FrLevelSettings *)settings)->level : -1;
    *out = NULL;
    *out_n = 0;
    if (n > UINT_MAX / 2)
        return fr_error(err, FR_E_USAGE, "bzip2: input of %zu bytes is too large", n);
    /* bzip2's documented worst case: 1% + 600 bytes. */
    unsigned int cap = (unsigned int)(n + n / 100 + 601);
    uint8_t *buf = malloc(cap);
    if (!buf)
        return fr_error(err, FR_E_NOMEM, "bzip2: out of memory");
    int rc = BZ2_bzBuffToBuffCompress((char *)buf, &cap, (char *)in, (unsigned int)n, level < 0 ? 9 : level, 0, 0);
    if (rc != BZ_OK) {
        free(buf);
        return fr_error(err, FR_E_CODEC, "bzip2: compression failed (%d)", rc);
    }
    *out = buf;
    *out_n = cap;
    return 0;
}

static int bzip2_decode(const uint8_t *in, size_t n, FrSink *out, FrError *err)
{
    if (n > UINT_MAX)
        return fr_error(err, FR_E_FORMAT, "bzip2: stream of %zu bytes is too large", n);
    bz_stream z;
    memset(&z, 0, sizeof z);
    if (BZ2_bzDecompressInit(&z, 0, 0) != BZ_OK)
        return fr_error(err, FR_E_CODEC, "bzip2: BZ2_bzDecompressInit failed");
    z.next_in = (char *)in;
    z.avail_in = (unsigned int)n;
    int rc = BZ_OK, room;
    while (rc == BZ_OK && (room = fr_sink_room(out)) == 0) {
        size_t k = out->cap - out->n > UINT_MAX ? UINT_MAX : out->cap - out->n;
        z.next_out = (char *)out->p + out->n;
        z.avail_out = (unsigned int)k;
        rc = BZ2_bzDecompress(&z);
        out->n += k - z.avail_out;
        if (rc == BZ_OK && z.avail_in == 0 && z.avail_out > 0)
            break; /* input used up before the end of the stream */
    }
    BZ2_bzDecompressEnd(&z);
    if (room == FR_E_NOMEM)
        return fr_error(err, FR_E_NOMEM, "bzip2: out of memory");
    if (rc != BZ_STREAM_END || out->n != out->want)
        return fr_error(err, FR_E_FORMAT,
                        "bzip2: the coded stream is corrupt or truncated (%d, %s%zu of %zu bytes)", rc,
                        out->n > out->want ? "more than " : "", out->n > out->want ? out->want : out->n, out->want);
    return 0;
}

static const FrField bzip2_schema_fields[] = {
    {.key = "level", .type = FR_FIELD_INT, .offset = offsetof(FrLevelSettings, level), .def = -1,
     .lo = 1, .hi = 9, .special = -1, .doc = "block size 1..9 (x100 kB); -1: bzip2's default (9)"},
};
static const FrSchema bzip2_schema = {"bzip2", sizeof(FrLevelSettings), bzip2_schema_fields, 1, NULL};

static const char *bzip2_version(void)
{
    return BZ2_bzlibVersion();
}

const FrCodec fr_codec_bzip2 = {
    .name = "bzip2",
    .alias = NULL,
    .id = FR_CODEC_BZIP2,
    .caps = FR_CODEC_LOSSLESS | FR_CODEC_BYTES,
    .max_bits = 16,
    .settings = &bzip2_schema,
    .summary = "bzip2 (libbz2)",
    .library = "libbz2",
    .version = bzip2_version,
    .encode_bytes = bzip2_encode,
    .decode_bytes = bzip2_decode,
};
