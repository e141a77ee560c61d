/* cmd_data.c: `featrd data` (placeholder until its module lands). */
#include "cli.h"

int fr_cmd_data(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return fr_cli_fail("data", FR_E_INTERNAL, "not implemented yet");
}
