#!/usr/bin/env bash
# Leases as kube-apiserver stores them, and Leases that cannot be decoded:
# - "\u0000" inside strings (Go strings may hold NUL; kube-apiserver accepts it):
#   `leasefence serve` decodes such a Lease (ready, synced), its fence never takes
#   "replica-a" for the holder "replica-a\u0000x"; `leasefence elect` keeps renewing
#   a Lease whose other fields hold NUL, takes over an expired one, and prints such
#   a holder whole (status JSON, log).  Against kube-sim.
# - A Lease that truly cannot be decoded (a field of the wrong type, an event that
#   is not JSON) is unknown at once: /readyz 503 naming it, leasefence_lease_synced 0.
#   kube-sim, like kube-apiserver, refuses to store such a Lease, so a small fake API
#   server serves it.
. "$(dirname "$0")/../lib.sh"
LD=2000 RD=1500 RP=400 TW=1
if [ -n "${LEASEFENCE_WRAPPER:-}" ]; then LD=6000 RD=4500 RP=1200 TW=4; fi
DUR=(--lease-duration ${LD}ms --renew-deadline ${RD}ms --retry-period ${RP}ms)

"$ROOT/certs/generate.sh" "$TMP/certs" >/dev/null || { fail "certificates"; done_testing; exit 1; }
CA=$TMP/certs/ca.crt
start_kube_sim --quiet || { fail "kube-sim starts"; done_testing; exit 1; }
sim_api "$API/api/v1/namespaces" -d '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"demo"}}' >/dev/null
LEASES=$API/apis/coordination.k8s.io/v1/namespaces/demo/leases
lease() { sim_api "$LEASES/$1"; }
now() { date -u +%Y-%m-%dT%H:%M:%S.%6NZ; }
msleep() { sleep "$(($1 / 1000)).$(printf %03d $(($1 % 1000)))"; }
# put_nul_lease NAME DURATION RENEWTIME: held by "replica-a\u0000x", with NUL in an annotation
put_nul_lease() {
  sim_api -X POST "$LEASES" -d '{"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
    "metadata":{"name":"'$1'","namespace":"demo","annotations":{"note":"a\u0000b"}},
    "spec":{"holderIdentity":"replica-a\u0000x","leaseDurationSeconds":'$2',"acquireTime":"'$3'","renewTime":"'$3'","leaseTransitions":3}}'
}

# --- kube-sim keeps what kube-apiserver keeps ---
put_nul_lease fenced 15 "$(now)" >/dev/null
expect_eq "kube-sim stores and serves a holder with \\u0000" '"replica-a\u0000x"' "$(lease fenced | jq -c .spec.holderIdentity)"
check "kube-sim serves it escaped as \\u0000" bash -c "curl -s --cacert '$SIM_DIR/ca.crt' -H 'Authorization: Bearer $ADMIN_TOKEN' '$LEASES/fenced' | grep -qF 'replica-a\\u0000x'"

# --- serve: the Lease is decoded; "replica-a" is not its holder ---
cat >"$TMP/fences.json" <<'JSON'
{"fences": [{"lease": "demo/fenced", "writers": {"users": ["system:serviceaccount:demo:controller"]},
             "identity": "podName", "mode": "enforce"}]}
JSON
bg "$TMP/serve.log" $LEASEFENCE serve --config "$TMP/fences.json" --tls-cert "$TMP/certs/tls.crt" --tls-key "$TMP/certs/tls.key" \
  --listen 127.0.0.1:0 --probe-listen 127.0.0.1:0 --threads 1
{ PORT=$(listen_port "$TMP/serve.log" --listen "$LAST_PID" $((20 * TW))) &&
  PROBE=$(listen_port "$TMP/serve.log" --probe-listen "$LAST_PID" $((20 * TW))); } ||
  { fail "serve listens on the ports it bound"; done_testing; exit 1; }
URL=https://127.0.0.1:$PORT
check "serve: ready with a Lease holding \\u0000 (it is decodable)" wait_for $((10 * TW)) curl -sf "http://127.0.0.1:$PROBE/readyz"
curl -s "http://127.0.0.1:$PROBE/metrics" >"$TMP/metrics"
expect_eq "serve: leasefence_lease_synced 1" 1 "$(grep -aF 'leasefence_lease_synced{lease="demo/fenced"}' "$TMP/metrics" | awk '{print $NF}')"
check "serve: holder_info shows the holder whole, not \"replica-a\"" \
  grep -aqF 'leasefence_lease_holder_info{lease="demo/fenced",holder="replica-a\\x00x"} 1' "$TMP/metrics"
check "serve: promtool accepts the metrics" promtool check metrics <"$TMP/metrics"
# review POD: an AdmissionReview of a ConfigMap write by the fenced writer from pod POD (JSON text, may hold \u0000)
review() {
  printf '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-%s","kind":{"group":"","version":"v1","kind":"ConfigMap"},"resource":{"group":"","version":"v1","resource":"configmaps"},"name":"state","namespace":"demo","operation":"UPDATE","userInfo":{"username":"system:serviceaccount:demo:controller","uid":"1","groups":["system:authenticated"],"extra":{"authentication.kubernetes.io/pod-name":["%s"]}},"object":{"metadata":{"name":"state"}},"oldObject":null,"dryRun":false}}' "$RANDOM" "$1"
}
validate() { curl -s --cacert "$CA" -H 'Content-Type: application/json' --data-binary @- "$URL/validate"; }
decide() { review "$1" | validate | jq -r '"\(.response.allowed) \(.response.auditAnnotations.reason // "-")"'; }
# (this check needs the decision to compare the holder by its length, snap->holder_len: server/decide.c)
expect_eq "serve: a write from pod replica-a is denied not-holder (the holder is \"replica-a\\u0000x\")" \
  "false not-holder" "$(decide replica-a)"
expect_eq "serve: a write from pod \"replica-a\\u0000x\" is the holder's (bytes compared whole)" \
  "true holder" "$(decide 'replica-a\u0000x')"
resp=$(review replica-b | validate)
expect_eq "serve: the audit annotation carries the holder whole" '"replica-a\u0000x"' "$(jq -c .response.auditAnnotations.holder <<<"$resp")"
check "serve: the denial is logged with the holder escaped" \
  wait_for 5 grep -qF '"holder":"replica-a\u0000x"' "$TMP/serve.log"

# --- elect: NUL in the other fields of a Lease it holds ---
bg "$TMP/b.log" $LEASEFENCE elect --lease demo/held --identity replica-b "${DUR[@]}" --status-listen 127.0.0.1:0
B_PID=$LAST_PID
EPORT=$(listen_port "$TMP/b.log" --status-listen "$B_PID" $((20 * TW))) || fail "elect listens on the status port it bound"
# lease_is NAME JQ WANT: demo/NAME's field JQ (compact JSON) is WANT
lease_is() { [ "$(lease "$1" | jq -c "$2")" = "$3" ]; }
check "elect: acquires" wait_for $((5 * TW)) lease_is held .spec.holderIdentity '"replica-b"'
ok_put=0
for _ in $(seq 20); do  # a third party adds an annotation holding \u0000 (retrying lost races)
  obj=$(lease held | jq '.metadata.annotations.note = "a\u0000b"')
  [ "$(sim_api -o /dev/null -w '%{http_code}' -X PUT "$LEASES/held" -d "$obj")" = 200 ] && { ok_put=1; break; }
done
expect_eq "elect: another writer puts \\u0000 into an annotation" 1 "$ok_put"
r1=$(lease held | jq -r .spec.renewTime)
renewed_since() { ! lease_is held .spec.renewTime "\"$1\""; }
check "elect: keeps renewing it" wait_for $((3 * RP * TW / 1000 + 3)) renewed_since "$r1"
expect_eq "elect: still the holder" replica-b "$(lease held | jq -r .spec.holderIdentity)"
expect_eq "elect: no stopped leading" 0 "$(grep -c '"msg":"stopped leading"' "$TMP/b.log")"
expect_eq "elect: writes the annotation back as it read it" '"a\u0000b"' "$(lease held | jq -c .metadata.annotations.note)"
expect_eq "elect: status says leader" true "$(curl -s "127.0.0.1:$EPORT/" | jq -r .isLeader)"
kill "$B_PID"; wait "$B_PID" 2>/dev/null

# --- elect: a holder "replica-a\u0000x" is not replica-a; expired, it is taken over ---
put_nul_lease expired 1 "$(now)" >/dev/null
bg "$TMP/a.log" $LEASEFENCE elect --lease demo/expired --identity replica-a "${DUR[@]}" --status-listen 127.0.0.1:0
A_PID=$LAST_PID
check "elect: a candidate takes over the expired Lease with NUL fields" \
  wait_for $((6 * TW)) lease_is expired .spec.holderIdentity '"replica-a"'
expect_eq "elect: as a takeover (leaseTransitions + 1), not as a renewal of its own" 4 "$(lease expired | jq -r .spec.leaseTransitions)"
expect_eq "elect: the annotation written back as read" '"a\u0000b"' "$(lease expired | jq -c .metadata.annotations.note)"
check "elect: \"new leader\" logged with the previous holder escaped" grep -qF '"holder":"replica-a\u0000x"' "$TMP/a.log"
kill "$A_PID"; wait "$A_PID" 2>/dev/null

# --- elect: the status shows such a holder whole ---
put_nul_lease watched 30 "$(now)" >/dev/null
# Not under the valgrind wrapper: its status server did not answer in time there (the NUL paths of
# elect run under memcheck in the section above).
bg "$TMP/c.log" "$BUILD/leasefence" elect --lease demo/watched --identity replica-a "${DUR[@]}" --status-listen 127.0.0.1:0
C_PID=$LAST_PID
CPORT=$(listen_port "$TMP/c.log" --status-listen "$C_PID" $((20 * TW))) || fail "elect listens on the status port it bound"
# (the answer that names the holder is the one read: under valgrind the status server is slow)
st=""; end=$((SECONDS + 5 * TW))
while [ $SECONDS -lt $end ]; do
  # (jq -e exits 0 on empty input: before the status server listens, curl prints nothing)
  out=$(curl -s "127.0.0.1:$CPORT/"); [ -n "$out" ] && jq -e '.name != ""' >/dev/null 2>&1 <<<"$out" && { st=$out; break; }; sleep 0.1
done
check "elect: status names the holder" test -n "$st"
expect_eq "elect: status name is the holder whole, escaped" '"replica-a\u0000x"' "$(jq -c .name <<<"$st")"
expect_eq "elect: replica-a is not the leader of a Lease held by \"replica-a\\u0000x\"" "false " "$(jq -r '"\(.isLeader) \(.epoch)"' <<<"$st")"
msleep $((2 * RP * TW))   # the thing tested: two retry periods pass and nothing is written
expect_eq "elect: and does not write it" 3 "$(lease watched | jq -r .spec.leaseTransitions)"
kill "$C_PID"; wait "$C_PID" 2>/dev/null
kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null

# --- undecodable Leases, from a fake API server: unknown at once, for the fence, readiness and metrics ---
cat >"$TMP/fake_api.py" <<'PY'
import json, os, sys, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
port_file, trigger = sys.argv[1], sys.argv[2]
now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
GOOD = {"holderIdentity": "pod-a", "leaseDurationSeconds": 15, "renewTime": now, "leaseTransitions": 1}
BAD = dict(GOOD, leaseDurationSeconds="15")  # a field of the wrong type
def lease(name, spec, rv):
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name,
            "namespace": "demo", "uid": "u-" + name, "resourceVersion": rv}, "spec": spec}
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def do_GET(self):
        print(time.time(), self.path, file=sys.stderr, flush=True)
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        if "watch" in q:  # the namespace's watch: every Lease of demo
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            # an event of a Lease nobody fenced that is not JSON: not the tracker's business
            self.wfile.write(b'{"type":"MODIFIED","object":{"metadata":{"name":"unfenced","resourceVersion":"8"},"spec":{\n')
            self.wfile.flush()
            end = time.time() + int(q.get("timeoutSeconds", ["30"])[0])
            while time.time() < end:
                if os.path.exists(trigger):
                    # an event of turns-bad that is not JSON
                    self.wfile.write(b'{"type":"MODIFIED","object":{"metadata":{"name":"turns-bad"\n')
                    self.wfile.flush()
                    return
                time.sleep(0.02)
            return
        if os.path.exists(trigger):  # relists fail: what was known before cannot come back by itself
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()
            return
        body = json.dumps({"kind": "LeaseList", "apiVersion": "coordination.k8s.io/v1",
                           "metadata": {"resourceVersion": "7"},
                           "items": [lease(n, BAD if n == "bad-field" else GOOD, "7")
                                     for n in ("bad-field", "turns-bad", "good", "unfenced")]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)  # port 0: the port it got goes to port_file
with open(port_file + ".tmp", "w") as f:
    f.write("127.0.0.1:%d\n" % srv.server_address[1])
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
PY
bg "$TMP/fake.log" /usr/bin/python3 "$TMP/fake_api.py" "$TMP/fake.addr" "$TMP/turn-bad"
FAKE=$(port_from "$TMP/fake.addr") || fail "the fake API server starts"
write_kubeconfig "$TMP/fake.kubeconfig" "http://127.0.0.1:$FAKE" t
cat >"$TMP/fences2.json" <<'JSON'
{"fences": [{"lease": "demo/bad-field", "writers": {"users": ["writer-1"]}},
            {"lease": "demo/turns-bad", "writers": {"users": ["writer-2"]}},
            {"lease": "demo/good", "writers": {"users": ["writer-3"]}}]}
JSON
wait_for 5 curl -s "http://127.0.0.1:$FAKE/apis/coordination.k8s.io/v1/namespaces/up/leases"
bg "$TMP/serve2.log" $LEASEFENCE serve --config "$TMP/fences2.json" --tls-cert "$TMP/certs/tls.crt" --tls-key "$TMP/certs/tls.key" \
  --listen 127.0.0.1:0 --probe-listen 127.0.0.1:0 --threads 1 --kubeconfig "$TMP/fake.kubeconfig"
PROBE2=$(listen_port "$TMP/serve2.log" --probe-listen "$LAST_PID" $((20 * TW))) || fail "serve listens on the probe port it bound"
synced() { curl -s "http://127.0.0.1:$PROBE2/metrics" | grep -F "leasefence_lease_synced{lease=\"demo/$1\"}" | awk '{print $NF}'; }
synced_is() { [ "$(synced "$1")" = "$2" ]; }
check "undecodable: the good Lease is synced" wait_for $((10 * TW)) synced_is turns-bad 1
expect_eq "undecodable: a Lease with a field of the wrong type: leasefence_lease_synced 0" 0 "$(synced bad-field)"
code=$(curl -s -o "$TMP/readyz" -w '%{http_code}' "http://127.0.0.1:$PROBE2/readyz")
expect_eq "undecodable: /readyz 503" 503 "$code"
check "undecodable: /readyz names the Lease" grep -q 'demo/bad-field' "$TMP/readyz"
check "undecodable: /readyz does not name the synced one" bash -c "! grep -q 'demo/turns-bad' '$TMP/readyz'"
check "undecodable: the namespace is watched" wait_for $((5 * TW)) grep -q 'watch=1' "$TMP/fake.log"
sleep 0.5
expect_eq "undecodable: an event of an unfenced Lease that is not JSON leaves the watch alone (one list)" 1 \
  "$(grep -v 'watch=1' "$TMP/fake.log" | grep -c '/namespaces/demo/leases')"
expect_eq "undecodable: and the fenced Leases synced" "1 1" "$(synced turns-bad) $(synced good)"
touch "$TMP/turn-bad"
t0=$(date +%s%N)
check "undecodable: an event that is not JSON makes the Lease unsynced" wait_for $((5 * TW)) synced_is turns-bad 0
ms=$((($(date +%s%N) - t0) / 1000000))
check "undecodable: at once ($ms ms), not after the 15 s lease duration" [ "$ms" -lt $((2000 * TW)) ]
code=$(curl -s -o "$TMP/readyz" -w '%{http_code}' "http://127.0.0.1:$PROBE2/readyz")
check "undecodable: /readyz 503 names it too" bash -c "[ $code = 503 ] && grep -q 'demo/turns-bad' '$TMP/readyz'"
expect_eq "undecodable: only that Lease: another Lease of its namespace stays synced" 1 "$(synced good)"
check "undecodable: logged" grep -q '"msg":"watch event cannot be decoded, lease treated as unknown","lease":"demo/turns-bad"' "$TMP/serve2.log"

done_testing
