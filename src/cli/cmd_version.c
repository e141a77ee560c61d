/* cmd_version.c: `featrd version`. */
#include <stdio.h>

#include "cli.h"

int fr_cmd_version(int argc, char **argv)
{
    if (argc > 1 && fr_cli_is_help(argv[1])) {
        printf("usage: featrd version\nPrints the versions of featrd and of every library it links, and whether\nGPU support (model.device gpu) is compiled in.\n");
        return 0;
    }
    fr_versions_print(stdout, "");
    /* not in fr_versions_print: manifests of CPU runs stay as they were
     * (a GPU run's manifest has its own gpu: block) */
    char gpu[1024];
    printf("gpu:\n%s", fr_gpu_describe(gpu, sizeof gpu, "  "));
    return 0;
}
