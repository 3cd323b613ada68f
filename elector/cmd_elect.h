#ifndef LEASEFENCE_CMD_ELECT_H
#define LEASEFENCE_CMD_ELECT_H
/**
 * `leasefence elect --lease NS/NAME --identity ID [--kubeconfig FILE]
 * [--lease-duration D] [--renew-deadline D] [--retry-period D]
 * [--status-listen ADDR:PORT] [-- COMMAND ARGS...]`.  ARGV[0] is "elect".
 * Returns the process exit code.
 */
int cmd_elect(int argc, char **argv);

#endif
