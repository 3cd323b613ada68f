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
# Everything a test writes goes under TMP: never go on without it (an empty TMP would write under /).
TMP=$(mktemp -d "${TMPDIR:-/tmp}/leasefence-test.XXXXXX") && [ -d "$TMP" ] ||
  { echo "tests/lib.sh: cannot make a temporary directory under ${TMPDIR:-/tmp}" >&2; exit 1; }
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
# Checking then using is a race (anything else on the machine may bind the port
# in between): leasefence's own listeners take port 0 and listen_port instead.
# free_port is left for what port 0 cannot do, each use saying why: a server
# restarted on the same port, or one that does not log at info level.
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

# listen_port LOG LISTENER [PID] [SECONDS]: wait until the leasefence whose log is LOG wrote its
# "listening" line for LISTENER (--listen, --probe-listen, --status-listen: logged at info level
# once the socket is bound, so start the listener on port 0, e.g. --listen 127.0.0.1:0) and print
# the port it bound.  With PID, fail at once if that process ends first.  SECONDS defaults to 20,
# 80 under LEASEFENCE_WRAPPER; a script with its own slowness factor passes it.  On failure it
# prints why and the end of LOG on stderr and returns 1 (and prints nothing on stdout).
listen_port() {
  local log=$1 name=$2 pid=${3:-} secs=${4:-} end addr gone=''
  [ -n "$secs" ] || { secs=20; [ -z "${LEASEFENCE_WRAPPER:-}" ] || secs=80; }
  end=$((SECONDS + secs))
  while :; do
    [ -z "$pid" ] || kill -0 "$pid" 2>/dev/null || gone=1 # (before reading: its last line is in)
    # the last "listening" line for NAME; a line still being written is not JSON yet and is passed over
    addr=$(grep -s -F '"msg":"listening"' "$log" |
      jq -R -r --arg l "$name" 'fromjson? | select(.msg == "listening" and .listener == $l) | .address' 2>/dev/null | tail -n 1)
    case ${addr##*:} in
      '' | *[!0-9]* | 0) ;;
      *) echo "${addr##*:}"; return 0 ;;
    esac
    if [ -n "$gone" ]; then
      echo "listen_port: process $pid ended before it logged its $name address; the end of $log:" >&2
      break
    fi
    if [ $SECONDS -ge $end ]; then
      echo "listen_port: no $name address in $log after ${secs}s; its end:" >&2
      break
    fi
    sleep 0.05
  done
  tail -n 20 "$log" 2>/dev/null | sed 's/^/  | /' >&2
  return 1
}

# bg LOGFILE COMMAND...: start a process in the background and record its PID in LAST_PID.
bg() { local log=$1; shift; "$@" >"$log" 2>&1 & LAST_PID=$!; PIDS+=("$LAST_PID"); }

# wait_for SECONDS COMMAND...: poll until the command succeeds.
wait_for() {
  local secs=$1; shift; local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do [ $SECONDS -lt $end ] || return 1; sleep 0.05; done
}

# port_from FILE [SECONDS]: wait until a server that bound port 0 wrote its HOST:PORT to FILE
# (kube-sim's DIR/addr, a fake's port file); print the PORT.
port_from() {
  wait_for "${2:-20}" test -s "$1" || { echo "port_from: nothing in $1" >&2; return 1; }
  local a; a=$(cat "$1"); echo "${a##*:}"
}

# start_kube_sim [EXTRA ARGS...]: starts build/kube-sim in $TMP/sim on ports it picks (port 0, read
# back from DIR/addr and DIR/control-addr); KUBE_SIM_PORT=N picks the API port instead, for a test
# that restarts kube-sim on the same port (take N from free_port).  Sets SIM_DIR, SIM_PORT, SIM_CTL
# (control port), SIM_PID, KUBECONFIG, ADMIN_TOKEN and API (https://127.0.0.1:SIM_PORT).
start_kube_sim() {
  SIM_DIR=$TMP/sim; mkdir -p "$SIM_DIR"
  rm -f "$SIM_DIR/addr" "$SIM_DIR/control-addr"
  [ -f "$SIM_DIR/users.json" ] || echo '[]' >"$SIM_DIR/users.json"
  bg "$TMP/kube-sim.log" "$BUILD/kube-sim" --addr "127.0.0.1:${KUBE_SIM_PORT:-0}" --control-addr 127.0.0.1:0 --dir "$SIM_DIR" "$@"
  SIM_PID=$LAST_PID
  export KUBECONFIG=$SIM_DIR/kubeconfig
  if SIM_PORT=$(port_from "$SIM_DIR/addr") && SIM_CTL=$(port_from "$SIM_DIR/control-addr") &&
    wait_for 20 curl -sf --cacert "$SIM_DIR/ca.crt" "https://127.0.0.1:$SIM_PORT/readyz"; then
    ADMIN_TOKEN=$(cat "$SIM_DIR/token"); API=https://127.0.0.1:$SIM_PORT
  else
    echo "kube-sim did not start:"; cat "$TMP/kube-sim.log"; return 1
  fi
}

# sim_api [curl args...]: curl to kube-sim's API as its admin (JSON bodies): sim_api "$API/api/v1/..."
sim_api() { curl -s --cacert "$SIM_DIR/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' "$@"; }

# write_kubeconfig FILE SERVER TOKEN [CA]: a kubeconfig of one cluster and one bearer-token user.
write_kubeconfig() {
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
current-context: c
contexts: [{name: c, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "$2"${4:+, certificate-authority: \"$4\"}}}]
users: [{name: u, user: {token: "$3"}}]
EOF
}

# need_built NAME...: unless every $BUILD/NAME is built, fail and end the test.
need_built() {
  local b
  for b; do [ -x "$BUILD/$b" ] || { fail "$BUILD/$b is built (make test-build)"; done_testing; exit 1; }; done
}

# wait_decide SECONDS WANT ARGS...: poll until the test's own `decide ARGS...` prints WANT
# ("allowed reason").
wait_decide() {
  local secs=$1 want=$2; shift 2; local end=$((SECONDS + secs))
  until [ "$(decide "$@")" = "$want" ]; do [ $SECONDS -lt $end ] || return 1; sleep 0.05; done
}

# sim_ctl PATH [curl args...]: POST to kube-sim's control port.
sim_ctl() { local path=$1; shift; curl -sf -X POST "http://127.0.0.1:$SIM_CTL$path" "$@"; }

# controller_users: the users.json entries (comma-separated, without the brackets) of the demo
# controller's two replicas: service account demo:controller, tokens tok-controller-0 and -1 bound to
# pods controller-0 and -1, uids u-c0 and u-c1.
controller_users() {
  cat <<'JSON'
 {"token": "tok-controller-0", "username": "system:serviceaccount:demo:controller", "uid": "u-c0",
  "groups": ["system:serviceaccounts", "system:serviceaccounts:demo", "system:authenticated"],
  "extra": {"authentication.kubernetes.io/pod-name": ["controller-0"]}},
 {"token": "tok-controller-1", "username": "system:serviceaccount:demo:controller", "uid": "u-c1",
  "groups": ["system:serviceaccounts", "system:serviceaccounts:demo", "system:authenticated"],
  "extra": {"authentication.kubernetes.io/pod-name": ["controller-1"]}}
JSON
}

# controller_leasefence FILE: the LeaseFence demo/controller (Lease controller-leader, writers: the
# service account controller) as YAML, for kubectl.
controller_leasefence() {
  cat >"$1" <<'YAML'
apiVersion: leasefence.io/v1alpha1
kind: LeaseFence
metadata:
  name: controller
  namespace: demo
spec:
  lease: controller-leader
  writers:
    serviceAccounts: ["controller"]
YAML
}
