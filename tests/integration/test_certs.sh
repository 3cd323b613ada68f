#!/usr/bin/env bash
# certs/generate.sh and certs/overlay.sh: the CA and serving certificate verify
# with openssl and carry both Service DNS names; a TLS handshake checked the way
# the API server checks it (CA = caBundle, server name = the Service's DNS name)
# succeeds; renewing keeps the CA; the generated overlay renders with kubectl,
# its Secret holds the certificate and key, and its caBundle decodes to the CA.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT" || exit 1
PY=/usr/bin/python3
D=$TMP/certs
quiet() { "$@" >"$TMP/quiet.log" 2>&1 || { cat "$TMP/quiet.log"; return 1; }; }

# ---- generate.sh --------------------------------------------------------------
check "generate.sh OUTDIR" quiet bash certs/generate.sh "$D"
for f in ca.crt tls.crt tls.key; do check "writes $f" test -s "$D/$f"; done
expect_eq "tls.key mode 0600" 600 "$(stat -c %a "$D/tls.key")"
expect_eq "ca.key mode 0600" 600 "$(stat -c %a "$D/ca.key")"
check "openssl verify tls.crt against ca.crt" quiet openssl verify -CAfile "$D/ca.crt" "$D/tls.crt"
san=$(openssl x509 -in "$D/tls.crt" -noout -ext subjectAltName)
check "SAN leasefence.leasefence-system.svc" grep -q 'DNS:leasefence.leasefence-system.svc,' <<<"$san"
check "SAN leasefence.leasefence-system.svc.cluster.local" grep -q 'DNS:leasefence.leasefence-system.svc.cluster.local' <<<"$san"
check "extended key usage serverAuth" sh -c "openssl x509 -in '$D/tls.crt' -noout -ext extendedKeyUsage | grep -q 'TLS Web Server Authentication'"
check "the CA is a CA" sh -c "openssl x509 -in '$D/ca.crt' -noout -ext basicConstraints | grep -q 'CA:TRUE'"
check "the serving certificate is not a CA" sh -c "openssl x509 -in '$D/tls.crt' -noout -ext basicConstraints | grep -q 'CA:FALSE'"
expect_eq "tls.key matches tls.crt" "$(openssl x509 -in "$D/tls.crt" -noout -pubkey)" "$(openssl pkey -in "$D/tls.key" -pubout)"
check "valid for at least 300 days" quiet openssl x509 -in "$D/tls.crt" -noout -checkend $((300 * 86400))

# A handshake checked like the API server does it: trust only the caBundle,
# and check the server name of the Service.
# (port 0: s_server prints the address it got, "ACCEPT 127.0.0.1:PORT")
bg "$TMP/s_server.log" openssl s_server -accept 127.0.0.1:0 -cert "$D/tls.crt" -key "$D/tls.key" -www
wait_for 10 grep -q '^ACCEPT ' "$TMP/s_server.log"
port=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$TMP/s_server.log" | head -1)
handshake() {  # handshake SERVERNAME: 0 if verified for that name
  echo | timeout 10 openssl s_client -connect "127.0.0.1:$port" -CAfile "$D/ca.crt" -verify_return_error \
    -verify_hostname "$1" -servername "$1" >"$TMP/s_client.log" 2>&1 &&
    grep -q 'Verify return code: 0 (ok)' "$TMP/s_client.log"
}
check "TLS handshake verifies for leasefence.leasefence-system.svc" handshake leasefence.leasefence-system.svc
check "TLS handshake verifies for leasefence.leasefence-system.svc.cluster.local" handshake leasefence.leasefence-system.svc.cluster.local
if handshake other.leasefence-system.svc; then fail "TLS handshake refuses another name"; else ok "TLS handshake refuses another name"; fi

# Renewal keeps the CA, so the caBundle stays valid; the new certificate verifies.
ca_before=$(cat "$D/ca.crt"); crt_before=$(cat "$D/tls.crt")
check "generate.sh again on the same OUTDIR" quiet bash certs/generate.sh "$D"
expect_eq "renewal keeps the CA" "$ca_before" "$(cat "$D/ca.crt")"
check "renewal writes a new serving certificate" test "$crt_before" != "$(cat "$D/tls.crt")"
check "the renewed certificate verifies against the kept CA" quiet openssl verify -CAfile "$D/ca.crt" "$D/tls.crt"

# Another Service and namespace.
check "generate.sh OUTDIR SERVICE NAMESPACE" quiet bash certs/generate.sh "$TMP/other" fence ops
check "SANs follow SERVICE and NAMESPACE" sh -c "openssl x509 -in '$TMP/other/tls.crt' -noout -ext subjectAltName | grep -q 'DNS:fence.ops.svc, DNS:fence.ops.svc.cluster.local'"
bash certs/generate.sh >/dev/null 2>&1; expect_eq "generate.sh without OUTDIR: usage, exit 2" 2 $?
bash certs/generate.sh "$TMP/bad" 'a b' >/dev/null 2>&1; expect_eq "generate.sh refuses a SERVICE that is not a DNS label" 2 $?

# ---- overlay.sh ---------------------------------------------------------------
check "overlay.sh OUTDIR" quiet bash certs/overlay.sh "$D"
if kubectl kustomize "$D" >"$TMP/overlay.yaml" 2>"$TMP/overlay.err"; then ok "the overlay renders"; else fail "the overlay renders: $(cat "$TMP/overlay.err")"; fi
cat >"$TMP/check_overlay.py" <<'PY'
import base64, sys, yaml
objs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
d = sys.argv[2]
def out(c, name): print(("ok - " if c else "not ok - ") + name)
sec = [o for o in objs if o["kind"] == "Secret" and o["metadata"]["name"] == "leasefence-tls"]
out(len(sec) == 1 and sec[0]["metadata"].get("namespace") == "leasefence-system", "Secret leasefence-system/leasefence-tls")
if sec:
    s = sec[0]
    out(s.get("type") == "kubernetes.io/tls", "Secret type kubernetes.io/tls")
    out(base64.b64decode(s["data"]["tls.crt"]) == open(d + "/tls.crt", "rb").read(), "Secret tls.crt is the certificate")
    out(base64.b64decode(s["data"]["tls.key"]) == open(d + "/tls.key", "rb").read(), "Secret tls.key is the key")
    out("ca.key" not in s["data"], "Secret does not carry the CA key")
dep = [o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "leasefence"]
vols = [v for v in dep[0]["spec"]["template"]["spec"]["volumes"] if "secret" in v] if dep else []
out(any(v["secret"]["secretName"] == "leasefence-tls" for v in vols), "the Deployment mounts that Secret")
vwc = [o for o in objs if o["kind"] == "ValidatingWebhookConfiguration"]
hooks = vwc[0]["webhooks"] if vwc else []
out(bool(hooks) and all(base64.b64decode(h["clientConfig"].get("caBundle", "")) == open(d + "/ca.crt", "rb").read() for h in hooks),
    "caBundle decodes to ca.crt")
out(not any(o["kind"] in ("Certificate", "Issuer") for o in objs), "no cert-manager objects")
out(not any("cert-manager.io/inject-ca-from" in (o["metadata"].get("annotations") or {}) for o in vwc), "no cainjector annotation")
if "--demo" in sys.argv:
    out(any(o["kind"] == "Deployment" and o["metadata"]["name"] == "controller" for o in objs), "the demo component is included")
PY
run_py() {
  local line out; out=$($PY "$TMP/check_overlay.py" "$@" 2>&1)
  while IFS= read -r line; do
    case $line in "ok - "*) ok "overlay: ${line#ok - }" ;; "not ok - "*) fail "overlay: ${line#not ok - }" ;; *) echo "# $line" ;; esac
  done <<<"$out"
}
run_py "$TMP/overlay.yaml" "$D"
$PY - "$TMP/overlay.yaml" >"$TMP/cabundle.pem" <<'PY'
import base64, sys, yaml
for o in yaml.safe_load_all(open(sys.argv[1])):
    if o and o["kind"] == "ValidatingWebhookConfiguration":
        sys.stdout.write(base64.b64decode(o["webhooks"][0]["clientConfig"]["caBundle"]).decode())
PY
check "openssl verify tls.crt against the decoded caBundle" quiet openssl verify -CAfile "$TMP/cabundle.pem" "$D/tls.crt"

check "overlay.sh OUTDIR manifests/examples/demo" quiet bash certs/overlay.sh "$D" manifests/examples/demo
if kubectl kustomize "$D" >"$TMP/overlay-demo.yaml" 2>"$TMP/overlay.err"; then ok "the overlay with the demo renders"; else fail "the overlay with the demo renders: $(cat "$TMP/overlay.err")"; fi
run_py "$TMP/overlay-demo.yaml" "$D" --demo
bash certs/overlay.sh "$D" manifests/components/cert-manager >/dev/null 2>&1
check "overlay.sh refuses the cert-manager component" test $? -ne 0
bash certs/overlay.sh "$TMP/empty" >/dev/null 2>&1
check "overlay.sh refuses a directory without certificates" test $? -ne 0
# A certificate from another CA is refused (the caBundle would not verify it).
mkdir -p "$TMP/mixed"; cp "$TMP/other/tls.crt" "$TMP/other/tls.key" "$TMP/mixed/"; cp "$D/ca.crt" "$TMP/mixed/"
bash certs/overlay.sh "$TMP/mixed" >/dev/null 2>&1
check "overlay.sh refuses a certificate the CA did not sign" test $? -ne 0

done_testing
