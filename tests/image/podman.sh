#!/usr/bin/env bash
# podman as this project runs it (make image, tests/e2e/test_image.sh):
#   tests/image/podman.sh SUBCOMMAND ARGS...
# - runc, never crun: crun stops at "cgroups in hybrid mode not supported" on
#   hosts like CI's;
# - for build, create and run: ulimits the host allows.  podman's default
#   nofile of 1048576 is refused ("setrlimit ... operation not permitted") where
#   the hard limit is lower, and so is an nproc above kernel.pid_max.
set -euo pipefail
sub=${1:?usage: tests/image/podman.sh SUBCOMMAND ARGS...}; shift
limits=()
case $sub in
build|create|run)
  nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] && nofile=1048576
  nproc=$(ulimit -Hu); pid_max=$(cat /proc/sys/kernel/pid_max)
  if [ "$nproc" = unlimited ] || [ "$nproc" -gt "$pid_max" ]; then nproc=$pid_max; fi
  limits=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc") ;;
esac
exec podman --runtime runc "$sub" "${limits[@]}" "$@"
