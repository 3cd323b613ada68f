#!/usr/bin/env bash
# Fails when any memcheck log left by `make valgrind` reports an error or a definite leak.
set -uo pipefail
dir=${1:-build}
shopt -s nullglob
logs=("$dir"/valgrind.*.log)
[ ${#logs[@]} -gt 0 ] || { echo "valgrind: no memcheck logs in $dir (no process ran under valgrind)"; exit 1; }
bad=0
for l in "${logs[@]}"; do
  if [ -s "$l" ]; then echo "valgrind: $l:"; sed 's/^/    /' "$l" | head -60; bad=1; fi
done
echo "valgrind: ${#logs[@]} processes checked, $([ $bad -eq 0 ] && echo clean || echo ERRORS)"
exit $bad
