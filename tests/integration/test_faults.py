# Faults with the real servers: permiso-auth killed with SIGKILL in the middle of client and user
# changes, Redis stopped under two replicas, and the disk of the SQLite data directory filling up.
# (PostgreSQL stopped under load is test_storage_outage.py; mt5-api without permiso-auth is
# gateway/test_auth_outage.py.)
import os
import sqlite3
import subprocess
import tempfile
import threading
import unittest

import harness
from harness import V1, AuthServer, find_list, metric_sample, strong_password, uniq
from tokens import me

DEADLINE_S = 30


def wait_until(predicate, within_s=DEADLINE_S):
    return harness.wait_until(predicate, within_s)


class Changes:
    """Client and user changes made by worker threads until stop(), each remembered as
    acknowledged (its 2xx arrived) or attempted (sent, no answer: the kill came first)."""

    def __init__(self, server, trader_role_id):
        self.server, self.trader_role_id = server, trader_role_id
        self.admin = server.admin_token()
        self.lock = threading.Lock()
        self.clients, self.users = {}, {}        # acknowledged: id -> what the answer promised
        self.tried_clients, self.tried_users = {}, {}
        self.stopping = threading.Event()

    def acknowledged(self):
        with self.lock:
            return len(self.clients), sum(1 for u in self.users.values() if u["roles_set"])

    def create_clients(self, worker):
        n = 0
        while not self.stopping.is_set():
            n += 1
            client_id = f"kill9-{worker}-{n}-{uniq('c')}"
            scopes = ["trade:read", "account:read"] if n % 2 else ["trade:open"]
            with self.lock:
                self.tried_clients[client_id] = scopes
            try:
                r = self.server.post(f"{V1}/admin/service-clients", bearer=self.admin, timeout=10,
                                     json={"client_id": client_id, "name": client_id, "scope_ids": scopes})
            except OSError:
                return  # the server is gone
            if r.status == 201:
                with self.lock:
                    self.clients[client_id] = (r.body["client_secret"], scopes)

    def change_users(self, worker):
        n = 0
        while not self.stopping.is_set():
            n += 1
            username = f"kill9_{worker}_{n}_{uniq('u')}"
            password = strong_password()
            with self.lock:
                self.tried_users[username] = password
            try:
                r = self.server.post(f"{V1}/users/register", timeout=10, json={
                    "username": username, "email": f"{username}@example.com", "password": password})
                if r.status != 201:
                    continue
                with self.lock:
                    self.users[username] = {"password": password, "roles_set": False}
                r = self.server.put(f"{V1}/users/{r.body['id']}/roles", bearer=self.admin, timeout=10,
                                    json={"role_ids": [self.trader_role_id]})
            except OSError:
                return
            if r.status == 200:
                with self.lock:
                    self.users[username]["roles_set"] = True


class KillDuringChangesTest(unittest.TestCase):
    """SIGKILL while clients are registered and users registered and given roles: after a restart
    on the same data every acknowledged change is there, and every change is whole or absent."""

    def test_every_acknowledged_change_survives_kill_9_and_nothing_is_half_written(self):
        first = AuthServer().start()
        second = None
        try:
            admin = first.admin_token()
            roles = find_list(first.get(f"{V1}/roles", bearer=admin).body, "roles", "items")
            trader = [x for x in roles if x["name"] == "trader"][0]["id"]
            changes = Changes(first, trader)
            workers = [threading.Thread(target=changes.create_clients, args=(w,)) for w in range(2)]
            workers += [threading.Thread(target=changes.change_users, args=(w,)) for w in range(2)]
            for t in workers:
                t.start()
            enough = wait_until(lambda: min(changes.acknowledged()) >= 4, within_s=120)
            first.kill()  # SIGKILL with requests in flight
            changes.stopping.set()
            for t in workers:
                t.join(30)
            self.assertTrue(enough, f"too few changes acknowledged before the kill: {changes.acknowledged()}")
            first.stop()
            second = AuthServer(data_dir=first.data_dir, database_url=first.database_url,
                                redis=first.redis, jwt_secret=first.jwt_secret,
                                admin_password=first.admin_password).start()
            self.check_clients(second, changes)
            self.check_users(second, changes, trader)
        finally:
            for s in (second, first):
                if s is not None:
                    s.kill()
                    s.stop()
            first.owns_data_dir = True
            first.cleanup()

    def check_clients(self, server, changes):
        admin = server.admin_token()
        for client_id, scopes in changes.tried_clients.items():
            r = server.get(f"{V1}/admin/service-clients/{client_id}", bearer=admin)
            if client_id not in changes.clients:
                self.assertIn(r.status, (200, 404), f"{client_id}: {r!r}")
                if r.status == 404:
                    continue  # never committed: absent, as it should be
            self.assertEqual(r.status, 200, f"acknowledged client {client_id} lost after kill -9: {r!r}")
            self.assertEqual(sorted(s if isinstance(s, str) else s["name"] for s in r.body["scopes"]),
                             sorted(scopes), f"{client_id} came back with other scopes")
            if client_id in changes.clients:
                secret, _ = changes.clients[client_id]
                token = server.service_token(client_id, secret)
                self.assertEqual(sorted(token.body["scope"].split()), sorted(scopes))

    def check_users(self, server, changes, trader):
        admin = server.admin_token()
        by_name, page = {}, 1
        while True:
            body = server.get(f"{V1}/users?per_page=100&page={page}&search=kill9_", bearer=admin).body
            listed = find_list(body, "users", "items")
            by_name.update({u["username"]: u for u in listed})
            if not listed or page >= body.get("pages", 1):
                break
            page += 1
        for username, state in changes.users.items():
            self.assertIn(username, by_name, f"acknowledged registration of {username} lost after kill -9")
            role_ids = {r["id"] for r in by_name[username]["roles"]}
            if state["roles_set"]:
                self.assertIn(trader, role_ids, f"acknowledged role change of {username} lost")
            server.login(username, state["password"])  # the stored hash is whole
        for username in set(by_name) - set(changes.users):
            self.assertIn(username, changes.tried_users, f"{username} was never sent")
            server.login(username, changes.tried_users[username])  # committed unanswered: whole


def needs_redis(cls):
    return unittest.skipUnless(harness.backend_name() == "postgres+redis",
                               "Redis faults need PERMISO_TEST_BACKEND=postgres+redis")(cls)


@needs_redis
class RedisStoppedTest(unittest.TestCase):
    """Redis down under two replicas: tokens are still issued, a revocation on one replica is
    refused by the other (they poll the database), failed-login limits still hold (per replica),
    and once Redis is back the replicas use it again."""

    @classmethod
    def setUpClass(cls):
        from test_replicas import ReplicaPair
        cls.pair = ReplicaPair(env={"RATE_LIMIT_LOGIN": "3/minute"})
        cls.a, cls.b = cls.pair.servers

    @classmethod
    def tearDownClass(cls):
        cls.pair.close()

    def failed_login(self, server, username):
        return server.post(f"{V1}/auth/token", form={"username": username, "password": "wrong"}).status

    def test_redis_down_keeps_tokens_revocations_and_login_limits_and_recovers(self):
        a, b = self.a, self.b
        user, password = a.register_user()
        redis_up = '{dependency="redis"}'
        self.assertTrue(wait_until(lambda: metric_sample(a, "permiso_dependency_up", redis_up) == 1, 10),
                        "the change notices' subscription is up")
        self.pair.redis.halt()
        self.assertTrue(wait_until(lambda: metric_sample(a, "permiso_dependency_up", redis_up) == 0, 10),
                        "the alert rules' gauge says Redis is down")
        tokens = a.login(user["username"], password)
        self.assertEqual(me(b, tokens["access_token"]).status, 200, "a token of A works on B")
        r = a.post(f"{V1}/auth/revoke", bearer=tokens["access_token"], json={"token": tokens["access_token"]})
        self.assertIn(r.status, (200, 204), r)
        refused = wait_until(lambda: me(b, tokens["access_token"]).status == 401, within_s=5)
        self.assertTrue(refused, "B refuses a token revoked on A while Redis is down")
        victim, _ = a.register_user()
        statuses = [self.failed_login(a, victim["username"]) for _ in range(5)]
        self.assertEqual(statuses[:3], [401] * 3, statuses)
        self.assertEqual(statuses[3:], [429] * 2, f"failed logins are still limited without Redis: {statuses}")
        self.assertIn("redis: unreachable", a.output())
        self.pair.redis.start()
        back = wait_until(lambda: self.failed_login(a, uniq("nobody_")) and "redis: reachable again" in a.output())
        self.assertTrue(back, "the replica uses Redis again once it is back")
        self.assertTrue(wait_until(lambda: metric_sample(a, "permiso_dependency_up", redis_up) == 1, 10),
                        "and the gauge says so")
        # Shared again: failures on B count towards the budget A sees.
        shared, _ = a.register_user()
        self.assertEqual([self.failed_login(b, shared["username"]) for _ in range(3)], [401] * 3)
        self.assertEqual(self.failed_login(a, shared["username"]), 429)


@unittest.skipUnless(harness.backend_name() == "sqlite", "the SQLite data directory's disk")
class DiskFullTest(unittest.TestCase):
    """The SQLite data directory on a small tmpfs filled up: writes are refused with a clear 503,
    reads, token issuance and /health go on, nothing is corrupted, and writes work again once
    there is room."""

    def setUp(self):
        self.mount = tempfile.mkdtemp(prefix="permiso-full-")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", self.mount],
                           capture_output=True, text=True)
        if r.returncode != 0:
            os.rmdir(self.mount)
            self.skipTest(f"cannot mount a tmpfs here (needs root): {r.stderr.strip()}")
        self.server = AuthServer(data_dir=self.mount)

    def tearDown(self):
        self.server.kill()
        self.server.stop()
        subprocess.run(["umount", self.mount], check=False)
        os.rmdir(self.mount)

    def fill(self):
        """Fills the file system to the last byte."""
        fd = os.open(os.path.join(self.mount, "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for size in (1 << 20, 4096, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * size)
                except OSError:
                    pass
        finally:
            os.close(fd)

    def test_a_full_disk_refuses_writes_clearly_and_corrupts_nothing(self):
        s = self.server.start()
        admin = s.admin_token()
        client = s.create_client(scopes=("trade:read",))
        self.fill()
        refused, acknowledged = [], []
        for i in range(2000):  # until SQLite needs a page the disk does not have
            client_id = f"full-{i}-{uniq('c')}"
            r = s.post(f"{V1}/admin/service-clients", bearer=admin, allow_5xx=True, json={
                "client_id": client_id, "name": "x" * 100, "description": "y" * 1000, "scope_ids": ["trade:read"]})
            self.assertIn(r.status, (201, 503), r)
            if r.status == 201:
                acknowledged.append(client_id)
                continue
            self.assertIn(r.body["error"], ("service_unavailable", "storage_unavailable"), r)
            self.assertIn("Storage", r.body["error_description"], r)
            refused.append(r)
            if len(refused) >= 3:
                break
        self.assertTrue(refused, "a write on a full disk is refused (503), not acknowledged")
        self.assertEqual(s.get("/health").status, 200)
        self.assertEqual(s.service_token(client["client"]["client_id"], client["client_secret"]).status, 200)
        self.assertEqual(s.get(f"{V1}/admin/service-clients/{client['client']['client_id']}", bearer=admin).status, 200)
        os.remove(os.path.join(self.mount, "filler"))
        after = s.post(f"{V1}/admin/service-clients", bearer=admin, json={
            "client_id": uniq("after-full-"), "name": "after", "scope_ids": ["trade:read"]})
        ok = wait_until(lambda: after.status == 201 or s.post(
            f"{V1}/admin/service-clients", bearer=admin,
            json={"client_id": uniq("after-full-"), "name": "after", "scope_ids": ["trade:read"]}).status == 201)
        self.assertTrue(ok, "writes work again once the disk has room")
        for client_id in acknowledged[-5:]:  # what was acknowledged before the disk filled is there
            self.assertEqual(s.get(f"{V1}/admin/service-clients/{client_id}", bearer=admin).status, 200)
        self.assertEqual(s.stop(), 0, s.describe())
        db = sqlite3.connect(os.path.join(self.mount, "permiso.db"))
        try:
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        finally:
            db.close()


if __name__ == "__main__":
    unittest.main()
