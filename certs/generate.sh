#!/usr/bin/env bash
# certs/generate.sh OUTDIR [SERVICE [NAMESPACE]]
#
# Makes a private CA and a serving certificate for the webhook Service with the
# SANs SERVICE.NAMESPACE.svc and SERVICE.NAMESPACE.svc.cluster.local (plus
# localhost and 127.0.0.1 for local runs), using only the OpenSSL CLI.
# Writes OUTDIR/ca.crt, OUTDIR/ca.key, OUTDIR/tls.crt, OUTDIR/tls.key (keys mode 0600).
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 3 ]; then
  echo "usage: $0 OUTDIR [SERVICE [NAMESPACE]]" >&2
  exit 2
fi
out=$1 svc=${2:-leasefence} ns=${3:-leasefence-system}
days=${CERT_DAYS:-365}
mkdir -p "$out"
umask 077
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
  -keyout "$out/ca.key" -out "$out/ca.crt" -days "$days" -sha256 \
  -subj "/CN=leasefence-ca" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

cat >"$work/ext.cnf" <<CNF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:$svc.$ns.svc,DNS:$svc.$ns.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:::1
CNF
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
  -keyout "$out/tls.key" -out "$work/tls.csr" -subj "/CN=$svc.$ns.svc" 2>/dev/null
openssl x509 -req -in "$work/tls.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
  -CAserial "$work/ca.srl" -out "$out/tls.crt" -days "$days" -sha256 -extfile "$work/ext.cnf" 2>/dev/null
chmod 0644 "$out/ca.crt" "$out/tls.crt"
openssl verify -CAfile "$out/ca.crt" "$out/tls.crt" >/dev/null
echo "wrote $out/ca.crt $out/tls.crt $out/tls.key (SANs $svc.$ns.svc, $svc.$ns.svc.cluster.local)"
