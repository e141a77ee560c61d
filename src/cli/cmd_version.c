/* cmd_version.c: `featrd version`. */
#include <stdio.h>

#include "cli.h"

int fr_cmd_version(int argc, char **argv)
{
    if (argc > 1 && fr_cli_is_help(argv[1])) {
        printf("usage: featrd version\nPrints the versions of featrd and of every library it links.\n");
        return 0;
    }
    fr_versions_print(stdout, "");
    return 0;
}
