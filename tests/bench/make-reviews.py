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


def user_info(user, pod, node="node-a"):
    ns, sa = user.split(":")[2:4] if user.startswith("system:serviceaccount:") else ("default", "x")
    return {
        "username": user,
        "uid": "8a1f6c3e-2b7d-4e59-9c0a-5d3e1f7b2a64",
        "groups": ["system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"],
        "extra": {
            "authentication.kubernetes.io/credential-id": ["JTI=5c0f1a2b-7d3e-4f6a-8b9c-0d1e2f3a4b5c"],
            "authentication.kubernetes.io/node-name": [node],
            "authentication.kubernetes.io/node-uid": ["3f2e1d0c-9b8a-4765-8432-10fedcba9876"],
            "authentication.kubernetes.io/pod-name": [pod],
            "authentication.kubernetes.io/pod-uid": ["b7c6d5e4-f3a2-4b1c-9d8e-7f6a5b4c3d2e"],
        },
    }


def managed(manager, op, fields, t="2026-11-24T06:12:00Z"):
    return {"manager": manager, "operation": op, "apiVersion": "v1", "time": t,
            "fieldsType": "FieldsV1", "fieldsV1": fields}


def review(uid, kind, resource, name, ns, op, user, pod, obj, old, options):
    group, version = (kind[0], kind[1])
    return {
        "kind": "AdmissionReview",
        "apiVersion": "admission.k8s.io/v1",
        "request": {
            "uid": uid,
            "kind": {"group": group, "version": version, "kind": kind[2]},
            "resource": {"group": group, "version": version, "resource": resource},
            "requestKind": {"group": group, "version": version, "kind": kind[2]},
            "requestResource": {"group": group, "version": version, "resource": resource},
            "name": name,
            "namespace": ns,
            "operation": op,
            "userInfo": user_info(user, pod),
            "object": obj,
            "oldObject": old,
            "dryRun": False,
            "options": options,
        },
    }


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


ENV_NAMES = ["LOG_LEVEL", "LOG_FORMAT", "METRICS_ADDR", "PROBE_ADDR", "LEADER_ELECT", "LEASE_DURATION",
             "RENEW_DEADLINE", "RETRY_PERIOD", "SYNC_PERIOD", "WORKERS", "WEBHOOK_PORT", "GOMAXPROCS"]


def container(name, image, i):
    env = [{"name": n, "value": "%s-value-%d" % (n.lower().replace("_", "-"), i)} for n in ENV_NAMES]
    env.append({"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}})
    env.append({"name": "POD_NAMESPACE",
                "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}})
    return {
        "name": name,
        "image": image,
        "args": ["--leader-elect", "--metrics-bind-address=:8080", "--health-probe-bind-address=:8081",
                 "--zap-log-level=info"],
        "ports": [{"name": "metrics", "containerPort": 8080 + i, "protocol": "TCP"},
                  {"name": "webhook", "containerPort": 9443 + i, "protocol": "TCP"}],
        "env": env,
        "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "50m", "memory": "64Mi"}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8081, "scheme": "HTTP"}, "initialDelaySeconds": 15,
                          "timeoutSeconds": 1, "periodSeconds": 20, "successThreshold": 1, "failureThreshold": 3},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8081, "scheme": "HTTP"}, "initialDelaySeconds": 5,
                           "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                            "readOnlyRootFilesystem": True, "runAsNonRoot": True},
        "volumeMounts": [{"name": "cert", "mountPath": "/tmp/k8s-webhook-server/serving-certs", "readOnly": True}],
    }


def deployment(ns, replicas, generation, image_tag):
    labels = {"app.kubernetes.io/name": "worker", "app.kubernetes.io/part-of": "shop",
              "app.kubernetes.io/managed-by": "controller"}
    spec = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app.kubernetes.io/name": "worker"}},
        "template": {
            "metadata": {"creationTimestamp": None, "labels": labels,
                         "annotations": {"kubectl.kubernetes.io/default-container": "worker"}},
            "spec": {
                "containers": [container("worker", "registry.example.com/shop/worker:" + image_tag, 0),
                               container("sidecar", "registry.example.com/shop/sidecar:" + image_tag, 1)],
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 30,
                "dnsPolicy": "ClusterFirst",
                "serviceAccountName": "worker",
                "serviceAccount": "worker",
                "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                "schedulerName": "default-scheduler",
                "volumes": [{"name": "cert", "secret": {"secretName": "worker-cert", "defaultMode": 420}}],
            },
        },
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
    }
    applied = {"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "worker", "namespace": ns, "labels": labels}, "spec": spec}
    return {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {
            "name": "worker",
            "namespace": ns,
            "uid": "6f5e4d3c-2b1a-4098-8765-43210fedcba9",
            "resourceVersion": str(184467 + generation),
            "generation": generation,
            "creationTimestamp": "2026-11-20T09:30:00Z",
            "labels": labels,
            "annotations": {
                "deployment.kubernetes.io/revision": str(generation),
                "kubectl.kubernetes.io/last-applied-configuration":
                    json.dumps(applied, separators=(",", ":"), sort_keys=True) + "\n",
            },
            "managedFields": [
                managed("kubectl-client-side-apply", "Update",
                        {"f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}},
                                        "f:labels": {".": {}, "f:app.kubernetes.io/name": {}}},
                         "f:spec": {"f:progressDeadlineSeconds": {}, "f:revisionHistoryLimit": {}, "f:selector": {},
                                    "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}},
                                                   "f:type": {}}}}),
                managed("controller", "Update", {"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {}}}}}),
                managed("kube-controller-manager", "Update",
                        {"f:metadata": {"f:annotations": {"f:deployment.kubernetes.io/revision": {}}},
                         "f:status": {"f:availableReplicas": {}, "f:conditions": {}, "f:observedGeneration": {},
                                      "f:readyReplicas": {}, "f:replicas": {}, "f:updatedReplicas": {}}},
                        ) | {"subresource": "status"},
            ],
        },
        "spec": spec,
        "status": {
            "observedGeneration": generation - 1,
            "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
            "conditions": [
                {"type": "Available", "status": "True", "lastUpdateTime": "2026-11-20T09:31:02Z",
                 "lastTransitionTime": "2026-11-20T09:31:02Z", "reason": "MinimumReplicasAvailable",
                 "message": "Deployment has minimum availability."},
                {"type": "Progressing", "status": "True", "lastUpdateTime": "2026-11-24T06:11:48Z",
                 "lastTransitionTime": "2026-11-20T09:30:00Z", "reason": "NewReplicaSetAvailable",
                 "message": "ReplicaSet \"worker-6c9f8b7d5\" has successfully progressed."},
            ],
        },
    }


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

    create_opts = {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "controller"}
    update_opts = {"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "controller"}
    out = []
    for fname, pod, uid in (("configmap-create-holder.json", a.holder, "705ab4f5-6393-11e8-b7cc-42010a800002"),
                            ("configmap-create-other.json", a.other, "705ab4f5-6393-11e8-b7cc-42010a800003")):
        doc = review(uid, ("", "v1", "ConfigMap"), "configmaps", "controller-state", a.namespace, "CREATE",
                     a.user, pod, configmap(a.namespace, pod), None, create_opts)
        out.append((fname, dump(os.path.join(a.outdir, fname), doc)))
    doc = review("705ab4f5-6393-11e8-b7cc-42010a800004", ("apps", "v1", "Deployment"), "deployments", "worker",
                 a.namespace, "UPDATE", a.user, a.holder, deployment(a.namespace, 5, 8, "v1.8.1"),
                 deployment(a.namespace, 3, 7, "v1.8.0"), update_opts)
    out.append(("deployment-update-holder.json", dump(os.path.join(a.outdir, "deployment-update-holder.json"), doc)))
    for fname, n in out:
        print("%s %d" % (os.path.join(a.outdir, fname), n))


if __name__ == "__main__":
    sys.exit(main())
