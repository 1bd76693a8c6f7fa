# Backup and restore (scripts/permiso-backup) of both services, taken while they serve a load of
# client registrations, user sign-ups and trades; restored into a fresh data dir (or fresh
# PostgreSQL databases) where every change acknowledged before the backup began is found again.
"""Run once per backend by integration_sqlite / integration_postgres / integration_postgres_redis:
SqliteBackupTest runs on sqlite, PostgresBackupTest on the PostgreSQL backends; each skips on
the others. mt5-api comes from MT5_API_BIN, else beside PERMISO_AUTH_BIN in the build tree.
"""

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
import time
import types
import unittest

import harness
from harness import V1, AuthServer, postgres, uniq, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
# Appended, not prepended: a module of this directory always wins over one of gateway/.
sys.path.append(os.path.join(HERE, "gateway"))
import gateway_harness  # noqa: E402  (the gateway suite's harness, read-only)
from gateway_harness import Mt5Server, Stack  # noqa: E402

TOOL = os.path.join(harness.REPO, "scripts", "permiso-backup")
CLIENT_SCOPES = (("trade:read",), ("trade:read", "account:read"), ("market:data", "trade:read", "trade:open"))
ENOUGH = 3          # acknowledged changes of each kind before the backup starts
LOAD_DEADLINE_S = 45


def run_tool(*argv, timeout=120):
    r = subprocess.run([sys.executable, TOOL, *argv], capture_output=True, text=True, timeout=timeout)
    return r


class Load:
    """Threads that keep changing both services through their public APIs and record every
    change that was acknowledged (2xx), with the monotonic time of its answer."""

    def __init__(self, stack, traders):
        self.stack = stack
        self.traders = traders
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.clients = []   # (t_ack, client_id, secret, scopes)
        self.users = []     # (t_ack, username, password)
        self.trades = []    # (t_ack, trader index, trade id)
        self.closes = []    # (t_ack, trader index, trade id)
        self.errors = []
        self.threads = [threading.Thread(target=self.guard, args=(self.make_clients, i)) for i in range(2)]
        self.threads += [threading.Thread(target=self.guard, args=(self.make_users, 0))]
        self.threads += [threading.Thread(target=self.guard, args=(self.trade, i)) for i in range(len(traders))]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(60)

    def guard(self, fn, i):
        try:
            while not self.stopping.is_set():
                fn(i)
        except BaseException as e:  # reported by the test
            self.errors.append(f"{fn.__name__}[{i}]: {e!r}")

    def counts(self):
        with self.lock:
            return len(self.clients), len(self.users), len(self.trades), len(self.closes)

    def make_clients(self, i):
        auth = self.stack.auth
        scopes = CLIENT_SCOPES[len(self.clients) % len(CLIENT_SCOPES)]
        client_id = uniq(f"bk{i}-")
        r = auth.post(f"{V1}/admin/service-clients", bearer=auth.admin_token(),
                      json={"client_id": client_id, "name": "Backup load", "client_type": "confidential",
                            "scope_ids": list(scopes)})
        if r.status != 201:
            raise AssertionError(f"create client: {r!r}")
        with self.lock:
            self.clients.append((time.monotonic(), client_id, r.body["client_secret"], scopes))

    def make_users(self, _):
        username, password = uniq("bkuser_"), harness.strong_password()
        r = self.stack.auth.post(f"{V1}/users/register",
                                 json={"username": username, "email": f"{username}@example.com", "password": password})
        if r.status != 201:
            raise AssertionError(f"register: {r!r}")
        with self.lock:
            self.users.append((time.monotonic(), username, password))

    def trade(self, i):
        trader = self.traders[i]
        body = {"symbol": "EURUSD", "volume": 0.01, "trade_type": "buy" if len(self.trades) % 2 else "sell"}
        r = trader.post(f"{V1}/trades", json=body, headers={"Idempotency-Key": uniq("bk-order-")})
        if r.status != 201:
            raise AssertionError(f"open trade: {r!r}")
        trade_id = r.body["id"]
        with self.lock:
            self.trades.append((time.monotonic(), i, trade_id))
        if len(self.trades) % 3 == 0:
            r = trader.delete(gateway_harness.trade_path(trade_id))
            if r.status != 200:
                raise AssertionError(f"close trade: {r!r}")
            with self.lock:
                self.closes.append((time.monotonic(), i, trade_id))

    def before(self, t):
        """What was acknowledged before monotonic time t."""
        with self.lock:
            return ([c for c in self.clients if c[0] < t], [u for u in self.users if u[0] < t],
                    [x for x in self.trades if x[0] < t], [x for x in self.closes if x[0] < t])


class BackupUnderLoad:
    """The scenario both backends share; subclasses say where the restore goes."""

    backend_ok = None  # predicate on harness.backend_name()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="permiso-backup-test-")

    @classmethod
    def tearDownClass(cls):
        if not harness.KEEP:
            shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def setUp(self):
        if not self.backend_ok(harness.backend_name()):
            self.skipTest(f"not for PERMISO_TEST_BACKEND={harness.backend_name()}")
        gateway_harness.mt5_binary_or_skip(self)
        self.cleanups = []

    def tearDown(self):
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as e:  # noqa: BLE001  best effort; a failing stop is in the log
                sys.stderr.write(f"cleanup: {e!r}\n")

    # -- where the tool reads and writes
    def source_options(self, stack):
        return ["--data-dir", stack.auth.data_dir, "--mt5-data-dir", stack.mt5.data_dir,
                "--auth-database-url", stack.auth.database_url, "--mt5-database-url", stack.mt5.database_url]

    def fresh_target(self):
        """(auth data dir, mt5 data dir, auth URL, mt5 URL) of an empty deployment."""
        raise NotImplementedError

    # -- the scenario
    def test_online_backup_restores_every_change_acknowledged_before_it(self):
        stack = Stack().start()
        stopped = []
        self.cleanups.append(lambda: stopped or stack.stop())
        traders = [stack.trader(), stack.trader()]
        old_token = traders[0].token  # signed before the backup: the restored keys must verify it
        load = Load(stack, traders).start()
        try:
            enough = wait_until(lambda: min(load.counts()[:3]) >= ENOUGH or load.errors, LOAD_DEADLINE_S)
            self.assertFalse(load.errors, load.errors)
            self.assertTrue(enough, f"too few changes acknowledged under load: {load.counts()}")
            backup_dir = os.path.join(self.tmp, "backup")
            began = time.monotonic()
            r = run_tool("backup", "--out", backup_dir, *self.source_options(stack))
            ended = time.monotonic()
            self.assertEqual(r.returncode, 0, f"backup failed:\n{r.stdout}\n{r.stderr}")
            # The services kept serving: more changes are acknowledged after the backup.
            after = load.counts()
            more = wait_until(lambda: all(n > a for n, a in zip(load.counts()[:3], after[:3])) or load.errors, 30)
            self.assertTrue(more, f"the load stalled after the backup: {after} -> {load.counts()}")
        finally:
            load.stop()
        self.assertFalse(load.errors, load.errors)
        during = [x for x in load.clients + load.users + load.trades if began <= x[0] <= ended]
        sys.stderr.write(f"\n  backup took {ended - began:.2f} s under load; {len(during)} changes acknowledged "
                         f"meanwhile; totals (clients, users, trades, closes) {load.counts()}\n")
        self.check_backup_dir(backup_dir, stack)
        admin_password, service_secret, issuer = stack.auth.admin_password, stack.service_secret, stack.auth.issuer
        old_admin_token = stack.auth.admin_token()
        stack.stop()
        stopped.append(True)

        auth_dir, mt5_dir, auth_url, mt5_url = self.fresh_target()
        r = run_tool("restore", backup_dir, "--data-dir", auth_dir, "--mt5-data-dir", mt5_dir,
                     "--auth-database-url", auth_url, "--mt5-database-url", mt5_url, *self.pg_options())
        self.assertEqual(r.returncode, 0, f"restore failed:\n{r.stdout}\n{r.stderr}")

        auth = AuthServer(env={"JWT_ALGORITHM": "ES256", "JWT_AUDIENCE": gateway_harness.AUDIENCE,
                               "MT5_SERVICE_CLIENT_SECRET": service_secret},
                          data_dir=auth_dir, database_url=auth_url, admin_password=admin_password,
                          issuer=issuer).start()
        self.cleanups.append(auth.stop_clean)
        same = types.SimpleNamespace(data_dir=mt5_dir, database_url=mt5_url, redis=auth.redis)
        mt5 = Mt5Server(auth, service_secret, same=same).start()
        self.cleanups.append(mt5.stop_clean)

        for server in (auth, mt5):
            ready = wait_until(lambda s=server: s.get("/ready", allow_5xx=True).status == 200, 20)
            self.assertTrue(ready, f"restored {server.name} is not ready: {server.get('/ready', allow_5xx=True)!r}")
        clients, users, trades, closes = load.before(began)
        self.check_clients(auth, clients, load.clients)
        self.check_users(auth, users)
        self.check_trades(auth, mt5, traders, trades, closes)
        # The signing keys came back with the data: tokens issued before the backup still verify.
        r = mt5.request("GET", f"{V1}/account", bearer=old_token)
        self.assertEqual(r.status, 200, f"a token signed before the backup, on the restored mt5-api: {r!r}")
        r = auth.get(f"{V1}/users/me", bearer=old_admin_token)
        self.assertEqual(r.status, 200, f"a token signed before the backup, on the restored permiso-auth: {r!r}")

    def check_backup_dir(self, backup_dir, stack):
        mode = stat.S_IMODE(os.stat(backup_dir).st_mode)
        self.assertEqual(mode, 0o700, f"the backup directory is {oct(mode)}")
        for root, dirs, files in os.walk(backup_dir):
            for d in dirs:
                self.assertEqual(stat.S_IMODE(os.stat(os.path.join(root, d)).st_mode), 0o700, d)
            for f in files:
                self.assertEqual(stat.S_IMODE(os.stat(os.path.join(root, f)).st_mode), 0o600, f)
        with open(os.path.join(backup_dir, "manifest.json")) as f:
            manifest = json.load(f)
        kinds = {d["service"]: d["kind"] for d in manifest["databases"]}
        self.assertEqual(set(kinds), {"permiso-auth", "mt5-api"}, manifest["databases"])
        kept = {e["path"] for e in manifest["files"] if "path" in e}
        self.assertTrue(any(p.startswith("keys/") for p in kept), f"the signing keys were not kept: {kept}")
        self.assertFalse([p for p in kept if p.endswith(".log")], f"logs were kept: {kept}")
        r = run_tool("verify", backup_dir, *self.pg_options())
        self.assertEqual(r.returncode, 0, f"verify: {r.stdout}{r.stderr}")

    def check_clients(self, auth, acknowledged, all_clients):
        self.assertGreaterEqual(len(acknowledged), ENOUGH)
        for _, client_id, secret, scopes in acknowledged:
            r = auth.service_token(client_id, secret, expect=None)
            self.assertEqual(r.status, 200, f"client {client_id} acknowledged before the backup: {r!r}")
            self.assertEqual(sorted(r.body["scope"].split()), sorted(scopes), client_id)
        # Acknowledged later: absent, or there whole (its secret works).
        admin = auth.admin_token()
        earlier = {c[1] for c in acknowledged}
        for _, client_id, secret, _ in [c for c in all_clients if c[1] not in earlier]:
            if auth.get(f"{V1}/admin/service-clients/{client_id}", bearer=admin).status == 200:
                self.assertEqual(auth.service_token(client_id, secret, expect=None).status, 200, client_id)

    def check_users(self, auth, acknowledged):
        self.assertGreaterEqual(len(acknowledged), ENOUGH)
        for _, username, password in acknowledged:
            auth.login(username, password)  # 200 or the assertion names the user

    def check_trades(self, auth, mt5, traders, opened, closed):
        self.assertGreaterEqual(len(opened), ENOUGH)
        listed = {}
        for i, trader in enumerate(traders):
            token = auth.service_token(trader.client_id, trader.secret).body["access_token"]
            r = mt5.request("GET", f"{V1}/trades?status=all&limit=1000", bearer=token)
            self.assertEqual(r.status, 200, r)
            listed[i] = {str(t["id"]): t for t in r.body}
        for _, i, trade_id in opened:
            self.assertIn(str(trade_id), listed[i], f"trade {trade_id} acknowledged before the backup is missing")
        for _, i, trade_id in closed:
            self.assertEqual(listed[i][str(trade_id)]["status"], "closed",
                             f"the close of {trade_id}, acknowledged before the backup, is missing")

    def pg_options(self):
        return []


class SqliteBackupTest(BackupUnderLoad, unittest.TestCase):
    """SQLite (the default): the online backup API while both services write."""

    backend_ok = staticmethod(lambda b: b == "sqlite")

    def fresh_target(self):
        auth_dir = tempfile.mkdtemp(prefix="permiso-restored-auth-")
        mt5_dir = tempfile.mkdtemp(prefix="permiso-restored-mt5-")
        for d in (auth_dir, mt5_dir):
            self.cleanups.append(lambda d=d: harness.KEEP or shutil.rmtree(d, ignore_errors=True))
        return auth_dir, mt5_dir, f"sqlite:///{auth_dir}/permiso.db", f"sqlite:///{mt5_dir}/mt5.db"

    def test_restore_refuses_a_used_or_non_empty_target_and_a_damaged_backup(self):
        server = AuthServer().start()
        self.cleanups.append(server.stop_clean)
        backup_dir = os.path.join(self.tmp, "refusals")
        mt5_dir = tempfile.mkdtemp(prefix="permiso-mt5-none-")
        self.cleanups.append(lambda: shutil.rmtree(mt5_dir, ignore_errors=True))
        mt5_db = os.path.join(mt5_dir, "mt5.db")
        with sqlite3.connect(mt5_db) as db:  # a stand-in for mt5-api's store: this test needs no gateway
            db.execute("CREATE TABLE t (x)")
            db.execute("INSERT INTO t VALUES (1)")
        where = ["--data-dir", server.data_dir, "--mt5-data-dir", mt5_dir,
                 "--auth-database-url", server.database_url, "--mt5-database-url", f"sqlite://{mt5_db}"]
        r = run_tool("backup", "--out", backup_dir, *where)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run_tool("backup", "--out", backup_dir, *where)
        self.assertEqual(r.returncode, 2, f"a second backup into the same directory: {r!r}")

        # Over the live server's own data dir: refused, with --force too, while it has the file open.
        r = run_tool("restore", backup_dir, *where)
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("not empty", r.stderr)
        r = run_tool("restore", backup_dir, *where, "--force")
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("is open in process", r.stderr)

        # A damaged backup is refused before anything is written.
        with open(os.path.join(backup_dir, "permiso-auth.db"), "r+b") as f:
            f.seek(4096 + 100)
            f.write(b"\xff" * 64)
        r = run_tool("verify", backup_dir)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("SHA-256", r.stderr)
        fresh = tempfile.mkdtemp(prefix="permiso-restored-")
        self.cleanups.append(lambda: shutil.rmtree(fresh, ignore_errors=True))
        r = run_tool("restore", backup_dir, "--data-dir", fresh)
        self.assertEqual(r.returncode, 1, r)
        self.assertEqual(os.listdir(fresh), [], "a damaged backup wrote into the target")
        for text in (r.stdout, r.stderr):
            self.assertNotIn(server.admin_password, text)
            self.assertNotIn(server.jwt_secret, text)


class PostgresBackupTest(BackupUnderLoad, unittest.TestCase):
    """PostgreSQL: pg_dump -Fc while both services write, pg_restore into empty databases."""

    backend_ok = staticmethod(lambda b: b.startswith("postgres"))

    def pg_options(self):
        return ["--pg-bin", harness.PG_BIN]

    def source_options(self, stack):
        # A password in the URL (trust authentication ignores it) must never be printed.
        return super().source_options(stack)[:4] + [
            "--auth-database-url", with_password(stack.auth.database_url),
            "--mt5-database-url", with_password(stack.mt5.database_url), *self.pg_options()]

    def fresh_target(self):
        auth_dir = tempfile.mkdtemp(prefix="permiso-restored-auth-")
        mt5_dir = tempfile.mkdtemp(prefix="permiso-restored-mt5-")
        for d in (auth_dir, mt5_dir):
            self.cleanups.append(lambda d=d: harness.KEEP or shutil.rmtree(d, ignore_errors=True))
        return auth_dir, mt5_dir, postgres().new_database(), postgres().new_database()

    def test_restore_refuses_a_database_with_tables_and_never_prints_the_password(self):
        server = AuthServer().start()
        self.cleanups.append(server.stop_clean)
        backup_dir = os.path.join(self.tmp, "pg-refusals")
        url = with_password(server.database_url)
        where = ["--data-dir", server.data_dir, "--auth-database-url", url, "--mt5-database-url", url,
                 *self.pg_options()]
        r = run_tool("backup", "--out", backup_dir, *where)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(backup_dir, "manifest.json")) as f:
            manifest = json.load(f)
        self.assertEqual([d.get("shared_with") for d in manifest["databases"] if d["service"] == "mt5-api"],
                         ["permiso-auth"], "one database for both services is dumped once")
        for text in (r.stdout, r.stderr, json.dumps(manifest)):
            self.assertNotIn(PG_PASSWORD, text)
        fresh = tempfile.mkdtemp(prefix="permiso-restored-")
        self.cleanups.append(lambda: shutil.rmtree(fresh, ignore_errors=True))
        r = run_tool("restore", backup_dir, "--data-dir", fresh, "--auth-database-url", url,
                     "--mt5-database-url", url, *self.pg_options())
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("already has", r.stderr)
        self.assertNotIn(PG_PASSWORD, r.stdout + r.stderr)


PG_PASSWORD = "pw-Not-For-Logs-" + uniq("")


def with_password(url):
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{PG_PASSWORD}@", 1)


if __name__ == "__main__":
    unittest.main()
