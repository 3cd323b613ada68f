#!/usr/bin/python3
"""Creates a namespace and Leases in the API server, over one keep-alive connection.

  seed-leases.py --server https://HOST:PORT --token-file F --cacert F --namespace NS \
                 [--lease NAME=HOLDER ...] [--many N --prefix P]

--many N creates P0000..P(N-1) held by "P0000-pod".. (the bench's 1,000 fences).
Every Lease is held (leaseDurationSeconds 3600, so it stays unexpired through
the run without anybody renewing it).  Exits non-zero on any answer but 201
(409 for the namespace is fine: it already exists).
"""
import argparse
import datetime
import http.client
import json
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
    a = ap.parse_args()

    with open(a.token_file) as f:
        token = f.read().strip()
    u = urllib.parse.urlsplit(a.server)
    conn = http.client.HTTPSConnection(u.hostname, u.port, context=ssl.create_default_context(cafile=a.cacert))
    hdrs = {"Authorization": "Bearer " + token, "Content-Type": "application/json", "Accept": "application/json"}

    def post(path, obj, ok=(201,)):
        conn.request("POST", path, json.dumps(obj), hdrs)
        r = conn.getresponse()
        body = r.read()
        if r.status not in ok:
            sys.stderr.write("seed-leases: POST %s: %d %s\n" % (path, r.status, body[:300].decode(errors="replace")))
            sys.exit(1)

    post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": a.namespace}},
         ok=(201, 409))
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    leases = [tuple(x.split("=", 1)) for x in a.lease]
    leases += [("%s%04d" % (a.prefix, i), "%s%04d-pod" % (a.prefix, i)) for i in range(a.many)]
    path = "/apis/coordination.k8s.io/v1/namespaces/%s/leases" % a.namespace
    for name, holder in leases:
        post(path, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": name, "namespace": a.namespace},
                    "spec": {"holderIdentity": holder, "leaseDurationSeconds": 3600, "acquireTime": now,
                             "renewTime": now, "leaseTransitions": 0}})
    print("seed-leases: created %d leases in namespace %s" % (len(leases), a.namespace))


if __name__ == "__main__":
    main()
