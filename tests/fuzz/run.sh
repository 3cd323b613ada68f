#!/usr/bin/env bash
# Runs every libFuzzer target build/fuzz/fuzz_NAME for SECONDS each on its seed
# corpus tests/fuzz/NAME/ (and the dictionary tests/fuzz/NAME.dict if there is
# one).  New inputs go to build/fuzz/corpus/NAME/, crashes to
# build/fuzz/artifacts/NAME/; the seeds in the tree are only read.
#   tests/fuzz/run.sh [SECONDS] [NAME...]      (default: 60 s, every target)
# Prints one line per target ("fuzz NAME: N execs in S s, ok" or "... FAILED")
# and exits non-zero when any target found a crash.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
seconds=${1:-60}
shift || true
build=${LEASEFENCE_BUILD:-build}

targets=()
if [ $# -gt 0 ]; then
  for n in "$@"; do targets+=("$build/fuzz/fuzz_${n#fuzz_}"); done
else
  for t in "$build"/fuzz/fuzz_*; do [ -x "$t" ] && targets+=("$t"); done
fi
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no targets in $build/fuzz (make fuzz-build)"; exit 1; }

rc=0
for t in "${targets[@]}"; do
  [ -x "$t" ] || { echo "fuzz ${t##*/fuzz_}: $t not built"; rc=1; continue; }
  name=${t##*/fuzz_}
  seeds=tests/fuzz/$name work=$build/fuzz/corpus/$name art=$build/fuzz/artifacts/$name
  log=$build/fuzz/$name.log
  mkdir -p "$work" "$art"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$art/")
  [ -f "tests/fuzz/$name.dict" ] && args+=(-dict="tests/fuzz/$name.dict")
  dirs=("$work")
  [ -d "$seeds" ] && dirs+=("$seeds")
  "$t" "${args[@]}" "${dirs[@]}" >"$log" 2>&1
  status=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  if [ $status -eq 0 ]; then
    echo "fuzz $name: ${execs:-?} execs in ${seconds} s, ok"
  else
    echo "fuzz $name: FAILED after ${execs:-?} execs (exit $status, log: $log, crash inputs: $art/)"
    grep -E '^==[0-9]+==ERROR|^SUMMARY|disagrees' "$log" | head -5 | sed 's/^/    /'
    rc=1
  fi
done
exit $rc
