# A rolling upgrade behind nginx drops no request: while a few threads keep issuing tokens
# (client_credentials at /auth/token) and reading trades on mt5-api through nginx, each replica of
# scripts/run-cluster is stopped with SIGTERM, started again and waited for, one at a time, as
# docs/operations.md "Upgrades" tells an operator to. Every response must be 2xx, with no
# connection error, and each restarted replica must serve requests again.
#
# The "new version" is the same binary started again with the same command line, environment and
# working directory (read from /proc): what the test proves is the procedure and the servers'
# graceful stop, which do not depend on what changed between the versions.

import http.client
import os
import signal
import subprocess
import threading
import time
import unittest
import urllib.parse

import frontdoor_harness as fd
from frontdoor_harness import V1, fresh_source

STACK = None
STARTED = []  # (name, Popen) of the replicas this module started again
STOP_TIMEOUT_S = 30  # SIGTERM drains within the servers' 10 s grace; sanitizer builds are slow
READY_TIMEOUT_S = 120  # as the harness's start-up bound: ASan builds start slowly on 2 cores
BACK_IN_ROTATION_S = 60  # nginx retries a failed server after fail_timeout (5 s)
WARM_UP = 20  # successes of each kind before the first restart (keep-alive pools filled)


def setUpModule():
    global STACK
    STACK = fd.ClusterStack(env={
        "RATE_LIMIT_API": "1000000/minute",
        "RATE_LIMIT_SERVICE_TOKEN": "1000000/minute",
        "PERMISO_EDGE_AUTH_RATE": "60000r/m", "PERMISO_EDGE_AUTH_BURST": "10000",
        "PERMISO_EDGE_API_RATE": "60000r/m", "PERMISO_EDGE_API_BURST": "10000",
    }).start()


def stop_process(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


def tearDownModule():
    problems = []
    for name, proc in STARTED:
        code = stop_process(proc)
        if code != 0:
            problems.append(f"{name} (started again) exited with {code} on SIGTERM")
    if STACK is not None:
        code = STACK.stop()
        STACK.cleanup()
        if code != 0:
            problems.append(f"run-cluster exited with {code} on SIGTERM:\n{STACK.output()}")
    if problems:
        raise AssertionError("; ".join(problems))


def process_state(pid):
    """The state letter of /proc/PID/stat (Z: exited, not yet reaped), or None when gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0].decode()
    except (OSError, IndexError):
        return None


def replica(binary, port_variable, port):
    """(pid, argv, environment, working directory) of the live `binary serve` whose environment
    sets port_variable=port, read from /proc."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = [a.decode() for a in f.read().split(b"\0") if a]
            if not argv or os.path.basename(argv[0]) != binary or argv[1:2] != ["serve"]:
                continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = dict(e.decode().split("=", 1) for e in f.read().split(b"\0") if b"=" in e)
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if env.get(port_variable) == str(port) and process_state(pid) not in (None, "Z"):
            return int(pid), argv, env, cwd
    raise AssertionError(f"no live {binary} serve with {port_variable}={port}")


class KeepAliveClient:
    """One client's keep-alive connection to nginx over HTTP, from its own loopback address, as
    an SDK or a browser keeps one (and so the run leaves few TIME_WAIT ports behind for the
    suites that start servers after it). Opened again only after nginx closed it."""

    def __init__(self, source):
        self.source = source
        self.conn = None

    def send(self, method, path, headers, body=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", STACK.http_port, timeout=30,
                                                   source_address=(self.source, 0))
        try:
            self.conn.request(method, path, body=body, headers=headers)
            r = self.conn.getresponse()
            r.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if r.will_close:
            self.close()
        return r.status

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Load:
    """Threads that each send one kind of request through nginx on their own keep-alive
    connection, until stopped, and record every outcome: (sent at, kind, request id, status; 0
    for a connection error, with the error)."""

    PACE_S = 0.01  # between a thread's requests: a steady stream that leaves CI cores for the servers

    def __init__(self, kinds):
        self.kinds = kinds  # {kind: function(request_id, source) -> status}
        self.results = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = []
        self.counter = 0

    def _next_id(self, kind):
        with self.lock:
            self.counter += 1
            return f"roll-{os.getpid()}-{kind}-{self.counter}"

    def _run(self, kind, send):
        client = KeepAliveClient(fresh_source())
        try:
            while not self.stopping.wait(self.PACE_S):
                rid = self._next_id(kind)
                sent = time.time()
                try:
                    status, error = send(client, rid), None
                except (OSError, http.client.HTTPException) as e:  # refused, reset, timed out: dropped
                    status, error = 0, repr(e)
                with self.lock:
                    self.results.append((sent, kind, rid, status, error))
        finally:
            client.close()

    def start(self, threads_per_kind):
        for kind, send in self.kinds.items():
            for _ in range(threads_per_kind):
                t = threading.Thread(target=self._run, args=(kind, send), daemon=True)
                t.start()
                self.threads.append(t)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=60)
        return [t for t in self.threads if t.is_alive()]

    def successes(self, kind):
        with self.lock:
            return sum(1 for r in self.results if r[1] == kind and 200 <= r[3] < 300)

    def snapshot(self):
        with self.lock:
            return list(self.results)


class RollingUpgradeTest(unittest.TestCase):
    def served_by(self):
        """{request id: (upstream that answered last, its status, every upstream tried, their
        statuses)} from nginx's access log."""
        served = {}
        for e in STACK.access_log():
            rid = e.get("request_id", "")
            if rid.startswith("roll-"):
                served[rid] = (e["upstream"].split(", ")[-1], e["upstream_status"].split(", ")[-1], e["upstream"],
                               e["upstream_status"])
        return served

    def wait_in_rotation(self, load, upstream, kind, since):
        """Polls until nginx has sent a request of `kind`, sent after `since`, to `upstream` and it
        answered 2xx: the replica is back in the rotation."""
        deadline = time.time() + BACK_IN_ROTATION_S
        while time.time() < deadline:
            sent_after = {r[2] for r in load.snapshot() if r[1] == kind and r[0] >= since}
            for rid, (addr, status, _, _) in self.served_by().items():
                if rid in sent_after and addr == upstream and status.startswith("2"):
                    return True
            time.sleep(0.2)
        return False

    def restart(self, load, name, binary, port_variable, port, kind):
        pid, argv, env, cwd = replica(binary, port_variable, port)
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + STOP_TIMEOUT_S
        while process_state(pid) not in (None, "Z"):
            self.assertLess(time.time(), deadline, f"{name} did not exit within {STOP_TIMEOUT_S} s of SIGTERM")
            time.sleep(0.05)
        log = open(os.path.join(STACK.root_dir, f"{name}-restarted.log"), "wb")
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        STARTED.append((name, proc))
        deadline = time.time() + READY_TIMEOUT_S
        while True:
            self.assertIsNone(proc.poll(), f"{name} exited with {proc.returncode} on start")
            try:
                if fd.request(f"http://127.0.0.1:{port}", "GET", "/ready", timeout=5).status == 200:
                    break
            except OSError:
                pass  # not listening yet
            self.assertLess(time.time(), deadline, f"{name} not ready within {READY_TIMEOUT_S} s")
            time.sleep(0.1)
        ready_at = time.time()
        self.assertTrue(self.wait_in_rotation(load, f"127.0.0.1:{port}", kind, ready_at),
                        f"nginx sent no {kind} request to {name} within {BACK_IN_ROTATION_S} s of its restart")

    def test_restarting_every_replica_in_turn_under_load_drops_no_request(self):
        admin = STACK.admin_token()
        r = STACK.call("POST", f"{V1}/service-clients", bearer=admin, source=fresh_source(),
                       json={"name": "rolling upgrade", "scope_ids": ["trade:read"],
                             "rate_limit_per_minute": None, "rate_limit_per_hour": None})
        self.assertEqual(r.status, 201, r)
        client_id, secret = r.body["client"]["client_id"], r.body["client_secret"]
        t = STACK.call("POST", f"{V1}/auth/token", source=fresh_source(),
                       form={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret,
                             "scope": "trade:read"})
        self.assertEqual(t.status, 200, t)
        bearer = t.body["access_token"]

        form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": client_id,
                                       "client_secret": secret, "scope": "trade:read"})

        def issue(client, rid):
            return client.send("POST", f"{V1}/auth/token", body=form,
                               headers={"X-Request-ID": rid, "Content-Type": "application/x-www-form-urlencoded"})

        def read_trades(client, rid):
            return client.send("GET", f"{V1}/trades", headers={"X-Request-ID": rid, "Authorization": f"Bearer {bearer}"})

        load = Load({"token": issue, "trades": read_trades})
        load.start(threads_per_kind=2)
        stuck = []
        try:
            deadline = time.time() + 60
            while load.successes("token") < WARM_UP or load.successes("trades") < WARM_UP:
                self.assertLess(time.time(), deadline, f"the load did not get going: {load.snapshot()[-5:]}")
                time.sleep(0.1)
            # One replica at a time, each back in nginx's rotation before the next goes down.
            self.restart(load, "permiso-auth-1", "permiso-auth", "PERMISO_PORT", STACK.auth_port, "token")
            self.restart(load, "permiso-auth-2", "permiso-auth", "PERMISO_PORT", STACK.auth_port_2, "token")
            self.restart(load, "mt5-api-1", "mt5-api", "MT5_API_PORT", STACK.mt5_port, "trades")
            self.restart(load, "mt5-api-2", "mt5-api", "MT5_API_PORT", STACK.mt5_port_2, "trades")
        finally:
            stuck = load.stop()
        self.assertEqual(stuck, [], "every load thread finished")

        results = load.snapshot()
        served = self.served_by()
        failures = [r for r in results if not 200 <= r[3] < 300]
        kinds = {r[2]: r[1] for r in results}
        retried = [(kinds.get(rid), statuses) for rid, (_, _, upstreams, statuses) in served.items()
                   if "," in upstreams]
        by_kind = {kind: sum(1 for r in results if r[1] == kind) for kind in ("token", "trades")}
        print(f"\nrolling upgrade: {by_kind} requests, {len(failures)} failed, "
              f"{len(retried)} passed to the other replica by nginx: {retried}")
        details = [(r[1], r[3], r[4], served.get(r[2])) for r in failures[:20]]
        self.assertEqual(failures, [], f"dropped requests (kind, status, error, nginx upstream): {details}")


if __name__ == "__main__":
    unittest.main()
