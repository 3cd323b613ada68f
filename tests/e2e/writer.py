#!/usr/bin/python3
"""writer.py: one replica's work loop.  Keeps writing with the replica's own token
whether or not its elector believes it leads (the fence, not the client, decides).

  writer.py --pod POD --status URL --journal FILE [--interval-ms 50] [--duration 60]
            [--max-writes N] [--mix tr:3,cm:3,tag:3,old:1]

Ops: tr  = TokenReview create, untagged
     cm  = ConfigMap write (cm-POD), untagged
     tag = ConfigMap write (ep-POD) tagged with the epoch of its elector's latest term
     old = TokenReview create tagged with an older epoch of its own (a stale tag; a create, so the
           tag is always the write's own: leasefence counts only tags a write sets)
Env: E2E_SERVER, E2E_CACERT.  One JSON line per write in the journal.
"""
import argparse
import json
import os
import random
import signal
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kclient as k  # noqa: E402
import e2e  # noqa: E402

stop = threading.Event()


class Epochs:
    """The epochs this replica's elector has led under, newest last; polled from --status."""

    def __init__(self, url, pod):
        self.url = url
        self.pod = pod
        self.lock = threading.Lock()
        self.history = []
        self.leading = False

    def poll(self):
        while not stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=0.3) as r:
                    st = json.loads(r.read().decode())
                with self.lock:
                    # "epoch" is that of the last record the elector observed: ours only while
                    # the record names us (between losing the Lease and noticing, it is not).
                    self.leading = bool(st.get("isLeader")) and st.get("name") == self.pod
                    ep = st.get("epoch") or ""
                    if self.leading and ep and (not self.history or self.history[-1] != ep):
                        if ep in self.history:
                            self.history.remove(ep)
                        self.history.append(ep)
            except (OSError, ValueError):
                pass
            stop.wait(0.05)

    def pick(self, old):
        with self.lock:
            if old:
                return self.history[-2] if len(self.history) >= 2 else None
            return self.history[-1] if self.history else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pod", required=True)
    ap.add_argument("--status", default="")
    ap.add_argument("--journal", required=True)
    ap.add_argument("--interval-ms", type=float, default=50)
    ap.add_argument("--jitter", type=float, default=0.3, help="interval jitter, fraction")
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--max-writes", type=int, default=100000)
    ap.add_argument("--mix", default="tr:3,cm:3,tag:3,old:1")
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    rnd = random.Random(a.seed)
    mix = []
    for part in a.mix.split(","):
        op, w = part.split(":")
        mix += [op] * int(w)
    ep = Epochs(a.status, a.pod)
    if a.status:
        threading.Thread(target=ep.poll, daemon=True).start()
    c = e2e.pod_client(a.pod)
    token = "t-" + a.pod
    deadline = time.monotonic() + a.duration
    seq = 0
    with open(a.journal, "a", buffering=1) as j:
        while not stop.is_set() and time.monotonic() < deadline and seq < a.max_writes:
            seq += 1
            op = rnd.choice(mix)
            tag = None
            if op in ("tag", "old"):
                tag = ep.pick(op == "old")
                if tag is None:
                    op = "cm"
            t0, m0 = time.time(), time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            leading = ep.leading
            if op in ("tr", "old"):
                code, js, raw = e2e.tr_write(c, token, tag)
            else:
                name = ("ep-" if tag else "cm-") + a.pod
                code, js, raw = e2e.cm_write(c, a.pod, name, tag, seq)
            m1 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            res, reason, msg = e2e.outcome(code, js, raw)
            rec = {"t": t0, "mono_ns": m0, "ms": round((m1 - m0) / 1e6, 3), "pod": a.pod, "seq": seq, "op": op,
                   "tag": tag, "leading": leading, "res": res, "code": code, "reason": reason}
            if res == "error":
                rec["msg"] = msg[:200]
            j.write(json.dumps(rec) + "\n")
            iv = a.interval_ms / 1000.0
            stop.wait(max(0.0, iv * (1 + rnd.uniform(-a.jitter, a.jitter))))
    c.close()


if __name__ == "__main__":
    main()
