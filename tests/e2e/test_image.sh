#!/usr/bin/env bash
# The container image (`make image` first) run the way manifests/base runs it,
# against kube-sim:
#   - the pod comes from the rendered manifests (kubectl kustomize
#     manifests/base), not from this file: the container's args and env, its
#     ports (the webhook port the Service and the webhook configuration lead
#     to, the probe port and paths), its volume mounts (the ConfigMap, the TLS
#     Secret with its defaultMode and the pod's fsGroup, the emptyDir /tmp),
#     runAsUser/runAsGroup/fsGroup, the read-only root, no privilege
#     escalation and capabilities dropped; a change on either side that breaks
#     the other fails here;
#   - the base fences nothing; the fence is the demo overlay's LeaseFence
#     (manifests/examples), applied to kube-sim with the CRD from the render;
#   - Kubernetes access as in a cluster: the kubelet's service-account volume
#     (token, ca.crt, namespace) and KUBERNETES_SERVICE_HOST/PORT, with
#     kube-sim's CA and a token kube-sim knows as the leasefence service
#     account, so the in-cluster code path is the one exercised.  There is no
#     kubelet here: this test plays its part (volumes, env, the probes).
# Checks: the image's size (at most 40 MB), contents (no shell, no apt, no
# dpkg, no perl) and hardening (the binary copied out, readelf); --check-config
# in the container; /healthz over TLS for the Service's DNS name; /readyz;
# the Lease holder allowed and another replica denied; /metrics (promtool,
# build info); the process runs as 65532 with no capability; SIGTERM ends it
# with exit 0 well inside terminationGracePeriodSeconds less the preStop sleep.
#
# It runs in a network namespace of its own with only loopback (unshare --net):
# the container shares it (--network host inside it), so it listens on the
# Deployment's own :8443 and :8080 without meeting anything else on the
# machine, and no packet can leave loopback.
if [ -z "${LEASEFENCE_TEST_NETNS:-}" ]; then
  exec unshare --net -- env LEASEFENCE_TEST_NETNS=1 bash "$0" "$@"
fi
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/lib-hardening.sh"
cd "$ROOT" || exit 1
PY=/usr/bin/python3
ip link set lo up || { fail "loopback up in the test's network namespace"; done_testing; exit 1; }

VERSION=$(cat VERSION)
IMAGE=${LEASEFENCE_IMAGE:-leasefence:$VERSION}
NAME=leasefence-test-image-$$
PODMAN="$ROOT/tests/image/podman.sh"
CONTAINERS=()
cleanup_containers() {
  local c
  for c in "${CONTAINERS[@]+"${CONTAINERS[@]}"}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1; done
  cleanup
}
trap cleanup_containers EXIT

if ! podman image exists "$IMAGE"; then
  fail "image $IMAGE exists (run make image)"; done_testing; exit 1
fi

# ---- the image itself ------------------------------------------------------------
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "# image $IMAGE: $size bytes ($(awk -v s="$size" 'BEGIN {printf "%.1f", s / 1e6}') MB uncompressed)"
check "image size $((size / 1000000)) MB is at most 40 MB" test "$size" -le 40000000
expect_eq "image USER" "65532:65532" "$(podman image inspect --format '{{.Config.User}}' "$IMAGE")"
expect_eq "image ENTRYPOINT" "[/usr/local/bin/leasefence]" "$(podman image inspect --format '{{.Config.Entrypoint}}' "$IMAGE")"
cid=$("$PODMAN" create --pull=never --name "$NAME-files" "$IMAGE") && CONTAINERS+=("$NAME-files")
# (directories end in /)
podman export "$cid" | tar -t | sed 's|^\./||' | sort >"$TMP/files"
podman cp "$cid:/usr/local/bin/leasefence" "$TMP/leasefence" || fail "podman cp the binary out of the image"
podman rm -f "$cid" >/dev/null
echo "# $(wc -l <"$TMP/files") paths; packages: $(sed -n 's|^var/lib/dpkg/status.d/\(.\)|\1|p' "$TMP/files" | paste -sd' ' -)"
expect_eq "no program but leasefence (bin, sbin, usr/bin, usr/sbin, usr/local/bin)" "usr/local/bin/leasefence" \
  "$(grep -E '^(usr/)?(local/)?s?bin/.' "$TMP/files" | paste -sd' ' -)"
expect_eq "no shell, apt, dpkg or perl anywhere" "" \
  "$(grep -E '(^|/)(sh|bash|dash|busybox|apt|apt-get|dpkg|perl[0-9.]*)$|/perl5?/|^var/lib/dpkg/status$' "$TMP/files" | paste -sd' ' -)"
for p in libc6 libssl3 libcurl4 libjansson4 libyaml-0-2 libh2o-evloop0.13 ca-certificates; do
  check "package $p is in the image (var/lib/dpkg/status.d)" grep -qx "var/lib/dpkg/status.d/$p" "$TMP/files"
done
check "the CA bundle is in the image" grep -qx etc/ssl/certs/ca-certificates.crt "$TMP/files"
check_hardening "image: /usr/local/bin/leasefence" "$TMP/leasefence"

# ---- the pod, from the rendered manifests -------------------------------------------
kubectl kustomize manifests/base >"$TMP/base.yaml" 2>"$TMP/render.err" || fail "render manifests/base: $(cat "$TMP/render.err")"
kubectl kustomize manifests/examples >"$TMP/examples.yaml" 2>"$TMP/render.err" || fail "render manifests/examples: $(cat "$TMP/render.err")"
$PY - "$TMP/base.yaml" "$TMP/examples.yaml" >"$TMP/pod.json" <<'PY' || { fail "read the Deployment from the render"; done_testing; exit 1; }
import json, re, sys, yaml
base = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
demo = [d for d in yaml.safe_load_all(open(sys.argv[2])) if d]
def one(objs, kind, name=None):
    f = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(f) == 1, "%d %s %s" % (len(f), kind, name)
    return f[0]
dep = one(base, "Deployment", "leasefence")
ns = dep["metadata"]["namespace"]
pod = dep["spec"]["template"]["spec"]
c = [c for c in pod["containers"] if c["name"] == "leasefence"][0]
assert "command" not in c, "the container overrides the image's entrypoint"
ports = {p["name"]: p["containerPort"] for p in c["ports"]}
port = lambda p: p if isinstance(p, int) else ports[p]
psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
eff = dict(psc, **csc)
def qty(s):  # Kubernetes quantity -> bytes (the units emptyDir sizes use)
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi|k|M|G)?", str(s))
    return int(m.group(1)) * {None: 1, "Ki": 1024, "Mi": 1 << 20, "Gi": 1 << 30, "k": 1000, "M": 10**6, "G": 10**9}[m.group(2)]
vols = {v["name"]: v for v in pod.get("volumes", [])}
mounts = []
for m in c.get("volumeMounts", []):
    v = vols[m["name"]]
    d = {"path": m["mountPath"], "ro": bool(m.get("readOnly")), "name": m["name"]}
    if "configMap" in v:
        # The base's ConfigMap names the files; the demo overlay's (same name) gives the content.
        cm = one(base, "ConfigMap", v["configMap"]["name"])
        dcm = [o for o in demo if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("leasefence-config")][0]
        d.update(kind="configMap", mode=v["configMap"].get("defaultMode", 0o644),
                 files={k: dcm["data"].get(k, cm["data"][k]) for k in cm["data"]}, base_files=cm["data"])
    elif "secret" in v:
        d.update(kind="secret", secret=v["secret"]["secretName"], mode=v["secret"].get("defaultMode", 0o644))
    elif "emptyDir" in v:
        d.update(kind="emptyDir", size=qty(v["emptyDir"].get("sizeLimit", "64Mi")))
    else:
        raise SystemExit("volume %s: a kind this test does not emulate" % m["name"])
    mounts.append(d)
env = []
for e in c.get("env", []):
    if "value" in e: env.append([e["name"], e["value"]])
    elif e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") in ("metadata.name", "metadata.namespace"):
        env.append([e["name"], {"metadata.name": "leasefence-test-pod", "metadata.namespace": ns}[e["valueFrom"]["fieldRef"]["fieldPath"]]])
    else:
        raise SystemExit("env %s: a source this test does not emulate" % e["name"])
# The webhook's way in: the webhook configuration's Service port -> targetPort -> container port.
vwc = one(base, "ValidatingWebhookConfiguration", "leasefence")["webhooks"][0]["clientConfig"]["service"]
svc = one(base, "Service", vwc["name"])
sp = [p for p in svc["spec"]["ports"] if p["port"] == vwc.get("port", 443)][0]
json.dump({
    "image": c["image"], "args": c.get("args", []), "env": env, "ports": ports, "mounts": mounts,
    "user": eff.get("runAsUser"), "group": eff.get("runAsGroup"), "fsGroup": psc.get("fsGroup"),
    "readOnlyRoot": bool(csc.get("readOnlyRootFilesystem")), "noNewPrivs": csc.get("allowPrivilegeEscalation") is False,
    "capDrop": csc.get("capabilities", {}).get("drop", []),
    "automountSA": pod.get("automountServiceAccountToken", True), "serviceAccount": pod.get("serviceAccountName", "default"),
    "namespace": ns, "grace": pod.get("terminationGracePeriodSeconds", 30),
    "preStopSleep": c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0),
    "probes": {k: [c[k]["httpGet"]["path"], port(c[k]["httpGet"]["port"])] for k in ("startupProbe", "readinessProbe", "livenessProbe")},
    "webhook": {"host": "%s.%s.svc" % (vwc["name"], vwc["namespace"]), "path": vwc["path"], "port": port(sp["targetPort"])},
}, sys.stdout)
PY
pod() { jq -r "$@" "$TMP/pod.json"; }
expect_eq "the Deployment runs this image" "$IMAGE" "$(pod .image)"
mapfile -t ARGS < <(pod '.args[]')
echo "# args: ${ARGS[*]}"
echo "# ports: $(pod -c .ports); probes: $(pod -c .probes); webhook: $(pod -c .webhook)"
WEBHOOK_HOST=$(pod .webhook.host) WEBHOOK_PORT=$(pod .webhook.port) WEBHOOK_PATH=$(pod .webhook.path)
READY_PATH=$(pod '.probes.readinessProbe[0]') PROBE_PORT=$(pod '.probes.readinessProbe[1]')
HEALTH_PATH=$(pod '.probes.livenessProbe[0]')
UID_=$(pod .user) GID_=$(pod .group) FSGROUP=$(pod .fsGroup)

# ---- kube-sim, and the kubelet's part ----------------------------------------------------
SA_USER="system:serviceaccount:$(pod .namespace):$(pod .serviceAccount)"
SA_TOKEN=sa-token-$RANDOM$RANDOM
mkdir -p "$TMP/sim"
printf '[{"token":"%s","username":"%s","uid":"sa-uid","groups":["system:serviceaccounts","system:serviceaccounts:%s","system:authenticated"]}]\n' \
  "$SA_TOKEN" "$SA_USER" "$(pod .namespace)" >"$TMP/sim/users.json"
start_kube_sim --quiet || { fail "kube-sim starts"; done_testing; exit 1; }
ADMIN_TOKEN=$(cat "$SIM_DIR/token")
API=https://127.0.0.1:$SIM_PORT
api() { curl -s --cacert "$SIM_DIR/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' "$@"; }
api "$API/api/v1/namespaces" -d '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"demo"}}' >/dev/null
now=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
api "$API/apis/coordination.k8s.io/v1/namespaces/demo/leases" -d '{"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
  "metadata":{"name":"controller-leader","namespace":"demo"},
  "spec":{"holderIdentity":"pod-a","leaseDurationSeconds":3600,"acquireTime":"'$now'","renewTime":"'$now'","leaseTransitions":0}}' >/dev/null

# The fence is the demo's LeaseFence object (the demo overlay fences with it, not with config.json):
# the CRD from the rendered base, then the LeaseFence, applied with the real kubectl.
$PY - "$TMP/examples.yaml" "$TMP/crd.yaml" "$TMP/leasefence.yaml" <<'PY' || fail "find the CRD and the demo LeaseFence in the render"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
crd = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
lf = [d for d in docs if d["kind"] == "LeaseFence"]
assert len(crd) == 1 and len(lf) == 1, (len(crd), len(lf))
yaml.safe_dump(crd[0], open(sys.argv[2], "w"))
yaml.safe_dump(lf[0], open(sys.argv[3], "w"))
PY
KC=(kubectl --kubeconfig "$SIM_DIR/kubeconfig" --cache-dir "$TMP/kube-cache")
check "kubectl apply the LeaseFence CRD" "${KC[@]}" apply -f "$TMP/crd.yaml"
check "kubectl apply the demo LeaseFence (once the CRD is established)" wait_for 20 "${KC[@]}" apply -f "$TMP/leasefence.yaml"
LF_NS=$($PY -c 'import sys,yaml; print(yaml.safe_load(open(sys.argv[1]))["metadata"]["namespace"])' "$TMP/leasefence.yaml")
WRITER=system:serviceaccount:$LF_NS:$($PY -c 'import sys,yaml; print(yaml.safe_load(open(sys.argv[1]))["spec"]["writers"]["serviceAccounts"][0])' "$TMP/leasefence.yaml")

"$ROOT/certs/generate.sh" "$TMP/certs" >/dev/null 2>&1 || fail "serving certificate (certs/generate.sh)"
RUN=(--pull=never --network host --user "$UID_:$GID_")
[ "$FSGROUP" = null ] || RUN+=(--group-add "$FSGROUP")
# (podman would add tmpfs on /tmp, /run and /var/tmp to a read-only root; the kubelet adds none)
[ "$(pod .readOnlyRoot)" = true ] && RUN+=(--read-only --read-only-tmpfs=false)
[ "$(pod .noNewPrivs)" = true ] && RUN+=(--security-opt no-new-privileges)
for cap in $(pod '.capDrop[]'); do RUN+=(--cap-drop "$cap"); done
# volumes: files owned by root; the group is fsGroup and the mode defaultMode, as the kubelet sets them
n=0
while read -r m; do
  path=$(jq -r .path <<<"$m") kind=$(jq -r .kind <<<"$m") ro=$(jq -r .ro <<<"$m")
  dir=$TMP/vol/$((n += 1)); mkdir -p "$dir"; chmod 0755 "$dir"
  case $kind in
  configMap) for k in $(jq -r '.files | keys[]' <<<"$m"); do jq -r --arg k "$k" '.files[$k]' <<<"$m" >"$dir/$k"; done ;;
  secret) cp "$TMP/certs/tls.crt" "$TMP/certs/tls.key" "$TMP/certs/ca.crt" "$dir/" ;;
  emptyDir)
    RUN+=(--mount "type=tmpfs,destination=$path,tmpfs-size=$(jq -r .size <<<"$m"),tmpfs-mode=1777")
    echo "# volume emptyDir at $path (tmpfs of $(jq -r .size <<<"$m") bytes)"; continue ;;
  esac
  mode=$(printf '%o' "$(jq -r .mode <<<"$m")")
  chown -R "0:${FSGROUP/null/0}" "$dir"; find "$dir" -type f -exec chmod "$mode" {} +
  RUN+=(-v "$dir:$path:$([ "$ro" = true ] && echo ro || echo rw)")
  [ "$kind" != configMap ] || CONFIG_DIR=$dir CONFIG_PATH=$path
  echo "# volume $kind at $path ($([ "$ro" = true ] && echo ro || echo rw), mode $mode, group ${FSGROUP/null/0})"
done < <(jq -c '.mounts[]' "$TMP/pod.json")
if [ "$(pod .automountSA)" = true ]; then
  sa=$TMP/vol/serviceaccount; mkdir -p "$sa"; chmod 0755 "$sa"
  printf '%s' "$SA_TOKEN" >"$sa/token"; cp "$SIM_DIR/ca.crt" "$sa/ca.crt"; printf '%s' "$(pod .namespace)" >"$sa/namespace"
  chown -R "0:${FSGROUP/null/0}" "$sa"; chmod 0640 "$sa"/*
  RUN+=(-v "$sa:/var/run/secrets/kubernetes.io/serviceaccount:ro" -e KUBERNETES_SERVICE_HOST=127.0.0.1 -e "KUBERNETES_SERVICE_PORT=$SIM_PORT")
else
  fail "the Deployment mounts the service-account token (the tracker needs it)"
fi
while read -r e; do RUN+=(-e "$(jq -r '.[0]' <<<"$e")=$(jq -r '.[1]' <<<"$e")"); done < <(jq -c '.env[]' "$TMP/pod.json")

# ---- --check-config in the container ---------------------------------------------------------
cfg=$(printf '%s\n' "${ARGS[@]}" | sed -n 's/^--config=//p')
[ -n "$cfg" ] || fail "the Deployment's args name --config=FILE"
out=$("$PODMAN" run --rm "${RUN[@]}" "$IMAGE" serve --config "$cfg" --check-config 2>&1); rc=$?
expect_eq "--check-config accepts the demo configuration at the Deployment's path" "configuration OK 0" "$out $rc"
cp -a "$CONFIG_DIR" "$TMP/vol/config-base"
jq -r '.mounts[] | select(.kind == "configMap") | .base_files["config.json"]' "$TMP/pod.json" >"$TMP/vol/config-base/config.json"
base_run=("${RUN[@]/$CONFIG_DIR:/$TMP/vol/config-base:}")
out=$("$PODMAN" run --rm "${base_run[@]}" "$IMAGE" serve --config "$cfg" --check-config 2>&1); rc=$?
expect_eq "--check-config accepts the base's own configuration" "configuration OK 0" "$out $rc"
echo '{"fences": [{"lease": "demo"}]}' >"$TMP/vol/config-base/config.json"
out=$("$PODMAN" run --rm "${base_run[@]}" "$IMAGE" serve --config "$cfg" --check-config 2>&1); rc=$?
check "--check-config refuses a broken one, exit 1 ($out)" test "$rc" = 1 -a -n "$out"

# ---- serve, as the Deployment starts it --------------------------------------------------------
echo "# podman run ${RUN[*]} $IMAGE ${ARGS[*]}"
"$PODMAN" run -d --name "$NAME" "${RUN[@]}" "$IMAGE" "${ARGS[@]}" >/dev/null && CONTAINERS+=("$NAME") ||
  { fail "the container starts"; done_testing; exit 1; }
PROBE=http://127.0.0.1:$PROBE_PORT
URL=https://$WEBHOOK_HOST:$WEBHOOK_PORT
CURL=(curl -s --cacert "$TMP/certs/ca.crt" --resolve "$WEBHOOK_HOST:$WEBHOOK_PORT:127.0.0.1")
check "startup probe: $(pod '.probes.startupProbe[0]') on :$(pod '.probes.startupProbe[1]')" \
  wait_for 20 curl -sf -o /dev/null "http://127.0.0.1:$(pod '.probes.startupProbe[1]')$(pod '.probes.startupProbe[0]')"
expect_eq "$HEALTH_PATH over TLS on :$WEBHOOK_PORT, verified for $WEBHOOK_HOST" 200 \
  "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$URL$HEALTH_PATH")"
check "readiness probe: $READY_PATH on :$PROBE_PORT (the fenced Lease synced through the in-cluster client)" \
  wait_for 20 curl -sf -o /dev/null "$PROBE$READY_PATH"
expect_eq "liveness probe: $HEALTH_PATH on :$PROBE_PORT" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$PROBE$HEALTH_PATH")"

# review USER POD: an AdmissionReview v1 for a ConfigMap update by USER from pod POD
review() {
  printf '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"uid-%s","kind":{"group":"","version":"v1","kind":"ConfigMap"},"resource":{"group":"","version":"v1","resource":"configmaps"},"name":"state","namespace":"demo","operation":"UPDATE","userInfo":{"username":"%s","uid":"1","groups":["system:authenticated"],"extra":{"authentication.kubernetes.io/pod-name":["%s"]}},"object":{"metadata":{"name":"state"}},"oldObject":null,"dryRun":false}}' \
    "$RANDOM" "$1" "$2"
}
decide() { review "$@" | "${CURL[@]}" -H 'Content-Type: application/json' --data-binary @- "$URL$WEBHOOK_PATH" |
  jq -r '"\(.response.allowed) \(.response.auditAnnotations.reason // "-")"'; }
# The LeaseFence is watched, not read at start: give it up to 10 s to reach the decisions.
for _ in $(seq 100); do [ "$(decide "$WRITER" pod-a)" = "true holder" ] && break; sleep 0.1; done
expect_eq "the Lease holder's write is allowed" "true holder" "$(decide "$WRITER" pod-a)"
expect_eq "another replica's write is denied" "false not-holder" "$(decide "$WRITER" pod-b)"

curl -s "$PROBE/metrics" >"$TMP/metrics"
check "/metrics: served, promtool check metrics clean" bash -c "[ -s '$TMP/metrics' ] && promtool check metrics <'$TMP/metrics'"
info=$(grep '^leasefence_build_info' "$TMP/metrics")
echo "# $info"
check "leasefence_build_info says version $VERSION" grep -q "version=\"$VERSION\"" <<<"$info"
if [ -e .git ]; then
  head=$(git rev-parse --short=12 HEAD)
  check "leasefence_build_info carries this checkout's commit $head (make image passes it)" grep -q "commit=\"$head" <<<"$info"
fi
check "/metrics on the TLS port too" bash -c "$(printf '%q ' "${CURL[@]}") '$URL/metrics' | grep -q '^leasefence_build_info'"

pid=$(podman inspect --format '{{.State.Pid}}' "$NAME")
expect_eq "the process runs as uid $UID_ (real, effective, saved, fs)" "$UID_ $UID_ $UID_ $UID_" "$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")"
expect_eq "and gid $GID_" "$GID_ $GID_ $GID_ $GID_" "$(awk '/^Gid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")"
[ "$FSGROUP" = null ] || check "with fsGroup $FSGROUP among its groups" grep -qE "^Groups:.*\b$FSGROUP\b" "/proc/$pid/status"
expect_eq "no capability" "0000000000000000 0000000000000000" "$(awk '/^CapEff:/ {e=$2} /^CapPrm:/ {p=$2} END {print e, p}' "/proc/$pid/status")"
expect_eq "no new privileges" 1 "$(awk '/^NoNewPrivs:/ {print $2}' "/proc/$pid/status")"

# SIGTERM, as the kubelet sends it after the preStop sleep: exit 0 before the grace period ends.
budget=$(( $(pod .grace) - $(pod .preStopSleep) ))
t0=$(date +%s%N)
podman kill --signal TERM "$NAME" >/dev/null
rc=$(timeout $((budget + 5)) podman wait "$NAME")
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "SIGTERM: exit 0" 0 "$rc"
check "SIGTERM: stopped in ${ms} ms, inside the grace period less the preStop sleep (${budget} s)" test "$ms" -lt $((budget * 1000))
podman logs "$NAME" >"$TMP/container.log" 2>&1
check "the container logged its start (JSON lines on stderr)" grep -q '"msg":"serving"' "$TMP/container.log"
[ "$N_FAIL" -eq 0 ] || { echo "# container log:"; sed 's/^/#   /' "$TMP/container.log" | tail -20; }

done_testing
