/* `leasefence elect`: one election candidate (work in progress). */
#include "cmd_elect.h"

#include <stdio.h>

int cmd_elect(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "leasefence elect: not implemented yet\n");
    return 2;
}
