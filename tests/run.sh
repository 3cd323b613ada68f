#!/usr/bin/env bash
# Runs the test suites and prints one closing line: "N passed, N failed".
#   tests/run.sh [unit|go|integration|e2e|fuzz|image ...]   (default: all but image)
# Unit tests are cmocka binaries in build/tests/; integration and e2e tests are
# scripts that print "ok - NAME" / "not ok - NAME" per check (tests/lib.sh).
# `image` is tests/e2e/test_image.sh alone, which needs `make image` first.
set -uo pipefail
cd "$(dirname "$0")/.."
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(unit go integration e2e fuzz)

passed=0 failed=0
failures=()
build=${LEASEFENCE_BUILD:-build}
log_dir=$build/test-logs
mkdir -p "$log_dir"

count() {  # count NAME LOGFILE EXIT_CODE PASS_REGEX FAIL_REGEX
  local name=$1 log=$2 rc=$3 p f
  p=$(grep -cE "$4" "$log" || true)
  f=$(grep -E "$5" "$log" | sort -u | wc -l)
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi      # crashed or exited early
  if [ "$rc" -eq 0 ] && [ "$p" -eq 0 ]; then f=$((f + 1)); echo "$name: ran no check" >>"$log"; fi
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$f" -gt 0 ]; then failures+=("$name (log: $log)"); echo "FAIL $name: $p passed, $f failed"; tail -n 40 "$log" | sed 's/^/    /'
  else echo "ok   $name: $p passed"; fi
}

for suite in "${suites[@]}"; do
  case $suite in
  unit)
    for t in "$build"/tests/test_*; do
      [ -x "$t" ] || continue
      n=$(basename "$t"); log=$log_dir/unit-$n.log
      timeout 300 "$t" >"$log" 2>&1; rc=$?
      count "unit/$n" "$log" $rc '^\[       OK \]' '^\[  (FAILED|ERROR) *\] [A-Za-z_]'
    done ;;
  go)
    if [ -f tests/kube-sim/go.mod ]; then
      log=$log_dir/go-kube-sim.log
      (cd tests/kube-sim && GOPROXY=off GOFLAGS=-mod=mod GOCACHE=$PWD/../../build/go-cache \
        timeout 600 go test -count=1 -v ./... ) >"$log" 2>&1; rc=$?
      count "go/kube-sim" "$log" $rc '^\s*--- PASS' '^\s*--- FAIL|^FAIL|^panic:'
    fi ;;
  integration|e2e|image)
    for t in tests/${suite/image/e2e}/test_*.sh; do
      [ -f "$t" ] || continue
      case $suite in
      e2e) [ "$t" != tests/e2e/test_image.sh ] || continue ;;
      image) [ "$t" = tests/e2e/test_image.sh ] || continue ;;
      esac
      n=$(basename "$t" .sh); log=$log_dir/$suite-$n.log
      timeout 600 bash "$t" >"$log" 2>&1; rc=$?
      count "$suite/$n" "$log" $rc '^ok - ' '^not ok - '
    done ;;
  fuzz)  # each libFuzzer target briefly on its seeds (make fuzz runs them longer)
    log=$log_dir/fuzz.log
    timeout 300 tests/fuzz/run.sh "${FUZZ_BRIEF_SECONDS:-4}" >"$log" 2>&1 </dev/null; rc=$?
    count "fuzz" "$log" $rc '^fuzz [a-z_]+: .* ok$' 'FAILED' ;;
  *) echo "run.sh: unknown suite '$suite'" >&2; exit 2 ;;
  esac
done

echo
for f in "${failures[@]+"${failures[@]}"}"; do echo "failed: $f"; done
echo "tests: $passed passed, $failed failed" | tee "$log_dir/summary.txt"
[ "$failed" -eq 0 ]
