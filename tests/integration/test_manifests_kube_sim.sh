#!/usr/bin/env bash
# The rendered install against the local API server: the webhook
# configuration from `certs/overlay.sh DIR manifests/examples/demo` is created
# in kube-sim with the real kubectl, kube-sim maps the Service
# leasefence-system/leasefence to a locally running `leasefence serve` (with the
# rendered fence configuration and the generated certificate), and calls it:
# TLS verified against the rendered caBundle for the Service's DNS name, path
# /validate.  The demo fence then lets the Lease holder's ConfigMap writes
# through and denies another replica's, as a client sees them.  Also: the
# namespaceSelector exclusion, the metrics the alerts and dashboard use,
# certificate renewal and a configuration change through kubelet-style
# volumes, the demo's LeaseFence (from the rendered CRD) applied with kubectl,
# the demo's elect sidecar with its rendered flags, and failurePolicy Fail
# once leasefence is gone.
# Needs build/kube-sim and build/leasefence (make test-build).  kube-sim does not
# evaluate CEL matchConditions; test_manifests.sh checks those.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT" || exit 1
PY=/usr/bin/python3
need_built kube-sim leasefence

# ---- render the install with OpenSSL certificates and the demo fence --------
D=$TMP/install
bash certs/generate.sh "$D" >/dev/null && bash certs/overlay.sh "$D" manifests/examples/demo >/dev/null
if kubectl kustomize "$D" >"$TMP/rendered.yaml" 2>"$TMP/render.err"; then ok "render the overlay with the demo fence"
else fail "render: $(cat "$TMP/render.err")"; done_testing; exit 1; fi
# Pull out what we run with: the webhook configuration, the fence
# configuration, the demo namespace; and the container's args, to run the
# server with the same flags.
kubectl kustomize manifests/base >"$TMP/base.yaml" 2>/dev/null
$PY - "$TMP/base.yaml" "$TMP/base-" <<'PY' || fail "extract objects from the base render"
import json, sys, yaml
for o in yaml.safe_load_all(open(sys.argv[1])):
    if o and o["kind"] == "ValidatingWebhookConfiguration": json.dump(o, open(sys.argv[2] + "vwc.json", "w"))
PY
$PY - "$TMP/rendered.yaml" "$TMP" <<'PY' || fail "extract objects from the render"
import json, sys, yaml
objs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
out = sys.argv[2]
for o in objs:
    k, n = o["kind"], o["metadata"]["name"]
    if k == "ValidatingWebhookConfiguration": json.dump(o, open(out + "/vwc.json", "w"))
    if k == "Namespace" and n == "demo": json.dump(o, open(out + "/ns-demo.json", "w"))
    if k == "ConfigMap" and n.startswith("leasefence-config"): open(out + "/config.json", "w").write(o["data"]["config.json"])
    if k == "CustomResourceDefinition": json.dump(o, open(out + "/crd.json", "w"))
    if k == "LeaseFence": json.dump(o, open(out + "/leasefence.json", "w"))
    if k == "Deployment" and n == "leasefence":
        c = o["spec"]["template"]["spec"]["containers"][0]
        open(out + "/args", "w").write("\n".join(c["args"]) + "\n")
    if k == "Deployment" and n == "controller":
        for c in o["spec"]["template"]["spec"]["containers"]:
            if c.get("args", [])[:1] == ["elect"]: open(out + "/elect-args", "w").write("\n".join(c["args"]) + "\n")
            if c["name"] == "app": open(out + "/app.sh", "w").write(c["args"][0])
PY
for f in vwc.json ns-demo.json config.json crd.json leasefence.json args elect-args app.sh; do check "rendered $f" test -s "$TMP/$f"; done

# ---- kube-sim, with tokens for two replicas of the demo controller -----------
mkdir -p "$TMP/sim"
cat >"$TMP/sim/users.json" <<JSON
[
$(controller_users),
 {"token": "tok-other", "username": "system:serviceaccount:demo:other", "uid": "u-o",
  "groups": ["system:serviceaccounts", "system:authenticated"]}
]
JSON
start_kube_sim || { fail "kube-sim starts"; done_testing; exit 1; }
ok "kube-sim starts"

check "kubectl creates the rendered demo Namespace" kubectl create -f "$TMP/ns-demo.json"
check "kubectl applies the rendered CRD" kubectl apply -f "$TMP/crd.json"
check "kubectl creates the namespace leasefence-system (the election Lease's)" kubectl create namespace leasefence-system
check "kubectl applies the demo's LeaseFence" kubectl apply -f "$TMP/leasefence.json"
now=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
cat >"$TMP/lease.json" <<JSON
{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
 "metadata": {"name": "controller-leader", "namespace": "demo"},
 "spec": {"holderIdentity": "controller-0", "leaseDurationSeconds": 3600, "leaseTransitions": 2,
          "acquireTime": "$now", "renewTime": "$now"}}
JSON
check "kubectl creates the Lease demo/controller-leader held by controller-0" kubectl create -f "$TMP/lease.json"
epoch=$(kubectl get lease -n demo controller-leader -o jsonpath='{.metadata.uid}/{.spec.leaseTransitions}')

# ---- leasefence serve, with the rendered flags but local addresses -----------
# The configuration and the certificate live in directories laid out the way
# the kubelet writes ConfigMap and Secret volumes (files are symlinks through
# ..data to a timestamped directory; an update swaps ..data atomically), so
# the reloads below go through the same path as in a cluster.
# volume DIR FILE...: create or update the volume DIR with copies of FILEs.
VOLN=0
volume() {
  local dir=$1 f ts; shift
  VOLN=$((VOLN + 1)); ts="..2026_01_01_00_00_00.$VOLN"
  mkdir -p "$dir/$ts"
  for f in "$@"; do cp "$f" "$dir/$ts/$(basename "$f")"; done
  ln -sfn "$ts" "$dir/..data_tmp" && mv -T "$dir/..data_tmp" "$dir/..data"
  for f in "$@"; do [ -L "$dir/$(basename "$f")" ] || ln -s "..data/$(basename "$f")" "$dir/$(basename "$f")"; done
}
volume "$TMP/vol-config" "$TMP/config.json"
volume "$TMP/vol-tls" "$D/tls.crt" "$D/tls.key"

mapfile -t args <"$TMP/args"
run=()
for a in "${args[@]}"; do
  case $a in
    --config=*) run+=("--config=$TMP/vol-config/config.json") ;;
    --tls-cert=*) run+=("--tls-cert=$TMP/vol-tls/tls.crt") ;;
    --tls-key=*) run+=("--tls-key=$TMP/vol-tls/tls.key") ;;
    --listen=*) run+=("--listen=127.0.0.1:0") ;;
    --probe-listen=*) run+=("--probe-listen=127.0.0.1:0") ;;
    *) run+=("$a") ;;
  esac
done
run+=("--kubeconfig=$SIM_DIR/kubeconfig")
echo "# $LEASEFENCE ${run[*]}"
bg "$TMP/leasefence.log" $LEASEFENCE "${run[@]}"
LF_PID=$LAST_PID
# (the ports it bound, from its log: the rendered flags keep --log-level=info)
{ WPORT=$(listen_port "$TMP/leasefence.log" --listen "$LF_PID" 60) &&
  PPORT=$(listen_port "$TMP/leasefence.log" --probe-listen "$LF_PID" 60); } ||
  { fail "leasefence serve listens on the ports it bound"; done_testing; exit 1; }
if wait_for 60 curl -sf "http://127.0.0.1:$PPORT/readyz"; then ok "leasefence serve is ready with the rendered flags and configuration"
else fail "leasefence serve is ready: $(tail -c 1500 "$TMP/leasefence.log")"; done_testing; exit 1; fi

check "the probe port serves /healthz (liveness, startup)" curl -sf -o /dev/null "http://127.0.0.1:$PPORT/healthz"

# ---- the webhook configuration, and the Service mapping ----------------------
check "kube-sim maps leasefence-system/leasefence to 127.0.0.1:$WPORT" \
  sim_ctl "/services?ns=leasefence-system&name=leasefence&addr=127.0.0.1:$WPORT" -o /dev/null
check "kube-sim accepts the base's webhook configuration (rules on */*; server-side dry run)" \
  kubectl create --dry-run=server -f "$TMP/base-vwc.json"
check "kubectl creates the rendered ValidatingWebhookConfiguration" kubectl create -f "$TMP/vwc.json"
expect_eq "the stored caBundle is the generated CA" "$(base64 -w0 <"$D/ca.crt")" \
  "$(kubectl get validatingwebhookconfiguration leasefence -o jsonpath='{.webhooks[0].clientConfig.caBundle}')"

# write TOKEN NAME [EPOCH]: create the ConfigMap demo/NAME as the token's user;
# prints the HTTP code, the body goes to $TMP/last.json.
write() {
  local ann=""
  [ -n "${3:-}" ] && ann=",\"annotations\":{\"leasefence.io/epoch\":\"$3\"}"
  curl -s -o "$TMP/last.json" -w '%{http_code}' --cacert "$SIM_DIR/ca.crt" -H "Authorization: Bearer $1" \
    -H 'Content-Type: application/json' -X POST "$API/api/v1/namespaces/demo/configmaps" \
    -d "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"$2\"$ann},\"data\":{\"k\":\"v\"}}"
}
expect_eq "the holder (controller-0) writes" 201 "$(write tok-controller-0 from-holder)"
expect_eq "the holder writes with the current epoch tag" 201 "$(write tok-controller-0 from-holder-tagged "$epoch")"
expect_eq "another replica (controller-1) is denied" 403 "$(write tok-controller-1 from-standby)"
msg=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1])).get("message",""))' "$TMP/last.json" 2>/dev/null)
echo "# denial: $msg"
check "the denial names the webhook, as kube-apiserver words it" grep -q 'admission webhook "fence.leasefence.io" denied the request' <<<"$msg"
check "the denial names the holder" grep -q 'controller-0' <<<"$msg"
expect_eq "the holder with a stale epoch tag is denied" 403 "$(write tok-controller-0 stale "${epoch%/*}/1")"
expect_eq "an unfenced writer writes" 201 "$(write tok-other from-other)"
# The real kubectl as the denied replica.  (kubectl create -f with JSON:
# `kubectl create configmap` sends protobuf, which kube-sim does not take.)
cm='{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"by-kubectl","namespace":"demo"},"data":{"k":"v"}}'
if out=$(kubectl --token=tok-controller-1 create -f - <<<"$cm" 2>&1); then
  fail "kubectl as controller-1 is denied: it succeeded"
else
  echo "# kubectl: $out"
  check "kubectl as controller-1 is denied by fence.leasefence.io" grep -q 'admission webhook "fence.leasefence.io" denied' <<<"$out"
fi
check "kubectl as controller-0 (the holder) writes" kubectl --token=tok-controller-0 create -f - <<<"$cm"
# Namespaces the webhook excludes are never sent to it.
expect_eq "namespace kube-system carries kubernetes.io/metadata.name" kube-system \
  "$(kubectl get namespace kube-system -o jsonpath='{.metadata.labels.kubernetes\.io/metadata\.name}')"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$SIM_DIR/ca.crt" -H "Authorization: Bearer tok-controller-1" \
  -H 'Content-Type: application/json' -X POST "$API/api/v1/namespaces/kube-system/configmaps" \
  -d '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}')
expect_eq "kube-system is excluded by the namespaceSelector (controller-1 writes there)" 201 "$code"

# What each side saw.
check "kube-sim logged admission calls to fence.leasefence.io" \
  sh -c "curl -sf 'http://127.0.0.1:$SIM_CTL/log' | grep -q '\"webhook\":\"fence.leasefence.io\"'"
curl -sf "http://127.0.0.1:$PPORT/metrics" >"$TMP/metrics.txt"
metric() {  # metric REASON DECISION: the sample's value, 0 when absent
  awk -v r="reason=\"$1\"" -v d="decision=\"$2\"" '/^leasefence_admission_requests_total\{/ && index($0, r) && index($0, d) {s += $NF} END {print s + 0}' "$TMP/metrics.txt"
}
check "metrics: allowed/holder counted" test "$(metric holder allowed)" -ge 3
check "metrics: denied/not-holder counted" test "$(metric not-holder denied)" -ge 2
check "metrics: denied/stale-epoch counted" test "$(metric stale-epoch denied)" -ge 1
check "metrics: allowed/unfenced counted" test "$(metric unfenced allowed)" -ge 1

# Every metric the alerts and the dashboard use is one the server exports.
kubectl kustomize manifests/monitoring >"$TMP/monitoring.yaml" 2>/dev/null
used=$($PY - "$TMP/monitoring.yaml" <<'PY'
import json, re, sys, yaml
text = ""
for d in yaml.safe_load_all(open(sys.argv[1])):
    if not d: continue
    if d["kind"] == "PrometheusRule": text += json.dumps(d["spec"])
    if d["kind"] == "ConfigMap": text += "".join(d.get("data", {}).values())
print("\n".join(sorted(set(re.findall(r"\bleasefence_[a-z_]+", text)))))
PY
)
check "the alerts and the dashboard name metrics" test -n "$used"
for m in $used; do
  check "the server exports $m (used by the alerts or the dashboard)" grep -q "^${m}[{ ]" "$TMP/metrics.txt"
done

# Renewal as the README describes it: generate.sh again on the same directory
# keeps the CA (the caBundle stays valid); the Secret volume is updated, the
# server reloads the new certificate in place and the API server keeps
# reaching it.
served() { echo | timeout 10 openssl s_client -connect "127.0.0.1:$WPORT" -servername leasefence.leasefence-system.svc 2>/dev/null | openssl x509 -noout -fingerprint -sha256; }
before=$(served)
bash certs/generate.sh "$D" >/dev/null
t0=$(date +%s%N)
volume "$TMP/vol-tls" "$D/tls.crt" "$D/tls.key"
want=$(openssl x509 -in "$D/tls.crt" -noout -fingerprint -sha256)
check "the renewed certificate differs from the one served" test "$before" != "$want"
if wait_for 30 sh -c "[ \"\$(echo | timeout 10 openssl s_client -connect 127.0.0.1:$WPORT -servername leasefence.leasefence-system.svc 2>/dev/null | openssl x509 -noout -fingerprint -sha256)\" = '$want' ]"; then
  ok "leasefence serves the renewed certificate without a restart"
  echo "# certificate reload: served $(( ($(date +%s%N) - t0) / 1000000 )) ms after the volume swap"
else
  fail "leasefence serves the renewed certificate without a restart (serves $(served))"
fi
curl -sf "http://127.0.0.1:$PPORT/metrics" >"$TMP/metrics2.txt"
check "metrics: a certificate reload counted ok" sh -c "grep -qE '^leasefence_certificate_reloads_total\{result=\"ok\"\} [1-9]' '$TMP/metrics2.txt'"
expect_eq "the API server still reaches leasefence after the renewal (the caBundle is unchanged)" 201 "$(write tok-controller-0 after-renewal)"

# A fence configuration change through the ConfigMap volume: a fence of the
# file's own for system:serviceaccount:demo:other (by username: never the holder).
$PY -c 'import json,sys; c=json.load(open(sys.argv[1])); c["fences"].append({"lease": "demo/other-leader", "writers": {"users": ["system:serviceaccount:demo:other"]}, "identity": "username"}); json.dump(c, open(sys.argv[2], "w"))' \
  "$TMP/config.json" "$TMP/config-other.json"
mkdir -p "$TMP/other" && cp "$TMP/config-other.json" "$TMP/other/config.json"
t0=$(date +%s%N)
volume "$TMP/vol-config" "$TMP/other/config.json"
if wait_for 30 sh -c "curl -sf http://127.0.0.1:$PPORT/metrics | grep -Eq '^leasefence_config_reloads_total\{result=\"ok\"\} [1-9]'"; then
  ok "leasefence reloads the configuration from the ConfigMap volume"
  echo "# configuration reload: counted $(( ($(date +%s%N) - t0) / 1000000 )) ms after the volume swap"
else
  fail "leasefence reloads the configuration from the ConfigMap volume: $(tail -c 800 "$TMP/leasefence.log")"
fi
check "the file's fence denies system:serviceaccount:demo:other" wait_for 5 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --cacert '$SIM_DIR/ca.crt' -H 'Authorization: Bearer tok-other' -H 'Content-Type: application/json' -X POST '$API/api/v1/namespaces/demo/configmaps?dryRun=All' -d '{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"o\"}}')\" = 403 ]"
# The LeaseFence changed to mode warn with kubectl: controller-1 is let through, with a warning.
check "kubectl patch of the LeaseFence: mode warn" kubectl -n demo patch leasefence controller --type=merge -p '{"spec":{"mode":"warn"}}'
check "mode warn is in force within 2 s" wait_for 2 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --cacert '$SIM_DIR/ca.crt' -H 'Authorization: Bearer tok-controller-1' -H 'Content-Type: application/json' -X POST '$API/api/v1/namespaces/demo/configmaps?dryRun=All' -d '{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"w\"}}')\" = 201 ]"
hdr=$TMP/headers.txt
code=$(curl -s -D "$hdr" -o "$TMP/last.json" -w '%{http_code}' --cacert "$SIM_DIR/ca.crt" -H "Authorization: Bearer tok-controller-1" \
  -H 'Content-Type: application/json' -X POST "$API/api/v1/namespaces/demo/configmaps" \
  -d '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"standby-in-warn-mode"}}')
expect_eq "in warn mode controller-1's write is let through" 201 "$code"
check "with a Warning header naming the holder" grep -qi '^warning:.*controller-0' "$hdr"

# The demo's elector sidecar, with its rendered flags, as controller-0 (the
# holder): it keeps the Lease, and its status endpoint answers in the form the
# demo app parses.
mapfile -t eargs <"$TMP/elect-args"
erun=()
for a in "${eargs[@]}"; do
  case $a in
    '$(POD_NAME)') erun+=(controller-0) ;;
    *:4040) erun+=(127.0.0.1:0) ;;
    *) erun+=("$a") ;;
  esac
done
erun=("${erun[0]}" "--kubeconfig=$SIM_DIR/kubeconfig" "${erun[@]:1}")
echo "# $LEASEFENCE ${erun[*]}"
bg "$TMP/elect.log" $LEASEFENCE "${erun[@]}"
SPORT=$(listen_port "$TMP/elect.log" --status-listen "$LAST_PID" 60) || fail "the elect sidecar listens on the port it bound"
if wait_for 60 sh -c "curl -sf 'http://127.0.0.1:$SPORT/' | grep -Eq '\"isLeader\" *: *true'"; then
  ok "the demo's elect sidecar (rendered flags) leads as controller-0"
  status=$(curl -sf "http://127.0.0.1:$SPORT/")
  echo "# status: $status"
  # The demo app's own parsing, taken from the rendered script.
  parse=$(grep -o "sed -n '[^']*'" "$TMP/app.sh" | head -1)
  expect_eq "the demo app's parsing of the status gives the Lease epoch" "$epoch" "$(echo "$status" | eval "$parse")"
else
  fail "the demo's elect sidecar leads as controller-0: $(tail -c 1500 "$TMP/elect.log")"
fi

# failurePolicy Fail: with leasefence gone, fenced writes fail closed.
kill "$LF_PID"; wait "$LF_PID" 2>/dev/null
code=$(write tok-controller-0 while-down)
check "with leasefence down the holder's write fails closed (failurePolicy Fail), got $code" test "$code" -ge 500
msg=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1])).get("message",""))' "$TMP/last.json" 2>/dev/null)
echo "# failure: $msg"
check "the failure names the webhook and its Service URL" grep -q 'failed calling webhook "fence.leasefence.io".*https://leasefence.leasefence-system.svc:443/validate' <<<"$msg"

done_testing
