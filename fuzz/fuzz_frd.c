/* fuzz_frd.c: .frd container bytes → fr_feature_probe and
 * fr_feature_decode (header, cut tables, every inner coder). Inputs get a
 * correct CRC-32 appended half of the time, so the fuzzer reaches the
 * parser and the coders instead of stopping at the checksum. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "featrd.h"
#include "fuzz_crc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n;
    uint8_t *buf = fuzz_with_crc(data, size, &n);
    if (!buf)
        return 0;
    FrFeatureInfo info;
    FrError err;
    (void)fr_feature_probe(buf, n, &info, &err);
    FrTensor *cuts = NULL;
    int ncuts = 0;
    if (fr_feature_decode(buf, n, &cuts, &ncuts, &info, &err) == 0) {
        for (int i = 0; i < ncuts; i++)
            fr_tensor_free(&cuts[i]);
        free(cuts);
    }
    free(buf);
    return 0;
}
