#!/usr/bin/env bash
# leasefence serve against kube-sim, with curl over HTTP/1.1 and TLS: every
# decision reason, v1/v1beta1, bad requests, probes and metrics on both ports,
# HTTP/2 off, configuration reload.
. "$(dirname "$0")/../lib.sh"

"$ROOT/certs/generate.sh" "$TMP/certs" >/dev/null || { fail "certificates"; done_testing; exit 1; }
CA=$TMP/certs/ca.crt
start_kube_sim --quiet || { fail "kube-sim starts"; done_testing; exit 1; }
for ns in demo other; do sim_api "$API/api/v1/namespaces" -d '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"'$ns'"}}' >/dev/null; done

# put_lease NS NAME HOLDER DURATION: create or replace the Lease
put_lease() {
  local now; now=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
  local base=$API/apis/coordination.k8s.io/v1/namespaces/$1/leases
  local cur; cur=$(sim_api "$base/$2")
  local rv; rv=$(jq -r '.metadata.resourceVersion // empty' <<<"$cur")
  local tr; tr=$(jq -r '.spec.leaseTransitions // 0' <<<"$cur")
  local body='{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"'$2'","namespace":"'$1'"'${rv:+,\"resourceVersion\":\"$rv\"}'},
    "spec":{"holderIdentity":"'$3'","leaseDurationSeconds":'$4',"acquireTime":"'$now'","renewTime":"'$now'","leaseTransitions":'$tr'}}'
  if [ -n "$rv" ]; then sim_api -X PUT "$base/$2" -d "$body"; else sim_api -X POST "$base" -d "$body"; fi
}
lease_field() { sim_api "$API/apis/coordination.k8s.io/v1/namespaces/$1/leases/$2" | jq -r "$3"; }

cat >"$TMP/fences.json" <<'JSON'
{"fences": [
  {"lease": "demo/controller-leader", "writers": {"users": ["system:serviceaccount:demo:controller"], "groups": []},
   "identity": "podName", "mode": "enforce", "epochAnnotation": "leasefence.io/epoch"},
  {"lease": "demo/warned", "writers": {"users": ["warned"]}, "mode": "warn"},
  {"lease": "demo/audited", "writers": {"users": ["audited"]}, "mode": "audit"},
  {"lease": "demo/by-group", "writers": {"groups": ["fenced-group"]}, "identity": "username"},
  {"lease": "demo/team-audit", "writers": {"groups": ["team"]}, "mode": "audit"},
  {"lease": "demo/team-enforce", "writers": {"groups": ["team"]}},
  {"lease": "demo/team-warn", "writers": {"groups": ["team"]}, "mode": "warn"},
  {"lease": "demo/long-dead", "writers": {"users": ["late"]}}
]}
JSON

# --check-config
out=$("$BUILD/leasefence" serve --config "$TMP/fences.json" --check-config 2>/dev/null); rc=$?
expect_eq "--check-config: valid config" "configuration OK 0" "$out $rc"
out=$("$BUILD/leasefence" serve --config "$TMP/fences.json" --check-config 2>&1 >/dev/null)
expect_eq "--check-config: overlapping fences are warned about" \
  "warning: config '$TMP/fences.json': fences[5].writers.groups[0]: group 'team' is also a writer of fences[4]: its writes must pass every fence that names it
warning: config '$TMP/fences.json': fences[6].writers.groups[0]: group 'team' is also a writer of fences[4]: its writes must pass every fence that names it" "$out"
# One duration grammar for serve and elect (Go's): 1m30s is taken, a bare number is refused.
out=$("$BUILD/leasefence" serve --config "$TMP/fences.json" --check-config --shutdown-grace 1m30s 2>/dev/null); rc=$?
expect_eq "--shutdown-grace 1m30s is taken" "configuration OK 0" "$out $rc"
out=$("$BUILD/leasefence" serve --config "$TMP/fences.json" --check-config --shutdown-grace 3 2>&1); rc=$?
expect_eq "--shutdown-grace 3 is refused, naming the flag and why" \
  "leasefence serve: --shutdown-grace: invalid duration '3': missing unit 2" "$out $rc"
echo '{"fences": [{"lease": "demo/x", "writers": {"users": ["u"]}}, {"lease": "demo/y", "writers": {"users": ["v"]}, "mode": "block"}]}' >"$TMP/bad.json"
out=$("$BUILD/leasefence" serve --config "$TMP/bad.json" --check-config 2>&1); rc=$?
expect_eq "--check-config: the exact error, exit 1" "config '$TMP/bad.json': fences[1].mode: must be one of enforce, warn, audit 1" "$out $rc"

cp "$TMP/fences.json" "$TMP/live.json"
bg "$TMP/serve.log" $LEASEFENCE serve --config "$TMP/live.json" --tls-cert "$TMP/certs/tls.crt" --tls-key "$TMP/certs/tls.key" \
  --listen 127.0.0.1:0 --probe-listen 127.0.0.1:0 --threads 2
SERVE_PID=$LAST_PID
{ PORT=$(listen_port "$TMP/serve.log" --listen "$SERVE_PID") &&
  PROBE=$(listen_port "$TMP/serve.log" --probe-listen "$SERVE_PID"); } ||
  { fail "serve listens on the ports it bound"; done_testing; exit 1; }
URL=https://127.0.0.1:$PORT
check "ready on the probe port" wait_for 10 curl -sf "http://127.0.0.1:$PROBE/readyz"
check "ready on the TLS port" curl -sf -o /dev/null --cacert "$CA" "$URL/readyz"
check "healthz on both ports" bash -c "curl -sf -o /dev/null http://127.0.0.1:$PROBE/healthz && curl -sf -o /dev/null --cacert '$CA' $URL/healthz"

# review VERSION USER POD [OP] [GROUP] [RESOURCE_GROUP RESOURCE] [ANNOTATIONS_JSON] [NAME]: an AdmissionReview
review() {
  local v=$1 user=$2 pod=$3 op=${4:-UPDATE} group=${5:-system:authenticated} rg=${6:-} res=${7:-configmaps} ann=${8:-\{\}} name=${9:-state}
  local extra='{}'; [ -n "$pod" ] && extra='{"authentication.kubernetes.io/pod-name":["'$pod'"]}'
  printf '{"apiVersion":"admission.k8s.io/%s","kind":"AdmissionReview","request":{"uid":"uid-%s-%s","kind":{"group":"%s","version":"v1","kind":"X"},"resource":{"group":"%s","version":"v1","resource":"%s"},"name":"%s","namespace":"demo","operation":"%s","userInfo":{"username":"%s","uid":"1","groups":["%s"],"extra":%s},"object":{"metadata":{"name":"%s","annotations":%s}},"oldObject":null,"dryRun":false}}' \
    "$v" "$v" "$RANDOM" "$rg" "$rg" "$res" "$name" "$op" "$user" "$group" "$extra" "$name" "$ann"
}
validate() { curl -s --cacert "$CA" -H 'Content-Type: application/json' --data-binary @- "$URL/validate"; }
# decide ARGS...: "allowed reason" of the answer to review ARGS
decide() { review "$@" | validate | jq -r '"\(.response.allowed) \(.response.auditAnnotations.reason // "-")"'; }
CTRL=system:serviceaccount:demo:controller

expect_eq "no Lease yet: denied no-lease" "false no-lease" "$(decide v1 $CTRL pod-a)"
put_lease demo controller-leader pod-a 15 >/dev/null
check "the new Lease reaches the decision" wait_decide 5 "true holder" v1 $CTRL pod-a
expect_eq "holder: allowed" "true holder" "$(decide v1 $CTRL pod-a)"
resp=$(review v1 $CTRL pod-b | validate)
expect_eq "not the holder: denied" "false not-holder" "$(jq -r '"\(.response.allowed) \(.response.auditAnnotations.reason)"' <<<"$resp")"
expect_eq "denial: status 403 Forbidden" "403 Forbidden" "$(jq -r '"\(.response.status.code) \(.response.status.reason)"' <<<"$resp")"
expect_eq "denial message names replica, Lease and holder" \
  'leasefence: replica "pod-b" is not the holder of lease demo/controller-leader (held by "pod-a"); write denied' \
  "$(jq -r .response.status.message <<<"$resp")"
expect_eq "audit annotation: holder" "pod-a" "$(jq -r .response.auditAnnotations.holder <<<"$resp")"
expect_eq "never a patch" "null null" "$(jq -r '"\(.response.patch) \(.response.patchType)"' <<<"$resp")"
# (lines are written once per event-loop iteration, right after the answer: wait_for, not a bare grep)
check "one log line per denial (user, identity, lease, holder, reason)" \
  wait_for 5 grep -q '"msg":"write denied".*"user":"system:serviceaccount:demo:controller","identity":"pod-b".*"lease":"demo/controller-leader","holder":"pod-a","reason":"not-holder"' "$TMP/serve.log"
expect_eq "no identity: denied untagged" "false untagged" "$(decide v1 $CTRL '')"
expect_eq "unfenced writer: allowed" "true -" "$(decide v1 someone pod-b)"
expect_eq "a fence's own Lease (an election) is never fenced" "true -" \
  "$(decide v1 $CTRL pod-b UPDATE x coordination.k8s.io leases '{}' controller-leader)"
expect_eq "leasecandidates are never fenced" "true -" \
  "$(decide v1 $CTRL pod-b CREATE x coordination.k8s.io leasecandidates '{}' controller-leader-pod-b)"
expect_eq "a Lease no fence watches is fenced like any object" "false not-holder" \
  "$(decide v1 $CTRL pod-b UPDATE x coordination.k8s.io leases '{}' shard-assignment)"
expect_eq "fenced by group, identity username" "false no-lease" "$(decide v1 replica-1 '' CREATE fenced-group)"

# v1 and v1beta1 are each answered in their own version, echoing the uid
req=$(review v1beta1 $CTRL pod-a); uid=$(jq -r .request.uid <<<"$req")
resp=$(validate <<<"$req")
expect_eq "v1beta1 answered as v1beta1" "admission.k8s.io/v1beta1 AdmissionReview $uid" "$(jq -r '"\(.apiVersion) \(.kind) \(.response.uid)"' <<<"$resp")"
req=$(review v1 $CTRL pod-a); uid=$(jq -r .request.uid <<<"$req")
resp=$(validate <<<"$req")
expect_eq "v1 answered as v1" "admission.k8s.io/v1 AdmissionReview $uid" "$(jq -r '"\(.apiVersion) \(.kind) \(.response.uid)"' <<<"$resp")"
# a uid and an identity that need escaping come back exactly (the answer is built by hand, not by a JSON library)
req=$(review v1 $CTRL pod-b | jq -c '.request.uid = "u\"1\\2\u0001\t3-\u00e9-\u2603"
  | .request.userInfo.extra["authentication.kubernetes.io/pod-name"] = ["pod-\"b\"\\x"]')
resp=$(validate <<<"$req")
expect_eq "escaped uid echoed exactly" "$(jq -r .request.uid <<<"$req" | od -c)" "$(jq -r .response.uid <<<"$resp" | od -c)"
jq -r .response.status.message <<<"$resp" >"$TMP/msg"; printf '%s\n' 'leasefence: replica "pod-"b"\x" is not the holder' >"$TMP/want"
check "escaped identity in the denial message" grep -qF -f "$TMP/want" "$TMP/msg"

# epoch: "<uid>/<transitions>"
luid=$(lease_field demo controller-leader .metadata.uid)
expect_eq "current epoch tag: allowed" "true holder" "$(decide v1 $CTRL pod-a UPDATE x '' configmaps '{"leasefence.io/epoch":"'$luid'/0"}')"
expect_eq "stale epoch tag: denied" "false stale-epoch" "$(decide v1 $CTRL pod-a UPDATE x '' configmaps '{"leasefence.io/epoch":"'$luid'/7"}')"

# no-holder (released), expired
put_lease demo controller-leader "" 1 >/dev/null
check "released Lease: denied no-holder" wait_decide 5 "false no-holder" v1 $CTRL pod-a
put_lease demo controller-leader pod-a 1 >/dev/null
check "not renewed within leaseDurationSeconds: denied expired" wait_decide 5 "false expired" v1 $CTRL pod-a
put_lease demo controller-leader pod-a 15 >/dev/null
check "renewed: holder again" wait_decide 5 "true holder" v1 $CTRL pod-a

# warn and audit modes
put_lease demo warned pod-a 15 >/dev/null; put_lease demo audited pod-a 15 >/dev/null
# (until both Leases reached the tracker: before, the reason is no-lease; the checks below assert)
wait_decide 5 "true not-holder" v1 warned pod-b; wait_decide 5 "true not-holder" v1 audited pod-b
resp=$(review v1 warned pod-b | validate)
expect_eq "warn mode: allowed, reason kept" "true not-holder" "$(jq -r '"\(.response.allowed) \(.response.auditAnnotations.reason)"' <<<"$resp")"
expect_eq "warn mode: a warning" 'leasefence: replica "pod-b" is not the holder of lease demo/warned (held by "pod-a"); write would be denied (fence mode warn)' "$(jq -r '.response.warnings[0]' <<<"$resp")"
resp=$(review v1 audited pod-b | validate)
expect_eq "audit mode: allowed and annotated, no warning" "true not-holder null" "$(jq -r '"\(.response.allowed) \(.response.auditAnnotations.reason) \(.response.warnings)"' <<<"$resp")"

# bad requests
code() { curl -s -o "$TMP/body" -w '%{http_code}' --cacert "$CA" "$@"; }
expect_eq "GET /validate: 405" 405 "$(code "$URL/validate")"
expect_eq "text/plain: 415" 415 "$(code -H 'Content-Type: text/plain' --data-binary '{}' "$URL/validate")"
expect_eq "malformed JSON: 400" 400 "$(code -H 'Content-Type: application/json' --data-binary '{"apiVersion":' "$URL/validate")"
check "400 says what is wrong" grep -q 'bad AdmissionReview: ' "$TMP/body"
expect_eq "not an AdmissionReview: 400" 400 "$(code -H 'Content-Type: application/json' --data-binary '{"apiVersion":"v1","kind":"Pod"}' "$URL/validate")"
expect_eq "no uid: 400" 400 "$(code -H 'Content-Type: application/json' --data-binary '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}' "$URL/validate")"
head -c $((8 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$TMP/big"
expect_eq "8 MiB body: 413" 413 "$(code -H 'Content-Type: application/json' --data-binary @"$TMP/big" "$URL/validate")"
expect_eq "/validate is not on the plain probe port" 404 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary '{}' "http://127.0.0.1:$PROBE/validate")"
check "bad requests are logged" wait_for 5 grep -q '"msg":"bad request","code":"415"' "$TMP/serve.log"
check "no 'h2o' in the server header" bash -c "! curl -sI --cacert '$CA' $URL/healthz | grep -qi '^server:.*h2o'"
req=$(review v1 $CTRL pod-a)
expect_eq "responses carry Content-Length" "$(validate <<<"$req" | wc -c)" \
  "$(curl -s -D - -o /dev/null --cacert "$CA" -H 'Content-Type: application/json' --data-binary "$req" "$URL/validate" | tr -d '\r' | awk -F': ' 'tolower($1)=="content-length"{print $2}')"

# HTTP/2 is off: ALPN offers only http/1.1, and h2c upgrades are refused
expect_eq "curl --http2 over TLS negotiates HTTP/1.1" 1.1 "$(curl -s -o /dev/null -w '%{http_version}' --http2 --cacert "$CA" "$URL/healthz")"
alpn=$(echo | openssl s_client -connect "127.0.0.1:$PORT" -alpn h2,http/1.1 2>/dev/null | grep -i 'ALPN protocol')
expect_eq "openssl s_client: ALPN http/1.1" "ALPN protocol: http/1.1" "$alpn"
expect_eq "h2c upgrade on the plain port is not upgraded" "200 1.1" "$(curl -s -o /dev/null -w '%{http_code} %{http_version}' --http2 "http://127.0.0.1:$PROBE/healthz")"
expect_eq "TLS 1.1 is refused" fail "$(echo | openssl s_client -connect "127.0.0.1:$PORT" -tls1_1 >/dev/null 2>&1 && echo ok || echo fail)"

# One writer, three fences (issue 12): an audit fence listed before an enforce fence, and a warn fence.
for l in "team-audit pod-a" "team-enforce pod-b" "team-warn pod-c"; do put_lease demo $l 15 >/dev/null; done
check "team Leases reach the tracker" wait_for 5 bash -c "curl -s http://127.0.0.1:$PROBE/metrics | grep -c -e 'holder_info{lease=\"demo/team-audit\",holder=\"pod-a\"}' -e 'holder_info{lease=\"demo/team-enforce\",holder=\"pod-b\"}' -e 'holder_info{lease=\"demo/team-warn\",holder=\"pod-c\"}' | grep -qx 3"
resp=$(review v1 member pod-a UPDATE team | validate)
expect_eq "holder of the audit fence only: the enforce fence listed after it denies" \
  "false not-holder demo/team-enforce" \
  "$(jq -r '"\(.response.allowed) \(.response.auditAnnotations.reason) \(.response.auditAnnotations.lease)"' <<<"$resp")"
expect_eq "the denial names the fence that decided" \
  'leasefence: replica "pod-a" is not the holder of lease demo/team-enforce (held by "pod-b"); write denied' \
  "$(jq -r .response.status.message <<<"$resp")"
resp=$(review v1 member pod-b UPDATE team | validate)
expect_eq "holder of the enforce fence: allowed, the warn fence warns" \
  'true not-holder demo/team-warn ["leasefence: replica \"pod-b\" is not the holder of lease demo/team-warn (held by \"pod-c\"); write would be denied (fence mode warn)"]' \
  "$(jq -c -r '"\(.response.allowed) \(.response.auditAnnotations.reason) \(.response.auditAnnotations.lease) \(.response.warnings)"' <<<"$resp")"
check "each failing fence logs its own line" \
  wait_for 5 grep -q '"msg":"write would be denied".*"identity":"pod-b".*"lease":"demo/team-audit".*"reason":"not-holder","mode":"audit"' "$TMP/serve.log"

# A holder that stopped renewing an hour before this replica first saw its Lease (issue 12): not a
# whole lease duration of validity from first sight, but expired at once (renewTime + duration + skew).
sim_api "$API/apis/coordination.k8s.io/v1/namespaces/demo/leases" -d '{"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
  "metadata":{"name":"long-dead"},"spec":{"holderIdentity":"pod-a","leaseDurationSeconds":3600,
  "renewTime":"'"$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%S.000000Z)"'","leaseTransitions":0}}' >/dev/null
check "first seen two hours after its renewTime, a 1 h Lease is expired at once" \
  wait_decide 5 "false expired" v1 late pod-a
check "leasefence_lease_expired agrees" bash -c "curl -s http://127.0.0.1:$PROBE/metrics | grep -qx 'leasefence_lease_expired{lease=\"demo/long-dead\"} 1'"

# metrics on both ports, promtool clean
curl -sf "http://127.0.0.1:$PROBE/metrics" >"$TMP/metrics" && curl -sf --cacert "$CA" "$URL/metrics" >"$TMP/metrics.tls"
check "promtool check metrics (probe port)" promtool check metrics <"$TMP/metrics"
check "promtool check metrics (TLS port)" promtool check metrics <"$TMP/metrics.tls"
m() { grep -F "$1" "$TMP/metrics" | awk '{print $NF}'; }
expect_eq "requests counted by decision, reason, fence, mode (three not-holder denials above)" 3 \
  "$(m 'leasefence_admission_requests_total{decision="denied",reason="not-holder",fence="demo/controller-leader",mode="enforce"}')"
expect_eq "holder info" 1 "$(m 'leasefence_lease_holder_info{lease="demo/controller-leader",holder="pod-a"}')"
expect_eq "every fence weighed is counted: the audit fence passed once and failed once" "1 1" \
  "$(m 'leasefence_fence_checks_total{fence="demo/team-audit",mode="audit",reason="holder"}') $(m 'leasefence_fence_checks_total{fence="demo/team-audit",mode="audit",reason="not-holder"}')"
expect_eq "a request is counted once, under the fence that decided" 1 \
  "$(m 'leasefence_admission_requests_total{decision="denied",reason="not-holder",fence="demo/team-enforce",mode="enforce"}')"
expect_eq "synced" 1 "$(m 'leasefence_lease_synced{lease="demo/controller-leader"}')"
expect_eq "expired" 0 "$(m 'leasefence_lease_expired{lease="demo/controller-leader"}')"
expect_eq "bad requests by code" 1 "$(m 'leasefence_bad_requests_total{code="415"}')"
for name in leasefence_admission_request_duration_seconds_bucket leasefence_admission_in_flight_requests \
  leasefence_lease_transitions leasefence_lease_last_change_age_seconds leasefence_watch_restarts_total \
  leasefence_kube_api_requests_total leasefence_config_reloads_total leasefence_certificate_reloads_total \
  leasefence_certificate_expiry_timestamp_seconds leasefence_build_info process_resident_memory_bytes \
  process_cpu_seconds_total process_open_fds process_max_fds process_start_time_seconds; do
  check "metric $name" grep -q "^$name" "$TMP/metrics"
done
check "latency buckets from 100 µs" grep -q 'leasefence_admission_request_duration_seconds_bucket{le="0.0001"}' "$TMP/metrics"

# unknown: a Lease the API server never lets us list (fail closed)
sim_ctl "/faults/fail?code=500&count=100000&path=/apis/coordination.k8s.io/v1/namespaces/other" >/dev/null
jq '.fences += [{"lease": "other/unlisted", "writers": {"users": ["blind"]}}]' "$TMP/fences.json" >"$TMP/next.json"
mv "$TMP/next.json" "$TMP/live.json"
check "config reload: a new fence applies" wait_decide 5 "false unknown" v1 blind pod-a
expect_eq "lease state unknown: denied" "false unknown" "$(decide v1 blind pod-a)"
expect_eq "not ready while a Lease is not synced" 503 "$(curl -s -o "$TMP/body" -w '%{http_code}' "http://127.0.0.1:$PROBE/readyz")"
check "readyz says which Lease" grep -q 'other/unlisted' "$TMP/body"
check "/metrics shows it unsynced" bash -c "curl -s http://127.0.0.1:$PROBE/metrics | grep -q 'leasefence_lease_synced{lease=\"other/unlisted\"} 0'"
cp "$TMP/fences.json" "$TMP/next.json" && mv "$TMP/next.json" "$TMP/live.json" # the fence removed again
check "a Lease no fence names any more does not hold readiness" wait_for 10 curl -sf "http://127.0.0.1:$PROBE/readyz"
check "its Lease series leave /metrics" bash -c "! curl -s http://127.0.0.1:$PROBE/metrics | grep -q 'leasefence_lease_synced{lease=\"other/unlisted\"'"
sim_ctl /faults/reset >/dev/null
check "ready once synced" wait_for 10 curl -sf "http://127.0.0.1:$PROBE/readyz"

# an invalid new config keeps the old one
echo '{"fences": [' >"$TMP/live.json"
check "invalid config: reload failure logged" wait_for 5 grep -q '"msg":"configuration not reloaded, keeping the previous one"' "$TMP/serve.log"
put_lease demo controller-leader pod-a 15 >/dev/null # renewed: this far into the test 15 s may have passed
check "invalid config: the old fences still apply" wait_decide 5 "false not-holder" v1 $CTRL pod-b
check "invalid config: counted" bash -c "curl -s http://127.0.0.1:$PROBE/metrics | grep -q '^leasefence_config_reloads_total{result=\"failed\"} 1'"
check "reloads counted ok" bash -c "curl -s http://127.0.0.1:$PROBE/metrics | grep -q '^leasefence_config_reloads_total{result=\"ok\"} 2'"

# a ConfigMap-style volume: the file is a symlink into a ..data directory that is swapped
mkdir -p "$TMP/cm/..v1" "$TMP/cm/..v2"
cp "$TMP/fences.json" "$TMP/cm/..v1/fences.json"
jq '.fences[0].mode = "audit"' "$TMP/fences.json" >"$TMP/cm/..v2/fences.json"
ln -s ..v1 "$TMP/cm/..data"; ln -s ..data/fences.json "$TMP/cm/fences.json"
cp "$TMP/cm/fences.json" "$TMP/live.json.tmp" && mv "$TMP/live.json.tmp" "$TMP/live.json"
check "logs are JSON lines" bash -c "jq -e . '$TMP/serve.log' >/dev/null"

kill -TERM "$SERVE_PID"; wait "$SERVE_PID"; rc=$?
expect_eq "SIGTERM: exit 0" 0 "$rc"

# (free_port: this server runs at --log-level warn, which the test is about, so it does not log the
# info line that names the port it bound)
PORT=$(free_port)
bg "$TMP/serve2.log" $LEASEFENCE serve --config "$TMP/cm/fences.json" --tls-cert "$TMP/certs/tls.crt" --tls-key "$TMP/certs/tls.key" \
  --listen "127.0.0.1:$PORT" --probe-listen "" --threads 1 --http2 --log-level warn --request-timeout 1s
URL=https://127.0.0.1:$PORT
check "second server ready (no probe port)" wait_for 10 curl -sf --cacert "$CA" "$URL/readyz"
expect_eq "enforce before the ..data swap" "false not-holder" "$(decide v1 $CTRL pod-b)"
ln -sfn ..v2 "$TMP/cm/..data.tmp" && mv -T "$TMP/cm/..data.tmp" "$TMP/cm/..data"
check "ConfigMap-style symlink swap is picked up (audit: allowed)" wait_decide 5 "true not-holder" v1 $CTRL pod-b
expect_eq "--http2: ALPN h2 offered" 2 "$(curl -s -o /dev/null -w '%{http_version}' --http2 --cacert "$CA" "$URL/healthz")"
expect_eq "--http2: HTTP/1.1 still served" 1.1 "$(curl -s -o /dev/null -w '%{http_version}' --http1.1 --cacert "$CA" "$URL/healthz")"
check "--log-level warn: no info lines" bash -c "! grep -q '\"level\":\"info\"' '$TMP/serve2.log'"
# slow clients: a request whose headers never end, and a connection that never handshakes
cat >"$TMP/slow.py" <<'PY'
import socket, ssl, sys, time
port, ca, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
raw = socket.create_connection(("127.0.0.1", port))
raw.settimeout(10)
s = raw
if mode == "header":
    s = ssl.create_default_context(cafile=ca).wrap_socket(raw, server_hostname="localhost")
    s.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
t0 = time.monotonic()
try:
    while s.recv(4096):
        pass
except (ConnectionResetError, ssl.SSLError):
    pass
except socket.timeout:
    print("open"); sys.exit(0)
print("%.1f" % (time.monotonic() - t0))
PY
t=$(/usr/bin/python3 "$TMP/slow.py" "$PORT" "$CA" header)
check "slow headers: connection closed by the request timeout (${t}s)" awk -v t="$t" 'BEGIN { exit !(t != "open" && t < 3) }'
t=$(/usr/bin/python3 "$TMP/slow.py" "$PORT" "$CA" nohandshake)
check "no TLS handshake: connection closed by the timeout (${t}s)" awk -v t="$t" 'BEGIN { exit !(t != "open" && t < 3) }'
# a bounded number of connections: with 2 open, a third waits until one closes
bg "$TMP/serve3.log" $LEASEFENCE serve --config "$TMP/fences.json" --tls-cert "$TMP/certs/tls.crt" --tls-key "$TMP/certs/tls.key" \
  --listen 127.0.0.1:0 --probe-listen 127.0.0.1:0 --threads 1 --max-connections 2
P3=$(listen_port "$TMP/serve3.log" --probe-listen "$LAST_PID") || fail "third server: the probe port it bound"
check "third server ready" wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$P3/healthz"
cat >"$TMP/conns.py" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
def get(s):
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    return s.recv(4096).startswith(b"HTTP/1.1 200")
a = socket.create_connection(("127.0.0.1", port)); b = socket.create_connection(("127.0.0.1", port))
ok = get(a) and get(b)
c = socket.create_connection(("127.0.0.1", port)); c.settimeout(0.7)
try:
    third_waited = not get(c)
except socket.timeout:
    third_waited = True
a.close()
c.settimeout(3)
third_later = c.recv(4096).startswith(b"HTTP/1.1 200")
print(ok, third_waited, third_later)
PY
expect_eq "--max-connections 2: two served, the third waits, then is served" "True True True" "$(/usr/bin/python3 "$TMP/conns.py" "$P3")"
commit=$(sed -n 's/^#define LEASEFENCE_COMMIT "\(.*\)"$/\1/p' "$BUILD/gen/version.h")
expect_eq "version: VERSION, and the commit when the build had one" \
  "leasefence $(cat "$ROOT/VERSION")${commit:+ ($commit)}" "$("$BUILD/leasefence" version)"
check "--help lists the commands" bash -c "'$BUILD/leasefence' --help | grep -q 'serve' && '$BUILD/leasefence' serve --help | grep -q -- '--shutdown-grace'"
"$BUILD/leasefence" serve --config "$TMP/fences.json" --threads zero >/dev/null 2>"$TMP/usage.err"
expect_eq "bad flag value: exit 2 with a message" "2 leasefence: --threads: 'zero' is not a number from 1 to 256" "$? $(cat "$TMP/usage.err")"

# --- a body over 7 MiB is refused 413 by h2o before any handler: still counted and logged as a bad request ---
bg "$TMP/big.log" $LEASEFENCE serve --config "$TMP/fences.json" --tls-cert "$TMP/certs/tls.crt" --tls-key "$TMP/certs/tls.key" \
  --listen 127.0.0.1:0 --probe-listen 127.0.0.1:0 --threads 1
BIG_PID=$LAST_PID
check "413: the server starts on port 0" wait_for 10 bash -c "grep -q '\"msg\":\"serving\"' '$TMP/big.log'"
BT=$(listen_port "$TMP/big.log" --listen "$BIG_PID") BP=$(listen_port "$TMP/big.log" --probe-listen "$BIG_PID")
head -c $((7 * 1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$TMP/over"
big() { curl -s -o /dev/null -w '%{http_code}' --max-time 60 --cacert "$CA" -H 'Content-Type: application/json' "$@" "https://127.0.0.1:$BT/validate"; }
expect_eq "413: 7 MiB + 1 byte with a Content-Length" 413 "$(big --data-binary @"$TMP/over")"
expect_eq "413: 7 MiB + 1 byte chunked" 413 "$(big -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/over")"
big_metric() { curl -s "http://127.0.0.1:$BP/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
expect_eq "413: both counted in leasefence_bad_requests_total{code=\"413\"}" 2 \
  "$(big_metric 'leasefence_bad_requests_total{code="413"}')"
expect_eq "413: and logged as bad requests" 2 "$(grep -c '"msg":"bad request","code":"413"' "$TMP/big.log")"
kill "$BIG_PID" 2>/dev/null; wait "$BIG_PID" 2>/dev/null

done_testing
