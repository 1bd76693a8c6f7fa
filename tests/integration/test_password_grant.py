# The password grant on /auth/token: answers, token claims, bad credentials, lockout,
# disabled accounts and the login rate limit (contract: POST /auth/token).
import datetime
import threading
import unittest

import harness
from harness import V1, ServerTestCase
from tokens import me, verify_access_token

TOKEN_FIELDS = ("access_token", "token_type", "expires_in", "refresh_token", "scope", "session_id")


def setUpModule():
    harness.start_module_server(__name__)


def tearDownModule():
    harness.stop_module_server(__name__)


class PasswordGrantTest(ServerTestCase):
    def assertTokenResponse(self, r):
        self.assertEqual(r.status, 200, r)
        for f in TOKEN_FIELDS:
            self.assertIn(f, r.body, f"token response lacks {f}: {r!r}")
        self.assertEqual(r.body["token_type"], "Bearer")
        self.assertIsInstance(r.body["expires_in"], int)
        self.assertGreater(r.body["expires_in"], 0)
        self.assertIsInstance(r.body["scope"], str)
        self.assertIsInstance(r.body["refresh_token"], str)
        self.assertTrue(r.body["refresh_token"])
        self.assertIsInstance(r.body["session_id"], str)
        self.assertTrue(r.body["session_id"])
        self.assertIn("no-store", r.headers.get("Cache-Control", ""), "RFC 6749 §5.1 Cache-Control")
        return r.body

    def test_form_password_grant_returns_contract_fields(self):
        s = self.server
        r = s.post(f"{V1}/auth/token", form={"grant_type": "password", "username": s.admin_username,
                                             "password": s.admin_password})
        self.assertTokenResponse(r)

    def test_json_password_grant_is_accepted(self):
        s = self.server
        r = s.post(f"{V1}/auth/token", json={"grant_type": "password", "username": s.admin_username,
                                             "password": s.admin_password})
        self.assertTokenResponse(r)

    def test_grant_type_is_assumed_password_when_absent(self):
        s = self.server
        r = s.post(f"{V1}/auth/token", form={"username": s.admin_username, "password": s.admin_password})
        self.assertTokenResponse(r)
        r = s.post(f"{V1}/auth/token", json={"username": s.admin_username, "password": s.admin_password})
        self.assertTokenResponse(r)

    def test_admin_access_token_verifies_and_carries_user_claims(self):
        s = self.server
        body = s.login(s.admin_username, s.admin_password)
        header, claims = verify_access_token(self, s, body["access_token"], "access")
        self.assertEqual(claims["username"], "admin")
        self.assertIn("admin", claims["roles"])
        scopes = claims["scope"].split(" ")
        for scope in ("admin:users", "admin:clients", "admin:system", "admin:audit"):
            self.assertIn(scope, scopes)
        self.assertEqual(set(scopes), set(body["scope"].split(" ")), "response scope = token scope")
        self.assertAlmostEqual(claims["exp"] - claims["iat"], body["expires_in"], delta=2)
        r = me(s, body["access_token"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(claims["sub"], str(r.body["id"]), "sub is the user id")

    def test_each_login_gets_a_distinct_jti_and_session(self):
        s = self.server
        a = s.login(s.admin_username, s.admin_password)
        b = s.login(s.admin_username, s.admin_password)
        _, ca = verify_access_token(self, s, a["access_token"])
        _, cb = verify_access_token(self, s, b["access_token"])
        self.assertNotEqual(ca["jti"], cb["jti"])
        self.assertNotEqual(a["session_id"], b["session_id"])
        self.assertNotEqual(a["refresh_token"], b["refresh_token"])

    def test_wrong_password_is_401_invalid_grant(self):
        s = self.server
        user, _ = s.register_user()
        r = s.post(f"{V1}/auth/token", form={"grant_type": "password", "username": user["username"],
                                             "password": "Wrong-Passw0rd!"})
        self.assertError(r, 401, "invalid_grant")

    def test_unknown_user_is_401_invalid_grant_like_a_wrong_password(self):
        r = self.server.post(f"{V1}/auth/token", form={"grant_type": "password",
                                                       "username": "nobody_here_at_all",
                                                       "password": "Wrong-Passw0rd!"})
        self.assertError(r, 401, "invalid_grant")

    def test_registered_user_logs_in_with_lowercased_username(self):
        s = self.server
        user, password = s.register_user(username=harness.uniq("MiXeD_"))
        body = s.login(user["username"], password)
        _, claims = verify_access_token(self, s, body["access_token"])
        self.assertEqual(claims["username"], user["username"])
        self.assertEqual(user["username"], user["username"].lower())

    def test_disabled_user_is_403_account_disabled(self):
        s = self.server
        user, password = s.register_user()
        r = s.put(f"{V1}/users/{user['id']}", json={"is_active": False}, bearer=s.admin_token())
        self.assertEqual(r.status, 200, r)
        self.assertIs(r.body["is_active"], False)
        r = s.post(f"{V1}/auth/token", form={"grant_type": "password", "username": user["username"],
                                             "password": password})
        self.assertError(r, 403, "account_disabled")

    def test_missing_password_is_400_invalid_request(self):
        r = self.server.post(f"{V1}/auth/token", form={"grant_type": "password", "username": "admin"})
        self.assertError(r, 400, "invalid_request")

    def test_unknown_grant_type_is_400_unsupported_grant_type(self):
        r = self.server.post(f"{V1}/auth/token", form={"grant_type": "urn:nope", "username": "a",
                                                       "password": "b"})
        self.assertError(r, 400, "unsupported_grant_type")

    def test_error_echoes_the_callers_request_id(self):
        r = self.server.post(f"{V1}/auth/token", form={"grant_type": "password", "username": "x",
                                                       "password": "y"},
                             headers={"X-Request-ID": "itest-req-0001"})
        body = self.assertError(r, 401, "invalid_grant")
        self.assertEqual(body["request_id"], "itest-req-0001")


class LockoutTest(ServerTestCase):
    # The rate limiter must not be what refuses these attempts.
    server_env = {"RATE_LIMIT_LOGIN": "100000/minute"}

    def attempt(self, username, password):
        return self.server.post(f"{V1}/auth/token", form={"grant_type": "password",
                                                          "username": username, "password": password})

    def test_five_failures_lock_the_account_with_423_and_locked_until(self):
        s = self.server
        user, password = s.register_user()
        for i in range(4):
            self.assertError(self.attempt(user["username"], "Wrong-Passw0rd!"), 401, "invalid_grant",
                             f"failure {i + 1}")
        r = self.attempt(user["username"], "Wrong-Passw0rd!")
        self.assertStatusIn(r, (401, 423), "fifth failure")
        r = self.attempt(user["username"], password)
        body = self.assertError(r, 423, "account_locked", "correct password on a locked account")
        self.assertIn("locked_until", body)
        until = datetime.datetime.fromisoformat(body["locked_until"].replace("Z", "+00:00"))
        if until.tzinfo is None:
            until = until.replace(tzinfo=datetime.timezone.utc)
        self.assertGreater(until, datetime.datetime.now(datetime.timezone.utc))

    def test_lockout_of_one_user_leaves_others_alone(self):
        s = self.server
        victim, _ = s.register_user()
        other, other_pw = s.register_user()
        for _ in range(6):
            self.attempt(victim["username"], "Wrong-Passw0rd!")
        self.assertEqual(self.attempt(other["username"], other_pw).status, 200)

    def test_concurrent_failures_never_exceed_the_lockout_count(self):
        s = self.server
        user, _ = s.register_user()
        statuses = []
        lock = threading.Lock()

        def worker():
            r = self.attempt(user["username"], "Wrong-Passw0rd!")
            with lock:
                statuses.append(r.status)

        threads = [threading.Thread(target=worker) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(set(statuses) - {401, 423}, set(), statuses)
        self.assertLessEqual(statuses.count(401), 5, f"more than 5 password checks got through: {statuses}")
        self.assertGreater(statuses.count(423), 0)

    def test_successful_login_before_the_limit_resets_the_failure_count(self):
        s = self.server
        user, password = s.register_user()
        for _ in range(4):
            self.attempt(user["username"], "Wrong-Passw0rd!")
        self.assertEqual(self.attempt(user["username"], password).status, 200)
        for _ in range(4):
            self.assertEqual(self.attempt(user["username"], "Wrong-Passw0rd!").status, 401)
        self.assertEqual(self.attempt(user["username"], password).status, 200)


class LoginRateLimitTest(ServerTestCase):
    """The seed's test_rate_limiting: rapid logins eventually get 429."""
    server_env = {"RATE_LIMIT_LOGIN": "3/minute"}

    def test_rapid_logins_get_429_rate_limited_with_retry_after(self):
        statuses = []
        limited = None
        for _ in range(10):
            r = self.server.post(f"{V1}/auth/token", form={"username": "invalid", "password": "invalid"})
            statuses.append(r.status)
            if r.status == 429 and limited is None:
                limited = r
        self.assertIn(429, statuses)
        self.assertEqual(statuses[0], 401, "the first attempt is judged on its credentials")
        self.assertEqual(set(statuses) - {401, 429}, set(), statuses)
        self.assertLessEqual(statuses.index(429), 3, f"limit 3/minute: {statuses}")
        self.assertError(limited, 429, "rate_limited")
        retry_after = limited.headers.get("Retry-After")
        self.assertIsNotNone(retry_after, "429 carries Retry-After")
        self.assertTrue(retry_after.isdigit() and 0 < int(retry_after) <= 60, retry_after)

    def test_correct_sign_ins_do_not_count_against_the_limit(self):
        """RATE_LIMIT_LOGIN limits failed logins per (IP, username), as the contract says."""
        s = self.server
        user, password = s.register_user()
        for i in range(8):
            r = s.post(f"{V1}/auth/token", form={"username": user["username"], "password": password})
            self.assertEqual(r.status, 200, f"correct sign-in {i + 1} of 8 at 3/minute: {r}")
        for _ in range(3):
            r = s.post(f"{V1}/auth/token", form={"username": user["username"], "password": "Wrong-Passw0rd!"})
            self.assertError(r, 401, "invalid_grant")
        r = s.post(f"{V1}/auth/token", form={"username": user["username"], "password": password})
        self.assertError(r, 429, "rate_limited", "three failures in the minute hold back even the right password")


if __name__ == "__main__":
    unittest.main()
