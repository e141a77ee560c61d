/* codec_lzma.c: liblzma adapter (.xz container, preset 6, CRC-64), xz's
 * defaults. The only file that includes lzma.h. */
#include "codec_internal.h"

#include <lzma.h>
#include <stdlib.h>

int fr_lzma_encode(const uint8_t *in, size_t n, uint8_t **out, size_t *out_n, FrError *err)
{
    *out = NULL;
    *out_n = 0;
    size_t cap = lzma_stream_buffer_bound(n);
    uint8_t *buf = cap ? malloc(cap) : NULL;
    if (!buf)
        return fr_error(err, FR_E_NOMEM, "lzma: out of memory");
    size_t pos = 0;
    lzma_ret rc = lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, NULL, in, n, buf, &pos, cap);
    if (rc != LZMA_OK) {
        free(buf);
        return fr_error(err, FR_E_CODEC, "lzma: compression failed (%d)", (int)rc);
    }
    *out = buf;
    *out_n = pos;
    return 0;
}

int fr_lzma_decode(const uint8_t *in, size_t n, uint8_t *out, size_t out_n, FrError *err)
{
    uint64_t memlimit = UINT64_MAX;
    size_t in_pos = 0, out_pos = 0;
    lzma_ret rc = lzma_stream_buffer_decode(&memlimit, 0, NULL, in, &in_pos, n, out, &out_pos, out_n);
    if (rc != LZMA_OK || out_pos != out_n || in_pos != n)
        return fr_error(err, FR_E_FORMAT,
                        "lzma: the coded stream is corrupt or truncated (%d, %zu of %zu bytes)",
                        (int)rc, out_pos, out_n);
    return 0;
}
