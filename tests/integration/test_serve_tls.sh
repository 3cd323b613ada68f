#!/usr/bin/env bash
# Certificate rotation (Secret-volume style ..data symlink swap) with no failed
# handshakes and no dropped keep-alive connections; a broken pair keeps the old
# one; key permissions; SIGTERM under load exits 0 without cutting requests.
. "$(dirname "$0")/../lib.sh"

gen() { "$ROOT/certs/generate.sh" "$1" >/dev/null; }
gen "$TMP/a" && gen "$TMP/b" && gen "$TMP/c" || { fail "certificates"; done_testing; exit 1; }
cat "$TMP/a/ca.crt" "$TMP/b/ca.crt" >"$TMP/both-ca.crt"
fp() { openssl x509 -noout -fingerprint -sha256 -in "$1"; }
served_fp() { echo | openssl s_client -connect "127.0.0.1:$PORT" -servername localhost 2>/dev/null | openssl x509 -noout -fingerprint -sha256; }

# a Secret volume: tls.crt -> ..data/tls.crt, ..data -> ..v1
S=$TMP/secret; mkdir -p "$S/..v1" "$S/..v2" "$S/..v3"
cp "$TMP/a/tls.crt" "$TMP/a/tls.key" "$S/..v1/"
cp "$TMP/b/tls.crt" "$TMP/b/tls.key" "$S/..v2/"
cp "$TMP/c/tls.crt" "$S/..v3/"; cp "$TMP/a/tls.key" "$S/..v3/"   # a mismatched pair
ln -s ..v1 "$S/..data"; ln -s ..data/tls.crt "$S/tls.crt"; ln -s ..data/tls.key "$S/tls.key"
swap() { ln -sfn "$1" "$S/..data.tmp" && mv -T "$S/..data.tmp" "$S/..data"; }

start_kube_sim --quiet || { fail "kube-sim starts"; done_testing; exit 1; }
echo '{"fences": [{"lease": "default/x", "writers": {"users": ["u"]}}]}' >"$TMP/fences.json"
bg "$TMP/serve.log" $LEASEFENCE serve --config "$TMP/fences.json" --tls-cert "$S/tls.crt" --tls-key "$S/tls.key" \
  --listen 127.0.0.1:0 --probe-listen 127.0.0.1:0 --threads 2 --shutdown-grace 5s
SERVE_PID=$LAST_PID
{ PORT=$(listen_port "$TMP/serve.log" --listen "$SERVE_PID") &&
  PROBE=$(listen_port "$TMP/serve.log" --probe-listen "$SERVE_PID"); } ||
  { fail "serve listens on the ports it bound"; done_testing; exit 1; }
URL=https://127.0.0.1:$PORT
check "ready" wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$PROBE/readyz"
expect_eq "serves the first certificate" "$(fp "$TMP/a/tls.crt")" "$(served_fp)"
expect_eq "expiry metric is the certificate's notAfter" "$(date -d "$(openssl x509 -noout -enddate -in "$TMP/a/tls.crt" | cut -d= -f2)" +%s)" \
  "$(curl -s "http://127.0.0.1:$PROBE/metrics" | awk '/^leasefence_certificate_expiry_timestamp_seconds/ {print $2}')"

# During the rotation: one keep-alive connection doing 60 requests at 20/s, and
# new connections one after another; every request must succeed.
urls=(); for _ in $(seq 60); do urls+=("$URL/healthz"); done
curl -s --rate 20/s --cacert "$TMP/both-ca.crt" -o /dev/null -w '%{http_code} %{num_connects}\n' "${urls[@]}" >"$TMP/keepalive.out" 2>&1 &
KA=$!
( fails=0; for _ in $(seq 60); do curl -sf -o /dev/null --cacert "$TMP/both-ca.crt" "$URL/healthz" || fails=$((fails + 1)); sleep 0.03; done; echo "$fails" >"$TMP/fresh.out" ) &
FRESH=$!
sleep 1
swap ..v2
check "rotated: s_client shows the new certificate" wait_for 5 bash -c "[ \"\$(echo | openssl s_client -connect 127.0.0.1:$PORT 2>/dev/null | openssl x509 -noout -fingerprint -sha256)\" = '$(fp "$TMP/b/tls.crt")' ]"
wait "$KA"; wait "$FRESH"
expect_eq "keep-alive connection: 60 answers, all 200" "60 60" "$(grep -cE '^[0-9]{3} [0-9]+$' "$TMP/keepalive.out") $(grep -cE '^200 [0-9]+$' "$TMP/keepalive.out")"
expect_eq "keep-alive connection: never reconnected" 1 "$(awk '$1 ~ /^[0-9][0-9][0-9]$/ && $2 ~ /^[0-9]+$/ {s += $2} END {print s}' "$TMP/keepalive.out")"
expect_eq "new connections during the rotation: none failed" 0 "$(cat "$TMP/fresh.out")"
check "rotation logged" grep -q '"msg":"certificate reloaded"' "$TMP/serve.log"
check "old CA no longer verifies" bash -c "! curl -sf -o /dev/null --cacert '$TMP/a/ca.crt' $URL/healthz"

swap ..v3
check "broken pair: logged, old one kept" wait_for 5 grep -q '"msg":"certificate not reloaded, keeping the previous one".*does not match' "$TMP/serve.log"
expect_eq "broken pair: still the previous certificate" "$(fp "$TMP/b/tls.crt")" "$(served_fp)"
m=$(curl -s "http://127.0.0.1:$PROBE/metrics")
expect_eq "certificate reloads counted" "1 1" "$(awk '/^leasefence_certificate_reloads_total\{result="ok"\}/ {o=$2} /^leasefence_certificate_reloads_total\{result="failed"\}/ {f=$2} END {print o, f}' <<<"$m")"

# A key readable by others is served but warned about.
cp "$TMP/b/tls.key" "$TMP/open.key"; chmod 0644 "$TMP/open.key"
bg "$TMP/serve2.log" $LEASEFENCE serve --config "$TMP/fences.json" --tls-cert "$TMP/b/tls.crt" --tls-key "$TMP/open.key" \
  --listen 127.0.0.1:0 --probe-listen "" --threads 1
check "world-readable key: warned" wait_for 5 grep -q '"level":"warn","msg":"tls key file is readable by group or others"' "$TMP/serve2.log"
# A missing key: exit 1 with the reason.
"$BUILD/leasefence" serve --config "$TMP/fences.json" --tls-cert "$TMP/b/tls.crt" --tls-key "$TMP/nope.key" \
  --listen 127.0.0.1:0 --probe-listen "" >"$TMP/nokey.log" 2>&1
expect_eq "missing key: exit 1" 1 "$?"
check "missing key: says which file" grep -q "tls key '$TMP/nope.key': cannot open" "$TMP/nokey.log"

# SIGTERM under load: three request loops; none sees a connection cut mid-request
# (curl exit 52 empty reply / 56 receive error), the server exits 0 within the grace.
req='{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1","resource":{"group":"","version":"v1","resource":"configmaps"},"operation":"UPDATE","userInfo":{"username":"u"}}}'
for i in 1 2 3; do
  ( for _ in $(seq 300); do
      curl -s -o /dev/null --cacert "$TMP/both-ca.crt" -H 'Content-Type: application/json' --data-binary "$req" "$URL/validate"
      echo $?
    done >"$TMP/load.$i" ) &
  LOADS+=($!)
done
sleep 1
start=$(date +%s%N)
kill -TERM "$SERVE_PID"; wait "$SERVE_PID"; rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
for p in "${LOADS[@]}"; do wait "$p"; done
expect_eq "SIGTERM under load: exit 0" 0 "$rc"
check "SIGTERM: stopped within the grace (${ms} ms)" [ "$ms" -lt 5000 ]
cat "$TMP"/load.* >"$TMP/load.all"
echo "# requests during shutdown: $(grep -c '^0$' "$TMP/load.all") ok, $(grep -vc '^0$' "$TMP/load.all") not connected or failed (exit codes: $(sort "$TMP/load.all" | uniq -c | tr '\n' ' '))"
check "SIGTERM: some requests were answered during the load" [ "$(grep -c '^0$' "$TMP/load.all")" -gt 0 ]
expect_eq "SIGTERM: no request cut mid-way (curl 52/56)" 0 "$(grep -cE '^(52|56)$' "$TMP/load.all")"
check "shutdown logged" grep -q '"msg":"stopped"' "$TMP/serve.log"
done_testing
