/* cmd_plot.c: `featrd plot` (placeholder until its module lands). */
#include "cli.h"

int fr_cmd_plot(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return fr_cli_fail("plot", FR_E_INTERNAL, "not implemented yet");
}
