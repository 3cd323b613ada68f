# check_hardening LABEL FILE: checks an ELF executable for the hardening the
# Makefile asks for, with readelf (binutils), one ok/not ok line per property
# (tests/lib.sh's ok/fail), like checksec:
#   PIE         ELF type DYN and DT_FLAGS_1 has PIE (a shared library is DYN too)
#   full RELRO  a GNU_RELRO segment, and BIND_NOW (DT_FLAGS BIND_NOW or DT_FLAGS_1 NOW)
#   NX stack    GNU_STACK is not executable
#   stack protector   imports __stack_chk_fail
#   FORTIFY     imports glibc's checked functions (__*_chk other than __stack_chk_fail)
# The symbols are dynamic imports, so a stripped binary is checked the same way.
# Source it after tests/lib.sh.
check_hardening() {
  local label=$1 f=$2 hdr dyn seg syms fortified
  if ! hdr=$(readelf -hW "$f" 2>&1); then fail "$label: readelf -h: $hdr"; return; fi
  dyn=$(readelf -dW "$f"); seg=$(readelf -lW "$f")
  syms=$(readelf --dyn-syms -W "$f" | awk '$7 == "UND" {sub(/@.*/, "", $8); print $8}' | sort -u)
  echo "# $label: $(grep -E '^ *Type:' <<<"$hdr" | sed 's/^ *Type: *//')"
  echo "# $label: $(grep -E '\((FLAGS|FLAGS_1|BIND_NOW)\)' <<<"$dyn" | sed 's/^ *0x[0-9a-f]* *//' | tr -s ' ' | paste -sd';' -)"
  echo "# $label: $(grep -E 'GNU_RELRO|GNU_STACK' <<<"$seg" | awk '{print $1, $(NF-1)}' | paste -sd';' -)"
  if grep -qE '^ *Type: *DYN' <<<"$hdr" && grep -E '\(FLAGS_1\)' <<<"$dyn" | grep -qw PIE; then
    ok "$label: PIE (ET_DYN, DT_FLAGS_1 PIE)"
  else fail "$label: PIE (ET_DYN, DT_FLAGS_1 PIE)"; fi
  if grep -q GNU_RELRO <<<"$seg" && { grep -qE '\(BIND_NOW\)' <<<"$dyn" || grep -E '\(FLAGS\)' <<<"$dyn" | grep -qw BIND_NOW ||
    grep -E '\(FLAGS_1\)' <<<"$dyn" | grep -qw NOW; }; then
    ok "$label: full RELRO (GNU_RELRO, BIND_NOW)"
  else fail "$label: full RELRO (GNU_RELRO, BIND_NOW)"; fi
  if grep -E '^ *GNU_STACK' <<<"$seg" | awk '{exit ($(NF-1) ~ /E/)}'; then ok "$label: stack not executable"
  else fail "$label: stack not executable"; fi
  if grep -qx __stack_chk_fail <<<"$syms"; then ok "$label: stack protector (__stack_chk_fail)"
  else fail "$label: stack protector (__stack_chk_fail)"; fi
  fortified=$(grep -E '^__.*_chk$' <<<"$syms" | grep -vx __stack_chk_fail | paste -sd' ' -)
  if [ -n "$fortified" ]; then ok "$label: FORTIFY_SOURCE ($fortified)"
  else fail "$label: FORTIFY_SOURCE (no __*_chk import)"; fi
}
