# The front door's test harness: the stack exactly as `make run` starts it (scripts/run-stack:
# permiso-auth, mt5-api and nginx rendered from deploy/nginx), and an HTTP client that can
# choose its source address on loopback, so nginx's per-address zones and the services' view
# of the client address can be told apart.
"""Environment:
  PERMISO_BUILD_DIR   the build whose apps/permiso-auth and apps/mt5-api run (required)
  PERMISO_REPO        repository root
  PERMISO_TEST_KEEP   set to 1 to keep the data dir
"""

import http.client
import json as jsonlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "gateway"))

import harness  # noqa: E402
from harness import V1, HarnessError  # noqa: E402,F401

REPO = harness.REPO
ADMIN = "admin"
ADMIN_PASSWORD = "Front-Door-Adm1n!"
ALLOWED_ORIGIN = "https://trading.example.com"
START_TIMEOUT_S = 120  # sanitizer builds start slowly on 2 cores

_next_source = [10]


def fresh_source():
    """A loopback address no other test has used: its own nginx rate-limit buckets."""
    _next_source[0] += 1
    return f"127.0.1.{_next_source[0]}"


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.header_list = headers  # [(name lower-case, value)] in the order received
        self.text = body.decode("utf-8", "replace")
        try:
            self.body = jsonlib.loads(self.text) if self.text else None
        except ValueError:
            self.body = None

    def header(self, name):
        values = self.headers_named(name)
        return values[0] if values else None

    def headers_named(self, name):
        return [v for k, v in self.header_list if k == name.lower()]

    def __repr__(self):
        return f"<{self.status} {self.header_list} {self.text[:300]!r}>"


def tls_context(ca_file, **versions):
    ctx = ssl.create_default_context(cafile=ca_file)
    for key, value in versions.items():
        setattr(ctx, key, value)
    return ctx


def request(base_url, method, path, source="127.0.0.1", headers=None, body=None, form=None, json=None,
            bearer=None, ca_file=None, timeout=30):
    """One request on a fresh connection from `source`. Returns a Response."""
    u = urllib.parse.urlsplit(base_url)
    hdrs = dict(headers or {})
    if form is not None:
        body = urllib.parse.urlencode(form).encode()
        hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif json is not None:
        body = jsonlib.dumps(json).encode()
        hdrs.setdefault("Content-Type", "application/json")
    if bearer is not None:
        hdrs["Authorization"] = f"Bearer {bearer}"
    if u.scheme == "https":
        conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=timeout, source_address=(source, 0),
                                           context=tls_context(ca_file))
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout, source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        return Response(r.status, [(k.lower(), v) for k, v in r.getheaders()], r.read())
    finally:
        conn.close()


class FrontDoorStack:
    """scripts/run-stack (or another script of its shape) on free ports and a fresh data dir."""

    script = "run-stack"

    def __init__(self, env=None):
        build = os.environ.get("PERMISO_BUILD_DIR")
        if not build or not os.path.isdir(build):
            raise HarnessError("PERMISO_BUILD_DIR must name the build directory (with apps/permiso-auth)")
        self.build = os.path.abspath(build)
        self.data_dir = tempfile.mkdtemp(prefix="permiso-frontdoor-")
        self.auth_port, self.mt5_port = harness.free_port(), harness.free_port()
        self.http_port, self.https_port = harness.free_port(), harness.free_port()
        self.auth_url = f"http://127.0.0.1:{self.auth_port}"
        self.mt5_url = f"http://127.0.0.1:{self.mt5_port}"
        self.http_url = f"http://127.0.0.1:{self.http_port}"
        self.https_url = f"https://127.0.0.1:{self.https_port}"
        self.ca_file = os.path.join(self.data_dir, "tls", "ca.pem")
        self.log_path = os.path.join(self.data_dir, "run-stack.log")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PERMISO_", "MT5_", "JWT_"))}
        self.env.update({
            "PERMISO_REPO": REPO,
            "PERMISO_DATA_DIR": self.data_dir,
            "PERMISO_PORT": str(self.auth_port),
            "MT5_API_PORT": str(self.mt5_port),
            "PERMISO_EDGE_HTTP_PORT": str(self.http_port),
            "PERMISO_EDGE_HTTPS_PORT": str(self.https_port),
            "PERMISO_BOOTSTRAP_ADMIN_USERNAME": ADMIN,
            "PERMISO_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "ALLOWED_ORIGINS": ALLOWED_ORIGIN,
            "MT5_SIM_TICK_MS": "50",
            "LOG_FORMAT": "json",
        })
        self.env.update(env or {})
        self.proc = None
        self._admin_token = None

    def start(self):
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([os.path.join(REPO, "scripts", self.script), self.build], cwd=REPO,
                                     env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.time() + START_TIMEOUT_S
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise HarnessError(f"{self.script} exited with {self.proc.returncode}:\n{self.output()}")
            with open(self.log_path, "rb") as f:
                if re.search(rb"Permiso( \(cluster\))? is up", f.read()):
                    return self
            time.sleep(0.2)
        self.kill()
        raise HarnessError(f"{self.script} did not come up within {START_TIMEOUT_S} s:\n{self.output()}")

    def output(self, tail=60):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-tail:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        """SIGTERM as Ctrl-C would; returns run-stack's exit code."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            raise HarnessError(f"run-stack did not stop within 30 s:\n{self.output()}")
        self.log.close()
        return code

    def stop_and_check(self):
        """Stops the stack and removes its files; fails unless run-stack exited 0 on SIGTERM and
        nothing answers on its ports any more."""
        code = self.stop()
        self.cleanup()
        if code != 0:
            raise AssertionError(f"run-stack exited with {code} on SIGTERM:\n{self.output()}")
        for port in (self.https_port, self.auth_port, self.mt5_port):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    raise AssertionError(f"port {port} still answers after run-stack stopped")

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def cleanup(self):
        if os.environ.get("PERMISO_TEST_KEEP") == "1":
            print(f"kept {self.data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    # --- calls through the front door ---

    def call(self, method, path, via="https", **kw):
        base = self.https_url if via == "https" else self.http_url if via == "http" else via
        kw.setdefault("ca_file", self.ca_file)
        return request(base, method, path, **kw)

    def admin_token(self):
        if self._admin_token is None:
            r = self.call("POST", f"{V1}/auth/token", source=fresh_source(),
                          form={"grant_type": "password", "username": ADMIN, "password": ADMIN_PASSWORD})
            if r.status != 200:
                raise HarnessError(f"admin login through the front door failed: {r}")
            self._admin_token = r.body["access_token"]
        return self._admin_token

    def frontdoor_dir(self):
        return os.path.join(self.data_dir, "frontdoor")

    def access_log(self):
        """nginx's JSON access-log lines written so far. nginx may be writing a line as it is read:
        only lines that end in a newline are complete."""
        with open(os.path.join(self.frontdoor_dir(), "access.log"), encoding="utf-8") as f:
            complete = f.read().split("\n")[:-1]  # what follows the last newline is still being written
        return [jsonlib.loads(line) for line in complete if line.strip()]


class ClusterStack(FrontDoorStack):
    """scripts/run-cluster: two permiso-auth replicas on a real PostgreSQL and Redis, two mt5-api
    replicas over one mt5-sim (FIX), nginx in front. Its data dir is DIR/cluster, its CA DIR/tls."""

    script = "run-cluster"

    def __init__(self, env=None):
        super().__init__(env)
        self.auth_port_2 = harness.free_port()
        self.auth_url_2 = f"http://127.0.0.1:{self.auth_port_2}"
        self.root_dir, self.data_dir = self.data_dir, os.path.join(self.data_dir, "cluster")
        self.log_path = os.path.join(self.root_dir, "run-cluster.log")
        self.ca_file = os.path.join(self.root_dir, "tls", "ca.pem")
        self.mt5_port_2 = harness.free_port()
        self.mt5_url_2 = f"http://127.0.0.1:{self.mt5_port_2}"
        self.env.update({"PERMISO_DATA_DIR": self.data_dir, "PERMISO_PORT_2": str(self.auth_port_2),
                         "MT5_API_PORT_2": str(self.mt5_port_2), "MT5_SIM_FIX_PORT": str(harness.free_port())})

    def mt5_replica_urls(self):
        """The two mt5-api replicas, each called directly (not through nginx)."""
        return [self.mt5_url, self.mt5_url_2]

    def replica_ports(self):
        return {f"127.0.0.1:{self.auth_port}": self.auth_port, f"127.0.0.1:{self.auth_port_2}": self.auth_port_2}

    def served_by(self, request_id, timeout=5):
        """The upstream address nginx sent this request to (from its access log)."""
        deadline = time.time() + timeout
        while True:
            for e in self.access_log():
                if e.get("request_id") == request_id:
                    return e["upstream"]
            if time.time() > deadline:
                raise HarnessError(f"request {request_id} is not in the access log")
            time.sleep(0.05)

    def cleanup(self):
        if os.environ.get("PERMISO_TEST_KEEP") == "1":
            print(f"kept {self.root_dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.root_dir, ignore_errors=True)
