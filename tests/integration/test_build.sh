#!/usr/bin/env bash
# The build is honest: in a copy of the sources made into a git repository of
# its own, plain `make` builds the product without Go or cmocka and hardened
# (readelf: PIE, full RELRO, stack protector, FORTIFY); --version,
# leasefence_build_info and the User-Agent carry VERSION and the commit, and
# follow a change of either, rebuilding only the objects that use them; a
# change of the compiler flags rebuilds everything, and a second make does
# nothing; -Werror comes with DEVELOPER=1 only; FORTIFY is left out at -O0;
# `make install` honours PREFIX and DESTDIR and its library links; `make help`
# names the targets.  About a minute: three full builds on 2 cores.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tests/lib-hardening.sh"
PY=/usr/bin/python3

if [ -n "${LEASEFENCE_WRAPPER:-}${LEASEFENCE_BUILD:-}" ]; then
  # make sanitize / make valgrind: this test builds with the default compiler
  # and runs nothing under a tool, so it would only repeat make test's run.
  ok "build checks run under make test (skipped under LEASEFENCE_BUILD/LEASEFENCE_WRAPPER)"
  done_testing; exit
fi

T=$TMP/tree
mkdir -p "$T" && cp -r "$ROOT/Makefile" "$ROOT/VERSION" "$ROOT/elector" "$ROOT/server" "$T/" && rm -rf "$T/build"
git_t() { git -C "$T" -c user.name=test -c user.email=test@example.invalid "$@"; }
git_t init -q && git_t add -A && git_t commit -qm one || { fail "a git repository of the sources"; done_testing; exit 1; }
C1=$(git_t rev-parse --short=12 HEAD)
VERSION=$(cat "$T/VERSION")
LOG=$TMP/make.log
mk() { make -C "$T" -j2 "$@" >"$LOG" 2>&1; }
# The objects a make run compiled, as "elector/kube server/main ..." (sorted).
compiled() { sed -n 's|.* -c \([a-z/_]*\)\.c -o .*|\1|p' "$LOG" | sort | paste -sd' ' -; }
ALL_OBJS=$(cd "$T" && ls elector/*.c elector/common/*.c server/*.c | sed 's/\.c$//' | sort | paste -sd' ' -)

# ---- plain make: the product only, hardened, no -Werror ----------------------------
check "make (GO=false: no Go needed)" mk GO=false
check "make built build/leasefence and build/libleasefence-elector.a" test -x "$T/build/leasefence" -a -f "$T/build/libleasefence-elector.a"
check "make built no kube-sim and no unit test (no Go, no cmocka)" \
  bash -c "[ ! -e '$T/build/kube-sim' ] && [ ! -e '$T/build/tests' ] && ! grep -q -e cmocka -e tests/unit '$LOG'"
check "a release build has no -Werror" bash -c "! grep -q -- -Werror '$LOG'"
check_hardening "make: build/leasefence" "$T/build/leasefence"
expect_eq "--version: VERSION and the commit" "leasefence $VERSION ($C1)" "$("$T/build/leasefence" --version)"
mk GO=false
expect_eq "a second make compiles nothing" "" "$(compiled)"
check "a second make links nothing" bash -c "! grep -q -- '-o build/leasefence' '$LOG'"

# ---- VERSION changes: --version, the metric and the User-Agent follow ------------
echo 9.9.9 >"$T/VERSION"
mk
expect_eq "VERSION changed: only the objects that use version.h are rebuilt" \
  "elector/kube server/main server/metrics server/serve" "$(compiled)"
expect_eq "--version says 9.9.9, and the tree is dirty" "leasefence 9.9.9 ($C1-dirty)" "$("$T/build/leasefence" --version)"

# The User-Agent, from a fake API server that records it; serve's tracker asks it for the fenced Lease.
cat >"$TMP/api.py" <<'PY'
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(sys.argv[2], "a") as f: f.write(self.headers.get("User-Agent", "-") + "\n")
        body = b'{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"ServiceUnavailable","code":503}'
        self.send_response(503); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)  # port 0: the port it got goes to argv[1]
with open(sys.argv[1] + ".tmp", "w") as f: f.write("127.0.0.1:%d\n" % srv.server_address[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
srv.serve_forever()
PY
bg "$TMP/api.log" $PY "$TMP/api.py" "$TMP/api.addr" "$TMP/ua.txt"
API=$(port_from "$TMP/api.addr") || fail "the fake API server starts"
write_kubeconfig "$TMP/kubeconfig" "http://127.0.0.1:$API" t
echo '{"fences": [{"lease": "demo/x", "writers": {"users": ["w"]}}]}' >"$TMP/config.json"
"$ROOT/certs/generate.sh" "$TMP/certs" >/dev/null 2>&1 || fail "certificates"
bg "$TMP/serve.log" "$T/build/leasefence" serve --config "$TMP/config.json" --kubeconfig "$TMP/kubeconfig" \
  --tls-cert "$TMP/certs/tls.crt" --tls-key "$TMP/certs/tls.key" --listen 127.0.0.1:0 --probe-listen 127.0.0.1:0 --threads 1
PROBE=$(listen_port "$TMP/serve.log" --probe-listen "$LAST_PID") || fail "serve listens on the probe port it bound"
check "serve starts" wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$PROBE/healthz"
expect_eq "leasefence_build_info carries 9.9.9 and the commit" "leasefence_build_info{version=\"9.9.9\",commit=\"$C1-dirty\"} 1" \
  "$(curl -s "http://127.0.0.1:$PROBE/metrics" | grep '^leasefence_build_info')"
check "the API server was asked" wait_for 10 test -s "$TMP/ua.txt"
expect_eq "User-Agent carries 9.9.9" "leasefence/9.9.9" "$(head -1 "$TMP/ua.txt")"
kill "${PIDS[@]}" 2>/dev/null

git_t commit -qam two
C2=$(git_t rev-parse --short=12 HEAD)
mk
expect_eq "a new commit: only the objects that use version.h are rebuilt" \
  "elector/kube server/main server/metrics server/serve" "$(compiled)"
expect_eq "--version carries the new commit, clean" "leasefence 9.9.9 ($C2)" "$("$T/build/leasefence" --version)"

# ---- flags ------------------------------------------------------------------------------
mk CFLAGS=-O1
expect_eq "CFLAGS changed: every object is rebuilt" "$ALL_OBJS" "$(compiled)"
check "and build/leasefence is linked again" grep -q -- '-o build/leasefence' "$LOG"
mk CFLAGS=-O1
expect_eq "the same CFLAGS again: nothing is rebuilt" "" "$(compiled)"

# -Werror with DEVELOPER=1 only: a warning of the kind the flags ask for.
echo 'static int leasefence_test_unused;' >>"$T/server/decide.c"
check "a warning does not fail a release build" mk CFLAGS=-O1
check "  (it was a warning)" grep -q "warning: .*leasefence_test_unused" "$LOG"
check "DEVELOPER=1 builds with -Werror: the warning fails the build" bash -c "! make -C '$T' -j2 CFLAGS=-O1 DEVELOPER=1 >'$LOG' 2>&1"
check "  (because of the warning)" grep -q "error: .*leasefence_test_unused" "$LOG"
git_t checkout -q -- server/decide.c

# FORTIFY needs optimization: at -O0 it is left out, so -Werror has nothing to say.
check "CFLAGS='-O0 -g' DEVELOPER=1 builds" mk CFLAGS="-O0 -g" DEVELOPER=1
check "  without _FORTIFY_SOURCE" bash -c "! grep -q _FORTIFY_SOURCE '$T/build/BUILD-FLAGS'"
check "  and the default flags have it" bash -c "make -C '$T' -n -B build/obj/server/decide.o | grep -q -- '-D_FORTIFY_SOURCE=3'"

# No commit: a build outside a git checkout (the Dockerfile's, when no commit is given).
mk CFLAGS="-O0 -g" DEVELOPER=1 LEASEFENCE_COMMIT=
expect_eq "LEASEFENCE_COMMIT empty: only the objects that use version.h are rebuilt" \
  "elector/kube server/main server/metrics server/serve" "$(compiled)"
expect_eq "  and --version names no commit" "leasefence 9.9.9" "$("$T/build/leasefence" --version)"
mkdir -p "$TMP/nogit" && cp -r "$T/Makefile" "$T/VERSION" "$T/elector" "$T/server" "$TMP/nogit/"
check "outside a git checkout the version header is made" make -C "$TMP/nogit" -s build/gen/version.h
check "  with no commit" grep -qx '#define LEASEFENCE_COMMIT ""' "$TMP/nogit/build/gen/version.h"
check "a commit that is not a commit is refused" bash -c "! make -C '$T' -n \"LEASEFENCE_COMMIT=a'b\" >/dev/null 2>&1"
mk CFLAGS="-O0 -g" DEVELOPER=1

# ---- install, help ------------------------------------------------------------------------
S=$TMP/stage
check "make install PREFIX=/usr DESTDIR=…" mk CFLAGS="-O0 -g" DEVELOPER=1 install PREFIX=/usr DESTDIR="$S"
expect_eq "make install compiles nothing" "" "$(compiled)"
expect_eq "installed binary runs" "leasefence 9.9.9 ($C2)" "$("$S/usr/bin/leasefence" --version 2>&1)"
expect_eq "make install installs the public headers only" "candidate.h client.h elector.h log.h tracker.h" \
  "$(ls "$S/usr/include/leasefence" | paste -sd' ' -)"
# A tiny embedder, on the installed public headers alone: a candidate's configuration and a log sink.
cat >"$TMP/embed.c" <<'EOF'
#include <leasefence/elector.h>
#include <stdio.h>
#include <string.h>
static int lines;
static void sink(void *ctx, enum log_level level, const char *line, size_t len)
{
    (void)ctx, (void)level;
    lines += len > 0 && line[len - 1] == '\n' && memchr(line, '\n', len) == line + len - 1;
}
int main(void)
{
    struct candidate_config cfg;
    char err[256];
    int64_t ns = 0;
    candidate_config_init(&cfg);
    cfg.ns = "demo", cfg.name = "x?y", cfg.identity = "me";
    if (candidate_config_validate(&cfg, err, sizeof(err)) == 0 || candidate_parse_duration("1m30s", &ns) != 0)
        return 1;
    log_set_sink(sink, NULL);
    if (log_set_level("info") != 0)
        return 1;
    log_event(LOGL_INFO, "embedded", "error", err, NULL);
    struct kube_client *c = kube_client_new("/nonexistent/kubeconfig", err, sizeof(err));
    printf("%d %lld %s\n", lines, (long long)ns, c == NULL ? err : "client?");
    return 0;
}
EOF
EMBED_CC=(cc -std=c11 -Wall -Wextra -Werror -I"$S/usr/include")
check "a program builds against the installed headers and library (-Wall -Wextra -Werror)" \
  "${EMBED_CC[@]}" -o "$TMP/embed" "$TMP/embed.c" "$S/usr/lib/libleasefence-elector.a" \
  -lcurl -ljansson -lyaml -lssl -lcrypto -pthread -lm
expect_eq "  and runs: the sink got the line, durations and the client work" \
  "1 90000000000 kubeconfig '/nonexistent/kubeconfig': cannot open: No such file or directory" "$("$TMP/embed" 2>&1)"
# -H lists every header a compile opens: none of curl, jansson, libyaml or the library's internals.
"${EMBED_CC[@]}" -E -H "$TMP/embed.c" >/dev/null 2>"$TMP/embed.headers"
check "  the public headers open no curl, jansson or internal header" \
  bash -c "grep -q leasefence/client.h '$TMP/embed.headers' && ! grep -E 'curl|jansson|yaml|/kube\.h|/lease\.h|testing\.h|xmem|lf_' '$TMP/embed.headers'"
help=$(make -C "$T" --no-print-directory help)
check "make help names plain make" grep -q "^  make  " <<<"$help"
for t in "make install" "make image" "make test" "make sanitize" "make valgrind" "make fuzz" "make bench" "make soak" "make demo"; do
  check "make help names '$t'" grep -q "^  $t" <<<"$help"
done

# ---- the checker catches what it checks ----------------------------------------------
printf '#include <stdio.h>\n#include <string.h>\nint main(int c, char **v) { char b[8]; strcpy(b, v[0]); printf("%%s%%d\\n", b, c); return 0; }\n' >"$TMP/plain.c"
cc -O2 -fno-stack-protector -U_FORTIFY_SOURCE -no-pie -fno-pie -Wl,-z,norelro -o "$TMP/plain" "$TMP/plain.c" 2>/dev/null
out=$( (N_OK=0 N_FAIL=0; check_hardening plain "$TMP/plain") )
for p in "PIE" "full RELRO" "stack protector" "FORTIFY_SOURCE"; do
  check "the hardening check flags a binary without $p" grep -q "^not ok - plain: $p" <<<"$out"
done

done_testing
