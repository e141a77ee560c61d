/* cmd_decode.c: `featrd decode` (placeholder until its module lands). */
#include "cli.h"

int fr_cmd_decode(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return fr_cli_fail("decode", FR_E_INTERNAL, "not implemented yet");
}
