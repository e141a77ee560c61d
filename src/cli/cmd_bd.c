/* cmd_bd.c: `featrd bd` (placeholder until its module lands). */
#include "cli.h"

int fr_cmd_bd(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return fr_cli_fail("bd", FR_E_INTERNAL, "not implemented yet");
}
