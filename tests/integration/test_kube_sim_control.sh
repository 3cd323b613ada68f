#!/usr/bin/env bash
# kube-sim as a process: port 0 and DIR/addr, the control-port contract
# (faults, log, services) over curl, watches over HTTP/1.1 and HTTP/2.
. "$(dirname "$0")/../lib.sh"
[ -x "$BUILD/kube-sim" ] || { fail "build/kube-sim missing: run make test-build"; done_testing; exit 1; }

D=$TMP/sim0; mkdir -p "$D"
echo '[{"token":"tok-a","username":"system:serviceaccount:demo:controller","extra":{"authentication.kubernetes.io/pod-name":["pod-a"]}}]' >"$D/users.json"
bg "$TMP/sim0.log" "$BUILD/kube-sim" --addr 127.0.0.1:0 --control-addr 127.0.0.1:0 --dir "$D" --bookmark-interval 300ms
check "DIR/addr written with port 0" wait_for 20 test -s "$D/addr"
A=$(cat "$D/addr"); C=$(cat "$D/control-addr")
check "bound address is 127.0.0.1:N" grep -Eq '^127\.0\.0\.1:[1-9][0-9]*$' "$D/addr"
check "kubeconfig names the bound port" grep -q "server: https://$A" "$D/kubeconfig"
check "kubeconfig carries the CA inline" grep -q 'certificate-authority-data: ' "$D/kubeconfig"
TOK=$(cat "$D/token")
api() { curl -s --cacert "$D/ca.crt" -H "Authorization: Bearer $TOK" "$@"; }
code() { curl -s -o /dev/null -w '%{http_code}' --cacert "$D/ca.crt" -H "Authorization: Bearer $TOK" "$@"; }
ctl() { curl -s -X POST "http://$C$1"; }
LP="https://$A/apis/coordination.k8s.io/v1/namespaces/default/leases"
body='{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"x"},"spec":{"holderIdentity":"pod-a","leaseDurationSeconds":10,"renewTime":"2026-11-24T06:12:00.123456Z"}}'

expect_eq "create with a user token" 201 "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$D/ca.crt" -H 'Authorization: Bearer tok-a' -H 'Content-Type: application/json' -d "$body" "$LP")"
rv=$(api "$LP/x" | jq -r .metadata.resourceVersion)

# Injected failures.
expect_eq "fail rule accepted" '{"ok":true}' "$(ctl '/faults/fail?count=2&code=503&verb=GET')"
expect_eq "1st injected 503" 503 "$(code "$LP")"
expect_eq "2nd injected 503" 503 "$(code "$LP")"
expect_eq "then served" 200 "$(code "$LP")"
ctl '/faults/fail?count=1&code=429&retryAfter=2' >/dev/null
hdr=$(curl -s -D - -o "$TMP/429.json" --cacert "$D/ca.crt" -H "Authorization: Bearer $TOK" "$LP")
check "429 carries Retry-After: 2" grep -qi '^retry-after: 2' <<<"$hdr"
expect_eq "429 Status" 'TooManyRequests 429 2' "$(jq -r '"\(.reason) \(.code) \(.details.retryAfterSeconds)"' "$TMP/429.json")"
ctl '/faults/latency?ms=300' >/dev/null
t=$(curl -s -o /dev/null -w '%{time_total}' --cacert "$D/ca.crt" -H "Authorization: Bearer $TOK" "$LP")
check "latency adds 300 ms" awk -v t="$t" 'BEGIN { exit !(t >= 0.3) }'
ctl '/faults/reset' >/dev/null
ctl '/faults/pause?ms=10000' >/dev/null
( code "$LP" >"$TMP/paused.code" ) & PIDS+=($!)
sleep 0.4
check "paused request is held" test ! -s "$TMP/paused.code"
ctl '/faults/resume' >/dev/null
check "resume releases it" wait_for 5 grep -q 200 "$TMP/paused.code"
expect_eq "bad control request: 400" 400 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$C/faults/fail?code=200")"

# Watches over both protocols; close-watches ends them; bookmarks.
api --http1.1 -N "$LP?watch=1&resourceVersion=$rv&allowWatchBookmarks=true" >"$TMP/w1.out" & W1=$!; PIDS+=($W1)
api --http2 -N "$LP?watch=1&resourceVersion=$rv" >"$TMP/w2.out" & W2=$!; PIDS+=($W2)
sleep 0.3
curl -s -o /dev/null --cacert "$D/ca.crt" -H "Authorization: Bearer $TOK" -X PATCH -H 'Content-Type: application/merge-patch+json' -d '{"spec":{"holderIdentity":"pod-b"}}' "$LP/x"
check "HTTP/1.1 watch gets MODIFIED" wait_for 5 grep -q '"type":"MODIFIED".*"holderIdentity":"pod-b"' "$TMP/w1.out"
check "HTTP/2 watch gets MODIFIED" wait_for 5 grep -q '"type":"MODIFIED".*"holderIdentity":"pod-b"' "$TMP/w2.out"
check "bookmark arrives" wait_for 5 grep -q '"type":"BOOKMARK"' "$TMP/w1.out"
n=$(ctl /faults/close-watches | jq -r .closed)
expect_eq "close-watches closed both" 2 "$n"
check "HTTP/1.1 watch ended" wait_for 5 bash -c "! kill -0 $W1 2>/dev/null"
check "HTTP/2 watch ended" wait_for 5 bash -c "! kill -0 $W2 2>/dev/null"

# Compaction: 410 as an ERROR event.
ctl /faults/compact >/dev/null
out=$(api -N "$LP?watch=1&resourceVersion=$rv&timeoutSeconds=2")
expect_eq "watch from a compacted resourceVersion" 'ERROR 410 Expired' "$(jq -r '"\(.type) \(.object.code) \(.object.reason)"' <<<"$out")"

# The log.
log=$(curl -s "http://$C/log?since=4")
expect_eq "log: commits after the namespaces" "create patch" "$(jq -r 'select(.type=="commit") | .verb' <<<"$log" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "log: user and pod of the create" "system:serviceaccount:demo:controller pod-a" "$(jq -r 'select(.verb=="create") | "\(.user) \(.podName)"' <<<"$log")"
expect_eq "log: since filters" 0 "$(curl -s "http://$C/log?since=1000" | wc -l)"
check "log: lease object with uid" bash -c "jq -e 'select(.verb==\"patch\") | .object.metadata.uid and .object.spec.holderIdentity==\"pod-b\"' <<<'$log' >/dev/null"

# Per-request log lines.
check "request log line" grep -q "kube-sim: PATCH /apis/coordination.k8s.io/v1/namespaces/default/leases/x user=kube-admin code=200 dur=" "$TMP/sim0.log"

# users.json is re-read.
expect_eq "unknown token 401" 401 "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$D/ca.crt" -H 'Authorization: Bearer tok-new' "$LP")"
sleep 0.02; echo '[{"token":"tok-new","username":"late"}]' >"$D/users.json"
expect_eq "added user accepted" 200 "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$D/ca.crt" -H 'Authorization: Bearer tok-new' "$LP")"

done_testing
