#!/usr/bin/env bash
# Makes the image's root filesystem from Debian packages, inside the
# Dockerfile's `rootfs` stage:
#   rootfs.sh ROOT PACKAGE...
# ROOT receives the files of the PACKAGEs and of every package they depend on
# (Depends and Pre-Depends, recursively), extracted with dpkg-deb as they are
# in the archive, and nothing else from Debian but the CA bundle.  No
# maintainer script runs and no Essential package comes along unless a
# library really depends on it, so the root has no shell, no coreutils, no
# apt, no dpkg and no perl.
#
# What a package install would have added and the program needs is made here:
#   - /etc/ssl/certs/ca-certificates.crt, the bundle that libcurl reads by
#     default, as update-ca-certificates made it in this stage (the
#     ca-certificates package itself needs openssl and debconf, hence perl);
#   - /etc/passwd and /etc/group with root and leasefence (65532);
#   - /etc/nsswitch.conf (files, then DNS) and the dynamic linker's cache;
#   - /tmp, and merged /usr (/lib -> usr/lib, ...) as in Debian 12.
# Each package's control fields go to /var/lib/dpkg/status.d/NAME, where
# image scanners look for the packages of an image without a dpkg database.
# Documentation (bar the copyright files), manual pages and lintian overrides
# are left out.
set -euo pipefail
root=$1; shift
[ $# -gt 0 ] || { echo "usage: rootfs.sh ROOT PACKAGE..." >&2; exit 2; }

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "$@" ca-certificates >/dev/null

installed() { dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qx installed; }

# The installed package that satisfies one dependency ("a (>= 1) | b:any | c"):
# the first alternative installed by its own name, else one that Provides it.
satisfier() {
  local alt name p
  IFS='|' read -ra alts <<<"$1"
  for alt in "${alts[@]}"; do
    name=$(sed -E 's/\(.*\)//; s/\[.*\]//; s/:[a-z0-9]+//; s/[[:space:]]//g' <<<"$alt")
    if installed "$name"; then echo "$name"; return 0; fi
    p=$(dpkg-query -W -f='${db:Status-Status} ${Package} ${Provides}\n' |
      awk -v n="$name" '$1 == "installed" { for (i = 3; i <= NF; i++) { f = $i; sub(/,$/, "", f); if (f == n) { print $2; exit } } }')
    if [ -n "$p" ]; then echo "$p"; return 0; fi
  done
  echo "rootfs: nothing installed satisfies '$1'" >&2
  return 1
}

# The dependency closure of the requested packages.
declare -A seen=()
queue=("$@")
while [ ${#queue[@]} -gt 0 ]; do
  pkg=${queue[0]}; queue=("${queue[@]:1}")
  [ -z "${seen[$pkg]:-}" ] || continue
  installed "$pkg" || { echo "rootfs: $pkg is not installed" >&2; exit 1; }
  seen[$pkg]=1
  deps=$(dpkg-query -W -f='${Pre-Depends},${Depends}' "$pkg")
  IFS=',' read -ra items <<<"$deps"
  for item in "${items[@]}"; do
    [ -n "${item//[[:space:]]/}" ] || continue
    queue+=("$(satisfier "$item")")
  done
done
mapfile -t pkgs < <(printf '%s\n' "${!seen[@]}" | sort)
echo "rootfs: ${#pkgs[@]} packages: ${pkgs[*]}"

# Fetch exactly the installed versions and extract them over a merged /usr.
mkdir -p "$root" /tmp/debs
for d in bin sbin lib lib64; do mkdir -p "$root/usr/$d"; ln -s "usr/$d" "$root/$d"; done
chown _apt /tmp/debs
(cd /tmp/debs && apt-get download -qq $(for p in "${pkgs[@]}"; do dpkg-query -W -f='${Package}:${Architecture}=${Version} ' "$p"; done))
mkdir -p "$root/var/lib/dpkg/status.d"
for p in "${pkgs[@]}"; do
  deb=$(ls /tmp/debs/"${p}"_*.deb)
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$root" --keep-directory-symlink
  dpkg-deb --field "$deb" >"$root/var/lib/dpkg/status.d/$p"
done
rm -rf /tmp/debs

find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf "$root/usr/share/man" "$root/usr/share/info" "$root/usr/share/lintian"

install -d -m 0755 "$root/etc/ssl/certs" "$root/usr/share/doc/ca-certificates" "$root/usr/local/bin"
install -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
install -m 0644 /usr/share/doc/ca-certificates/copyright "$root/usr/share/doc/ca-certificates/copyright"
dpkg-query -s ca-certificates | grep -v '^Status:' >"$root/var/lib/dpkg/status.d/ca-certificates"

printf '%s\n' 'root:x:0:0:root:/root:/usr/sbin/nologin' \
  'leasefence:x:65532:65532:leasefence:/nonexistent:/usr/sbin/nologin' >"$root/etc/passwd"
printf '%s\n' 'root:x:0:' 'leasefence:x:65532:' >"$root/etc/group"
printf '%s\n' 'passwd: files' 'group: files' 'hosts: files dns' >"$root/etc/nsswitch.conf"
echo 'include /etc/ld.so.conf.d/*.conf' >"$root/etc/ld.so.conf"
ldconfig -r "$root"
install -d -m 1777 "$root/tmp"

for bad in bin/sh usr/bin/sh usr/bin/bash usr/bin/dash usr/bin/perl usr/bin/apt usr/bin/dpkg; do
  [ ! -e "$root/$bad" ] || { echo "rootfs: $bad came along" >&2; exit 1; }
done
echo "rootfs: $(du -sk "$root" | cut -f1) KiB"
