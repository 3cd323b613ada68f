#!/usr/bin/env bash
# tests/e2e/soak.sh [--duration SECONDS] [--candidates N] [--seed N] [--consistency watch|strict]
#
# Chaos soak: N `leasefence elect` candidates, each with a work loop that keeps
# writing with its own token (TokenReviews, ConfigMaps, ConfigMaps tagged with its
# epoch, and TokenReviews tagged with an older epoch of its own), while the fence is
# hit by: GC pauses (SIGSTOP longer than the lease, then SIGCONT), kills and
# restarts, graceful stops, forced transitions (to a ghost and to another replica),
# Lease deletions, API latency, watch events held back, API errors, kube-sim stalls, dropped watches and
# 410 Gone.  Then tests/e2e/oracle.py judges kube-sim's ordered log: no write
# admitted outside the propagation window, no stale epoch admitted.  With
# --consistency strict (the fence reads the Lease afresh before it admits), also:
# no write admitted whose admission call was sent after the change that made it
# stale was committed.  With watch (the default) that count is the window, reported.
# Bounded: at most DURATION seconds of chaos and DURATION actions.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/e2e_lib.sh"

DURATION=300 NCAND=4 SEED=$((RANDOM * 32768 + RANDOM)) CONSISTENCY=watch
while [ $# -gt 0 ]; do
  case $1 in
  --duration) DURATION=$2; shift 2 ;;
  --candidates) NCAND=$2; shift 2 ;;
  --seed) SEED=$2; shift 2 ;;
  --consistency) CONSISTENCY=$2; shift 2 ;;
  *) echo "usage: $0 [--duration SECONDS] [--candidates N] [--seed N] [--consistency watch|strict]" >&2; exit 2 ;;
  esac
done
RANDOM=$SEED
PODS=(); for _ in $(seq "$NCAND"); do PODS+=("$(random_pod)"); done
case $CONSISTENCY in watch | strict) ;; *) echo "soak: --consistency is watch or strict" >&2; exit 2 ;; esac
echo "# soak: seed $SEED, ${DURATION}s, $NCAND candidates, $CONSISTENCY fence: ${PODS[*]}"
E2E_FENCE_JSON='{"fences":[{"lease":"'$LEASE_REF'",
  "writers":{"users":["system:serviceaccount:demo:controller"],"groups":[]},
  "identity":"podName","mode":"enforce","epochAnnotation":"leasefence.io/epoch","consistency":"'$CONSISTENCY'"}]}'

e2e_world "${PODS[@]}" || { fail "world starts"; done_testing; exit 1; }
ok "world starts: kube-sim, leasefence serve registered as a webhook"
# kube-sim keeps its last 200000 log entries: collect the log as the soak goes.
bg "$TMP/tail-log.out" "$PY" "$E2E_DIR/e2e.py" tail-log "127.0.0.1:$SIM_CTL" "$TMP/sim-log.jsonl"; TAIL_PID=$LAST_PID
WRITER_ARGS=(--interval-ms 40 --mix tr:2,cm:2,tag:4,old:2 --duration $((DURATION + 60)))
for p in "${PODS[@]}"; do start_candidate "$p"; start_writer "$p" "${WRITER_ARGS[@]}"; sleep 0.$((RANDOM % 10)); done
L=$(wait_leader 15 "${PODS[@]}") || { fail "a leader is elected"; done_testing; exit 1; }
ok "a leader is elected: $L"

restart_pod() {  # restart_pod POD: a new elector run and a new work loop (its status port changed)
  start_candidate "$1"; stop_pid "${WRITER_PID[$1]}" TERM; start_writer "$1" "${WRITER_ARGS[@]}"
}
pick() { local a=("$@"); echo "${a[$((RANDOM % ${#a[@]}))]}"; }
victim() {  # the holder most of the time, else anyone
  local h; h=$(lease_holder 2>/dev/null)
  if [ -n "$h" ] && [ -n "${CAND_PID[$h]:-}" ] && [ $((RANDOM % 10)) -lt 7 ]; then echo "$h"; else pick "${PODS[@]}"; fi
}
declare -A NACT=()
act() {
  NACT[$1]=$(( ${NACT[$1]:-0} + 1 )); echo "# $(date -u +%T.%N | cut -c1-12) $*"
  echo "$(date +%s.%N) $*" >>"$TMP/chaos.log"
}

END=$((SECONDS + DURATION)); n=0
while [ $SECONDS -lt $END ] && [ $n -lt "$DURATION" ]; do
  n=$((n + 1))
  sleep "$((RANDOM % 2)).$((RANDOM % 10))"
  r=$((RANDOM % 100))
  if [ $r -lt 18 ]; then        # GC pause: longer than the lease (2 s)
    v=$(victim); d=$((2500 + RANDOM % 1500))
    if [ $((RANDOM % 2)) -eq 0 ]; then
      act gc-pause "$v: elector and work loop stopped for ${d} ms"; kill -STOP "${CAND_PID[$v]}" "${WRITER_PID[$v]}"
      sleep "$((d / 1000)).$(printf %03d $((d % 1000)))"; kill -CONT "${CAND_PID[$v]}" "${WRITER_PID[$v]}"
    else
      act elector-pause "$v: elector stopped for ${d} ms, its work loop keeps writing"; kill -STOP "${CAND_PID[$v]}"
      sleep "$((d / 1000)).$(printf %03d $((d % 1000)))"; kill -CONT "${CAND_PID[$v]}"
    fi
  elif [ $r -lt 26 ]; then      # crash and restart
    v=$(victim); act kill "$v: SIGKILL, restarted"
    stop_pid "${CAND_PID[$v]}" KILL 2>/dev/null; sleep 0.$((RANDOM % 10)); restart_pod "$v"
  elif [ $r -lt 34 ]; then      # graceful stop (releases), the work loop keeps writing for a while
    v=$(victim); act stop "$v: SIGTERM, work loop continues, restarted later"
    stop_pid "${CAND_PID[$v]}" TERM; sleep 1.$((RANDOM % 10)); restart_pod "$v"
  elif [ $r -lt 42 ]; then
    act force-ghost "holder -> ghost"; e2e_py force "ghost-$RANDOM" >/dev/null
  elif [ $r -lt 50 ]; then
    v=$(pick "${PODS[@]}"); act force "holder -> $v"; e2e_py force "$v" >/dev/null
  elif [ $r -lt 60 ]; then
    act delete "Lease deleted"; e2e_py delete-lease
  elif [ $r -lt 64 ]; then
    ms=$((50 + RANDOM % 350)); act latency "${ms} ms on every API request for ~2 s"
    sim_ctl "/faults/latency?ms=$ms" >/dev/null; sleep 1.$((RANDOM % 10)); sim_ctl "/faults/latency?ms=0" >/dev/null
  elif [ $r -lt 68 ]; then      # a lagging watch cache: watch events late, every other request at once
    ms=$((200 + RANDOM % 1300)); act watch-delay "watch events delivered ${ms} ms late for ~2 s"
    sim_ctl "/faults/watch-delay?ms=$ms" >/dev/null; sleep 1.$((RANDOM % 10)); sim_ctl "/faults/watch-delay?ms=0" >/dev/null
  elif [ $r -lt 76 ]; then
    code=$(pick 500 503 429 504); path=$(pick "" /apis/coordination.k8s.io); cnt=$((3 + RANDOM % 8))
    act fail "$cnt x $code on ${path:-every path}"
    sim_ctl "/faults/fail?count=$cnt&code=$code&path=$path" >/dev/null
  elif [ $r -lt 84 ]; then
    act close-watches "watches dropped"; sim_ctl /faults/close-watches >/dev/null
  elif [ $r -lt 92 ]; then
    act compact "history compacted + watches dropped (410 Gone on resume)"
    sim_ctl /faults/compact >/dev/null; sim_ctl /faults/close-watches >/dev/null
  else
    ms=$((300 + RANDOM % 1200)); act stall "kube-sim stalls every request for ${ms} ms"
    sim_ctl "/faults/pause?ms=$ms" >/dev/null
  fi
done
sim_ctl /faults/reset >/dev/null
# Let the election settle so the last changes get decided writes after them.
wait_leader 15 "${PODS[@]}" >/dev/null
sleep 1
for p in "${PODS[@]}"; do stop_pid "${WRITER_PID[$p]}" TERM; done
for p in "${PODS[@]}"; do stop_pid "${CAND_PID[$p]}" TERM; done
echo "# chaos: $n actions: $(for a in "${!NACT[@]}"; do printf '%s=%s ' "$a" "${NACT[$a]}"; done)"

stop_pid "$TAIL_PID" TERM   # its last fetch completes the log
EL=(); for f in "$TMP"/elect-*.log; do p=${f##*/elect-}; EL+=(--elector-log "${p%.*.log}=$f"); done
"$PY" "$E2E_DIR/oracle.py" --log "$TMP/sim-log.jsonl" "${EL[@]}" --fence-metrics "$TMP/fence-metrics.jsonl" --chaos "$TMP/chaos.log" --json "$TMP/oracle.json" | sed 's/^/# /'
cat "$TMP"/journal-*.jsonl | "$PY" -c '
import json, sys, collections
c = collections.Counter()
for line in sys.stdin:
    r = json.loads(line); c[(r["pod"], r["res"])] += 1
for pod in sorted(set(p for p, _ in c)):
    print("# writes of %-28s allowed %6d  denied %6d  error %5d" % (pod, c[(pod, "allowed")], c[(pod, "denied")], c[(pod, "error")]))'
[ -n "${SOAK_SAVE:-}" ] && { mkdir -p "$SOAK_SAVE"; cp "$TMP"/sim-log.jsonl "$TMP"/oracle.json "$TMP"/*.log "$TMP"/journal-*.jsonl "$SOAK_SAVE"/ 2>/dev/null; echo "# artifacts in $SOAK_SAVE"; }

j() { "$PY" -c 'import json,sys; s=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"s": s}))' "$TMP/oracle.json" "$1"; }
CHANGES=$(j 's["holder_changes"]'); DECIDED=$(j 's["decisions"]'); ADMITTED=$(j 's["admitted"]')
STALE_EPOCH=$(j 's["reasons"].get("stale-epoch", 0)')
expect_eq "kube-sim's log is complete (from seq 1)" True "$(j 's["log_complete"]')"
check "the chaos changed the holder ($CHANGES changes)" test "$CHANGES" -ge 3
check "writes were decided ($DECIDED, admitted $ADMITTED)" test "$ADMITTED" -gt 0
expect_eq "writes admitted outside the propagation window" 0 "$(j 's["violations"]')"
expect_eq "stale epochs admitted after the fence saw a newer one" 0 "$(j 's["violations_tagged"]')"
expect_eq "writes admitted after the fence had observed the change (its /metrics clock)" 0 "$(j 's["admitted_after_fence_observed"]')"
check "the fence's observation of holder changes was measured ($(j 's["holder_changes_observed"]'))" test "$(j 's["holder_changes_observed"]')" -gt 0
check "writes with a stale epoch were tried and denied ($STALE_EPOCH)" test "$STALE_EPOCH" -gt 0
AFTER_SENT=$(j 's["admitted_after_sent"]')
check "admissions carry kube-sim's send time ($(j 's["admitted_with_sent_time"]') of $ADMITTED)" \
  test "$(j 's["admitted_with_sent_time"]')" -eq "$ADMITTED"
if [ "$CONSISTENCY" = strict ]; then
  expect_eq "strict fence: writes admitted whose call was sent after the change was committed" 0 "$AFTER_SENT"
  check "strict fence: writes were admitted on fresh reads ($(j 's["admitted"]'))" test "$ADMITTED" -gt 0
fi
echo "# $CONSISTENCY fence: admitted after the change that made them stale was committed, call sent after it: $AFTER_SENT, by $(j 's["admitted_after_sent_lag_ms"]')"
echo "# stale admissions inside the window: $(j 's["stale_admissions"]'), lag $(j 's["stale_lag_ms"]'); window $(j 's["window_ms"]')"
echo "# stale tags from a re-elected former leader: $(j 's["reelected_stale_tag_attempts"]') tried, $(j 's["reelected_stale_tag_admitted"]') admitted (an admission counts as a violation above unless inside the window)"
echo "# soak: seed $SEED"
done_testing
