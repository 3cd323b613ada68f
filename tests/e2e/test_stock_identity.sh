#!/usr/bin/env bash
# Stock controllers, no code change (issue 12).  client-go, controller-runtime, kube-scheduler and
# kube-controller-manager elect with the identity "<hostname>_<uuid>", and a pod's hostname is its
# name.  Here three candidates elect with exactly such identities while each replica writes with its
# own pod-bound token (userInfo pod name = the pod name, no identity flag on the writers' side).  The
# fence is the stock podName fence with no holderMatch setting: the default "hostname" must match
# "<pod>_<uuid>" to the writer's pod name, and only the holder's writes pass, through a forced
# transition, a stopped leader and a leader frozen longer than its lease.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/e2e_lib.sh"

PODS=(controller-7d9f8-a1b2c controller-7d9f8-a1b2 controller-7d9f8-x9y8z) # the second is a prefix of the first
declare -A ID=()
for p in "${PODS[@]}"; do ID[$p]=${p}_$(cat /proc/sys/kernel/random/uuid); done

e2e_world "${PODS[@]}" || { fail "world starts (kube-sim, leasefence serve, webhook)"; done_testing; exit 1; }
ok "world starts: kube-sim, leasefence serve registered as a webhook"
check "the fence names no holderMatch (the default is under test)" bash -c "! grep -q holderMatch '$TMP/fence.json'"

for p in "${PODS[@]}"; do start_candidate "$p" --identity "${ID[$p]}"; done
P0=${PODS[0]}
check "the candidates run with client-go identities (${ID[$P0]})" \
  bash -c "tr '\\0' ' ' </proc/${CAND_PID[$P0]}/cmdline | grep -q -- '--identity ${ID[$P0]} '"

# The pod whose "<pod>_<uuid>" holds the Lease, once its elector says it leads.
leader() {
  local secs=$1; shift
  local end=$((SECONDS + secs)) h p
  while [ $SECONDS -lt $end ]; do
    h=$(lease_holder 2>/dev/null)
    for p in "$@"; do
      if [ "$h" = "${ID[$p]}" ] && curl -sf -m 1 "${CAND_STATUS[$p]}" 2>/dev/null | grep -q '"isLeader": *true'; then
        echo "$p"; return 0
      fi
    done
    sleep 0.1
  done
  return 1
}

L=$(leader 15 "${PODS[@]}") || { fail "a leader is elected"; tail -5 "$TMP"/elect-*.log; done_testing; exit 1; }
ok "a leader is elected: holder ${ID[$L]}"
wait_write 5 "$L" tr || fail "the holder's pod-token writes are admitted"
check "only the holder's writes pass ($L)" only_writer "$L" "${PODS[@]}"

# A forced transition to another candidate's identity: the fence follows at once.
for p in "${PODS[@]}"; do [ "$p" != "$L" ] && { NEXT=$p; break; }; done
e2e_py force "${ID[$NEXT]}" 5 >/dev/null || fail "force the holder to ${ID[$NEXT]}"
wait_write 5 "$NEXT" tr || fail "the forced holder's writes are admitted"
check "forced transition: only the new holder writes ($NEXT)" only_writer "$NEXT" "${PODS[@]}"
L=$(leader 15 "${PODS[@]}") || fail "the candidates agree on a leader after the forced transition"
wait_write 5 "$L" tr || fail "the leader's writes are admitted"

# The leader is stopped (SIGTERM releases the Lease); its writer goes on writing.
stop_pid "${CAND_PID[$L]}" TERM
OTHERS=(); for p in "${PODS[@]}"; do [ "$p" = "$L" ] || OTHERS+=("$p"); done
check "the stopped leader can no longer write ($L)" only_writer "" "$L"
L2=$(leader 15 "${OTHERS[@]}") || fail "another candidate takes over from the stopped leader"
wait_write 5 "$L2" tr || fail "the new leader's writes are admitted"
check "after the stop only the new leader writes ($L2)" only_writer "$L2" "${PODS[@]}"
start_candidate "$L" --identity "${ID[$L]}"
L=$L2

# The leader freezes (a GC pause) for longer than its lease: the others take over; once it resumes,
# its writes are denied though its elector may still believe it leads.
kill -STOP "${CAND_PID[$L]}"
OTHERS=(); for p in "${PODS[@]}"; do [ "$p" = "$L" ] || OTHERS+=("$p"); done
L2=$(leader 15 "${OTHERS[@]}") || fail "another candidate takes over from the frozen leader"
wait_write 5 "$L2" tr || fail "the new leader's writes are admitted"
kill -CONT "${CAND_PID[$L]}"
check "the resumed leader's writes are denied ($L)" only_writer "$L2" "${PODS[@]}"

done_testing
