#!/usr/bin/env bash
# The machine's real kubectl against kube-sim's CustomResourceDefinitions:
# apply the sample LeaseFence CRD (tests/kube-sim/testdata), then a
# LeaseFence; get with the printer columns, get -w, describe, patch of the
# status subresource, a refused `mode: bogus` (422 naming the field), the
# strategic-merge-patch refusal, delete; and kube-sim's /stats watch count.
. "$(dirname "$0")/../lib.sh"

KUBECTL=${KUBECTL:-kubectl}
command -v "$KUBECTL" >/dev/null || { fail "kubectl not found (tests/deps.sh installs kubernetes-client)"; done_testing; exit 1; }
[ -x "$BUILD/kube-sim" ] || { fail "build/kube-sim missing: run make"; done_testing; exit 1; }
CRD_FILE=$ROOT/tests/kube-sim/testdata/leasefence-crd.json

mkdir -p "$TMP/sim"
start_kube_sim || { fail "kube-sim starts"; done_testing; exit 1; }
ok "kube-sim starts"
# A fresh discovery cache: kubectl must find the new resource by itself.
k() { timeout 30 "$KUBECTL" --cache-dir "$TMP/kube-cache" "$@"; }

out=$(k get leasefences 2>&1)
check "before the CRD: no such resource" grep -q "the server doesn't have a resource type \"leasefences\"" <<<"$out"
out=$(k apply -f "$CRD_FILE" 2>&1)
expect_eq "kubectl apply of the CRD" "customresourcedefinition.apiextensions.k8s.io/leasefences.leasefence.io created" "$out"
expect_eq "CRD Established" "True" "$(k get crd leasefences.leasefence.io -o jsonpath='{.status.conditions[?(@.type=="Established")].status}')"
expect_eq "CRD NamesAccepted, accepted names" "True LeaseFence" "$(k get crd leasefences.leasefence.io -o jsonpath='{.status.conditions[?(@.type=="NamesAccepted")].status} {.status.acceptedNames.kind}')"
out=$(k get crd 2>&1)
check "kubectl get crd: NAME CREATED AT" grep -Eq '^leasefences\.leasefence\.io +[0-9]{4}-[0-9]{2}-[0-9]{2}T' <<<"$out"
out=$(k get leasefences 2>&1)
expect_eq "kubectl get right after the CRD: found, empty" "No resources found in default namespace." "$out"
out=$(k api-resources --api-group=leasefence.io --no-headers 2>&1)
check "api-resources lists leasefences (short name lf)" grep -Eq '^leasefences +lf +leasefence.io/v1alpha1 +true +LeaseFence$' <<<"$out"

cat >"$TMP/lf.yaml" <<'YAML'
apiVersion: leasefence.io/v1alpha1
kind: LeaseFence
metadata:
  name: controller
spec:
  lease: controller-leader
  writers:
    users: ["system:serviceaccount:demo:controller"]
YAML
out=$(k apply -f "$TMP/lf.yaml" 2>&1)
expect_eq "kubectl apply creates a LeaseFence" "leasefence.leasefence.io/controller created" "$out"
out=$(k get leasefences 2>&1)
check "printer columns" grep -Eq '^NAME +LEASE +HOLDER +MODE +READY +AGE$' <<<"$(head -n1 <<<"$out")"
check "row: defaults applied, no status yet" grep -Eq '^controller +controller-leader +enforce +[0-9]+s$' <<<"$(sed -n 2p <<<"$out")"
expect_eq "generation 1, identity defaulted" "1 podName" "$(k get lf controller -o jsonpath='{.metadata.generation} {.spec.identity}')"

# get -w sees one change (the status written below).
k get leasefences -w --output-watch-events --request-timeout=8s >"$TMP/watch.out" 2>&1 &
WATCH_PID=$!; PIDS+=("$WATCH_PID")
wait_for 5 grep -q controller "$TMP/watch.out"
out=$(k patch leasefence controller --subresource=status --type=merge \
  -p '{"status":{"holder":"controller-0","observedGeneration":1,"conditions":[{"type":"Ready","status":"True","reason":"Holder"}]}}' 2>&1)
expect_eq "kubectl patch --subresource=status" "leasefence.leasefence.io/controller patched" "$out"
check "kubectl get -w prints the MODIFIED row" wait_for 5 grep -Eq '^MODIFIED +controller +controller-leader +controller-0 +enforce +True +[0-9]+s$' "$TMP/watch.out"
out=$(k get leasefences --no-headers 2>&1)
check "holder and READY columns from .status" grep -Eq '^controller +controller-leader +controller-0 +enforce +True +[0-9]+s$' <<<"$out"
expect_eq "status write left generation and spec alone" "1 enforce" "$(k get lf controller -o jsonpath='{.metadata.generation} {.spec.mode}')"
out=$(k patch leasefence controller --subresource=status --type=merge -p '{"spec":{"mode":"audit"}}' 2>&1)
expect_eq "spec through the status subresource: ignored" "enforce" "$(k get lf controller -o jsonpath='{.spec.mode}')"

out=$(k describe leasefence controller 2>&1)
check "describe: kind and spec" grep -q "^Kind:         LeaseFence" <<<"$out"
check "describe: status holder" grep -Eq '^  Holder: +controller-0$' <<<"$out"
check "describe: events section" grep -q "^Events:" <<<"$out"

# Apply again with a change: a JSON merge patch (CRs have no patch strategies).
sed 's/lease: controller-leader/lease: controller-leader\n  mode: warn/' "$TMP/lf.yaml" >"$TMP/lf2.yaml"
out=$(k apply -f "$TMP/lf2.yaml" 2>&1)
expect_eq "kubectl apply again configures" "leasefence.leasefence.io/controller configured" "$out"
check "second apply was a merge patch" grep -q 'PATCH /apis/leasefence.io/v1alpha1/namespaces/default/leasefences/controller?.* code=200' "$TMP/kube-sim.log"
expect_eq "spec change: generation 2, status kept" "2 warn controller-0" "$(k get lf controller -o jsonpath='{.metadata.generation} {.spec.mode} {.status.holder}')"
out=$(k apply -f "$TMP/lf2.yaml" 2>&1)
expect_eq "apply unchanged" "leasefence.leasefence.io/controller unchanged" "$out"
out=$(k patch leasefence controller -p '{"spec":{"mode":"audit"}}' 2>&1)
check "strategic merge patch refused (415)" grep -q "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml" <<<"$out"

# Schema validation: the real messages.
sed 's/lease: controller-leader/lease: controller-leader\n  mode: bogus/; s/name: controller/name: bogus/' "$TMP/lf.yaml" >"$TMP/bogus.yaml"
out=$(k apply -f "$TMP/bogus.yaml" 2>&1)
expect_eq "mode: bogus refused with 422 naming the field" 'The LeaseFence "bogus" is invalid: spec.mode: Unsupported value: "bogus": supported values: "enforce", "warn", "audit"' "$out"
check "the 422 on the wire" grep -q 'POST /apis/leasefence.io/v1alpha1/namespaces/default/leasefences?.* code=422' "$TMP/kube-sim.log"
sed 's/  writers:/  surprise: 1\n  writers:/; s/name: controller/name: strict/' "$TMP/lf.yaml" >"$TMP/unknown.yaml"
out=$(k create -f "$TMP/unknown.yaml" 2>&1)
expect_eq "unknown field, kubectl's default --validate=strict" 'Error from server (BadRequest): error when creating "'"$TMP/unknown.yaml"'": LeaseFence in version "v1alpha1" cannot be handled as a LeaseFence: strict decoding error: unknown field "spec.surprise"' "$out"
out=$(k create -f "$TMP/unknown.yaml" --validate=warn 2>&1)
check "unknown field, --validate=warn: pruned with a warning" grep -q 'Warning: unknown field "spec.surprise"' <<<"$out"
expect_eq "pruned" "" "$(k get lf strict -o jsonpath='{.spec.surprise}')"

# kube-sim counts the open watches.
curl -s -N --cacert "$SIM_DIR/ca.crt" -H "Authorization: Bearer $(cat "$SIM_DIR/token")" \
  "https://127.0.0.1:$SIM_PORT/apis/leasefence.io/v1alpha1/leasefences?watch=1&timeoutSeconds=60" >/dev/null &
PIDS+=($!)
check "GET /stats counts the watch (cluster-wide)" wait_for 20 bash -c "curl -s http://127.0.0.1:$SIM_CTL/stats |
  jq -e '.watchesByResource[\"leasefences.leasefence.io\"] == 1 and .watchesClusterWide[\"leasefences.leasefence.io\"] == 1 and .watchesByNamespace[\"leasefences.leasefence.io\"] == null'"

# Delete.
out=$(k delete leasefence controller 2>&1)
expect_eq "kubectl delete leasefence" 'leasefence.leasefence.io "controller" deleted' "$out"
out=$(k get leasefence controller 2>&1)
expect_eq "deleted: NotFound" 'Error from server (NotFound): leasefences.leasefence.io "controller" not found' "$out"
out=$(k delete -f "$CRD_FILE" 2>&1)
expect_eq "kubectl delete of the CRD" 'customresourcedefinition.apiextensions.k8s.io "leasefences.leasefence.io" deleted' "$out"
check "its objects went with it" grep -q '"type":"commit","verb":"delete","group":"leasefence.io","resource":"leasefences","namespace":"default","name":"strict"' <<<"$(curl -s "http://127.0.0.1:$SIM_CTL/log")"
out=$(k get leasefences 2>&1)
check "after the CRD, with the cached discovery: NotFound" grep -q 'Error from server (NotFound): Unable to list "leasefence.io/v1alpha1, Resource=leasefences": the server could not find the requested resource' <<<"$out"
out=$(timeout 30 "$KUBECTL" --cache-dir "$TMP/kube-cache2" get leasefences 2>&1)
check "after the CRD, fresh discovery: no such resource" grep -q "the server doesn't have a resource type \"leasefences\"" <<<"$out"

done_testing
