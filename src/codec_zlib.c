/* codec_zlib.c: zlib adapter (zlib and gzip formats, level 6, and CRC-32).
 * The only file that includes zlib.h. */
#include "codec_internal.h"

#include <limits.h>
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

int fr_zlib_encode(int gzip, const uint8_t *in, size_t n, uint8_t **out, size_t *out_n,
                   FrError *err)
{
    const char *name = gzip ? "gzip" : "zlib";
    *out = NULL;
    *out_n = 0;
    if (n > UINT_MAX / 2)
        return fr_error(err, FR_E_USAGE, "%s: input of %zu bytes is too large", name, n);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, gzip ? 15 + 16 : 15, 8,
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

int fr_zlib_decode(int gzip, const uint8_t *in, size_t n, FrSink *out, FrError *err)
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
