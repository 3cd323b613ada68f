#!/usr/bin/python3
"""e2e.py COMMAND ...: small steps of the end-to-end scripts against kube-sim.

Reads E2E_SERVER (https://127.0.0.1:PORT), E2E_CACERT (kube-sim's CA) and
E2E_ADMIN (the admin token) from the environment.

  users FILE POD...              write kube-sim's users.json: token t-POD, pod name POD
  kubeconfig SRC DST TOKEN       copy a kubeconfig with the user's token replaced
  setup CA_BUNDLE_FILE           namespace demo + the ValidatingWebhookConfiguration
  lease                          the Lease as one JSON line ({"exists": false} when absent)
  force HOLDER [DURATION_S]      make HOLDER the holder (transitions + 1, fresh times), as admin
  delete-lease                   delete the Lease, as admin
  tail-log CTL OUT               append kube-sim's /log to OUT as it grows, until SIGTERM
  burst POD SECONDS              TokenReview creates as POD back to back (at most 5000)
  probe POD KIND [TAG]           one write as POD (KIND tr: TokenReview create, cm: ConfigMap
                                 write); prints "allowed", "denied REASON MESSAGE" or "error CODE ..."
                                 and exits 0, 1 or 2
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kclient as k  # noqa: E402

LEASE_PATH = "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s" % (k.NS, k.LEASE)


def admin():
    return k.Client(os.environ["E2E_SERVER"], os.environ["E2E_CACERT"], os.environ["E2E_ADMIN"])


def pod_client(pod):
    return k.Client(os.environ["E2E_SERVER"], os.environ["E2E_CACERT"], "t-" + pod)


def users(path, pods):
    out = []
    for p in pods:
        out.append({"token": "t-" + p, "username": k.WRITER_USER, "uid": "uid-" + p,
                    "groups": ["system:serviceaccounts", "system:serviceaccounts:demo", "system:authenticated"],
                    "extra": {"authentication.kubernetes.io/pod-name": [p]}})
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f, indent=1)
    os.replace(tmp, path)


def vwc(ca_file):
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "leasefence"},
        "webhooks": [{
            "name": k.WEBHOOK_NAME,
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "failurePolicy": "Fail",
            "timeoutSeconds": 5,
            "clientConfig": {"service": {"namespace": "leasefence-system", "name": "leasefence",
                                         "path": "/validate", "port": 443},
                             "caBundle": k.b64file(ca_file)},
            "rules": [
                {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE", "DELETE"],
                 "resources": ["configmaps"], "scope": "*"},
                {"apiGroups": ["authentication.k8s.io"], "apiVersions": ["v1"], "operations": ["CREATE"],
                 "resources": ["tokenreviews"], "scope": "*"},
            ],
        }],
    }


def setup(ca_file):
    c = admin()
    code, _, raw = c.request("POST", "/api/v1/namespaces",
                             {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": k.NS}})
    if code not in (200, 201, 409):
        sys.exit("create namespace: %d %s" % (code, raw))
    code, _, raw = c.request("POST", "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
                             vwc(ca_file))
    if code not in (200, 201):
        sys.exit("create ValidatingWebhookConfiguration: %d %s" % (code, raw))


def retrying(c, method, path, body=None):
    """A request that rides out injected faults (5xx, 429, no answer) for up to ~3 s."""
    for _ in range(30):
        code, js, raw = c.request(method, path, body, timeout=3)
        if code not in (0, 429) and code < 500:
            break
        time.sleep(0.1)
    return code, js, raw


def get_lease(c):
    code, js, raw = retrying(c, "GET", LEASE_PATH)
    if code == 404:
        return None
    if code != 200:
        raise RuntimeError("get lease: %d %s" % (code, raw))
    return js


def lease_summary(obj):
    if obj is None:
        return {"exists": False}
    f = k.lease_fields(obj)
    f["exists"] = True
    f["resourceVersion"] = obj["metadata"].get("resourceVersion")
    return f


def force(holder, duration=None):
    c = admin()
    for _ in range(50):
        obj = get_lease(c)
        if obj is None:
            sys.exit("force: no Lease")
        spec = obj.setdefault("spec", {})
        now = k.micro_time()
        spec["holderIdentity"] = holder
        spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        spec["acquireTime"] = now
        spec["renewTime"] = now
        if duration:
            spec["leaseDurationSeconds"] = int(duration)
        code, js, raw = retrying(c, "PUT", LEASE_PATH, obj)
        if code == 200:
            print(json.dumps(lease_summary(js)))
            return
        if code != 409:
            sys.exit("force: %d %s" % (code, raw))
        time.sleep(0.01)
    sys.exit("force: too many conflicts")


def delete_lease():
    c = admin()
    code, _, raw = retrying(c, "DELETE", LEASE_PATH)
    if code not in (200, 202, 404):
        sys.exit("delete: %d %s" % (code, raw))


def cm_write(c, pod, name, tag, seq):
    """PUT the ConfigMap NAME, or POST it when it does not exist yet.  Returns (code, js, raw)."""
    ann = {k.EPOCH_ANNOTATION: tag} if tag else {}
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": k.NS, "annotations": ann},
            "data": {"writer": pod, "seq": str(seq), "time": k.micro_time()}}
    path = "/api/v1/namespaces/%s/configmaps" % k.NS
    code, js, raw = c.request("PUT", path + "/" + name, body)
    if code == 404:
        code, js, raw = c.request("POST", path, body)
        if code == 409:
            code, js, raw = c.request("PUT", path + "/" + name, body)
    return code, js, raw


def tr_write(c, token, tag):
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
    if tag:
        body["metadata"] = {"annotations": {k.EPOCH_ANNOTATION: tag}}
    return c.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", body)


def outcome(code, js, raw):
    """('allowed'|'denied'|'error', reason, message)."""
    if 200 <= code < 300:
        return "allowed", "", ""
    msg = (js or {}).get("message", raw) if isinstance(js, dict) else raw
    if code == 403 and "denied the request" in msg:
        return "denied", k.classify(msg.split("denied the request:", 1)[-1]), msg
    return "error", str(code), msg


def probe(pod, kind, tag=None):
    c = pod_client(pod)
    if kind == "tr":
        code, js, raw = tr_write(c, "t-" + pod, tag)
    else:
        code, js, raw = cm_write(c, pod, "probe-" + pod, tag, int(time.time() * 1000))
    res, reason, msg = outcome(code, js, raw)
    if res == "allowed":
        print("allowed")
        return 0
    print(res, reason, msg.replace("\n", " "))
    return 1 if res == "denied" else 2


def burst(pod, seconds):
    """TokenReview creates as POD back to back for SECONDS: a fine-grained view of when the fence flips."""
    c = pod_client(pod)
    end = time.monotonic() + float(seconds)
    n = 0
    while time.monotonic() < end and n < 5000:
        tr_write(c, "t-" + pod, None)
        n += 1
    c.close()
    print(n)


def tail_log(ctl, out, interval=5.0):
    """Appends kube-sim's /log to OUT as it grows (kube-sim keeps the last 200000 entries only),
    until SIGTERM; then one last fetch."""
    import signal
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    seq = 0
    with open(out, "a") as f:
        for _ in range(100000):
            try:
                for e in k.fetch_log(ctl, seq, timeout=30):
                    seq = max(seq, e["seq"])
                    f.write(json.dumps(e) + "\n")
                f.flush()
            except OSError:
                pass
            if stop:
                break
            for _ in range(int(interval * 10)):
                if stop:
                    break
                time.sleep(0.1)


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "users":
        users(args[0], args[1:])
    elif cmd == "kubeconfig":
        k.kubeconfig_with_token(args[0], args[1], args[2])
    elif cmd == "setup":
        setup(args[0])
    elif cmd == "lease":
        print(json.dumps(lease_summary(get_lease(admin()))))
    elif cmd == "force":
        force(args[0], args[1] if len(args) > 1 else None)
    elif cmd == "delete-lease":
        delete_lease()
    elif cmd == "tail-log":
        tail_log(args[0], args[1])
    elif cmd == "burst":
        burst(args[0], args[1])
    elif cmd == "probe":
        return probe(args[0], args[1], args[2] if len(args) > 2 else None)
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except RuntimeError as e:
        sys.exit("e2e.py: %s" % e)
