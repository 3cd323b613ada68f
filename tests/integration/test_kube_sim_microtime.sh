#!/usr/bin/env bash
# kube-sim holds Lease MicroTimes (spec.acquireTime, spec.renewTime) to
# kube-apiserver's rule, over the wire:
#   - apimachinery's MicroTime.UnmarshalJSON is
#     time.Parse("2006-01-02T15:04:05.000000Z07:00", s) (Go 1.23 rules: '.' or
#     ',' before exactly six digits; "Z" or ±hh:mm with hh <= 24, mm <= 60),
#     and MarshalJSON writes t.UTC() in that layout: what a client reads back
#     is UTC, "Z", six digits, whatever zone it wrote;
#   - the write path compares the encoded object with the stored one and
#     skips the write when they are equal: the same instant in another zone
#     keeps the resourceVersion and sends no watch event;
#   - a time.Parse error (e.g. "+25:00") is a decode error: 400 BadRequest
#     "Lease in version "v1" cannot be handled as a Lease: parsing time …".
#     The message quotes the value, not the field: the JSON decoder returns an
#     Unmarshaler's error as it is (only type errors get "Go struct field …").
. "$(dirname "$0")/../lib.sh"
[ -x "$BUILD/kube-sim" ] || { fail "build/kube-sim missing: run make test-build"; done_testing; exit 1; }

D=$TMP/sim; mkdir -p "$D"
bg "$TMP/sim.log" "$BUILD/kube-sim" --addr 127.0.0.1:0 --control-addr 127.0.0.1:0 --dir "$D" --quiet
wait_for 20 test -s "$D/addr" || { fail "kube-sim did not start"; cat "$TMP/sim.log"; done_testing; exit 1; }
A=$(cat "$D/addr"); TOK=$(cat "$D/token")
LP="https://$A/apis/coordination.k8s.io/v1/namespaces/default/leases"
api() { curl -s --cacert "$D/ca.crt" -H "Authorization: Bearer $TOK" "$@"; }
send() {  # send METHOD URL BODY [CONTENT-TYPE]: prints the answer, then the HTTP code on its own line
  api -X "$1" -H "Content-Type: ${4:-application/json}" -d "$3" -w '\n%{http_code}' "$2"
}
lease() {  # lease NAME RENEW ACQUIRE [RESOURCEVERSION]
  printf '{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"%s"%s},"spec":{"holderIdentity":"pod-a","leaseDurationSeconds":10,"renewTime":"%s","acquireTime":"%s"}}' \
    "$1" "${4:+,\"resourceVersion\":\"$4\"}" "$2" "$3"
}

# Re-encoded: UTC, Z, six digits; a comma fraction and any offset accepted.
out=$(send POST "$LP" "$(lease mt 2026-11-24T06:12:00,123456+05:30 2026-11-24T06:12:00.000001-00:00)")
expect_eq "create with +05:30 and a comma fraction: 201" 201 "$(tail -n1 <<<"$out")"
expect_eq "create answer re-encoded" "2026-11-24T00:42:00.123456Z 2026-11-24T06:12:00.000001Z" \
  "$(head -n -1 <<<"$out" | jq -r '"\(.spec.renewTime) \(.spec.acquireTime)"')"
got=$(api "$LP/mt")
expect_eq "stored re-encoded" "2026-11-24T00:42:00.123456Z 2026-11-24T06:12:00.000001Z" "$(jq -r '"\(.spec.renewTime) \(.spec.acquireTime)"' <<<"$got")"
check "raw JSON carries the canonical form" grep -q '"renewTime":"2026-11-24T00:42:00.123456Z"' <<<"$got"
rv=$(jq -r .metadata.resourceVersion <<<"$got")
out=$(send POST "$LP" "$(lease edge 2026-11-24T06:12:00.123456+24:00 2026-11-24T6:12:00.123456+05:60)")
expect_eq "+24:00, +05:60 and a 1-digit hour accepted (Go's > 24 / > 60 range test)" "201 2026-11-23T06:12:00.123456Z 2026-11-24T00:12:00.123456Z" \
  "$(tail -n1 <<<"$out") $(head -n -1 <<<"$out" | jq -r '"\(.spec.renewTime) \(.spec.acquireTime)"')"

# The same instants in other zones: a no-op update, no event.
api -N "$LP?watch=1&resourceVersion=$(api "$LP" | jq -r .metadata.resourceVersion)" >"$TMP/watch.out" & PIDS+=($!)
out=$(send PUT "$LP/mt" "$(lease mt 2026-11-23T19:42:00.123456-05:00 2026-11-24T07:12:00,000001+01:00 "$rv")")
expect_eq "PUT of the same instants in other zones: 200, same resourceVersion" "200 $rv" \
  "$(tail -n1 <<<"$out") $(head -n -1 <<<"$out" | jq -r .metadata.resourceVersion)"
out=$(send PATCH "$LP/mt" '{"spec":{"renewTime":"2026-11-24T01:42:00.123456+01:00"}}' application/merge-patch+json)
expect_eq "merge patch of the same instant: 200, same resourceVersion" "200 $rv" \
  "$(tail -n1 <<<"$out") $(head -n -1 <<<"$out" | jq -r .metadata.resourceVersion)"
expect_eq "GET: still the same resourceVersion" "$rv" "$(api "$LP/mt" | jq -r .metadata.resourceVersion)"
# A real change next: the watch's first event must be it (a no-op write would come first).
out=$(send PATCH "$LP/mt" '{"spec":{"renewTime":"2026-11-24T06:12:01.000000+05:30"}}' application/merge-patch+json)
rv2=$(head -n -1 <<<"$out" | jq -r .metadata.resourceVersion)
check "a new instant is written (new resourceVersion)" test "$rv2" -gt "$rv"
check "watch sees the change" wait_for 10 grep -q MODIFIED "$TMP/watch.out"
expect_eq "watch: the only event is the real change, re-encoded" "MODIFIED $rv2 2026-11-24T00:42:01.000000Z" \
  "$(jq -r '"\(.type) \(.object.metadata.resourceVersion) \(.object.spec.renewTime)"' "$TMP/watch.out")"

# Out of range or malformed: 400 from the decoder, naming the value; nothing stored.
refused() {  # refused NAME TIME WANT-MESSAGE-TAIL
  local out
  out=$(send POST "$LP" "$(lease "$1" "$2" 2026-11-24T06:12:00.000000Z)")
  expect_eq "renewTime $2: 400 BadRequest" "400 BadRequest 400 Lease in version \"v1\" cannot be handled as a Lease: parsing time \"$2\"$3" \
    "$(tail -n1 <<<"$out") $(head -n -1 <<<"$out" | jq -r '"\(.reason) \(.code) \(.message)"')"
  expect_eq "renewTime $2: nothing stored" 404 "$(api -o /dev/null -w '%{http_code}' "$LP/$1")"
}
refused bad1 2026-11-24T06:12:00.123456+25:00 ': time zone offset hour out of range'
refused bad2 2026-11-24T06:12:00.123456-05:61 ': time zone offset minute out of range'
refused bad3 2026-11-24T06:12:00.123456+0530 ' as "2006-01-02T15:04:05.000000Z07:00": cannot parse "+0530" as "Z07:00"'
refused bad4 2026-11-24T06:12:00.123456z ' as "2006-01-02T15:04:05.000000Z07:00": cannot parse "z" as "Z07:00"'
refused bad5 2026-11-24T06:12:00.123+05:30 ' as "2006-01-02T15:04:05.000000Z07:00": cannot parse ".123+05:30" as ".000000"'
out=$(send PATCH "$LP/mt" '{"spec":{"acquireTime":"2026-11-24T06:12:00.000000+25:00"}}' application/merge-patch+json)
expect_eq "patch to +25:00: 400" 400 "$(tail -n1 <<<"$out")"
expect_eq "the patched Lease is unchanged" "$rv2" "$(api "$LP/mt" | jq -r .metadata.resourceVersion)"

done_testing
