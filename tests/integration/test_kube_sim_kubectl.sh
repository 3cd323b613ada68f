#!/usr/bin/env bash
# The machine's real kubectl (a version dispatcher: it picks kubectl 1.32 from
# GET /version) against kube-sim: Leases get/create/replace/delete/watch,
# apply twice, a configmap with a user's token, a denial by a registered
# webhook, and the real error messages.
. "$(dirname "$0")/../lib.sh"

KUBECTL=${KUBECTL:-kubectl}
command -v "$KUBECTL" >/dev/null || { fail "kubectl not found (tests/deps.sh installs kubernetes-client)"; done_testing; exit 1; }
[ -x "$BUILD/kube-sim" ] || { fail "build/kube-sim missing: run make test-build"; done_testing; exit 1; }

mkdir -p "$TMP/sim"
cat >"$TMP/sim/users.json" <<'JSON'
[{"token":"tok-controller","username":"system:serviceaccount:demo:controller","uid":"uid-ctl",
  "groups":["system:serviceaccounts","system:serviceaccounts:demo","system:authenticated"],
  "extra":{"authentication.kubernetes.io/pod-name":["controller-0"]}}]
JSON
start_kube_sim || { fail "kube-sim starts"; done_testing; exit 1; }
ok "kube-sim starts"
k() { timeout 30 "$KUBECTL" "$@"; }

ver=$(k version -o json 2>&1)
check "kubectl version reports v1.32.4" grep -q '"gitVersion": "v1.32.4"' <<<"$ver"

# HTTP/2 and HTTP/1.1 by ALPN.
TOKEN=$(cat "$SIM_DIR/token")
h2=$(curl -s --http2 --cacert "$SIM_DIR/ca.crt" -H "Authorization: Bearer $TOKEN" -o /dev/null -w '%{http_version}' "https://127.0.0.1:$SIM_PORT/api/v1/namespaces")
h1=$(curl -s --http1.1 --cacert "$SIM_DIR/ca.crt" -H "Authorization: Bearer $TOKEN" -o /dev/null -w '%{http_version}' "https://127.0.0.1:$SIM_PORT/api/v1/namespaces")
expect_eq "HTTP/2 by ALPN" 2 "$h2"
expect_eq "HTTP/1.1 by ALPN" 1.1 "$h1"
out=$(curl -s --cacert "$SIM_DIR/ca.crt" "https://127.0.0.1:$SIM_PORT/api/v1/namespaces")
expect_eq "no token: 401 Status" '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}' "$out"
out=$(k --token=wrong get leases 2>&1)
check "kubectl with an unknown token: must be logged in" grep -q "error: You must be logged in to the server" <<<"$out"

lease_yaml() {  # NAME HOLDER [DURATION] [NAMESPACE]
  cat <<YAML
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: $1
  namespace: ${4:-default}
spec:
  holderIdentity: $2
  leaseDurationSeconds: ${3:-15}
  leaseTransitions: 0
  renewTime: "2026-11-24T06:12:00.123456Z"
YAML
}

lease_yaml l1 pod-a >"$TMP/l1.yaml"
out=$(k create -f "$TMP/l1.yaml" 2>&1)
expect_eq "kubectl create lease" "lease.coordination.k8s.io/l1 created" "$out"
expect_eq "kubectl get lease" "pod-a" "$(k get lease l1 -o jsonpath='{.spec.holderIdentity}' 2>&1)"
out=$(k get leases 2>&1)
check "kubectl get leases lists l1" grep -q '^l1 ' <<<"$out"
check "kubectl get leases prints the server's table (HOLDER column)" grep -Eq '^NAME +HOLDER +AGE$' <<<"$(head -n1 <<<"$out")"
check "the table row carries the holder" grep -Eq '^l1 +pod-a +[0-9]+s$' <<<"$out"
out=$(k create -f "$TMP/l1.yaml" 2>&1)
expect_eq "create twice: AlreadyExists" 'Error from server (AlreadyExists): error when creating "'"$TMP/l1.yaml"'": leases.coordination.k8s.io "l1" already exists' "$out"

# Watch in the background while the lease changes.
k get lease l1 -w --request-timeout=6s -o jsonpath='{.spec.holderIdentity}{"\n"}' >"$TMP/watch.out" 2>&1 &
WATCH_PID=$!; PIDS+=("$WATCH_PID")
wait_for 5 grep -q pod-a "$TMP/watch.out"
rv_old=$(k get lease l1 -o jsonpath='{.metadata.resourceVersion}')
lease_yaml l1 pod-b >"$TMP/l1b.yaml"
out=$(k replace -f "$TMP/l1b.yaml" 2>&1)
expect_eq "kubectl replace lease" "lease.coordination.k8s.io/l1 replaced" "$out"
expect_eq "replaced holder" "pod-b" "$(k get lease l1 -o jsonpath='{.spec.holderIdentity}')"
check "kubectl get -w sees the change" wait_for 5 grep -q pod-b "$TMP/watch.out"

# Replace with a stale resourceVersion: the real Conflict message.
lease_yaml l1 pod-c | sed "s/^  namespace: default/  namespace: default\n  resourceVersion: \"$rv_old\"/" >"$TMP/l1c.yaml"
out=$(k replace -f "$TMP/l1c.yaml" 2>&1)
expect_eq "stale replace: Conflict" 'Error from server (Conflict): error when replacing "'"$TMP/l1c.yaml"'": Operation cannot be fulfilled on leases.coordination.k8s.io "l1": the object has been modified; please apply your changes to the latest version and try again' "$out"

# Validation.
lease_yaml bad pod-a 0 >"$TMP/bad.yaml"
out=$(k create -f "$TMP/bad.yaml" 2>&1)
expect_eq "leaseDurationSeconds 0: Invalid" 'The Lease "bad" is invalid: spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0' "$out"
lease_yaml bad2 pod-a | sed 's/123456Z/123Z/' >"$TMP/bad2.yaml"
out=$(k create -f "$TMP/bad2.yaml" 2>&1)
check "MicroTime with 3 digits: BadRequest" grep -q 'Error from server (BadRequest).*cannot parse ".123Z" as ".000000"' <<<"$out"

# MicroTime is re-encoded as kube-apiserver does: UTC, six fraction digits.
lease_yaml zoned pod-a | sed 's/renewTime: .*/renewTime: "2026-11-24T06:12:00,123456+05:30"/' >"$TMP/zoned.yaml"
k create -f "$TMP/zoned.yaml" >/dev/null 2>&1
expect_eq "renewTime written in +05:30 reads back in UTC" "2026-11-24T00:42:00.123456Z" "$(k get lease zoned -o jsonpath='{.spec.renewTime}')"
lease_yaml bad3 pod-a | sed 's/123456Z/123456+25:00/' >"$TMP/bad3.yaml"
out=$(k create -f "$TMP/bad3.yaml" 2>&1)
expect_eq "zone offset +25:00: BadRequest" 'Error from server (BadRequest): error when creating "'"$TMP/bad3.yaml"'": Lease in version "v1" cannot be handled as a Lease: parsing time "2026-11-24T06:12:00.123456+25:00": time zone offset hour out of range' "$out"

lease_yaml bogus pod-a | sed 's/^  holderIdentity: pod-a/  holderIdentity: pod-a\n  bogus: 1/' >"$TMP/bogus.yaml"
out=$(k create -f "$TMP/bogus.yaml" 2>&1)
expect_eq "unknown field, kubectl's default --validate=strict" 'Error from server (BadRequest): error when creating "'"$TMP/bogus.yaml"'": Lease in version "v1" cannot be handled as a Lease: strict decoding error: unknown field "spec.bogus"' "$out"
out=$(k create -f "$TMP/bogus.yaml" --validate=warn 2>&1)
check "unknown field, --validate=warn: created with a warning" grep -q 'Warning: unknown field "spec.bogus"' <<<"$out"

# Namespace that does not exist.
lease_yaml l1 pod-a 15 nope >"$TMP/nope.yaml"
out=$(k create -f "$TMP/nope.yaml" 2>&1)
expect_eq "create in a missing namespace: NotFound" 'Error from server (NotFound): error when creating "'"$TMP/nope.yaml"'": namespaces "nope" not found' "$out"

# apply twice: create, then a strategic merge patch.
lease_yaml l2 pod-a >"$TMP/l2.yaml"
out=$(k apply -f "$TMP/l2.yaml" 2>&1)
expect_eq "kubectl apply creates" "lease.coordination.k8s.io/l2 created" "$out"
lease_yaml l2 pod-z 20 >"$TMP/l2.yaml"
out=$(k apply -f "$TMP/l2.yaml" 2>&1)
expect_eq "kubectl apply again configures" "lease.coordination.k8s.io/l2 configured" "$out"
expect_eq "applied holder" "pod-z 20" "$(k get lease l2 -o jsonpath='{.spec.holderIdentity} {.spec.leaseDurationSeconds}')"
check "second apply was a PATCH" grep -q 'PATCH /apis/coordination.k8s.io/v1/namespaces/default/leases/l2?.* code=200' "$TMP/kube-sim.log"
out=$(k apply -f "$TMP/l2.yaml" 2>&1)
expect_eq "apply unchanged" "lease.coordination.k8s.io/l2 unchanged" "$out"

# A configmap created with a user's token (kubectl's typed client sends protobuf).
out=$(k --token=tok-controller create configmap state --from-literal=step=1 2>&1)
expect_eq "configmap with a user's token" "configmap/state created" "$out"
expect_eq "configmap data" "1" "$(k get configmap state -o jsonpath='{.data.step}')"
line=$(curl -s "http://127.0.0.1:$SIM_CTL/log" | grep '"resource":"configmaps"' | grep '"name":"state"' | head -n1)
check "log: commit by the user with its pod name" grep -q '"type":"commit","verb":"create".*"user":"system:serviceaccount:demo:controller","podName":"controller-0"' <<<"$line"

# A webhook that denies labelled configmaps.
WH=$TMP/wh; mkdir -p "$WH"
bg "$TMP/webhook.log" "$BUILD/kube-sim" test-webhook --dir "$WH" --service-name fence.demo.svc --code 403 --reason Forbidden
WEBHOOK_PID=$LAST_PID
wait_for 10 test -s "$WH/webhook-addr" || fail "test webhook starts"
sim_ctl "/services?ns=demo&name=fence&addr=$(cat "$WH/webhook-addr")" >/dev/null
check "webhook service registered" test $? -eq 0
cat >"$TMP/vwc.yaml" <<YAML
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: fence
webhooks:
- name: fence.leasefence.io
  admissionReviewVersions: ["v1"]
  sideEffects: None
  failurePolicy: Fail
  timeoutSeconds: 5
  clientConfig:
    service: {namespace: demo, name: fence, path: /validate}
    caBundle: $(base64 -w0 "$WH/webhook-ca.crt")
  namespaceSelector:
    matchLabels: {kubernetes.io/metadata.name: default}
  rules:
  - operations: ["CREATE", "UPDATE", "DELETE"]
    apiGroups: [""]
    apiVersions: ["v1"]
    resources: ["configmaps"]
YAML
out=$(k apply -f "$TMP/vwc.yaml" 2>&1)
expect_eq "register the webhook" "validatingwebhookconfiguration.admissionregistration.k8s.io/fence created" "$out"
cat >"$TMP/denied.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: denied
  labels: {deny: replica_controller-1_is_not_the_holder}
data: {a: b}
YAML
out=$(k --token=tok-controller create -f "$TMP/denied.yaml" 2>&1)
expect_eq "webhook denial message" 'Error from server (Forbidden): error when creating "'"$TMP/denied.yaml"'": admission webhook "fence.leasefence.io" denied the request: replica controller-1 is not the holder' "$out"
out=$(k get configmap denied 2>&1)
expect_eq "denied configmap not stored" 'Error from server (NotFound): configmaps "denied" not found' "$out"
out=$(k --token=tok-controller label configmap state deny=no_more_writes 2>&1)
expect_eq "webhook denies an update (patch)" 'Error from server (Forbidden): admission webhook "fence.leasefence.io" denied the request: no more writes' "$out"
out=$(k --token=tok-controller create configmap allowed --from-literal=a=b 2>&1)
expect_eq "webhook allows an unlabelled configmap" "configmap/allowed created" "$out"
req=$(grep '"name":"allowed"' "$WH/webhook-requests.jsonl" | head -n1)
check "webhook called over HTTP/1.1 with ?timeout=5s" grep -q '"proto":"HTTP/1.1".*"query":"timeout=5s"' <<<"$req"
check "review carries userInfo.extra pod-name" grep -q '"extra":{"authentication.kubernetes.io/pod-name":\["controller-0"\]}' <<<"$req"
check "review host is the service name" grep -q '"host":"fence.demo.svc:443"' <<<"$req"
n_before=$(wc -l <"$WH/webhook-requests.jsonl")
k create -f "$TMP/l1.yaml" -n kube-system >/dev/null 2>&1
expect_eq "leases are not sent to a configmap webhook" "$n_before" "$(wc -l <"$WH/webhook-requests.jsonl")"
adm=$(curl -s "http://127.0.0.1:$SIM_CTL/log" | grep '"type":"admission"' | grep '"allowed":false' | head -n1)
check "log: the denial with its webhook" grep -q '"webhook":"fence.leasefence.io","reason":"Forbidden"' <<<"$adm"

# Webhook down, failurePolicy Fail: 500 from kube-apiserver's message.
kill "$WEBHOOK_PID" 2>/dev/null
wait "$WEBHOOK_PID" 2>/dev/null
out=$(k create configmap down --from-literal=a=b 2>&1)
check "webhook down, failurePolicy Fail: InternalError" grep -q '^error: failed to create configmap: Internal error occurred: failed calling webhook "fence.leasefence.io": failed to call webhook: Post "https://fence.demo.svc:443/validate?timeout=5s"' <<<"$out"

# Delete, then NotFound.
out=$(k delete lease l1 2>&1)
expect_eq "kubectl delete lease" 'lease.coordination.k8s.io "l1" deleted' "$out"
out=$(k get lease l1 2>&1)
expect_eq "deleted lease: NotFound" 'Error from server (NotFound): leases.coordination.k8s.io "l1" not found' "$out"
check "watch ended by --request-timeout" wait_for 10 bash -c "! kill -0 $WATCH_PID 2>/dev/null"

# Namespaces.
out=$(k create namespace demo 2>&1)
expect_eq "kubectl create namespace" "namespace/demo created" "$out"
expect_eq "namespace label" "demo" "$(k get ns demo -o jsonpath='{.metadata.labels.kubernetes\.io/metadata\.name}')"

done_testing
