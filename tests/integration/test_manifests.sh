#!/usr/bin/env bash
# Renders every kustomization under manifests/ with the machine's kubectl and
# checks the objects against what the server and the cluster need: ports and
# probe paths that agree with `leasefence serve` (8443, 8080, /readyz, /healthz,
# /validate), the webhook's safety settings, the securityContext, RBAC narrowed
# to the fenced Leases, the fence configuration in step with the webhook's
# matchConditions; the alert rules (promtool check rules + promtool test rules);
# the dashboard; and the Dockerfile, statically.
# Needs: kubectl, promtool, /usr/bin/python3 with python3-yaml, openssl.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT" || exit 1
PY=/usr/bin/python3
CHECK=$TMP/check.py

# run_checks LABEL COMMAND...: COMMAND prints "ok - X" / "not ok - X" lines;
# each becomes one check here, named "LABEL: X".  A crash is a failure.
run_checks() {
  local label=$1 line out rc; shift
  out=$("$@" 2>&1); rc=$?
  while IFS= read -r line; do
    case $line in
      "ok - "*) ok "$label: ${line#ok - }" ;;
      "not ok - "*) fail "$label: ${line#not ok - }" ;;
      *) [ -n "$line" ] && echo "# $line" ;;
    esac
  done <<<"$out"
  [ $rc -eq 0 ] || [ $rc -eq 1 ] || fail "$label: checker exited $rc"
}

check "python3-yaml is available to /usr/bin/python3" $PY -c 'import yaml'

# ---- render -----------------------------------------------------------------
render() {  # render DIR NAME: kubectl kustomize DIR > $TMP/NAME.yaml
  if kubectl kustomize "$1" >"$TMP/$2.yaml" 2>"$TMP/$2.err"; then ok "render $1"
  else fail "render $1: $(head -c 400 "$TMP/$2.err")"; fi
}
render manifests install
render manifests/base base
render manifests/examples examples
render manifests/monitoring monitoring
# Every kustomization in the tree is rendered above or is a Component included by one.
for k in $(find manifests -name kustomization.yaml | sort); do
  d=$(dirname "$k")
  case $d in manifests|manifests/base|manifests/examples|manifests/monitoring) continue ;; esac
  if grep -q '^kind: Component' "$k"; then
    check "component $d is used by a rendered kustomization" \
      grep -rqs "^  - \(\.\./\)*$(basename "$d")\$\|^  - \(\.\./\)*components/$(basename "$d")\$" manifests --include=kustomization.yaml
  else
    render "$d" "other-$(echo "$d" | tr / -)"
  fi
done

cat >"$CHECK" <<'PY'
"""Checks rendered leasefence manifests; prints ok/not ok lines.
usage: check.py install FILE [--demo] | monitoring FILE RULES_OUT RULES_NOANNOT_OUT | cel"""
import json, re, sys
import yaml

FAILS = 0
def ok(name): print("ok - " + name)
def bad(name, why=""):
    global FAILS; FAILS += 1
    print("not ok - " + name + (": " + why if why else ""))
def expect(name, cond, why=""):
    ok(name) if cond else bad(name, why)

# The server's fixed defaults (docs/design.md, "Interfaces others rely on").
WEBHOOK_PORT, PROBE_PORT = 8443, 8080
READY, HEALTH, VALIDATE = "/readyz", "/healthz", "/validate"
METRICS = {
    "leasefence_admission_requests_total", "leasefence_admission_request_duration_seconds",
    "leasefence_admission_request_duration_seconds_bucket", "leasefence_admission_request_duration_seconds_sum",
    "leasefence_admission_request_duration_seconds_count", "leasefence_admission_in_flight_requests",
    "leasefence_bad_requests_total", "leasefence_lease_holder_info", "leasefence_lease_transitions",
    "leasefence_lease_last_change_age_seconds", "leasefence_lease_synced", "leasefence_lease_expired",
    "leasefence_watch_restarts_total", "leasefence_kube_api_requests_total", "leasefence_config_reloads_total",
    "leasefence_certificate_reloads_total", "leasefence_certificate_expiry_timestamp_seconds", "leasefence_build_info",
    "leasefence_leader", "leasefence_webhook_configuration_in_step", "leasefence_webhook_configuration_patches_total",
    "leasefence_leasefences", "leasefence_leasefence_status_writes_total", "leasefence_unexpected_unfenced_total",
}

def load(path):
    return [d for d in yaml.safe_load_all(open(path)) if d]

def find(objs, kind, name=None, ns=None):
    return [o for o in objs if o.get("kind") == kind
            and (name is None or o["metadata"].get("name") == name)
            and (ns is None or o["metadata"].get("namespace") == ns)]

def one(objs, kind, name, ns=None):
    f = find(objs, kind, name, ns)
    if len(f) != 1:
        bad("exactly one %s %s" % (kind, name), "found %d" % len(f))
        return None
    return f[0]

def flag_value(args, flag):
    """--flag=V or --flag V; None when absent."""
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args): return args[i + 1]
        if a.startswith(flag + "="): return a[len(flag) + 1:]
    return None

def port_of(addr):
    return int(addr.rsplit(":", 1)[1])

def resolve_port(container, port):
    if isinstance(port, int): return port
    for p in container.get("ports", []):
        if p.get("name") == port: return p["containerPort"]
    return None

def selects(selector, labels):
    ml = selector.get("matchLabels", selector) if "matchLabels" in selector or "matchExpressions" in selector else selector
    return bool(ml) and all(labels.get(k) == v for k, v in ml.items())

# --- a small translator of the CEL subset our matchConditions use -----------
# Not a CEL implementation: it understands exactly the forms the manifests use
# (==, in, !, &&, ||, has(), groups.exists(g, g in [...])) and refuses anything
# else, so an expression written some other way fails the check instead of
# being misread.
def cel_to_python(expr):
    s = expr
    s = s.replace("has(request.userInfo.username)", "('username' in U)")
    s = s.replace("has(request.userInfo.groups)", "('groups' in U)")
    s = re.sub(r"request\.userInfo\.groups\.exists\(g, g in (\[[^\]]*\])\)", r"any(g in \1 for g in U['groups'])", s)
    s = s.replace("request.userInfo.username", "U['username']")
    s = s.replace("request.resource.group", "R['group']").replace("request.resource.resource", "R['resource']")
    s = s.replace("request.namespace", "R['namespace']").replace("request.name", "R['name']")
    s = s.replace("&&", " and ").replace("||", " or ")
    s = re.sub(r"!\(", " not (", s)
    if re.search(r"request\.|!=|\?|\bsize\b|\bmatches\b", s) or "!" in s:
        raise ValueError("expression outside the supported subset: " + expr)
    return s

def cel_eval(expr, user, resource):
    """Mimics the API server: a missing key is an error (raised here); request.namespace and
    request.name are always there ("" for cluster-scoped objects and generated names)."""
    r = {"namespace": "", "name": ""}
    r.update(resource)
    return bool(eval(cel_to_python(expr), {"__builtins__": {"any": any}}, {"U": user, "R": r}))

def webhook_matches(hook, user, resource):
    return all(cel_eval(c["expression"], user, resource) for c in hook.get("matchConditions", []))

def rules_cover(hook, group, resource, op, version="v1"):
    for r in hook.get("rules", []):
        if (op in r.get("operations", []) or "*" in r.get("operations", [])) and \
           (group in r.get("apiGroups", []) or "*" in r.get("apiGroups", [])) and \
           (version in r.get("apiVersions", []) or "*" in r.get("apiVersions", [])) and \
           (resource in r.get("resources", []) or "*" in r.get("resources", [])):
            return True
    return False

# --- the install ------------------------------------------------------------
def check_install(path, demo):
    objs = load(path)
    ns = one(objs, "Namespace", "leasefence-system")
    if ns:
        expect("namespace carries kubernetes.io/metadata.name",
               ns["metadata"].get("labels", {}).get("kubernetes.io/metadata.name") == "leasefence-system")
    expect("service account leasefence", len(find(objs, "ServiceAccount", "leasefence", "leasefence-system")) == 1)

    dep = one(objs, "Deployment", "leasefence", "leasefence-system")
    svc = one(objs, "Service", "leasefence", "leasefence-system")
    vwc = one(objs, "ValidatingWebhookConfiguration", "leasefence")
    if not (dep and svc and vwc): return
    spec = dep["spec"]; pod = spec["template"]["spec"]; labels = spec["template"]["metadata"]["labels"]
    expect("deployment selector matches its pods", selects(spec["selector"], labels))
    expect("2+ replicas", spec.get("replicas", 1) >= 2, str(spec.get("replicas")))
    spread = [t for t in pod.get("topologySpreadConstraints", []) if t["topologyKey"] == "kubernetes.io/hostname"
              and selects(t["labelSelector"], labels)]
    anti = pod.get("affinity", {}).get("podAntiAffinity", {})
    expect("replicas spread across nodes", bool(spread) or bool(anti), "no hostname spread or anti-affinity")
    expect("maxUnavailable 0 during rollouts",
           spec.get("strategy", {}).get("rollingUpdate", {}).get("maxUnavailable") == 0)
    pc = pod.get("priorityClassName")
    expect("priority class defined", pc in ("system-cluster-critical", "system-node-critical")
           or len(find(objs, "PriorityClass", pc)) == 1, str(pc))
    expect("runs as service account leasefence", pod.get("serviceAccountName") == "leasefence")

    cs = [c for c in pod["containers"] if c["name"] == "leasefence"]
    if len(cs) != 1: bad("container leasefence"); return
    c = cs[0]; args = c.get("args", [])
    expect("uses the image entrypoint (no command) and runs serve", "command" not in c and args[:1] == ["serve"], str(args[:1]))
    listen = flag_value(args, "--listen"); probe = flag_value(args, "--probe-listen")
    webhook_port = port_of(listen) if listen else WEBHOOK_PORT
    probe_port = port_of(probe) if probe else PROBE_PORT
    expect("--listen is the server default %d" % WEBHOOK_PORT, webhook_port == WEBHOOK_PORT, str(listen))
    expect("--probe-listen is the server default %d" % PROBE_PORT, probe_port == PROBE_PORT, str(probe))
    cports = {p["containerPort"] for p in c.get("ports", [])}
    expect("container ports include the webhook and probe ports", {webhook_port, probe_port} <= cports, str(cports))
    for kind, path_want in (("readinessProbe", READY), ("livenessProbe", HEALTH), ("startupProbe", None)):
        p = c.get(kind)
        if not p or "httpGet" not in p: bad("%s is an httpGet probe" % kind); continue
        g = p["httpGet"]
        expect("%s on the probe port %d" % (kind, probe_port), resolve_port(c, g["port"]) == probe_port,
               "port %s" % g["port"])
        expect("%s over plain HTTP" % kind, g.get("scheme", "HTTP") == "HTTP")
        if path_want: expect("%s path %s" % (kind, path_want), g.get("path") == path_want, str(g.get("path")))
        else: expect("startupProbe path is /healthz or /readyz", g.get("path") in (HEALTH, READY), str(g.get("path")))
    ps = c.get("lifecycle", {}).get("preStop", {})
    # The image has no shell and no sleep binary: only the kubelet's own sleep
    # action (Kubernetes 1.30+) can delay the stop.
    expect("preStop is the kubelet's sleep action, not an exec (the image has no /bin/sleep)",
           set(ps) == {"sleep"}, str(ps))
    sleep = ps.get("sleep", {}).get("seconds")
    expect("preStop delay", isinstance(sleep, int) and sleep >= 5, str(ps))
    grace = flag_value(args, "--shutdown-grace") or "10s"   # the server's default
    grace_s = int(grace[:-1]) if grace.endswith("s") and grace[:-1].isdigit() else None
    expect("terminationGracePeriodSeconds above preStop delay + --shutdown-grace",
           sleep is not None and grace_s is not None and pod.get("terminationGracePeriodSeconds", 30) >= sleep + grace_s + 5,
           "%s + %s" % (sleep, grace))

    psc = pod.get("securityContext", {}); csc = c.get("securityContext", {})
    eff = dict(psc); eff.update(csc)
    expect("runAsNonRoot", eff.get("runAsNonRoot") is True)
    expect("runAsUser 65532", eff.get("runAsUser") == 65532, str(eff.get("runAsUser")))
    expect("readOnlyRootFilesystem", csc.get("readOnlyRootFilesystem") is True)
    expect("allowPrivilegeEscalation false", csc.get("allowPrivilegeEscalation") is False)
    expect("capabilities drop ALL", csc.get("capabilities", {}).get("drop") == ["ALL"])
    expect("seccomp RuntimeDefault", eff.get("seccompProfile", {}).get("type") == "RuntimeDefault")
    res = c.get("resources", {})
    expect("cpu and memory requests", {"cpu", "memory"} <= set(res.get("requests", {})))
    expect("memory limit", "memory" in res.get("limits", {}))

    # Volumes: config and TLS files the args name live on the mounted volumes.
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    for m in mounts.values():
        if "subPath" in m: bad("no subPath mounts (they never update)", m["name"])
    def volume_for(path):
        for mp, m in mounts.items():
            if path.startswith(mp.rstrip("/") + "/"): return vols.get(m["name"]), path[len(mp.rstrip("/")) + 1:]
        return None, None
    cfg_path = flag_value(args, "--config")
    cfg = {"fences": []}
    v, key = volume_for(cfg_path or "")
    if v and "configMap" in v:
        cms = find(objs, "ConfigMap", v["configMap"]["name"], "leasefence-system")
        expect("--config names a key of the mounted ConfigMap", len(cms) == 1 and key in cms[0].get("data", {}),
               "%s in %s" % (key, v["configMap"]["name"]))
        if len(cms) == 1 and key in cms[0].get("data", {}):
            cfg = json.loads(cms[0]["data"][key])
    elif cfg_path is not None:
        bad("--config is on a ConfigMap volume", str(cfg_path))
    # The fences: the --config file's and the LeaseFence objects'.  leasefence fills the lists of the
    # webhook's fenced-writers and not-elections with theirs (server/vwc.c): check the configuration as
    # it will be, with the base's expressions around those lists.
    fences = list(cfg.get("fences", [])) if isinstance(cfg.get("fences"), list) else []
    expect("fence configuration has a fences list", isinstance(cfg.get("fences"), list))
    fences += [leasefence_as_config(o) for o in find(objs, "LeaseFence")]
    kept_name = flag_value(args, "--webhook-configuration")
    kept_name = "leasefence" if kept_name is None else kept_name
    expect("leasefence keeps the webhook configuration (--webhook-configuration names it)",
           kept_name == vwc["metadata"]["name"], "%s, %s" % (kept_name, vwc["metadata"]["name"]))
    if kept_name == vwc["metadata"]["name"]:
        vwc = kept_by_leasefence(vwc, fences)
    env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") for e in c.get("env", [])}
    expect("POD_NAME and POD_NAMESPACE from the downward API (the election's identity and namespace)",
           env.get("POD_NAME") == "metadata.name" and env.get("POD_NAMESPACE") == "metadata.namespace", str(env))
    for flag, want in (("--tls-cert", "tls.crt"), ("--tls-key", "tls.key")):
        v, key = volume_for(flag_value(args, flag) or "")
        expect("%s is %s of the Secret leasefence-tls" % (flag, want),
               v is not None and v.get("secret", {}).get("secretName") == "leasefence-tls" and key == want)

    # Service: 443 -> the webhook port, 8080 -> the probe/metrics port.
    expect("service selects the pods", selects(svc["spec"]["selector"], labels))
    sports = {p["port"]: p for p in svc["spec"]["ports"]}
    p443 = sports.get(443)
    expect("service port 443 named https-webhook targets %d" % webhook_port,
           p443 is not None and p443.get("name") == "https-webhook" and resolve_port(c, p443["targetPort"]) == webhook_port)
    pm = sports.get(PROBE_PORT)
    expect("service metrics port targets %d" % probe_port, pm is not None and resolve_port(c, pm["targetPort"]) == probe_port)

    pdb = one(objs, "PodDisruptionBudget", "leasefence", "leasefence-system")
    if pdb:
        expect("PDB minAvailable 1 over the pods", pdb["spec"].get("minAvailable") == 1 and selects(pdb["spec"]["selector"], labels))
    nps = [n for n in find(objs, "NetworkPolicy", ns="leasefence-system") if selects(n["spec"]["podSelector"], labels)]
    allowed = {p.get("port") for n in nps for r in n["spec"].get("ingress", []) for p in r.get("ports", [])}
    expect("NetworkPolicy admits %d and %d" % (webhook_port, probe_port),
           bool(nps) and {webhook_port, probe_port} <= {resolve_port(c, p) for p in allowed}, str(allowed))

    # The webhook.
    hooks = vwc.get("webhooks", [])
    expect("one webhook", len(hooks) == 1)
    for h in hooks:
        n = h["name"]
        expect(n + " failurePolicy Fail", h.get("failurePolicy") == "Fail")
        expect(n + " sideEffects None", h.get("sideEffects") == "None")
        expect(n + " admissionReviewVersions [v1]", h.get("admissionReviewVersions") == ["v1"])
        expect(n + " timeoutSeconds <= 5", 1 <= h.get("timeoutSeconds", 10) <= 5, str(h.get("timeoutSeconds")))
        expect(n + " matchPolicy Equivalent", h.get("matchPolicy") == "Equivalent")
        s = h.get("clientConfig", {}).get("service", {})
        expect(n + " calls the Service leasefence-system/leasefence", s.get("namespace") == "leasefence-system" and s.get("name") == "leasefence")
        expect(n + " path " + VALIDATE, s.get("path") == VALIDATE, str(s.get("path")))
        expect(n + " port is the Service's webhook port", s.get("port", 443) == 443 and p443 is not None)
        excl = [e for e in h.get("namespaceSelector", {}).get("matchExpressions", [])
                if e["key"] == "kubernetes.io/metadata.name" and e["operator"] == "NotIn"]
        need = {"kube-system", "kube-node-lease", "leasefence-system"}
        expect(n + " namespaceSelector excludes " + ", ".join(sorted(need)),
               bool(excl) and need <= set(excl[0]["values"]))
        expect(n + " rules cover writes only", all(set(r["operations"]) <= {"CREATE", "UPDATE", "DELETE"} for r in h.get("rules", [])) and bool(h.get("rules")))
        # matchConditions, evaluated for representative requests.
        writer = {"username": "system:serviceaccount:demo:controller",
                  "groups": ["system:serviceaccounts", "system:serviceaccounts:demo", "system:authenticated"]}
        other = {"username": "system:serviceaccount:other:app", "groups": ["system:authenticated"]}
        nogroups = {"username": "x509-user"}
        cm = {"group": "", "resource": "configmaps"}
        election = {"group": "coordination.k8s.io", "resource": "leases", "namespace": "demo", "name": "controller-leader"}
        shard = {"group": "coordination.k8s.io", "resource": "leases", "namespace": "demo", "name": "shard-7"}
        try:
            for who in (writer, other, nogroups):
                for res in (*([election] if demo else []),
                            {"group": "coordination.k8s.io", "resource": "leasecandidates", "namespace": "demo", "name": "controller-leader-a"},
                            {"group": "", "resource": "events"},
                            {"group": "events.k8s.io", "resource": "events"}, {"group": "authentication.k8s.io", "resource": "tokenreviews"},
                            {"group": "authorization.k8s.io", "resource": "subjectaccessreviews"}):
                    if webhook_matches(h, who, res):
                        bad(n + " matchConditions skip %s/%s" % (res["group"] or "core", res["resource"]), who["username"]); break
                else: continue
                break
            else:
                ok(n + " matchConditions never send the fenced Leases, leasecandidates, events or reviews")
            expect(n + " matchConditions skip writers that no fence names", not webhook_matches(h, other, cm))
            expect(n + " matchConditions evaluate for a user without groups", not webhook_matches(h, nogroups, cm))
            if demo:
                expect(n + " matchConditions send the demo controller's ConfigMap writes", webhook_matches(h, writer, cm))
                expect(n + " matchConditions send a Lease that no fence watches", webhook_matches(h, writer, shard))
                expect(n + " matchConditions send the fenced Lease's name in another namespace",
                       webhook_matches(h, writer, dict(election, namespace="other")))
                expect(n + " rules cover the demo controller's ConfigMap writes",
                       all(rules_cover(h, "", "configmaps", op) for op in ("CREATE", "UPDATE", "DELETE")))
        except Exception as e:  # an expression outside the subset, or a missing key
            bad(n + " matchConditions evaluate", repr(e))

    # Images: every container names a tag, and leasefence runs the VERSION of this checkout.
    version = open("VERSION").read().strip()
    for o in find(objs, "Deployment"):
        for ct in o["spec"]["template"]["spec"]["containers"]:
            img = ct.get("image", "")
            expect("%s/%s image %s has a tag" % (o["metadata"]["name"], ct["name"], img), ":" in img.rsplit("/", 1)[-1] or "@" in img)
            if img.rsplit("/", 1)[-1].split(":")[0] == "leasefence":
                expect("%s/%s runs leasefence %s" % (o["metadata"]["name"], ct["name"], version), img.endswith(":" + version), img)

    check_crd(objs)
    check_rbac(objs, args, vwc)
    check_fences(objs, fences, vwc, demo)

# --- the LeaseFence CRD ---------------------------------------------------------
# The spec fields leasefence reads (server/fencesrc.c): a --config fence's fields, with the Lease in the
# object's namespace, serviceAccounts beside users and groups, and the annotation identity split in two.
LEASEFENCE_SPEC = {"lease", "writers", "identity", "identityAnnotation", "holderMatch", "mode", "epochAnnotation",
                   "consistency"}

def check_crd(objs):
    crd = one(objs, "CustomResourceDefinition", "leasefences.leasefence.io")
    if not crd: return
    spec = crd["spec"]
    expect("CRD: group leasefence.io, kind LeaseFence, plural leasefences, namespaced",
           (spec.get("group"), spec["names"].get("kind"), spec["names"].get("plural"), spec.get("scope")) ==
           ("leasefence.io", "LeaseFence", "leasefences", "Namespaced"))
    vs = [v for v in spec.get("versions", []) if v.get("name") == "v1alpha1"]
    expect("CRD: version v1alpha1, served and stored", len(vs) == 1 and vs[0].get("served") and vs[0].get("storage"))
    if len(vs) != 1: return
    v = vs[0]
    expect("CRD: status subresource", v.get("subresources", {}).get("status") == {})
    cols = [c["name"].upper() for c in v.get("additionalPrinterColumns", []) if not c.get("priority")]
    expect("CRD: printer columns LEASE HOLDER MODE READY AGE", cols == ["LEASE", "HOLDER", "MODE", "READY", "AGE"], str(cols))
    paths = {c["name"].upper(): c["jsonPath"] for c in v.get("additionalPrinterColumns", [])}
    expect("CRD: READY is the Ready condition's status",
           paths.get("READY") == '.status.conditions[?(@.type=="Ready")].status', paths.get("READY"))
    expect("CRD: HOLDER is .status.holder", paths.get("HOLDER") == ".status.holder")
    root = v.get("schema", {}).get("openAPIV3Schema", {})
    sp = root.get("properties", {}).get("spec", {})
    props = sp.get("properties", {})
    expect("CRD: spec is required", "spec" in root.get("required", []))
    expect("CRD: spec.lease and spec.writers are required", {"lease", "writers"} <= set(sp.get("required", [])))
    expect("CRD: the spec fields are those leasefence reads", set(props) == LEASEFENCE_SPEC, str(sorted(set(props) ^ LEASEFENCE_SPEC)))
    expect("CRD: writers are users, groups and serviceAccounts",
           set(props.get("writers", {}).get("properties", {})) == {"users", "groups", "serviceAccounts"})
    for f, want in (("mode", ["enforce", "warn", "audit"]), ("holderMatch", ["hostname", "exact"]),
                    ("identity", ["podName", "username", "annotation"]), ("consistency", ["watch", "strict"])):
        expect("CRD: spec.%s enum %s" % (f, want), sorted(props.get(f, {}).get("enum", [])) == sorted(want),
               str(props.get(f, {}).get("enum")))
    expect("CRD: mode defaults to enforce, identity to podName",
           props.get("mode", {}).get("default") == "enforce" and props.get("identity", {}).get("default") == "podName")
    expect("CRD: no default for holderMatch (it depends on identity) or consistency (the server's)",
           "default" not in props.get("holderMatch", {}) and "default" not in props.get("consistency", {}))
    st = root.get("properties", {}).get("status", {}).get("properties", {})
    expect("CRD: status holder, epoch, observedGeneration, conditions, allowed, denied",
           {"holder", "epoch", "observedGeneration", "conditions", "allowed", "denied"} <= set(st), str(sorted(st)))
    conds = st.get("conditions", {})
    expect("CRD: conditions are a map list keyed by type",
           conds.get("x-kubernetes-list-type") == "map" and conds.get("x-kubernetes-list-map-keys") == ["type"])

def leasefence_as_config(o):
    """A LeaseFence as the --config fence leasefence makes of it (server/fencesrc.c)."""
    ns, spec = o["metadata"].get("namespace", ""), o.get("spec", {})
    w = spec.get("writers", {})
    f = {k: v for k, v in spec.items() if k not in ("lease", "writers", "identity", "identityAnnotation")}
    f["lease"] = ns + "/" + spec.get("lease", "")
    f["writers"] = {"users": list(w.get("users", [])) + ["system:serviceaccount:%s:%s" % (ns, a) for a in w.get("serviceAccounts", [])],
                    "groups": list(w.get("groups", []))}
    ident = spec.get("identity", "podName")
    f["identity"] = {"annotation": spec.get("identityAnnotation")} if ident == "annotation" else ident
    f["source"] = "LeaseFence %s/%s" % (ns, o["metadata"]["name"])
    return f

def cel_list(items):
    return "[" + ", ".join("'" + i.replace("\\", "\\\\").replace("'", "\\'") + "'" for i in items) + "]"

def kept_by_leasefence(vwc, fences):
    """VWC with the lists of fenced-writers and not-elections as leasefence fills them."""
    import copy
    users = sorted({u for f in fences for u in f.get("writers", {}).get("users", [])})
    groups = sorted({g for f in fences for g in f.get("writers", {}).get("groups", [])})
    leases = sorted({f["lease"] for f in fences if isinstance(f.get("lease"), str)})
    v = copy.deepcopy(vwc)
    for h in v.get("webhooks", []):
        for c in h.get("matchConditions", []):
            lists = {"fenced-writers": [users, groups], "not-elections": [leases]}.get(c.get("name"))
            if lists:
                it = iter(lists)
                c["expression"] = re.sub(r"in \[[^\]]*\]", lambda m: "in " + cel_list(next(it)), c["expression"])
    return v

def check_rbac(objs, args, vwc):
    """What the leasefence service account may do, and what namespace admins may do with LeaseFences."""
    sa = {"kind": "ServiceAccount", "name": "leasefence", "namespace": "leasefence-system"}
    rules = []  # cluster-wide rules of the service account
    for b in find(objs, "ClusterRoleBinding"):
        if sa in b.get("subjects", []) and b["roleRef"]["kind"] == "ClusterRole":
            for role in find(objs, "ClusterRole", b["roleRef"]["name"]):
                rules += role.get("rules", [])
    def grants(group, resource, verbs, name=None):
        for r in rules:
            if group in r.get("apiGroups", []) and resource in r.get("resources", []) and set(verbs) <= set(r.get("verbs", [])) \
               and (not r.get("resourceNames") or (name is not None and name in r["resourceNames"])):
                return True
        return False
    expect("RBAC: leasefence reads LeaseFences cluster-wide", grants("leasefence.io", "leasefences", ["get", "list", "watch"]))
    expect("RBAC: leasefence writes LeaseFence status", grants("leasefence.io", "leasefences/status", ["get", "patch"]))
    name = vwc["metadata"]["name"]
    expect("RBAC: leasefence gets, watches and patches its webhook configuration %s" % name,
           grants("admissionregistration.k8s.io", "validatingwebhookconfigurations", ["get", "list", "watch", "patch"], name))
    expect("RBAC: ... by resourceNames only", not grants("admissionregistration.k8s.io", "validatingwebhookconfigurations", ["get"], "someone-elses"))
    expect("RBAC: leasefence reads Leases", grants("coordination.k8s.io", "leases", ["get", "list", "watch"]))
    writes = [(g, res, v) for r in rules for g in r.get("apiGroups", []) for res in r.get("resources", []) for v in r.get("verbs", [])
              if v not in ("get", "list", "watch")]
    expect("RBAC: cluster-wide, leasefence writes only LeaseFence status and its webhook configuration",
           all((g, res) in (("leasefence.io", "leasefences/status"), ("admissionregistration.k8s.io", "validatingwebhookconfigurations"))
               for g, res, v in writes), str(writes))
    expect("RBAC: no wildcard and no Secrets", not any("*" in r.get("resources", []) + r.get("verbs", []) + r.get("apiGroups", [])
                                                     or "secrets" in r.get("resources", []) for r in rules))
    lease = flag_value(args, "--leader-elect-resource-name") or "leasefence"
    verbs = set(); create = False
    for rb in find(objs, "RoleBinding", ns="leasefence-system"):
        if sa not in rb.get("subjects", []): continue
        for role in find(objs, rb["roleRef"]["kind"], rb["roleRef"]["name"]):
            for r in role.get("rules", []):
                if "leases" in r.get("resources", []):
                    if lease in r.get("resourceNames", []): verbs |= set(r["verbs"])
                    if not r.get("resourceNames") and "create" in r["verbs"]: create = True
    expect("RBAC: the election: get and update on the Lease %s by name, and create" % lease, {"get", "update"} <= verbs and create, str(verbs))
    agg = {}
    for role in find(objs, "ClusterRole"):
        for label, val in role["metadata"].get("labels", {}).items():
            if label.startswith("rbac.authorization.k8s.io/aggregate-to-") and val == "true":
                agg.setdefault(label.rsplit("-", 1)[1], []).extend(role.get("rules", []))
    def agg_grants(kind, verbs):
        return any("leasefence.io" in r.get("apiGroups", []) and "leasefences" in r.get("resources", []) and set(verbs) <= set(r.get("verbs", []))
                   for r in agg.get(kind, []))
    crud = ["get", "list", "watch", "create", "update", "patch", "delete"]
    expect("RBAC: namespace admins manage LeaseFences (aggregate-to-admin)", agg_grants("admin", crud))
    expect("RBAC: editors manage LeaseFences (aggregate-to-edit)", agg_grants("edit", crud))
    expect("RBAC: viewers read LeaseFences (aggregate-to-view)", agg_grants("view", ["get", "list", "watch"]) and not agg_grants("view", ["create"]))
    expect("RBAC: nobody but leasefence is given status writes",
           not any("leasefences/status" in r.get("resources", []) and set(r.get("verbs", [])) - {"get", "list", "watch"}
                   for rs in agg.values() for r in rs))

def check_fences(objs, fences, vwc, demo):
    if demo: expect("demo fence configured", any(f.get("lease") == "demo/controller-leader" for f in fences))
    sa = {"kind": "ServiceAccount", "name": "leasefence", "namespace": "leasefence-system"}
    cluster_reader = any(sa in b.get("subjects", []) and any(
        "coordination.k8s.io" in r.get("apiGroups", []) and "leases" in r.get("resources", []) and not r.get("resourceNames")
        and {"get", "list", "watch"} <= set(r.get("verbs", [])) for role in find(objs, "ClusterRole", b["roleRef"]["name"])
        for r in role.get("rules", [])) for b in find(objs, "ClusterRoleBinding"))
    hook = (vwc.get("webhooks") or [{}])[0]
    for f in fences:
        lease = f.get("lease", ""); name = "fence " + lease
        expect(name + " lease is NAMESPACE/NAME", re.fullmatch(r"[a-z0-9-]+/[a-z0-9.-]+", lease) is not None)
        ident = f.get("identity")
        expect(name + " identity", ident in ("podName", "username") or (isinstance(ident, dict) and "annotation" in ident), str(ident))
        expect(name + " mode", f.get("mode", "enforce") in ("enforce", "warn", "audit"))
        w = f.get("writers", {})
        expect(name + " names writers", bool(w.get("users") or w.get("groups")))
        if "/" not in lease: continue
        lns, lname = lease.split("/", 1)
        # Read access: cluster-wide, or a Role in the Lease's namespace, narrowed to it by name.
        granted = cluster_reader
        for rb in find(objs, "RoleBinding", ns=lns):
            if sa not in rb.get("subjects", []) or rb["roleRef"]["kind"] != "Role": continue
            for role in find(objs, "Role", rb["roleRef"]["name"], lns):
                for r in role.get("rules", []):
                    if "coordination.k8s.io" in r.get("apiGroups", []) and "leases" in r.get("resources", []) \
                       and lname in r.get("resourceNames", []) and {"get", "list", "watch"} <= set(r.get("verbs", [])):
                        granted = True
        expect(name + ": leasefence may get/list/watch it (cluster-wide, or a Role narrowed by resourceNames)", granted)
        broad = [r for role in find(objs, "Role", ns=lns) for r in role.get("rules", [])
                 if any(rb["roleRef"]["name"] == role["metadata"]["name"] and sa in rb.get("subjects", []) for rb in find(objs, "RoleBinding", ns=lns))
                 and "leases" in r.get("resources", []) and not r.get("resourceNames")]
        expect(name + ": leasefence's Role has no unnarrowed lease rule", cluster_reader or not broad)
        # The webhook sends this fence's writers.
        try:
            for u in w.get("users", []):
                expect(name + ": webhook sends writer " + u, webhook_matches(hook, {"username": u, "groups": []}, {"group": "", "resource": "configmaps"}))
            for g in w.get("groups", []):
                expect(name + ": webhook sends group " + g, webhook_matches(hook, {"username": "someone", "groups": [g]}, {"group": "", "resource": "configmaps"}))
        except Exception as e:
            bad(name + ": matchConditions evaluate", repr(e))
    seen = {}
    for i, f in enumerate(fences):
        for kind in ("users", "groups"):
            for w in f.get("writers", {}).get(kind, []):
                if (kind, w) in seen: bad("%s %s is a writer of one fence only" % (kind[:-1], w), "fences[%d] and fences[%d]" % (seen[(kind, w)], i))
                seen[(kind, w)] = i
    if demo: check_demo(objs, fences)

def check_demo(objs, fences):
    expect("demo: the fence is a LeaseFence in namespace demo",
           any(f.get("source") == "LeaseFence demo/controller" and f["lease"] == "demo/controller-leader" for f in fences))
    dep = one(objs, "Deployment", "controller", "demo")
    if not dep: return
    pod = dep["spec"]["template"]["spec"]
    expect("demo: 3 replicas", dep["spec"].get("replicas") == 3)
    el = [c for c in pod["containers"] if c.get("args", [])[:1] == ["elect"]]
    expect("demo: a container runs leasefence elect", len(el) == 1)
    if not el: return
    args = el[0]["args"]
    lease = flag_value(args, "--lease")
    fence = [f for f in fences if f.get("lease") == lease]
    expect("demo: elect --lease is a fenced Lease", len(fence) == 1, str(lease))
    expect("demo: elect --identity is the pod name", flag_value(args, "--identity") == "$(POD_NAME)" and any(
        e["name"] == "POD_NAME" and e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name"
        for e in el[0].get("env", [])))
    status = flag_value(args, "--status-listen")
    expect("demo: elect serves its status", status is not None)
    # The liveness probe dials the pod IP, which is IPv6 on a single-stack IPv6 cluster: an IPv4-only
    # address there restart-loops the sidecar.  ":PORT" is every address, both families.
    expect("demo: elect's status listens on every address of both families (:PORT)",
           status is not None and status.startswith(":"), str(status))
    if fence:
        expect("demo: fence identity podName", fence[0].get("identity") == "podName")
        user = "system:serviceaccount:demo:" + pod.get("serviceAccountName", "default")
        expect("demo: the pods' service account is the fenced writer", user in fence[0]["writers"].get("users", []), user)
    lname = (lease or "/").split("/", 1)[1]
    sa = {"kind": "ServiceAccount", "name": pod.get("serviceAccountName"), "namespace": "demo"}
    verbs = set(); create = False
    for rb in find(objs, "RoleBinding", ns="demo"):
        if sa not in rb.get("subjects", []): continue
        for role in find(objs, "Role", rb["roleRef"]["name"], "demo"):
            for r in role.get("rules", []):
                if "leases" in r.get("resources", []):
                    if lname in r.get("resourceNames", []): verbs |= set(r["verbs"])
                    if not r.get("resourceNames") and "create" in r["verbs"]: create = True
    expect("demo: candidates may get/update their Lease by name and create Leases", {"get", "update"} <= verbs and create, str(verbs))

def check_monitoring(path, rules_out, noannot_out):
    objs = load(path)
    sm = one(objs, "ServiceMonitor", "leasefence", "leasefence-system")
    pr = one(objs, "PrometheusRule", "leasefence", "leasefence-system")
    install = load(sys.argv[5]) if len(sys.argv) > 5 else []
    svc = [o for o in install if o["kind"] == "Service" and o["metadata"]["name"] == "leasefence"]
    if sm and svc:
        svc = svc[0]; e = sm["spec"]["endpoints"]
        expect("ServiceMonitor selects the Service", selects(sm["spec"]["selector"], svc["metadata"].get("labels", {})))
        expect("ServiceMonitor scrapes the Service's metrics port", e and e[0]["port"] in [p["name"] for p in svc["spec"]["ports"]]
               and [p for p in svc["spec"]["ports"] if p["name"] == e[0]["port"]][0]["port"] == PROBE_PORT)
        expect("ServiceMonitor path /metrics", e and e[0].get("path", "/metrics") == "/metrics")
        job = svc["metadata"].get("labels", {}).get(sm["spec"].get("jobLabel", ""), svc["metadata"]["name"])
        expect("job label is leasefence (the alerts select job=\"leasefence\")", job == "leasefence", job)
    if pr:
        spec = pr["spec"]
        yaml.safe_dump(spec, open(rules_out, "w"))
        alerts = {r["alert"] for g in spec["groups"] for r in g["rules"] if "alert" in r}
        for a in ("LeasefenceNoReadyReplica", "LeasefenceDenialsSpiking", "LeasefenceLeaseWithoutHolder",
                  "LeasefenceLeaseNotRenewed", "LeasefenceCertificateExpiringSoon", "LeasefenceConfigReloadFailing",
                  "LeasefenceLatencyHigh", "LeasefenceWebhookConfigurationNotInStep",
                  "LeasefenceWebhookConfigurationPatchFailing", "LeasefenceNoSingleLeader",
                  "LeasefenceUnfencedWriterSent", "LeasefenceLeaseFenceRefused"):
            expect("alert " + a, a in alerts)
        for g in spec["groups"]:
            for r in g["rules"]:
                used = set(re.findall(r"\bleasefence_[a-z_]+", r["expr"]))
                unknown = used - METRICS
                expect("rule %s uses only the server's metric names" % r.get("alert", r.get("record")), not unknown, str(unknown))
                if "alert" in r:
                    expect("alert %s has severity, summary, description" % r["alert"], "severity" in r.get("labels", {})
                           and {"summary", "description"} <= set(r.get("annotations", {})))
                r.pop("annotations", None)
        yaml.safe_dump(spec, open(noannot_out, "w"))
    dash = [o for o in objs if o["kind"] == "ConfigMap" and o["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
    expect("dashboard ConfigMap with the grafana_dashboard label", len(dash) == 1)
    if dash:
        try:
            d = json.loads(list(dash[0]["data"].values())[0])
            titles = " ".join(p.get("title", "") for p in d["panels"]).lower()
            exprs = " ".join(t["expr"] for p in d["panels"] for t in p.get("targets", []))
            for want in ("by reason", "latency", "holder", "transitions"):
                expect("dashboard panel: " + want, want in titles)
            unknown = set(re.findall(r"\bleasefence_[a-z_]+", exprs)) - METRICS
            expect("dashboard uses only the server's metric names", not unknown, str(unknown))
            expect("dashboard panels have unique ids", len({p["id"] for p in d["panels"]}) == len(d["panels"]))
        except Exception as e:
            bad("dashboard JSON", repr(e))

if __name__ == "__main__":
    try:
        if sys.argv[1] == "install": check_install(sys.argv[2], "--demo" in sys.argv)
        elif sys.argv[1] == "monitoring": check_monitoring(sys.argv[2], sys.argv[3], sys.argv[4])
    except Exception as e:
        import traceback; traceback.print_exc(); bad("checker crashed", repr(e))
    sys.exit(1 if FAILS else 0)
PY

# ---- the install, with and without the demo fence --------------------------
run_checks install $PY "$CHECK" install "$TMP/install.yaml"
run_checks base $PY "$CHECK" install "$TMP/base.yaml"
run_checks examples $PY "$CHECK" install "$TMP/examples.yaml" --demo
check "install: cert-manager Certificate carries both service DNS names" \
  grep -q 'leasefence.leasefence-system.svc.cluster.local' "$TMP/install.yaml"
check "install: cainjector annotation on the webhook configuration" \
  grep -q 'cert-manager.io/inject-ca-from: leasefence-system/leasefence-serving' "$TMP/install.yaml"
check "install: the Certificate writes the Secret the Deployment mounts" \
  $PY -c 'import sys,yaml; o=[d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"]=="Certificate" and d["metadata"]["name"]=="leasefence-serving"]; sys.exit(not (o and o[0]["spec"]["secretName"]=="leasefence-tls"))' "$TMP/install.yaml"

# The rendered fence configurations parse with the server's own parser
# (config_load from build/libleasefence-server.a).
for r in install examples; do
  $PY -c 'import sys,yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("leasefence-config"):
        open(sys.argv[2], "w").write(d["data"]["config.json"])' "$TMP/$r.yaml" "$TMP/config-$r.json"
done
if [ -x "$BUILD/leasefence" ]; then
  for r in install examples; do
    check "leasefence serve --check-config accepts the rendered configuration ($r)" \
      $LEASEFENCE serve --check-config --config "$TMP/config-$r.json"
  done
  echo '{"fences": [{"lease": "demo"}]}' >"$TMP/config-bad.json"
  check "leasefence serve --check-config refuses a broken one" sh -c "! $LEASEFENCE serve --check-config --config '$TMP/config-bad.json' 2>/dev/null"
else
  fail "$BUILD/leasefence is built (make all), to check the rendered configuration"
fi

# The checks can fail: break the probe path, the probe port, the webhook
# timeout and the lease exclusion, one at a time, and expect a "not ok" each.
mutant() {  # mutant NAME SED_EXPR WANT_IN_FAILURE
  sed "$2" "$TMP/examples.yaml" >"$TMP/mutant.yaml"
  if cmp -s "$TMP/mutant.yaml" "$TMP/examples.yaml"; then fail "mutant $1: the edit changed nothing"; return; fi
  local out; out=$($PY "$CHECK" install "$TMP/mutant.yaml" --demo)
  if grep '^not ok' <<<"$out" | grep -q -- "$3"; then ok "mutant $1 is caught"
  else fail "mutant $1 is not caught"; fi
}
mutant "readiness path /ready" 's|path: /readyz|path: /ready|' "readinessProbe path"
mutant "probe port 9090" 's|--probe-listen=:8080|--probe-listen=:9090|' "probe-listen"
mutant "webhook path /" 's|path: /validate|path: /|' "path /validate"
mutant "timeout 10" 's|timeoutSeconds: 3|timeoutSeconds: 10|' "timeoutSeconds"
mutant "leases not excluded" "s|''leases''|''leasez''|" "skip coordination.k8s.io/leases"
mutant "leasecandidates not excluded" "s|''leasecandidates''|''leasecandidatez''|" "skip coordination.k8s.io/leasecandidates"
mutant "every Lease excluded" "s/== ''leases'' && (/== ''leases'' || (/" "send a Lease that no fence watches"
mutant "root user" 's|runAsUser: 65532|runAsUser: 0|' "runAsUser"
mutant "preStop exec of /bin/sleep" 's|^\( *\)sleep:$|\1exec:|; s|^\( *\)seconds: 10$|\1command: ["/bin/sleep", "10"]|' "sleep action, not an exec"
mutant "preStop 1 s" 's|^\( *\)seconds: 10$|\1seconds: 1|' "preStop delay"
mutant "RBAC without patch on the webhook configuration" 's|verbs: \["get", "list", "watch", "patch"\]|verbs: ["get", "list", "watch"]|; s|^  - patch$||' "patches its webhook configuration"
mutant "no aggregate-to-admin" 's|rbac.authorization.k8s.io/aggregate-to-admin: "true"|rbac.authorization.k8s.io/aggregate-to-admin: "false"|' "aggregate-to-admin"
mutant "the demo LeaseFence names another service account" 's|^    - controller$|    - other|' "service account is the fenced writer"
mutant "CRD without the HOLDER column" 's|name: Holder$|name: Holdr|' "printer columns"
mutant "CRD mode enum without audit" '/^ *- audit$/d' "spec.mode enum"
mutant "CRD without the status subresource" 's|^      status: {}$|      scale: {}|' "status subresource"

# ---- monitoring ---------------------------------------------------------------
run_checks monitoring $PY "$CHECK" monitoring "$TMP/monitoring.yaml" "$TMP/rules.yaml" "$TMP/rules-no-annotations.yaml" "$TMP/install.yaml"
if [ -s "$TMP/rules.yaml" ]; then
  check "promtool check rules" promtool check rules "$TMP/rules.yaml"
  cp manifests/monitoring/alerts_test.yaml manifests/monitoring/alerts_annotations_test.yaml "$TMP/"
  if (cd "$TMP" && promtool test rules alerts_test.yaml alerts_annotations_test.yaml) >"$TMP/promtool-test.log" 2>&1; then
    ok "promtool test rules ($(grep -c 'eval_time' manifests/monitoring/alerts_test.yaml manifests/monitoring/alerts_annotations_test.yaml | awk -F: '{s+=$2} END {print s}') alert evaluations)"
  else fail "promtool test rules: $(head -c 1500 "$TMP/promtool-test.log")"; fi
else
  fail "rules extracted from the PrometheusRule"
fi

# ---- the operator's documentation names every alert and every reason ----------
if [ -s "$TMP/rules.yaml" ]; then
  for a in $($PY -c 'import sys,yaml; print("\n".join(sorted({r["alert"] for g in yaml.safe_load(open(sys.argv[1]))["groups"] for r in g["rules"] if "alert" in r})))' "$TMP/rules.yaml"); do
    check "docs/operations.md documents alert $a" grep -q "\`$a\`" docs/operations.md
  done
fi
for r in holder unfenced lease untagged unknown no-lease no-holder expired not-holder stale-epoch; do
  check "docs/operations.md documents reason $r" grep -q "^| \`$r\` |" docs/operations.md
done

# ---- Dockerfile -----------------------------------------------------------------
df=Dockerfile
froms=$(grep -E '^FROM ' $df)
expect_eq "Dockerfile: three stages (build, rootfs, runtime)" 3 "$(echo "$froms" | wc -l)"
check "Dockerfile: builder on debian:bookworm" grep -qE '^FROM debian:bookworm(@sha256:[0-9a-f]+)? AS build$' $df
check "Dockerfile: runtime root made on debian:bookworm" grep -qE '^FROM debian:bookworm(@sha256:[0-9a-f]+)? AS rootfs$' $df
expect_eq "Dockerfile: runtime from scratch" "FROM scratch" "$(echo "$froms" | tail -1)"
rootfs_stage=$(awk '/^FROM /{stage++} stage==2' $df)
runtime=$(awk '/^FROM /{stage++} stage==3' $df)
expect_eq "Dockerfile: USER 65532 in the runtime stage" "USER 65532:65532" "$(echo "$runtime" | grep -E '^USER ')"
expect_eq "Dockerfile: ENTRYPOINT is the binary" 'ENTRYPOINT ["/usr/local/bin/leasefence"]' "$(echo "$runtime" | grep -E '^ENTRYPOINT ')"
check "Dockerfile: the binary is copied to /usr/local/bin/leasefence" grep -qE '^COPY --from=build /src/build/leasefence /usr/local/bin/leasefence$' $df
check "Dockerfile: the runtime stage is the rootfs stage's root" grep -qE '^COPY --from=rootfs /rootfs/ /$' $df
check "Dockerfile: no RUN in the runtime stage (it has no shell)" sh -c "! echo '$runtime' | grep -q '^RUN'"
check "Dockerfile: the build is given the commit" grep -qE '^ARG LEASEFENCE_COMMIT' $df
check "make image passes the commit" grep -q -- '--build-arg LEASEFENCE_COMMIT=' Makefile
# Packages: every name installed exists in apt; the runtime root holds no -dev package.
pkgs_of() { echo "$1" | tr -d '\\' | tr ' \n' '\n\n' | sed -n '/--no-install-recommends/,/^&&$/p' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -v -- '--' ; }
build_pkgs=$(pkgs_of "$(awk '/^FROM /{stage++} stage==1' $df)")
# rootfs.sh ROOT PACKAGE...: the packages, up to the next &&
run_pkgs=$(echo "$rootfs_stage" | awk '/^RUN rootfs\.sh /,!/\\$/' | tr -d '\\' | tr ' \n' '\n\n' | sed -n '/^rootfs\.sh$/,/^&&$/p' |
  sed 1,2d | grep -E '^[a-z0-9][a-z0-9.+-]+$')
check "Dockerfile: runtime packages listed" test -n "$run_pkgs"
for p in $build_pkgs $run_pkgs; do
  check "Dockerfile: package $p exists in apt" sh -c "apt-cache show '$p' >/dev/null 2>&1"
done
check "Dockerfile: no -dev package at runtime" sh -c "! echo '$run_pkgs' | grep -q -- '-dev\$'"
# Every library the Makefile links (-lX) comes from a runtime package.
for l in $(sed -n 's/^LDLIBS *:*= *//p' Makefile | tr ' ' '\n' | sed -n 's/^-l//p'); do
  case $l in pthread|m|dl|rt) continue ;; esac
  so=$(readlink -f "$(gcc -print-file-name="lib$l.so")")
  pkg=$(dpkg -S "$so" 2>/dev/null | head -1 | cut -d: -f1)
  check "Dockerfile: runtime installs $pkg (for -l$l)" sh -c "echo '$run_pkgs' | grep -qx '$pkg'"
done
if [ -x build/leasefence ]; then
  for so in $(readelf -d build/leasefence | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    f=$(ldconfig -p | awk -v s="$so" '$1==s {print $NF; exit}')
    # dpkg knows a library by one of its paths: as ldconfig names it, its real
    # path, or (merged /usr) under /lib.
    pkg=$( { dpkg -S "$f"; dpkg -S "$(readlink -f "$f")"; dpkg -S "/lib/${f#/usr/lib/}"; dpkg -S "/usr/lib/${f#/lib/}"; } 2>/dev/null | head -1 | cut -d: -f1)
    case $pkg in libc6) ok "Dockerfile: $so is libc (a dependency of every runtime package)" ; continue ;; esac
    check "Dockerfile: runtime installs $pkg (NEEDED $so)" sh -c "echo '$run_pkgs' | grep -qx '$pkg'"
  done
fi
# COPY sources exist, are not excluded by .dockerignore, and hold every file
# the build of build/leasefence read (from the compiler's dependency files of
# the last `make`; system headers aside).
copies=$(grep -E '^COPY [^-]' $df | sed 's/^COPY //' | awk '{$NF=""; print}')
for src in $copies; do
  s=${src%/}
  check "Dockerfile: COPY $s exists" test -e "$s"
  check "Dockerfile: COPY $s is not in .dockerignore" sh -c "! grep -qxF '$s' .dockerignore"
done
deps=$(cat build/obj/server/*.d build/obj/elector/*.d 2>/dev/null | tr ' \\' '\n\n' | grep -v ':$' | sed 's/:$//' | grep -v '^/' | grep -v '^build/' | grep . | sort -u)
if [ -z "$deps" ] || [ ! -x build/leasefence ]; then
  fail "Dockerfile: build/leasefence and its dependency files exist (run make first)"
else
  missing=""
  for f in $deps; do
    covered=no
    for src in $copies; do s=${src%/}; case $f in "$s"|"$s"/*) covered=yes ;; esac; done
    [ $covered = yes ] || missing+=" $f"
  done
  expect_eq "Dockerfile: the COPYed paths hold every source and header the build read ($(echo "$deps" | wc -l) files)" "" "$missing"
fi

done_testing
