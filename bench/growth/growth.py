#!/usr/bin/python3
"""How cost grows (issue #14): throughput, p99, server CPU per request and RSS as the work grows.

Usage (from anywhere; runs from the repository root):
  bench/growth/growth.py [--build build/release] [dimension ...]   measure, then plot
  bench/growth/growth.py --plot                                     only re-plot from the CSVs
Dimensions: connections clients users revocations audit positions websocket (all by default).
BENCH_SECONDS (default 5) is each point's measured window; GROWTH_AUDIT_MAX (default 1000000)
caps the audit table (the committed figures used 10000000: a 70 s bulk insert, a 2.7 GB file).
GROWTH_CLIENT_SIZES (e.g. 100000,1000000) picks the clients dimension's sizes (default: 10 … 1 M),
GROWTH_USER_SIZES the users dimension's (default 10,1000,100000,1000000);
GROWTH_IDLE_SECONDS (default 4) is the idle CPU window; GROWTH_WS_TICK_MS (default 50; e.g. 50,200) the
simulator's tick for the websocket dimension, a series each.
Needs wrk and matplotlib (Debian packages), and for the websocket dimension the C++ client
(<build>/bench/stream/ws_fanout_client) or else python3-websockets; raises its open-files limit.

Each dimension writes docs/growth-<dimension>.csv and docs/growth-<dimension>.png (throughput,
p99 and server CPU per request against the size, log x); docs/growth.md is generated from all the
CSVs present plus bench/growth/analysis.md. Servers run in temp dirs under /tmp (deleted after).
"""
import csv
import os
import re
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import json

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOCS = os.path.join(ROOT, "docs")
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
IDLE_SECONDS = int(os.environ.get("GROWTH_IDLE_SECONDS", "4"))
CLIENT_SIZES = [int(n) for n in os.environ.get("GROWTH_CLIENT_SIZES", "10,100,1000,10000,100000,1000000").split(",")]
USER_SIZES = [int(n) for n in os.environ.get("GROWTH_USER_SIZES", "10,1000,100000,1000000").split(",")]
ADMIN_PW = "Bench-Admin-1!"
HZ = os.sysconf("SC_CLK_TCK")
FIELDS = ["dimension", "series", "size", "rps", "p50_ms", "p99_ms", "cpu_us_per_req",
          "rss_idle_mb", "rss_after_mb", "startup_s", "idle_cpu_pct", "reload_peak_mb", "note"]
PROCS = []  # every server started, stopped on exit


# ---------------------------------------------------------------- processes

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http(method, url, data=None, headers=None, timeout=30):
    body = None
    headers = dict(headers or {})
    if isinstance(data, dict):
        body = urllib.parse.urlencode(data).encode()
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif isinstance(data, str):
        body = data.encode()
        headers.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, ConnectionError, socket.timeout):
        return 0, b""


def wait_ok(url, limit_s):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        if http("GET", url, timeout=5)[0] == 200:
            return time.monotonic() - t0
        time.sleep(0.05)
    raise RuntimeError("no 200 from " + url)


class Server:
    def __init__(self, name, argv, env, log):
        self.name = name
        self.log = open(log, "ab")
        full = dict(os.environ)
        full.update(env)
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(argv, env=full, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)
        PROCS.append(self)

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if self in PROCS:
            PROCS.remove(self)


def stop_all():
    for s in list(PROCS):
        s.stop()


def status_mb(pid, field):
    """A memory field of /proc/<pid>/status (VmRSS, VmHWM, ...) in MB; 0 when absent."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def rss_mb(pid):
    return status_mb(pid, "VmRSS")


def peak_rss_mb(pid):
    """VmHWM: the most resident memory since the start or the last reset_peak_rss."""
    return status_mb(pid, "VmHWM")


def reset_peak_rss(pid):
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")  # Linux: VmHWM starts again from the current RSS


def metric_value(base, name):
    status, body = http("GET", base + "/metrics")
    for line in body.decode(errors="replace").splitlines() if status == 200 else []:
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def auth_env(data_dir, port, extra=None):
    env = {"PERMISO_ENV": "development", "PERMISO_DATA_DIR": data_dir, "PERMISO_PORT": str(port),
           "PERMISO_CONFIG_DIR": os.path.join(ROOT, "config"), "JWT_ALGORITHM": "ES256",
           "LOG_LEVEL": "WARNING", "RATE_LIMIT_API": "100000000/second",
           "RATE_LIMIT_SERVICE_TOKEN": "100000000/second", "PERMISO_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PW}
    env.update(extra or {})
    return env


class Stack:
    """permiso-auth (and optionally mt5-api) on data dirs that survive restarts."""

    def __init__(self, build, tmp, with_mt5=False, mt5_env=None, auth_extra=None):
        self.mt5_env = mt5_env or {}
        self.auth_extra = auth_extra or {}
        self.auth_bin = os.path.join(ROOT, build, "apps/permiso-auth/permiso-auth")
        self.mt5_bin = os.path.join(ROOT, build, "apps/mt5-api/mt5-api")
        self.tmp = tmp
        self.with_mt5 = with_mt5
        self.auth_dir = os.path.join(tmp, "auth")
        self.mt5_dir = os.path.join(tmp, "mt5")
        os.makedirs(self.auth_dir, exist_ok=True)
        os.makedirs(self.mt5_dir, exist_ok=True)
        self.auth_port = free_port()
        self.mt5_port = free_port()
        self.svc_secret = os.urandom(32).hex()
        self.auth = self.mt5 = None
        self.auth_startup = self.mt5_startup = 0.0

    @property
    def auth_db(self):
        return os.path.join(self.auth_dir, "permiso.db")

    @property
    def auth_base(self):
        return f"http://127.0.0.1:{self.auth_port}"

    @property
    def mt5_base(self):
        return f"http://127.0.0.1:{self.mt5_port}"

    def start(self, ready_limit_s=900):
        self.auth = Server("permiso-auth", [self.auth_bin, "serve"],
                           auth_env(self.auth_dir, self.auth_port,
                                    dict(self.auth_extra, MT5_SERVICE_CLIENT_SECRET=self.svc_secret)),
                           os.path.join(self.tmp, "auth.log"))
        self.auth_startup = wait_ok(self.auth_base + "/health", ready_limit_s)
        if self.with_mt5:
            env = {"PERMISO_ENV": "development", "PERMISO_DATA_DIR": self.mt5_dir,
                   "PERMISO_CONFIG_DIR": os.path.join(ROOT, "config"), "MT5_API_HOST": "127.0.0.1",
                   "MT5_API_PORT": str(self.mt5_port), "PERMISO_AUTH_URL": self.auth_base,
                   "JWT_ALGORITHM": "ES256", "MT5_SERVICE_CLIENT_SECRET": self.svc_secret,
                   "MT5_BROKER": "simulator", "MT5_SIM_SEED": "1", "MT5_DEMO_DEPOSIT": "1000000000",
                   "LOG_LEVEL": "WARNING", "RATE_LIMIT_API": "100000000/second"}
            env.update(self.mt5_env)
            self.mt5 = Server("mt5-api", [self.mt5_bin, "serve"], env, os.path.join(self.tmp, "mt5.log"))
            # /ready answers 200 once the JWKS and the whole revocation feed are loaded.
            self.mt5_startup = wait_ok(self.mt5_base + "/ready", ready_limit_s)

    def stop(self):
        for s in (self.mt5, self.auth):
            if s:
                s.stop()
        self.auth = self.mt5 = None

    def admin_token(self):
        st, body = http("POST", self.auth_base + "/api/v1/auth/token", {"username": "admin", "password": ADMIN_PW})
        assert st == 200, body
        return json.loads(body)["access_token"]

    def create_client(self, client_id, scopes):
        payload = json.dumps({"client_id": client_id, "name": "bench", "access_token_lifetime": 86400,
                              "scope_ids": scopes, "rate_limit_per_minute": None})
        st, body = http("POST", self.auth_base + "/api/v1/admin/service-clients", payload,
                        {"Authorization": "Bearer " + self.admin_token()})
        assert st in (200, 201), body
        return json.loads(body)["client_secret"]

    def service_token(self, client_id, secret):
        st, body = http("POST", self.auth_base + "/api/v1/auth/service-token",
                        {"client_id": client_id, "client_secret": secret})
        assert st == 200, body
        return json.loads(body)["access_token"]


# ---------------------------------------------------------------- measurement

def wrk(url, script, conns, seconds, env=None):
    threads = max(1, min(2, conns))
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s", "--latency",
           "-s", script, url]
    full = dict(os.environ)
    full.update(env or {})
    out = subprocess.run(cmd, env=full, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 60).stdout
    m = re.search(r"^RESULT .*$", out, re.M)
    if not m:
        raise RuntimeError("wrk printed no RESULT: " + out[-500:])
    vals = dict(kv.split("=") for kv in m.group(0).split()[1:])
    return vals


def idle_cpu_pct(pid, seconds=IDLE_SECONDS):
    """The server's CPU use with no requests (background work: reloads, feeds), % of one core."""
    t0 = cpu_ticks(pid)
    time.sleep(seconds)
    return round((cpu_ticks(pid) - t0) / HZ / seconds * 100, 1)


def measure(pid, url, script, conns, env, warm_env=None):
    """`warm_env`: the warm-up's own environment, for scripts whose inputs are spent by use."""
    wrk(url, script, conns, 1, env if warm_env is None else warm_env)  # warm up
    t0 = cpu_ticks(pid)
    r = wrk(url, script, conns, SECONDS, env)
    t1 = cpu_ticks(pid)
    n = int(r["requests"])
    bad = int(r.get("non2xx", r.get("unexpected_status", "0")))
    return {"rps": float(r["rps"]), "p50_ms": float(r["p50_ms"]), "p99_ms": float(r["p99_ms"]),
            "cpu_us_per_req": round((t1 - t0) / HZ * 1e6 / n, 1) if n else 0.0,
            "rss_after_mb": round(rss_mb(pid), 1),
            "note": f"requests={n} bad={bad} errors={r.get('errors', '0')}"}


def token_env(client_id, secret):
    return {"CLIENT_ID": client_id, "CLIENT_SECRET": secret}


TOKEN_LUA = "bench/http/client_credentials.lua"
TRADES_LUA = "bench/http/trades.lua"


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def write_csv(dim, rows):
    path = os.path.join(DOCS, f"growth-{dim}.csv")
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in FIELDS})
    log("wrote", os.path.relpath(path, ROOT))


def row(dim, series, size, m, **extra):
    r = {"dimension": dim, "series": series, "size": size}
    r.update(m)
    r.update(extra)
    log(dim, series, size, {k: r.get(k) for k in ("rps", "p99_ms", "cpu_us_per_req", "rss_after_mb", "startup_s",
                                                  "rss_idle_mb", "reload_peak_mb")})
    return r


def open_trades(stack, tokens, per_token):
    for tok in tokens:
        for i in range(per_token):
            side = "buy" if i % 2 == 0 else "sell"
            st, body = http("POST", stack.mt5_base + "/api/v1/trades",
                            json.dumps({"symbol": "EURUSD", "volume": 0.01, "trade_type": side}),
                            {"Authorization": "Bearer " + tok})
            assert st == 201, body


# ---------------------------------------------------------------- dimensions

def dim_connections(build):
    rows = []
    with tempfile.TemporaryDirectory(prefix="growth-conn-", dir="/tmp") as tmp:
        stack = Stack(build, tmp, with_mt5=True)
        stack.start()
        idle_auth, idle_mt5 = rss_mb(stack.auth.pid), rss_mb(stack.mt5.pid)
        secret = stack.create_client("bench-client", ["trade:read"])
        tokens = []
        for i in range(4):
            cid = f"bench-trader-{i}"
            s = stack.create_client(cid, ["trade:read", "trade:open", "account:read"])
            tokens.append(stack.service_token(cid, s))
        open_trades(stack, tokens, 5)
        for c in (1, 4, 16, 64, 256, 1024, 4096):
            m = measure(stack.auth.pid, stack.auth_base + "/api/v1/auth/token", TOKEN_LUA, c,
                        token_env("bench-client", secret))
            rows.append(row("connections", "permiso-auth token (ES256)", c, m, rss_idle_mb=round(idle_auth, 1)))
            m = measure(stack.mt5.pid, stack.mt5_base, TRADES_LUA, c, {"TOKENS": ",".join(tokens), "MODE": "read"})
            rows.append(row("connections", "mt5-api GET /trades", c, m, rss_idle_mb=round(idle_mt5, 1)))
        stack.stop()
    write_csv("connections", rows)


def bulk(db, sql_list):
    con = sqlite3.connect(db)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("BEGIN")
        for sql, args in sql_list:
            con.execute(sql, args)
        con.execute("COMMIT")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


def count(db, table):
    con = sqlite3.connect(db)
    try:
        return con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


SERIES = "WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?) "


def dim_clients(build):
    rows = []
    with tempfile.TemporaryDirectory(prefix="growth-clients-", dir="/tmp") as tmp:
        stack = Stack(build, tmp)
        stack.start()
        secret = stack.create_client("bench-client", ["trade:read"])
        stack.stop()
        have = count(stack.auth_db, "service_clients")  # bench-client, mt5-service, any bootstrap ones
        now = int(time.time())
        for n in CLIENT_SIZES:
            if n > have:
                t0 = time.monotonic()
                bulk(stack.auth_db, [
                    (SERIES + "INSERT INTO service_clients (client_id, name, secret_hash, created_at, updated_at) "
                     "SELECT printf('growth-%08d', i), 'growth', "
                     "(SELECT secret_hash FROM service_clients WHERE client_id = 'bench-client'), ?, ? FROM n",
                     (have + 1, n, now, now)),
                    (SERIES + "INSERT INTO client_scopes (client_id, scope_id) SELECT printf('growth-%08d', i), "
                     "s.scope_id FROM n, client_scopes s WHERE s.client_id = 'bench-client'", (have + 1, n)),
                ])
                log(f"clients: {n} rows in {time.monotonic() - t0:.1f}s")
                have = n
            stack.start()
            idle = rss_mb(stack.auth.pid)
            icpu = idle_cpu_pct(stack.auth.pid)
            m = measure(stack.auth.pid, stack.auth_base + "/api/v1/auth/token", TOKEN_LUA, 32,
                        token_env("bench-client", secret))
            reload_peak = full_reload_peak_mb(stack)
            rows.append(row("clients", "permiso-auth token (ES256), 32 conns", n, m, idle_cpu_pct=icpu,
                            rss_idle_mb=round(idle, 1), startup_s=round(stack.auth_startup, 2),
                            reload_peak_mb="" if reload_peak is None else round(reload_peak, 1)))
            stack.stop()
    write_csv("clients", rows)


def full_reload_peak_mb(stack):
    """The peak RSS while permiso-auth reads every client again with none of them changed: an
    "every client" change in the feed (what a scope's delete records), the peak reset first."""
    pid = stack.auth.pid
    before = metric_value(stack.auth_base, "permiso_client_cache_full_reloads_total")
    if before is None:
        return None  # a build older than the counter: nothing tells when the read is over
    reset_peak_rss(pid)
    bulk(stack.auth_db, [("INSERT INTO client_changes (client_id, changed_at) VALUES ('', ?)", (int(time.time()),))])
    deadline = time.monotonic() + 600
    while (metric_value(stack.auth_base, "permiso_client_cache_full_reloads_total") or 0) <= before:
        if time.monotonic() > deadline:
            raise RuntimeError("permiso-auth never read every client again")
        time.sleep(0.2)
    return peak_rss_mb(pid)


def password_login(stack, username, password):
    st, body = http("POST", stack.auth_base + "/api/v1/auth/token",
                    {"grant_type": "password", "username": username, "password": password})
    assert st == 200, body
    return json.loads(body)


def dim_users(build):
    """Registered users (10 … 1,000,000): the password grant (one Argon2id verification each, by
    design; the user read by username) and the refresh grant (the session and its user read)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="growth-users-", dir="/tmp") as tmp:
        stack = Stack(build, tmp, auth_extra={"RATE_LIMIT_LOGIN": "100000000/second"})
        stack.start()
        stack.stop()
        have = count(stack.auth_db, "users")  # the bootstrap admin
        now = int(time.time())
        login_env = {"BENCH_USERNAME": "admin", "BENCH_PASSWORD": ADMIN_PW}
        for n in USER_SIZES:
            if n > have:
                t0 = time.monotonic()
                bulk(stack.auth_db, [
                    (SERIES + "INSERT INTO users (username, email, password_hash, created_at, updated_at) "
                     "SELECT printf('growth-%08d', i), printf('growth-%08d@example.com', i), "
                     "(SELECT password_hash FROM users WHERE username = 'admin'), ?, ? FROM n",
                     (have + 1, n, now, now))])
                log(f"users: {n} rows in {time.monotonic() - t0:.1f}s")
                have = n
            stack.start()
            pid = stack.auth.pid
            idle = rss_mb(pid)
            url = stack.auth_base + "/api/v1/auth/token"
            m = measure(pid, url, "bench/http/password.lua", 4, login_env)
            rows.append(row("users", "permiso-auth password grant (Argon2id), 4 conns", n, m,
                            rss_idle_mb=round(idle, 1), startup_s=round(stack.auth_startup, 2)))
            # Two token chains for the warm-up, two for the window: a spent refresh token is refused.
            chains = [password_login(stack, "admin", ADMIN_PW)["refresh_token"] for _ in range(4)]
            m = measure(pid, url, "bench/http/refresh.lua", 2, {"REFRESH_TOKENS": ",".join(chains[2:])},
                        warm_env={"REFRESH_TOKENS": ",".join(chains[:2])})
            rows.append(row("users", "permiso-auth refresh grant, 2 conns", n, m, rss_idle_mb=round(idle, 1)))
            stack.stop()
    write_csv("users", rows)


def jti_of(token):
    import base64
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]


def dim_revocations(build):
    """N revocations in permiso-auth's table before start; mt5-api loads them from the feed. A canary
    token revoked last (highest seq) tells when mt5-api holds the whole list: its /ready turns 200
    after the feed's first page already, so `startup` here is the time until the canary is refused."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="growth-revoc-", dir="/tmp") as tmp:
        stack = Stack(build, tmp, with_mt5=True)
        stack.start()
        tokens = []
        for i in range(4):
            cid = f"bench-trader-{i}"
            s = stack.create_client(cid, ["trade:read", "trade:open", "account:read"])
            tokens.append(stack.service_token(cid, s))
        s = stack.create_client("bench-canary", ["trade:read", "trade:open", "account:read"])
        canary = stack.service_token("bench-canary", s)
        canary_key = "jti:" + jti_of(canary)
        open_trades(stack, tokens, 5)
        stack.stop()
        have = 0
        now = int(time.time())
        for n in (0, 100, 10000, 100000, 1000000):
            t0 = time.monotonic()
            bulk(stack.auth_db, [
                ("DELETE FROM revocations WHERE key = ?", (canary_key,)),
                (SERIES + "INSERT INTO revocations (key, expires_at, revoked_at, reason) "
                 "SELECT printf('jti:growth-%08d-%s', i, hex(randomblob(8))), ?, ?, 'growth' FROM n WHERE i <= ?",
                 (have + 1, n, now + 30 * 86400, now, n)),
                ("INSERT INTO revocations (key, expires_at, revoked_at, reason) VALUES (?, ?, ?, 'canary')",
                 (canary_key, now + 30 * 86400, now)),
            ])
            have = max(have, n)
            log(f"revocations: {count(stack.auth_db, 'revocations')} rows in {time.monotonic() - t0:.1f}s")
            stack.start()
            t_start = stack.mt5.t0
            deadline = time.monotonic() + 900
            while http("GET", stack.mt5_base + "/api/v1/trades", headers={"Authorization": "Bearer " + canary})[0] != 401:
                if time.monotonic() > deadline:
                    raise RuntimeError("the canary revocation never reached mt5-api")
                time.sleep(0.05)
            caught_up = time.monotonic() - t_start
            idle_auth, idle_mt5 = rss_mb(stack.auth.pid), rss_mb(stack.mt5.pid)
            icpu = idle_cpu_pct(stack.mt5.pid)
            m = measure(stack.mt5.pid, stack.mt5_base, TRADES_LUA, 32, {"TOKENS": ",".join(tokens), "MODE": "read"})
            rows.append(row("revocations", "mt5-api GET /trades, 32 conns", n, m, rss_idle_mb=round(idle_mt5, 1),
                            idle_cpu_pct=icpu, startup_s=round(caught_up, 2),
                            note=m["note"] + f" mt5_ready_s={stack.mt5_startup:.2f} auth_rss_mb={idle_auth:.1f} "
                                             f"auth_startup_s={stack.auth_startup:.2f}"))
            stack.stop()
    write_csv("revocations", rows)


def dim_audit(build):
    """N filler rows (actor_type 'growth') in audit_events before start. Every issued token adds its own
    token.issue row, so the table also grows by the point's requests while it is measured (see note);
    the server's own rows are deleted before the next point."""
    rows = []
    top = int(os.environ.get("GROWTH_AUDIT_MAX", "1000000"))
    sizes = [s for s in (1, 1000, 100000, 1000000, 10000000) if s <= top]
    with tempfile.TemporaryDirectory(prefix="growth-audit-", dir="/tmp") as tmp:
        stack = Stack(build, tmp)
        stack.start()
        secret = stack.create_client("bench-client", ["trade:read"])
        stack.stop()
        now = int(time.time())
        have = 0
        for n in sizes:
            t0 = time.monotonic()
            # ~266 B a row, like a token.issue event.
            bulk(stack.auth_db, [
                ("DELETE FROM audit_events WHERE actor_type != 'growth'", ()),
                (SERIES + "INSERT INTO audit_events (ts, actor, actor_type, action, target, ip, outcome, details, "
                 "request_id, trace_id) SELECT ? - (? - i), printf('growth-%06d', i % 100000), 'growth', "
                 "'token.issue', printf('client:growth-%06d', i % 100000), '127.0.0.1', 'success', "
                 "'{\"grant_type\":\"client_credentials\",\"scope\":\"trade:read\"}', "
                 "lower(hex(randomblob(16))), lower(hex(randomblob(16))) FROM n WHERE i <= ?",
                 (have + 1, n, now, n, n)),
            ])
            have = n
            log(f"audit: {count(stack.auth_db, 'audit_events')} rows in {time.monotonic() - t0:.1f}s, "
                f"db {os.path.getsize(stack.auth_db) >> 20} MB")
            stack.start()
            idle = rss_mb(stack.auth.pid)
            icpu = idle_cpu_pct(stack.auth.pid)
            m = measure(stack.auth.pid, stack.auth_base + "/api/v1/auth/token", TOKEN_LUA, 32,
                        token_env("bench-client", secret))
            stack.stop()
            rows.append(row("audit", "permiso-auth token (ES256), 32 conns", n, m, rss_idle_mb=round(idle, 1),
                            idle_cpu_pct=icpu, startup_s=round(stack.auth_startup, 2),
                            note=m["note"] + f" rows_at_end={count(stack.auth_db, 'audit_events')} "
                                             f"db_mb={os.path.getsize(stack.auth_db) >> 20}"))
    write_csv("audit", rows)


def dim_positions(build):
    """Open positions on one account (the simulator caps an account at 100,000): GET /trades (the first
    page, 100 rows) and GET /account at each size; POST /trades measured by the rounds that fill the
    account (16 connections, 2 s each; size = positions open when the round started)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="growth-pos-", dir="/tmp") as tmp:
        stack = Stack(build, tmp, with_mt5=True)
        stack.start()
        s = stack.create_client("bench-trader-0", ["trade:read", "trade:open", "account:read"])
        token = stack.service_token("bench-trader-0", s)
        env = {"TOKENS": token}
        pid = stack.mt5.pid
        have = 0
        for target in (0, 100, 1000, 10000, 30000, 100000):
            while have < target:
                if target - have <= 2000:  # one at a time, not to overshoot the small sizes
                    open_trades(stack, [token], target - have)
                    have = target
                    continue
                t0 = cpu_ticks(pid)
                r = wrk(stack.mt5_base, TRADES_LUA, 16, 2, dict(env, MODE="write", RUN_ID=f"fill{have}"))
                n, bad = int(r["requests"]), int(r["unexpected_status"])
                if n == 0:
                    raise RuntimeError("no POST answered")
                m = {"rps": float(r["rps"]), "p50_ms": float(r["p50_ms"]), "p99_ms": float(r["p99_ms"]),
                     "cpu_us_per_req": round((cpu_ticks(pid) - t0) / HZ * 1e6 / n, 1),
                     "rss_after_mb": round(rss_mb(pid), 1), "note": f"requests={n} bad={bad} (bad: the 100,000 cap)"}
                rows.append(row("positions", "mt5-api POST /trades, 16 conns", have, m))
                have += n - bad
                if bad:
                    break  # at the cap
            icpu = idle_cpu_pct(pid)
            idle = rss_mb(pid)
            for mode, label in (("read", "mt5-api GET /trades (first page)"), ("account", "mt5-api GET /account")):
                m = measure(pid, stack.mt5_base, TRADES_LUA, 32, dict(env, MODE=mode))
                rows.append(row("positions", label + ", 32 conns", have, m, rss_idle_mb=round(idle, 1),
                                idle_cpu_pct=icpu))
        stack.stop()
    rows.sort(key=lambda r: (r["series"], int(r["size"])))
    write_csv("positions", rows)


def fanout_client(build):
    """The fan-out client: the C++ one (bench/stream/ws_fanout_client, keeps up at 1,000 subscribers)
    when built, else ws_fanout.py (python3-websockets), which falls behind near 1,000."""
    native = os.path.join(ROOT, build, "bench/stream/ws_fanout_client")
    if os.access(native, os.X_OK):
        return [native], "C++ client"
    log(f"note: {os.path.relpath(native, ROOT)} not built: the Python client, which cannot keep up near "
        "1,000 subscribers")
    return ["/usr/bin/python3", "bench/stream/ws_fanout.py"], "Python client"


def dim_websocket(build):
    """Quote fan-out to N WebSocket subscribers (bench/stream/ws_fanout_client or ws_fanout.py): delivered
    quotes/s in the throughput panel, mt5-api CPU per delivered quote in the CPU panel, its RSS after the
    window in the middle one (VmHWM, the peak since the previous point, in the note); no latency.
    GROWTH_WS_TICK_MS (default 50; a comma list gives one series each) is the simulator's tick."""
    rows = []
    client, client_name = fanout_client(build)
    for tick in os.environ.get("GROWTH_WS_TICK_MS", "50").split(","):
        rows += fanout_series(build, tick, client, client_name)
    write_csv("websocket", rows)


def fanout_series(build, tick, client, client_name):
    rows = []
    with tempfile.TemporaryDirectory(prefix="growth-ws-", dir="/tmp") as tmp:
        stack = Stack(build, tmp, with_mt5=True, mt5_env={"MT5_SIM_TICK_MS": tick})
        stack.start()
        tokens = []
        for i in range(4):
            cid = f"bench-trader-{i}"
            tokens.append(stack.service_token(cid, stack.create_client(cid, ["trade:read", "market:data"])))
        url = f"ws://127.0.0.1:{stack.mt5_port}/api/v1/stream"
        for n in (1, 10, 100, 1000):
            idle = rss_mb(stack.mt5.pid)
            reset_peak_rss(stack.mt5.pid)
            out = subprocess.run(client + [url, ",".join(tokens), str(n), str(SECONDS), "1", str(stack.mt5.pid)],
                                 cwd=ROOT, capture_output=True, text=True, timeout=SECONDS + 120)
            res = re.search(r"^RESULT (.*)$", out.stdout, re.M)
            cpu = re.search(r"total_us_per_quote=([0-9.]+)", out.stdout)
            if not res:
                raise RuntimeError("ws_fanout printed no RESULT: " + out.stdout[-300:] + out.stderr[-300:])
            vals = dict(kv.split("=") for kv in res.group(1).split())
            m = {"rps": float(vals["quotes_per_s"]), "p50_ms": "", "p99_ms": "nan",
                 "cpu_us_per_req": float(cpu.group(1)) if cpu else "nan", "rss_after_mb": round(rss_mb(stack.mt5.pid), 1),
                 "note": f"quotes/s per subscriber={vals['per_subscriber_per_s']} least={vals['min_subscriber_per_s']} "
                         f"closed={vals['closed']} client_cpu_pct={vals['client_cpu_pct']} "
                         f"peak_rss_mb={peak_rss_mb(stack.mt5.pid):.1f} ({client_name})"}
            rows.append(row("websocket", f"mt5-api quote fan-out (tick {tick} ms)", n, m, rss_idle_mb=round(idle, 1)))
        stack.stop()
    return rows


DIMENSIONS = {"connections": dim_connections, "clients": dim_clients, "users": dim_users, "revocations": dim_revocations,
              "audit": dim_audit, "positions": dim_positions,
              "websocket": dim_websocket}
LABELS = {"connections": "concurrent connections", "clients": "registered service clients",
          "users": "registered users",
          "revocations": "revoked tokens held", "audit": "rows in audit_events",
          "positions": "open positions on the account",
          "websocket": "WebSocket subscribers"}


# ---------------------------------------------------------------- report

def read_csv(dim):
    path = os.path.join(DOCS, f"growth-{dim}.csv")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def plot(dim, rows):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    keys = ("rps", "p99_ms", "cpu_us_per_req")
    if dim == "websocket":  # no latency from the fan-out client: its memory instead
        keys = ("rps", "rss_after_mb", "cpu_us_per_req")
    series = []
    for r in rows:
        if r["series"] not in series:
            series.append(r["series"])
    for s in series:
        pts = [r for r in rows if r["series"] == s]
        xs = [max(float(r["size"]), 0.5) for r in pts]  # 0 shown at 0.5 on the log axis
        for ax, key in zip(axes, keys):
            ax.plot(xs, [float(r[key]) for r in pts], marker="o", label=s)
    titles = ("throughput (requests/s)", "p99 latency (ms)", "server CPU per request (µs)")
    if dim == "websocket":
        titles = ("delivered quotes/s (all subscribers)", "mt5-api RSS after the window (MB; no p99)",
                  "mt5-api CPU per delivered quote (µs)")
    for ax, key, title in zip(axes, keys, titles):
        vals = [float(r[key]) for r in rows if r[key] not in ("", "nan") and float(r[key]) > 0]
        wide = bool(vals) and max(vals) / min(vals) > 50 and key != "rps"  # log y when it spans decades
        if wide:
            title += " (log y)"
        ax.set_xscale("log")
        ax.set_xlabel(LABELS[dim] + (" (0 plotted at 0.5)" if any(r["size"] == "0" for r in rows) else ""))
        ax.set_title(title)
        if wide:
            ax.set_yscale("log")
        else:
            ax.set_ylim(bottom=0)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Cost against {LABELS[dim]} (BENCH_SECONDS={SECONDS}, load generator on the same 2-core machine)")
    fig.tight_layout()
    path = os.path.join(DOCS, f"growth-{dim}.png")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    log("wrote", os.path.relpath(path, ROOT))


def report():
    out = ["# How cost grows (issue #14)", "",
           "Generated by `bench/growth/growth.py` (do not edit by hand; the analysis comes from "
           "`bench/growth/analysis.md`). Each point: a 1 s wrk warm-up, then a "
           f"{SECONDS} s wrk window on the same shared 2-core machine as the servers (Release build, "
           "SQLite). CPU/request is the server's utime+stime over the window divided by the requests "
           "(`/proc/<pid>/stat`); RSS is VmRSS from `/proc/<pid>/status`, at idle right after start "
           "(`rss idle`) and after the window (`rss after`). `startup` is the time to /health "
           "(permiso-auth) or /ready (mt5-api), except for the revocations, where it is the time until mt5-api "
           "refuses a canary token revoked last, i.e. holds the whole list; "
           f"`idle CPU %` is the server's CPU over {IDLE_SECONDS} s with no requests, right after start (% of one core).", ""]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = "?"
    out += [f"Commit {commit}; report written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
            f"load at report time: {open('/proc/loadavg').read().split()[:3]}.", ""]
    for dim in DIMENSIONS:
        rows = read_csv(dim)
        if not rows:
            out += [f"## {LABELS[dim]}", "", "Not measured in this run.", ""]
            continue
        plot(dim, rows)
        out += [f"## {LABELS[dim]}", "", f"![{dim}](growth-{dim}.png)", "", f"Data: `docs/growth-{dim}.csv`.", "",
                "| series | size | rps | p50 ms | p99 ms | CPU µs/req | RSS idle MB | RSS after MB | startup s "
                "| idle CPU % | reload peak MB | note |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in rows:
            out.append(f"| {r['series']} | {int(r['size']):,} | {float(r['rps']):,.0f} | {r['p50_ms']} | {r['p99_ms']} "
                       f"| {r['cpu_us_per_req']} | {r['rss_idle_mb']} | {r['rss_after_mb']} | {r['startup_s']} "
                       f"| {r.get('idle_cpu_pct', '')} | {r.get('reload_peak_mb', '')} | {r['note']} |")
        out.append("")
    analysis = os.path.join(ROOT, "bench/growth/analysis.md")
    if os.path.exists(analysis):
        out += [open(analysis).read().rstrip(), ""]
    with open(os.path.join(DOCS, "growth.md"), "w") as f:
        f.write("\n".join(out))
    log("wrote docs/growth.md")


def main(argv):
    build = "build/release"
    dims = []
    only_plot = False
    i = 0
    while i < len(argv):
        if argv[i] == "--build":
            build = argv[i + 1]
            i += 1
        elif argv[i] == "--plot":
            only_plot = True
        elif argv[i] in DIMENSIONS:
            dims.append(argv[i])
        else:
            sys.exit(__doc__)
        i += 1
    if not only_plot:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # wrk and the servers inherit it
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
        try:
            for d in dims or list(DIMENSIONS):
                log("dimension", d, "load", open("/proc/loadavg").read().split()[:3])
                DIMENSIONS[d](build)
        finally:
            stop_all()
    report()


if __name__ == "__main__":
    main(sys.argv[1:])
