/* fuzz_rp.c: bytes → the RP weights container (fr_rp_info, fr_rp_decode,
 * with a CRC-32 fixed up half of the time as in fuzz_frd) and the darknet
 * weights header check (fr_weights_parse). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "featrd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t n = size - 1;
    uint8_t *buf = malloc(n + 4);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, n);
    if (data[0] & 1) {
        uint32_t c = fr_crc32(buf, n);
        for (int i = 0; i < 4; i++)
            buf[n + i] = (uint8_t)(c >> (8 * i));
        n += 4;
    }
    FrRpInfo info;
    FrError err;
    FrWeights w;
    (void)fr_rp_info(buf, n, "fuzz.frw", &info, &err);
    if (fr_rp_decode(buf, n, "fuzz.frw", NULL, &w, &err) == 0)
        fr_weights_free(&w);
    if (fr_weights_parse(data, size, "fuzz.weights", &w, &err) == 0)
        fr_weights_free(&w);
    free(buf);
    return 0;
}
