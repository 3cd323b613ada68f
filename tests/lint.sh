#!/usr/bin/env bash
# make lint: the C sources are clang-format clean and use no banned function
# (curl's checksrc list: sprintf, vsprintf, strcpy, strcat, strtok, atoi, atol, gets).
set -uo pipefail
cd "$(dirname "$0")/.."
rc=0
mapfile -t files < <(git ls-files '*.c' '*.h' | grep -E '^(server|elector|tests)/')
[ ${#files[@]} -gt 0 ] || { echo "lint: no C sources"; exit 1; }

fmt_bad=()
for f in "${files[@]}"; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || fmt_bad+=("$f")
done
if [ ${#fmt_bad[@]} -gt 0 ]; then
  echo "lint: not clang-format clean (run: clang-format -i FILE):"
  printf '  %s\n' "${fmt_bad[@]}"
  rc=1
fi

banned='\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|atoll|gets)[[:space:]]*\('
if grep -nE "$banned" "${files[@]}"; then
  echo "lint: banned function used (see above); use snprintf, memcpy with a length, strtol via the checked parser"
  rc=1
fi
# kube-sim (Go): gofmt-clean and go vet-clean.
unformatted=$(gofmt -l tests/kube-sim)
if [ -n "$unformatted" ]; then echo "lint: not gofmt clean: $unformatted"; rc=1; fi
(cd tests/kube-sim && GOPROXY=off GOFLAGS=-mod=mod GOCACHE=$PWD/../../build/go-cache go vet ./...) || { echo "lint: go vet failed"; rc=1; }

[ $rc -eq 0 ] && echo "lint: ${#files[@]} files clean"
exit $rc
