/* fuzz_rp.c: bytes → the RP weights container (fr_rp_info, fr_rp_decode,
 * with a CRC-32 fixed up half of the time as in fuzz_frd) and the darknet
 * weights header check (fr_weights_parse). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "featrd.h"
#include "fuzz_crc.h"
#include "kinds/experiments.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n;
    uint8_t *buf = fuzz_with_crc(data, size, &n);
    if (!buf)
        return 0;
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
