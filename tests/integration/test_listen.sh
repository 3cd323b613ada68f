#!/usr/bin/env bash
# The one listener of serve --listen, --probe-listen and elect --status-listen:
# ":PORT" is dual-stack, and IPv4 alone on a kernel without IPv6 (an LD_PRELOAD
# shim fails socket(AF_INET6) with EAFNOSUPPORT, as ipv6.disable=1 does);
# "[::1]:PORT"; port 0 and the logged address; the OS error kept.
. "$(dirname "$0")/../lib.sh"

SHIM=$TMP/preload_shim.so
${CC:-cc} -shared -fPIC -O1 -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wformat=2 -Werror \
  -o "$SHIM" "$ROOT/tests/integration/preload_shim.c" -ldl || { fail "the preload shim builds"; done_testing; exit 1; }
# A sanitizer runtime linked into the binary wants to be first: the shim comes after it, which is fine.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
NOV6=(env LD_PRELOAD="$SHIM" LEASEFENCE_TEST_NO_IPV6=1)
TW=1; [ -z "${LEASEFENCE_WRAPPER:-}" ] || TW=4 # waits grow under a wrapper (make valgrind)

"$ROOT/certs/generate.sh" "$TMP/certs" >/dev/null || { fail "certificates"; done_testing; exit 1; }
CA=$TMP/certs/ca.crt
start_kube_sim --quiet || { fail "kube-sim starts"; done_testing; exit 1; }
SERVE=(serve --tls-cert "$TMP/certs/tls.crt" --tls-key "$TMP/certs/tls.key" --threads 1)
ELECT=(elect --lease default/listen --identity l)

# address LOG LISTENER: the address the "listening" line of LISTENER names
address() { grep -s '"msg":"listening"' "$1" | jq -r --arg l "$2" 'select(.listener == $l) | .address' | head -1; }
port_of() { sed 's/.*://' <<<"$1"; }
up() { curl -sf -o /dev/null "$@"; }
# started LOG LISTENER...: waits for each listener's line
has_address() { [ -n "$(address "$1" "$2")" ]; }
started() { local log=$1 l; shift; for l in "$@"; do wait_for $((10 * TW)) has_address "$log" "$l" || return 1; done; }
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# --- serve, ":0" twice: dual-stack, the bound ports logged ---
bg "$TMP/dual.log" $LEASEFENCE "${SERVE[@]}" --listen :0 --probe-listen :0
check "serve :0: both listeners log their address" started "$TMP/dual.log" --listen --probe-listen
tls=$(address "$TMP/dual.log" --listen) probe=$(address "$TMP/dual.log" --probe-listen)
check "serve :0: the webhook listener is [::] with a port ($tls)" grep -Eq '^\[::\]:[1-9][0-9]*$' <<<"$tls"
check "serve :0: the probe listener is [::] with another port ($probe)" \
  bash -c "grep -Eq '^\[::\]:[1-9][0-9]*$' <<<'$probe' && [ '$tls' != '$probe' ]"
P=$(port_of "$probe") T=$(port_of "$tls")
check "serve :0: probes answer on 127.0.0.1" wait_for $((10 * TW)) up "http://127.0.0.1:$P/healthz"
check "serve :0: probes answer on ::1" up "http://[::1]:$P/healthz"
check "serve :0: TLS answers on 127.0.0.1" up --cacert "$CA" "https://127.0.0.1:$T/healthz"
check "serve :0: TLS answers on ::1" up -k "https://[::1]:$T/healthz"
stop "$LAST_PID"

# --- serve on a kernel without IPv6: ":PORT" falls back to 0.0.0.0 ---
bg "$TMP/nov6.log" "${NOV6[@]}" $LEASEFENCE "${SERVE[@]}" --listen :0 --probe-listen :0
check "no IPv6: serve :0 starts" started "$TMP/nov6.log" --listen --probe-listen
tls=$(address "$TMP/nov6.log" --listen) probe=$(address "$TMP/nov6.log" --probe-listen)
check "no IPv6: the webhook listener is 0.0.0.0 ($tls)" grep -Eq '^0\.0\.0\.0:[1-9][0-9]*$' <<<"$tls"
check "no IPv6: the probe listener is 0.0.0.0 ($probe)" grep -Eq '^0\.0\.0\.0:[1-9][0-9]*$' <<<"$probe"
check "no IPv6: probes answer on 127.0.0.1" wait_for $((10 * TW)) up "http://127.0.0.1:$(port_of "$probe")/healthz"
check "no IPv6: TLS answers on 127.0.0.1" up --cacert "$CA" "https://127.0.0.1:$(port_of "$tls")/healthz"
NOV6_PID=$LAST_PID
TAKEN=$(port_of "$probe")

# --- nothing works: the error keeps the system's ---
out=$("${NOV6[@]}" timeout -k 5 $((20 * TW)) "$BUILD/leasefence" "${SERVE[@]}" --listen :0 --probe-listen ":$TAKEN" 2>&1); rc=$?
expect_eq "no IPv6, port taken: serve fails (exit 1)" 1 "$rc"
check "no IPv6, port taken: the error names the flag, the address and the system's errors" \
  grep -q "\"error\":\"--probe-listen ':$TAKEN': 0.0.0.0:$TAKEN: Address already in use (IPv6: Address family not supported by protocol)\"" <<<"$out"
stop "$NOV6_PID"

# --- serve "[::1]:0": IPv6 loopback only ---
bg "$TMP/v6.log" $LEASEFENCE "${SERVE[@]}" --listen '[::1]:0' --probe-listen '[::1]:0'
check "serve [::1]:0: starts" started "$TMP/v6.log" --listen --probe-listen
probe=$(address "$TMP/v6.log" --probe-listen)
check "serve [::1]:0: the probe listener is [::1] ($probe)" grep -Eq '^\[::1\]:[1-9][0-9]*$' <<<"$probe"
check "serve [::1]:0: probes answer on ::1" wait_for $((10 * TW)) up "http://[::1]:$(port_of "$probe")/healthz"
check "serve [::1]:0: not on 127.0.0.1" bash -c "! curl -sf -o /dev/null 'http://127.0.0.1:$(port_of "$probe")/healthz'"
stop "$LAST_PID"

# --- elect --status-listen ":0": dual-stack too ---
bg "$TMP/elect.log" $LEASEFENCE "${ELECT[@]}" --status-listen :0
check "elect :0: the status listener logs its address" started "$TMP/elect.log" --status-listen
st=$(address "$TMP/elect.log" --status-listen)
check "elect :0: the status listener is [::] ($st)" grep -Eq '^\[::\]:[1-9][0-9]*$' <<<"$st"
check "elect :0: status answers on 127.0.0.1" wait_for $((10 * TW)) up "http://127.0.0.1:$(port_of "$st")/healthz"
check "elect :0: status answers on ::1" up "http://[::1]:$(port_of "$st")/healthz"
stop "$LAST_PID"

# --- elect without IPv6 ---
bg "$TMP/elect-nov6.log" "${NOV6[@]}" $LEASEFENCE "${ELECT[@]}" --status-listen :0
check "no IPv6: elect :0 starts" started "$TMP/elect-nov6.log" --status-listen
st=$(address "$TMP/elect-nov6.log" --status-listen)
check "no IPv6: the status listener is 0.0.0.0 ($st)" grep -Eq '^0\.0\.0\.0:[1-9][0-9]*$' <<<"$st"
check "no IPv6: status answers on 127.0.0.1" wait_for $((10 * TW)) up "http://127.0.0.1:$(port_of "$st")/healthz"
out=$(timeout -k 5 10 "$BUILD/leasefence" "${ELECT[@]}" --status-listen "127.0.0.1:$(port_of "$st")" 2>&1); rc=$?
expect_eq "port taken: elect fails (exit 2)" 2 "$rc"
check "port taken: the error names the flag and the system's error" \
  grep -q "^leasefence elect: --status-listen '127.0.0.1:$(port_of "$st")': Address already in use$" <<<"$out"
stop "$LAST_PID"

out=$(timeout -k 5 10 "$BUILD/leasefence" "${ELECT[@]}" --status-listen 127.0.0.1:65536 2>&1); rc=$?
expect_eq "a port out of range is refused (exit 2)" 2 "$rc"
check "the message says what is wanted" grep -q "'127.0.0.1:65536': expected HOST:PORT or :PORT" <<<"$out"

done_testing
