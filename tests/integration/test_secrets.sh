#!/usr/bin/env bash
# Secrets: bearer tokens never appear in the logs of serve or elect, at debug
# level, also when the API server refuses the token (401) or fails; the TLS key
# never appears in a log, a key readable by the group is warned about (an
# owner-only one is not), and the key's PEM text does not stay in the
# server's memory after loading (read from /proc/PID/mem), also after a reload.
# (A world-readable key and tokens in elect logs: test_serve_tls.sh, test_elect.sh.)
. "$(dirname "$0")/../lib.sh"

SLOW=1
[ -n "${LEASEFENCE_WRAPPER:-}" ] && SLOW=4

"$ROOT/certs/generate.sh" "$TMP/certs" >/dev/null || { fail "certificates"; done_testing; exit 1; }
CA=$TMP/certs/ca.crt
TOK=token-for-serve-$RANDOM$RANDOM$RANDOM TOKE=token-for-elect-$RANDOM$RANDOM$RANDOM
mkdir -p "$TMP/sim"
cat >"$TMP/sim/users.json" <<EOF
[{"token":"$TOK","username":"serve","uid":"1","groups":["system:authenticated"]},
 {"token":"$TOKE","username":"elect","uid":"2","groups":["system:authenticated"]}]
EOF
start_kube_sim || { fail "kube-sim starts"; done_testing; exit 1; }
kubeconfig() { write_kubeconfig "$1" "$API" "$2" "$SIM_DIR/ca.crt"; }  # FILE TOKEN
kubeconfig "$TMP/serve.kubeconfig" "$TOK"
kubeconfig "$TMP/elect.kubeconfig" "$TOKE"
kubeconfig "$TMP/bad.kubeconfig" "revoked-token-$RANDOM$RANDOM"
BAD=$(awk '/token:/ {print $NF}' "$TMP/bad.kubeconfig" | tr -d '"}]')
cat >"$TMP/fences.json" <<'JSON'
{"fences": [{"lease": "default/leader", "writers": {"users": ["fenced"]}}]}
JSON

# The key, owner-only (generate.sh makes it 0600): no warning.
bg "$TMP/serve.log" $LEASEFENCE serve --kubeconfig "$TMP/serve.kubeconfig" --config "$TMP/fences.json" \
  --tls-cert "$TMP/certs/tls.crt" --tls-key "$TMP/certs/tls.key" \
  --listen 127.0.0.1:0 --probe-listen 127.0.0.1:0 --threads 1 --log-level debug
SERVE_PID=$LAST_PID
PROBE=$(listen_port "$TMP/serve.log" --probe-listen "$SERVE_PID" $((20 * SLOW))) ||
  { fail "serve listens on the probe port it bound"; done_testing; exit 1; }
check "serve ready" wait_for $((10 * SLOW)) curl -sf "http://127.0.0.1:$PROBE/readyz"
check "key mode 0600: no warning" bash -c "! grep -q 'readable by group or others' '$TMP/serve.log'"

# Candidates at debug level, one with a good token, one with a revoked one (401s).
bg "$TMP/elect.log" $LEASEFENCE elect --kubeconfig "$TMP/elect.kubeconfig" --lease default/leader --identity pod-a \
  --lease-duration 3s --renew-deadline 2s --retry-period 500ms
EPID=$LAST_PID
bg "$TMP/elect-bad.log" $LEASEFENCE elect --kubeconfig "$TMP/bad.kubeconfig" --lease default/other --identity pod-b \
  --lease-duration 3s --renew-deadline 2s --retry-period 500ms
check "the revoked token: 401 reported" wait_for $((10 * SLOW)) grep -q '401' "$TMP/elect-bad.log"

# API errors for serve: 401 for the watch (the token revoked), then 500s, then back.
# (serve re-watches at once when its watches close: the first of the failed requests are its)
sim_ctl "/faults/fail?count=4&code=401" >/dev/null && sim_ctl /faults/close-watches >/dev/null
check "serve: the 401 logged" wait_for $((10 * SLOW)) grep -qE '"error":"[^"]*401' "$TMP/serve.log"
sim_ctl "/faults/fail?count=4&code=500" >/dev/null && sim_ctl /faults/close-watches >/dev/null
check "serve: API errors logged" wait_for $((10 * SLOW)) grep -qE '"error":"[^"]*(401|500)' "$TMP/serve.log"
sim_ctl /faults/reset >/dev/null

# Memory: the PEM text of the key must not stay in the process once loaded.
cat >"$TMP/memscan.py" <<'PY'
import re, sys
pid, needles = sys.argv[1], [l.encode() for l in sys.argv[2:]]
found = 0
with open("/proc/%s/maps" % pid) as maps, open("/proc/%s/mem" % pid, "rb", 0) as mem:
    for line in maps:
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
        lo, hi, perm = int(m.group(1), 16), int(m.group(2), 16), m.group(3)
        if perm[0] != "r" or "[vvar]" in line or "[vsyscall]" in line or hi - lo > (1 << 31):
            continue
        try:
            mem.seek(lo)
            data = mem.read(hi - lo)
        except (OSError, ValueError, OverflowError):
            continue
        found += sum(data.count(n) for n in needles)
print(found)
PY
# The key's base64 lines but the last: for the EC keys generate.sh makes, the last line encodes
# only the public key, which the certificate holds too (and so does the server's memory, rightly).
keylines() { mapfile -t KEYLINES < <(grep -v '^-----' "$TMP/certs/tls.key" | sed '$d'); }
keylines
check "the key has base64 lines to look for (${#KEYLINES[@]})" [ "${#KEYLINES[@]}" -ge 2 ]
memscan() { /usr/bin/python3 "$TMP/memscan.py" "$SERVE_PID" "${KEYLINES[@]}"; }
# The scan finds the key in a process that holds its text (a control: the scan can fail).
bg "$TMP/holder.log" /usr/bin/python3 -c "import time; k = open('$TMP/certs/tls.key').read(); time.sleep(30)"
HOLDER=$LAST_PID
check "memory scan finds the key in a process that holds it" \
  wait_for $((5 * SLOW)) bash -c "[ \"\$(/usr/bin/python3 '$TMP/memscan.py' $HOLDER '${KEYLINES[0]}')\" -ge 1 ]"
kill "$HOLDER"
expect_eq "key PEM text not in serve's memory after loading" 0 "$(memscan)"
# Reload: a new certificate and key (same CA) swapped in; the new key's text must not stay either.
"$ROOT/certs/generate.sh" "$TMP/certs" >/dev/null
keylines
check "certificate reloaded" wait_for $((10 * SLOW)) grep -q '"msg":"certificate reloaded"' "$TMP/serve.log"
expect_eq "key PEM text not in serve's memory after a reload" 0 "$(memscan)"

# A key readable by the group is warned about, with its mode.
cp "$TMP/certs/tls.key" "$TMP/group.key"; chmod 0640 "$TMP/group.key"
bg "$TMP/serve2.log" $LEASEFENCE serve --kubeconfig "$TMP/serve.kubeconfig" --config "$TMP/fences.json" \
  --tls-cert "$TMP/certs/tls.crt" --tls-key "$TMP/group.key" --listen 127.0.0.1:0 --probe-listen "" --threads 1
check "key mode 0640: warned, with the mode" wait_for $((10 * SLOW)) grep -q '"msg":"tls key file is readable by group or others".*"mode":"0640"' "$TMP/serve2.log"
# A key that does not match: the error names the file, never its content.
"$ROOT/certs/generate.sh" "$TMP/other" >/dev/null
"$BUILD/leasefence" serve --kubeconfig "$TMP/serve.kubeconfig" --config "$TMP/fences.json" \
  --tls-cert "$TMP/certs/tls.crt" --tls-key "$TMP/other/tls.key" --listen 127.0.0.1:0 --probe-listen "" \
  >"$TMP/mismatch.log" 2>&1
check "mismatched key: refused, names the file" grep -q "tls key '$TMP/other/tls.key': does not match" "$TMP/mismatch.log"

kill -TERM "$EPID" "$SERVE_PID"; wait "$EPID" "$SERVE_PID"
ALLKEYS=$(cat "$TMP/certs/tls.key" "$TMP/other/tls.key" | grep -v '^-----')
check "the logs exist and are not empty" bash -c "[ -s '$TMP/serve.log' ] && [ -s '$TMP/elect.log' ] && [ -s '$TMP/elect-bad.log' ]"
for t in "$TOK" "$TOKE" "$BAD" "$ADMIN_TOKEN"; do
  check "token ${t:0:16}… never logged (serve, elect, at debug, with 401s)" \
    bash -c "! grep -qF '$t' '$TMP'/serve*.log '$TMP'/elect*.log '$TMP'/mismatch.log"
done
check "no 'Bearer' in any log" bash -c "! grep -qi 'bearer [a-z0-9]' '$TMP'/serve*.log '$TMP'/elect*.log"
check "no key material in any log" bash -c "! grep -qFf <(grep -v '^\$' <<<\"\$1\") '$TMP'/serve*.log '$TMP'/elect*.log '$TMP'/mismatch.log" _ "$ALLKEYS"
done_testing
