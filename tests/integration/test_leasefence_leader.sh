#!/usr/bin/env bash
# The webhook configuration kept in step by one elected replica, on kube-sim
# with the real kubectl: two `leasefence serve` replicas (their own tokens,
# POD_NAME, short election timing) and the rendered webhook configuration.
# A LeaseFence puts its writer into the fenced-writers matchCondition and its
# Lease into not-elections within 2 s; only the elected replica writes the
# configuration and the LeaseFences' status (kube-sim's commit log says who);
# killing it (SIGKILL) hands the job over within the lease duration (plus the
# retry period's jitter); a configuration changed back by someone else is
# repaired; patches that fail (403) show in the metrics and in the Ready
# condition of the LeaseFences they affect; deleting the LeaseFence takes its
# writer out again.  kube-sim does not evaluate CEL: the expressions are
# compared as text (test_manifests.sh evaluates the base's).
. "$(dirname "$0")/../lib.sh"
cd "$ROOT" || exit 1
PY=/usr/bin/python3
need_built kube-sim leasefence
# The election: a 2 s Lease, renewed every 0.4 s.
LD=2 RD=1.5 RP=0.4

D=$TMP/install
bash certs/generate.sh "$D" >/dev/null && bash certs/overlay.sh "$D" >/dev/null
kubectl kustomize "$D" >"$TMP/rendered.yaml" 2>"$TMP/render.err" || { fail "render: $(cat "$TMP/render.err")"; done_testing; exit 1; }
$PY - "$TMP/rendered.yaml" "$TMP" <<'PY' || fail "extract objects from the render"
import json, sys, yaml
for o in yaml.safe_load_all(open(sys.argv[1])):
    if not o: continue
    if o["kind"] == "CustomResourceDefinition": yaml.safe_dump(o, open(sys.argv[2] + "/crd.yaml", "w"))
    if o["kind"] == "ValidatingWebhookConfiguration": json.dump(o, open(sys.argv[2] + "/vwc.json", "w"))
PY

mkdir -p "$TMP/sim"
cat >"$TMP/sim/users.json" <<JSON
[
 {"token": "tok-lf-a", "username": "system:serviceaccount:leasefence-system:leasefence", "uid": "u-a",
  "groups": ["system:serviceaccounts", "system:authenticated"], "extra": {"authentication.kubernetes.io/pod-name": ["leasefence-a"]}},
 {"token": "tok-lf-b", "username": "system:serviceaccount:leasefence-system:leasefence", "uid": "u-b",
  "groups": ["system:serviceaccounts", "system:authenticated"], "extra": {"authentication.kubernetes.io/pod-name": ["leasefence-b"]}},
$(controller_users)
]
JSON
start_kube_sim --quiet || { fail "kube-sim starts"; done_testing; exit 1; }
k() { timeout 30 kubectl --cache-dir "$TMP/kube-cache" "$@"; }
check "kubectl apply of the rendered CRD" k apply -f "$TMP/crd.yaml"
check "namespaces demo and leasefence-system" k create namespace demo
k create namespace leasefence-system >/dev/null
now=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
k create -f - >/dev/null <<JSON || fail "create the Lease demo/controller-leader"
{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "controller-leader", "namespace": "demo"},
 "spec": {"holderIdentity": "controller-0", "leaseDurationSeconds": 3600, "leaseTransitions": 0, "acquireTime": "$now", "renewTime": "$now"}}
JSON
check "kubectl creates the rendered ValidatingWebhookConfiguration" k create -f "$TMP/vwc.json"

# replica NAME: a serve with its own token and POD_NAME, on ports it picks (port 0); sets PORT_<NAME>,
# PROBE_<NAME>, PID_<NAME>.
replica() {
  local n=$1 port probe
  sed "s/token: .*/token: tok-lf-$n/" "$SIM_DIR/kubeconfig" >"$TMP/kubeconfig-$n"
  grep -q "token: tok-lf-$n" "$TMP/kubeconfig-$n" || fail "kubeconfig of replica $n has its token"
  bg "$TMP/serve-$n.log" env POD_NAME="leasefence-$n" POD_NAMESPACE=leasefence-system \
    $LEASEFENCE serve --tls-cert "$D/tls.crt" --tls-key "$D/tls.key" --kubeconfig "$TMP/kubeconfig-$n" \
    --listen 127.0.0.1:0 --probe-listen 127.0.0.1:0 --threads 1 \
    --leader-elect-lease-duration ${LD}s --leader-elect-renew-deadline ${RD}s --leader-elect-retry-period ${RP}s
  { port=$(listen_port "$TMP/serve-$n.log" --listen "$LAST_PID") &&
    probe=$(listen_port "$TMP/serve-$n.log" --probe-listen "$LAST_PID"); } || fail "replica $n listens on the ports it bound"
  eval "PORT_$n=$port PROBE_$n=$probe PID_$n=$LAST_PID"
}
replica a
replica b
metric() { curl -sf "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {print $2}'; }
for n in a b; do
  eval "p=\$PROBE_$n"
  check "replica $n is ready" wait_for 20 curl -sf "http://127.0.0.1:$p/readyz"
done
leader_now() {  # prints a or b when exactly one replica leads
  local a b; a=$(metric "$PROBE_a" leasefence_leader); b=$(metric "$PROBE_b" leasefence_leader)
  if [ "$a" = 1 ] && [ "$b" != 1 ]; then echo a; elif [ "$b" = 1 ] && [ "$a" != 1 ]; then echo b; fi
}
elected() { [ -n "$(leader_now)" ]; }
check "one replica is elected" wait_for 10 elected
L=$(leader_now); if [ "$L" = a ]; then F=b; else F=a; fi
echo "# elected: leasefence-$L"
expect_eq "the election Lease names it" "leasefence-$L" "$(k -n leasefence-system get lease leasefence -o jsonpath='{.spec.holderIdentity}')"
eval "sim_ctl \"/services?ns=leasefence-system&name=leasefence&addr=127.0.0.1:\$PORT_$L\" -o /dev/null"

expr_of() { k get validatingwebhookconfiguration leasefence -o "jsonpath={.webhooks[0].matchConditions[?(@.name==\"$1\")].expression}"; }
expr_is() { [ "$(expr_of "$1")" = "$2" ]; }             # expr_is CONDITION WANT
metric_is() { [ "$(metric "$1" "$2")" = "$3" ]; }       # metric_is PROBE_PORT NAME WANT
WRITERS_NONE="(has(request.userInfo.username) && request.userInfo.username in []) || (has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in []))"
WRITERS_CTRL="(has(request.userInfo.username) && request.userInfo.username in ['system:serviceaccount:demo:controller']) || (has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in []))"
ELECTIONS_CTRL="!(request.resource.group == 'coordination.k8s.io' && (request.resource.resource == 'leasecandidates' || (request.resource.resource == 'leases' && (request.namespace + '/' + request.name) in ['demo/controller-leader'])))"
expect_eq "no LeaseFence: fenced-writers names no one" "$WRITERS_NONE" "$(expr_of fenced-writers)"
for n in a b; do
  eval "p=\$PROBE_$n"
  expect_eq "replica $n: the webhook configuration is in step" 1 "$(metric "$p" leasefence_webhook_configuration_in_step)"
done

controller_leasefence "$TMP/lf.yaml"
k apply -f "$TMP/lf.yaml" >/dev/null || fail "kubectl apply of the LeaseFence"
t0=$(date +%s%N)
if wait_for 2 expr_is fenced-writers "$WRITERS_CTRL"; then
  ok "fenced-writers names the LeaseFence's writer within 2 s ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
else fail "fenced-writers names the LeaseFence's writer within 2 s: $(expr_of fenced-writers)"; fi
expect_eq "not-elections names exactly its Lease" "$ELECTIONS_CTRL" "$(expr_of not-elections)"
order=$(k get validatingwebhookconfiguration leasefence -o jsonpath='{.webhooks[0].matchConditions[*].name}')
expect_eq "the other matchConditions are untouched, in order" "not-elections not-events not-reviews fenced-writers" "$order"
expect_eq "the rules are untouched" '["*","*/*"]' "$(k get validatingwebhookconfiguration leasefence -o jsonpath='{.webhooks[0].rules[0].resources}')"
write() {
  curl -s -o "$TMP/last.json" -w '%{http_code}' --cacert "$SIM_DIR/ca.crt" -H "Authorization: Bearer $1" \
    -H 'Content-Type: application/json' -X POST "$API/api/v1/namespaces/demo/configmaps?dryRun=All" \
    -d '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"state"}}'
}
write_is() { [ "$(write "$1")" = "$2" ]; }
check "the holder writes" wait_for 2 write_is tok-controller-0 201
expect_eq "another replica is denied" 403 "$(write tok-controller-1)"

# Who wrote what, from kube-sim's commit log.
writers_of() {  # RESOURCE [SUBRESOURCE]: the pods that committed writes to it, sorted, space-separated
  curl -sf "http://127.0.0.1:$SIM_CTL/log" | jq -r --arg r "$1" --arg s "${2:-}" \
    'select(.type == "commit" and .resource == $r and (.subresource // "") == $s and .podName != "") | .podName' | sort -u | tr '\n' ' ' | sed 's/ $//'
}
expect_eq "only the elected replica patched the webhook configuration" "leasefence-$L" "$(writers_of validatingwebhookconfigurations)"
status_written() { [ -n "$(writers_of leasefences status)" ]; }
check "the LeaseFence's status is written" wait_for 3 status_written
expect_eq "only the elected replica wrote it" "leasefence-$L" "$(writers_of leasefences status)"

# Someone changes it back (kubectl apply of the base, a GitOps tool): repaired.
$PY - "$TMP/vwc.json" "$TMP/vwc-reset.json" "$(k get validatingwebhookconfiguration leasefence -o jsonpath='{.metadata.resourceVersion}')" <<'PY'
import json, sys
o = json.load(open(sys.argv[1])); o["metadata"]["resourceVersion"] = sys.argv[3]
json.dump(o, open(sys.argv[2], "w"))
PY
check "kubectl replace resets the configuration to the base's" k replace -f "$TMP/vwc-reset.json"
t0=$(date +%s%N)
if wait_for 3 expr_is fenced-writers "$WRITERS_CTRL"; then
  ok "the elected replica repairs it ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
else fail "the elected replica repairs it: $(expr_of fenced-writers)"; fi

# Patches that fail: a metric, the log, and the Ready condition of the LeaseFences they affect.
eval "LP=\$PROBE_$L"
before=$(curl -sf "http://127.0.0.1:$LP/metrics" | awk '$1 == "leasefence_webhook_configuration_patches_total{result=\"failed\"}" {print $2}')
sim_ctl "/faults/fail?count=1000&code=403&path=/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/leasefence&verb=PATCH" -o /dev/null
sed 's/serviceAccounts: \["controller"\]/serviceAccounts: ["controller", "helper"]/' "$TMP/lf.yaml" >"$TMP/lf2.yaml"
k apply -f "$TMP/lf2.yaml" >/dev/null
check "a failing patch: in_step 0 on the elected replica" wait_for 5 metric_is "$LP" leasefence_webhook_configuration_in_step 0
failed_patches() { curl -sf "http://127.0.0.1:$LP/metrics" | awk '$1 == "leasefence_webhook_configuration_patches_total{result=\"failed\"}" {print $2}'; }
more_failed() { [ "$(failed_patches)" -gt "${before:-0}" ]; }
check "a failing patch: counted as failed" wait_for 5 more_failed
eval "LLOG=\$TMP/serve-$L.log"
check "a failing patch: logged with the API server's answer" wait_for 5 grep -q '"msg":"webhook configuration not in step with the fences".*cannot patch validatingwebhookconfiguration .leasefence.: 403' "$LLOG"
cond() { k -n demo get leasefence controller -o "jsonpath={.status.conditions[?(@.type==\"Ready\")].$1}"; }
cond_is() { [ "$(cond status)/$(cond reason)" = "$1" ]; }
check "a failing patch: the LeaseFence is Ready False, reason WebhookConfigurationNotUpdated" \
  wait_for 5 cond_is False/WebhookConfigurationNotUpdated
says_403() { cond message | grep -q 'cannot patch validatingwebhookconfiguration .leasefence.: 403 Forbidden'; }
check "  its message says why (the API server's answer)" wait_for 5 says_403
echo "# Ready message: $(cond message)"
sim_ctl /faults/reset -o /dev/null
check "the fault gone: the configuration names the new writer (backoff at most 30 s)" \
  wait_for 35 sh -c "kubectl get validatingwebhookconfiguration leasefence -o jsonpath='{.webhooks[0].matchConditions[?(@.name==\"fenced-writers\")].expression}' | grep -q helper"
check "the fault gone: in step again" wait_for 5 metric_is "$LP" leasefence_webhook_configuration_in_step 1
check "the fault gone: Ready True again" wait_for 5 cond_is True/Fencing

# Killing the elected replica hands the job over within the lease duration (+ the retry period's jitter).
eval "LPID=\$PID_$L FP=\$PROBE_$F"
kill -9 "$LPID"; t0=$(date +%s%N)
if wait_for $((LD + 3)) metric_is "$FP" leasefence_leader 1; then
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  echo "# handover after SIGKILL: ${ms} ms (lease duration ${LD}s, retry period ${RP}s)"
  # client-go's rule: expired a lease duration after the standby saw the last renewal, which its polls (one
  # retry period with jitter 1.2, so up to 2.2 x) may see late, and it takes over at its next poll.
  check "handover within the lease duration + 2 jittered retry periods (${ms} ms)" test "$ms" -le $(( LD * 1000 + 2 * 22 * ${RP/./} * 10 ))
else fail "replica $F is elected after the SIGKILL"; fi
eval "sim_ctl \"/services?ns=leasefence-system&name=leasefence&addr=127.0.0.1:\$PORT_$F\" -o /dev/null"
k apply -f "$TMP/lf.yaml" >/dev/null
check "the new leader keeps the configuration in step" wait_for 3 expr_is fenced-writers "$WRITERS_CTRL"
expect_eq "the election Lease names it" "leasefence-$F" "$(k -n leasefence-system get lease leasefence -o jsonpath='{.spec.holderIdentity}')"
expect_eq "both replicas wrote the configuration, one after the other" "leasefence-a leasefence-b" "$(writers_of validatingwebhookconfigurations)"

# Deleting the LeaseFence takes the writer out.
k delete -f "$TMP/lf.yaml" >/dev/null
check "deleting the LeaseFence empties fenced-writers" wait_for 2 expr_is fenced-writers "$WRITERS_NONE"
check "and the writer is unfenced" wait_for 2 write_is tok-controller-1 201

# SIGTERM releases the election Lease.
eval "FPID=\$PID_$F"
kill "$FPID"; wait "$FPID" 2>/dev/null
expect_eq "SIGTERM: the election Lease is released" "" "$(k -n leasefence-system get lease leasefence -o jsonpath='{.spec.holderIdentity}')"

done_testing
