#!/usr/bin/env bash
# Annotation identity with the real kubectl, through kube-sim's admission chain (issue 12): only a
# tag that the write itself sets counts.  A stale replica's merge patch that changes only data leaves
# the holder's tag in the object and is denied `untagged`; a DELETE carries no tag and is denied; the
# holder writes with a new "IDENTITY#NONCE" value each time.  The last check pins what docs/design.md says
# annotation identity cannot do: a writer may set someone else's tag (it is cooperative).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/e2e_lib.sh"

E2E_FENCE_JSON='{"fences":[{"lease":"demo/controller-leader","writers":{"users":["system:serviceaccount:demo:controller"]},
  "identity":{"annotation":"example.com/replica"},"mode":"enforce"}]}'
E2E_NO_FENCEWATCH=1
e2e_world replica-a replica-b || { fail "world starts (kube-sim, leasefence serve, webhook)"; done_testing; exit 1; }
ok "world starts: kube-sim, leasefence serve with an annotation fence, registered as a webhook"

KC=(--kubeconfig "$SIM_DIR/kubeconfig" --cache-dir "$TMP/kube-cache")
admin() { kubectl "${KC[@]}" "$@"; }
as() { local p=$1; shift; kubectl "${KC[@]}" --token "t-$p" -n demo "$@"; }
admin -n demo create -f - >/dev/null <<EOF || fail "create the Lease"
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: controller-leader}
spec: {holderIdentity: replica-a, leaseDurationSeconds: 3600, renewTime: "$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)", leaseTransitions: 0}
EOF
cm() { printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: state\n  annotations: {example.com/replica: "%s"}\ndata: {k: "%s"}\n' "$1" "$2"; }
# denied OUT TEXT: kubectl failed with the webhook's denial, and the message holds TEXT
denied() { grep -q 'admission webhook "fence.leasefence.io" denied the request' <<<"$1" && grep -q -- "$2" <<<"$1"; }
create_tagged() { cm 'replica-a#1' v1 | as replica-a create -f - >/dev/null 2>&1; }

check "the holder creates its object, tagged replica-a#1 (once the fence has seen the Lease)" wait_for 10 create_tagged
out=$(as replica-b patch configmap state --type=merge -p '{"data":{"k":"stale"}}' 2>&1)
check "a non-holder's merge patch of data only is denied untagged (the stored tag is not its own)" \
  denied "$out" "did not set annotation 'example.com/replica'"
out=$(as replica-b patch configmap state --type=merge \
  -p '{"metadata":{"annotations":{"example.com/replica":"replica-b#2"}},"data":{"k":"b"}}' 2>&1)
check "a non-holder that tags its write is denied not-holder" denied "$out" 'replica "replica-b" is not the holder'
out=$(as replica-a patch configmap state --type=merge -p '{"data":{"k":"a"}}' 2>&1)
check "the holder too must set the tag: a data-only patch is denied untagged" denied "$out" "did not set annotation"
check "the holder's patch with a new tag value passes" \
  as replica-a patch configmap state --type=merge \
  -p '{"metadata":{"annotations":{"example.com/replica":"replica-a#3"}},"data":{"k":"a3"}}'
expect_eq "the object holds the holder's write" a3 "$(admin -n demo get configmap state -o jsonpath='{.data.k}')"
out=$(as replica-a delete configmap state 2>&1)
check "a DELETE carries no tag: denied untagged, saying so" denied "$out" "which a DELETE cannot carry"
out=$(cm 'replica-b#4' b4 | as replica-b replace -f - 2>&1)
check "kubectl replace by the non-holder with its own tag is denied not-holder" denied "$out" "not the holder"
# The documented limit: annotation identity is cooperative.  A writer that sets the holder's tag passes.
check "cooperative, as documented: a non-holder that writes the holder's tag passes" \
  as replica-b patch configmap state --type=merge -p '{"metadata":{"annotations":{"example.com/replica":"replica-a#5"}}}'
done_testing
