/* fuzz_crc.h: the input shape of the checksummed containers' targets
 * (fuzz_frd, fuzz_rp): byte 0 says whether a correct CRC-32 is appended to
 * the rest, so the fuzzer reaches the parser and the coders instead of
 * stopping at the checksum. */
#ifndef FUZZ_CRC_H
#define FUZZ_CRC_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "featrd.h"
#include "run/results_internal.h"

/* The container to parse (malloc'ed, caller frees) and its length in *n;
 * NULL for an empty input or no memory. */
static uint8_t *fuzz_with_crc(const uint8_t *data, size_t size, size_t *n)
{
    if (size < 1)
        return NULL;
    *n = size - 1;
    uint8_t *buf = malloc(*n + 4);
    if (!buf)
        return NULL;
    memcpy(buf, data + 1, *n);
    if (data[0] & 1) {
        uint32_t c = fr_crc32(buf, *n);
        for (int i = 0; i < 4; i++)
            buf[*n + i] = (uint8_t)(c >> (8 * i));
        *n += 4;
    }
    return buf;
}

#endif
