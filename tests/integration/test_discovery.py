# RFC 8414 authorization-server metadata and the JWKS (contract: /.well-known/* at the root).
import unittest

import harness
from harness import V1, ServerTestCase
from tokens import PRIVATE_JWK_MEMBERS, discovery, jwks


def setUpModule():
    harness.start_module_server(__name__)


def tearDownModule():
    harness.stop_module_server(__name__)


class DiscoveryTest(ServerTestCase):
    def test_metadata_has_rfc8414_fields_pointing_at_this_server(self):
        meta = discovery(self.server)
        base = self.server.base_url
        self.assertEqual(meta["issuer"], self.server.issuer)
        self.assertEqual(meta["token_endpoint"], f"{base}{V1}/auth/token")
        self.assertEqual(meta["jwks_uri"], f"{base}/.well-known/jwks.json")
        self.assertEqual(meta["revocation_endpoint"], f"{base}{V1}/auth/revoke")
        self.assertEqual(meta["introspection_endpoint"], f"{base}{V1}/auth/introspect")

    def test_metadata_lists_grants_client_auth_methods_and_scopes(self):
        meta = discovery(self.server)
        for grant in ("password", "client_credentials", "refresh_token"):
            self.assertIn(grant, meta["grant_types_supported"])
        for method in ("client_secret_basic", "client_secret_post"):
            self.assertIn(method, meta["token_endpoint_auth_methods_supported"])
        for scope in ("trade:read", "trade:open", "trade:close", "trade:modify", "account:read",
                      "account:balance", "market:data", "admin:users", "admin:clients",
                      "admin:system", "admin:audit"):
            self.assertIn(scope, meta["scopes_supported"])

    def test_no_signing_alg_values_without_jwt_client_auth_methods(self):
        """RFC 8414 §2: token_endpoint_auth_signing_alg_values_supported concerns only
        private_key_jwt and client_secret_jwt; without them it is left out."""
        meta = discovery(self.server)
        jwt_methods = {"private_key_jwt", "client_secret_jwt"} & set(meta["token_endpoint_auth_methods_supported"])
        if not jwt_methods:
            self.assertNotIn("token_endpoint_auth_signing_alg_values_supported", meta, meta)
        else:
            self.assertNotIn("none", meta["token_endpoint_auth_signing_alg_values_supported"], meta)

    def test_metadata_is_not_under_api_v1_prefix_only(self):
        r = self.server.get("/.well-known/oauth-authorization-server")
        self.assertEqual(r.status, 200)
        self.assertIn("application/json", r.headers.get("Content-Type", ""))

    def test_jwks_under_hs256_publishes_no_secret(self):
        keys = jwks(self.server)["keys"]
        self.assertIsInstance(keys, list)
        for k in keys:
            self.assertNotEqual(k.get("kty"), "oct", f"a symmetric key must never be published: {k}")
            for member in PRIVATE_JWK_MEMBERS:
                self.assertNotIn(member, k)
        self.assertNotIn(self.server.jwt_secret, jwks(self.server).__repr__())


class AsymmetricJwksTest(ServerTestCase):
    server_env = {"JWT_ALGORITHM": "RS256"}

    def test_jwks_publishes_public_signing_keys_only(self):
        keys = jwks(self.server)["keys"]
        self.assertGreaterEqual(len(keys), 1)
        kids = [k.get("kid") for k in keys]
        self.assertEqual(len(kids), len(set(kids)), "kids must be unique")
        for k in keys:
            self.assertEqual(k["kty"], "RSA")
            self.assertTrue(k["kid"])
            self.assertIn("n", k)
            self.assertIn("e", k)
            if "use" in k:
                self.assertEqual(k["use"], "sig")
            if "alg" in k:
                self.assertEqual(k["alg"], "RS256")
            for member in PRIVATE_JWK_MEMBERS:
                self.assertNotIn(member, k, f"private key material published: {member}")

    def test_jwks_is_cacheable_json(self):
        r = self.server.get("/.well-known/jwks.json")
        self.assertEqual(r.status, 200)
        self.assertIn("json", r.headers.get("Content-Type", ""))


if __name__ == "__main__":
    unittest.main()
