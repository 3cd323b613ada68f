#!/usr/bin/python3
"""Writes the AdmissionReview sample documents of tests/corpus/ (checked in;
rerun after changing this script: `python3 tests/corpus/make-corpus.py`).

Shaped like what kube-apiserver sends: compact JSON in the field order of the
Go structs, Go's HTML escaping (<, >, & as \\u003c, \\u003e, \\u0026), raw
UTF-8 elsewhere, managedFields, userInfo.extra with the bound token's keys.
A few documents are deliberately unusual (key order, whitespace, escapes,
look-alike keys, duplicate keys, \\u0000) to exercise the decoder.
Deterministic: same script, same bytes.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import kube_objects as k  # noqa: E402
from kube_objects import CREATE, DELETE, UPDATE, container, managed  # noqa: E402

NS = "shop"
USER = "system:serviceaccount:shop:controller"
POD = "controller-6d8f9c7b5-x7k2p"


def go_json(doc, indent=None):
    """Like Go's encoding/json: compact, raw UTF-8, HTML characters escaped."""
    if indent is None:
        s = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    else:
        s = json.dumps(doc, indent=indent, ensure_ascii=False)
    return (s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def review(uid, gvk, resource, name, ns, op, obj, old, options, version="v1", user=USER, pod=POD,
           sub=None, dry=False):
    return k.review(uid, gvk, resource, name, ns, op, k.user_info(user, pod, NS), obj, old, options, version,
                    sub, dry)


def configmap(generation, extra_ann=None, rv="73519"):
    data = {
        "controller.yaml": "leaderElection:\n  leaseDuration: 15s\n  renewDeadline: 10s\n  retryPeriod: 2s\n"
                           "reconcile:\n  workers: 4\n  resyncPeriod: 10m\n  filter: \"a < b && c > d\"\n",
        "generation": str(generation),
        "owner": POD,
        "checksum": "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "shards": "0,1,2,3,4,5,6,7",
    }
    fields = {"f:data": {".": {}}, "f:metadata": {"f:annotations": {".": {}, "f:leasefence.io/epoch": {}},
                                                  "f:labels": {".": {}, "f:app.kubernetes.io/managed-by": {},
                                                               "f:app.kubernetes.io/name": {}}}}
    for k in data:
        fields["f:data"]["f:" + k] = {}
    ann = {"leasefence.io/epoch": "0d6e2c4a-1111-4a3c-9e5d-7b2f1c0a9e8d/%d" % generation}
    ann.update(extra_ann or {})
    return {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {
            "name": "controller-state",
            "namespace": NS,
            "uid": "0d6e2c4a-8f1b-4a3c-9e5d-7b2f1c0a9e8d",
            "resourceVersion": rv,
            "creationTimestamp": "2026-11-24T06:12:00Z",
            "labels": {"app.kubernetes.io/name": "controller", "app.kubernetes.io/managed-by": "controller"},
            "annotations": ann,
            "managedFields": [managed("controller", "Update", fields)],
        },
        "data": data,
    }


CM = ("", "v1", "ConfigMap")


def containers(tag):
    return [container("worker", "registry.example.com/shop/worker:" + tag, 0),
            container("sidecar", "registry.example.com/shop/sidecar:" + tag, 1)]


def deployment(replicas, generation, tag):
    return k.deployment(NS, replicas, generation, tag, containers, fields_api="apps/v1",
                        epoch="9b1e7a52-3c4d-4e5f-8a6b-7c8d9e0f1a2b/%d" % generation)


def docs():
    out = {}
    out["v1-configmap-create.json"] = go_json(review(
        "705ab4f5-6393-11e8-b7cc-42010a800002", CM, "configmaps", "controller-state", NS, "CREATE",
        configmap(1), None, CREATE))
    out["v1-configmap-update.json"] = go_json(review(
        "705ab4f5-6393-11e8-b7cc-42010a800003", CM, "configmaps", "controller-state", NS, "UPDATE",
        configmap(2, rv="73520"), configmap(1), UPDATE))
    out["v1-configmap-delete.json"] = go_json(review(
        "705ab4f5-6393-11e8-b7cc-42010a800004", CM, "configmaps", "controller-state", NS, "DELETE",
        None, configmap(2), DELETE))
    out["v1-deployment-update.json"] = go_json(review(
        "705ab4f5-6393-11e8-b7cc-42010a800005", ("apps", "v1", "Deployment"), "deployments", "worker", NS,
        "UPDATE", deployment(5, 8, "v1.8.1"), deployment(3, 7, "v1.8.0"), UPDATE))
    token = {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1", "metadata": {"creationTimestamp": None},
             "spec": {"token": "eyJhbGciOiJSUzI1NiIsImtpZCI6ImZha2UifQ.eyJzdWIiOiJmYWtlIn0.c2lnbmF0dXJl",
                      "audiences": ["https://kubernetes.default.svc"]},
             "status": {"user": {}}}
    out["v1-tokenreview-create.json"] = go_json(review(
        "705ab4f5-6393-11e8-b7cc-42010a800006", ("authentication.k8s.io", "v1", "TokenReview"), "tokenreviews",
        "", "", "CREATE", token, None, CREATE, user="system:kube-controller-manager", pod=None))
    out["v1beta1-configmap-create.json"] = go_json(review(
        "705ab4f5-6393-11e8-b7cc-42010a800007", CM, "configmaps", "controller-state", NS, "CREATE",
        configmap(1), None, CREATE, version="v1beta1"))
    out["v1-pods-exec-connect.json"] = go_json(review(
        "705ab4f5-6393-11e8-b7cc-42010a800008", ("", "v1", "Pod"), "pods", "worker-0", NS, "CONNECT",
        {"kind": "PodExecOptions", "apiVersion": "v1", "stdin": True, "stdout": True, "tty": True,
         "container": "worker", "command": ["/bin/sh", "-c", "echo <hi> && exit"]},
        None, None, user="kubernetes-admin", pod=None, sub="exec"))
    out["v1-lease-dryrun-status.json"] = go_json(review(
        "705ab4f5-6393-11e8-b7cc-42010a800009", ("coordination.k8s.io", "v1", "Lease"), "leases", "controller",
        NS, "UPDATE", {"kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
                       "metadata": {"name": "controller", "namespace": NS},
                       "spec": {"holderIdentity": POD, "leaseDurationSeconds": 15, "leaseTransitions": 3,
                                "renewTime": "2026-11-24T06:12:00.123456Z", "acquireTime": "2026-11-24T06:00:00.000000Z"}},
        None, UPDATE, sub="status", dry=True))

    # Escapes, \u sequences and surrogate pairs in every kind of string we extract.
    out["v1-escapes.json"] = (
        '{"apiVersion":"admission.k8s.io\\/v1","kind":"Admission\\u0052eview","request":{'
        '"uid":"705ab4f5-\\u0036393-11e8-b7cc-42010a80000a",'
        '"kind":{"group":"","version":"v1","kind":"Config\\u004Dap"},'
        '"resource":{"group":"","version":"v1","resource":"config\\u006daps"},'
        '"name":"caf\\u00e9-\\u65e5\\u672c-\\ud83d\\ude00","namespace":"sh\\u006fp",'
        '"operation":"UPD\\u0041TE",'
        '"userInfo":{"username":"system:serviceaccount:shop:contr\\u00f6ller\\t\\"quoted\\"\\\\",'
        '"uid":"\\u00e9\\u00E9","groups":["system:\\u0061uthenticated","\\ud834\\udd1e music","plain"],'
        '"extra":{"authentication.kubernetes.io\\/pod-name":["pod-\\ud83d\\ude80-\\u0031"],'
        '"authentication.kubernetes.io/node-name":["n\\u00f6de"]}},'
        '"object":{"metadata":{"name":"x","annotations":{"leasefence.io\\/epoch":"\\u0041\\b\\f\\n\\r\\t\\/\\\\\\"",'
        '"k\\u00e9y":"v\\u00e9","emoji-\\uD83D\\uDE00":"\\uDBFF\\uDFFF","plain":"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80"}}},'
        '"oldObject":null,"dryRun":false}}')
    # Keys in an unusual order: request first, uid last, kind fields reversed.
    out["v1-key-order.json"] = (
        '{"request":{"dryRun":false,"oldObject":null,"object":{"data":{"a":"b"},"metadata":{"annotations":'
        '{"z":"1","a":"2"},"namespace":"shop","name":"cm"},"apiVersion":"v1","kind":"ConfigMap"},'
        '"userInfo":{"extra":{"authentication.kubernetes.io/pod-name":["' + POD + '"]},"groups":["g1","g2"],'
        '"uid":"u-1","username":"' + USER + '"},"operation":"CREATE","namespace":"shop","name":"cm",'
        '"resource":{"resource":"configmaps","version":"v1","group":""},'
        '"kind":{"kind":"ConfigMap","version":"v1","group":""},"uid":"705ab4f5-6393-11e8-b7cc-42010a80000b"},'
        '"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1"}')
    # Whitespace everywhere: tabs, CR LF, spaces before and after every token.
    ws = go_json(review("705ab4f5-6393-11e8-b7cc-42010a80000c", CM, "configmaps", "controller-state", NS,
                        "UPDATE", configmap(3), configmap(2), UPDATE), indent="\t")
    out["v1-whitespace.json"] = ("\r\n \t" + ws.replace(",\n", " ,\t\n").replace("\n", " \r\n")
                                 .replace('": ', '" \t:\t ').replace(": []", ": [ \n ]")
                                 .replace(": {}", ": {\r\n}") + "\n\t \r\n")
    # Look-alike keys deeper in the document.
    look = configmap(4, extra_ann={"uid": "annotation-uid", "username": "annotation-user",
                                   "groups": "system:masters", "request": "annotation-request",
                                   "authentication.kubernetes.io/pod-name": "annotation-pod",
                                   "apiVersion": "admission.k8s.io/v2", "kind": "NotAReview"})
    look["metadata"]["labels"]["uid"] = "label-uid"
    look["data"]["request"] = "data-request"
    look["spec"] = {"request": {"uid": "nested-request-uid", "userInfo": {"username": "nested-user"},
                                "object": {"metadata": {"annotations": {"nested": "x"}}}},
                    "userInfo": {"username": "spec-user", "groups": ["spec-group"]},
                    "kind": {"group": "evil", "version": "v9", "kind": "Evil"},
                    "metadata": {"annotations": {"spec-level": "not-ours"}},
                    "apiVersion": "admission.k8s.io/v2", "dryRun": True}
    r = review("705ab4f5-6393-11e8-b7cc-42010a80000d", CM, "configmaps", "controller-state", NS, "UPDATE",
               look, configmap(3, extra_ann={"userInfo": "{\"username\":\"old-annotation\"}"}), UPDATE)
    r["request"]["options"]["request"] = {"uid": "options-uid"}
    r["request"]["requestKind"]["uid"] = "requestKind-uid"
    r["request"]["userInfo"]["extra"]["authentication.kubernetes.io/pod-name-suffix"] = ["not-pod"]
    r["request"]["userInfo"]["extra"]["pod-name"] = ["not-pod-either"]
    r["request"]["userInfo"]["extra"]["example.com/groups"] = ["a", "b", "c"]
    r["request"]["userInfo"]["extra"]["scopes.authorization.openshift.io"] = ["user:info", "user:check-access"]
    r["status"] = {"request": {"uid": "status-uid"}}
    r["response"] = {"uid": "response-uid", "allowed": True}
    out["v1-lookalikes.json"] = go_json(r)
    # Duplicate keys: the last one wins (jansson and Go alike).
    out["v1-duplicate-keys.json"] = (
        '{"apiVersion":"admission.k8s.io/v1beta1","apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview",'
        '"request":{"uid":"first-request"},'
        '"request":{"uid":42,"uid":"705ab4f5-6393-11e8-b7cc-42010a80000e","operation":"CREATE",'
        '"userInfo":{"username":"first","groups":["a"]},"userInfo":{"username":"second"},'
        '"name":1,"name":"cm","object":{"metadata":{"annotations":{"a":"1","b":"2","a":"3"}},'
        '"metadata":{"annotations":{"c":"4","c":"5","d":"6"}}},"dryRun":"yes","dryRun":true}}')
    # \u0000 in strings we extract and skip (Go accepts it; jansson only with JSON_ALLOW_NUL).
    out["v1-nul.json"] = (
        '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{'
        '"uid":"705ab4f5-6393-11e8-b7cc-42010a80000f","operation":"CREATE","name":"a\\u0000b",'
        '"object":{"metadata":{"annotations":{"nul":"x\\u0000y"}},"data":{"bin":"\\u0000\\u0000"}},'
        '"userInfo":{"username":"u\\u0000ser"}}}')
    # Numbers of every shape, nulls where fields are optional, empty containers.
    out["v1-numbers-nulls.json"] = (
        '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{'
        '"uid":"705ab4f5-6393-11e8-b7cc-42010a800010","kind":null,"resource":{"group":null},'
        '"subResource":null,"name":null,"namespace":null,"operation":"DELETE","userInfo":{"groups":null,'
        '"extra":null},"object":{"n":[0,-0,1,-1,0.5,-0.5,1e9,1E+9,1e-9,-1.25E-3,123456789012,3.14159]},'
        '"oldObject":{"metadata":{"annotations":{}},"e":[],"o":{},"t":true,"f":false,"z":null},"dryRun":null}}')
    return out


def main():
    for name, text in sorted(docs().items()):
        data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
        if name == "v1-escapes.json":
            data = text.encode("latin-1")
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
        print("%s %d" % (name, len(data)))


if __name__ == "__main__":
    sys.exit(main())
