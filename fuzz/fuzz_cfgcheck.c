/* fuzz_cfgcheck.c: darknet cfg text → fr_cfg_rewrite, featrd's own check and
 * rewrite of a cfg before darknet sees it (sections, kernel/stride/pad/
 * filters/anchors/mask ranges, data file paths, the input size and crop
 * rules), in process. The check is what stands between hostile text and
 * darknet's parser, so it gets the executions the fork-per-input `cfg`
 * target cannot (~57/s): 10^7 in hours, not days. Each input is also
 * rewritten twice — at the cfg's own size and at 64×48 — and a rewrite that
 * passed must pass again when checked as a cfg itself (the rewrite is a
 * fixed point of the check); anything else aborts. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "featrd.h"
#include "model/model_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The text in an anonymous file, checked; 0 passed (out holds the rewrite). */
static int check_text(const void *data, size_t size, int w, int h, FrCfgText *out)
{
    int fd = memfd_create("fuzz-cfgcheck", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = -1;
    if (write(fd, data, size) == (ssize_t)size) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        FrCfgInfo ci = {0};
        FrError err;
        rc = fr_cfg_rewrite(path, w, h, out, &ci, &err);
        /* a refusal must say why */
        if (rc && !err.msg[0])
            abort();
        free(ci.line);
    }
    close(fd);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    static const int sizes[2][2] = {{0, 0}, {64, 48}};
    for (int k = 0; k < 2; k++) {
        FrCfgText out = {0};
        if (check_text(data, size, sizes[k][0], sizes[k][1], &out) == 0) {
            FrCfgText again = {0};
            if (!out.p || check_text(out.p, out.n, 0, 0, &again) != 0)
                abort();
            free(again.p);
        }
        free(out.p);
    }
    return 0;
}
