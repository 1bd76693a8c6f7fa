# Load through nginx and replica-by-replica restarts of scripts/run-cluster, shared by the tests
# that change a running cluster under load (a rolling upgrade, a signing-key rotation).

import http.client
import os
import signal
import subprocess
import threading
import time

import frontdoor_harness as fd
from frontdoor_harness import fresh_source

STOP_TIMEOUT_S = 30  # SIGTERM drains within the servers' 10 s grace; sanitizer builds are slow
READY_TIMEOUT_S = 120  # as the harness's start-up bound: ASan builds start slowly on 2 cores
BACK_IN_ROTATION_S = 60  # nginx retries a failed server after fail_timeout (5 s)


def stop_process(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


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

    def __init__(self, port, source):
        self.port = port
        self.source = source
        self.conn = None

    def send(self, method, path, headers, body=None):
        """(status, body bytes)."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30,
                                                   source_address=(self.source, 0))
        try:
            self.conn.request(method, path, body=body, headers=headers)
            r = self.conn.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if r.will_close:
            self.close()
        return r.status, data

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Load:
    """Threads that each send one kind of request through nginx on their own keep-alive
    connection, until stopped, and record every outcome: (sent at, kind, request id, status; 0
    for a connection error, detail). A kind's function returns a status, or (status, detail)."""

    PACE_S = 0.01  # between a thread's requests: a steady stream that leaves CI cores for the servers

    def __init__(self, port, kinds):
        self.port = port
        self.kinds = kinds  # {kind: function(client, request_id) -> status or (status, detail)}
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
        client = KeepAliveClient(self.port, fresh_source())
        try:
            while not self.stopping.wait(self.PACE_S):
                rid = self._next_id(kind)
                sent = time.time()
                try:
                    outcome = send(client, rid)
                    status, detail = outcome if isinstance(outcome, tuple) else (outcome, None)
                except (OSError, http.client.HTTPException) as e:  # refused, reset, timed out: dropped
                    status, detail = 0, repr(e)
                with self.lock:
                    self.results.append((sent, kind, rid, status, detail))
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

    def successes(self, kind, since=0.0):
        with self.lock:
            return sum(1 for r in self.results if r[1] == kind and r[0] >= since and 200 <= r[3] < 300)

    def snapshot(self):
        with self.lock:
            return list(self.results)

    def wait_for(self, kind, count, since=0.0, timeout=60):
        """Polls until `count` requests of `kind` sent after `since` succeeded; False on timeout."""
        deadline = time.time() + timeout
        while self.successes(kind, since) < count:
            if time.time() > deadline:
                return False
            time.sleep(0.1)
        return True


class Restarter:
    """Restarts the replicas of a ClusterStack one at a time, as an operator does: SIGTERM,
    started again with the same command line and working directory (and the environment, with
    `changes` applied: None removes a variable), ready, and back in nginx's rotation."""

    def __init__(self, stack):
        self.stack = stack
        self.started = []  # (name, Popen) of the replicas started again

    def served_by(self):
        """{request id: (upstream that answered last, its status, every upstream tried, their
        statuses)} from nginx's access log."""
        served = {}
        for e in self.stack.access_log():
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

    def restart(self, load, name, binary, port_variable, port, kind, changes=None):
        """Raises AssertionError when the replica does not stop, start or come back."""
        pid, argv, env, cwd = replica(binary, port_variable, port)
        for key, value in (changes or {}).items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + STOP_TIMEOUT_S
        while process_state(pid) not in (None, "Z"):
            if time.time() > deadline:
                raise AssertionError(f"{name} did not exit within {STOP_TIMEOUT_S} s of SIGTERM")
            time.sleep(0.05)
        log = open(os.path.join(self.stack.root_dir, f"{name}-restarted-{len(self.started)}.log"), "wb")
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.started.append((name, proc))
        deadline = time.time() + READY_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode} on start")
            try:
                if fd.request(f"http://127.0.0.1:{port}", "GET", "/ready", timeout=5).status == 200:
                    break
            except OSError:
                pass  # not listening yet
            if time.time() > deadline:
                raise AssertionError(f"{name} not ready within {READY_TIMEOUT_S} s")
            time.sleep(0.1)
        if not self.wait_in_rotation(load, f"127.0.0.1:{port}", kind, time.time()):
            raise AssertionError(f"nginx sent no {kind} request to {name} within {BACK_IN_ROTATION_S} s of its restart")

    def stop_all(self):
        """Stops every replica started again; returns the problems (a non-zero exit on SIGTERM)."""
        problems = []
        for name, proc in self.started:
            code = stop_process(proc)
            if code != 0:
                problems.append(f"{name} (started again) exited with {code} on SIGTERM")
        return problems
