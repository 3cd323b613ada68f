"""The Kubernetes objects that the sample AdmissionReviews are made of, shared by
tests/corpus/make-corpus.py (the checked-in samples) and tests/bench/make-reviews.py
(the bench's bodies): a service account's userInfo with the bound token's keys,
managedFields entries, the AdmissionReview around a request, and a controller's
Deployment.  Plain dicts, in the field order of kube-apiserver's Go structs;
deterministic.  Each script keeps the objects only it uses (its ConfigMap).
"""
import json

DEFAULT_TIME = "2026-11-24T06:12:00Z"


def user_info(user, pod, ns, node="node-a"):
    """A userInfo as a bound service-account token gives it; POD None: a user without a pod."""
    info = {"username": user, "uid": "8a1f6c3e-2b7d-4e59-9c0a-5d3e1f7b2a64",
            "groups": ["system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"]}
    if pod is not None:
        info["extra"] = {
            "authentication.kubernetes.io/credential-id": ["JTI=5c0f1a2b-7d3e-4f6a-8b9c-0d1e2f3a4b5c"],
            "authentication.kubernetes.io/node-name": [node],
            "authentication.kubernetes.io/node-uid": ["3f2e1d0c-9b8a-4765-8432-10fedcba9876"],
            "authentication.kubernetes.io/pod-name": [pod],
            "authentication.kubernetes.io/pod-uid": ["b7c6d5e4-f3a2-4b1c-9d8e-7f6a5b4c3d2e"],
        }
    return info


def managed(manager, op, fields, api="v1", t=DEFAULT_TIME):
    return {"manager": manager, "operation": op, "apiVersion": api, "time": t,
            "fieldsType": "FieldsV1", "fieldsV1": fields}


def review(uid, gvk, resource, name, ns, op, user, obj, old, options, version="v1", sub=None, dry=False):
    """An AdmissionReview VERSION of a request by USER (a userInfo); name, namespace and subResource only when set."""
    group, ver, kind = gvk
    req = {"uid": uid,
           "kind": {"group": group, "version": ver, "kind": kind},
           "resource": {"group": group, "version": ver, "resource": resource}}
    if sub:
        req["subResource"] = sub
    req["requestKind"] = {"group": group, "version": ver, "kind": kind}
    req["requestResource"] = {"group": group, "version": ver, "resource": resource}
    if sub:
        req["requestSubResource"] = sub
    if name:
        req["name"] = name
    if ns:
        req["namespace"] = ns
    req["operation"] = op
    req["userInfo"] = user
    req["object"] = obj
    req["oldObject"] = old
    req["dryRun"] = dry
    req["options"] = options
    return {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/" + version, "request": req}


CREATE = {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "controller"}
UPDATE = {"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "controller"}
DELETE = {"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1", "propagationPolicy": "Background"}

ENV_NAMES = ["LOG_LEVEL", "LOG_FORMAT", "METRICS_ADDR", "PROBE_ADDR", "LEADER_ELECT", "LEASE_DURATION",
             "RENEW_DEADLINE", "RETRY_PERIOD", "SYNC_PERIOD", "WORKERS", "WEBHOOK_PORT", "GOMAXPROCS"]


def container(name, image, i, extra_args=(), pod_namespace=False):
    """Container number I of a controller-runtime manager's pod, with its probes, env and certificate mount."""
    env = [{"name": n, "value": "%s-value-%d" % (n.lower().replace("_", "-"), i)} for n in ENV_NAMES]
    env.append({"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}})
    if pod_namespace:
        env.append({"name": "POD_NAMESPACE",
                    "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}})
    return {
        "name": name,
        "image": image,
        "args": ["--leader-elect", "--metrics-bind-address=:8080", "--health-probe-bind-address=:8081"]
        + list(extra_args),
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


def deployment(ns, replicas, generation, tag, containers, epoch=None, fields_api="v1", status_manager=False):
    """Deployment NS/worker at GENERATION, applied with kubectl and scaled by the controller.

    CONTAINERS(tag) gives the pod's containers; EPOCH, when set, is a leasefence.io/epoch annotation;
    FIELDS_API is the managedFields' apiVersion; STATUS_MANAGER adds kube-controller-manager's status entry.
    """
    labels = {"app.kubernetes.io/name": "worker", "app.kubernetes.io/part-of": "shop",
              "app.kubernetes.io/managed-by": "controller"}
    spec = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app.kubernetes.io/name": "worker"}},
        "template": {
            "metadata": {"creationTimestamp": None, "labels": labels,
                         "annotations": {"kubectl.kubernetes.io/default-container": "worker"}},
            "spec": {
                "containers": containers(tag),
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
    annotations = {
        "deployment.kubernetes.io/revision": str(generation),
        "kubectl.kubernetes.io/last-applied-configuration":
            json.dumps(applied, separators=(",", ":"), sort_keys=True) + "\n",
    }
    if epoch is not None:
        annotations["leasefence.io/epoch"] = epoch
    managers = [
        managed("kubectl-client-side-apply", "Update",
                {"f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}},
                                "f:labels": {".": {}, "f:app.kubernetes.io/name": {}}},
                 "f:spec": {"f:progressDeadlineSeconds": {}, "f:revisionHistoryLimit": {}, "f:selector": {},
                            "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}},
                                           "f:type": {}}}}, api=fields_api),
        managed("controller", "Update", {"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {}}}}},
                api=fields_api),
    ]
    if status_manager:
        managers.append(managed("kube-controller-manager", "Update",
                                {"f:metadata": {"f:annotations": {"f:deployment.kubernetes.io/revision": {}}},
                                 "f:status": {"f:availableReplicas": {}, "f:conditions": {}, "f:observedGeneration": {},
                                              "f:readyReplicas": {}, "f:replicas": {}, "f:updatedReplicas": {}}},
                                api=fields_api) | {"subresource": "status"})
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
            "annotations": annotations,
            "managedFields": managers,
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
