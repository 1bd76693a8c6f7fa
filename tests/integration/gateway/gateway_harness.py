# Black-box harness for the mt5-api acceptance suite: the real permiso-auth and mt5-api
# binaries (and, per PERMISO_TEST_BACKEND, a real PostgreSQL 15 and Redis) on loopback.
"""Builds on ../harness.py (processes, backends, HTTP, error-shape assertions); adds the gateway
process, a trading client per service client, and a minimal RFC 6455 WebSocket client.

Environment:
  PERMISO_AUTH_BIN      path of the permiso-auth binary (required)
  MT5_API_BIN           path of the mt5-api binary (required)
  PERMISO_TEST_BACKEND  sqlite (default) | postgres | postgres+redis
  PERMISO_TEST_BROKER   simulator (default) | terminal | fix: mt5-api trades through the terminal
                        bridge or a FIX 4.4 session, against an mt5-sim process (MT5_SIM_BIN)
                        speaking that protocol
  MT5_SIM_BIN           path of the mt5-sim binary (PERMISO_TEST_BROKER=terminal or fix)
  PERMISO_TEST_FIX_WITHOUT  fix only: requests mt5-sim refuses as unsupported, comma-separated
                        (RequestForPositions, CollateralInquiry): the suite then runs over
                        mt5-api's own ledger (docs/brokers.md)
  PERMISO_REPO          repository root; config/ is used
  PERMISO_TEST_KEEP     set to 1 to keep temp dirs for inspection
"""

import base64
import hashlib
import json as jsonlib
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import harness  # noqa: E402  (the permiso-auth suite's harness, one directory up)
from harness import V1, AuthServer, HarnessError, ServiceProcess, http_request  # noqa: E402,F401

# What the gateway tests configure; the assertions on the demo account use these.
DEMO_DEPOSIT = 10000.0
DEMO_LEVERAGE = 100
DEMO_CURRENCY = "USD"
SIM_SEED = "20240601"
AUDIENCE = "permiso"
MT5_SERVICE_CLIENT_ID = "mt5-service"

TRADING_SCOPES = ("trade:read", "trade:open", "trade:close", "trade:modify", "account:read",
                  "account:balance", "market:data")
# The contract's instruments (the list); the simulator may offer more.
CONTRACT_SYMBOLS = ("EURUSD", "GBPUSD", "USDJPY", "XAUUSD", "US500", "BTCUSD")
TRADE_FIELDS = ("id", "symbol", "volume", "type", "open_price", "current_price", "profit",
                "stop_loss", "take_profit", "open_time", "status", "comment")
ACCOUNT_FIELDS = ("balance", "equity", "margin", "free_margin", "margin_level", "currency", "leverage")

# A revocation reaches every gateway replica within this (contract).
REVOCATION_DEADLINE_S = 2.0
# The broker's own words for a refused volume or stops are as good as validation_error.
VOLUME_CODES = ("validation_error", "invalid_volume")
STOPS_CODES = ("validation_error", "invalid_stops")


def mt5_binary():
    path = os.environ.get("MT5_API_BIN")
    if not path:
        raise HarnessError("MT5_API_BIN is not set: point it at the mt5-api binary "
                           "(e.g. build/release/apps/mt5-api/mt5-api)")
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise HarnessError(f"MT5_API_BIN={path!r} does not exist or is not executable "
                           "(build the mt5-api target first)")
    return os.path.abspath(path)


# The counterparty's one thin market (mt5-sim --max-fill-lots): an order fills at most this many
# lots of it per quote, so partial fills can be asserted. No other test trades it.
THIN_SYMBOL = "AUDUSD"
THIN_LOTS = 0.3
# The terminal stand-in's trade server keeps GMT+2, as many brokers' do (mt5-sim
# --server-utc-offset-s): the bridge must still carry UTC, so every time the API answers is UTC.
TERMINAL_SERVER_UTC_OFFSET_S = 7200


def broker_name():
    name = os.environ.get("PERMISO_TEST_BROKER", "simulator")
    if name not in ("simulator", "terminal", "fix"):
        raise HarnessError(f"PERMISO_TEST_BROKER={name!r}: expected simulator, terminal or fix")
    return name


def all_threads_stopped(pid):
    """Whether every thread of `pid` is in the stopped state (T in /proc/<pid>/task/*/stat)."""
    states = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return False  # reaped: the caller's poll() tells why
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                states.append(f.read().rsplit(")", 1)[1].split()[0])  # the field after (comm)
        except FileNotFoundError:
            continue  # a thread that ended meanwhile
    return bool(states) and all(state == "T" for state in states)


class TerminalSim:
    """mt5-sim serving the simulated broker over the PermisoBridge protocol (what the MT5
    terminal's Expert Advisor speaks), on two free loopback ports. It outlives an mt5-api
    restart, as a terminal does."""

    token = "bridge-" + secrets.token_urlsafe(16)

    def __init__(self, data_dir):
        self.binary = os.environ.get("MT5_SIM_BIN")
        if not self.binary or not os.access(self.binary, os.X_OK):
            raise HarnessError(f"PERMISO_TEST_BROKER={broker_name()} needs MT5_SIM_BIN (the mt5-sim binary)")
        self.command_url = f"tcp://127.0.0.1:{harness.free_port()}"
        self.event_url = f"tcp://127.0.0.1:{harness.free_port()}"
        self.data_dir = data_dir
        self.log_path = os.path.join(data_dir, "mt5-sim.log")
        self.proc = None

    def common_arguments(self):
        return [self.binary, "--command-url", self.command_url, "--event-url", self.event_url,
                "--seed", SIM_SEED, "--tick-ms", "50",
                "--max-fill-lots", f"{THIN_SYMBOL}={THIN_LOTS}"]

    def arguments(self):
        return self.common_arguments() + ["--server-utc-offset-s", str(TERMINAL_SERVER_UTC_OFFSET_S)]

    def environment(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("MT5_")}
        env["MT5_TERMINAL_TOKEN"] = self.token
        return env

    def listening_port(self):
        return int(self.command_url.rsplit(":", 1)[1])

    def start(self):
        with open(self.log_path, "ab") as log:  # the child keeps its own copy
            self.proc = subprocess.Popen(self.arguments(), env=self.environment(), stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        port = self.listening_port()
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise HarnessError(f"mt5-sim exited with {self.proc.returncode}:\n{self.output()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise HarnessError(f"mt5-sim did not listen on port {port} within 10 s")

    def pause(self):
        """A hung terminal: the process is stopped (SIGSTOP) and answers nothing. Returns once
        every thread of it has stopped. The kernel stops a process thread by thread, beginning
        when the thread it woke for the signal next runs; on a busy machine another thread (the
        one reading the socket) can run meanwhile and answer what was sent just after the signal."""
        self.proc.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + 10
        while not all_threads_stopped(self.proc.pid):
            if self.proc.poll() is not None:
                raise HarnessError(f"mt5-sim exited ({self.proc.returncode}) instead of pausing:\n{self.output()}")
            if time.monotonic() > deadline:
                raise HarnessError(f"mt5-sim (pid {self.proc.pid}) did not stop within 10 s of SIGSTOP")
            time.sleep(0.005)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def output(self):
        return harness._read(self.log_path)

    def env(self):
        return {"MT5_BROKER": "terminal", "MT5_TERMINAL_COMMAND_URL": self.command_url,
                "MT5_TERMINAL_EVENT_URL": self.event_url, "MT5_TERMINAL_TOKEN": self.token,
                "MT5_TERMINAL_TIMEOUT_MS": "2000"}


class FixSim(TerminalSim):
    """mt5-sim serving the simulated broker as a FIX 4.4 counterparty only (docs/fix.md,
    --no-bridge) on a free port, its session store in the gateway's data dir (a restart resumes
    the session)."""

    password = "fix-" + secrets.token_urlsafe(16)
    comp_id = "MT5SIM"
    client_comp_id = "PERMISO"
    spare_comp_id = "PERMISO-2"  # a second client session (tests: a second gateway)

    def __init__(self, data_dir):
        super().__init__(data_dir)
        self.fix_port = harness.free_port()

    def arguments(self):  # FIX is UTC by the standard: no trade-server zone
        return self.common_arguments() + [
            "--no-bridge", "--fix-port", str(self.fix_port), "--fix-comp-id", self.comp_id,
            "--fix-client-comp-id", self.client_comp_id, "--fix-client-comp-id", self.spare_comp_id,
            "--fix-username", "permiso",
            "--fix-store-dir", os.path.join(self.data_dir, "mt5-sim-fix")] + self.without()

    def without(self):
        """--fix-without for each request PERMISO_TEST_FIX_WITHOUT names."""
        names = [n.strip() for n in os.environ.get("PERMISO_TEST_FIX_WITHOUT", "").split(",") if n.strip()]
        return [arg for name in names for arg in ("--fix-without", name)]

    def environment(self):
        env = super().environment()
        env["MT5_FIX_PASSWORD"] = self.password
        return env

    def listening_port(self):
        return self.fix_port

    def env(self):
        return {"MT5_BROKER": "fix", "MT5_SERVER": f"127.0.0.1:{self.fix_port}",
                "MT5_PASSWORD": self.password, "MT5_FIX_USERNAME": "permiso",
                "MT5_FIX_SENDER_COMP_ID": self.client_comp_id, "MT5_FIX_TARGET_COMP_ID": self.comp_id,
                "MT5_FIX_HEARTBEAT_S": "5", "MT5_FIX_TIMEOUT_MS": "2000"}


def counterparty_for(data_dir):
    """The mt5-sim process PERMISO_TEST_BROKER asks for (terminal or fix)."""
    return FixSim(data_dir) if broker_name() == "fix" else TerminalSim(data_dir)


def mt5_binary_or_skip(test):
    """mt5-api from MT5_API_BIN, else beside permiso-auth in the build tree (the permiso-auth
    suite's CTest entries name only PERMISO_AUTH_BIN); skips `test` when there is none."""
    if not os.environ.get("MT5_API_BIN"):
        sibling = os.path.join(os.path.dirname(os.path.dirname(harness.auth_binary())), "mt5-api", "mt5-api")
        if os.access(sibling, os.X_OK):
            os.environ["MT5_API_BIN"] = sibling
    try:
        return mt5_binary()
    except HarnessError as e:
        test.skipTest(f"needs mt5-api too: {e}")


class Mt5Server(ServiceProcess):
    """One mt5-api process beside a permiso-auth, in its own data dir and database. A restart
    (kill or stop, then Mt5Server(..., same=previous)) reuses the data dir and database."""

    name = "mt5-api"
    document = "mt5-api"
    start_timeout = 40

    def __init__(self, auth, service_secret, env=None, same=None, redis=None, sim=None):
        self.binary = mt5_binary()
        self.backend = harness.backend_name()
        self.auth = auth
        self.port = harness.free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        if same is not None:
            self.data_dir, self.database_url, self.owns_data_dir = same.data_dir, same.database_url, False
            redis = redis or same.redis
        else:
            self.data_dir = tempfile.mkdtemp(prefix="permiso-mt5-")
            self.owns_data_dir = True
            if self.backend == "sqlite":
                self.database_url = f"sqlite:///{self.data_dir}/mt5.db"
            else:
                self.database_url = harness.postgres().new_database()
        self.redis = redis
        self.log_path = os.path.join(self.data_dir, f"mt5-api-{self.port}.log")
        self.sim = None
        if sim is not None:
            self.sim = sim  # a counterparty the test started (and this gateway stops)
        elif broker_name() != "simulator":
            self.sim = same.sim if same is not None else counterparty_for(self.data_dir).start()
        self.env = {
            "PERMISO_ENV": "development",
            "PERMISO_DATA_DIR": self.data_dir,
            "PERMISO_CONFIG_DIR": os.path.join(harness.REPO, "config"),
            "MT5_API_HOST": "127.0.0.1",
            "MT5_API_PORT": str(self.port),
            "PERMISO_AUTH_URL": auth.base_url,
            "MT5_DATABASE_URL": self.database_url,
            "JWT_ALGORITHM": auth.jwt_algorithm,
            "JWT_ISSUER": auth.issuer,
            "JWT_AUDIENCE": AUDIENCE,
            "MT5_SERVICE_CLIENT_ID": MT5_SERVICE_CLIENT_ID,
            "MT5_SERVICE_CLIENT_SECRET": service_secret,
            "MT5_BROKER": "simulator",
            "MT5_SIM_SEED": SIM_SEED,
            "MT5_SIM_TICK_MS": "50",
            "MT5_DEMO_DEPOSIT": str(int(DEMO_DEPOSIT)),
            "MT5_DEMO_LEVERAGE": str(DEMO_LEVERAGE),
            "MT5_DEMO_CURRENCY": DEMO_CURRENCY,
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            "RATE_LIMIT_API": "100000000/minute",
        }
        if auth.jwt_algorithm == "HS256":
            self.env["JWT_SECRET_KEY"] = auth.jwt_secret
        if self.redis is not None:
            self.env["REDIS_URL"] = self.redis.url
        if self.sim is not None:
            self.env.update(self.sim.env())
        self.env.update(env or {})
        self.env = {k: v for k, v in self.env.items() if v is not None}

    def request(self, method, path, **kw):
        return http_request(self.base_url, method, path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def cleanup(self):
        if self.sim is not None and self.owns_data_dir:
            self.sim.stop()  # the terminal goes with the last gateway of its data
        super().cleanup()

    def describe(self, tail_lines=80):
        out = super().describe(tail_lines)
        if self.sim is not None:
            lines = self.sim.output().splitlines()[-tail_lines:]
            out += "\n--- mt5-sim output ---\n" + "\n".join(lines) + "\n--- end ---"
        return out


class Stack:
    """permiso-auth (ES256 by default, with MT5_SERVICE_CLIENT_SECRET) and one mt5-api."""

    def __init__(self, alg="ES256", auth_env=None, mt5_env=None):
        self.service_secret = "svc-" + secrets.token_urlsafe(32)
        env = {"JWT_ALGORITHM": alg, "JWT_AUDIENCE": AUDIENCE,
               "MT5_SERVICE_CLIENT_SECRET": self.service_secret}
        env.update(auth_env or {})
        self.auth = AuthServer(env=env)
        self.mt5_env = mt5_env
        self.mt5 = None

    def start(self):
        self.auth.start()
        try:
            self.mt5 = Mt5Server(self.auth, self.service_secret, env=self.mt5_env,
                                 redis=self.auth.redis).start()
        except BaseException:
            self.auth.kill()
            self.auth.stop()
            self.auth.cleanup()
            raise
        return self

    def restart_mt5(self, kill=False):
        """SIGKILL (kill=True) or SIGTERM the gateway, then start a new one on the same data."""
        old = self.mt5
        if kill:
            old.kill()
            old.stop()
        else:
            code = old.stop()
            if code != 0:
                raise AssertionError(f"mt5-api exited with {code} after SIGTERM.\n{old.describe()}")
        self.mt5 = Mt5Server(self.auth, self.service_secret, env=self.mt5_env, same=old).start()
        self.previous_mt5 = old
        return self.mt5

    def stop(self):
        problems = []
        if self.mt5 is not None:
            try:
                self.mt5.stop_clean()
            except AssertionError as e:
                problems.append(str(e))
            prev = getattr(self, "previous_mt5", None)
            if prev is not None:
                prev.owns_data_dir = True
                prev.cleanup()
        try:
            self.auth.stop_clean()
        except AssertionError as e:
            problems.append(str(e))
        if problems:
            raise AssertionError("\n".join(problems))

    def describe(self, tail=40):
        out = self.auth.describe(tail)
        if self.mt5 is not None:
            out += "\n" + self.mt5.describe(tail)
        return out

    def trader(self, scopes=TRADING_SCOPES, trusted=False, client_id=None):
        return Trader(self, scopes=scopes, trusted=trusted, client_id=client_id)


class Trader:
    """One service client of permiso-auth with a token, trading on the gateway."""

    def __init__(self, stack, scopes=TRADING_SCOPES, trusted=False, client_id=None):
        self.stack = stack
        created = stack.auth.create_client(scopes=scopes, client_id=client_id or harness.uniq("trader-"),
                                           is_trusted=trusted)
        self.client_id = created["client"]["client_id"]
        self.secret = created["client_secret"]
        self.scopes = tuple(scopes)
        self.token = self.new_token()

    def new_token(self, scope=None):
        return self.stack.auth.service_token(self.client_id, self.secret, scope=scope).body["access_token"]

    def request(self, method, path, token=None, **kw):
        return self.stack.mt5.request(method, path, bearer=token or self.token, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def open(self, symbol="EURUSD", volume=0.01, trade_type="buy", headers=None, **extra):
        body = {"symbol": symbol, "volume": volume, "trade_type": trade_type}
        body.update(extra)
        r = self.post(f"{V1}/trades", json=body, headers=headers)
        if r.status != 201:
            raise AssertionError(f"POST /trades {body}: expected 201, got {r!r}")
        return r.body

    def trades(self, query=""):
        r = self.get(f"{V1}/trades{query}")
        if r.status != 200 or not isinstance(r.body, list):
            raise AssertionError(f"GET /trades{query}: expected 200 and a JSON array, got {r!r}")
        return r.body

    def quote(self, symbol="EURUSD"):
        r = self.get(f"{V1}/market/{symbol}")
        if r.status != 200:
            raise AssertionError(f"GET /market/{symbol}: {r!r}")
        return r.body

    def account(self):
        r = self.get(f"{V1}/account")
        if r.status != 200:
            raise AssertionError(f"GET /account: {r!r}")
        return r.body


def trade_path(trade_or_id):
    tid = trade_or_id["id"] if isinstance(trade_or_id, dict) else trade_or_id
    return f"{V1}/trades/{urllib.parse.quote(str(tid), safe='')}"


def same_id(a, b):
    return str(a) == str(b)


def link_next(headers):
    """The URL of rel="next" in a Link header (RFC 8288), or None."""
    value = headers.get("Link")
    if not value:
        return None
    for part in value.split(","):
        segs = [s.strip() for s in part.split(";")]
        if not segs or not segs[0].startswith("<") or not segs[0].endswith(">"):
            continue
        rels = [s for s in segs[1:] if s.replace(" ", "").lower() in ('rel="next"', "rel=next")]
        if rels:
            return segs[0][1:-1]
    return None


def path_of(url, base_url):
    """A Link target may be absolute or relative; the path and query to request."""
    parsed = urllib.parse.urlsplit(url)
    path = parsed.path or "/"
    return path + (f"?{parsed.query}" if parsed.query else "")


def finite_number(test, value, what):
    test.assertIsInstance(value, (int, float), f"{what} must be a number: {value!r}")
    test.assertFalse(isinstance(value, bool), f"{what} must be a number: {value!r}")
    test.assertTrue(math.isfinite(value), f"{what} must be finite: {value!r}")


# ---------------------------------------------------------------------------------------------
# unittest glue

_STACKS = {}


def module_stack(module, **kw):
    if module not in _STACKS:
        _STACKS[module] = Stack(**kw).start()
    return _STACKS[module]


def stop_module_stack(module):
    stack = _STACKS.pop(module, None)
    if stack is not None:
        stack.stop()


class GatewayTestCase(harness.ServerTestCase):
    """A class with stack_kwargs (a dict) gets its own stack; others share the module's.
    self.server is permiso-auth (for the inherited helpers), self.mt5 the gateway."""

    stack_kwargs = None

    @classmethod
    def setUpClass(cls):
        unittest.TestCase.setUpClass()
        if cls.stack_kwargs is not None:
            cls.stack = Stack(**cls.stack_kwargs).start()
            cls._owns_stack = True
        else:
            cls.stack = module_stack(cls.__module__)
            cls._owns_stack = False
        cls.server = cls.stack.auth

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "_owns_stack", False):
            cls.stack.stop()

    @property
    def mt5(self):
        return self.stack.mt5

    def wait_ready(self, want, timeout=40):
        """Polls /ready until it says `want` (200 or not). A FIX session notices a silent peer
        after two heartbeat intervals (5 s in the harness) and a test request; a terminal's link
        after one command timeout."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.mt5.get("/ready", allow_5xx=True)
            if (r.status == 200) == want:
                return r
            if time.monotonic() > deadline:
                self.fail(f"/ready never became {'200' if want else '503'}: {r!r}")
            time.sleep(0.05)

    def run(self, result=None):
        before = (len(result.failures) + len(result.errors)) if result is not None else 0
        out = unittest.TestCase.run(self, result)
        if result is not None and len(result.failures) + len(result.errors) > before:
            stack = getattr(type(self), "stack", None)
            if stack is not None:
                sys.stderr.write(f"\n[{self.id()}] server output:\n{stack.describe(40)}\n")
        return out

    def assertInsufficientScope(self, r, scope, msg=None):
        body = self.assertError(r, 403, "insufficient_scope", msg)
        self.assertIn(scope, body.get("required_scopes", []), f"{msg or ''} required_scopes: {r!r}")
        self.assertIn(scope, body.get("missing_scopes", []), f"{msg or ''} missing_scopes: {r!r}")
        self.assertTrue(set(body["missing_scopes"]) <= set(body["required_scopes"]), r)
        return body

    def assertTradeShape(self, t, msg=None):
        label = msg or ""
        self.assertIsInstance(t, dict, f"{label} a trade is an object: {t!r}")
        for f in TRADE_FIELDS:
            self.assertIn(f, t, f"{label} trade field {f!r} missing: {t!r}")
        self.assertIn(t["type"], ("buy", "sell"), f"{label} type: {t!r}")
        self.assertIn(t["status"], ("open", "closed"), f"{label} status: {t!r}")
        for f in ("volume", "open_price", "current_price", "profit"):
            finite_number(self, t[f], f"{label} {f}")
        self.assertGreater(t["open_price"], 0, t)
        if t["status"] == "closed":
            self.assertIsNotNone(t.get("close_time"), f"{label} a closed trade has close_time: {t!r}")
            finite_number(self, t.get("close_price"), f"{label} close_price")

    def assertValidation(self, r, field, msg=None, codes=("validation_error",)):
        """422 naming the field; codes are the acceptable error codes (a broker refusal such
        as invalid_stops, with its broker_retcode, is as good as validation_error)."""
        body = self.assertError(r, 422, None, msg)
        self.assertIn(body["error"], codes, f"{msg or ''} {r!r}")
        self.assertFieldNamed(body, field)
        return body


def parallel(n, fn):
    """Runs fn(i) on n threads released together; returns the results (or exceptions) by i."""
    results = [None] * n
    barrier = threading.Barrier(n)

    def run(i):
        try:
            barrier.wait(10)
            results[i] = fn(i)
        except BaseException as e:  # reported to the caller
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


# ---------------------------------------------------------------------------------------------
# A minimal RFC 6455 client (text frames, ping/pong, close): enough to check the stream.

_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WebSocketRefused(Exception):
    def __init__(self, status, headers, body):
        super().__init__(f"WebSocket upgrade refused: HTTP {status} {body!r}")
        self.status, self.headers, self.body = status, headers, body


class WebSocket:
    def __init__(self, sock, leftover, headers=None):
        self.headers = headers or {}  # the 101 answer's headers, lower-case names
        self.sock = sock
        self.buf = leftover
        self.closed = False
        self.close_code = None
        self.messages = []  # every text message received, parsed as JSON when it is JSON

    @classmethod
    def connect(cls, base_url, path, bearer=None, headers=None, timeout=10, tls_context=None, source=None):
        """tls_context: an ssl.SSLContext for https:// base URLs; source: the local address to
        connect from (the front door's tests tell clients apart by it)."""
        u = urllib.parse.urlsplit(base_url)
        sock = socket.create_connection((u.hostname, u.port), timeout=timeout,
                                        source_address=(source, 0) if source else None)
        if u.scheme == "https":
            sock = tls_context.wrap_socket(sock, server_hostname=u.hostname)
        key = base64.b64encode(os.urandom(16)).decode()
        hdrs = {"Host": f"{u.hostname}:{u.port}", "Upgrade": "websocket", "Connection": "Upgrade",
                "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13"}
        if bearer is not None:
            hdrs["Authorization"] = f"Bearer {bearer}"
        hdrs.update(headers or {})
        req = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
        sock.sendall(req.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                sock.close()
                raise ConnectionError(f"connection closed during the handshake: {data!r}")
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        rheaders = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            rheaders[k.strip().lower()] = v.strip()
        if status != 101:
            length = int(rheaders.get("content-length", "0") or 0)
            while len(rest) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                rest += chunk
            sock.close()
            text = rest[:length].decode("utf-8", "replace")
            try:
                body = jsonlib.loads(text) if text else None
            except ValueError:
                body = text
            raise WebSocketRefused(status, rheaders, body)
        expect = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
        if rheaders.get("sec-websocket-accept") != expect:
            sock.close()
            raise AssertionError(f"bad Sec-WebSocket-Accept: {rheaders!r}")
        return cls(sock, rest, rheaders)

    def _read(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError from None
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _frame(self, deadline):
        b0, b1 = self._read(2, deadline)
        fin, opcode, masked, length = b0 & 0x80, b0 & 0x0F, b1 & 0x80, b1 & 0x7F
        if length == 126:
            length = int.from_bytes(self._read(2, deadline), "big")
        elif length == 127:
            length = int.from_bytes(self._read(8, deadline), "big")
        mask = self._read(4, deadline) if masked else None
        payload = self._read(length, deadline)
        if mask:
            payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        return bool(fin), opcode, payload

    def _send(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        self.sock.sendall(head + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload)))

    def send_text(self, text):
        self._send(0x1, text.encode())

    def recv(self, timeout=5.0):
        """The next text message (JSON-decoded when possible); None once closed; raises
        TimeoutError when nothing arrives in time."""
        if self.closed:
            return None
        deadline = time.time() + timeout
        parts = []
        while True:
            try:
                fin, opcode, payload = self._frame(deadline)
            except ConnectionError:
                self.closed = True
                return None
            if opcode == 0x9:  # ping
                self._send(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            if opcode == 0x8:
                self.closed = True
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                try:
                    self._send(0x8, payload[:2])
                except OSError:
                    pass
                return None
            parts.append(payload)
            if fin:
                text = b"".join(parts).decode("utf-8")
                try:
                    msg = jsonlib.loads(text)
                except ValueError:
                    msg = text
                self.messages.append(msg)
                return msg

    def wait_for(self, predicate, timeout=10.0):
        """Receives until predicate(message) holds; returns that message or None on timeout or
        close (every message seen is kept in self.messages)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                msg = self.recv(timeout=max(0.01, deadline - time.time()))
            except TimeoutError:
                return None
            if msg is None:
                return None
            if predicate(msg):
                return msg
        return None

    def close(self):
        if not self.closed:
            try:
                self._send(0x8, (1000).to_bytes(2, "big"))
            except OSError:
                pass
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass


def is_quote(msg, symbol=None):
    """A quote message: an object (or its data/quote/tick member) with symbol, bid and ask."""
    for obj in _candidates(msg):
        if all(k in obj for k in ("symbol", "bid", "ask")) and (symbol is None or obj["symbol"] == symbol):
            return True
    return False


def mentions_trade(msg, trade_id):
    """A message about this trade: some object in it has id/ticket/trade_id/position equal to it."""
    stack = [msg]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            for k in ("id", "ticket", "trade_id", "position", "position_id"):
                if k in v and same_id(v[k], trade_id):
                    return True
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


def _candidates(msg):
    if isinstance(msg, dict):
        yield msg
        for k in ("data", "quote", "tick", "payload"):
            if isinstance(msg.get(k), dict):
                yield msg[k]
