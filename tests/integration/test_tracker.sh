#!/usr/bin/env bash
# The tracker against kube-sim, through tests/integration/tracker_probe.c (built
# by make against the elector library): sync, changes, watch restarts, 410 Gone
# relists, deletion, API errors.
. "$(dirname "$0")/../lib.sh"
LF=${LEASEFENCE_ELECT:-$LEASEFENCE}
TW=1; [ -z "${LEASEFENCE_WRAPPER:-}" ] || TW=4   # make valgrind: the candidate is much slower

# make test-build links it against the elector library alone, with the warning flags (Makefile).
PROBE=$BUILD/tests/tracker_probe
check "the tracker probe is built (make test-build)" test -x "$PROBE"

start_kube_sim --quiet --bookmark-interval 1s || { fail "kube-sim starts"; done_testing; exit 1; }
ADMIN_TOKEN=$(cat "$SIM_DIR/token")
LEASES=https://127.0.0.1:$SIM_PORT/apis/coordination.k8s.io/v1/namespaces/default/leases
api() { curl -s --cacert "$SIM_DIR/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" "$@"; }
OUT=$TMP/probe.out
# snap LEASE FIELD: the latest value the probe printed
snap() { grep -F "\"lease\":\"default/$1\"" "$OUT" | tail -1 | jq -r ".$2"; }
snap_is() { [ "$(snap "$1" "$2")" = "$3" ]; }

PROBE_SECONDS=60 bg "$OUT" "$PROBE" default/t1 default/t2
PROBE_PID=$LAST_PID
check "all synced" wait_for $((5 * TW)) grep -q all_synced "$OUT"
check "absent lease: known" snap_is t1 known true
check "absent lease: exists false" snap_is t1 exists false
check "absent lease: watching" wait_for $((3 * TW)) snap_is t1 watching true

bg "$TMP/a.log" $LF elect --lease default/t2 --identity a --lease-duration 2s --renew-deadline 1.5s --retry-period 400ms
CAND=$LAST_PID
check "a created lease is seen with its holder" wait_for $((5 * TW)) snap_is t2 holder a
uid=$(api "$LEASES/t2" | jq -r .metadata.uid)
expect_eq "the epoch is uid/transitions" "$uid/0" "$(snap t2 epoch)"
expect_eq "duration" 2 "$(snap t2 duration)"
c1=$(snap t2 changes)
rv1=$(snap t1 rv)
changes_past() { [ "$(snap t2 changes)" -gt "$1" ]; }
check "renewals are changes of the record" wait_for $((3 * TW)) changes_past "$c1"
check "bookmarks move a quiet lease's resourceVersion" wait_for $((3 * TW)) bash -c "[ \$(grep -F '\"lease\":\"default/t1\"' '$OUT' | tail -1 | jq -r .rv) -gt $rv1 ]"
expect_eq "bookmarks: no relist, no restart" "0 0" "$(snap t1 relists) $(snap t1 restarts)"

sim_ctl /faults/close-watches >/dev/null
check "closed watches are re-established" wait_for $((5 * TW)) bash -c "[ \$(grep -F '\"lease\":\"default/t1\"' '$OUT' | tail -1 | jq -r .restarts) -ge 1 ]"
check "and watch again" wait_for $((5 * TW)) snap_is t1 watching true
rv=$(api "$LEASES/t2" | jq -r .metadata.resourceVersion)
check "after the restart, renewals keep arriving (no event lost)" wait_for $((3 * TW)) bash -c "[ \$(grep -F '\"lease\":\"default/t2\"' '$OUT' | tail -1 | jq -r .rv) -gt $rv ]"

# 410 Gone: t1 watches from an old resourceVersion; compaction forces a relist.  A write first, so that
# the compaction point is past t1's resourceVersion (in another namespace: the tracker watches default's
# Leases, and an event there would move its resourceVersion past it); a bookmark (they carry the current
# resourceVersion) that comes between that write and the closed watch makes the resumed watch valid, and
# no 410 comes: then again.
relisted() { [ "$(snap t1 relists)" -ge 1 ]; }
for i in 1 2 3; do
  api -X POST -H 'Content-Type: application/json' "${LEASES/default/kube-public}" -d '{"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
    "metadata":{"name":"bump'$i'","namespace":"kube-public"},"spec":{}}' >/dev/null
  sim_ctl /faults/compact >/dev/null
  sim_ctl /faults/close-watches >/dev/null
  wait_for $((3 * TW)) relisted && break
done
check "410 during a watch: relisted" relisted
check "410: still known after the relist" wait_for $((3 * TW)) snap_is t1 known true
now=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
api -X POST -H 'Content-Type: application/json' "$LEASES" -d '{"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
  "metadata":{"name":"t1","namespace":"default"},
  "spec":{"holderIdentity":"go-replica","leaseDurationSeconds":15,"acquireTime":"'"$now"'","renewTime":"'"$now"'","leaseTransitions":4}}' >/dev/null
check "after the relist, a new lease is seen (watch resumed from the list)" wait_for $((3 * TW)) snap_is t1 holder go-replica
expect_eq "a client-go style lease: transitions" 4 "$(snap t1 transitions)"

# An event far larger than curl's receive buffer (2 KiB per watch): delivered in pieces, over HTTP/2
# with every other watch multiplexed on the same connection.
/usr/bin/python3 -c 'import json, sys
print(json.dumps({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
  "metadata": {"name": "t1", "namespace": "default", "annotations": {"example.com/big": "x" * 300000}},
  "spec": {"holderIdentity": "big-replica", "leaseDurationSeconds": 15, "acquireTime": sys.argv[1],
           "renewTime": sys.argv[1], "leaseTransitions": 5}}))' "$now" >"$TMP/big-lease.json"
api -X PUT -H 'Content-Type: application/json' "$LEASES/t1" --data-binary @"$TMP/big-lease.json" >/dev/null
check "a 300 KB Lease event is seen whole" wait_for $((3 * TW)) snap_is t1 holder big-replica
expect_eq "a 300 KB Lease event: transitions" 5 "$(snap t1 transitions)"
rv=$(api "$LEASES/t2" | jq -r .metadata.resourceVersion)
check "after the 300 KB event, the other watch still streams" wait_for $((3 * TW)) bash -c "[ \$(grep -F '\"lease\":\"default/t2\"' '$OUT' | tail -1 | jq -r .rv) -gt $rv ]"

# API errors: watches fail for a while, then recover with backoff (t1 and t2 share the namespace's list and
# watch, so every failure is theirs: 3 of them back off up to ~2 s).
r0=$(snap t1 restarts)
sim_ctl "/faults/fail?count=3&code=500&verb=GET&path=/apis/coordination.k8s.io/v1/namespaces/default/leases" >/dev/null
sim_ctl /faults/close-watches >/dev/null
check "after API errors the watch comes back" wait_for $((8 * TW)) bash -c "l=\$(grep -F '\"lease\":\"default/t1\"' '$OUT' | tail -1); [ \$(jq -r .watching <<<\"\$l\") = true ] && [ \$(jq -r .restarts <<<\"\$l\") -ge $((r0 + 2)) ]"
sim_ctl /faults/reset >/dev/null
api -X DELETE "$LEASES/t1" >/dev/null
check "a deleted lease: exists false" wait_for $((3 * TW)) snap_is t1 exists false
check "a deleted lease: known" snap_is t1 known true
expect_eq "a deleted lease: no holder" "" "$(snap t1 holder)"

# The API errors above hit t2's watch too; it may still be backing off.
check "t2 watches again after the API errors" wait_for $((8 * TW)) snap_is t2 watching true
kill -TERM "$CAND"; wait "$CAND"
check "a released lease: holder empty" wait_for $((3 * TW)) snap_is t2 holder ""
check "the probe is still running (no crash)" kill -0 "$PROBE_PID"

# One list and one watch per namespace, however many Leases are tracked in it (kube-sim's /stats counts the
# watches); Leases tracked and untracked while their namespace is watched (PROBE_COMMANDS).
kill "$PROBE_PID"; wait "$PROBE_PID" 2>/dev/null
lease_watches() { curl -s "http://127.0.0.1:$SIM_CTL/stats" | jq '.watchesByResource["leases.coordination.k8s.io"] // 0'; }
watches_are() { [ "$(lease_watches)" = "$1" ]; }
put_lease() {  # put_lease NS NAME HOLDER: creates or replaces it
  local url=${LEASES/default/$1}
  api -X DELETE "$url/$2" >/dev/null
  api -X POST -H 'Content-Type: application/json' "$url" -d '{"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
    "metadata":{"name":"'$2'","namespace":"'$1'"},"spec":{"holderIdentity":"'$3'","leaseDurationSeconds":60}}' >/dev/null
}
check "the first probe's watch is gone" wait_for $((5 * TW)) watches_are 0
for l in d1 d2 d4 noise; do put_lease default $l "holder-$l"; done
put_lease kube-public p1 holder-p1
DYN=$TMP/dyn.out CMDS=$TMP/commands
: >"$CMDS"
dsnap() { grep -F "\"lease\":\"$1\"" "$DYN" | tail -1 | jq -r ".$2"; }
dsnap_is() { [ "$(dsnap "$1" "$2")" = "$3" ]; }
PROBE_COMMANDS=$CMDS PROBE_SECONDS=60 bg "$DYN" "$PROBE" default/d1 default/d2 default/d3 kube-public/p1
DYN_PID=$LAST_PID
check "namespaces: synced" wait_for $((5 * TW)) grep -q all_synced "$DYN"
check "namespaces: 4 Leases in 2 namespaces, 2 Lease watches on the API server" wait_for $((5 * TW)) watches_are 2
check "namespaces: every Lease watched" wait_for $((5 * TW)) bash -c "[ \$(grep '\"watching\":true' '$DYN' | jq -r .lease | sort -u | wc -l) -eq 4 ]"
echo "track default/d4" >>"$CMDS"
check "a Lease tracked in a watched namespace: seen as it was before (the namespace listed again)" \
  wait_for $((5 * TW)) dsnap_is default/d4 holder holder-d4
check "and watched" wait_for $((5 * TW)) dsnap_is default/d4 watching true
put_lease default d4 changed-d4
check "and its changes arrive" wait_for $((5 * TW)) dsnap_is default/d4 holder changed-d4
expect_eq "still 2 Lease watches" 2 "$(lease_watches)"
echo "untrack default/d2" >>"$CMDS"
check "a Lease untracked in a watched namespace says so" wait_for $((5 * TW)) dsnap_is default/d2 tracked false
c_d1=$(dsnap default/d1 changes) n_d1=$(grep -cF '"lease":"default/d1"' "$DYN") n_d2=$(grep -cF '"lease":"default/d2"' "$DYN")
r_d1="$(dsnap default/d1 relists) $(dsnap default/d1 restarts)"
for i in 1 2 3 4 5; do  # writes of Leases nobody tracks (any more) in the watched namespace
  put_lease default noise "noise-$i"; put_lease default d2 "d2-$i"
done
check "an untracked Lease's events reach the watch (noise-5 precedes this change of d4)" \
  bash -c "$(declare -f put_lease api); LEASES='$LEASES' ADMIN_TOKEN='$ADMIN_TOKEN' SIM_DIR='$SIM_DIR'; put_lease default d4 after-noise"
check "  ... the tracked Lease's change after them arrives" wait_for $((5 * TW)) dsnap_is default/d4 holder after-noise
expect_eq "untracked Leases' events leave a tracked Lease's snapshot alone (no new d1 line, same changes)" \
  "$n_d1 $c_d1" "$(grep -cF '"lease":"default/d1"' "$DYN") $(dsnap default/d1 changes)"
expect_eq "an untracked Lease's own events publish nothing for it" "$n_d2" "$(grep -cF '"lease":"default/d2"' "$DYN")"
expect_eq "and no relist or watch restart came of them" "$r_d1" "$(dsnap default/d1 relists) $(dsnap default/d1 restarts)"
echo "untrack kube-public/p1" >>"$CMDS"
check "a namespace's last Lease untracked: its watch ends (1 Lease watch)" wait_for $((5 * TW)) watches_are 1
echo "track kube-public/p1" >>"$CMDS"
check "tracked again: its namespace is watched again (2)" wait_for $((5 * TW)) watches_are 2
p1_watched() { dsnap_is kube-public/p1 tracked true && dsnap_is kube-public/p1 known true && dsnap_is kube-public/p1 watching true; }
check "  ... and the Lease known and watched" wait_for $((5 * TW)) p1_watched
kill "$DYN_PID"; wait "$DYN_PID" 2>/dev/null

# Scale: 1,000 Leases on one tracker thread over a few HTTP/2 connections, against a kube-sim with
# kube-apiserver's bookmark interval (1 min): once synced, nothing happens for 30 s (the shortest
# watch timeout), so the tracker thread must sleep.
kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null
start_kube_sim --quiet || { fail "kube-sim restarts"; done_testing; exit 1; }
BIG=$TMP/big.out
args=(); for i in $(seq 1000); do args+=("default/s$i"); done
t0=$(date +%s%N)
PROBE_SECONDS=20 bg "$BIG" "$PROBE" "${args[@]}"
BIG_PID=$LAST_PID
check "1,000 leases: all synced within 10 s" wait_for $((10 * TW)) grep -q all_synced "$BIG"
echo "# 1,000 leases synced in $((($(date +%s%N) - t0) / 1000000)) ms"
check "1,000 leases: all watching" wait_for $((10 * TW)) bash -c "[ \$(grep '\"watching\":true' '$BIG' | jq -r .lease | sort -u | wc -l) -eq 1000 ]"
threads=$(ls "/proc/$BIG_PID/task" | wc -l)
socks=$(ls -l "/proc/$BIG_PID/fd" | grep -c socket)
echo "# 1,000 leases: $threads threads, $socks sockets"
check "1,000 leases: two threads (main + tracker), not one per lease" [ "$threads" -le 3 ]
check "1,000 leases: at most 16 connections (+ curl's wakeup pair)" [ "$socks" -le 18 ]
expect_eq "1,000 leases in one namespace: one Lease watch on the API server" 1 "$(lease_watches)"
# Wakeups of the tracker thread while 1,000 watches are quiet: one silence sweep every 5 s.  A timer
# per watch (curl's low-speed check re-arms one every second) or a loop over every transfer on each
# wakeup shows up here as hundreds.
TASK=$(grep -lx lf-tracker /proc/"$BIG_PID"/task/*/comm | head -1); TASK=${TASK%/comm}
wakeups() { awk '/^voluntary_ctxt_switches/ {print $2}' "$TASK/status"; }
ticks() { awk '{print $14 + $15}' "$TASK/stat"; }
if [ -n "$TASK" ]; then
  w0=$(wakeups) c0=$(ticks); sleep 5; w1=$(wakeups) c1=$(ticks)   # the interval measured, not a wait
  echo "# 1,000 quiet leases: the tracker thread woke $((w1 - w0)) times in 5 s and used $((c1 - c0)) clock ticks"
  check "1,000 quiet leases: the tracker thread sleeps (at most 10 wakeups in 5 s)" [ $((w1 - w0)) -le 10 ]
else
  fail "1,000 leases: a thread named lf-tracker"
fi
kill "$BIG_PID"

done_testing
