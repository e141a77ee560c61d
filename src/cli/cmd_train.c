/* cmd_train.c: `featrd train` (placeholder until its module lands). */
#include "cli.h"

int fr_cmd_train(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return fr_cli_fail("train", FR_E_INTERNAL, "not implemented yet");
}
