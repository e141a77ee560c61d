/* codec_zstd.c: libzstd adapter (level 3, zstd's default). The only file
 * that includes zstd.h. */
#include "codec_internal.h"

#include <stdlib.h>
#include <zstd.h>

int fr_zstd_encode(const uint8_t *in, size_t n, uint8_t **out, size_t *out_n, FrError *err)
{
    *out = NULL;
    *out_n = 0;
    size_t cap = ZSTD_compressBound(n);
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf)
        return fr_error(err, FR_E_NOMEM, "zstd: out of memory");
    size_t got = ZSTD_compress(buf, cap, in, n, ZSTD_CLEVEL_DEFAULT);
    if (ZSTD_isError(got)) {
        free(buf);
        return fr_error(err, FR_E_CODEC, "zstd: compression failed: %s", ZSTD_getErrorName(got));
    }
    *out = buf;
    *out_n = got;
    return 0;
}

int fr_zstd_decode(const uint8_t *in, size_t n, uint8_t *out, size_t out_n, FrError *err)
{
    size_t got = ZSTD_decompress(out, out_n, in, n);
    if (ZSTD_isError(got) || got != out_n)
        return fr_error(err, FR_E_FORMAT, "zstd: the coded stream is corrupt or truncated (%s)",
                        ZSTD_isError(got) ? ZSTD_getErrorName(got) : "wrong length");
    return 0;
}
