/* fuzz_npy.c: .npy bytes → fr_npy_read (magic, header dictionary, shape
 * product against the bytes present). The reader takes a path: the input
 * goes through an anonymous memory file. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "featrd.h"
#include "util/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz-npy", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) == (ssize_t)size) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        FrTensor t;
        FrError err;
        if (fr_npy_read(path, &t, &err) == 0)
            fr_tensor_free(&t);
    }
    close(fd);
    return 0;
}
