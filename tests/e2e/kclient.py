"""Small helpers shared by the e2e scripts (stdlib only, /usr/bin/python3).

A keep-alive HTTPS client for kube-sim, kubeconfig token handling, Lease
MicroTime formatting, reading kube-sim's /log and classifying denials.
"""
import base64
import http.client
import json
import re
import socket
import ssl
import time
import urllib.parse
import urllib.request

NS = "demo"
LEASE = "controller-leader"
WRITER_USER = "system:serviceaccount:demo:controller"
EPOCH_ANNOTATION = "leasefence.io/epoch"
WEBHOOK_NAME = "fence.leasefence.io"

# Decision reasons of docs/design.md, in the order a denial message might name them.
REASONS = ["stale-epoch", "not-holder", "no-holder", "no-lease", "expired", "unknown", "untagged",
           "holder", "unfenced", "lease"]


class Client:
    """One keep-alive HTTPS connection to kube-sim with a bearer token."""

    def __init__(self, server, cacert, token, timeout=10.0):
        u = urllib.parse.urlsplit(server)
        self.host, self.port = u.hostname, u.port or 443
        self.ctx = ssl.create_default_context(cafile=cacert)
        self.ctx.check_hostname = False  # kube-sim's certificate is for 127.0.0.1; the CA is still verified
        self.token = token
        self.timeout = timeout
        self.conn = None

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
            self.conn = None

    def request(self, method, path, body=None, timeout=None):
        """Returns (status, parsed JSON or None, raw text).  status 0: no response."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": "Bearer " + self.token, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                                            timeout=timeout or self.timeout)
                else:
                    self.conn.timeout = timeout or self.timeout
                    if self.conn.sock is not None:
                        self.conn.sock.settimeout(timeout or self.timeout)
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read().decode("utf-8", "replace")
                try:
                    js = json.loads(raw) if raw else None
                except ValueError:
                    js = None
                if resp.getheader("Connection", "").lower() == "close":
                    self.close()
                return resp.status, js, raw
            except (http.client.HTTPException, OSError, socket.timeout) as e:
                self.close()
                if attempt == 1 or isinstance(e, socket.timeout):
                    return 0, None, str(e)
        return 0, None, "unreachable"


def micro_time(t=None):
    """Kubernetes MicroTime with exactly six fraction digits."""
    t = time.time() if t is None else t
    sec = int(t)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + ".%06dZ" % int((t - sec) * 1e6)


def parse_time(s):
    """RFC 3339 (any number of fraction digits) or a number -> unix seconds (float)."""
    if s is None:
        return None
    if isinstance(s, (int, float)):
        return float(s)
    m = re.match(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", s)
    if not m:
        return None
    import calendar
    base = calendar.timegm(tuple(int(m.group(i)) for i in range(1, 7)) + (0, 0, 0))
    frac = float("0." + m.group(7)) if m.group(7) else 0.0
    tz = m.group(8)
    off = 0
    if tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        off = sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    return base + frac - off


def kubeconfig_token(path):
    text = open(path).read()
    m = re.search(r'"?token"?\s*:\s*"?([^"\s,}]+)"?', text)
    if not m:
        raise SystemExit("no token in " + path)
    return m.group(1)


def kubeconfig_with_token(src, dst, token):
    """Copies kubeconfig SRC to DST with its (only) user token replaced."""
    text = open(src).read()
    new, n = re.subn(r'("?token"?\s*:\s*"?)([^"\s,}]+)', lambda m: m.group(1) + token, text, count=1)
    if n != 1:
        raise SystemExit("no token in " + src)
    with open(dst, "w") as f:
        f.write(new)


def fetch_log(ctl, since=0, timeout=10):
    """kube-sim's /log entries with seq > SINCE, as a list of dicts."""
    with urllib.request.urlopen("http://%s/log?since=%d" % (ctl, since), timeout=timeout) as r:
        out = []
        for line in r.read().decode().splitlines():
            line = line.strip()
            if line:
                out.append(json.loads(line))
        return out


def ctl_post(ctl, path, timeout=10):
    req = urllib.request.Request("http://%s%s" % (ctl, path), data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read().decode()


def lease_fields(obj):
    """(holder, duration_s, transitions, uid, acquire, renew) from a Lease object in the log."""
    if not isinstance(obj, dict):
        return None
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else obj
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    uid = meta.get("uid") or obj.get("uid") or ""
    return {
        "holder": spec.get("holderIdentity") or "",
        "duration": int(spec.get("leaseDurationSeconds") or 0),
        "transitions": int(spec.get("leaseTransitions") or 0),
        "uid": uid,
        "acquire": spec.get("acquireTime"),
        "renew": spec.get("renewTime"),
        "epoch": "%s/%d" % (uid, int(spec.get("leaseTransitions") or 0)) if uid else "",
    }


def object_tag(obj):
    if not isinstance(obj, dict):
        return None
    meta = obj.get("metadata") or {}
    ann = meta.get("annotations") or {}
    return ann.get(EPOCH_ANNOTATION)


# Phrases of leasefence's denial messages (server/decide.c), most specific first.
PHRASES = [("wrote with epoch", "stale-epoch"), ("is not the holder of", "not-holder"),
           ("has no holder", "no-holder"), ("does not exist", "no-lease"), ("expired", "expired"),
           ("is not known", "unknown"), ("has no annotation", "untagged"), ("carries no replica identity", "untagged")]


def classify(message):
    """The fence's decision reason behind a denial message."""
    if not message:
        return ""
    msg = message.lower()
    m = re.search(r"\(([a-z-]+)\)", msg)
    if m and m.group(1) in REASONS:
        return m.group(1)
    for phrase, reason in PHRASES:
        if phrase in msg:
            return reason
    return "denied"


def b64file(path):
    return base64.b64encode(open(path, "rb").read()).decode()
