#!/usr/bin/python3
"""Creates namespaces and Leases in the API server, over keep-alive connections.

  seed-leases.py --server https://HOST:PORT --token-file F --cacert F --namespace NS \
                 [--lease NAME=HOLDER ...] [--many N --prefix P] [--namespaces K [--connections C]]

--many N creates P0000..P(N-1) held by "P0000-pod".. (the bench's 1,000 fences).
--namespaces K does all that in each of K namespaces NS-0000..NS-(K-1) instead of NS (the scale run:
1,000 namespaces of 10), over C connections at once (default 4).
Every Lease is held (leaseDurationSeconds 3600, so it stays unexpired through
the run without anybody renewing it).  Exits non-zero on any answer but 201
(409 for the namespace is fine: it already exists).
"""
import argparse
import concurrent.futures
import datetime
import http.client
import json
import os
import ssl
import sys
import urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--cacert", required=True)
    ap.add_argument("--namespace", required=True)
    ap.add_argument("--lease", action="append", default=[])
    ap.add_argument("--many", type=int, default=0)
    ap.add_argument("--prefix", default="fence-")
    ap.add_argument("--namespaces", type=int, default=0)
    ap.add_argument("--connections", type=int, default=4)
    a = ap.parse_args()

    with open(a.token_file) as f:
        token = f.read().strip()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    leases = [tuple(x.split("=", 1)) for x in a.lease]
    leases += [("%s%04d" % (a.prefix, i), "%s%04d-pod" % (a.prefix, i)) for i in range(a.many)]
    spaces = ["%s-%04d" % (a.namespace, k) for k in range(a.namespaces)] if a.namespaces else [a.namespace]
    groups = [spaces[i::a.connections] for i in range(a.connections)]
    with concurrent.futures.ThreadPoolExecutor(a.connections) as ex:
        for f in [ex.submit(seed, a, token, now, g, leases) for g in groups if g]:
            f.result()
    print("seed-leases: created %d leases in %d namespace(s) %s" % (len(leases) * len(spaces), len(spaces),
                                                                      spaces[0] + (".." if len(spaces) > 1 else "")))


def seed(a, token, now, spaces, leases):
    """Creates SPACES and LEASES in each over one connection; exits on a bad answer."""
    u = urllib.parse.urlsplit(a.server)
    conn = http.client.HTTPSConnection(u.hostname, u.port, context=ssl.create_default_context(cafile=a.cacert))
    hdrs = {"Authorization": "Bearer " + token, "Content-Type": "application/json", "Accept": "application/json"}

    def post(path, obj, ok=(201,)):
        conn.request("POST", path, json.dumps(obj), hdrs)
        r = conn.getresponse()
        body = r.read()
        if r.status not in ok:
            sys.stderr.write("seed-leases: POST %s: %d %s\n" % (path, r.status, body[:300].decode(errors="replace")))
            os._exit(1)

    for ns in spaces:
        post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
             ok=(201, 409))
        path = "/apis/coordination.k8s.io/v1/namespaces/%s/leases" % ns
        for name, holder in leases:
            post(path, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                        "metadata": {"name": name, "namespace": ns},
                        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 3600, "acquireTime": now,
                                 "renewTime": now, "leaseTransitions": 0}})


if __name__ == "__main__":
    main()
