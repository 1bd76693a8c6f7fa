# Token verification at the gateway (RFC 6750 answers) and the scope of every route: missing,
# malformed, forged, expired, wrong issuer/audience/typ tokens are 401 invalid_token; a valid
# token without the route's scope is 403 insufficient_scope with required/missing scopes.
import base64
import json
import os
import time
import unittest
import uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import gateway_harness as gh
from gateway_harness import V1


def tearDownModule():
    gh.stop_module_stack(__name__)


# Every route of the contract's mt5-api table with the scope it needs (a request that passes
# the scope check may still fail later: only the 401/403 answers are asserted here).
ROUTES = [
    ("GET", f"{V1}/trades", None, "trade:read"),
    ("POST", f"{V1}/trades", {"symbol": "EURUSD", "volume": 0.01, "trade_type": "buy"}, "trade:open"),
    ("GET", f"{V1}/trades/1", None, "trade:read"),
    ("PATCH", f"{V1}/trades/1", {"stop_loss": 1.0}, "trade:modify"),
    ("DELETE", f"{V1}/trades/1", None, "trade:close"),
    ("GET", f"{V1}/account", None, "account:read"),
    ("GET", f"{V1}/account/balance", None, "account:balance"),
    ("GET", f"{V1}/market/EURUSD", None, "market:data"),
    ("GET", f"{V1}/symbols", None, "market:data"),
    ("GET", f"{V1}/market/EURUSD/rates?timeframe=M1&count=5", None, "market:data"),
    ("GET", f"{V1}/orders", None, "trade:read"),
    ("GET", f"{V1}/history/deals", None, "trade:read"),
    ("GET", f"{V1}/admin/stats", None, "admin:system"),
]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class ScopeTest(gh.GatewayTestCase):
    def test_each_route_refuses_a_token_without_its_scope(self):
        for method, path, body, scope in ROUTES:
            others = tuple(s for s in gh.TRADING_SCOPES + ("admin:system",) if s != scope)
            t = self.stack.trader(scopes=others, trusted=True)
            r = t.request(method, path, json=body)
            self.assertInsufficientScope(r, scope, f"{method} {path}")

    def test_each_route_accepts_a_token_with_only_its_scope(self):
        for method, path, body, scope in ROUTES:
            t = self.stack.trader(scopes=(scope,), trusted=True)
            r = t.request(method, path, json=body)
            self.assertNotIn(r.status, (401, 403), f"{method} {path} with {scope}: {r!r}")

    def test_no_token_is_401_on_every_route(self):
        for method, path, body, _ in ROUTES:
            r = self.mt5.request(method, path, json=body)
            self.assertError(r, 401, None, f"{method} {path}")
            self.assertTrue(r.headers.get("WWW-Authenticate", "").startswith("Bearer"), f"{method} {path}: {r.headers}")


class TokenVerificationTest(gh.GatewayTestCase):
    """Tokens signed with permiso-auth's own ES256 key (read from its data dir) but with one
    claim wrong, and tokens from elsewhere."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.trader = cls.stack.trader()
        cls.good = cls.trader.token
        cls.header = jwt.get_unverified_header(cls.good)
        cls.claims = jwt.decode(cls.good, options={"verify_signature": False})
        path = os.path.join(cls.stack.auth.data_dir, "keys", f"key-{cls.header['kid']}.pem")
        with open(path, "rb") as f:
            cls.key = serialization.load_pem_private_key(f.read(), password=None)

    def sign(self, headers=None, key=None, **claims):
        body = dict(self.claims)
        body["jti"] = str(uuid.uuid4())
        for k, v in claims.items():
            if v is None:
                body.pop(k, None)
            else:
                body[k] = v
        h = {"typ": "at+jwt", "kid": self.header["kid"]}
        h.update(headers or {})
        return jwt.encode(body, key or self.key, algorithm="ES256", headers=h)

    def assertRefused(self, token, what):
        r = self.mt5.get(f"{V1}/trades", bearer=token)
        self.assertInvalidToken(r, what)

    def test_the_real_token_and_a_resigned_copy_work(self):
        self.assertEqual(self.mt5.get(f"{V1}/trades", bearer=self.good).status, 200)
        r = self.mt5.get(f"{V1}/trades", bearer=self.sign())
        self.assertEqual(r.status, 200, f"the harness signs like permiso-auth: {r!r}")

    def test_expired(self):
        now = int(time.time())
        self.assertRefused(self.sign(exp=now - 600, iat=now - 4200, nbf=now - 4200), "expired")

    def test_not_yet_valid(self):
        now = int(time.time())
        self.assertRefused(self.sign(nbf=now + 3600, iat=now), "nbf in the future")

    def test_wrong_issuer_audience_type(self):
        self.assertRefused(self.sign(iss="https://evil.example"), "issuer")
        self.assertRefused(self.sign(aud="someone-else"), "audience")
        self.assertRefused(self.sign(headers={"typ": "JWT"}), "typ must be at+jwt")

    def test_missing_required_claims(self):
        for claim in ("exp", "iss", "aud"):
            self.assertRefused(self.sign(**{claim: None}), f"without {claim}")

    def test_foreign_key_with_the_real_kid(self):
        other = ec.generate_private_key(ec.SECP256R1())
        self.assertRefused(self.sign(key=other), "signed by another key")

    def test_unknown_kid(self):
        other = ec.generate_private_key(ec.SECP256R1())
        self.assertRefused(self.sign(key=other, headers={"kid": "not-a-published-kid"}), "unknown kid")

    def test_alg_none_and_hs256_confusion(self):
        h = b64url(json.dumps({"alg": "none", "typ": "at+jwt", "kid": self.header["kid"]}).encode())
        p = b64url(json.dumps(self.claims).encode())
        self.assertRefused(f"{h}.{p}.", "alg none")
        pub = self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        import hashlib
        import hmac
        h = b64url(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": self.header["kid"]}).encode())
        sig = b64url(hmac.new(pub, f"{h}.{p}".encode(), hashlib.sha256).digest())
        self.assertRefused(f"{h}.{p}.{sig}", "HS256 keyed with the public key")

    def test_embedded_and_remote_keys_are_never_trusted(self):
        other = ec.generate_private_key(ec.SECP256R1())
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(other.public_key()))
        self.assertRefused(self.sign(key=other, headers={"jwk": jwk}), "embedded jwk")
        self.assertRefused(self.sign(key=other, headers={"jku": "http://127.0.0.1:1/jwks.json"}), "jku")
        self.assertRefused(self.sign(headers={"crit": ["exp"]}), "crit")

    def test_garbage(self):
        for token in ("abc", "a.b.c", "Bearer", self.good[:-5] + "AAAAA", self.good + "x"):
            self.assertRefused(token, repr(token[:20]))
        r = self.mt5.get(f"{V1}/trades", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        self.assertError(r, 401)


class HS256ProfileTest(gh.GatewayTestCase):
    """The seed's development profile: HS256 with a shared JWT_SECRET_KEY."""

    stack_kwargs = {"alg": "HS256"}

    def test_hs256_tokens_work_and_forged_ones_do_not(self):
        t = self.stack.trader()
        self.assertEqual(t.get(f"{V1}/trades").status, 200)
        claims = jwt.decode(t.token, options={"verify_signature": False})
        header = jwt.get_unverified_header(t.token)
        forged = jwt.encode(claims, "x" * 64, algorithm="HS256", headers={"typ": "at+jwt", "kid": header["kid"]})
        self.assertInvalidToken(self.mt5.get(f"{V1}/trades", bearer=forged))


if __name__ == "__main__":
    unittest.main()
