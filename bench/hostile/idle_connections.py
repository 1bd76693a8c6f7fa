#!/usr/bin/env python3
"""A healthy client's latency while an attacker holds thousands of idle connections open.

Starts permiso-auth (the binary in PERMISO_AUTH_BIN, SQLite, in a temp dir), measures a healthy
client's requests alone, then again while IDLE connections are held open (each one re-opened as
the server's header timeout closes it, as a slowloris attacker would) and another thread sends
hostile requests (oversized headers, garbage, a smuggling shape, deep JSON, invalid UTF-8, path
traversal with alg none) one per connection, and reports the healthy client's p50/p99/max, any
failure, the hostile answers, and the server's resident memory before, at the peak and after
each attack. The healthy client opens a new connection per request: it competes for accept with
the attacker, the hard case.

    PERMISO_AUTH_BIN=build/release/apps/permiso-auth/permiso-auth \
        /usr/bin/python3 bench/hostile/idle_connections.py [--idle 10000] [--seconds 30]
"""
import argparse
import os
import resource
import selectors
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "integration"))
import harness  # noqa: E402


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Attacker(threading.Thread):
    """Holds `count` idle connections to port, re-opening each one the server closes."""

    def __init__(self, port, count):
        super().__init__(daemon=True)
        self.port, self.count = port, count
        self.sel = selectors.DefaultSelector()
        self.stop = threading.Event()
        self.held = 0
        self.reopened = 0
        self.refused = 0

    def open_one(self):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", self.port))
        except BlockingIOError:
            pass
        except OSError:
            self.refused += 1
            s.close()
            return
        self.sel.register(s, selectors.EVENT_READ)
        self.held += 1

    def run(self):
        while self.held < self.count and not self.stop.is_set():
            self.open_one()
        while not self.stop.is_set():
            for key, _ in self.sel.select(timeout=0.2):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:  # the server closed it: open another in its place
                    self.sel.unregister(s)
                    s.close()
                    self.held -= 1
                    self.reopened += 1
                    self.open_one()
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()


HOSTILE_REQUESTS = (
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",             # headers over 8 KiB
    b"GARBAGE\r\n\r\n",                                                               # malformed
    b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",                                   # smuggling shape
    b"POST /api/v1/users/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 40000\r\n\r\n" + b"[" * 20000 + b"]" * 20000,                     # deep JSON
    b"POST /api/v1/users/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 17\r\n\r\n{\"username\":\"\xff\xfe\"}",                          # invalid UTF-8
    b"GET /api/v1/users/..%2F..%2Fetc%2Fpasswd HTTP/1.1\r\nHost: x\r\n"
    b"Authorization: Bearer eyJhbGciOiJub25lIn0.e30.\r\n\r\n",                          # traversal, alg none
)


class HostileSender(threading.Thread):
    """Sends the hostile requests above in a loop, one per connection, and counts the answers:
    each must be a 4xx or a closed connection."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.sent = 0
        self.bad = []

    def run(self):
        while not self.stop.is_set():
            req = HOSTILE_REQUESTS[self.sent % len(HOSTILE_REQUESTS)]
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
                    s.sendall(req)
                    status_line = s.recv(64).split(b"\r\n")[0]
            except OSError:
                status_line = b""  # reset or closed: a refusal
            self.sent += 1
            if status_line and not status_line.startswith((b"HTTP/1.1 4", b"HTTP/1.0 4")):
                self.bad.append((req[:40], status_line))


def healthy_requests(server, client, seconds):
    """Client-credentials tokens, one per new connection, for `seconds`."""
    latencies, failures = [], []
    end = time.time() + seconds
    form = {"grant_type": "client_credentials", "client_id": client["client"]["client_id"],
            "client_secret": client["client_secret"]}
    while time.time() < end:
        t0 = time.perf_counter()
        try:
            r = server.post("/api/v1/auth/token", form=form, timeout=10)
            ok = r.status == 200
        except Exception as e:  # noqa: BLE001 - every failure is counted and shown
            ok, r = False, e
        latencies.append((time.perf_counter() - t0) * 1000)
        if not ok:
            failures.append(repr(r)[:200])
        time.sleep(0.01)
    return latencies, failures


def summary(label, latencies, failures):
    lat = sorted(latencies)
    pct = lambda p: lat[min(len(lat) - 1, int(len(lat) * p))]  # noqa: E731
    print(f"{label:<28} n={len(lat):>5}  p50={pct(0.50):6.2f} ms  p99={pct(0.99):6.2f} ms  "
          f"max={lat[-1]:7.2f} ms  failures={len(failures)}")
    for f in failures[:5]:
        print("   ", f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--rounds", type=int, default=2, help="attacks one after the other (memory must not ratchet)")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.idle + 200:
        sys.exit(f"the open-files limit ({hard}) is below {args.idle} idle connections + 200")
    server = harness.AuthServer(env={"LOG_LEVEL": "WARNING", "RATE_LIMIT_SERVICE_TOKEN": "100000000/minute"}).start()
    try:
        client = server.create_client(scopes=("trade:read",), rate_limit_per_minute=None)
        pid = server.proc.pid
        summary("alone", *healthy_requests(server, client, min(10, args.seconds)))
        print(f"server RSS before: {rss_kib(pid) / 1024:.1f} MiB")
        for round_no in range(1, args.rounds + 1):
            attack(server, client, pid, args, round_no)
        print(f"health after: {server.get('/health').status}")
    finally:
        server.stop()
        server.cleanup()


def attack(server, client, pid, args, round_no):
    attacker = Attacker(server.port, args.idle)
    attacker.start()
    t0 = time.time()
    while attacker.held < args.idle and time.time() - t0 < 30:
        time.sleep(0.1)
    print(f"round {round_no}: the attacker holds {attacker.held} idle connections after {time.time() - t0:.1f} s")
    peak = [rss_kib(pid)]
    sampler_stop = threading.Event()

    def sample():
        while not sampler_stop.wait(0.5):
            peak.append(rss_kib(pid))
    threading.Thread(target=sample, daemon=True).start()
    hostile = HostileSender(server.port)
    hostile.start()
    lat, fail = healthy_requests(server, client, args.seconds)
    hostile.stop.set()
    hostile.join()
    sampler_stop.set()
    held_at_end = attacker.held
    attacker.stop.set()
    attacker.join()
    summary(f"round {round_no}: {args.idle} idle + hostile", lat, fail)
    print(f"round {round_no}: {hostile.sent} hostile requests alongside, {len(hostile.bad)} answered other "
          f"than 4xx or a close {hostile.bad[:3]}")
    print(f"round {round_no}: held {held_at_end} at the end, {attacker.reopened} re-opened after the "
          f"server closed them, {attacker.refused} refused")
    time.sleep(2)
    print(f"round {round_no}: server RSS {max(peak) / 1024:.1f} MiB at the peak, "
          f"{rss_kib(pid) / 1024:.1f} MiB 2 s after")


if __name__ == "__main__":
    main()
