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

int fr_zstd_decode(const uint8_t *in, size_t n, FrSink *out, FrError *err)
{
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (!d)
        return fr_error(err, FR_E_NOMEM, "zstd: out of memory");
    /* a frame asking for a window above 2^25 (level 3 uses at most 2^21)
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
