#!/usr/bin/env bash
# Installs the Debian packages that building and testing need.  Idempotent and
# quiet when everything is already there; needs root (apt-get) otherwise.
set -euo pipefail

pkgs=(
  build-essential pkg-config
  libh2o-evloop-dev libjansson-dev libcurl4-openssl-dev libssl-dev libyaml-dev
  libcmocka-dev golang-go
  clang libclang-rt-14-dev valgrind
  openssl curl jq ca-certificates python3 python3-yaml
  prometheus nghttp2-client wrk
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# The real kubectl: keep the machine's own if it has one, else Debian's.
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps: need root to apt-get install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
