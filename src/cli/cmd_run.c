/* cmd_run.c: `featrd run` (placeholder until its module lands). */
#include "cli.h"

int fr_cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return fr_cli_fail("run", FR_E_INTERNAL, "not implemented yet");
}
