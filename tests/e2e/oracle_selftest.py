#!/usr/bin/python3
"""Checks oracle.py on hand-made kube-sim logs: it must flag what it is meant to flag."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kclient as k  # noqa: E402
import oracle  # noqa: E402

failed = 0


class Log:
    """A kube-sim log made by hand; every scenario starts with HOLDER creating the Lease (u1/0) at 0 ms."""

    def __init__(self, holder="a"):
        self.entries = []
        self.uid = "u1"
        self.trans = 0
        self.lease(0, holder, verb="create")

    def add(self, ms, **kw):
        e = {"seq": len(self.entries) + 1, "mono_ns": int(ms * 1e6), "time": "2026-01-01T00:00:%09.6fZ" % (ms / 1000.0)}
        e.update(kw)
        self.entries.append(e)

    def lease(self, ms, holder, verb="update", uid=None, trans=None, by="x"):
        if uid:
            self.uid = uid
        if trans is not None:
            self.trans = trans
        obj = {"metadata": {"uid": self.uid}, "spec": {"holderIdentity": holder, "leaseDurationSeconds": 10,
                                                       "leaseTransitions": self.trans}}
        self.add(ms, type="commit", verb=verb, group="coordination.k8s.io", resource="leases", namespace=k.NS,
                 name=k.LEASE, podName=by, object=None if verb == "delete" else obj)

    def write(self, ms, pod, allowed, reason="", tag=None, sent=None):
        obj = {"metadata": {"name": "cm-" + pod}}
        if tag:
            obj["metadata"]["annotations"] = {k.EPOCH_ANNOTATION: tag}
        extra = {"sent_mono_ns": int(sent * 1e6)} if sent is not None else {}
        self.add(ms, type="admission", verb="update", group="", resource="configmaps", namespace=k.NS,
                 name="cm-" + pod, user=k.WRITER_USER, podName=pod, allowed=allowed, object=obj,
                 message="" if allowed else 'admission webhook "x" denied the request: (%s)' % reason, **extra)

    def commit_cm(self, ms, pod, tag):
        obj = {"metadata": {"name": "cm-" + pod, "annotations": {k.EPOCH_ANNOTATION: tag}}}
        self.add(ms, type="commit", verb="update", group="", resource="configmaps", namespace=k.NS,
                 name="cm-" + pod, podName=pod, object=obj)

    def run(self):
        return oracle.analyze(self.entries, k.NS, k.LEASE, 50, {})


def expect(name, got, want):
    global failed
    if got == want:
        print("ok - oracle: %s" % name)
    else:
        failed += 1
        print("not ok - oracle: %s: want %r, got %r" % (name, want, got))


# 1. clean run
g = Log()
g.write(10, "a", True)
g.write(20, "b", False, "not-holder")
s = g.run()
expect("clean run: no violation, no stale admission", (s["violations"], s["stale_admissions"]), (0, 0))

# 2. a stale admission inside the window (no proof yet that the fence saw the change)
g = Log()
g.write(10, "a", True)
g.lease(100, "b", trans=1)
g.write(105, "a", True)
g.write(120, "b", True)
s = g.run()
expect("admission 5 ms after a takeover: stale, inside the window", (s["violations"], s["stale_admissions"]), (0, 1))
expect("its lag is 5 ms", round(s["stale_lag_ms"]["max"]), 5)
expect("window measured: 20 ms", round(s["window_ms"]["max"]), 20)

# 3. outside the window: the new holder was admitted first (the fence had seen it)
g = Log()
g.write(10, "a", True)
g.lease(100, "b", trans=1)
g.write(110, "b", True)
g.write(200, "a", True)
s = g.run()
expect("old holder admitted after the fence admitted the new one: violation", s["violations"], 1)

# 4. a denial of the old holder proves the change too
g = Log()
g.lease(100, "b", trans=1)
g.write(110, "a", False, "not-holder")
g.write(300, "a", True)
s = g.run()
expect("admitted after its own not-holder denial: violation", s["violations"], 1)
expect("fence gap 10 ms", round(s["fence_gap_ms"]["max"]), 10)

# 5. deletion
g = Log()
g.write(10, "a", True)                         # the fence has seen the Lease
g.lease(100, "a", verb="delete")
g.write(110, "b", False, "no-lease")
g.write(200, "a", True)
s = g.run()
expect("admitted after the fence saw the deletion: violation", s["violations"], 1)

# 6. a former leader elected again, writing with its old epoch
g = Log()                                      # u1/0
g.lease(100, "b", trans=1)                     # u1/1
g.lease(200, "a", trans=2)                     # u1/2
g.write(210, "a", True, tag="u1/2")
g.write(300, "a", True, tag="u1/0")
s = g.run()
expect("re-elected leader's old epoch admitted: violation (tagged)", (s["violations"], s["violations_tagged"]), (1, 1))
expect("counted as a re-elected stale tag", (s["reelected_stale_tag_attempts"], s["reelected_stale_tag_admitted"]),
       (1, 1))
g = Log()
g.lease(100, "b", trans=1)
g.lease(200, "a", trans=2)
g.write(210, "a", True, tag="u1/2")
g.write(300, "a", False, "stale-epoch", tag="u1/0")
s = g.run()
expect("the same write denied: no violation", (s["violations"], s["unexplained_denials"]), (0, 0))

# 7. a stale epoch inside the window
g = Log()
g.write(10, "a", True, tag="u1/0")
g.lease(100, "b", trans=1)
g.write(102, "a", True, tag="u1/0")
s = g.run()
expect("old epoch admitted 2 ms after the takeover: inside the window", (s["violations"], s["stale_admissions"]), (0, 1))

# 8. decisions logged within the slack may be out of order
g = Log()
g.lease(100, "b", trans=1)
g.write(110, "b", True)
g.write(130, "a", True)
s = g.run()
expect("20 ms after the proof (within the 50 ms slack): not a violation", s["violations"], 0)

# 9. never legitimate at all
g = Log()
g.write(10, "c", True)
s = g.run()
expect("a replica that never held the Lease admitted: violation", s["violations"], 1)

# 10. only a tag the write set counts (leasefence's rule): the stored object's tag, left as it was, is
#     not the write's epoch; the same stale tag set anew is
g = Log()                                      # u1/0
g.write(10, "a", True, tag="u1/0")
g.commit_cm(11, "a", "u1/0")
g.lease(100, "b", trans=1)
g.lease(200, "a", trans=2)                     # u1/2
g.write(300, "a", True, tag="u1/0")            # the stored tag: an untagged write of the holder
s = g.run()
expect("the holder writing with the stored tag unchanged: no violation, not a tagged write",
       (s["violations"], s["tagged"]), (0, 1))
g = Log()
g.lease(100, "b", trans=1)
g.lease(200, "a", trans=2)
g.write(210, "a", True, tag="u1/2")
g.commit_cm(211, "a", "u1/2")
g.write(300, "a", True, tag="u1/0")            # a stale tag set by this write, admitted
s = g.run()
expect("a stale tag the write set, admitted: violation", (s["violations"], s["violations_tagged"]), (1, 1))

# 11. strict fences' rule: an admission whose call was sent after the change was committed
g = Log()
g.write(10, "a", True, sent=8)
g.lease(100, "b", trans=1)
g.write(106, "a", True, sent=103)              # sent 3 ms after the takeover, admitted: stale after sent
g.write(107, "a", True, sent=99)               # sent before it: the old record may answer it
s = g.run()
expect("admitted, its call sent 3 ms after the takeover: counted", s["admitted_after_sent"], 1)
expect("... its lag is 3 ms", round(s["admitted_after_sent_lag_ms"]["max"]), 3)
expect("... inside the watch window all the same", (s["violations"], s["stale_admissions"]), (0, 2))
expect("admissions with a send time", s["admitted_with_sent_time"], 3)
g = Log()
g.write(10, "a", True, sent=5)
g.lease(100, "b", trans=1)
g.lease(102, "a", trans=2)                     # a holds it again before the write was decided
g.write(110, "a", True, sent=101)              # sent while b held it: a later record allows it
g.lease(200, "a", verb="delete")
g.write(210, "a", True, sent=199)              # sent before the deletion: not after
s = g.run()
expect("a later record allows it, or the call predates the change: not counted", s["admitted_after_sent"], 0)

print("# oracle self-test: %d failed" % failed)
sys.exit(1 if failed else 0)
