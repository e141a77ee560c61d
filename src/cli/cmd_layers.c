/* cmd_layers.c: `featrd layers` (placeholder until its module lands). */
#include "cli.h"

int fr_cmd_layers(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return fr_cli_fail("layers", FR_E_INTERNAL, "not implemented yet");
}
