# Service clients and the client-credentials grant: the seed's complete flow, /auth/token with
# client_secret_basic and client_secret_post, refusals, and admin management of clients.
import unittest

import harness
from harness import V1, ServerTestCase, find_list, names, uniq
from tokens import verify_access_token

SEED_SCOPES = ("trade:read", "trade:open", "account:read")


def setUpModule():
    harness.start_module_server(__name__)


def tearDownModule():
    harness.stop_module_server(__name__)


class CompleteFlowTest(ServerTestCase):
    def test_complete_authentication_flow(self):
        """Seed: admin token → register client → service token with the requested scopes."""
        s = self.server
        admin = s.admin_token()
        cid = uniq("test-integration-client-")
        r = s.post(f"{V1}/admin/service-clients", bearer=admin, json={
            "client_id": cid,
            "name": "Integration Test Client",
            "description": "Client for integration testing",
            "client_type": "confidential",
            "is_trusted": True,
            "access_token_lifetime": 3600,
            "scope_ids": ["trade:read", "trade:open", "account:read"],
        })
        self.assertEqual(r.status, 201, r)
        client = r.body["client"]
        self.assertEqual(client["client_id"], cid)
        self.assertEqual(client["name"], "Integration Test Client")
        self.assertEqual(client["client_type"], "confidential")
        self.assertIs(client["is_trusted"], True)
        self.assertEqual(client["access_token_lifetime"], 3600)
        self.assertEqual(names(client["scopes"]), set(SEED_SCOPES))
        secret = r.body["client_secret"]
        self.assertIsInstance(secret, str)
        self.assertGreaterEqual(len(secret), 32, "a client secret carries at least 256 bits")
        self.assertNotIn("client_secret", client)
        for k in client:
            self.assertNotIn("hash", k.lower(), "the secret hash never leaves the server")

        r = s.post(f"{V1}/auth/service-token", form={"client_id": cid, "client_secret": secret,
                                                     "scope": "trade:read account:read"})
        self.assertEqual(r.status, 200, r)
        token = r.body["access_token"]
        self.assertGreater(len(token), 50)
        self.assertEqual(r.body["token_type"], "Bearer")
        self.assertEqual(r.body["expires_in"], 3600)
        self.assertEqual(set(r.body["scope"].split(" ")), {"trade:read", "account:read"})
        self.assertNotIn("refresh_token", r.body, "RFC 6749 §4.4.3: no refresh token for client credentials")
        _, claims = verify_access_token(self, s, token, "service")
        self.assertEqual(claims["client_id"], cid)
        self.assertEqual(claims["sub"], cid)
        self.assertEqual(set(claims["scope"].split(" ")), {"trade:read", "account:read"})
        self.assertIs(claims["is_trusted"], True)
        self.assertAlmostEqual(claims["exp"] - claims["iat"], 3600, delta=2)

    def test_token_without_scope_gets_all_of_the_clients_scopes(self):
        s = self.server
        created = s.create_client()
        r = s.service_token(created["client"]["client_id"], created["client_secret"])
        self.assertEqual(set(r.body["scope"].split(" ")), set(SEED_SCOPES))

    def test_two_client_credentials_tokens_differ_by_jti(self):
        """Seed's test_token_caching_and_refresh at the HTTP level: no server-side reuse."""
        s = self.server
        created = s.create_client()
        cid, secret = created["client"]["client_id"], created["client_secret"]
        t1 = s.service_token(cid, secret, scope="trade:read").body["access_token"]
        t2 = s.service_token(cid, secret, scope="trade:read").body["access_token"]
        self.assertNotEqual(t1, t2)
        _, c1 = verify_access_token(self, s, t1, "service")
        _, c2 = verify_access_token(self, s, t2, "service")
        self.assertNotEqual(c1["jti"], c2["jti"])

    def test_client_id_is_generated_when_absent(self):
        s = self.server
        r = s.post(f"{V1}/admin/service-clients", bearer=s.admin_token(), json={
            "name": "Generated", "description": "generated id", "client_type": "confidential",
            "scope_ids": ["market:data"]})
        self.assertEqual(r.status, 201, r)
        cid = r.body["client"]["client_id"]
        self.assertIsInstance(cid, str)
        self.assertTrue(cid)
        self.assertEqual(r.body["client"]["access_token_lifetime"], 3600, "default lifetime")
        tok = s.service_token(cid, r.body["client_secret"], scope="market:data")
        self.assertEqual(tok.body["expires_in"], 3600)


class ClientCredentialsGrantTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        created = cls.server.create_client()
        cls.cid = created["client"]["client_id"]
        cls.secret = created["client_secret"]

    def test_client_secret_basic_on_token_endpoint(self):
        r = self.server.post(f"{V1}/auth/token", form={"grant_type": "client_credentials",
                                                       "scope": "trade:read"},
                             auth_basic=(self.cid, self.secret))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["token_type"], "Bearer")
        self.assertEqual(r.body["scope"], "trade:read")
        _, claims = verify_access_token(self, self.server, r.body["access_token"], "service")
        self.assertEqual(claims["client_id"], self.cid)

    def test_client_secret_post_on_token_endpoint(self):
        r = self.server.post(f"{V1}/auth/token", form={"grant_type": "client_credentials",
                                                       "client_id": self.cid,
                                                       "client_secret": self.secret,
                                                       "scope": "trade:read trade:open"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(set(r.body["scope"].split(" ")), {"trade:read", "trade:open"})

    def test_json_client_credentials_on_token_endpoint(self):
        r = self.server.post(f"{V1}/auth/token", json={"grant_type": "client_credentials",
                                                       "client_id": self.cid,
                                                       "client_secret": self.secret,
                                                       "scope": "account:read"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["scope"], "account:read")

    def test_wrong_secret_basic_is_401_invalid_client(self):
        r = self.server.post(f"{V1}/auth/token", form={"grant_type": "client_credentials"},
                             auth_basic=(self.cid, self.secret + "x"))
        self.assertError(r, 401, "invalid_client")
        self.assertTrue(r.headers.get("WWW-Authenticate"), "401 carries WWW-Authenticate")

    def test_wrong_secret_on_service_token_is_401_invalid_client(self):
        r = self.server.service_token(self.cid, "not-the-secret", expect=None)
        self.assertError(r, 401, "invalid_client")

    def test_unknown_client_is_401_invalid_client(self):
        r = self.server.service_token("no-such-client", self.secret, expect=None)
        self.assertError(r, 401, "invalid_client")
        r = self.server.post(f"{V1}/auth/token", form={"grant_type": "client_credentials",
                                                       "client_id": "no-such-client",
                                                       "client_secret": "x"})
        self.assertError(r, 401, "invalid_client")

    def test_scope_the_client_lacks_is_400_invalid_scope(self):
        r = self.server.service_token(self.cid, self.secret, scope="trade:read admin:system", expect=None)
        self.assertError(r, 400, "invalid_scope")
        r = self.server.post(f"{V1}/auth/token", form={"grant_type": "client_credentials",
                                                       "scope": "admin:users"},
                             auth_basic=(self.cid, self.secret))
        self.assertError(r, 400, "invalid_scope")

    def test_disabled_client_is_403_client_disabled(self):
        s = self.server
        created = s.create_client(is_active=False)
        r = s.service_token(created["client"]["client_id"], created["client_secret"], expect=None)
        self.assertError(r, 403, "client_disabled")

    def test_client_disabled_by_update_stops_getting_tokens(self):
        s = self.server
        created = s.create_client()
        cid, secret = created["client"]["client_id"], created["client_secret"]
        s.service_token(cid, secret)
        r = s.put(f"{V1}/service-clients/{cid}", json={"is_active": False}, bearer=s.admin_token())
        self.assertEqual(r.status, 200, r)
        self.assertError(s.service_token(cid, secret, expect=None), 403, "client_disabled")


class ClientPolicyTest(ServerTestCase):
    def test_optional_client_fields_round_trip(self):
        s = self.server
        created = s.create_client(scopes=("trade:read",), client_type="public", is_trusted=False,
                                  rate_limit_per_minute=120, rate_limit_per_hour=None,
                                  allowed_ips=["127.0.0.1"], access_token_lifetime=900)
        cid = created["client"]["client_id"]
        r = s.get(f"{V1}/service-clients/{cid}", bearer=s.admin_token())
        self.assertEqual(r.status, 200, r)
        got = r.body.get("client", r.body)
        self.assertEqual(got["client_type"], "public")
        self.assertIs(got["is_trusted"], False)
        self.assertEqual(got["rate_limit_per_minute"], 120)
        self.assertIsNone(got["rate_limit_per_hour"])
        self.assertEqual(got["allowed_ips"], ["127.0.0.1"])
        self.assertEqual(got["access_token_lifetime"], 900)

    def test_public_client_gets_no_secret_and_no_client_credentials(self):
        """RFC 6749 §2.1: a public client cannot keep a secret, so it is issued none."""
        s = self.server
        created = s.create_client(scopes=("trade:read",), client_type="public")
        cid = created["client"]["client_id"]
        self.assertIn("client_secret", created)
        self.assertIsNone(created["client_secret"], created)
        for secret in ("", "anything"):
            self.assertError(s.service_token(cid, secret, expect=None), 401, "invalid_client")
        r = s.post(f"{V1}/auth/token", form={"grant_type": "client_credentials", "client_id": cid,
                                             "client_secret": ""})
        self.assertIn(r.status, (400, 401), r)
        r = s.post(f"{V1}/service-clients/{cid}/rotate-secret", json={}, bearer=s.admin_token())
        self.assertError(r, 422, "validation_error")
        self.assertEqual(r.body.get("field"), "client_type", r)

    def test_confidential_client_made_public_loses_its_secret(self):
        s = self.server
        created = s.create_client(scopes=("trade:read",))
        cid, secret = created["client"]["client_id"], created["client_secret"]
        s.service_token(cid, secret)
        r = s.put(f"{V1}/service-clients/{cid}", json={"client_type": "public"}, bearer=s.admin_token())
        self.assertEqual(r.status, 200, r)
        self.assertError(s.service_token(cid, secret, expect=None), 401, "invalid_client")

    def test_untrusted_client_token_says_is_trusted_false(self):
        s = self.server
        created = s.create_client(scopes=("trade:read",), is_trusted=False)
        tok = s.service_token(created["client"]["client_id"], created["client_secret"])
        _, claims = verify_access_token(self, s, tok.body["access_token"], "service")
        self.assertIs(claims["is_trusted"], False)

    def test_allowed_ips_refuse_other_addresses(self):
        s = self.server
        created = s.create_client(scopes=("trade:read",), allowed_ips=["10.9.8.7"])
        r = s.service_token(created["client"]["client_id"], created["client_secret"], expect=None)
        self.assertIn(r.status, (401, 403), f"a request from 127.0.0.1 is outside allowed_ips: {r!r}")
        self.assertError(r, r.status)

    def test_secrets_never_appear_in_the_server_output(self):
        s = self.server
        created = s.create_client(scopes=("trade:read",))
        cid, secret = created["client"]["client_id"], created["client_secret"]
        tok = s.service_token(cid, secret).body["access_token"]
        s.service_token(cid, secret + "wrong", expect=None)
        login = s.login(s.admin_username, s.admin_password)
        s.post(f"{V1}/auth/token", form={"username": "admin", "password": "Typo-Passw0rd!x"})
        out = s.output()
        for label, value in (("client secret", secret), ("admin password", s.admin_password),
                             ("wrong password", "Typo-Passw0rd!x"), ("JWT secret", s.jwt_secret),
                             ("access token", tok), ("user access token", login["access_token"]),
                             ("refresh token", login["refresh_token"])):
            self.assertNotIn(value, out, f"the {label} must never be logged")


class ServiceClientAdminTest(ServerTestCase):
    def test_list_has_pagination_shape_and_finds_the_client(self):
        s = self.server
        created = s.create_client()
        for prefix in (f"{V1}/service-clients", f"{V1}/admin/service-clients"):
            r = s.get(f"{prefix}?page=1&per_page=100", bearer=s.admin_token())
            self.assertEqual(r.status, 200, r)
            for k in ("clients", "total", "page", "per_page", "pages"):
                self.assertIn(k, r.body)
            self.assertEqual(r.body["page"], 1)
            self.assertEqual(r.body["per_page"], 100)
            ids = [c["client_id"] for c in r.body["clients"]]
            self.assertIn(created["client"]["client_id"], ids)
            for c in r.body["clients"]:
                self.assertNotIn("client_secret", c)

    def test_pages_follow_total_and_per_page(self):
        s = self.server
        for _ in range(3):
            s.create_client()
        r = s.get(f"{V1}/service-clients?page=1&per_page=2", bearer=s.admin_token())
        self.assertEqual(r.status, 200, r)
        self.assertLessEqual(len(r.body["clients"]), 2)
        self.assertGreaterEqual(r.body["total"], 3)
        self.assertEqual(r.body["pages"], -(-r.body["total"] // 2))
        r2 = s.get(f"{V1}/service-clients?page=2&per_page=2", bearer=s.admin_token())
        self.assertEqual(r2.status, 200, r2)
        self.assertFalse({c["client_id"] for c in r.body["clients"]} &
                         {c["client_id"] for c in r2.body["clients"]}, "pages do not overlap")

    def test_get_update_and_delete_under_both_prefixes(self):
        s = self.server
        admin = s.admin_token()
        for prefix in (f"{V1}/service-clients", f"{V1}/admin/service-clients"):
            created = s.create_client(path=prefix)
            cid, secret = created["client"]["client_id"], created["client_secret"]
            r = s.get(f"{prefix}/{cid}", bearer=admin)
            self.assertEqual(r.status, 200, r)
            got = r.body.get("client", r.body)
            self.assertEqual(got["client_id"], cid)
            self.assertNotIn("client_secret", got)
            r = s.put(f"{prefix}/{cid}", bearer=admin, json={"description": "updated",
                                                              "access_token_lifetime": 600})
            self.assertEqual(r.status, 200, r)
            got = r.body.get("client", r.body)
            self.assertEqual(got["description"], "updated")
            self.assertEqual(got["access_token_lifetime"], 600)
            self.assertEqual(s.service_token(cid, secret).body["expires_in"], 600)
            r = s.delete(f"{prefix}/{cid}", bearer=admin)
            self.assertIn(r.status, (200, 204), r)
            self.assertError(s.get(f"{prefix}/{cid}", bearer=admin), 404, "not_found")
            self.assertError(s.service_token(cid, secret, expect=None), 401, "invalid_client")

    def test_unknown_client_is_404_not_found(self):
        s = self.server
        self.assertError(s.get(f"{V1}/service-clients/no-such-client", bearer=s.admin_token()),
                         404, "not_found")
        self.assertError(s.delete(f"{V1}/service-clients/no-such-client", bearer=s.admin_token()),
                         404, "not_found")

    def test_duplicate_client_id_is_409_conflict_naming_the_field(self):
        s = self.server
        created = s.create_client()
        r = s.post(f"{V1}/service-clients", bearer=s.admin_token(), json={
            "client_id": created["client"]["client_id"], "name": "dup", "description": "dup",
            "client_type": "confidential", "scope_ids": ["trade:read"]})
        self.assertFieldNamed(self.assertError(r, 409, "conflict"), "client_id")

    def test_lifetime_outside_300_to_86400_is_422_naming_the_field(self):
        s = self.server
        for lifetime in (299, 86401):
            r = s.post(f"{V1}/service-clients", bearer=s.admin_token(), json={
                "name": "bad lifetime", "description": "x", "client_type": "confidential",
                "access_token_lifetime": lifetime, "scope_ids": ["trade:read"]})
            self.assertFieldNamed(self.assertError(r, 422, "validation_error"), "access_token_lifetime")

    def test_unknown_scope_name_is_refused(self):
        s = self.server
        r = s.post(f"{V1}/service-clients", bearer=s.admin_token(), json={
            "name": "bad scope", "description": "x", "client_type": "confidential",
            "scope_ids": ["no:such:scope"]})
        self.assertIn(r.status, (400, 404, 422), r)
        self.assertError(r, r.status)

    def test_rotate_secret_old_stops_new_works(self):
        s = self.server
        created = s.create_client()
        cid, old = created["client"]["client_id"], created["client_secret"]
        r = s.post(f"{V1}/service-clients/{cid}/rotate-secret", bearer=s.admin_token())
        self.assertEqual(r.status, 200, r)
        new = r.body["client_secret"]
        self.assertIsInstance(new, str)
        self.assertNotEqual(new, old)
        self.assertError(s.service_token(cid, old, expect=None), 401, "invalid_client")
        s.service_token(cid, new)
        r = s.post(f"{V1}/auth/token", form={"grant_type": "client_credentials"}, auth_basic=(cid, new))
        self.assertEqual(r.status, 200, r)

    def test_rotate_secret_under_admin_prefix(self):
        s = self.server
        created = s.create_client()
        cid = created["client"]["client_id"]
        r = s.post(f"{V1}/admin/service-clients/{cid}/rotate-secret", bearer=s.admin_token())
        self.assertEqual(r.status, 200, r)
        s.service_token(cid, r.body["client_secret"])

    def test_put_scopes_replaces_what_the_client_may_request(self):
        s = self.server
        created = s.create_client(scopes=("trade:read",))
        cid, secret = created["client"]["client_id"], created["client_secret"]
        self.assertError(s.service_token(cid, secret, scope="market:data", expect=None), 400, "invalid_scope")
        r = s.put(f"{V1}/service-clients/{cid}/scopes", bearer=s.admin_token(),
                  json={"scope_ids": ["market:data", "account:balance"]})
        self.assertEqual(r.status, 200, r)
        got = r.body.get("client", r.body)
        self.assertEqual(names(got["scopes"]), {"market:data", "account:balance"})
        tok = s.service_token(cid, secret, scope="market:data account:balance")
        self.assertEqual(set(tok.body["scope"].split(" ")), {"market:data", "account:balance"})
        self.assertError(s.service_token(cid, secret, scope="trade:read", expect=None), 400, "invalid_scope")

    def test_update_applies_scopes_in_either_spelling_under_both_prefixes(self):
        s = self.server
        admin = s.admin_token()
        cid = s.create_client(scopes=("trade:read",))["client"]["client_id"]
        for prefix, key, scopes in ((f"{V1}/service-clients", "scopes", ["account:read"]),
                                    (f"{V1}/admin/service-clients", "scopes", ["market:data", "trade:read"]),
                                    (f"{V1}/service-clients", "scope_ids", ["trade:open"])):
            r = s.put(f"{prefix}/{cid}", bearer=admin, json={"description": "x", key: scopes})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(names(r.body.get("client", r.body)["scopes"]), set(scopes), f"{prefix} {key}")
        r = s.put(f"{V1}/service-clients/{cid}", bearer=admin, json={"scopes": ["no:such"]})
        self.assertFieldNamed(self.assertError(r, 422, "validation_error"), "scope_ids")

    def test_scope_ids_accept_numeric_ids(self):
        s = self.server
        r = s.get(f"{V1}/roles/scopes", bearer=s.admin_token())
        self.assertEqual(r.status, 200, r)
        scope = [x for x in find_list(r.body, "scopes", "items") if x["name"] == "market:data"][0]
        created = s.create_client(scopes=(scope["id"],))
        self.assertEqual(names(created["client"]["scopes"]), {"market:data"})

    def test_non_admin_cannot_manage_clients(self):
        s = self.server
        _, _, tokens = s.user_session()
        r = s.get(f"{V1}/service-clients", bearer=tokens["access_token"])
        body = self.assertError(r, 403, "insufficient_scope")
        self.assertIn("admin:clients", body["required_scopes"])
        self.assertIn("admin:clients", body["missing_scopes"])
        r = s.post(f"{V1}/admin/service-clients", bearer=tokens["access_token"],
                   json={"name": "x", "client_type": "confidential", "scope_ids": ["admin:system"]})
        self.assertError(r, 403, "insufficient_scope")

    def test_service_token_cannot_manage_clients_without_admin_scope(self):
        s = self.server
        created = s.create_client(scopes=("trade:read",))
        tok = s.service_token(created["client"]["client_id"], created["client_secret"]).body["access_token"]
        self.assertError(s.get(f"{V1}/service-clients", bearer=tok), 403, "insufficient_scope")


if __name__ == "__main__":
    unittest.main()
