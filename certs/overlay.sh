#!/usr/bin/env bash
# certs/overlay.sh OUTDIR [COMPONENT_DIR...]
#
# Turns a directory written by certs/generate.sh into a kustomize overlay of
# manifests/base that installs leasefence with those certificates:
#   - a Secret leasefence-system/leasefence-tls (type kubernetes.io/tls) from
#     OUTDIR/tls.crt and OUTDIR/tls.key, under a fixed name so that a renewed
#     certificate updates the mounted volume in place and the server reloads it;
#   - the CA (OUTDIR/ca.crt) as the caBundle of the webhook configuration.
# Each COMPONENT_DIR (a kustomize Component, e.g. manifests/examples/demo) is
# added to the overlay.  Writes OUTDIR/kustomization.yaml; then:
#   kubectl apply -k OUTDIR        (or: kubectl kustomize OUTDIR | kubectl apply -f -)
#
# Environment: LEASEFENCE_BASE (default: manifests/base of this checkout).
# OUTDIR holds the private keys: keep it out of version control, and move
# ca.key somewhere safer once the overlay is written if you like
# (certs/generate.sh needs it again only to renew).
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 OUTDIR [COMPONENT_DIR...]" >&2
  exit 2
fi
out=$1; shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
base=${LEASEFENCE_BASE:-$here/../manifests/base}
for f in ca.crt tls.crt tls.key; do
  [ -s "$out/$f" ] || { echo "$0: $out/$f is missing: run certs/generate.sh $out first" >&2; exit 1; }
done
[ -f "$base/kustomization.yaml" ] || { echo "$0: no kustomization in $base" >&2; exit 1; }
openssl verify -CAfile "$out/ca.crt" "$out/tls.crt" >/dev/null ||
  { echo "$0: $out/tls.crt is not signed by $out/ca.crt" >&2; exit 1; }

# kustomize wants paths relative to the overlay.
rel() { realpath --relative-to="$out" "$1"; }
components=""
for c in "$@"; do
  [ -f "$c/kustomization.yaml" ] || { echo "$0: no kustomization in $c" >&2; exit 1; }
  case $(realpath "$c") in
    */components/cert-manager) echo "$0: $c issues certificates itself; leave it out" >&2; exit 1 ;;
  esac
  components+="  - $(rel "$c")"$'\n'
done
ca_bundle=$(base64 -w0 <"$out/ca.crt")

tmp=$out/kustomization.yaml.new
{
  cat <<YAML
# Written by certs/overlay.sh: leasefence with the certificates in this directory.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization

resources:
  - $(rel "$base")
YAML
  if [ -n "$components" ]; then printf '\ncomponents:\n%s' "$components"; fi
  cat <<YAML

secretGenerator:
  - name: leasefence-tls
    namespace: leasefence-system
    type: kubernetes.io/tls
    files:
      - tls.crt
      - tls.key
    options:
      disableNameSuffixHash: true

patches:
  - target:
      group: admissionregistration.k8s.io
      kind: ValidatingWebhookConfiguration
      name: leasefence
    patch: |-
      - op: test
        path: /webhooks/0/name
        value: fence.leasefence.io
      - op: add
        path: /webhooks/0/clientConfig/caBundle
        value: $ca_bundle
YAML
} >"$tmp"
mv -f "$tmp" "$out/kustomization.yaml"
echo "wrote $out/kustomization.yaml: kubectl apply -k $out"
