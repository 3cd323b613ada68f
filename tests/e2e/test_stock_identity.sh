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
for p in "${PODS[@]}"; do CAND_ID[$p]=${p}_$(cat /proc/sys/kernel/random/uuid); done

e2e_world "${PODS[@]}" || { fail "world starts (kube-sim, leasefence serve, webhook)"; done_testing; exit 1; }
ok "world starts: kube-sim, leasefence serve registered as a webhook"
check "the fence names no holderMatch (the default is under test)" bash -c "! grep -q holderMatch '$TMP/fence.json'"

for p in "${PODS[@]}"; do start_candidate "$p"; done
P0=${PODS[0]}
check "the candidates run with client-go identities (${CAND_ID[$P0]})" \
  bash -c "tr '\\0' ' ' </proc/${CAND_PID[$P0]}/cmdline | grep -q -- '--identity ${CAND_ID[$P0]} '"

L=$(wait_leader 15 "${PODS[@]}") || { fail "a leader is elected"; tail -5 "$TMP"/elect-*.log; done_testing; exit 1; }
ok "a leader is elected: holder ${CAND_ID[$L]}"
wait_write 5 "$L" tr || fail "the holder's pod-token writes are admitted"
check "only the holder's writes pass ($L)" only_writer "$L" "${PODS[@]}"

# A forced transition to another candidate's identity: the fence follows at once.
for p in "${PODS[@]}"; do [ "$p" != "$L" ] && { NEXT=$p; break; }; done
e2e_py force "${CAND_ID[$NEXT]}" 5 >/dev/null || fail "force the holder to ${CAND_ID[$NEXT]}"
wait_write 5 "$NEXT" tr || fail "the forced holder's writes are admitted"
check "forced transition: only the new holder writes ($NEXT)" only_writer "$NEXT" "${PODS[@]}"
L=$(wait_leader 15 "${PODS[@]}") || fail "the candidates agree on a leader after the forced transition"
wait_write 5 "$L" tr || fail "the leader's writes are admitted"

# The leader is stopped (SIGTERM releases the Lease); its writer goes on writing.
stop_pid "${CAND_PID[$L]}" TERM
OTHERS=(); for p in "${PODS[@]}"; do [ "$p" = "$L" ] || OTHERS+=("$p"); done
check "the stopped leader can no longer write ($L)" only_writer "" "$L"
L2=$(wait_leader 15 "${OTHERS[@]}") || fail "another candidate takes over from the stopped leader"
wait_write 5 "$L2" tr || fail "the new leader's writes are admitted"
check "after the stop only the new leader writes ($L2)" only_writer "$L2" "${PODS[@]}"
start_candidate "$L"
L=$L2

# The leader freezes (a GC pause) for longer than its lease: the others take over; once it resumes,
# its writes are denied though its elector may still believe it leads.
kill -STOP "${CAND_PID[$L]}"
OTHERS=(); for p in "${PODS[@]}"; do [ "$p" = "$L" ] || OTHERS+=("$p"); done
L2=$(wait_leader 15 "${OTHERS[@]}") || fail "another candidate takes over from the frozen leader"
wait_write 5 "$L2" tr || fail "the new leader's writes are admitted"
kill -CONT "${CAND_PID[$L]}"
check "the resumed leader's writes are denied ($L)" only_writer "$L2" "${PODS[@]}"

done_testing
