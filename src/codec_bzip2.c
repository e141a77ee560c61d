/* codec_bzip2.c: libbz2 adapter (block size 9, bzip2's default). The only
 * file that includes bzlib.h. */
#include "codec_internal.h"

#include <bzlib.h>
#include <limits.h>
#include <stdlib.h>

int fr_bzip2_encode(const uint8_t *in, size_t n, uint8_t **out, size_t *out_n, FrError *err)
{
    *out = NULL;
    *out_n = 0;
    if (n > UINT_MAX / 2)
        return fr_error(err, FR_E_USAGE, "bzip2: input of %zu bytes is too large", n);
    /* bzip2's documented worst case: 1% + 600 bytes. */
    unsigned int cap = (unsigned int)(n + n / 100 + 601);
    uint8_t *buf = malloc(cap);
    if (!buf)
        return fr_error(err, FR_E_NOMEM, "bzip2: out of memory");
    int rc = BZ2_bzBuffToBuffCompress((char *)buf, &cap, (char *)in, (unsigned int)n, 9, 0, 0);
    if (rc != BZ_OK) {
        free(buf);
        return fr_error(err, FR_E_CODEC, "bzip2: compression failed (%d)", rc);
    }
    *out = buf;
    *out_n = cap;
    return 0;
}

int fr_bzip2_decode(const uint8_t *in, size_t n, uint8_t *out, size_t out_n, FrError *err)
{
    if (n > UINT_MAX || out_n > UINT_MAX)
        return fr_error(err, FR_E_FORMAT, "bzip2: stream of %zu bytes is too large", n);
    unsigned int got = (unsigned int)out_n;
    int rc = BZ2_bzBuffToBuffDecompress((char *)out, &got, (char *)in, (unsigned int)n, 0, 0);
    if (rc != BZ_OK || got != out_n)
        return fr_error(err, FR_E_FORMAT,
                        "bzip2: the coded stream is corrupt or truncated (%d, %u of %zu bytes)", rc,
                        got, out_n);
    return 0;
}
