# Refresh-token rotation and reuse detection (contract: POST /auth/refresh and
# /auth/token grant_type=refresh_token).
import threading
import unittest

import harness
from harness import V1, ServerTestCase
from tokens import me, verify_access_token


def setUpModule():
    harness.start_module_server(__name__)


def tearDownModule():
    harness.stop_module_server(__name__)


class RefreshTest(ServerTestCase):
    def refresh(self, token):
        return self.server.post(f"{V1}/auth/refresh", json={"refresh_token": token})

    def test_refresh_rotates_the_refresh_token_and_issues_a_working_access_token(self):
        s = self.server
        user, _, first = s.user_session()
        r = self.refresh(first["refresh_token"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["token_type"], "Bearer")
        self.assertGreater(r.body["expires_in"], 0)
        self.assertNotEqual(r.body["refresh_token"], first["refresh_token"], "rotation")
        self.assertNotEqual(r.body["access_token"], first["access_token"])
        _, claims = verify_access_token(self, s, r.body["access_token"], "access")
        self.assertEqual(claims["username"], user["username"])
        self.assertEqual(me(s, r.body["access_token"]).status, 200)
        # The next link of the chain works too.
        r2 = self.refresh(r.body["refresh_token"])
        self.assertEqual(r2.status, 200, r2)

    def test_reused_refresh_token_is_401_invalid_grant(self):
        _, _, first = self.server.user_session()
        self.assertEqual(self.refresh(first["refresh_token"]).status, 200)
        self.assertError(self.refresh(first["refresh_token"]), 401, "invalid_grant")

    def test_reused_refresh_token_revokes_family(self):
        _, _, first = self.server.user_session()
        second = self.refresh(first["refresh_token"])
        self.assertEqual(second.status, 200, second)
        third = self.refresh(second.body["refresh_token"])
        self.assertEqual(third.status, 200, third)
        # Replay of an old link: the attacker's copy fails and so does the legitimate latest one.
        self.assertError(self.refresh(first["refresh_token"]), 401, "invalid_grant")
        self.assertError(self.refresh(third.body["refresh_token"]), 401, "invalid_grant",
                         "the newest refresh token of a reused family is revoked")

    def test_family_revocation_does_not_touch_other_sessions(self):
        s = self.server
        user, password, first = s.user_session()
        other = s.login(user["username"], password)
        self.assertEqual(self.refresh(first["refresh_token"]).status, 200)
        self.refresh(first["refresh_token"])
        self.assertEqual(self.refresh(other["refresh_token"]).status, 200)

    def test_garbage_refresh_token_is_401_invalid_grant(self):
        self.assertError(self.refresh("definitely-not-a-refresh-token"), 401, "invalid_grant")

    def test_missing_refresh_token_is_refused(self):
        r = self.server.post(f"{V1}/auth/refresh", json={})
        self.assertIn(r.status, (400, 401, 422), r)
        self.assertError(r, r.status)

    def test_access_token_is_not_a_refresh_token(self):
        _, _, first = self.server.user_session()
        self.assertError(self.refresh(first["access_token"]), 401, "invalid_grant")

    def test_token_endpoint_refresh_grant_rotates(self):
        s = self.server
        _, _, first = s.user_session()
        r = s.post(f"{V1}/auth/token", form={"grant_type": "refresh_token",
                                             "refresh_token": first["refresh_token"]})
        self.assertEqual(r.status, 200, r)
        self.assertNotEqual(r.body["refresh_token"], first["refresh_token"])
        self.assertEqual(me(s, r.body["access_token"]).status, 200)

    def test_token_endpoint_refresh_grant_accepts_json(self):
        s = self.server
        _, _, first = s.user_session()
        r = s.post(f"{V1}/auth/token", json={"grant_type": "refresh_token",
                                             "refresh_token": first["refresh_token"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(me(s, r.body["access_token"]).status, 200)

    def test_token_endpoint_refresh_failure_is_400_invalid_grant(self):
        s = self.server
        r = s.post(f"{V1}/auth/token", form={"grant_type": "refresh_token", "refresh_token": "garbage"})
        self.assertError(r, 400, "invalid_grant")
        _, _, first = s.user_session()
        self.assertEqual(s.post(f"{V1}/auth/token", form={"grant_type": "refresh_token",
                                                          "refresh_token": first["refresh_token"]}).status, 200)
        r = s.post(f"{V1}/auth/token", form={"grant_type": "refresh_token",
                                             "refresh_token": first["refresh_token"]})
        self.assertError(r, 400, "invalid_grant")

    def test_concurrent_refreshes_of_one_token_do_not_fork_the_family(self):
        _, _, first = self.server.user_session()
        results = []
        lock = threading.Lock()

        def worker():
            r = self.refresh(first["refresh_token"])
            with lock:
                results.append(r)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual({r.status for r in results} - {200, 401}, set(), results)
        winners = [r for r in results if r.status == 200]
        self.assertGreaterEqual(len(winners), 1)
        # A grace window may hand the same rotation to racers, but never two different live chains.
        distinct = {r.body["refresh_token"] for r in winners}
        live = [t for t in distinct if self.refresh(t).status == 200]
        self.assertLessEqual(len(live), 1, "concurrent refreshes yield one winner")

    def test_refreshed_user_token_is_signed_with_the_current_key(self):
        s = self.server
        _, _, first = s.user_session()
        r = self.refresh(first["refresh_token"])
        h1, _ = verify_access_token(self, s, first["access_token"])
        h2, _ = verify_access_token(self, s, r.body["access_token"])
        self.assertEqual(h1["kid"], h2["kid"])


if __name__ == "__main__":
    unittest.main()
