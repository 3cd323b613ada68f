#!/usr/bin/env bash
# Installs the Debian packages that `make image` and tests/e2e/test_image.sh
# need: podman with runc, mmdebstrap for the local base image, iproute2 for the
# test's private network.  Idempotent and quiet when everything is there;
# needs root (apt-get) otherwise.  No uidmap, slirp4netns or fuse-overlayfs:
# podman runs as root here, with host networking and kernel overlayfs.
set -euo pipefail

pkgs=(podman runc mmdebstrap iproute2)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "image-deps: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "image-deps: need root to apt-get install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  start=$SECONDS
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "image-deps: installed in $((SECONDS - start)) s"
fi
