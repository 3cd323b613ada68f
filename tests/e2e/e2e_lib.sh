# shellcheck shell=bash disable=SC2034  # (variables are used by the scripts that source this file)
# Shared steps of the end-to-end scripts.  Source after tests/lib.sh:
#   . "$(dirname "$0")/../lib.sh"; . "$(dirname "$0")/e2e_lib.sh"
#
# e2e_world POD...   kube-sim + certificates + `leasefence serve` registered through a
#                    ValidatingWebhookConfiguration; users.json has one token per POD
#                    (t-POD, userInfo pod name POD).  Sets E2E_* and WEBHOOK_* variables.
#                    $E2E_FENCE_JSON, when set, is the fence configuration (default: a
#                    podName fence of the writer on $LEASE_REF).
# start_candidate POD [extra elect args]   one `leasefence elect` with its own kubeconfig, its
#                    status server on a port it picks (port 0); waits until it listens; sets
#                    CAND_PID[POD], CAND_STATUS[POD] (status URL), CAND_LOG[POD]
# start_writer POD [writer.py args]        the replica's work loop; sets WRITER_PID[POD]
E2E_DIR=$ROOT/tests/e2e
PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1
LEASEFENCE=${E2E_LEASEFENCE:-$BUILD/leasefence}   # E2E_LEASEFENCE / E2E_SERVE: other builds, for debugging
SERVE=${E2E_SERVE:-$LEASEFENCE}
LEASE_REF=demo/controller-leader
LEASE_DURATION=${LEASE_DURATION:-2s}
RENEW_DEADLINE=${RENEW_DEADLINE:-1.5s}
RETRY_PERIOD=${RETRY_PERIOD:-0.3s}
declare -A CAND_PID=() CAND_STATUS=() CAND_LOG=() CAND_KC=() WRITER_PID=() CAND_RUN=()
# CAND_ID[POD]: the identity POD's candidate elects with (default: the pod name itself).
declare -A CAND_ID=()

e2e_py() { "$PY" "$E2E_DIR/e2e.py" "$@"; }

# A short random identity, like a pod name: controller-7f9c4-xk2lq.
random_pod() { printf 'controller-%05x-%s\n' $((RANDOM * 32 + RANDOM % 32)) "$(tr -dc 'a-z0-9' </dev/urandom | head -c 5)"; }

e2e_world() {
  local pods=("$@")
  mkdir -p "$TMP/sim" "$TMP/certs"
  e2e_py users "$TMP/sim/users.json" "${pods[@]}" || return 1
  "$ROOT/certs/generate.sh" "$TMP/certs" leasefence leasefence-system >/dev/null || { echo "certs failed"; return 1; }
  start_kube_sim --quiet || return 1
  export E2E_SERVER="https://127.0.0.1:$SIM_PORT" E2E_CACERT="$SIM_DIR/ca.crt"
  E2E_ADMIN=$("$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import kclient; print(kclient.kubeconfig_token(sys.argv[2]))' "$E2E_DIR" "$SIM_DIR/kubeconfig")
  export E2E_ADMIN
  if [ -n "${E2E_FENCE_JSON:-}" ]; then # another fence for the same writer and Lease
    printf '%s\n' "$E2E_FENCE_JSON" >"$TMP/fence.json"
  else
    cat >"$TMP/fence.json" <<EOF
{"fences":[{"lease":"$LEASE_REF",
  "writers":{"users":["system:serviceaccount:demo:controller"],"groups":[]},
  "identity":"podName","mode":"enforce","epochAnnotation":"leasefence.io/epoch"}]}
EOF
  fi
  bg "$TMP/serve.log" "$SERVE" serve --config "$TMP/fence.json" --tls-cert "$TMP/certs/tls.crt" \
     --tls-key "$TMP/certs/tls.key" --kubeconfig "$SIM_DIR/kubeconfig" \
     --listen 127.0.0.1:0 --probe-listen 127.0.0.1:0
  SERVE_PID=$LAST_PID
  # The ports it bound, from its log; then kube-sim learns where the webhook's Service is.
  { WEBHOOK_PORT=$(listen_port "$TMP/serve.log" --listen "$SERVE_PID") &&
    WEBHOOK_PROBE=$(listen_port "$TMP/serve.log" --probe-listen "$SERVE_PID"); } || return 1
  sim_ctl "/services?ns=leasefence-system&name=leasefence&addr=127.0.0.1:$WEBHOOK_PORT" -o /dev/null ||
    { echo "kube-sim does not take the webhook's Service address"; return 1; }
  e2e_py setup "$TMP/certs/ca.crt" || return 1
  # Ready once the fence answers: any first write by a fenced writer is decided (denied: no Lease yet).
  wait_for 20 curl -sf "http://127.0.0.1:$WEBHOOK_PROBE/readyz" || { echo "leasefence serve not ready:"; tail -20 "$TMP/serve.log"; return 1; }
  wait_for 10 sh -c "'$PY' '$E2E_DIR/e2e.py' probe '${pods[0]}' tr | grep -q '^denied'" \
    || { echo "the webhook does not fence writes:"; e2e_py probe "${pods[0]}" tr; tail -20 "$TMP/serve.log"; return 1; }
  # When the fence saw each Lease change, by its own clock (for the oracle).
  [ -n "${E2E_NO_FENCEWATCH:-}" ] || bg "$TMP/fencewatch.out" "$PY" "$E2E_DIR/fencewatch.py" \
    "http://127.0.0.1:$WEBHOOK_PROBE/metrics" "$TMP/fence-metrics.jsonl" 50
}

start_candidate() {
  local pod=$1; shift
  CAND_KC[$pod]=$TMP/kubeconfig-$pod
  [ -f "${CAND_KC[$pod]}" ] || e2e_py kubeconfig "$SIM_DIR/kubeconfig" "${CAND_KC[$pod]}" "t-$pod" || return 1
  CAND_RUN[$pod]=$(( ${CAND_RUN[$pod]:-0} + 1 ))
  CAND_LOG[$pod]=$TMP/elect-$pod.${CAND_RUN[$pod]}.log
  bg "${CAND_LOG[$pod]}" "$LEASEFENCE" elect --lease "$LEASE_REF" --identity "${CAND_ID[$pod]:-$pod}" \
     --kubeconfig "${CAND_KC[$pod]}" --lease-duration "$LEASE_DURATION" --renew-deadline "$RENEW_DEADLINE" \
     --retry-period "$RETRY_PERIOD" --status-listen 127.0.0.1:0 "$@"
  CAND_PID[$pod]=$LAST_PID
  # (each run has a port of its own: a writer started after it is given this run's status URL)
  local port; CAND_STATUS[$pod]=''
  port=$(listen_port "${CAND_LOG[$pod]}" --status-listen "$LAST_PID") || return 1
  CAND_STATUS[$pod]=http://127.0.0.1:$port/
}

# All elector logs of POD, concatenated (one file per run).
elector_logs() { cat "$TMP"/elect-"$1".*.log 2>/dev/null; }

start_writer() {
  local pod=$1; shift
  bg "$TMP/writer-$pod.out" "$PY" "$E2E_DIR/writer.py" --pod "$pod" --status "${CAND_STATUS[$pod]:-}" \
     --journal "$TMP/journal-$pod.jsonl" "$@"
  WRITER_PID[$pod]=$LAST_PID
}

# The current holder ("" when none or no Lease).
lease_holder() { e2e_py lease | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("holder",""))'; }
lease_field() { e2e_py lease | "$PY" -c 'import json,sys; v=json.load(sys.stdin).get(sys.argv[1]); print("" if v is None else v)' "$1"; }

# wait_leader SECONDS POD...: waits until one of PODs holds the Lease (as ${CAND_ID[POD]:-POD}) and its
# elector says so; prints the pod.
wait_leader() {
  local secs=$1; shift
  local end=$((SECONDS + secs)) h p
  while [ $SECONDS -lt $end ]; do
    h=$(lease_holder 2>/dev/null)
    for p in "$@"; do
      if [ "$h" = "${CAND_ID[$p]:-$p}" ] && curl -sf -m 1 "${CAND_STATUS[$p]}" 2>/dev/null | grep -q '"isLeader": *true'; then
        echo "$p"; return 0
      fi
    done
    sleep 0.1
  done
  return 1
}

# wait_write SECONDS POD KIND: until a write by POD is allowed (the fence has seen the new holder).
wait_write() { wait_for "$1" sh -c "'$PY' '$E2E_DIR/e2e.py' probe '$2' '$3' | grep -q '^allowed'"; }

# only_writer LEADER POD...: every POD's TokenReview and ConfigMap writes are denied, except LEADER's
# (which are allowed); LEADER "" means nobody may write.  Prints what it saw; returns 0 when as expected.
only_writer() {
  local leader=$1; shift
  local p kind out bad=0
  for p in "$@"; do
    for kind in tr cm; do
      out=$(e2e_py probe "$p" "$kind")
      if [ "$p" = "$leader" ]; then
        case $out in allowed*) ;; *) echo "    $p $kind: want allowed, got: $out"; bad=1 ;; esac
      else
        case $out in denied*) ;; *) echo "    $p $kind: want denied, got: $out"; bad=1 ;; esac
      fi
    done
  done
  return $bad
}

# alive PID: the process exists and is not a zombie.
alive() { local st; st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1; [ -n "$st" ] && [ "${st%% *}" != Z ]; }

# later T1 T2: timestamp T2 is later than T1 (RFC 3339).
later() { "$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import kclient as k; a, b = k.parse_time(sys.argv[2]), k.parse_time(sys.argv[3]); sys.exit(0 if a is not None and b is not None and b > a else 1)' "$E2E_DIR" "$1" "$2"; }

# stop_pid PID [SIGNAL]: signal a process we started and wait for it to exit.
stop_pid() {
  local pid=$1 sig=${2:-TERM}
  kill "-$sig" "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }; sleep 0.05; done
  kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  return 0
}

# Saves kube-sim's log to FILE.
save_sim_log() { curl -sf "http://127.0.0.1:$SIM_CTL/log?since=0" >"$1"; }
