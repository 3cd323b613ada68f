#!/usr/bin/env bash
# Fences as Kubernetes objects, with the real kubectl against kube-sim: the
# LeaseFence CRD from the rendered manifests (`kubectl apply`), then
# `leasefence serve` started with no --config, registered with the rendered
# webhook configuration.  A LeaseFence in namespace demo fences its writer
# within 2 s (the Lease holder's write is let through kube-sim's admission
# chain, another replica's is denied), deleting it unfences the writer within
# 2 s, a spec the schema refuses (`mode: bogus`) is a 422 naming the field, and
# one that only leasefence refuses (a writer outside the namespace) is not
# applied.  Then --config and LeaseFences together: merged, and a LeaseFence on
# a Lease the file fences too is reported as a conflict, both fences weighed.
# Needs build/kube-sim, build/leasefence and kubectl.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT" || exit 1
PY=/usr/bin/python3
need_built kube-sim leasefence

# ---- render the install (OpenSSL certificates, no fence) -----------------------
D=$TMP/install
bash certs/generate.sh "$D" >/dev/null && bash certs/overlay.sh "$D" >/dev/null
if kubectl kustomize "$D" >"$TMP/rendered.yaml" 2>"$TMP/render.err"; then ok "render the install"
else fail "render: $(cat "$TMP/render.err")"; done_testing; exit 1; fi
$PY - "$TMP/rendered.yaml" "$TMP" <<'PY' || fail "extract objects from the render"
import json, sys, yaml
out = sys.argv[2]
for o in yaml.safe_load_all(open(sys.argv[1])):
    if not o: continue
    k = o["kind"]
    if k == "CustomResourceDefinition": yaml.safe_dump(o, open(out + "/crd.yaml", "w"))
    if k == "ValidatingWebhookConfiguration": json.dump(o, open(out + "/vwc.json", "w"))
    if k == "Deployment" and o["metadata"]["name"] == "leasefence":
        open(out + "/args", "w").write("\n".join(o["spec"]["template"]["spec"]["containers"][0]["args"]) + "\n")
PY
for f in crd.yaml vwc.json args; do check "rendered $f" test -s "$TMP/$f"; done

# ---- kube-sim with two replicas of the demo controller and another writer --------
mkdir -p "$TMP/sim"
cat >"$TMP/sim/users.json" <<JSON
[
$(controller_users),
 {"token": "tok-ops-1", "username": "ops-bot", "uid": "u-o", "groups": ["system:authenticated"],
  "extra": {"authentication.kubernetes.io/pod-name": ["ops-1"]}}
]
JSON
start_kube_sim --quiet || { fail "kube-sim starts"; done_testing; exit 1; }
k() { timeout 30 kubectl --cache-dir "$TMP/kube-cache" "$@"; }

out=$(k apply -f "$TMP/crd.yaml" 2>&1)
expect_eq "kubectl apply of the rendered CRD" "customresourcedefinition.apiextensions.k8s.io/leasefences.leasefence.io created" "$out"
check "kubectl creates namespace demo" k create namespace demo
check "kubectl creates namespace leasefence-system (the election Lease's)" k create namespace leasefence-system
now=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
k create -f - >/dev/null <<JSON || fail "create the Lease demo/controller-leader"
{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "controller-leader", "namespace": "demo"},
 "spec": {"holderIdentity": "controller-0", "leaseDurationSeconds": 3600, "leaseTransitions": 0,
          "acquireTime": "$now", "renewTime": "$now"}}
JSON

# ---- leasefence serve with the rendered flags, no --config -----------------------
# start_serve LOG [EXTRA ARGS...]: sets SERVE_PID, WPORT, PPORT (the ports it bound: it listens on port 0)
start_serve() {
  local log=$1 a; shift
  local run=()
  while IFS= read -r a; do
    case $a in
      --config=*) ;;
      --tls-cert=*) run+=("--tls-cert=$D/tls.crt") ;;
      --tls-key=*) run+=("--tls-key=$D/tls.key") ;;
      --listen=*) run+=("--listen=127.0.0.1:0") ;;
      --probe-listen=*) run+=("--probe-listen=127.0.0.1:0") ;;
      *) run+=("$a") ;;
    esac
  done <"$TMP/args"
  echo "# $LEASEFENCE ${run[*]} --kubeconfig=$SIM_DIR/kubeconfig $*"
  bg "$log" $LEASEFENCE "${run[@]}" "--kubeconfig=$SIM_DIR/kubeconfig" "$@"
  SERVE_PID=$LAST_PID
  WPORT=$(listen_port "$log" --listen "$SERVE_PID") && PPORT=$(listen_port "$log" --probe-listen "$SERVE_PID")
}
start_serve "$TMP/serve.log"
if wait_for 20 curl -sf "http://127.0.0.1:$PPORT/readyz"; then ok "leasefence serve without --config is ready"
else fail "leasefence serve without --config is ready: $(tail -c 1500 "$TMP/serve.log")"; done_testing; exit 1; fi
check "kube-sim maps leasefence-system/leasefence to the server" \
  sim_ctl "/services?ns=leasefence-system&name=leasefence&addr=127.0.0.1:$WPORT" -o /dev/null
check "kubectl creates the rendered ValidatingWebhookConfiguration" k create -f "$TMP/vwc.json"

# write TOKEN: a dry-run ConfigMap create in demo as the token's user through
# kube-sim's admission chain; prints the HTTP code (body in $TMP/last.json).
write() {
  curl -s -o "$TMP/last.json" -w '%{http_code}' --cacert "$SIM_DIR/ca.crt" -H "Authorization: Bearer $1" \
    -H 'Content-Type: application/json' -X POST "$API/api/v1/namespaces/demo/configmaps?dryRun=All" \
    -d '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"state"},"data":{"k":"v"}}'
}
# until_code SECONDS TOKEN CODE: polls write TOKEN until it answers CODE; prints the milliseconds it took.
until_code() {
  local end=$(( $(date +%s%N) + $1 * 1000000000 )) t0; t0=$(date +%s%N)
  while [ "$(write "$2")" != "$3" ]; do
    [ "$(date +%s%N)" -lt $end ] || { echo "timeout"; return 1; }
    sleep 0.02
  done
  echo $(( ($(date +%s%N) - t0) / 1000000 ))
}
expect_eq "no LeaseFence: controller-1 writes (unfenced)" 201 "$(write tok-controller-1)"

controller_leasefence "$TMP/lf.yaml"
out=$(k apply -f "$TMP/lf.yaml" 2>&1)
expect_eq "kubectl apply of a LeaseFence in demo" "leasefence.leasefence.io/controller created" "$out"
if ms=$(until_code 2 tok-controller-1 403); then ok "the LeaseFence fences controller-1 within 2 s (${ms} ms)"
else fail "the LeaseFence fences controller-1 within 2 s: $(cat "$TMP/last.json"); $(tail -c 1500 "$TMP/serve.log")"; fi
# The first denials may say the Lease is not known yet (fail closed while it syncs, slow under
# valgrind); within 10 s a denial names the holder.
for _ in $(seq 100); do
  write tok-controller-1 >/dev/null
  msg=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1])).get("message",""))' "$TMP/last.json" 2>/dev/null)
  grep -q 'controller-0' <<<"$msg" && break
  sleep 0.1
done
echo "# denial: $msg"
check "the denial comes from fence.leasefence.io and names the holder" \
  grep -q 'admission webhook "fence.leasefence.io" denied the request: .*controller-0' <<<"$msg"
expect_eq "the holder (controller-0) writes" 201 "$(write tok-controller-0)"
expect_eq "the readiness probe still passes (the fenced Lease is synced)" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PPORT/readyz")"
check "the log says the LeaseFence is in force" grep -q '"msg":"LeaseFence in force","leasefence":"demo/controller"' "$TMP/serve.log"

# ---- status, as kubectl shows it -------------------------------------------------
row_is() {  # row_is REGEX: `kubectl get leasefences -n demo --no-headers` matches it
  k get leasefences -n demo --no-headers 2>/dev/null | grep -Eq "$1"
}
if wait_for 2 row_is '^controller +controller-leader +controller-0 +enforce +True +[0-9]+s$'; then
  ok "kubectl get leasefences -n demo shows the holder, the mode and Ready True within 2 s"
else fail "kubectl get leasefences -n demo shows the holder: $(k get leasefences -n demo 2>&1)"; fi
out=$(k get leasefences -A 2>&1)
echo "$out" | sed 's/^/# /'
check "kubectl get leasefences -A: NAMESPACE NAME LEASE HOLDER MODE READY AGE" grep -Eq '^NAMESPACE +NAME +LEASE +HOLDER +MODE +READY +AGE$' <<<"$(head -1 <<<"$out")"
out=$(k get leasefences -n demo -o wide --no-headers 2>&1)
check "-o wide adds the reason and the counts" grep -Eq '^controller +controller-leader +controller-0 +enforce +True +Fencing +[0-9]+ +[0-9]+ +[0-9]+s$' <<<"$out"
jp() { k get leasefence -n demo controller -o "jsonpath=$1"; }
expect_eq "status: epoch and observedGeneration" "$(k get lease -n demo controller-leader -o jsonpath='{.metadata.uid}/{.spec.leaseTransitions}') 1"   "$(jp '{.status.epoch} {.status.observedGeneration}')"
out=$(k describe leasefence -n demo controller 2>&1)
check "kubectl describe shows the Ready condition and its reason" grep -Eq '^ +Reason: +Fencing$' <<<"$out"
status_commits() {
  curl -sf "http://127.0.0.1:$SIM_CTL/log" | jq -s '[.[] | select(.type == "commit" and .resource == "leasefences" and .subresource == "status")] | length'
}
n0=$(status_commits); sleep 3; n1=$(status_commits)
expect_eq "status: written once, never in a loop (no status write in 3 quiet seconds)" "$n0" "$n1"
# A holder change reaches the status; so do the counts (controller-0 was let through, controller-1 denied).
k patch lease -n demo controller-leader --type=merge -p '{"spec":{"holderIdentity":"controller-1","leaseTransitions":1}}' >/dev/null
if wait_for 3 row_is '^controller +controller-leader +controller-1 +enforce +True'; then ok "a new holder shows within 3 s"
else fail "a new holder shows within 3 s: $(k get leasefences -n demo 2>&1)"; fi
counts_seen() { local c; c=$(jp '{.status.allowed} {.status.denied}'); [ "${c% *}" -ge 1 ] 2>/dev/null && [ "${c#* }" -ge 1 ] 2>/dev/null; }
check "status: recent counts of allowed and failed writes" wait_for 10 counts_seen
echo "# status counts (allowed denied): $(jp '{.status.allowed} {.status.denied}')"
expect_eq "controller-1, the holder now, writes" 201 "$(write tok-controller-1)"
k patch lease -n demo controller-leader --type=merge -p '{"spec":{"holderIdentity":"controller-0","leaseTransitions":2}}' >/dev/null
# Without its Lease the fence is not ready, and says why.
lease_json=$(k get lease -n demo controller-leader -o json)
k delete lease -n demo controller-leader >/dev/null
cond_is() { [ "$(jp '{.status.conditions[?(@.type=="Ready")].status}/{.status.conditions[?(@.type=="Ready")].reason}')" = "$1" ]; }
check "the Lease deleted: Ready False, reason LeaseNotFound" wait_for 3 cond_is False/LeaseNotFound
echo "# message: $(jp '{.status.conditions[?(@.type=="Ready")].message}')"
$PY -c 'import json,sys; o=json.loads(sys.argv[1]); m=o["metadata"]; [m.pop(k, None) for k in ("uid","resourceVersion","creationTimestamp","managedFields")]; print(json.dumps(o))' "$lease_json" | k create -f - >/dev/null
check "the Lease back: Ready True" wait_for 3 cond_is True/Fencing

# A change applies live: mode warn lets controller-1 through (with a warning).
sed 's/^spec:$/spec:\n  mode: warn/' "$TMP/lf.yaml" >"$TMP/lf-warn.yaml"
out=$(k apply -f "$TMP/lf-warn.yaml" 2>&1)
expect_eq "kubectl apply of mode warn" "leasefence.leasefence.io/controller configured" "$out"
if ms=$(until_code 2 tok-controller-1 201); then ok "mode warn applies within 2 s (${ms} ms)"
else fail "mode warn applies within 2 s"; fi
check "the MODE column follows" wait_for 3 row_is '^controller +controller-leader +controller-0 +warn +True'
generation_is() { [ "$(jp '{.status.observedGeneration}/{.status.conditions[0].observedGeneration}')" = "$1" ]; }
check "status: observedGeneration follows the spec (2)" wait_for 3 generation_is 2/2
k apply -f "$TMP/lf.yaml" >/dev/null
if ms=$(until_code 2 tok-controller-1 403); then ok "back to enforce within 2 s (${ms} ms)"
else fail "back to enforce within 2 s"; fi

# Deleting the LeaseFence unfences the writer.
out=$(k delete -f "$TMP/lf.yaml" 2>&1)
expect_eq "kubectl delete of the LeaseFence" 'leasefence.leasefence.io "controller" deleted' "$out"
if ms=$(until_code 2 tok-controller-1 201); then ok "deleting the LeaseFence unfences controller-1 within 2 s (${ms} ms)"
else fail "deleting the LeaseFence unfences controller-1 within 2 s"; fi
check "the log says the LeaseFence is gone" grep -q '"msg":"LeaseFence gone","leasefence":"demo/controller"' "$TMP/serve.log"
expect_eq "metrics: the Lease is no longer read" "" \
  "$(curl -sf "http://127.0.0.1:$PPORT/metrics" | grep '^leasefence_lease_synced{lease="demo/controller-leader"}')"

# The API server refuses what the schema can say, naming the field.
sed 's/^spec:$/spec:\n  mode: bogus/' "$TMP/lf.yaml" >"$TMP/lf-bogus.yaml"
out=$(k apply -f "$TMP/lf-bogus.yaml" 2>&1); rc=$?
echo "# $out"
check "mode bogus: kubectl apply fails" test "$rc" -ne 0
check "mode bogus: the API server's message names spec.mode" \
  grep -q 'spec.mode: Unsupported value: "bogus": supported values: "enforce", "warn", "audit"' <<<"$out"
code=$(curl -s -o "$TMP/bogus.json" -w '%{http_code}' --cacert "$SIM_DIR/ca.crt" -H "Authorization: Bearer $(cat "$SIM_DIR/token")" \
  -H 'Content-Type: application/json' -X POST "$API/apis/leasefence.io/v1alpha1/namespaces/demo/leasefences" \
  -d '{"apiVersion":"leasefence.io/v1alpha1","kind":"LeaseFence","metadata":{"name":"bogus"},"spec":{"lease":"l","writers":{"serviceAccounts":["controller"]},"mode":"bogus"}}')
expect_eq "mode bogus: 422" 422 "$code"
expect_eq "mode bogus: reason Invalid" Invalid "$(jq -r .reason "$TMP/bogus.json")"

# What the schema cannot say, leasefence refuses itself: a writer outside the namespace is not fenced.
cat >"$TMP/lf-foreign.yaml" <<'YAML'
apiVersion: leasefence.io/v1alpha1
kind: LeaseFence
metadata:
  name: foreign
  namespace: demo
spec:
  lease: controller-leader
  writers:
    users: ["ops-bot"]
YAML
check "kubectl apply of a LeaseFence naming a user outside the namespace" k apply -f "$TMP/lf-foreign.yaml"
check "the server refuses it, naming the field" wait_for 2 grep -q '"msg":"LeaseFence refused","leasefence":"demo/foreign","state":"forbidden","error":"spec.writers.users\[0\]: '"'"'ops-bot'"'"' is not of namespace demo' "$TMP/serve.log"
expect_eq "ops-bot is not fenced by it" 201 "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$SIM_DIR/ca.crt" -H "Authorization: Bearer tok-ops-1" \
  -H 'Content-Type: application/json' -X POST "$API/api/v1/namespaces/demo/configmaps?dryRun=All" \
  -d '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ops"}}')"
ready_of() { k get leasefence -n demo "$1" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}/{.status.conditions[?(@.type=="Ready")].reason}'; }
ready_is() { [ "$(ready_of "$1")" = "$2" ]; }
check "its status: Ready False, reason WriterNotAllowed" wait_for 3 ready_is foreign False/WriterNotAllowed
k delete -f "$TMP/lf-foreign.yaml" >/dev/null

# ---- --config and LeaseFences together ------------------------------------------
kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null
cat >"$TMP/fences.json" <<'JSON'
{"fences": [{"lease": "demo/controller-leader", "writers": {"users": ["ops-bot"]}, "identity": "podName"}]}
JSON
start_serve "$TMP/serve2.log" "--config=$TMP/fences.json"
check "leasefence serve with --config and LeaseFences is ready" wait_for 20 curl -sf "http://127.0.0.1:$PPORT/readyz"
sim_ctl "/services?ns=leasefence-system&name=leasefence&addr=127.0.0.1:$WPORT" -o /dev/null
ops() {
  curl -s -o "$TMP/last.json" -w '%{http_code}' --cacert "$SIM_DIR/ca.crt" -H "Authorization: Bearer tok-ops-1" \
    -H 'Content-Type: application/json' -X POST "$API/api/v1/namespaces/demo/configmaps?dryRun=All" \
    -d '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ops"}}'
}
expect_eq "the file's fence denies ops-bot (ops-1 does not hold the Lease)" 403 "$(ops)"
expect_eq "controller-1 is not fenced by the file" 201 "$(write tok-controller-1)"
k apply -f "$TMP/lf.yaml" >/dev/null
if ms=$(until_code 2 tok-controller-1 403); then ok "with --config, a LeaseFence still fences within 2 s (${ms} ms)"
else fail "with --config, a LeaseFence still fences within 2 s"; fi
expect_eq "and the file's fence stays in force" 403 "$(ops)"
check "the conflict is reported: both fence demo/controller-leader" \
  grep -q '"msg":"LeaseFence conflicts with the configuration file","leasefence":"demo/controller","state":"conflict","error":"the configuration file '"'$TMP/fences.json'"' fences Lease demo/controller-leader too (fences\[0\])' "$TMP/serve2.log"
check "its status: Ready False, reason ConflictsWithConfig" wait_for 3 ready_is controller False/ConflictsWithConfig
k delete -f "$TMP/lf.yaml" >/dev/null
if ms=$(until_code 2 tok-controller-1 201); then ok "deleting it leaves the file's fence alone (${ms} ms)"
else fail "deleting it leaves the file's fence alone"; fi
expect_eq "the file's fence still denies ops-bot" 403 "$(ops)"

# Without the CRD (an install that never applied it) serve runs on --config alone.
out=$(k delete crd leasefences.leasefence.io 2>&1)
check "kubectl delete of the CRD" grep -q deleted <<<"$out"
sleep 0.5
expect_eq "no CRD: still ready" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PPORT/readyz")"
expect_eq "no CRD: the file's fence still denies ops-bot" 403 "$(ops)"

done_testing
