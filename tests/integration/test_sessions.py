# Logout and the caller's sessions: ending one session never ends another one of the same user
# (contract: POST /auth/logout, GET/DELETE /sessions, DELETE /sessions/{id}).
import unittest

import harness
from harness import V1, ServerTestCase, find_list
from tokens import me


def setUpModule():
    harness.start_module_server(__name__)


def tearDownModule():
    harness.stop_module_server(__name__)


class SessionsTest(ServerTestCase):
    def two_sessions(self):
        user, password, a = self.server.user_session()
        b = self.server.login(user["username"], password)
        return user, password, a, b

    def refresh(self, token):
        return self.server.post(f"{V1}/auth/refresh", json={"refresh_token": token})

    def assertSessionDead(self, tokens):
        self.assertInvalidToken(me(self.server, tokens["access_token"]))
        self.assertError(self.refresh(tokens["refresh_token"]), 401, "invalid_grant")

    def assertSessionAlive(self, tokens):
        self.assertEqual(me(self.server, tokens["access_token"]).status, 200)

    def sessions(self, token):
        r = self.server.get(f"{V1}/sessions", bearer=token)
        self.assertEqual(r.status, 200, r)
        return find_list(r.body, "sessions", "items")

    def test_logout_ends_only_the_callers_session(self):
        s = self.server
        _, _, a, b = self.two_sessions()
        r = s.post(f"{V1}/auth/logout", bearer=a["access_token"])
        self.assertIn(r.status, (200, 204), r)
        self.assertSessionDead(a)
        self.assertSessionAlive(b)
        self.assertEqual(self.refresh(b["refresh_token"]).status, 200)

    def test_logout_also_ends_refreshed_tokens_of_that_session(self):
        s = self.server
        _, _, a = s.user_session()
        refreshed = self.refresh(a["refresh_token"]).body
        r = s.post(f"{V1}/auth/logout", bearer=refreshed["access_token"])
        self.assertIn(r.status, (200, 204), r)
        self.assertSessionDead(refreshed)
        self.assertInvalidToken(me(s, a["access_token"]), "the session's earlier access token too")

    def test_logout_without_token_is_401(self):
        self.assertInvalidToken(self.server.post(f"{V1}/auth/logout"))

    def test_sessions_lists_the_callers_sessions(self):
        _, _, a, b = self.two_sessions()
        listed = self.sessions(a["access_token"])
        ids = {str(x["id"]) for x in listed}
        self.assertIn(a["session_id"], ids)
        self.assertIn(b["session_id"], ids)
        self.assertEqual(len(listed), 2, "only this user's sessions")
        for x in listed:
            for k in x:
                self.assertNotIn("refresh_token", k, "session listings never show tokens")

    def test_sessions_of_another_user_are_not_listed(self):
        _, _, a, _ = self.two_sessions()
        _, _, other = self.server.user_session()
        ids = {str(x["id"]) for x in self.sessions(a["access_token"])}
        self.assertNotIn(other["session_id"], ids)

    def test_delete_session_ends_that_session_only(self):
        s = self.server
        _, _, a, b = self.two_sessions()
        r = s.delete(f"{V1}/sessions/{b['session_id']}", bearer=a["access_token"])
        self.assertIn(r.status, (200, 204), r)
        self.assertSessionDead(b)
        self.assertSessionAlive(a)
        ids = {str(x["id"]) for x in self.sessions(a["access_token"])}
        self.assertNotIn(b["session_id"], ids)

    def test_delete_unknown_session_is_404(self):
        _, _, a = self.server.user_session()
        unknown = harness.unknown_id_like(a["session_id"])
        r = self.server.delete(f"{V1}/sessions/{unknown}", bearer=a["access_token"])
        self.assertError(r, 404, "not_found")

    def test_cannot_delete_another_users_session(self):
        s = self.server
        _, _, a = s.user_session()
        _, _, victim = s.user_session()
        r = s.delete(f"{V1}/sessions/{victim['session_id']}", bearer=a["access_token"])
        self.assertIn(r.status, (403, 404), r)
        self.assertError(r, r.status)
        self.assertSessionAlive(victim)

    def test_delete_all_sessions_ends_the_other_sessions(self):
        s = self.server
        user, password, a, b = self.two_sessions()
        c = s.login(user["username"], password)
        r = s.delete(f"{V1}/sessions", bearer=a["access_token"])
        self.assertIn(r.status, (200, 204), r)
        self.assertSessionDead(b)
        self.assertSessionDead(c)


class AdminSessionsTest(ServerTestCase):
    """An administrator sees where a user is signed in and can end all of it
    (GET/DELETE /users/{id}/sessions, admin:users)."""

    def test_admin_lists_and_ends_a_users_sessions(self):
        s = self.server
        user, password, a = s.user_session()
        b = s.login(user["username"], password)
        r = s.get(f"{V1}/users/{user['id']}/sessions", bearer=s.admin_token())
        self.assertEqual(r.status, 200, r)
        self.assertEqual({x["id"] for x in r.body["sessions"]}, {a["session_id"], b["session_id"]})
        self.assertTrue(all(not x["current"] for x in r.body["sessions"]), "none is the admin's")
        r = s.delete(f"{V1}/users/{user['id']}/sessions", bearer=s.admin_token())
        self.assertEqual(r.status, 200, r)
        for tokens in (a, b):
            self.assertInvalidToken(me(s, tokens["access_token"]))
            self.assertError(s.post(f"{V1}/auth/refresh", json={"refresh_token": tokens["refresh_token"]}),
                             401, "invalid_grant")
        self.assertEqual(s.get(f"{V1}/users/{user['id']}/sessions", bearer=s.admin_token()).body["sessions"], [])
        audit = s.get(f"{V1}/admin/audit?action=session.end_all", bearer=s.admin_token()).body
        self.assertTrue(any(e["target"] == str(user["id"]) for e in audit["events"]), audit)

    def test_only_admins_and_only_known_users(self):
        s = self.server
        user, _, tokens = s.user_session()
        self.assertError(s.get(f"{V1}/users/{user['id']}/sessions", bearer=tokens["access_token"]), 403,
                         "insufficient_scope")
        self.assertError(s.delete(f"{V1}/users/{user['id']}/sessions", bearer=tokens["access_token"]), 403,
                         "insufficient_scope")
        self.assertError(s.get(f"{V1}/users/99999999/sessions", bearer=s.admin_token()), 404, "not_found")


if __name__ == "__main__":
    unittest.main()
