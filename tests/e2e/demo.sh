#!/usr/bin/env bash
# make demo: leasefence at work on the local API server (see README.md, "Demo").
# Starts kube-sim, `leasefence serve` registered as a validating webhook and three
# replicas (a `leasefence elect` candidate plus a work loop that writes a ConfigMap
# about once a second), shows every Lease change and every write live, stops the
# leader, pauses the next one like a long GC pause, prints a summary and leaves
# nothing running.  About 30 s.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/e2e_lib.sh"
# shellcheck disable=SC2034
LEASE_DURATION=3s RENEW_DEADLINE=2s RETRY_PERIOD=0.5s  # read by start_candidate (e2e_lib.sh)
PODS=(replica-a replica-b replica-c)
E2E_NO_FENCEWATCH=1
COLOR=(); B='' N=''
if [ -t 1 ]; then COLOR=(--color); B=$'\033[1m' N=$'\033[0m'; fi
say() { printf '\n%s== %s ==%s\n' "$B" "$*" "$N"; }
for f in "$BUILD/kube-sim" "$LEASEFENCE"; do
  [ -x "$f" ] || { echo "demo: $f is missing; run 'make demo' (it builds first)"; exit 1; }
done

cat <<EOF
${B}leasefence demo${N}
Three replicas of a controller (replica-a, -b, -c) elect a leader through one Lease and ALL keep
writing a ConfigMap; leasefence, an admission webhook, lets a write through only if its replica holds
the Lease right now.  We will stop the leader, then freeze the next one longer than its lease (a GC pause).
EOF
e2e_world "${PODS[@]}" || { echo "demo: could not start the local API server and the webhook"; exit 1; }
say "the replicas elect a leader; every replica writes; only the leader's writes are allowed"
T0=$("$PY" -c 'import time; print(time.time())')
"$PY" -u "$E2E_DIR/demo_view.py" follow --ctl "127.0.0.1:$SIM_CTL" --t0 "$T0" "${COLOR[@]}" &
VIEW_PID=$!; PIDS+=("$VIEW_PID")
sleep 0.3   # the view prints its column header first
for p in "${PODS[@]}"; do
  start_candidate "$p"
  start_writer "$p" --interval-ms 1100 --jitter 0.25 --mix cm:3,tag:1 --duration 120
done
L=$(wait_leader 15 "${PODS[@]}") || { echo "demo: no leader was elected"; exit 1; }
sleep 7

say "stopping the leader's elector ($L, SIGTERM): it releases the Lease; its work loop keeps writing"
STOP_T=$("$PY" -c 'import time; print(time.time())')
stop_pid "${CAND_PID[$L]}" TERM
OTHERS=(); for p in "${PODS[@]}"; do [ "$p" = "$L" ] || OTHERS+=("$p"); done
L2=$(wait_leader 15 "${OTHERS[@]}") || { echo "demo: no new leader"; exit 1; }
sleep 6
stop_pid "${WRITER_PID[$L]}" TERM

say "freezing the new leader $L2 for 5 s (SIGSTOP, like a GC pause) - longer than its 3 s lease"
PAUSE_T=$("$PY" -c 'import time; print(time.time())')
kill -STOP "${CAND_PID[$L2]}" "${WRITER_PID[$L2]}"
sleep 5
say "resuming $L2: it still believes it leads and writes at once - the fence denies it"
RESUME_T=$("$PY" -c 'import time; print(time.time())')
kill -CONT "${CAND_PID[$L2]}" "${WRITER_PID[$L2]}"
sleep 5

for p in "${PODS[@]}"; do stop_pid "${WRITER_PID[$p]}" TERM; done
sleep 0.3
stop_pid "$VIEW_PID" TERM
echo
EL=(); for f in "$TMP"/elect-*.log; do p=${f##*/elect-}; EL+=(--elector-log "${p%.*.log}=$f"); done
"$PY" "$E2E_DIR/demo_view.py" summary --ctl "127.0.0.1:$SIM_CTL" --t0 "$T0" "${COLOR[@]}" \
  --stopped "$L" --stop-time "$STOP_T" --paused "$L2" --pause-time "$PAUSE_T" --resume-time "$RESUME_T" "${EL[@]}"
rc=$?
echo
echo "Everything this demo started is being stopped now (by PID)."
exit $rc
