#!/usr/bin/env bash
# certs/generate.sh OUTDIR [SERVICE [NAMESPACE]]
#
# Makes a private CA and a serving certificate for the webhook Service with the
# SANs SERVICE.NAMESPACE.svc and SERVICE.NAMESPACE.svc.cluster.local (plus
# localhost and 127.0.0.1 for local runs), using only the OpenSSL CLI.
# Writes OUTDIR/ca.crt, OUTDIR/ca.key, OUTDIR/tls.crt, OUTDIR/tls.key (keys mode 0600).
#
# Run it again on the same OUTDIR to renew the serving certificate: an existing
# CA (ca.crt and ca.key) is kept, so the caBundle the API server trusts does not
# change and the new certificate can be rolled out by updating the Secret alone.
# Delete ca.crt and ca.key to make a new CA.
#
# Environment: CERT_DAYS (serving certificate, default 365), CA_DAYS (CA, default 3650).
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 3 ]; then
  echo "usage: $0 OUTDIR [SERVICE [NAMESPACE]]" >&2
  exit 2
fi
out=$1 svc=${2:-leasefence} ns=${3:-leasefence-system}
days=${CERT_DAYS:-365} ca_days=${CA_DAYS:-3650}
case "$svc$ns" in
  *[!a-z0-9-]*|"") echo "$0: SERVICE and NAMESPACE must be DNS labels (a-z, 0-9, -)" >&2; exit 2 ;;
esac
mkdir -p "$out"
umask 077
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# run DESCRIPTION COMMAND...: OpenSSL is chatty on success; show its output only on failure.
run() {
  local what=$1; shift
  if ! "$@" >"$work/log" 2>&1; then
    echo "$0: $what failed:" >&2; cat "$work/log" >&2; exit 1
  fi
}

if [ -s "$out/ca.crt" ] && [ -s "$out/ca.key" ]; then
  echo "keeping the CA in $out/ca.crt"
else
  run "making the CA" openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -keyout "$out/ca.key" -out "$out/ca.crt" -days "$ca_days" -sha256 \
    -subj "/CN=leasefence-ca" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
fi

cat >"$work/ext.cnf" <<CNF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:$svc.$ns.svc,DNS:$svc.$ns.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:::1
CNF
# Written beside the old files and moved into place at the end, so that a
# server reloading OUTDIR never sees a new certificate with an old key.
run "making the serving key" openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
  -keyout "$work/tls.key" -out "$work/tls.csr" -subj "/CN=$svc.$ns.svc"
run "signing the serving certificate" openssl x509 -req -in "$work/tls.csr" \
  -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial -CAserial "$work/ca.srl" \
  -out "$work/tls.crt" -days "$days" -sha256 -extfile "$work/ext.cnf"
run "verifying the serving certificate" openssl verify -CAfile "$out/ca.crt" "$work/tls.crt"
chmod 0644 "$out/ca.crt" "$work/tls.crt"
mv -f "$work/tls.key" "$out/tls.key.new"
mv -f "$work/tls.crt" "$out/tls.crt.new"
mv -f "$out/tls.key.new" "$out/tls.key"
mv -f "$out/tls.crt.new" "$out/tls.crt"
echo "wrote $out/ca.crt $out/tls.crt $out/tls.key (SANs $svc.$ns.svc, $svc.$ns.svc.cluster.local)"
