#!/usr/bin/python3
"""oracle.py: judges a run from kube-sim's own ordered log (GET /log).

  oracle.py (--log FILE | --ctl HOST:PORT) [--elector-log POD=FILE ...] [--json OUT]
            [--slack-ms 20] [--quiet]

The log holds, in commit order, every committed Lease record and every
admission decision.  The fence's view of the Lease can only move forward (the
tracker replaces its snapshot by a newer one), and is never newer than the last
commit before the decision.  So each decision d has a set of Lease states
("views") it is consistent with:

A write's tag is the epoch annotation of its object, and counts only when the write set it: a
tag equal to the stored object's (the last commit of that object before the admission) is the
stored object's, not this write's, and the write counts as untagged (as leasefence decides).

  allowed          holder == pod and (untagged or tag == epoch)
  not-holder       holder != "" and holder != pod
  no-holder        the Lease exists, holder == ""
  no-lease         the Lease does not exist
  stale-epoch      holder == pod and tag != epoch
  expired          holder != ""
  unknown / other  any state

Walking the log, the oracle keeps the lowest view the fence must have reached
(LB): the smallest consistent state of each decision, taken in order, decisions
logged less than --slack-ms before d excepted (webhook calls run concurrently, so
neighbours in the log may have been decided in the other order).

  stale admission: an admitted write that the latest committed record does not
    allow (another holder, no Lease, released, or another epoch), but that an
    older record the fence may still have held does: inside the propagation
    window.  Counted, with its lag after the commit that made it stale.
  violation: an admitted write that no record in [LB, latest] allows: the fence
    had provably observed a newer record.  Must be 0.
  admitted after sent (strict fences' rule): an admitted write that no record from
    the one committed when its admission call was sent (kube-sim's sent_mono_ns)
    to the latest allows: the change that made it stale was committed before the
    call started.  A strict fence reads the Lease after the review arrives, so
    must have 0; a watch fence has them inside its propagation window.
  window of a holder change: from its commit to the first decision that proves
    the fence observed it (an upper bound of the propagation delay).
  fence gap: from a commit that took the Lease away from replica X (another
    holder, release, deletion) to the first denial of X.
  client-side window: from that commit to X's elector logging "stopped leading".
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kclient as k  # noqa: E402

FENCED_RES = {("", "configmaps"), ("authentication.k8s.io", "tokenreviews")}


def pct(vals, p):
    if not vals:
        return None
    s = sorted(vals)
    i = min(len(s) - 1, max(0, int(round(p / 100.0 * (len(s) - 1)))))
    if p >= 99 and len(s) < 100:
        i = min(len(s) - 1, int(-(-p * len(s) // 100)) - 1)  # nearest-rank
    return s[i]


def dist(vals):
    if not vals:
        return {"n": 0}
    return {"n": len(vals), "p50": round(pct(vals, 50), 3), "p99": round(pct(vals, 99), 3),
            "max": round(max(vals), 3), "min": round(min(vals), 3)}


def fmt_dist(d, unit="ms"):
    if not d or d.get("n", 0) == 0:
        return "n=0"
    return "n=%d p50=%.1f%s p99=%.1f%s max=%.1f%s" % (d["n"], d["p50"], unit, d["p99"], unit, d["max"], unit)


class State:
    __slots__ = ("idx", "exists", "holder", "epoch", "duration", "mono", "time", "seq", "by", "verb", "transitions",
                 "acquire")

    def __init__(self, idx, exists, f, e):
        self.idx = idx
        self.exists = exists
        self.holder = f["holder"] if (exists and f) else ""
        self.epoch = f["epoch"] if (exists and f) else ""
        self.duration = f["duration"] if (exists and f) else 0
        self.transitions = f["transitions"] if (exists and f) else 0
        self.acquire = f["acquire"] if (exists and f) else None
        self.mono = e["mono_ns"] if e else 0
        self.time = k.parse_time(e["time"]) if e else 0
        self.seq = e["seq"] if e else 0
        self.by = (e.get("podName") or e.get("user") or "") if e else ""
        self.verb = e.get("verb") if e else ""


def consistent(d, s):
    pod, tag, kind = d["pod"], d["tag"], d["kind"]
    if kind == "allowed":
        return s.exists and s.holder == pod and (tag is None or tag == s.epoch)
    if kind == "not-holder":
        return s.exists and s.holder != "" and s.holder != pod
    if kind == "no-holder":
        return s.exists and s.holder == ""
    if kind == "no-lease":
        return not s.exists
    if kind == "stale-epoch":
        return s.exists and s.holder == pod and tag is not None and tag != s.epoch
    if kind == "expired":
        return s.exists and s.holder != ""
    return True  # unknown, untagged, unclassified, webhook failures


def fence_observations(states, metrics, changes):
    """Matches leasefence's own observations (from fencewatch.py) to kube-sim commits.

    Returns [(state index, observed unix time, lag ms)], one per distinct observation."""
    out = []
    seen = set()
    change_set = set(changes)
    for m in metrics:
        if "age" not in m or m.get("synced") is False:
            continue
        t_obs = m["t"] - m["age"]
        holder, trans = m.get("holder", ""), m.get("transitions", 0)
        best = None
        for st in states[1:]:
            if st.time > t_obs + 0.003:
                break
            key = (st.holder, st.transitions) if st.exists else ("", 0)
            if key == (holder, trans):
                best = st
        if best is None or best.idx in seen:
            continue
        seen.add(best.idx)
        out.append((best.idx, t_obs, (t_obs - best.time) * 1000.0, best.idx in change_set))
    return out


def analyze(entries, ns, name, slack_ms, elector_logs, metrics=None):
    states = [State(0, False, None, None)]
    decisions = []
    stored_tag = {}  # (group, resource, namespace, name) -> epoch tag of the last committed object
    first_seq = min((e["seq"] for e in entries), default=1)
    for e in sorted(entries, key=lambda x: x["seq"]):
        obj_key = (e.get("group", ""), e.get("resource"), e.get("namespace"), e.get("name"))
        if e.get("type") == "commit":
            stored_tag[obj_key] = k.object_tag(e.get("object")) if e.get("verb") != "delete" else None
        if e.get("type") == "commit" and e.get("group") == "coordination.k8s.io" and e.get("resource") == "leases" \
                and e.get("namespace") == ns and e.get("name") == name:
            exists = e.get("verb") != "delete"
            f = k.lease_fields(e.get("object")) if exists else None
            states.append(State(len(states), exists, f, e))
        elif e.get("type") == "admission" and (e.get("group", ""), e.get("resource")) in FENCED_RES \
                and e.get("user") == k.WRITER_USER and not e.get("dryRun"):
            allowed = bool(e.get("allowed"))
            if allowed:
                kind = "allowed"
            elif e.get("reason") == "InternalError":
                kind = "webhook-error"
            else:
                kind = k.classify(e.get("message", "").split("denied the request:", 1)[-1])
            tag = k.object_tag(e.get("object"))
            if tag is not None and e.get("verb") != "create" and stored_tag.get(obj_key) == tag:
                tag = None  # the stored object's tag, left as it was: not this write's
            decisions.append({"seq": e["seq"], "mono": e["mono_ns"], "sent": e.get("sent_mono_ns"),
                              "time": k.parse_time(e["time"]),
                              "pod": e.get("podName") or "", "tag": tag,
                              "kind": kind, "allowed": allowed, "cur": len(states) - 1,
                              "resource": e.get("resource"), "verb": e.get("verb")})

    slack = slack_ms * 1e6
    lb = 0
    pending = []  # (mono, view) of decisions not yet older than the slack
    stale, violations, unexplained, expired_by_clock = [], [], [], []
    first_proof = {}  # state idx -> mono of the first decision whose view is >= idx
    reasons = {}
    for d in decisions:
        reasons[d["kind"]] = reasons.get(d["kind"], 0) + 1
        keep = []
        for m, v in pending:
            if m <= d["mono"] - slack:
                lb = max(lb, v)
            else:
                keep.append((m, v))
        pending = keep
        cur = d["cur"]
        cands = [i for i in range(lb, cur + 1) if consistent(d, states[i])]
        if not cands:
            older = [i for i in range(0, lb) if consistent(d, states[i])]
            rec = dict(d, lb=lb, lb_seq=states[lb].seq, older=older[-1] if older else None)
            if d["allowed"]:
                violations.append(rec)
            else:
                unexplained.append(rec)
            continue
        v = cands[0]
        pending.append((d["mono"], v))
        if d["kind"] not in ("unknown", "webhook-error", "denied", "untagged"):
            for i in range(v, 0, -1):
                if i in first_proof:
                    break
                first_proof[i] = d["mono"]
        if d["allowed"]:
            smax = cands[-1]
            if smax < cur:
                nxt = states[smax + 1]
                s_cur = states[cur]
                why = "tag" if (s_cur.exists and s_cur.holder == d["pod"]) else "holder"
                stale.append(dict(d, lag_ms=(d["mono"] - nxt.mono) / 1e6, why=why, change_seq=nxt.seq))
            else:
                s = states[cur]
                if s.duration and d["mono"] > s.mono + s.duration * 1e9:
                    expired_by_clock.append(dict(d, excess_ms=(d["mono"] - s.mono - s.duration * 1e9) / 1e6))

    # Admitted although the record committed when the call was sent (or any later one) says otherwise.
    after_sent, sent_known = [], 0
    si = 0
    for d in decisions:
        if not d["allowed"] or d["sent"] is None:
            continue
        sent_known += 1
        while si + 1 < len(states) and states[si + 1].mono <= d["sent"]:
            si += 1
        j = si
        while j > 0 and states[j].mono > d["sent"]:  # decisions are in log order, not in sent order
            j -= 1
        if any(consistent(d, states[i]) for i in range(j, d["cur"] + 1)):
            continue
        newest = max((i for i in range(0, j) if consistent(d, states[i])), default=None)
        change = states[newest + 1] if newest is not None else states[j]
        after_sent.append(dict(d, lag_ms=(d["sent"] - change.mono) / 1e6, change_seq=change.seq))

    # Holder changes: states whose (exists, holder, epoch) differ from the previous one.
    changes = []
    for i in range(1, len(states)):
        a, b = states[i - 1], states[i]
        if (a.exists, a.holder, a.epoch) != (b.exists, b.holder, b.epoch):
            changes.append(i)
    windows = []
    for i in changes:
        if i in first_proof:
            windows.append((first_proof[i] - states[i].mono) / 1e6)

    # Fence gap: a commit that takes the Lease away from X -> the first denial of X after it.
    pods = set(d["pod"] for d in decisions)
    gaps, gap_rows = [], []
    di = 0
    for i in changes:
        a, b = states[i - 1], states[i]
        x = a.holder
        if not a.exists or not x or x not in pods or (b.exists and b.holder == x):
            continue
        kind = "deleted" if not b.exists else ("released" if b.holder == "" else "taken")
        while di < len(decisions) and decisions[di]["seq"] < b.seq:
            di += 1
        first_denial, admitted_after, regained = None, 0, False
        for d in decisions[di:]:
            if d["cur"] > i and any(states[j].exists and states[j].holder == x for j in range(i + 1, d["cur"] + 1)):
                regained = True
                break
            if d["pod"] != x:
                continue
            if d["allowed"]:
                admitted_after += 1
            elif d["kind"] != "webhook-error":
                first_denial = d
                break
        row = {"change_seq": b.seq, "from": x, "to": b.holder if b.exists else None, "kind": kind, "by": b.by,
               "time": b.time, "admitted_after": admitted_after}
        if first_denial is not None:
            row["gap_ms"] = (first_denial["mono"] - b.mono) / 1e6
            gaps.append(row["gap_ms"])
        elif regained:
            row["regained_before_denial"] = True
        gap_rows.append(row)

    # Client-side window: X's own elector still believed it led until "stopped leading".
    # If X holds the Lease again before its elector notices (it re-acquired a released or deleted
    # Lease within its renew deadline, as client-go does), its belief was wrong only until then.
    client, client_regained = [], []
    for row in gap_rows:
        x = row["from"]
        lines = elector_logs.get(x)
        if lines is None or row["kind"] == "released" or row["by"] == x:
            continue
        t0 = row["time"]
        regain = None
        for st in states:
            if st.seq > row["change_seq"] and st.exists and st.holder == x:
                regain = st.time
                break
        for ln in lines:
            if ln["t"] is None or ln["t"] < t0 - 0.001:
                continue
            if regain is not None and ln["t"] > regain:
                row["client_window_ms"] = (regain - t0) * 1000.0
                row["client_regained"] = True
                client_regained.append(row["client_window_ms"])
                break
            if ln["msg"] == "stopped leading":
                row["client_window_ms"] = (ln["t"] - t0) * 1000.0
                client.append(row["client_window_ms"])
                break
            if ln["msg"] == "started leading":
                break

    # Epoch: stale tags from a replica that is the holder again (a former leader elected again).
    held = {}  # pod -> epochs it has held so far (by log order)
    reelected_attempts = reelected_admitted = 0
    si = 0
    for d in decisions:
        while si + 1 < len(states) and states[si + 1].seq < d["seq"]:
            si += 1
            s = states[si]
            if s.exists and s.holder:
                held.setdefault(s.holder, set()).add(s.epoch)
        s = states[si]
        if d["tag"] and s.exists and s.holder == d["pod"] and d["tag"] != s.epoch and d["tag"] in held.get(d["pod"], ()):
            reelected_attempts += 1
            if d["allowed"]:
                reelected_admitted += 1

    # The fence's own clock: when it observed each commit (leasefence /metrics, polled).
    obs = fence_observations(states, metrics or [], changes)
    obs_lag = [o[2] for o in obs]
    obs_lag_changes = [o[2] for o in obs if o[3]]
    first_obs = {}  # state idx -> first time the fence is known to have observed it or a later one
    for idx, t_obs, _, _ in obs:
        for i in range(idx, 0, -1):
            if i in first_obs and first_obs[i] <= t_obs:
                break
            first_obs[i] = min(first_obs.get(i, t_obs), t_obs)
    late_by_metrics = []
    for st in stale:
        i = st["change_seq"]
        idx = next(j for j in range(len(states)) if states[j].seq == i)
        t = first_obs.get(idx)
        if t is not None and st["time"] > t + slack_ms / 1000.0:
            late_by_metrics.append(dict(st, observed=t))

    tagged = [d for d in decisions if d["tag"]]
    summary = {
        "log_complete": first_seq == 1,
        "lease_commits": len(states) - 1,
        "holder_changes": len(changes),
        "decisions": len(decisions),
        "admitted": sum(1 for d in decisions if d["allowed"]),
        "denied": sum(1 for d in decisions if not d["allowed"]),
        "reasons": reasons,
        "tagged": len(tagged),
        "tagged_admitted": sum(1 for d in tagged if d["allowed"]),
        "stale_admissions": len(stale),
        "stale_by_holder": sum(1 for s in stale if s["why"] == "holder"),
        "stale_by_tag": sum(1 for s in stale if s["why"] == "tag"),
        "stale_lag_ms": dist([s["lag_ms"] for s in stale]),
        "violations": len(violations),
        "admitted_after_sent": len(after_sent),
        "admitted_after_sent_lag_ms": dist([a["lag_ms"] for a in after_sent]),
        "admitted_with_sent_time": sent_known,
        "admitted_after_sent_samples": after_sent[:10],
        "violations_tagged": sum(1 for v in violations if v["tag"]),
        "unexplained_denials": len(unexplained),
        "window_ms": dist(windows),
        "fence_observations": len(obs),
        "fence_observed_lag_ms": dist(obs_lag),
        "fence_observed_lag_changes_ms": dist(obs_lag_changes),
        "holder_changes_observed": len(obs_lag_changes),
        "admitted_after_fence_observed": len(late_by_metrics),
        "slowest_observations": [{"seq": states[i].seq, "time": states[i].time, "holder": states[i].holder,
                                  "exists": states[i].exists, "lag_ms": round(lag, 1), "holder_change": ch}
                                 for i, _, lag, ch in sorted(obs, key=lambda o: -o[2])[:5]],
        "late_by_metrics_samples": late_by_metrics[:10],
        "fence_gap_ms": dist(gaps),
        "fence_gap_rows": gap_rows,
        "client_window_ms": dist(client),
        "client_regained_ms": dist(client_regained),
        "expired_by_sim_clock": len(expired_by_clock),
        "expired_excess_ms": dist([x["excess_ms"] for x in expired_by_clock]),
        "reelected_stale_tag_attempts": reelected_attempts,
        "reelected_stale_tag_admitted": reelected_admitted,
        "violation_samples": violations[:10],
        "unexplained_samples": unexplained[:10],
        "stale_samples": stale[:10],
    }
    return summary


def read_elector_logs(specs):
    out = {}
    for spec in specs:
        pod, path = spec.split("=", 1)
        lines = out.setdefault(pod, [])
        try:
            with open(path) as f:
                for raw in f:
                    raw = raw.strip()
                    if not raw.startswith("{"):
                        continue
                    try:
                        js = json.loads(raw)
                    except ValueError:
                        continue
                    lines.append({"t": k.parse_time(js.get("ts") or js.get("time")), "msg": js.get("msg", "")})
        except OSError:
            pass
        lines.sort(key=lambda x: x["t"] or 0)
    return out


def report(s):
    p = print
    if not s["log_complete"]:
        p("oracle: WARNING: kube-sim's log does not start at seq 1 (entries were dropped); the first states are unknown")
    p("oracle: %d Lease commits (%d holder changes), %d fenced writes: %d admitted, %d denied"
      % (s["lease_commits"], s["holder_changes"], s["decisions"], s["admitted"], s["denied"]))
    p("  decisions by reason: %s" % ", ".join("%s=%d" % kv for kv in sorted(s["reasons"].items())))
    p("  stale admissions (inside the propagation window): %d (holder %d, epoch %d), lag after the change: %s"
      % (s["stale_admissions"], s["stale_by_holder"], s["stale_by_tag"], fmt_dist(s["stale_lag_ms"])))
    p("  propagation window (commit -> first decision proving the fence saw it; an upper bound): %s"
      % fmt_dist(s["window_ms"]))
    if s["fence_observations"]:
        p("  fence observation lag (commit -> leasefence saw it, from its /metrics): all %s; holder changes %s"
          % (fmt_dist(s["fence_observed_lag_ms"]), fmt_dist(s["fence_observed_lag_changes_ms"])))
        p("  stale admissions logged after the fence had observed the change (per /metrics): %d"
          % s["admitted_after_fence_observed"])
    p("  fence gap (commit taking the Lease from X -> first denial of X; X paused writes late): %s"
      % fmt_dist(s["fence_gap_ms"]))
    p("  client-side window (that commit -> X's elector logs 'stopped leading'): %s" % fmt_dist(s["client_window_ms"]))
    if s["client_regained_ms"]["n"]:
        p("    (X won the Lease back before its elector noticed the loss: %s)" % fmt_dist(s["client_regained_ms"]))
    p("  admitted outside the window (violations): %d (tagged %d)" % (s["violations"], s["violations_tagged"]))
    p("  admitted although the change was committed before the admission call was sent (strict fences: 0): %d "
      "of %d admissions with a send time, the call sent after the change by %s"
      % (s["admitted_after_sent"], s["admitted_with_sent_time"], fmt_dist(s["admitted_after_sent_lag_ms"])))
    p("  tagged writes: %d, admitted %d; stale tags from a re-elected former leader: %d tried, %d admitted"
      % (s["tagged"], s["tagged_admitted"], s["reelected_stale_tag_attempts"], s["reelected_stale_tag_admitted"]))
    p("  admitted after expiry by kube-sim's clock (fence observes later; informational): %d, excess %s"
      % (s["expired_by_sim_clock"], fmt_dist(s["expired_excess_ms"])))
    if s["unexplained_denials"]:
        p("  denials no monotone view explains (informational): %d" % s["unexplained_denials"])
    for v in s["violation_samples"]:
        p("  VIOLATION seq=%d pod=%s tag=%s view>=%d (seq %d), latest=%d, newest allowing=%s"
          % (v["seq"], v["pod"], v["tag"], v["lb"], v["lb_seq"], v["cur"], v["older"]))


def chaos_report(s, path):
    """The slowest fence observations, each with the chaos actions (soak.sh's log) just before it."""
    import time
    chaos = []
    try:
        with open(path) as f:
            for line in f:
                t, _, what = line.partition(" ")
                chaos.append((float(t), what.strip()))
    except OSError:
        pass
    print("  slowest fence observations (commit -> leasefence saw it) and the chaos just before:")
    for o in s["slowest_observations"]:
        before = [c for c in chaos if c[0] <= o["time"]][-2:]
        print("    %7.1f ms  %s  %-13s after: %s" % (
            o["lag_ms"], time.strftime("%H:%M:%S", time.gmtime(o["time"])),
            "holder change" if o["holder_change"] else "renewal",
            "; ".join("%s (%.1f s before)" % (w, o["time"] - t) for t, w in reversed(before)) or "-"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log")
    ap.add_argument("--ctl")
    ap.add_argument("--lease", default="%s/%s" % (k.NS, k.LEASE))
    ap.add_argument("--elector-log", action="append", default=[])
    ap.add_argument("--slack-ms", type=float, default=50)
    ap.add_argument("--fence-metrics", help="fencewatch.py output")
    ap.add_argument("--chaos", help="soak.sh's chaos log: unix time, action")
    ap.add_argument("--json")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    if a.log:
        with open(a.log) as f:
            entries = [json.loads(x) for x in f if x.strip()]
    else:
        entries = k.fetch_log(a.ctl)
    ns, name = a.lease.split("/", 1)
    metrics = []
    if a.fence_metrics:
        with open(a.fence_metrics) as f:
            metrics = [json.loads(x) for x in f if x.strip()]
    s = analyze(entries, ns, name, a.slack_ms, read_elector_logs(a.elector_log), metrics)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(s, f, indent=1, default=str)
    if not a.quiet:
        report(s)
        if a.chaos:
            chaos_report(s, a.chaos)
    return 1 if (s["violations"] or s["admitted_after_fence_observed"]) else 0


if __name__ == "__main__":
    sys.exit(main())
