/* leasefence: `serve` (the webhook), `elect` (an election candidate), `version`. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "version.h"

static const char usage_main[] =
    "usage: leasefence COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  serve     run the validating admission webhook (see leasefence serve --help)\n"
    "  elect     take part in a Lease election as one candidate (see leasefence elect --help)\n"
    "  version   print the version\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stderr);
        return 2;
    }
    if (strcmp(argv[1], "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    if (strcmp(argv[1], "elect") == 0)
        return cmd_elect(argc - 1, argv + 1);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        /* The commit is empty when the build had none (no git checkout, none given). */
        printf("leasefence %s%s%s%s\n", LEASEFENCE_VERSION, LEASEFENCE_COMMIT[0] ? " (" : "",
               LEASEFENCE_COMMIT, LEASEFENCE_COMMIT[0] ? ")" : "");
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        fputs(usage_main, stdout);
        return 0;
    }
    fprintf(stderr, "leasefence: unknown command '%s'\n%s", argv[1], usage_main);
    return 2;
}
