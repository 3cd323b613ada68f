#ifndef LEASEFENCE_CMD_H
#define LEASEFENCE_CMD_H
/*
 * The program's commands, dispatched by main (server/main.c).  Each parses
 * its flags into an options struct, then runs; ARGV[0] is the command's name.
 * Each returns the process exit code: 0 done, 1 failed, 2 bad usage.
 */

/**
 * `leasefence serve --tls-cert FILE --tls-key FILE [--config FILE] [options]`:
 * the validating admission webhook (server/cmd_serve.c).
 */
int cmd_serve(int argc, char **argv);

/**
 * `leasefence elect --lease NS/NAME --identity ID [--kubeconfig FILE]
 * [--lease-duration D] [--renew-deadline D] [--retry-period D]
 * [--status-listen ADDR:PORT] [--grace-period D] [--log-level L]
 * [-- COMMAND ARGS...]`: one election candidate (server/cmd_elect.c).
 */
int cmd_elect(int argc, char **argv);

#endif
