# Shared helpers for integration and e2e test scripts.  Source it:
#   . "$(dirname "$0")/../lib.sh"
# Every process a test starts is recorded and ended by PID on exit.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# LEASEFENCE_BUILD picks another build tree (make sanitize uses build/san);
# LEASEFENCE_WRAPPER runs the binary under a tool (make valgrind).
BUILD=${LEASEFENCE_BUILD:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
# Start the binary as: $LEASEFENCE serve ...   (unquoted: it may carry a wrapper)
LEASEFENCE="${LEASEFENCE_WRAPPER:+$LEASEFENCE_WRAPPER }$BUILD/leasefence"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/leasefence-test.XXXXXX")
PIDS=()
N_OK=0 N_FAIL=0

cleanup() {
  local pid
  for pid in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  done
  [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT

ok()   { N_OK=$((N_OK + 1)); echo "ok - $*"; }
fail() { N_FAIL=$((N_FAIL + 1)); echo "not ok - $*"; }
# check NAME COMMAND...: ok if the command succeeds.
check() { local name=$1; shift; if "$@"; then ok "$name"; else fail "$name"; fi; }
# expect_eq NAME WANT GOT
expect_eq() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: want '$2', got '$3'"; fi; }
done_testing() { echo "# $N_OK passed, $N_FAIL failed"; [ "$N_FAIL" -eq 0 ]; }

# A TCP port on 127.0.0.1 that is free now, for a server the caller starts next.
# It is picked below the kernel's ephemeral range (ip_local_port_range), so no
# outgoing connection can take it before the server binds it (a port from
# bind(:0) could be), and never twice in one test run ($TMP/.ports).
free_port() {
  /usr/bin/python3 - "$TMP/.ports" <<'PY'
import random, socket, sys
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
try:
    given = set(open(sys.argv[1]).read().split())
except FileNotFoundError:
    given = set()
for _ in range(2000):
    port = random.randrange(max(1024, low - 12000), low) if low > 2048 else 0
    if str(port) in given:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        port = s.getsockname()[1]
    except OSError:
        continue
    finally:
        s.close()
    with open(sys.argv[1], "a") as f:
        f.write("%d\n" % port)
    print(port)
    sys.exit(0)
sys.exit("free_port: no free port below the ephemeral range")
PY
}

# bg LOGFILE COMMAND...: start a process in the background and record its PID in LAST_PID.
bg() { local log=$1; shift; "$@" >"$log" 2>&1 & LAST_PID=$!; PIDS+=("$LAST_PID"); }

# wait_for SECONDS COMMAND...: poll until the command succeeds.
wait_for() {
  local secs=$1; shift; local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do [ $SECONDS -lt $end ] || return 1; sleep 0.05; done
}

# start_kube_sim [EXTRA ARGS...]: starts build/kube-sim in $TMP/sim; sets
# SIM_DIR, SIM_PORT, SIM_CTL (control port), SIM_PID, KUBECONFIG.
start_kube_sim() {
  SIM_DIR=$TMP/sim; mkdir -p "$SIM_DIR"
  SIM_PORT=$(free_port); SIM_CTL=$(free_port)
  [ -f "$SIM_DIR/users.json" ] || echo '[]' >"$SIM_DIR/users.json"
  bg "$TMP/kube-sim.log" "$BUILD/kube-sim" --addr "127.0.0.1:$SIM_PORT" --control-addr "127.0.0.1:$SIM_CTL" --dir "$SIM_DIR" "$@"
  SIM_PID=$LAST_PID
  export KUBECONFIG=$SIM_DIR/kubeconfig
  wait_for 20 curl -sf --cacert "$SIM_DIR/ca.crt" "https://127.0.0.1:$SIM_PORT/readyz" || { echo "kube-sim did not start:"; cat "$TMP/kube-sim.log"; return 1; }
}

# sim_ctl PATH [curl args...]: POST to kube-sim's control port.
sim_ctl() { local path=$1; shift; curl -sf -X POST "http://127.0.0.1:$SIM_CTL$path" "$@"; }
