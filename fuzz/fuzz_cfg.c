/* fuzz_cfg.c: darknet cfg text → fr_model_open: featrd's range checks, then
 * darknet's parser in the probe child and, when that survives, here. A
 * crash or hang of darknet must be reported as an error by the probe, never
 * reach this process. Slow (a fork per input): run with -max_len=4096. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "featrd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Full-size networks take seconds per input under ASan: keep the fuzzer on
 * small ones (at most 16 sections, [net] sides up to 256); hostile values
 * elsewhere are what it is after. */
static int small_net(const uint8_t *d, size_t n)
{
    int sections = 0;
    for (size_t i = 0; i < n; i++) {
        if (d[i] == '[' && ++sections > 16)
            return 0;
        if (i + 6 < n && (!memcmp(d + i, "width=", 6) || !memcmp(d + i, "height", 6))) {
            size_t j = i + 6;
            while (j < n && (d[j] == '=' || d[j] == ' '))
                j++;
            long v = 0;
            while (j < n && d[j] >= '0' && d[j] <= '9' && v < 100000)
                v = v * 10 + (d[j++] - '0');
            if (v > 256)
                return 0;
        }
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192 || !small_net(data, size))
        return 0;
    int fd = memfd_create("fuzz-cfg", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) == (ssize_t)size) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        FrModelSettings s;
        fr_model_defaults(&s);
        s.cfg = path;
        s.quiet = 1;
        FrModel *m = NULL;
        FrError err;
        if (fr_model_open(&m, &s, &err) == 0)
            fr_model_close(&m);
    }
    close(fd);
    return 0;
}
