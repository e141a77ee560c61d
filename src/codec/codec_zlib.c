/* codec_zlib.c: the zlib and gzip coders (level -1 = zlib's default 6), raw
 * inflate for .npz members, and CRC-32.
 * The only file that includes zlib.h. */
#include "codec/codec_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

uint32_t fr_zlib_crc32(const uint8_t *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt k = n > UINT_MAX ? UINT_MAX : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

static int deflate_encode(int gzip, int level, const uint8_t *in, size_t n, uint8_t **out,
                          size_t *out_n, FrError *err)
{
    const char *name = gzip ? "gzip" : "zlib";
    *out = NULL;
    *out_n = 0;
    if (n > UINT_MAX / 2)
        return fr_error(err, FR_E_USAGE, "%s: input of %zu bytes is too large", name, n);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, level < 0 ? Z_DEFAULT_COMPRESSION : level, Z_DEFLATED, gzip ? 15 + 16 : 15, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return fr_error(err, FR_E_CODEC, "%s: deflateInit2 failed", name);
    size_t cap = deflateBound(&z, (uLong)n) + 32;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&z);
        return fr_error(err, FR_E_NOMEM, "%s: out of memory", name);
    }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    size_t got = cap - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return fr_error(err, FR_E_CODEC, "%s: deflate failed (%d)", name, rc);
    }
    *out = buf;
    *out_n = got;
    return 0;
}

static int inflate_decode(int gzip, const uint8_t *in, size_t n, FrSink *out, FrError *err)
{
    const char *name = gzip ? "gzip" : "zlib";
    if (n > UINT_MAX)
        return fr_error(err, FR_E_FORMAT, "%s: stream of %zu bytes is too large", name, n);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, gzip ? 15 + 16 : 15) != Z_OK)
        return fr_error(err, FR_E_CODEC, "%s: inflateInit2 failed", name);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    int rc = Z_OK, room;
    while (rc == Z_OK && (room = fr_sink_room(out)) == 0) {
        size_t k = out->cap - out->n > UINT_MAX ? UINT_MAX : out->cap - out->n;
        z.next_out = out->p + out->n;
        z.avail_out = (uInt)k;
        rc = inflate(&z, Z_NO_FLUSH);
        out->n += k - z.avail_out;
        if (rc == Z_BUF_ERROR && z.avail_out == 0)
            rc = Z_OK; /* only out of room */
    }
    inflateEnd(&z);
    if (room == FR_E_NOMEM)
        return fr_error(err, FR_E_NOMEM, "%s: out of memory", name);
    if (rc != Z_STREAM_END || out->n != out->want)
        return fr_error(err, FR_E_FORMAT,
                        "%s: the coded stream is corrupt or truncated (inflate %d, %s%zu of %zu "
                        "bytes)",
                        name, rc, out->n > out->want ? "more than " : "", out->n > out->want ? out->want : out->n, out->want);
    return 0;
}

int fr_zlib_inflate_raw(const uint8_t *in, size_t n, uint8_t *out, size_t out_n, FrError *err)
{
    if (n > UINT_MAX || out_n > UINT_MAX)
        return fr_error(err, FR_E_FORMAT, "deflate member of %zu bytes is too large", n);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, -15) != Z_OK) /* raw deflate, as in ZIP members */
        return fr_error(err, FR_E_CODEC, "zlib: inflateInit2 failed");
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)out_n;
    int st = inflate(&z, Z_FINISH);
    size_t got = out_n - z.avail_out;
    inflateEnd(&z);
    if (st != Z_STREAM_END || got != out_n)
        return fr_error(err, FR_E_FORMAT, "corrupt deflate data (%zu of %zu bytes)", got, out_n);
    return 0;
}

static int level_of(const void *settings)
{
    return settings ? ((const FrLevelSettings *)settings)->level : -1;
}

static int zlib_encode(const void *settings, const uint8_t *in, size_t n, uint8_t **out,
                       size_t *out_n, FrError *err)
{
    return deflate_encode(0, level_of(settings), in, n, out, out_n, err);
}

static int gzip_encode(const void *settings, const uint8_t *in, size_t n, uint8_t **out,
                       size_t *out_n, FrError *err)
{
    return deflate_encode(1, level_of(settings), in, n, out, out_n, err);
}

static int zlib_decode(const uint8_t *in, size_t n, FrSink *out, FrError *err)
{
    return inflate_decode(0, in, n, out, err);
}

static int gzip_decode(const uint8_t *in, size_t n, FrSink *out, FrError *err)
{
    return inflate_decode(1, in, n, out, err);
}

static const char *zlib_lib_version(void)
{
    return zlibVersion();
}

static const FrField zlib_schema_fields[] = {
    {.key = "level", .type = FR_FIELD_INT, .offset = offsetof(FrLevelSettings, level), .def = -1,
     .lo = 0, .hi = 9, .special = -1, .doc = "deflate level 0..9; -1: zlib's default (6)"},
};
static const FrSchema zlib_schema = {"zlib", sizeof(FrLevelSettings), zlib_schema_fields, 1, NULL};

static const FrField gzip_schema_fields[] = {
    {.key = "level", .type = FR_FIELD_INT, .offset = offsetof(FrLevelSettings, level), .def = -1,
     .lo = 0, .hi = 9, .special = -1, .doc = "deflate level 0..9; -1: zlib's default (6)"},
};
static const FrSchema gzip_schema = {"gzip", sizeof(FrLevelSettings), gzip_schema_fields, 1, NULL};

const FrCodec fr_codec_zlib = {
    .name = "zlib",
    .alias = NULL,
    .id = FR_CODEC_ZLIB,
    .caps = FR_CODEC_LOSSLESS | FR_CODEC_BYTES,
    .max_bits = 16,
    .settings = &zlib_schema,
    .summary = "zlib format, RFC 1950 (zlib)",
    .library = "zlib",
    .version = zlib_lib_version,
    .encode_bytes = zlib_encode,
    .decode_bytes = zlib_decode,
};

const FrCodec fr_codec_gzip = {
    .name = "gzip",
    .alias = NULL,
    .id = FR_CODEC_GZIP,
    .caps = FR_CODEC_LOSSLESS | FR_CODEC_BYTES,
    .max_bits = 16,
    .settings = &gzip_schema,
    .summary = "gzip format, RFC 1952 (zlib)",
    .library = "zlib",
    .version = zlib_lib_version,
    .encode_bytes = gzip_encode,
    .decode_bytes = gzip_decode,
};

int fr_gzip_read_file(const char *path, size_t max, uint8_t **data, size_t *n, FrError *err)
{
    *data = NULL;
    *n = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return fr_error(err, FR_E_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 0, len = 0;
    uint8_t *buf = NULL;
    int rc = 0;
    for (;;) {
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 1 << 20;
            if (nc > max + 1)
                nc = max + 1;
            if (nc <= cap) {
                rc = fr_error(err, FR_E_FORMAT, "%s: more than %zu bytes uncompressed", path, max);
                break;
            }
            uint8_t *p = realloc(buf, nc);
            if (!p) {
                rc = fr_error(err, FR_E_NOMEM, "%s: out of memory", path);
                break;
            }
            buf = p;
            cap = nc;
        }
        int r = gzread(f, buf + len, (unsigned)(cap - len > (1u << 30) ? 1u << 30 : cap - len));
        if (r < 0) {
            int zerr;
            rc = fr_error(err, FR_E_FORMAT, "%s: %s", path, gzerror(f, &zerr));
            break;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    gzclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    *data = buf;
    *n = len;
    return 0;
}
