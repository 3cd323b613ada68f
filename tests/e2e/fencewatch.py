#!/usr/bin/python3
"""fencewatch.py URL OUT [INTERVAL_MS]: polls leasefence's /metrics and records, per poll,
when the fence last saw the Lease record change: {"t": unix time of the poll, "holder",
"transitions", "age": leasefence_lease_last_change_age_seconds}.  t - age is the moment the
fence observed the change, whatever the poll interval, so the oracle can tell how long
after kube-sim's commit the fence knew (as long as one poll falls between two changes).
Stops on SIGTERM; at most 100000 polls.
"""
import json
import re
import signal
import sys
import time
import urllib.request

stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
url, out = sys.argv[1], sys.argv[2]
interval = float(sys.argv[3]) / 1000.0 if len(sys.argv) > 3 else 0.05
want = 'lease="demo/controller-leader"'
last = None
with open(out, "a", buffering=1) as f:
    for _ in range(100000):
        if stop:
            break
        t0 = time.time()
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                text = r.read().decode()
        except OSError:
            time.sleep(interval)
            continue
        t1 = time.time()
        rec = {"t": (t0 + t1) / 2, "rtt_ms": round((t1 - t0) * 1000, 3)}
        for line in text.splitlines():
            if want not in line or line.startswith("#"):
                continue
            if line.startswith("leasefence_lease_holder_info"):
                m = re.search(r'holder="((?:[^"\\]|\\.)*)"', line)
                rec["holder"] = m.group(1) if m else ""
            elif line.startswith("leasefence_lease_transitions"):
                rec["transitions"] = int(float(line.split()[-1]))
            elif line.startswith("leasefence_lease_last_change_age_seconds"):
                rec["age"] = float(line.split()[-1])
            elif line.startswith("leasefence_lease_synced"):
                rec["synced"] = line.split()[-1] == "1"
        if "age" in rec:
            key = (rec.get("holder"), rec.get("transitions"), round(rec["t"] - rec["age"], 2))
            if key != last:  # one line per observed change is enough
                f.write(json.dumps(rec) + "\n")
                last = key
        time.sleep(interval)
