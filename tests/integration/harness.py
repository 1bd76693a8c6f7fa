# Black-box harness for the permiso-auth acceptance suite: starts the real binary (and, per
# PERMISO_TEST_BACKEND, a real PostgreSQL 15 and Redis) on loopback and talks HTTP to it.
"""Standard library only (plus Debian's python3-jwt / python3-cryptography in the tests).

Environment:
  PERMISO_AUTH_BIN      path of the permiso-auth binary (required)
  PERMISO_TEST_BACKEND  sqlite (default) | postgres | postgres+redis
  PERMISO_REPO          repository root (default: two levels above this file); config/ is used
  PERMISO_TEST_KEEP     set to 1 to keep temp dirs for inspection
"""

import atexit
import base64
import json as jsonlib
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import openapi_check

# The proxy settings of the machine must never capture loopback traffic (PyJWKClient uses
# urllib's default opener too).
for _name in ("no_proxy", "NO_PROXY"):
    os.environ[_name] = ",".join(filter(None, [os.environ.get(_name, ""), "127.0.0.1", "localhost"]))

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("PERMISO_REPO") or os.path.dirname(os.path.dirname(HERE))
V1 = "/api/v1"
PG_BIN = "/usr/lib/postgresql/15/bin"
START_TIMEOUT_S = 20
STOP_TIMEOUT_S = 10
KEEP = os.environ.get("PERMISO_TEST_KEEP") == "1"


class HarnessError(Exception):
    """The test environment itself could not be set up (not a finding about the server)."""


def backend_name():
    name = os.environ.get("PERMISO_TEST_BACKEND", "sqlite")
    if name not in ("sqlite", "postgres", "postgres+redis"):
        raise HarnessError(f"PERMISO_TEST_BACKEND={name!r}: expected sqlite, postgres or postgres+redis")
    return name


def auth_binary():
    path = os.environ.get("PERMISO_AUTH_BIN")
    if not path:
        raise HarnessError("PERMISO_AUTH_BIN is not set: point it at the permiso-auth binary "
                           "(e.g. build/release/apps/permiso-auth/permiso-auth)")
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise HarnessError(f"PERMISO_AUTH_BIN={path!r} does not exist or is not executable "
                           "(build the permiso-auth target first)")
    return os.path.abspath(path)


_HANDED_OUT_PORTS = set()


def _listen_port_range():
    """Ports below the kernel's ephemeral range (net.ipv4.ip_local_port_range): a port there is
    never taken as the local port of an outgoing connection. A port from bind(0) lies inside
    that range, and under load a client socket took one between its choice and the server's
    bind (mt5-sim: "Address already in use", seen in CI)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return max(1024, low - 12000), low


def free_port():
    """A loopback port nothing listens on, outside the ephemeral range, never one this process
    was handed before: two servers (or a server and the "dead" upstream a test points at) must
    not end up on one port."""
    first, end = _listen_port_range()
    while True:
        port = random.randrange(first, end)
        if port in _HANDED_OUT_PORTS:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT_PORTS.add(port)
        return port


def wait_until(predicate, within_s, every_s=0.1):
    """Polls predicate until it returns something true or within_s pass; returns its last value.
    A deadline only bounds a failure: the test asserts on the value."""
    deadline = time.monotonic() + within_s
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every_s)


def metric_sample(server, name, labels=""):
    """The value of `name{labels}` (labels as rendered) on the server's /metrics, or None."""
    for line in server.get("/metrics").raw.splitlines():
        if line.startswith(name + labels + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def uniq(prefix="t"):
    return f"{prefix}{secrets.token_hex(4)}"


def strong_password():
    # Satisfies the contract's policy: upper, lower, digit and symbol, 8–128 characters.
    return f"Pw{secrets.token_hex(6)}!9Zq"


# ---------------------------------------------------------------------------------------------
# Backends: one PostgreSQL cluster per test process (a fresh database per permiso-auth
# instance), one Redis per permiso-auth instance.

class Postgres:
    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="permiso-pg-")
        self.data = os.path.join(self.dir, "data")
        self.counter = 0
        self.started = False

    def _as_postgres(self, args, **kw):
        if os.geteuid() == 0:
            args = ["runuser", "-u", "postgres", "--"] + args
        return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)

    def start(self):
        if not os.path.isdir(PG_BIN):
            raise HarnessError(f"PostgreSQL 15 binaries not found in {PG_BIN}")
        if os.geteuid() == 0:
            shutil.chown(self.dir, user="postgres", group="postgres")
        r = self._as_postgres([f"{PG_BIN}/initdb", "-D", self.data, "-A", "trust", "-U", "postgres"])
        if r.returncode != 0:
            raise HarnessError(f"initdb failed:\n{r.stdout}\n{r.stderr}")
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        r = self._as_postgres([f"{PG_BIN}/pg_ctl", "-D", self.data, "-o", opts, "-l",
                               os.path.join(self.dir, "postgres.log"), "-w", "start"])
        if r.returncode != 0:
            log = _read(os.path.join(self.dir, "postgres.log"))
            raise HarnessError(f"pg_ctl start failed:\n{r.stdout}\n{r.stderr}\n{log}")
        self.started = True

    def halt(self):
        """Stops the cluster but keeps its data (storage outage)."""
        r = self._as_postgres([f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"])
        if r.returncode != 0:
            raise HarnessError(f"pg_ctl stop failed:\n{r.stdout}\n{r.stderr}")
        self.started = False

    def resume(self):
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        r = self._as_postgres([f"{PG_BIN}/pg_ctl", "-D", self.data, "-o", opts, "-l",
                               os.path.join(self.dir, "postgres.log"), "-w", "start"])
        if r.returncode != 0:
            raise HarnessError(f"pg_ctl start failed:\n{r.stdout}\n{r.stderr}")
        self.started = True

    def new_database(self):
        self.counter += 1
        name = f"permiso_{self.counter}"
        r = subprocess.run([f"{PG_BIN}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U",
                            "postgres", name], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise HarnessError(f"createdb failed: {r.stderr}")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self):
        if self.started:
            self._as_postgres([f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"])
            self.started = False
        if not KEEP:
            shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="permiso-redis-")
        self.proc = None

    def start(self):
        exe = shutil.which("redis-server")
        if not exe:
            raise HarnessError("redis-server not found")
        with open(os.path.join(self.dir, "redis.log"), "wb") as log:  # the child keeps its own copy
            self.proc = subprocess.Popen(
                [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", self.dir],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise HarnessError("redis-server did not start:\n" + _read(os.path.join(self.dir, "redis.log")))

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def halt(self):
        """Stops the server and keeps its port and directory: start() brings it back (empty)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stop(self):
        self.halt()
        if not KEEP:
            shutil.rmtree(self.dir, ignore_errors=True)


_PG = None
_PG_LOCK = threading.Lock()


def postgres():
    """The process-wide PostgreSQL cluster, started on first use and stopped at exit."""
    global _PG
    with _PG_LOCK:
        if _PG is None:
            pg = Postgres()
            atexit.register(pg.stop)
            pg.start()
            _PG = pg
        return _PG


def _read(path):
    try:
        with open(path, "r", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------------
# HTTP

class Response(tuple):
    """(status, headers, body) where body is parsed JSON for JSON answers, else text."""

    def __new__(cls, status, headers, body, raw):
        r = super().__new__(cls, (status, headers, body))
        r.raw = raw
        return r

    status = property(lambda self: self[0])
    headers = property(lambda self: self[1])
    body = property(lambda self: self[2])

    def __repr__(self):
        return f"<HTTP {self.status} {self.raw[:600]!r}>"


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ServerError(AssertionError):
    pass


def basic_auth(client_id, client_secret):
    # RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    user = urllib.parse.quote(client_id, safe="")
    pw = urllib.parse.quote(client_secret, safe="")
    return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()


def http_request(base_url, method, path, form=None, json=None, headers=None, auth_basic=None,
                 bearer=None, body=None, content_type=None, allow_5xx=False, timeout=30):
    """One HTTP exchange. Any 5xx fails the test unless allow_5xx (the contract: never a 500)."""
    hdrs = {"Accept": "application/json"}
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    elif json is not None:
        data = jsonlib.dumps(json).encode()
        hdrs["Content-Type"] = "application/json"
    elif body is not None:
        data = body if isinstance(body, bytes) else body.encode()
    if content_type is not None:
        hdrs["Content-Type"] = content_type
    if auth_basic is not None:
        hdrs["Authorization"] = basic_auth(*auth_basic)
    if bearer is not None:
        hdrs["Authorization"] = f"Bearer {bearer}"
    hdrs.update(headers or {})
    if data is None and method in ("POST", "PUT", "PATCH"):
        data = b""
    req = urllib.request.Request(base_url + path, data=data, method=method, headers=hdrs)
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            status, rheaders, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        status, rheaders, raw = e.code, e.headers, e.read()
    text = raw.decode("utf-8", errors="replace")
    ctype = rheaders.get("Content-Type", "") or ""
    parsed = text
    if "json" in ctype.lower():
        try:
            parsed = jsonlib.loads(text) if text else None
        except ValueError as exc:
            raise AssertionError(f"{method} {path}: Content-Type {ctype} but body is not JSON: "
                                 f"{text[:300]!r}") from exc
    r = Response(status, rheaders, parsed, text)
    if status >= 500 and not allow_5xx:
        raise ServerError(f"{method} {path} answered {status} (never 5xx for client input): {text[:800]}")
    openapi_check.check(base_url, method, path, status, ctype, parsed, text)
    return r


# ---------------------------------------------------------------------------------------------
# The server under test

class ServiceProcess:
    """One server process (`<binary> serve`) on a free loopback port, in its own data dir: start
    until GET /health is 200, SIGTERM stop with exit-code check, SIGKILL, output for failures.
    Subclasses set name, binary, port, base_url, data_dir, owns_data_dir, log_path and env."""

    name = "server"
    document = None  # the OpenAPI document its answers are checked against (api/<document>.yaml)
    # Variables of the test process never passed through (the test decides all of them).
    ENV_PREFIXES = ("PERMISO_", "JWT_", "RATE_LIMIT_", "REDIS_", "DATABASE_", "MT5_", "DASHBOARD_")
    proc = None
    start_timeout = START_TIMEOUT_S

    # -- lifecycle
    def start(self):
        try:
            return self._start()
        except BaseException:
            self.kill()
            if self.proc is not None:
                self._log.close()
            self.cleanup()
            raise

    def _start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith(self.ENV_PREFIXES)}
        env.update(self.env)
        if self.document:
            openapi_check.register(self.base_url, self.document)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, "serve"], env=env, cwd=self.data_dir,
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.time() + self.start_timeout
        last = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise HarnessError(f"{self.name} exited with code {self.proc.returncode} during "
                                   f"start-up.\n{self.describe()}")
            try:
                r = http_request(self.base_url, "GET", "/health", timeout=2, allow_5xx=True)
                if r.status == 200:
                    return self
                last = r
            except (OSError, urllib.error.URLError) as e:
                last = e
            time.sleep(0.1)
        self.kill()
        raise HarnessError(f"{self.name} did not answer GET /health with 200 within "
                           f"{self.start_timeout}s (last: {last!r}).\n{self.describe()}")

    def stop(self):
        """SIGTERM and wait; returns the exit code (None if it had to be killed)."""
        if self.proc is None:
            return 0
        code = self.proc.poll()
        if code is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
                code = None
        self.proc = None
        self._log.close()
        return code

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop_clean(self):
        """Stops the server and raises unless it exited with code 0 within the timeout."""
        code = self.stop()
        try:
            if code != 0:
                how = "did not exit within %ds of SIGTERM" % STOP_TIMEOUT_S if code is None \
                    else f"exited with code {code} after SIGTERM"
                raise AssertionError(f"{self.name} {how} (expected a clean exit 0).\n{self.describe()}")
        finally:
            self.cleanup()

    def cleanup(self):
        if self.owns_data_dir and not KEEP:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def output(self):
        return _read(self.log_path)

    def describe(self, tail_lines=80):
        lines = self.output().splitlines()
        tail = "\n".join(lines[-tail_lines:])
        return (f"--- {self.name} ({self.binary} serve, backend {self.backend}, {self.base_url}) "
                f"output, last {min(len(lines), tail_lines)} of {len(lines)} lines ---\n{tail}\n--- end ---")

    # -- HTTP
    def request(self, method, path, **kw):
        return http_request(self.base_url, method, path, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


class AuthServer(ServiceProcess):
    """One permiso-auth process in its own temp data dir (and database / Redis)."""

    name = "permiso-auth"
    document = "permiso-auth"

    def __init__(self, env=None, bootstrap=True, data_dir=None, database_url=None, redis=None,
                 jwt_secret=None, issuer=None, admin_password=None):
        self.binary = auth_binary()
        self.backend = backend_name()
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.issuer = issuer or self.base_url
        self.owns_data_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="permiso-auth-")
        self.log_path = os.path.join(self.data_dir, f"permiso-auth-{self.port}.log")
        self.admin_username = "admin"
        self.admin_password = (admin_password or f"Adm1n!{secrets.token_urlsafe(18)}") if bootstrap else None
        self.jwt_secret = jwt_secret or secrets.token_hex(32)  # 64 bytes of text, > 256 bits
        self.redis = redis
        self.owns_redis = False
        if database_url is None:
            if self.backend == "sqlite":
                database_url = f"sqlite:///{self.data_dir}/permiso.db"
            else:
                database_url = postgres().new_database()
        if self.backend == "postgres+redis" and self.redis is None:
            self.redis = Redis()
            self.redis.start()
            self.owns_redis = True
        self.database_url = database_url
        self.env = {
            "PERMISO_ENV": "development",
            "PERMISO_HOST": "127.0.0.1",
            "PERMISO_PORT": str(self.port),
            "PERMISO_DATA_DIR": self.data_dir,
            "PERMISO_CONFIG_DIR": os.path.join(REPO, "config"),
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            "DATABASE_URL": database_url,
            "JWT_ALGORITHM": "HS256",
            "JWT_SECRET_KEY": self.jwt_secret,
            "JWT_ISSUER": self.issuer,
            # The suite logs in a lot; the classes that test limits lower these.
            "RATE_LIMIT_LOGIN": "100000/minute",
            "RATE_LIMIT_API": "100000/minute",
        }
        if bootstrap:
            self.env["PERMISO_BOOTSTRAP_ADMIN_USERNAME"] = self.admin_username
            self.env["PERMISO_BOOTSTRAP_ADMIN_PASSWORD"] = self.admin_password
        if self.redis is not None:
            self.env["REDIS_URL"] = self.redis.url
        self.env.update(env or {})
        # A None value removes a default (to test the server's own defaults).
        self.env = {k: v for k, v in self.env.items() if v is not None}
        self.jwt_algorithm = self.env.get("JWT_ALGORITHM", "HS256")
        self.proc = None
        self._admin_token = None

    def cleanup(self):
        if self.owns_redis and self.redis is not None:
            self.redis.stop()
        super().cleanup()

    # -- common flows, all through the public API
    def login(self, username, password, expect=200):
        r = self.post(f"{V1}/auth/token", form={"grant_type": "password", "username": username,
                                                "password": password})
        if expect is not None and r.status != expect:
            raise AssertionError(f"login of {username!r}: expected {expect}, got {r!r}")
        return r.body

    def admin_token(self):
        if self._admin_token is None:
            self._admin_token = self.login(self.admin_username, self.admin_password)["access_token"]
        return self._admin_token

    def register_user(self, username=None, password=None, email=None, **extra):
        username = username or uniq("user_")
        password = password or strong_password()
        email = email or f"{username.lower()}@example.com"
        body = {"username": username, "email": email, "password": password}
        body.update(extra)
        r = self.post(f"{V1}/users/register", json=body)
        if r.status != 201:
            raise AssertionError(f"register {username!r}: expected 201, got {r!r}")
        return r.body, password

    def user_session(self):
        """Registers a fresh user and logs in: (user, password, token response)."""
        user, password = self.register_user()
        return user, password, self.login(user["username"], password)

    def create_client(self, scopes=("trade:read", "trade:open", "account:read"), client_id=None,
                      path=f"{V1}/admin/service-clients", **extra):
        body = {
            "client_id": client_id or uniq("itest-client-"),
            "name": "Integration Test Client",
            "description": "Client for integration testing",
            "client_type": "confidential",
            "is_trusted": True,
            "access_token_lifetime": 3600,
            "scope_ids": list(scopes),
        }
        body.update(extra)
        r = self.post(path, json=body, bearer=self.admin_token())
        if r.status != 201:
            raise AssertionError(f"create service client: expected 201, got {r!r}")
        return r.body

    def service_token(self, client_id, client_secret, scope=None, expect=200):
        form = {"client_id": client_id, "client_secret": client_secret}
        if scope is not None:
            form["scope"] = scope
        r = self.post(f"{V1}/auth/service-token", form=form)
        if expect is not None and r.status != expect:
            raise AssertionError(f"service token for {client_id}: expected {expect}, got {r!r}")
        return r


def find_list(body, *keys):
    """The list in an answer: the body itself, or the first of keys that holds a list."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for k in keys:
            if isinstance(body.get(k), list):
                return body[k]
    raise AssertionError(f"expected a JSON list (or an object with one of {keys}), got {body!r}")


def unknown_id_like(real_id):
    """An id that exists nowhere but has the server's own id format (integer or UUID-like)."""
    if isinstance(real_id, int) or (isinstance(real_id, str) and real_id.isdigit()):
        return "999999999"
    return "00000000-0000-4000-8000-000000000000"


def names(items):
    """Scope or role names from a list of names or of {name, ...} objects."""
    out = set()
    for it in items:
        out.add(it["name"] if isinstance(it, dict) else it)
    return out


# ---------------------------------------------------------------------------------------------
# unittest glue

_MODULE_SERVERS = {}


def start_module_server(module, **kw):
    """setUpModule: one permiso-auth for the whole module."""
    _MODULE_SERVERS[module] = AuthServer(**kw).start()
    return _MODULE_SERVERS[module]


def stop_module_server(module):
    server = _MODULE_SERVERS.pop(module, None)
    if server is not None:
        server.stop_clean()


class ServerTestCase(unittest.TestCase):
    """Base class. A class with server_env (a dict) gets its own server with that env on top of
    the defaults; other classes share their module's server (start_module_server)."""

    server_env = None
    server_kwargs = {}
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if cls.server_env is not None:
            cls.server = AuthServer(env=cls.server_env, **cls.server_kwargs).start()
            cls._owns_server = True
        else:
            if cls.__module__ not in _MODULE_SERVERS:
                start_module_server(cls.__module__)
            cls.server = _MODULE_SERVERS[cls.__module__]
            cls._owns_server = False

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "_owns_server", False):
            cls.server.stop_clean()
        super().tearDownClass()

    def run(self, result=None):
        # On a failure, show what the server said (the tail of its output).
        before = (len(result.failures) + len(result.errors)) if result is not None else 0
        out = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > before:
            server = getattr(type(self), "server", None)
            if server is not None:
                sys.stderr.write(f"\n[{self.id()}] server output:\n{server.describe(40)}\n")
        return out

    # -- assertions on the contract's error shape
    def assertError(self, r, status, code=None, msg=None):
        """status, {"error": code, "error_description": str, "request_id": str}."""
        label = msg or ""
        self.assertEqual(r.status, status, f"{label} expected HTTP {status}, got {r!r}")
        self.assertIsInstance(r.body, dict, f"{label} error body must be a JSON object: {r!r}")
        self.assertIsInstance(r.body.get("error"), str, f"{label} missing 'error': {r!r}")
        if code is not None:
            self.assertEqual(r.body["error"], code, f"{label} wrong error code: {r!r}")
        self.assertIsInstance(r.body.get("error_description"), str, f"{label} no error_description: {r!r}")
        self.assertTrue(r.body["error_description"], f"{label} empty error_description: {r!r}")
        self.assertIsInstance(r.body.get("request_id"), str, f"{label} no request_id: {r!r}")
        self.assertTrue(r.body["request_id"], f"{label} empty request_id: {r!r}")
        return r.body

    def assertInvalidToken(self, r, msg=None):
        """401 invalid_token with WWW-Authenticate: Bearer error="invalid_token"."""
        self.assertError(r, 401, "invalid_token", msg)
        www = r.headers.get("WWW-Authenticate", "")
        self.assertTrue(www.startswith("Bearer"), f"{msg or ''} WWW-Authenticate must be Bearer: {www!r}")
        self.assertIn('error="invalid_token"', www, f"{msg or ''} WWW-Authenticate: {www!r}")

    def assertFieldNamed(self, body, field):
        """422/409 answers say which field: a 'field' member naming it, or the description."""
        if "field" in body:
            self.assertEqual(body["field"], field, f"wrong field named: {body!r}")
        else:
            self.assertIn(field, body.get("error_description", ""),
                          f"the error must name the field {field!r}: {body!r}")

    def assertStatusIn(self, r, statuses, msg=None):
        self.assertIn(r.status, statuses, f"{msg or ''} expected one of {statuses}, got {r!r}")
