/* cmd_merge.c: `featrd merge` (placeholder until its module lands). */
#include "cli.h"

int fr_cmd_merge(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return fr_cli_fail("merge", FR_E_INTERNAL, "not implemented yet");
}
