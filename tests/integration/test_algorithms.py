# Every signing algorithm of the contract (HS256, RS256, ES256, EdDSA): tokens verify with a
# standard JWT library through the JWKS (HS256: through the shared secret, never published).
import unittest

import jwt

import harness
from harness import V1, ServerTestCase
from tokens import PRIVATE_JWK_MEMBERS, jwks, verify_access_token

KTY = {"RS256": ("RSA", None), "ES256": ("EC", "P-256"), "EdDSA": ("OKP", "Ed25519")}


class AlgorithmMixin:
    def test_user_token_verifies_through_the_jwks(self):
        s = self.server
        body = s.login(s.admin_username, s.admin_password)
        header, claims = verify_access_token(self, s, body["access_token"], "access")
        self.assertEqual(header["alg"], self.alg)
        self.assertEqual(claims["username"], "admin")
        self.assertEqual(s.get(f"{V1}/users/me", bearer=body["access_token"]).status, 200)

    def test_service_token_verifies_through_the_jwks(self):
        s = self.server
        created = s.create_client(scopes=("trade:read",))
        cid = created["client"]["client_id"]
        r = s.service_token(cid, created["client_secret"], scope="trade:read")
        _, claims = verify_access_token(self, s, r.body["access_token"], "service")
        self.assertEqual(claims["client_id"], cid)

    def test_jwks_matches_the_algorithm(self):
        keys = jwks(self.server)["keys"]
        if self.alg == "HS256":
            self.assertFalse([k for k in keys if k.get("kty") == "oct"], "no symmetric key in the JWKS")
            return
        kty, crv = KTY[self.alg]
        body = self.server.login(self.server.admin_username, self.server.admin_password)
        kid = harness_kid(body["access_token"])
        match = [k for k in keys if k.get("kid") == kid]
        self.assertEqual(len(match), 1, f"the signing kid {kid} must be published once: {keys}")
        self.assertEqual(match[0]["kty"], kty)
        if crv:
            self.assertEqual(match[0]["crv"], crv)
        for k in keys:
            for member in PRIVATE_JWK_MEMBERS:
                self.assertNotIn(member, k)


def harness_kid(token):
    return jwt.get_unverified_header(token)["kid"]


class HS256Test(AlgorithmMixin, ServerTestCase):
    alg = "HS256"
    server_env = {"JWT_ALGORITHM": "HS256"}


class RS256Test(AlgorithmMixin, ServerTestCase):
    alg = "RS256"
    server_env = {"JWT_ALGORITHM": "RS256"}


class ES256Test(AlgorithmMixin, ServerTestCase):
    alg = "ES256"
    server_env = {"JWT_ALGORITHM": "ES256"}


class EdDSATest(AlgorithmMixin, ServerTestCase):
    alg = "EdDSA"
    server_env = {"JWT_ALGORITHM": "EdDSA"}


class WeakSecretTest(unittest.TestCase):
    def test_hs256_secret_shorter_than_256_bits_is_refused_at_start_up(self):
        server = harness.AuthServer(env={"JWT_ALGORITHM": "HS256", "JWT_SECRET_KEY": "only-31-bytes-of-secret-here!!!"})
        self.assertEqual(len(server.env["JWT_SECRET_KEY"]), 31)
        try:
            with self.assertRaises(harness.HarnessError, msg="the server must refuse to start"):
                server.start()
            code = server.proc.returncode
            self.assertIsNotNone(code)
            self.assertGreater(code, 0, "the server itself refuses and exits non-zero (not killed)")
        finally:
            server.kill()
            server.stop()
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
