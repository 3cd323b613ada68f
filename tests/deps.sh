#!/usr/bin/env bash
# Installs the Debian packages that a set of targets needs.  Idempotent and
# quiet when everything is already there; needs root (apt-get) otherwise.
#   tests/deps.sh         building and testing (make deps, make test)
#   tests/deps.sh image   `make image` and tests/e2e/test_image.sh: podman with
#                         runc, mmdebstrap for the local base image, iproute2 for
#                         the test's private network.  No uidmap, slirp4netns or
#                         fuse-overlayfs: podman runs as root here, with host
#                         networking and kernel overlayfs.
set -euo pipefail

# install_missing LABEL PACKAGE...: apt-get installs the packages not installed yet.
install_missing() {
  local label=$1 p start missing=()
  shift
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "$label: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "$label: need root to apt-get install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  start=$SECONDS
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "$label: installed in $((SECONDS - start)) s"
}

case ${1:-test} in
test)
  # The real kubectl: keep the machine's own if it has one, else Debian's.
  kubectl_pkg=()
  command -v kubectl >/dev/null 2>&1 || kubectl_pkg=(kubernetes-client)
  install_missing deps "${kubectl_pkg[@]}" \
    build-essential pkg-config \
    libh2o-evloop-dev libjansson-dev libcurl4-openssl-dev libssl-dev libyaml-dev \
    libcmocka-dev golang-go \
    clang libclang-rt-14-dev valgrind \
    openssl curl jq ca-certificates python3 python3-yaml \
    prometheus nghttp2-client wrk ;;
image)
  install_missing image-deps podman runc mmdebstrap iproute2 ;;
*)
  echo "usage: tests/deps.sh [test|image]" >&2
  exit 2 ;;
esac
