#!/usr/bin/env bash
# `leasefence elect` against kube-sim: acquire, renew, three candidates, forced
# transition, deletion, SIGTERM release, SIGKILL takeover, conflicts, API
# errors and latency, the command run while leading, client-go interop.
# Short durations (2s / 1.5s / 0.4s) keep it quick.
. "$(dirname "$0")/../lib.sh"
LF=${LEASEFENCE_ELECT:-$LEASEFENCE}   # LEASEFENCE_ELECT: another binary with `elect`, for development
# Lease duration / renew deadline / retry period in ms.  Under a wrapper (make valgrind) every process
# is many times slower: durations and waits grow, the bounds keep their meaning.
LD=2000 RD=1500 RP=400 TW=1 SLOW=0
if [ -n "${LEASEFENCE_WRAPPER:-}" ]; then LD=6000 RD=4500 RP=1200 TW=4 SLOW=3000; fi
DUR=(--lease-duration ${LD}ms --renew-deadline ${RD}ms --retry-period ${RP}ms)

start_kube_sim --quiet || { fail "kube-sim starts"; done_testing; exit 1; }
ADMIN_TOKEN=$(cat "$SIM_DIR/token")
LEASES=https://127.0.0.1:$SIM_PORT/apis/coordination.k8s.io/v1/namespaces/default/leases
api() { curl -s --cacert "$SIM_DIR/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" "$@"; }
lease() { api "$LEASES/$1"; }
lf() { lease "$1" | jq -r "$2"; }
holder() { lf "$1" '.spec.holderIdentity // ""'; }
is_holder() { [ "$(holder "$1")" = "$2" ]; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# force LEASE JQ-EXPR: read-modify-write the Lease as another writer would, retrying lost races.
force() {
  local i obj code
  for i in $(seq 20); do
    obj=$(lease "$1" | jq "$2")
    code=$(api -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/json' -d "$obj" "$LEASES/$1")
    [ "$code" = 200 ] && return 0
  done
  return 1
}
msleep() { sleep "$(($1 / 1000)).$(printf %03d $(($1 % 1000)))"; }

declare -A PID PORT
# cand LEASE ID [ARGS...]: starts a candidate with a status port (port 0, read back from its log).
cand() {
  local l=$1 id=$2 a prev='' listen=127.0.0.1:0; shift 2
  for a; do
    [ "$a" != -- ] || break
    # free_port for a candidate at --log-level warn or error: it does not log the "listening" line (info)
    # that names the port it bound
    if [ "$prev" = --log-level ] && [ "$a" != debug ] && [ "$a" != info ]; then
      PORT[$id]=$(free_port); listen=127.0.0.1:${PORT[$id]}
    fi
    prev=$a
  done
  bg "$TMP/$id.log" $LF elect --lease "default/$l" --identity "$id" "${DUR[@]}" --status-listen "$listen" "$@"
  PID[$id]=$LAST_PID
  if [ "$listen" = 127.0.0.1:0 ]; then
    PORT[$id]=$(listen_port "$TMP/$id.log" --status-listen "$LAST_PID" $((10 * TW))) || return 1
  fi
  wait_for $((5 * TW)) curl -sf "127.0.0.1:${PORT[$id]}/healthz"
}
status() { curl -s "127.0.0.1:${PORT[$1]}/"; }
leads() { [ "$(status "$1" | jq -r .isLeader)" = true ]; }
logged() { grep -q "\"msg\":\"$2\"" "$TMP/$1.log"; }
stop() { kill -"${2:-TERM}" "${PID[$1]}" 2>/dev/null; wait "${PID[$1]}" 2>/dev/null; }

# --- bad flags ---
out=$($LF elect --lease default/x --identity a --lease-duration 2s --renew-deadline 2s 2>&1); rc=$?
expect_eq "renew deadline >= lease duration is refused (exit 2)" 2 "$rc"
check "the message names the rule" grep -q "lease duration must be greater than renew deadline" <<<"$out"
out=$($LF elect --lease default/x --identity a --retry-period 9s 2>&1); rc=$?
expect_eq "renew deadline <= 1.2 x retry is refused" 2 "$rc"
out=$($LF elect --lease default/x --identity a --lease-duration 2fortnights 2>&1); rc=$?
expect_eq "a bad duration is refused" 2 "$rc"
# One duration grammar for serve and elect (Go's): a bare number is refused, 1m30s is taken.
out=$($LF elect --lease default/x --identity a --grace-period 3 2>&1); rc=$?
expect_eq "--grace-period 3 is refused, naming the flag and why" \
  "2 leasefence elect: --grace-period: invalid duration '3': missing unit" "$rc $out"
out=$($LF elect --lease default/x --identity a --grace-period 1m30s --kubeconfig "$TMP/none" 2>&1); rc=$?
expect_eq "--grace-period 1m30s is taken (then the missing kubeconfig fails, exit 1)" \
  "1 leasefence elect: kubeconfig '$TMP/none': cannot open: No such file or directory" "$rc $out"
out=$($LF elect --lease nons --identity a 2>&1); rc=$?
expect_eq "--lease without a namespace is refused" 2 "$rc"
out=$($LF elect --lease default/x --identity a --log-level loud 2>&1); rc=$?
expect_eq "an unknown --log-level is refused" 2 "$rc"
check "the message names the levels" grep -q "'loud' is not one of debug, info, warn, error" <<<"$out"

# --- the kubeconfig's tls-server-name: the certificate is checked for that name, not the server's host ---
sed 's|^\(    server: .*\)$|\1\n    tls-server-name: kubernetes.default.svc|' "$SIM_DIR/kubeconfig" >"$TMP/kc-tsn-good"
sed 's|^\(    server: .*\)$|\1\n    tls-server-name: not-in-the-certificate.example|' "$SIM_DIR/kubeconfig" >"$TMP/kc-tsn-bad"
check "tls-server-name written into the test kubeconfig" grep -q 'tls-server-name: kubernetes.default.svc' "$TMP/kc-tsn-good"
bg "$TMP/tsn-good.log" $LF elect --lease default/tsn-good --identity t "${DUR[@]}" --kubeconfig "$TMP/kc-tsn-good"
check "tls-server-name in the certificate: the candidate acquires" wait_for $((5 * TW)) is_holder tsn-good t
kill "$LAST_PID"; wait "$LAST_PID" 2>/dev/null
bg "$TMP/tsn-bad.log" $LF elect --lease default/tsn-bad --identity t "${DUR[@]}" --kubeconfig "$TMP/kc-tsn-bad"
check "tls-server-name not in the certificate: the error names the certificate" \
  wait_for $((5 * TW)) grep -qi 'certificate\|SSL' "$TMP/tsn-bad.log"
expect_eq "tls-server-name not in the certificate: no Lease written" "" "$(holder tsn-bad)"
kill "$LAST_PID"; wait "$LAST_PID" 2>/dev/null
out=$($LF elect --lease default/x --identity a --kubeconfig <(sed 's|^\(    server: .*\)$|\1\n    tls-server-name: "a:b"|' "$SIM_DIR/kubeconfig") 2>&1); rc=$?
expect_eq "a tls-server-name that is not a host name is refused (exit 1, as other kubeconfig errors)" 1 "$rc"
check "the message names it" grep -q "tls-server-name 'a:b' is not a host name" <<<"$out"

# --- --log-level error: leading is not logged (info), errors still would be ---
cand quiet q --log-level error
check "a candidate with --log-level error acquires" wait_for $((5 * TW)) is_holder quiet q
check "--log-level error: no info line" bash -c "! grep -q '\"level\":\"info\"' '$TMP/q.log'"
stop q

# --- one candidate acquires, renews, reports ---
cand one a
check "one candidate acquires" wait_for $((5 * TW)) is_holder one a
uid=$(lf one .metadata.uid)
check "started leading is logged once with the epoch uid/0" \
  bash -c "[ \$(grep -c '\"msg\":\"started leading\"' '$TMP/a.log') = 1 ] && grep -q '\"epoch\":\"$uid/0\"' '$TMP/a.log'"
expect_eq "the lease starts with leaseTransitions 0" 0 "$(lf one .spec.leaseTransitions)"
expect_eq "leaseDurationSeconds is the lease duration in seconds" $((LD / 1000)) "$(lf one .spec.leaseDurationSeconds)"
check "renewTime has exactly six fraction digits" \
  grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$' <<<"$(lf one .spec.renewTime)"
st=$(status a)
expect_eq "status: name" a "$(jq -r .name <<<"$st")"
expect_eq "status: isLeader" true "$(jq -r .isLeader <<<"$st")"
expect_eq "status: epoch" "$uid/0" "$(jq -r .epoch <<<"$st")"
expect_eq "status: /healthz" ok "$(curl -s "127.0.0.1:${PORT[a]}/healthz")"
# a client trickling its request one byte at a time does not hold up the probes behind it
bg "$TMP/trickle.log" /usr/bin/python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
for b in b"GET /healthz HTTP/1.1\r\nHost: x\r\n":
    try:
        s.send(bytes([b]))
    except OSError:
        break
    time.sleep(0.3)
' "${PORT[a]}"
sleep 0.5
t0=$(date +%s%N)
got=$(curl -s --max-time 6 "127.0.0.1:${PORT[a]}/healthz"); ms=$((($(date +%s%N) - t0) / 1000000))
check "status: answered within 3 s behind a trickling client (got '$got' in $ms ms)" [ "$got" = ok -a "$ms" -lt 3000 ]
r1=$(lf one .spec.renewTime); a1=$(lf one .spec.acquireTime)
msleep $((RP * 25 / 10))
r2=$(lf one .spec.renewTime)
check "renewals move renewTime" [ "$r1" != "$r2" ]
expect_eq "renewals keep acquireTime" "$a1" "$(lf one .spec.acquireTime)"
expect_eq "renewals keep leaseTransitions" 0 "$(lf one .spec.leaseTransitions)"

# --- forced transition: someone else writes themselves in ---
t0=$(now_ms)
check "forced transition: another writer sets itself as holder" force one '.spec.holderIdentity = "intruder" | .spec.leaseTransitions += 1'
wait_for $((5 * TW)) logged a "stopped leading"; t1=$(now_ms)
check "forced transition: stopped leading within the renew deadline (+ one retry)" [ $((t1 - t0)) -le $((RD + RP + 200 + SLOW)) ]
check "forced transition: a does not claim to lead" bash -c "! curl -s 127.0.0.1:${PORT[a]}/ | grep -q '\"isLeader\":true'"
check "forced transition: a takes over once the intruder's lease expires" wait_for $((6 * TW)) is_holder one a
expect_eq "forced transition: the takeover counts a transition" 2 "$(lf one .spec.leaseTransitions)"

# --- the Lease deleted: re-created with transitions 0 ---
api -X DELETE "$LEASES/one" >/dev/null
check "deleted lease is re-created" wait_for $((5 * TW)) bash -c "[ \"\$(curl -s --cacert '$SIM_DIR/ca.crt' -H 'Authorization: Bearer $ADMIN_TOKEN' '$LEASES/one' | jq -r .metadata.uid)\" != '$uid' ] && [ \"\$(curl -s --cacert '$SIM_DIR/ca.crt' -H 'Authorization: Bearer $ADMIN_TOKEN' '$LEASES/one' | jq -r .spec.holderIdentity)\" = a ]"
expect_eq "re-created lease has leaseTransitions 0" 0 "$(lf one .spec.leaseTransitions)"
stop a

# --- three candidates: exactly one holder at every observation ---
cand three b; cand three c; cand three d
wait_for $((5 * TW)) bash -c "[ -n \"\$(curl -s --cacert '$SIM_DIR/ca.crt' -H 'Authorization: Bearer $ADMIN_TOKEN' '$LEASES/three' | jq -r '.spec.holderIdentity // empty')\" ]"
bad=0 obs=0
for _ in $(seq 20); do
  n=0; who=
  for id in b c d; do if leads $id; then n=$((n + 1)); who=$id; fi; done
  h=$(holder three)
  obs=$((obs + 1))
  if [ "$n" -gt 1 ]; then bad=$((bad + 1)); fi
  if [ "$n" -eq 1 ] && [ "$who" != "$h" ]; then bad=$((bad + 1)); fi
  sleep 0.1
done
expect_eq "three candidates: never more than one leader, and it is the Lease's holder ($obs observations)" 0 "$bad"
leader=$(holder three)
n_started=$(cat "$TMP/b.log" "$TMP/c.log" "$TMP/d.log" | grep -c '"msg":"started leading"')
expect_eq "three candidates: one started leading in all" 1 "$n_started"
check "three candidates: the others saw the new leader" bash -c "grep -h '\"msg\":\"new leader\"' '$TMP/b.log' '$TMP/c.log' '$TMP/d.log' | grep -q '\"holder\":\"$leader\"'"

# --- SIGTERM: release, exit 0, handover within about one retry period ---
tr0=$(lf three .spec.leaseTransitions)
t0=$(now_ms)
kill -TERM "${PID[$leader]}"; wait "${PID[$leader]}"; rc=$?
expect_eq "SIGTERM: exit 0" 0 "$rc"
check "SIGTERM: released (stopped leading, then released)" logged "$leader" "released lease"
check "SIGTERM: another candidate takes over" wait_for $((4 * TW)) bash -c "h=\$(curl -s --cacert '$SIM_DIR/ca.crt' -H 'Authorization: Bearer $ADMIN_TOKEN' '$LEASES/three' | jq -r '.spec.holderIdentity // empty'); [ -n \"\$h\" ] && [ \"\$h\" != '$leader' ]"
t1=$(now_ms)
check "SIGTERM: handover within 2.2 retry periods (+ slack): $((t1 - t0)) ms" [ $((t1 - t0)) -le $((RP * 22 / 10 + 420 + SLOW)) ]
expect_eq "SIGTERM: handover counts one transition" $((tr0 + 1)) "$(lf three .spec.leaseTransitions)"

# --- SIGKILL: takeover only after the lease duration ---
leader2=$(holder three)
t0=$(now_ms)
stop "$leader2" KILL
check "SIGKILL: the survivor takes over" wait_for $((8 * TW)) bash -c "h=\$(curl -s --cacert '$SIM_DIR/ca.crt' -H 'Authorization: Bearer $ADMIN_TOKEN' '$LEASES/three' | jq -r '.spec.holderIdentity // empty'); [ -n \"\$h\" ] && [ \"\$h\" != '$leader2' ]"
t1=$(now_ms)
check "SIGKILL: not before the lease duration has passed ($((t1 - t0)) ms)" [ $((t1 - t0)) -ge $((LD - 500)) ]
check "SIGKILL: within lease duration + 2.2 retry periods (+ slack)" [ $((t1 - t0)) -le $((LD + RP * 22 / 10 + 1600 + SLOW)) ]
for id in b c d; do [ "$id" = "$leader" ] || [ "$id" = "$leader2" ] || stop "$id"; done

# --- conflicting updates: a stale write gets 409 and is never taken as success ---
check "conflicts: the leader's stale renewal after the forced transition got 409 and fell back" \
  bash -c "grep 'falling back to the slow path' '$TMP/a.log' | grep -q '409 Conflict'"
for id in r1 r2 r3; do bg "$TMP/$id.log" $LF elect --lease default/race --identity "$id" "${DUR[@]}"; PID[$id]=$LAST_PID; done
check "conflicts: candidates started together elect one of them" wait_for $((5 * TW)) bash -c "curl -s --cacert '$SIM_DIR/ca.crt' -H 'Authorization: Bearer $ADMIN_TOKEN' '$LEASES/race' | jq -r .spec.holderIdentity | grep -qx 'r[123]'"
msleep $((RP * 3))
expect_eq "conflicts: exactly one started leading" 1 "$(cat "$TMP"/r[123].log | grep -c '"msg":"started leading"')"
for id in r1 r2 r3; do stop $id; done

# --- API errors and latency through kube-sim's faults ---
cand faults e
wait_for $((5 * TW)) is_holder faults e
sim_ctl "/faults/fail?count=2&code=500&path=/apis/coordination.k8s.io" >/dev/null
msleep $((RP * 3))
check "a few 500s: the leader keeps leading" leads e
expect_eq "a few 500s: no stopped leading" 0 "$(grep -c '"msg":"stopped leading"' "$TMP/e.log")"
sim_ctl "/faults/fail?count=1000&code=503&path=/apis/coordination.k8s.io" >/dev/null
check "persistent 503s: stopped leading by the renew deadline" wait_for $((3 * TW)) logged e "stopped leading"
check "persistent 503s: status says not leader" bash -c "! curl -s 127.0.0.1:${PORT[e]}/ | grep -q '\"isLeader\":true'"
sim_ctl /faults/reset >/dev/null
check "after the errors: leads again" wait_for $((5 * TW)) leads e
n0=$(grep -c '"msg":"stopped leading"' "$TMP/e.log")
sim_ctl "/faults/latency?ms=$((RD / 5))" >/dev/null
msleep $((RP * 4))
expect_eq "latency of a fifth of the renew deadline: still leading, no loss" "$n0" "$(grep -c '"msg":"stopped leading"' "$TMP/e.log")"
sim_ctl "/faults/latency?ms=$((RD + 200))" >/dev/null
check "latency above the renew deadline: stopped leading" wait_for $((4 * TW)) bash -c "[ \$(grep -c '\"msg\":\"stopped leading\"' '$TMP/e.log') -gt $n0 ]"
sim_ctl /faults/reset >/dev/null
check "after the latency: leads again" wait_for $((6 * TW)) leads e
stop e

# --- a leader stopped (SIGSTOP) for longer than its lease: after SIGCONT its status never claims to lead,
# nor reports an epoch (not its old one, which another took over, nor the new holder's), and its term ends
# at once: the command is stopped before the renew deadline would have ended it ---
pcmd=$TMP/pause-cmd.out
cand pause p -- sh -c "echo \$LEASEFENCE_EPOCH > '$pcmd'; trap 'echo term >> \"$pcmd\"; exit 0' TERM; while :; do sleep 0.05; done"
check "pause: p leads" wait_for $((5 * TW)) is_holder pause p
check "pause: p's command runs" wait_for $((3 * TW)) test -s "$pcmd"
pepoch=$(status p | jq -r .epoch)
expect_eq "pause: p's status epoch is its command's LEASEFENCE_EPOCH" "$(head -1 "$pcmd")" "$pepoch"
cand pause q
kill -STOP "${PID[p]}"
check "pause: q takes over while p is stopped" wait_for $((8 * TW)) is_holder pause q
qepoch="$(lf pause .metadata.uid)/$(lf pause .spec.leaseTransitions)"
kill -CONT "${PID[p]}"
t0=$(now_ms)
bad=0 n=0
while [ $(($(now_ms) - t0)) -lt $((RD + RP + 1000)) ]; do
  st=$(curl -s --max-time 1 "127.0.0.1:${PORT[p]}/")
  [ -n "$st" ] || continue
  n=$((n + 1))
  if [ "$(jq -r '"\(.isLeader) \(.epoch)"' <<<"$st")" != "false " ]; then bad=$((bad + 1)); echo "# after SIGCONT: $st (q holds $qepoch)"; fi
done
expect_eq "pause: after SIGCONT, p's status says not leader and no epoch ($n answers)" 0 "$bad"
expect_eq "pause: q's status says leader with its epoch" "true $qepoch" "$(status q | jq -r '"\(.isLeader) \(.epoch)"')"
check "pause: p stopped leading" logged p "stopped leading"
check "pause: p's command was stopped" grep -q term "$pcmd"
tterm=$(date -r "$pcmd" +%s%3N) # when "term" was written
check "pause: ... within a retry period of SIGCONT, not at the renew deadline ($((tterm - t0)) ms)" \
  [ $((tterm - t0)) -lt $((RP + 500 + SLOW)) ]
stop p; stop q

# --- COMMAND runs only while leading ---
cmdfile=$TMP/cmd.out
cand cmd f --grace-period 1s -- sh -c "ls -l /proc/\$\$/fd > '$TMP/cmd.fds'; while IFS= read -r l; do case \$l in SigIgn:*|SigBlk:*) printf '%s\\n' \"\$l\";; esac; done < /proc/\$\$/status > '$TMP/cmd.sig'; echo \$LEASEFENCE_EPOCH > '$cmdfile'; trap 'echo term >> \"$cmdfile\"; exit 0' TERM; while :; do sleep 0.1; done"
check "command: started on acquire" wait_for $((5 * TW)) test -s "$cmdfile"
expect_eq "command: sees the epoch" "$(lf cmd .metadata.uid)/0" "$(head -1 "$cmdfile")"
check "command: inherits no socket (API server connection, status listener)" bash -c "! grep -q 'socket:' '$TMP/cmd.fds'"
# elect ignores SIGPIPE for itself; the command gets the default back (an ignored signal stays ignored
# across execve, and 'yes | head' would then see EPIPE instead of ending quietly), and no blocked signal.
# (The command's shell reads its own status with builtins: dash blocks every signal while it waits for a
# child, so a grep it forked would often see all of them blocked, whatever elect did.)
sigign=$(awk '/^SigIgn:/ {print $2}' "$TMP/cmd.sig")
check "command: SIGPIPE is not ignored (SigIgn $sigign)" [ -n "$sigign" -a $((0x$sigign & (1 << 12))) -eq 0 ]
expect_eq "command: no signal blocked" "SigBlk:	0000000000000000" "$(grep '^SigBlk:' "$TMP/cmd.sig")"
check "command: another writer takes the lease" force cmd '.spec.holderIdentity = "intruder" | .spec.leaseDurationSeconds = 30'
check "command: SIGTERM on loss" wait_for $((4 * TW)) grep -q term "$cmdfile"
check "command: reaped" wait_for $((2 * TW)) logged f "command exited"
stop f
api -X DELETE "$LEASES/cmd" >/dev/null

# --- interop: a Lease written the way client-go writes it ---
now=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
api -X POST -H 'Content-Type: application/json' "$LEASES" -d '{"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
  "metadata":{"name":"interop","namespace":"default","labels":{"app":"demo"},"annotations":{"note":"kept"}},
  "spec":{"holderIdentity":"go-replica_0e1f","leaseDurationSeconds":1,"acquireTime":"'"$now"'","renewTime":"'"$now"'","leaseTransitions":7}}' >/dev/null
cand interop g
check "interop: takes over a client-go Lease after its duration" wait_for $((6 * TW)) is_holder interop g
expect_eq "interop: transitions continue from client-go's" 8 "$(lf interop .spec.leaseTransitions)"
expect_eq "interop: labels survive our update" demo "$(lf interop .metadata.labels.app)"
expect_eq "interop: annotations survive our update" kept "$(lf interop .metadata.annotations.note)"
check "interop: kubectl reads what we wrote" bash -c "kubectl --kubeconfig '$KUBECONFIG' get lease interop -n default -o jsonpath='{.spec.holderIdentity}' | grep -qx g"
stop g
expect_eq "interop: released as client-go releases (holder empty)" "" "$(holder interop)"
expect_eq "interop: released with leaseDurationSeconds 1" 1 "$(lf interop .spec.leaseDurationSeconds)"
expect_eq "interop: release keeps transitions" 8 "$(lf interop .spec.leaseTransitions)"

# --- configuration sources: tokenFile + CA file, in-cluster, TLS verification ---
mkdir -p "$TMP/kc" "$TMP/sa"
cp "$SIM_DIR/ca.crt" "$TMP/kc/ca.crt"; printf '%s\n' "$ADMIN_TOKEN" >"$TMP/kc/tok"
cat >"$TMP/kc/config" <<EOF
apiVersion: v1
kind: Config
current-context: files
contexts:
- name: files
  context: {cluster: sim, user: file-user}
clusters:
- name: sim
  cluster: {server: "https://127.0.0.1:$SIM_PORT", certificate-authority: ca.crt}
users:
- name: file-user
  user: {tokenFile: tok}
EOF
bg "$TMP/h.log" $LF elect --kubeconfig "$TMP/kc/config" --lease default/cfg --identity h "${DUR[@]}"
PID[h]=$LAST_PID
check "kubeconfig with tokenFile and a relative CA file: acquires" wait_for $((5 * TW)) is_holder cfg h
stop h
expect_eq "SIGTERM released it" "" "$(holder cfg)"
cp "$SIM_DIR/ca.crt" "$TMP/sa/ca.crt"; printf '%s' "$ADMIN_TOKEN" >"$TMP/sa/token"
bg "$TMP/i.log" env -u KUBECONFIG KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT="$SIM_PORT" \
  LEASEFENCE_TEST_SERVICEACCOUNT_DIR="$TMP/sa" $LF elect --lease default/cfg --identity i "${DUR[@]}"
PID[i]=$LAST_PID
check "in-cluster service account: acquires" wait_for $((5 * TW)) is_holder cfg i
stop i
sed -i 's/certificate-authority: ca.crt/insecure-skip-tls-verify: false/' "$TMP/kc/config"
bg "$TMP/j.log" $LF elect --kubeconfig "$TMP/kc/config" --lease default/cfg --identity j "${DUR[@]}"
PID[j]=$LAST_PID
check "TLS is verified: an unknown CA is refused" wait_for $((5 * TW)) grep -qi "certificate" "$TMP/j.log"
expect_eq "TLS is verified: no lease taken" "" "$(holder cfg)"
check "tokens are never logged" bash -c "! grep -qF '$ADMIN_TOKEN' '$TMP'/*.log"
stop j

# A grace period longer than lease - renew deadline - retry period lets a stopping
# command overlap the next leader: it is warned about; the default stays inside it.
cand grace g1 --grace-period 30s -- sleep 60
check "an over-long --grace-period is warned about" wait_for $((5 * TW)) grep -q 'grace period outlasts the lease' "$TMP/g1.log"
cand grace2 g2 -- sleep 60
sleep 0.5
check "the default grace period is not warned about" bash -c "! grep -q 'grace period outlasts' '$TMP/g2.log'"
kill "${PID[g1]}" "${PID[g2]}" 2>/dev/null


# --- --lease is a Lease reference: a name that is not an RFC 1123 subdomain went into the URL path unescaped
# ('default/x?y' elected on Lease x) ---
out=$(timeout $((5 * TW)) $LF elect --lease 'default/x?y' --identity a "${DUR[@]}" 2>&1); rc=$?
expect_eq "--lease 'default/x?y' is refused (exit 2)" 2 "$rc"
check "the message names the flag, the value and the rule" \
  grep -qxF "leasefence elect: --lease 'default/x?y': name 'x?y' is not a valid Lease name (RFC 1123 subdomain)" <<<"$out"
expect_eq "no Lease x was taken" "" "$(holder x)"
out=$(timeout $((5 * TW)) $LF elect --lease 'Default/x' --identity a 2>&1); rc=$?
expect_eq "--lease with a namespace that is not an RFC 1123 label is refused (exit 2)" 2 "$rc"
check "the message names the namespace" grep -q "namespace 'Default' is not a valid namespace name" <<<"$out"

# --- flags through getopt_long: --flag=value, a missing value, an argument outside "--" ---
out=$($LF elect --lease default/x --identity 2>&1); rc=$?
expect_eq "a flag without its value is refused (exit 2)" 2 "$rc"
check "the message names the flag" grep -qxF "leasefence elect: --identity needs a value" <<<"$out"
out=$($LF elect --lease=default/x --identity=a --lease-duration=2fortnights 2>&1); rc=$?
expect_eq "--flag=value is read (a bad duration is refused, exit 2)" 2 "$rc"
check "the message names the flag and the value" grep -q "^leasefence elect: --lease-duration: invalid duration '2fortnights'" <<<"$out"
out=$($LF elect --lease default/x --identity a stray 2>&1); rc=$?
expect_eq "an argument outside '--' is refused (exit 2)" 2 "$rc"
check "the message names it" grep -q "^leasefence elect: unknown argument 'stray'" <<<"$out"
out=$($LF elect --help); bad=
for f in --lease --identity --kubeconfig --lease-duration --renew-deadline --retry-period --status-listen \
  --grace-period --log-level; do grep -q -- "$f" <<<"$out" || bad="$bad $f"; done
expect_eq "--help lists every flag" "" "$bad"

# --- fork in a threaded process: the child makes only async-signal-safe calls (its argv, environment and
# path are built before the fork).  The shim makes a child of fork that calls setenv, execvp, fprintf...
# say so and exit 97. ---
SHIM=$TMP/preload_shim.so
${CC:-cc} -shared -fPIC -O1 -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wformat=2 -Werror \
  -o "$SHIM" "$ROOT/tests/integration/preload_shim.c" -ldl || fail "the preload shim builds"
SHIMMED=(env LD_PRELOAD="$SHIM" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
bg "$TMP/fork.log" "${SHIMMED[@]}" LEASEFENCE_TEST_FORK_UNSAFE=1 LEASEFENCE_EPOCH=stale "$BUILD/leasefence" elect \
  --lease default/fork --identity fk "${DUR[@]}" -- \
  sh -c "echo \"\$LEASEFENCE_EPOCH \$LEASEFENCE_IDENTITY \$LEASEFENCE_LEASE\" > '$TMP/fork.out'; exec sleep 60"
FORK_PID=$LAST_PID
check "fork: the command (found on PATH) runs" wait_for $((5 * TW)) test -s "$TMP/fork.out"
expect_eq "fork: it sees its epoch (not the inherited one), identity and lease" \
  "$(lf fork .metadata.uid)/0 fk default/fork" "$(cat "$TMP/fork.out" 2>/dev/null)"
check "fork: the child made no unsafe call" bash -c "! grep -q preload_shim '$TMP/fork.log'"
kill "$FORK_PID" 2>/dev/null; wait "$FORK_PID" 2>/dev/null
bg "$TMP/norun.log" "${SHIMMED[@]}" LEASEFENCE_TEST_FORK_UNSAFE=1 "$BUILD/leasefence" elect \
  --lease default/norun --identity nr "${DUR[@]}" -- "$TMP/no-such-command"
NORUN_PID=$LAST_PID
check "a command that cannot run: the parent logs the system's error" wait_for $((5 * TW)) \
  grep -q '"msg":"cannot run command".*"error":"No such file or directory"' "$TMP/norun.log"
check "a command that cannot run: the child made no unsafe call" bash -c "! grep -q preload_shim '$TMP/norun.log'"
kill "$NORUN_PID" 2>/dev/null; wait "$NORUN_PID" 2>/dev/null

# --- PATH search as execvp's: a directory named like the command is passed over ---
mkdir -p "$TMP/path1/lfcmd" "$TMP/path2"
printf '#!/bin/sh\necho found > "%s"\nexec sleep 60\n' "$TMP/lfcmd.out" >"$TMP/path2/lfcmd"
chmod +x "$TMP/path2/lfcmd"
bg "$TMP/lfcmd.log" env PATH="$TMP/path1:$TMP/path2:$PATH" "$BUILD/leasefence" elect \
  --lease default/pathsearch --identity ps "${DUR[@]}" -- lfcmd
PS_PID=$LAST_PID
check "PATH: a directory of the command's name is passed over, the program after it runs" \
  wait_for $((5 * TW)) grep -q found "$TMP/lfcmd.out"
check "PATH: no 'cannot run command'" bash -c "! grep -q 'cannot run command' '$TMP/lfcmd.log'"
kill "$PS_PID" 2>/dev/null; wait "$PS_PID" 2>/dev/null
# A script without a '#!' line is run by /bin/sh, as execvp runs it (execve says ENOEXEC).
printf 'echo "plain $1" > "%s"\nexec sleep 60\n' "$TMP/plain.out" >"$TMP/path2/lfplain"
chmod +x "$TMP/path2/lfplain"
bg "$TMP/lfplain.log" env PATH="$TMP/path2:$PATH" "$BUILD/leasefence" elect \
  --lease default/plainscript --identity pl "${DUR[@]}" -- lfplain arg1
PL_PID=$LAST_PID
check "a script without '#!': run by /bin/sh, with its arguments" wait_for $((5 * TW)) grep -qx 'plain arg1' "$TMP/plain.out"
kill "$PL_PID" 2>/dev/null; wait "$PL_PID" 2>/dev/null

# --- a thread that cannot start is an error, not a pthread_join on a handle never set ---
for t in "1 signal" "2 status server"; do
  out=$("${SHIMMED[@]}" LEASEFENCE_TEST_FAIL_PTHREAD_CREATE=${t%% *} timeout -k 5 $((10 * TW)) "$BUILD/leasefence" elect \
    --lease default/pt --identity pt "${DUR[@]}" --status-listen 127.0.0.1:0 2>&1); rc=$?
  expect_eq "the ${t#* } thread cannot start: exit 1" 1 "$rc"
  check "the ${t#* } thread cannot start: the message says so" \
    grep -qxF "leasefence elect: cannot start the ${t#* } thread: Resource temporarily unavailable" <<<"$out"
done

done_testing
