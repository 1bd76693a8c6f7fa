# Revocation (the seed's bearer+JSON form and RFC 7009) and introspection (RFC 7662, form with
# client auth or JSON with a bearer token).
import unittest

import harness
from harness import V1, ServerTestCase
from tokens import me, unverified_parts


def setUpModule():
    harness.start_module_server(__name__)


def tearDownModule():
    harness.stop_module_server(__name__)


class RevokeIntrospectTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        created = cls.server.create_client(scopes=("trade:read", "account:read"))
        cls.cid = created["client"]["client_id"]
        cls.secret = created["client_secret"]

    def service_token(self):
        return self.server.service_token(self.cid, self.secret).body["access_token"]

    def introspect_form(self, token, hint=None):
        form = {"token": token}
        if hint:
            form["token_type_hint"] = hint
        r = self.server.post(f"{V1}/auth/introspect", form=form, auth_basic=(self.cid, self.secret))
        self.assertEqual(r.status, 200, r)
        return r.body

    def introspect_json(self, token):
        r = self.server.post(f"{V1}/auth/introspect", json={"token": token},
                             bearer=self.server.admin_token())
        self.assertEqual(r.status, 200, r)
        return r.body

    # -- introspection
    def test_introspect_user_token_with_client_auth_form(self):
        s = self.server
        user, _, tokens = s.user_session()
        body = self.introspect_form(tokens["access_token"], "access_token")
        _, claims = unverified_parts(tokens["access_token"])
        self.assertIs(body["active"], True)
        self.assertEqual(body["sub"], claims["sub"])
        self.assertEqual(body["username"], user["username"])
        self.assertEqual(body["client_id"], claims["client_id"])
        self.assertEqual(set(body["scope"].split(" ")), set(claims["scope"].split(" ")))
        self.assertEqual(body["exp"], claims["exp"])
        self.assertEqual(body["iat"], claims["iat"])
        self.assertIsInstance(body["token_type"], str)

    def test_introspect_service_token_with_bearer_json(self):
        token = self.service_token()
        body = self.introspect_json(token)
        _, claims = unverified_parts(token)
        self.assertIs(body["active"], True)
        self.assertEqual(body["client_id"], self.cid)
        self.assertEqual(body["sub"], claims["sub"])
        self.assertEqual(set(body["scope"].split(" ")), {"trade:read", "account:read"})
        self.assertEqual(body["exp"], claims["exp"])
        self.assertIs(body["is_trusted"], True)

    def test_introspect_garbage_is_inactive_and_says_nothing_else(self):
        body = self.introspect_form("garbage.token.value")
        self.assertEqual(body, {"active": False})

    def test_introspect_without_authentication_is_401(self):
        r = self.server.post(f"{V1}/auth/introspect", form={"token": self.service_token()})
        self.assertEqual(r.status, 401, r)
        self.assertError(r, 401)

    def test_introspect_with_wrong_client_secret_is_401_invalid_client(self):
        r = self.server.post(f"{V1}/auth/introspect", form={"token": self.service_token()},
                             auth_basic=(self.cid, "wrong"))
        self.assertError(r, 401, "invalid_client")

    # -- revocation, the seed's form
    def test_token_revocation(self):
        """Seed's test_token_revocation: bearer + JSON {token}, then the token is dead."""
        s = self.server
        token = self.service_token()
        self.assertIs(self.introspect_form(token)["active"], True)
        r = s.post(f"{V1}/auth/revoke", bearer=token, json={"token": token})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.introspect_form(token), {"active": False})
        self.assertEqual(self.introspect_json(token)["active"], False)

    def test_revoked_user_access_token_is_refused_by_the_api(self):
        s = self.server
        _, _, tokens = s.user_session()
        self.assertEqual(me(s, tokens["access_token"]).status, 200)
        r = s.post(f"{V1}/auth/revoke", bearer=tokens["access_token"],
                   json={"token": tokens["access_token"], "token_type_hint": "access_token"})
        self.assertEqual(r.status, 200, r)
        refused = me(s, tokens["access_token"])
        self.assertInvalidToken(refused)
        self.assertEqual(refused.body.get("reason"), "revoked", refused)

    def test_revoked_refresh_token_cannot_refresh(self):
        s = self.server
        _, _, tokens = s.user_session()
        r = s.post(f"{V1}/auth/revoke", bearer=tokens["access_token"],
                   json={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"})
        self.assertEqual(r.status, 200, r)
        r = s.post(f"{V1}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        self.assertError(r, 401, "invalid_grant")
        self.assertEqual(self.introspect_form(tokens["refresh_token"], "refresh_token"), {"active": False})

    def test_revoke_unknown_token_is_200(self):
        s = self.server
        r = s.post(f"{V1}/auth/revoke", bearer=self.service_token(), json={"token": "unknown-token"})
        self.assertEqual(r.status, 200, r)
        r = s.post(f"{V1}/auth/revoke", form={"token": "unknown-token"}, auth_basic=(self.cid, self.secret))
        self.assertEqual(r.status, 200, r)

    # -- revocation, RFC 7009
    def test_rfc7009_revoke_with_client_secret_basic(self):
        s = self.server
        token = self.service_token()
        r = s.post(f"{V1}/auth/revoke", form={"token": token, "token_type_hint": "access_token"},
                   auth_basic=(self.cid, self.secret))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.introspect_form(token), {"active": False})

    def test_rfc7009_revoke_with_client_secret_post(self):
        s = self.server
        token = self.service_token()
        r = s.post(f"{V1}/auth/revoke", form={"token": token, "client_id": self.cid,
                                              "client_secret": self.secret})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.introspect_form(token), {"active": False})

    def test_revoke_without_authentication_is_401(self):
        token = self.service_token()
        r = self.server.post(f"{V1}/auth/revoke", form={"token": token})
        self.assertEqual(r.status, 401, r)
        self.assertError(r, 401)
        self.assertIs(self.introspect_form(token)["active"], True, "an unauthenticated revoke does nothing")

    def test_revoke_with_wrong_client_secret_is_401_invalid_client(self):
        token = self.service_token()
        r = self.server.post(f"{V1}/auth/revoke", form={"token": token}, auth_basic=(self.cid, "wrong"))
        self.assertError(r, 401, "invalid_client")
        self.assertIs(self.introspect_form(token)["active"], True)

    def test_revoking_one_token_leaves_others_active(self):
        s = self.server
        a, b = self.service_token(), self.service_token()
        s.post(f"{V1}/auth/revoke", form={"token": a}, auth_basic=(self.cid, self.secret))
        self.assertIs(self.introspect_form(b)["active"], True)

    # -- the revocation feed (resource servers)
    def test_revocation_feed_is_read_with_a_service_token_and_shows_a_revocation(self):
        s = self.server
        token = self.service_token()
        s.post(f"{V1}/auth/revoke", form={"token": token}, auth_basic=(self.cid, self.secret))
        r = s.get(f"{V1}/auth/revocations?since=0", bearer=self.service_token())
        self.assertEqual(r.status, 200, r)
        self.assertIn(unverified_parts(token)[1]["jti"], {e["id"] for e in r.body["revocations"]}, r)
        self.assertIsInstance(r.body["cursor"], int, r)

    def test_revocation_feed_refuses_a_users_token_with_403(self):
        r = self.server.get(f"{V1}/auth/revocations?since=0", bearer=self.server.admin_token())
        self.assertError(r, 403, "forbidden")

    def test_revocation_feed_refuses_a_partly_numeric_cursor_naming_it(self):
        token = self.service_token()
        for query, field in (("since=5abc", "since"), ("since=-1", "since"), ("since=", "since"),
                             ("since=1&wait=2s", "wait")):
            r = self.server.get(f"{V1}/auth/revocations?{query}", bearer=token)
            self.assertError(r, 422, "validation_error", query)
            self.assertEqual(r.body.get("field"), field, r)


if __name__ == "__main__":
    unittest.main()
