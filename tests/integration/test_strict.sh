#!/usr/bin/env bash
# Strict fences ("consistency": "strict") against kube-sim: under a 3 s watch delay a watch fence still
# admits the old holder right after the holder changed, a strict fence denies it from the first review
# (and its fresh read updates the watched state); fail closed when the fresh read fails or exceeds
# --strict-timeout; denials answered at once; reads coalesced; a client that goes away while its review
# waits (HTTP/2 stream reset) leaves nothing behind; metrics promtool clean; "consistency" in LeaseFence
# objects as in the file.
. "$(dirname "$0")/../lib.sh"
# Times (ms): the strict budget, API latency past it, the watch delay, "at once".  Under a wrapper (make
# valgrind) the server is ~20x slower: every one is stretched so that the order of events stays the same.
BUDGET=1000 LATE=1500 DELAY=3000 ONCE=500 S=1
[ -n "${LEASEFENCE_WRAPPER:-}" ] && { BUDGET=4000 LATE=6000 DELAY=12000 ONCE=2500 S=5; }
sec() { awk -v ms="$1" 'BEGIN {printf "%.3f", ms / 1000}'; }

"$ROOT/certs/generate.sh" "$TMP/certs" >/dev/null || { fail "certificates"; done_testing; exit 1; }
CA=$TMP/certs/ca.crt
start_kube_sim --quiet || { fail "kube-sim starts"; done_testing; exit 1; }
sim_api "$API/api/v1/namespaces" -d '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"demo"}}' >/dev/null
LEASES=$API/apis/coordination.k8s.io/v1/namespaces/demo/leases
# put_lease HOLDER [NAME]: create or replace demo/NAME (default lead)
put_lease() {
  local now cur rv name=${2:-lead}
  now=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z); cur=$(sim_api "$LEASES/$name"); rv=$(jq -r '.metadata.resourceVersion // empty' <<<"$cur")
  local body='{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"'$name'","namespace":"demo"'${rv:+,\"resourceVersion\":\"$rv\"}'},
    "spec":{"holderIdentity":"'$1'","leaseDurationSeconds":120,"acquireTime":"'$now'","renewTime":"'$now'","leaseTransitions":0}}'
  if [ -n "$rv" ]; then sim_api -X PUT "$LEASES/$name" -d "$body"; else sim_api -X POST "$LEASES" -d "$body"; fi
}

cat >"$TMP/fences.json" <<'JSON'
{"fences": [
  {"lease": "demo/lead", "writers": {"users": ["w-watch"]}},
  {"lease": "demo/lead", "writers": {"users": ["w-strict"]}, "consistency": "strict"},
  {"lease": "demo/lead", "writers": {"users": ["w-audit"]}, "mode": "audit", "consistency": "strict"}
]}
JSON
out=$("$BUILD/leasefence" serve --config "$TMP/fences.json" --check-config 2>&1); rc=$?
expect_eq "--check-config: strict fences are valid" "configuration OK 0" "$out $rc"
out=$("$BUILD/leasefence" serve --config "$TMP/fences.json" --tls-cert x --tls-key y --strict-timeout 5ms 2>&1); rc=$?
expect_eq "--strict-timeout below 10ms: refused" \
  "leasefence: --strict-timeout: from 10ms to 29s, well under the webhook's timeoutSeconds 2" "$out $rc"

put_lease pod-a >/dev/null
# start_serve LOG [ARGS...]: one leasefence serve on the fences above, on ports it picks (port 0);
# sets PORT, PROBE, URL, SERVE_PID
start_serve() {
  local log=$1; shift
  bg "$log" $LEASEFENCE serve --config "$TMP/fences.json" --tls-cert "$TMP/certs/tls.crt" --tls-key "$TMP/certs/tls.key" \
    --listen 127.0.0.1:0 --probe-listen 127.0.0.1:0 --threads 2 --strict-timeout "${BUDGET}ms" "$@"
  SERVE_PID=$LAST_PID
  PORT=$(listen_port "$log" --listen "$SERVE_PID" $((20 * S))) &&
    PROBE=$(listen_port "$log" --probe-listen "$SERVE_PID" $((20 * S))) || return 1
  URL=https://127.0.0.1:$PORT
  wait_for $((10 * S)) curl -sf "http://127.0.0.1:$PROBE/readyz"
}
check "ready" start_serve "$TMP/serve.log"

# review USER POD: an AdmissionReview of a ConfigMap update by USER from pod POD
review() {
  printf '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-%s","kind":{"group":"","version":"v1","kind":"ConfigMap"},"resource":{"group":"","version":"v1","resource":"configmaps"},"name":"x","namespace":"demo","operation":"UPDATE","userInfo":{"username":"%s","groups":["system:authenticated"],"extra":{"authentication.kubernetes.io/pod-name":["%s"]}},"object":{"metadata":{"name":"x"}},"oldObject":null,"dryRun":false}}' \
    "$RANDOM" "$1" "$2"
}
validate() { curl -s --cacert "$CA" -H 'Content-Type: application/json' --data-binary @- "$URL/validate"; }
# decide USER POD: "allowed reason"
decide() { review "$1" "$2" | validate | jq -r '"\(.response.allowed) \(.response.auditAnnotations.reason // "-")"'; }
# timed USER POD: "allowed reason seconds" (seconds as curl measured the whole call)
timed() {
  review "$1" "$2" | curl -s --cacert "$CA" -H 'Content-Type: application/json' --data-binary @- -w ' %{time_total}' "$URL/validate" |
    sed 's/^\(.*\}\) \([0-9.]*\)$/\2 \1/' | { read -r t body; jq -r --arg t "$t" '"\(.response.allowed) \(.response.auditAnnotations.reason // "-") \($t)"' <<<"$body"; }
}
metric() { curl -s "http://127.0.0.1:$PROBE/metrics" | awk -v k="$1" '$1 == k {print $2}'; }

check "watch fence: the holder is admitted" wait_decide 5 "true holder" w-watch pod-a
expect_eq "strict fence: the holder is admitted after a fresh read" "true holder" "$(decide w-strict pod-a)"
expect_eq "strict fence: a non-holder is denied" "false not-holder" "$(decide w-strict pod-b)"
reads=$(metric 'leasefence_strict_reads_total{result="read"}')
check "the fresh read is counted ($reads)" test "${reads:-0}" -ge 1
expect_eq "the review that waited for it is counted" 1 "$(metric 'leasefence_strict_waits_total{result="fresh"}')"
expect_eq "the denial decided on the watched state did not wait" 1 "$(metric 'leasefence_strict_wait_duration_seconds_count')"

# --- a watch held 3 s behind: the watch fence admits the old holder, the strict fence does not ---
sim_ctl "/faults/watch-delay?ms=$DELAY" >/dev/null
t0=$(date +%s.%N)
put_lease pod-b >/dev/null
w_old=$(decide w-watch pod-a)     # first the watch fence: the fresh read below also updates the watched state
s_old=$(decide w-strict pod-a)
s_new=$(decide w-strict pod-b)
w_after=$(decide w-watch pod-a)
t1=$(date +%s.%N)
expect_eq "watch delay $(sec $DELAY) s, right after the holder changed: the watch fence still admits the old holder" "true holder" "$w_old"
expect_eq "... the strict fence denies the old holder from its first review" "false not-holder" "$s_old"
expect_eq "... and admits the new holder" "true holder" "$s_new"
expect_eq "... its fresh read updated the watched state: the watch fence denies the old holder too" "false not-holder" "$w_after"
check "... all inside the watch delay ($(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s)" \
  awk -v a="$t0" -v b="$t1" -v d="$DELAY" 'BEGIN {exit !(b - a < d / 1000 * 0.8)}'
expect_eq "a check the fresh record overturned is counted" 1 "$(metric 'leasefence_strict_overturned_total')"
check "holder_info already shows the new holder (the watch has not delivered it yet)" \
  bash -c "curl -s http://127.0.0.1:$PROBE/metrics | grep -q 'leasefence_lease_holder_info{lease=\"demo/lead\",holder=\"pod-b\"} 1'"
sleep "$(sec $((DELAY + 200)))"   # the delayed events arrive: older than what the fresh read gave, they must not move it back
expect_eq "after the delayed watch events: still the new holder" "true holder" "$(decide w-watch pod-b)"
expect_eq "after the delayed watch events: the old holder still denied" "false not-holder" "$(decide w-watch pod-a)"
sim_ctl /faults/reset >/dev/null

# --- fail closed: the fresh read fails ---
sim_ctl "/faults/fail?count=1&code=500&path=/apis/coordination.k8s.io/v1/namespaces/demo/leases/lead&verb=GET" >/dev/null
resp=$(review w-strict pod-b | validate)
expect_eq "fresh read answered 500: denied unknown" "false unknown" "$(jq -r '"\(.response.allowed) \(.response.auditAnnotations.reason)"' <<<"$resp")"
msg=$(jq -r .response.status.message <<<"$resp")
case $msg in
"leasefence: the state of lease demo/lead could not be read from the API server before deciding (strict consistency: 500 "*'); replica "pod-b"; write denied') ok "the denial says the fresh read failed, and how" ;;
*) fail "the denial says the fresh read failed: $msg" ;;
esac
expect_eq "the next read succeeds: admitted" "true holder" "$(decide w-strict pod-b)"
sim_ctl "/faults/fail?count=1&code=503&path=/apis/coordination.k8s.io/v1/namespaces/demo/leases/lead&verb=GET" >/dev/null
expect_eq "audit mode, fresh read failed: allowed, reason unknown" "true unknown" "$(decide w-audit pod-b)"
expect_eq "failed waits are counted" 2 "$(metric 'leasefence_strict_waits_total{result="failed"}')"
expect_eq "failed reads are counted" 2 "$(metric 'leasefence_strict_reads_total{result="failed"}')"
expect_eq "the watch fence does not read: admitted throughout" "true holder" "$(decide w-watch pod-b)"

# --- fail closed: the fresh read takes longer than --strict-timeout (1 s) ---
sim_ctl "/faults/latency?ms=$LATE" >/dev/null
read -r a r secs <<<"$(timed w-strict pod-b)"
expect_eq "API latency $(sec $LATE) s: the holder's write is denied unknown" "false unknown" "$a $r"
check "... after the $(sec $BUDGET) s budget, before the API answers ($secs s)" \
  awk -v s="$secs" -v b="$BUDGET" -v l="$LATE" 'BEGIN {exit !(s >= b / 1000 * 0.9 && s < l / 1000)}'
read -r a r secs <<<"$(timed w-strict pod-a)"
expect_eq "API latency $(sec $LATE) s: a non-holder is denied on the watched state" "false not-holder" "$a $r"
check "... at once ($secs s)" awk -v s="$secs" -v o="$ONCE" 'BEGIN {exit !(s < o / 1000)}'
read -r a r secs <<<"$(timed w-watch pod-b)"
expect_eq "API latency $(sec $LATE) s: the watch fence admits the holder" "true holder" "$a $r"
check "... at once ($secs s)" awk -v s="$secs" -v o="$ONCE" 'BEGIN {exit !(s < o / 1000)}'
check "the timeout is counted" test "$(metric 'leasefence_strict_waits_total{result="timeout"}')" -ge 1 ||
  curl -s "http://127.0.0.1:$PROBE/metrics" | grep strict_waits_total
check "the failed read is logged" wait_for 5 grep -q '"msg":"cannot read lease afresh","lease":"demo/lead","error":"no answer within '"$BUDGET"' ms"' "$TMP/serve.log"
sim_ctl "/faults/latency?ms=200" >/dev/null
read -r a r secs <<<"$(timed w-strict pod-b)"
expect_eq "API latency 200 ms: admitted" "true holder" "$a $r"
check "... after the read ($secs s)" awk -v s="$secs" -v b="$BUDGET" 'BEGIN {exit !(s >= 0.2 && s < b / 1000)}'

# --- coalescing: 40 reviews sent together over 40 open connections, while each read takes 300 ms ---
sim_ctl "/faults/latency?ms=$((300 * S))" >/dev/null
review w-strict pod-b >"$TMP/review.json"
before=$(metric 'leasefence_strict_reads_total{result="read"}')
allowed=$(/usr/bin/python3 - "$PORT" "$CA" "$TMP/review.json" <<'PY'
import http.client, ssl, sys, threading
port, ca, body = int(sys.argv[1]), sys.argv[2], open(sys.argv[3], "rb").read()
ctx = ssl.create_default_context(cafile=ca)
conns = [http.client.HTTPSConnection("127.0.0.1", port, context=ctx) for _ in range(40)]
for c in conns:
    c.connect()
go, out = threading.Barrier(40), []
def one(c):
    go.wait()
    c.request("POST", "/validate", body=body, headers={"Content-Type": "application/json"})
    out.append(b'"allowed":true' in c.getresponse().read())
ts = [threading.Thread(target=one, args=(c,)) for c in conns]
for t in ts: t.start()
for t in ts: t.join()
print(sum(out))
PY
)
after=$(metric 'leasefence_strict_reads_total{result="read"}')
expect_eq "40 concurrent reviews of the holder: all admitted" 40 "$allowed"
check "... on a few coalesced reads ($((after - before)) GETs for 40 reviews)" test $((after - before)) -le 4
sim_ctl /faults/reset >/dev/null

# --- the same from LeaseFence objects: consistency is a spec field ---
/usr/bin/python3 -c 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))' \
  "$ROOT/manifests/base/crd.yaml" >"$TMP/crd.json"
sim_api "$API/apis/apiextensions.k8s.io/v1/customresourcedefinitions" -d @"$TMP/crd.json" >/dev/null
LF=$API/apis/leasefence.io/v1alpha1/namespaces/demo/leasefences
lf() { printf '{"apiVersion":"leasefence.io/v1alpha1","kind":"LeaseFence","metadata":{"name":"%s","namespace":"demo"},"spec":{"lease":"lead2","writers":{"serviceAccounts":["%s"]}%s}}' "$@"; }
expect_eq "a LeaseFence with consistency strict is stored" strict \
  "$(sim_api "$LF" -d "$(lf lf-strict strict-sa ',"consistency":"strict"')" | jq -r .spec.consistency)"
expect_eq "a LeaseFence without it is stored" null "$(sim_api "$LF" -d "$(lf lf-watch watch-sa '')" | jq -r .spec.consistency)"
put_lease pod-a lead2 >/dev/null
check "LeaseFences: both fences admit the holder" bash -c "$(declare -f review validate decide wait_decide); CA='$CA' URL='$URL'
  wait_decide 10 'true holder' system:serviceaccount:demo:strict-sa pod-a && wait_decide 5 'true holder' system:serviceaccount:demo:watch-sa pod-a"
sim_ctl "/faults/watch-delay?ms=$DELAY" >/dev/null
put_lease pod-b lead2 >/dev/null
w_old=$(decide system:serviceaccount:demo:watch-sa pod-a)
s_old=$(decide system:serviceaccount:demo:strict-sa pod-a)
sim_ctl /faults/reset >/dev/null
expect_eq "LeaseFence, watch delay: the watch fence still admits the old holder" "true holder" "$w_old"
expect_eq "LeaseFence, watch delay: the strict fence denies it from its first review" "false not-holder" "$s_old"

# --- metrics ---
curl -sf "http://127.0.0.1:$PROBE/metrics" >"$TMP/metrics"
check "promtool check metrics" promtool check metrics <"$TMP/metrics"
for name in leasefence_strict_reads_total leasefence_strict_waits_total leasefence_strict_wait_duration_seconds_bucket \
  leasefence_strict_overturned_total; do
  check "metric $name" grep -q "^$name" "$TMP/metrics"
done

# --- a client that goes away while its review waits (HTTP/2: the stream is reset) ---
kill -TERM "$SERVE_PID"; wait "$SERVE_PID"
check "HTTP/2 server ready" start_serve "$TMP/serve-h2.log" --http2
expect_eq "over HTTP/2: the strict fence admits the holder" "true holder" \
  "$(review w-strict pod-b | curl -s --http2 --cacert "$CA" -H 'Content-Type: application/json' --data-binary @- "$URL/validate" | jq -r '"\(.response.allowed) \(.response.auditAnnotations.reason)"')"
sim_ctl "/faults/latency?ms=$((BUDGET * 4 / 5))" >/dev/null
for i in 1 2 3; do
  review w-strict pod-b | curl -s --http2 --max-time "$(sec $((200 * S)))" --cacert "$CA" -H 'Content-Type: application/json' --data-binary @- "$URL/validate" >/dev/null
done
# the reads come back after the requests went away
metric_at_least() { [ "$(metric "$1")" -ge "$2" ] 2>/dev/null; }
check "the requests that went away are counted as gone" \
  wait_for $(((BUDGET + 200) / 1000 + 5)) metric_at_least 'leasefence_strict_waits_total{result="gone"}' 1
sim_ctl /faults/reset >/dev/null
expect_eq "none is in flight" 0 "$(metric 'leasefence_admission_in_flight_requests')"
expect_eq "the server answers on" "true holder" \
  "$(review w-strict pod-b | curl -s --http2 --cacert "$CA" -H 'Content-Type: application/json' --data-binary @- "$URL/validate" | jq -r '"\(.response.allowed) \(.response.auditAnnotations.reason)"')"

# --- shutdown while a review waits: it is answered ---
sim_ctl "/faults/latency?ms=$((BUDGET * 3 / 5))" >/dev/null
review w-strict pod-b | curl -s --cacert "$CA" -H 'Content-Type: application/json' --data-binary @- "$URL/validate" >"$TMP/late.json" &
late=$!
wait_for $((2 * S)) metric_at_least leasefence_admission_in_flight_requests 1   # it waits for its read
kill -TERM "$SERVE_PID"
wait "$late"
expect_eq "SIGTERM while a review waits for its read: it is answered" "true" "$(jq -r .response.allowed "$TMP/late.json")"
for _ in $(seq $((100 * S))); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.05; done
wait "$SERVE_PID"; rc=$?
expect_eq "... and the server exits 0" 0 "$rc"
sim_ctl /faults/reset >/dev/null
done_testing
