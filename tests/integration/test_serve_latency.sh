#!/usr/bin/env bash
# How long a holder change committed in kube-sim takes to reach the decision:
# 20 trials of "PUT the Lease with a new holder, then poll /validate over one
# keep-alive TLS connection until the answer flips".  Goal: p50 < 100 ms.
. "$(dirname "$0")/../lib.sh"

"$ROOT/certs/generate.sh" "$TMP/certs" >/dev/null || { fail "certificates"; done_testing; exit 1; }
start_kube_sim --quiet || { fail "kube-sim starts"; done_testing; exit 1; }
cat >"$TMP/fences.json" <<'JSON'
{"fences": [{"lease": "default/flip", "writers": {"users": ["system:serviceaccount:demo:controller"]}, "identity": "podName"}]}
JSON
bg "$TMP/serve.log" $LEASEFENCE serve --config "$TMP/fences.json" --tls-cert "$TMP/certs/tls.crt" --tls-key "$TMP/certs/tls.key" \
  --listen 127.0.0.1:0 --probe-listen "" --threads 2
PORT=$(listen_port "$TMP/serve.log" --listen "$LAST_PID") || { fail "serve listens on the port it bound"; done_testing; exit 1; }
check "server ready" wait_for 10 curl -sf -o /dev/null --cacert "$TMP/certs/ca.crt" "https://127.0.0.1:$PORT/readyz"

cat >"$TMP/flip.py" <<'PY'
import http.client, json, ssl, sys, time
sim_port, sim_ca, token, port, ca, trials = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
sim = http.client.HTTPSConnection("127.0.0.1", int(sim_port), context=ssl.create_default_context(cafile=sim_ca))
hook = http.client.HTTPSConnection("127.0.0.1", port, context=ssl.create_default_context(cafile=ca))
H = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
path = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
def now():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
def lease(holder, rv=None):
    md = {"name": "flip", "namespace": "default"}
    if rv: md["resourceVersion"] = rv
    return json.dumps({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": md,
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 30, "acquireTime": now(), "renewTime": now(), "leaseTransitions": 0}})
def review(pod):
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u1",
        "kind": {"group": "", "version": "v1", "kind": "ConfigMap"}, "resource": {"group": "", "version": "v1", "resource": "configmaps"},
        "namespace": "demo", "name": "x", "operation": "UPDATE",
        "userInfo": {"username": "system:serviceaccount:demo:controller", "extra": {"authentication.kubernetes.io/pod-name": [pod]}},
        "object": {"metadata": {"name": "x"}}}})
def allowed(pod):
    hook.request("POST", "/validate", body=review(pod), headers={"Content-Type": "application/json"})
    return json.loads(hook.getresponse().read())["response"]["allowed"]
sim.request("POST", path, body=lease("pod-0"), headers=H)
rv = json.loads(sim.getresponse().read())["metadata"]["resourceVersion"]
deadline = time.monotonic() + 5
while not allowed("pod-0"):
    if time.monotonic() > deadline: sys.exit("the first holder never reached the decision")
    time.sleep(0.01)
lat, sent, polls = [], [], 0
for i in range(1, trials + 1):
    holder = "pod-%d" % i
    ts = time.monotonic()
    sim.request("PUT", path + "/flip", body=lease(holder, rv), headers=H)
    r = sim.getresponse(); body = json.loads(r.read())
    if r.status != 200: sys.exit("PUT failed: %d %s" % (r.status, body))
    rv = body["metadata"]["resourceVersion"]
    t0 = time.monotonic()        # the change is committed: the API server has answered
    while not allowed(holder):
        polls += 1
        if time.monotonic() - t0 > 5: sys.exit("trial %d: no flip within 5 s" % i)
    lat.append((time.monotonic() - t0) * 1000)
    sent.append((time.monotonic() - ts) * 1000)
    time.sleep(0.05)
lat.sort(); sent.sort()
print("trials=%d p50_ms=%.2f p90_ms=%.2f max_ms=%.2f min_ms=%.2f extra_polls=%d; from sending the PUT: p50_ms=%.2f max_ms=%.2f"
      % (len(lat), lat[len(lat)//2], lat[int(len(lat)*0.9)], lat[-1], lat[0], polls, sent[len(sent)//2], sent[-1]))
PY
out=$(/usr/bin/python3 "$TMP/flip.py" "$SIM_PORT" "$SIM_DIR/ca.crt" "$(cat "$SIM_DIR/token")" "$PORT" "$TMP/certs/ca.crt" 20 2>&1); rc=$?
echo "# holder change to decision: $out"
expect_eq "20 trials ran" 0 "$rc"
p50=$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$out")
check "p50 below 100 ms (got ${p50:-?} ms)" awk -v p="${p50:-1e9}" 'BEGIN { exit !(p < 100) }'
done_testing
