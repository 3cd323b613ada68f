#!/usr/bin/python3
"""Writes the AdmissionReview request bodies that `make bench` sends.

  make-reviews.py OUTDIR [--namespace NS] [--user USER] [--holder POD] [--other POD]

OUTDIR/configmap-create-holder.json   ~2 KB ConfigMap CREATE from the Lease holder (allowed)
OUTDIR/configmap-create-other.json    the same from another replica of the writer (denied)
OUTDIR/deployment-update-holder.json  ~25 KB Deployment UPDATE with object and oldObject (allowed)

They are shaped like what kube-apiserver sends for a service-account writer
running in a pod: compact JSON, userInfo.extra with the bound token's pod name,
managedFields, a kubectl last-applied-configuration annotation (a JSON string
full of escapes) on the Deployment.  Deterministic: same arguments, same bytes.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus"))
from kube_objects import CREATE, UPDATE, container, deployment, managed, review, user_info  # noqa: E402


def configmap(ns, pod):
    data = {
        "controller.yaml": "leaderElection:\n  leaseDuration: 15s\n  renewDeadline: 10s\n  retryPeriod: 2s\n"
                           "reconcile:\n  workers: 4\n  resyncPeriod: 10m\n",
        "generation": "42",
        "owner": pod,
        "checksum": "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "shards": "0,1,2,3,4,5,6,7",
    }
    fields = {"f:data": {"." : {}}, "f:metadata": {"f:labels": {".": {}, "f:app.kubernetes.io/managed-by": {},
                                                                 "f:app.kubernetes.io/name": {}}}}
    for k in data:
        fields["f:data"]["f:" + k] = {}
    return {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {
            "name": "controller-state",
            "namespace": ns,
            "uid": "0d6e2c4a-8f1b-4a3c-9e5d-7b2f1c0a9e8d",
            "creationTimestamp": None,
            "labels": {"app.kubernetes.io/name": "controller", "app.kubernetes.io/managed-by": "controller"},
            "managedFields": [managed("controller", "Update", fields)],
        },
        "data": data,
    }


def containers(tag):
    return [container("worker", "registry.example.com/shop/worker:" + tag, 0, ["--zap-log-level=info"], True),
            container("sidecar", "registry.example.com/shop/sidecar:" + tag, 1, ["--zap-log-level=info"], True)]


def worker(ns, replicas, generation, tag):
    return deployment(ns, replicas, generation, tag, containers, status_manager=True)


def writer(user, pod):
    """USER's userInfo in POD; a service account's namespace is in its name."""
    ns = user.split(":")[2] if user.startswith("system:serviceaccount:") else "default"
    return user_info(user, pod, ns)


def dump(path, doc):
    data = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--namespace", default="bench")
    ap.add_argument("--user", default="system:serviceaccount:bench:controller")
    ap.add_argument("--holder", default="controller-6d8f9c7b5-holdr")
    ap.add_argument("--other", default="controller-6d8f9c7b5-other")
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)

    out = []
    for fname, pod, uid in (("configmap-create-holder.json", a.holder, "705ab4f5-6393-11e8-b7cc-42010a800002"),
                            ("configmap-create-other.json", a.other, "705ab4f5-6393-11e8-b7cc-42010a800003")):
        doc = review(uid, ("", "v1", "ConfigMap"), "configmaps", "controller-state", a.namespace, "CREATE",
                     writer(a.user, pod), configmap(a.namespace, pod), None, CREATE)
        out.append((fname, dump(os.path.join(a.outdir, fname), doc)))
    doc = review("705ab4f5-6393-11e8-b7cc-42010a800004", ("apps", "v1", "Deployment"), "deployments", "worker",
                 a.namespace, "UPDATE", writer(a.user, a.holder), worker(a.namespace, 5, 8, "v1.8.1"),
                 worker(a.namespace, 3, 7, "v1.8.0"), UPDATE)
    out.append(("deployment-update-holder.json", dump(os.path.join(a.outdir, "deployment-update-holder.json"), doc)))
    for fname, n in out:
        print("%s %d" % (os.path.join(a.outdir, fname), n))


if __name__ == "__main__":
    sys.exit(main())
