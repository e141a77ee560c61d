/* cmd_encode.c: `featrd encode` (placeholder until its module lands). */
#include "cli.h"

int fr_cmd_encode(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return fr_cli_fail("encode", FR_E_INTERNAL, "not implemented yet");
}
