#!/usr/bin/python3
"""demo_view.py: the live view and the summary of `make demo`, from kube-sim's log.

  demo_view.py follow --ctl HOST:PORT --t0 UNIX_TIME [--color]
      one line per Lease holder change and per fenced write, until SIGTERM
  demo_view.py summary --ctl HOST:PORT --t0 UNIX_TIME [--color] --stopped POD --stop-time T
                       [--paused POD --pause-time T --resume-time T] [--elector-log POD=FILE ...]
"""
import argparse
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kclient as k  # noqa: E402
import oracle  # noqa: E402

C = {"reset": "\033[0m", "dim": "\033[2m", "bold": "\033[1m", "red": "\033[31m", "green": "\033[32m",
     "yellow": "\033[33m", "cyan": "\033[36m"}
use_color = False


def col(name, s):
    return C[name] + s + C["reset"] if use_color else s


OPS = {("configmaps", "create"): "creates ConfigMap", ("configmaps", "update"): "updates ConfigMap",
       ("configmaps", "delete"): "deletes ConfigMap", ("tokenreviews", "create"): "creates TokenReview"}


def short_message(msg):
    m = msg.split("denied the request:", 1)[-1].strip()
    for a, b in (("leasefence: ", ""), ("; write denied", ""), (" of lease %s/%s" % (k.NS, k.LEASE), ""),
                 ("lease %s/%s" % (k.NS, k.LEASE), "the Lease"), (" (annotation 'leasefence.io/epoch')", "")):
        m = m.replace(a, b)
    return m if len(m) <= 100 else m[:97] + "..."


class View:
    def __init__(self, t0):
        self.t0 = t0
        self.lease = None  # (exists, holder, epoch)

    def stamp(self, e):
        return "%6.2fs" % (k.parse_time(e["time"]) - self.t0)

    def line(self, e):
        if e.get("type") == "commit" and e.get("resource") == "leases" and e.get("name") == k.LEASE:
            exists = e.get("verb") != "delete"
            f = k.lease_fields(e.get("object")) if exists else None
            cur = (exists, f["holder"] if f else "", f["epoch"] if f else "")
            if cur == self.lease:
                return None  # a renewal
            self.lease = cur
            if not exists:
                what = "the Lease was deleted: nobody holds it"
            elif not f["holder"]:
                what = "released: nobody holds the Lease (leaseTransitions %d)" % f["transitions"]
            else:
                what = "%s now holds the Lease (leaseTransitions %d)" % (f["holder"], f["transitions"])
            return "%s  %s  %s" % (self.stamp(e), col("cyan", "%-10s" % "LEASE"), col("bold", what))
        if e.get("type") == "admission" and e.get("user") == k.WRITER_USER:
            op = OPS.get((e.get("resource"), e.get("verb")), "%s %s" % (e.get("verb"), e.get("resource")))
            tag = k.object_tag(e.get("object"))
            if tag:
                op += " [epoch %s]" % tag.split("/")[-1]
            if e.get("allowed"):
                res = col("green", "%-8s" % "allowed") + "  current holder"
            else:
                reason = k.classify(e.get("message", "").split("denied the request:", 1)[-1])
                res = col("red", "%-8s" % "DENIED") + "  " + col("yellow", "%-11s" % reason) + col(
                    "dim", " " + short_message(e.get("message", "")))
            return "%s  %-10s  %-28s %s" % (self.stamp(e), e.get("podName", "?"), op, res)
        return None


def follow(a):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    v = View(a.t0)
    seq = 0
    for e in k.fetch_log(a.ctl):  # start after what happened before the demo (the readiness probe)
        seq = max(seq, e["seq"])
    print(col("dim", "%7s  %-10s  %-28s %s" % ("time", "who", "what", "decision")), flush=True)
    while not stop:
        try:
            entries = k.fetch_log(a.ctl, seq, timeout=2)
        except OSError:
            entries = []
        for e in entries:
            seq = max(seq, e["seq"])
            s = v.line(e)
            if s:
                print(s, flush=True)
        time.sleep(0.1)


def summary(a):
    entries = k.fetch_log(a.ctl)
    logs = oracle.read_elector_logs(a.elector_log)
    s = oracle.analyze(entries, k.NS, k.LEASE, 50, logs)
    per = {}
    for e in entries:
        if k.parse_time(e["time"]) < a.t0:
            continue  # the readiness probe before the demo started
        if e.get("type") == "admission" and e.get("user") == k.WRITER_USER:
            d = per.setdefault(e.get("podName"), [0, 0, {}])
            if e.get("allowed"):
                d[0] += 1
            else:
                d[1] += 1
                r = k.classify(e.get("message", "").split("denied the request:", 1)[-1])
                d[2][r] = d[2].get(r, 0) + 1
    p = print
    p(col("bold", "Summary"))
    for pod in sorted(per):
        a_, d_, rs = per[pod]
        p("  %-10s  writes allowed %3d   denied %3d  %s" % (pod, a_, d_, " ".join(
            "%s=%d" % kv for kv in sorted(rs.items()))))
    # Handover: SIGTERM of the leader -> the next commit giving the Lease to someone else.
    commits = [e for e in entries if e.get("type") == "commit" and e.get("resource") == "leases"]
    for e in commits:
        f = k.lease_fields(e.get("object")) if e.get("verb") != "delete" else None
        if f and f["holder"] and f["holder"] != a.stopped and k.parse_time(e["time"]) > a.stop_time:
            p("  handover: %s was stopped; %s held the Lease %.2f s later" % (
                a.stopped, f["holder"], k.parse_time(e["time"]) - a.stop_time))
            break
    rows = s["fence_gap_rows"]
    for r in rows:
        if "gap_ms" in r:
            p("  fence: %s lost the Lease (%s); its first write after that (%.0f ms later) was denied;"
              " admitted in between: %d" % (r["from"], r["kind"], r["gap_ms"], r["admitted_after"]))
    if a.paused:
        for ln in logs.get(a.paused, []):
            if ln["msg"] == "stopped leading" and ln["t"] and ln["t"] > a.resume_time - 0.5:
                p("  client side: after it resumed, %s's own elector still said it led for %.2f s (its renew"
                  % (a.paused, ln["t"] - a.resume_time))
                p("               deadline): a client-side check would have let its writes through meanwhile;")
                p("               the fence denied them from the first one")
                break
    n = s["stale_admissions"] + s["violations"]
    if n == 0:
        p("  writes admitted from a replica that was not the holder at that moment: 0")
    else:
        p("  writes admitted from a replica that was not the holder at that moment: %d, %s" % (n, (
            "all within %.0f ms of the Lease change (the fence's propagation window)" % s["stale_lag_ms"]["max"])
            if not s["violations"] else col("red", "%d OUTSIDE the propagation window" % s["violations"])))
    return 1 if s["violations"] else 0


def main():
    global use_color
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["follow", "summary"])
    ap.add_argument("--ctl", required=True)
    ap.add_argument("--t0", type=float, required=True)
    ap.add_argument("--color", action="store_true")
    ap.add_argument("--stopped")
    ap.add_argument("--stop-time", type=float)
    ap.add_argument("--paused")
    ap.add_argument("--pause-time", type=float)
    ap.add_argument("--resume-time", type=float)
    ap.add_argument("--elector-log", action="append", default=[])
    a = ap.parse_args()
    use_color = a.color
    if a.mode == "follow":
        follow(a)
        return 0
    return summary(a)


if __name__ == "__main__":
    sys.exit(main())
