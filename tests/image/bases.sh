#!/usr/bin/env bash
# Makes the base image the Dockerfile starts from, localhost/debian:bookworm,
# from the machine's own Debian archive when no registry can be reached:
#   tests/image/bases.sh
# It is made only when `podman image exists` says it is missing, so a second
# run costs nothing.  It is what debian:bookworm is (mmdebstrap minbase,
# merged /usr) with the usual container apt settings, and it carries this
# machine's apt sources: never push it anywhere, never save it to a file that
# could be committed.
#
# podman resolves the Dockerfile's short name `debian:bookworm` to
# localhost/debian:bookworm first, so with --pull=never the Dockerfile's FROM
# lines stay as they are everywhere else.  No debian:bookworm-slim: the
# Dockerfile's runtime stage starts from scratch.
set -euo pipefail
SOURCES=${DEBIAN_SOURCES:-/etc/apt/sources.list.d/debian.sources}

if podman image exists localhost/debian:bookworm; then
  echo "bases: localhost/debian:bookworm exists"
  exit 0
fi
[ -r "$SOURCES" ] || { echo "bases: no apt sources at $SOURCES (set DEBIAN_SOURCES)" >&2; exit 1; }

start=$SECONDS
echo "bases: making localhost/debian:bookworm with mmdebstrap (minbase) from $SOURCES"
# The apt options end up in the image's /etc/apt/apt.conf.d/99mmdebstrap:
#  - the archive may be a dated snapshot: do not refuse its old Release files;
#  - no translations, no package caches, and every .deb removed after use, as
#    in Debian's own container images (else ~80 MB of apt caches stay behind).
clean='rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true'
log=$(mktemp "${TMPDIR:-/tmp}/bases.XXXXXX")
trap 'rm -f "$log"' EXIT
mmdebstrap --variant=minbase --quiet \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --aptopt='Acquire::Check-Valid-Until "false"' \
  --aptopt='Acquire::Check-Date "false"' \
  --aptopt='Acquire::Languages "none"' \
  --aptopt='Dir::Cache::pkgcache ""' \
  --aptopt='Dir::Cache::srcpkgcache ""' \
  --aptopt="DPkg::Post-Invoke { \"$clean\"; }" \
  --aptopt="APT::Update::Post-Invoke { \"$clean\"; }" \
  --customize-hook='rm -rf "$1"/var/cache/apt/*.bin "$1"/var/lib/apt/lists/*' \
  bookworm - "$SOURCES" 2>"$log" |
  podman import --change 'CMD ["bash"]' - localhost/debian:bookworm >/dev/null ||
  { echo "bases: mmdebstrap or podman import failed:" >&2; tail -n 30 "$log" >&2; exit 1; }
echo "bases: localhost/debian:bookworm made in $((SECONDS - start)) s ($(podman image inspect --format '{{.Size}}' localhost/debian:bookworm) bytes)"
