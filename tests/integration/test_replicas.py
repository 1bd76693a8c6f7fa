# Two permiso-auth replicas on one PostgreSQL and one Redis (backend postgres+redis only): tokens,
# revocations, sessions and rate limits are shared (contract: REDIS_URL). And two replicas on one
# PostgreSQL with no Redis between them (backends postgres and postgres+redis): client changes
# reach the other replica through the client change feed alone.
import secrets
import shutil
import tempfile
import time
import unittest

import harness
from harness import V1, AuthServer
from tokens import me, verify_access_token


class ReplicaPair:
    def __init__(self, env=None, shared_redis=True):
        self.dir = tempfile.mkdtemp(prefix="permiso-replicas-")
        self.redis = None
        if shared_redis:  # else each replica has its own Redis (postgres+redis) or none at all
            self.redis = harness.Redis()
            self.redis.start()
        database_url = harness.postgres().new_database()
        secret = secrets.token_hex(32)
        password = harness.strong_password()
        issuer_port = harness.free_port()
        issuer = f"http://permiso-auth.test:{issuer_port}"
        self.servers = []
        try:
            for _ in range(2):
                s = AuthServer(env=dict(env or {}, JWT_ISSUER=issuer), data_dir=self.dir,
                               database_url=database_url, redis=self.redis, jwt_secret=secret,
                               issuer=issuer, admin_password=password)
                self.servers.append(s)  # before start: close() cleans up after a failed start too
                s.start()
        except BaseException:
            self.close(check=False)
            raise

    def close(self, check=True):
        codes = []
        for s in self.servers:
            codes.append(s.stop())
            s.cleanup()  # stops the Redis a replica owns (shared_redis=False on postgres+redis)
        if self.redis:
            self.redis.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        if check and any(c != 0 for c in codes):
            raise AssertionError(f"replica exit codes {codes} (expected 0 on SIGTERM)\n" +
                                 "\n".join(s.describe() for s in self.servers))


def needs_redis(cls):
    return unittest.skipUnless(harness.backend_name() == "postgres+redis",
                               "replica sharing needs PERMISO_TEST_BACKEND=postgres+redis")(cls)


@needs_redis
class SharedStateTest(harness.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.pair = ReplicaPair()
        cls.a, cls.b = cls.pair.servers
        cls.server = cls.a

    @classmethod
    def tearDownClass(cls):
        cls.pair.close()

    def wait_refused(self, server, token, within_s=2.0):
        deadline = time.time() + within_s
        while True:
            r = me(server, token)
            if r.status == 401 or time.time() > deadline:
                return r
            time.sleep(0.1)

    def test_token_from_one_replica_works_on_the_other(self):
        user, pw, tokens = self.a.user_session()
        r = me(self.b, tokens["access_token"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["username"], user["username"])
        verify_access_token(self, self.b, tokens["access_token"])

    def test_revocation_reaches_the_other_replica_within_2s(self):
        _, _, tokens = self.a.user_session()
        self.assertEqual(me(self.b, tokens["access_token"]).status, 200)
        r = self.a.post(f"{V1}/auth/revoke", bearer=tokens["access_token"], json={"token": tokens["access_token"]})
        self.assertEqual(r.status, 200, r)
        self.assertInvalidToken(self.wait_refused(self.b, tokens["access_token"]))

    def test_logout_reaches_the_other_replica_within_2s(self):
        user, pw, tokens = self.a.user_session()
        other = self.b.login(user["username"], pw)
        r = self.a.post(f"{V1}/auth/logout", bearer=tokens["access_token"])
        self.assertIn(r.status, (200, 204), r)
        self.assertInvalidToken(self.wait_refused(self.b, tokens["access_token"]))
        self.assertEqual(me(self.b, other["access_token"]).status, 200, "the other session lives")

    def test_refresh_reuse_is_detected_across_replicas(self):
        _, _, first = self.a.user_session()
        second = self.a.post(f"{V1}/auth/refresh", json={"refresh_token": first["refresh_token"]})
        self.assertEqual(second.status, 200, second)
        r = self.b.post(f"{V1}/auth/refresh", json={"refresh_token": first["refresh_token"]})
        self.assertError(r, 401, "invalid_grant")
        r = self.a.post(f"{V1}/auth/refresh", json={"refresh_token": second.body["refresh_token"]})
        self.assertError(r, 401, "invalid_grant")

    def test_client_created_on_one_replica_gets_tokens_on_the_other(self):
        created = self.a.create_client(scopes=("trade:read",))
        r = self.b.service_token(created["client"]["client_id"], created["client_secret"], scope="trade:read")
        self.assertEqual(r.body["scope"], "trade:read")


def needs_postgres(cls):
    return unittest.skipUnless(harness.backend_name() in ("postgres", "postgres+redis"),
                               "two replicas on one database need PERMISO_TEST_BACKEND=postgres[+redis]")(cls)


@needs_postgres
class ClientFeedTest(harness.ServerTestCase):
    """No change notice passes between the replicas: what one changes, the other learns from the
    client change feed on its next catch-up (every 2 s)."""
    WITHIN_S = 6.0  # the 2 s period, with room for a loaded machine

    @classmethod
    def setUpClass(cls):
        cls.pair = ReplicaPair(shared_redis=False)
        cls.a, cls.b = cls.pair.servers
        cls.server = cls.a

    @classmethod
    def tearDownClass(cls):
        cls.pair.close()

    def until(self, probe, done):
        """probe() until done(answer) or WITHIN_S passes; the last answer."""
        deadline = time.monotonic() + self.WITHIN_S
        while True:
            answer = probe()
            if done(answer) or time.monotonic() > deadline:
                return answer
            time.sleep(0.1)

    def client_known_to_both(self, scopes=("trade:read",)):
        created = self.a.create_client(scopes=scopes)
        cid, secret = created["client"]["client_id"], created["client_secret"]
        self.b.service_token(cid, secret)  # b now holds it in its cache
        return cid, secret

    def test_a_client_disabled_on_one_replica_is_refused_by_the_other(self):
        cid, secret = self.client_known_to_both()
        r = self.a.put(f"{V1}/service-clients/{cid}", json={"is_active": False}, bearer=self.a.admin_token())
        self.assertEqual(r.status, 200, r)
        r = self.until(lambda: self.b.service_token(cid, secret, expect=None), lambda r: r.status != 200)
        self.assertError(r, 403, "client_disabled")

    def test_a_secret_rotated_on_one_replica_changes_on_the_other(self):
        cid, old = self.client_known_to_both()
        r = self.a.post(f"{V1}/service-clients/{cid}/rotate-secret", bearer=self.a.admin_token())
        self.assertEqual(r.status, 200, r)
        new = r.body["client_secret"]
        r = self.until(lambda: self.b.service_token(cid, old, expect=None), lambda r: r.status != 200)
        self.assertError(r, 401, "invalid_client")
        self.b.service_token(cid, new)

    def test_a_client_deleted_on_one_replica_is_refused_by_the_other(self):
        cid, secret = self.client_known_to_both()
        r = self.a.delete(f"{V1}/service-clients/{cid}", bearer=self.a.admin_token())
        self.assertIn(r.status, (200, 204), r)
        r = self.until(lambda: self.b.service_token(cid, secret, expect=None), lambda r: r.status != 200)
        self.assertError(r, 401, "invalid_client")

    def test_a_scope_renamed_on_one_replica_is_granted_under_its_new_name_by_the_other(self):
        admin = self.a.admin_token()
        name = f"{harness.uniq('feed')}:read"
        r = self.a.post(f"{V1}/roles/scopes", bearer=admin,
                        json={"name": name, "description": "feed test", "resource": name.split(":")[0],
                              "action": "read"})
        self.assertEqual(r.status, 201, r)
        sid = r.body["id"]
        cid, secret = self.client_known_to_both(scopes=(name,))
        self.assertEqual(self.b.service_token(cid, secret).body["scope"], name)
        renamed = f"{harness.uniq('feed')}:read"
        r = self.a.put(f"{V1}/roles/scopes/{sid}", bearer=admin, json={"name": renamed})
        self.assertEqual(r.status, 200, r)
        r = self.until(lambda: self.b.service_token(cid, secret, expect=None),
                       lambda r: r.status == 200 and r.body.get("scope") == renamed)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["scope"], renamed)


@needs_redis
class SharedRateLimitTest(harness.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.pair = ReplicaPair(env={"RATE_LIMIT_LOGIN": "3/minute"})
        cls.a, cls.b = cls.pair.servers
        cls.server = cls.a

    @classmethod
    def tearDownClass(cls):
        cls.pair.close()

    def test_login_rate_limit_is_shared_between_replicas(self):
        statuses = []
        for i in range(8):
            s = (self.a, self.b)[i % 2]
            statuses.append(s.post(f"{V1}/auth/token", form={"username": "invalid",
                                                             "password": "invalid"}).status)
        self.assertEqual(set(statuses) - {401, 429}, set(), statuses)
        self.assertLessEqual(statuses.count(401), 3, f"3/minute across both replicas: {statuses}")


if __name__ == "__main__":
    unittest.main()
