# Verifies permiso-auth's access tokens the way a third party would: discovery → jwks_uri →
# a standard JWT library (PyJWT) with the configured algorithm only.
import base64
import json
import time

import jwt

from harness import V1

# The private members a JWKS must never carry (RFC 7517/7518): RSA, EC/OKP and symmetric.
PRIVATE_JWK_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp", "iat", "nbf", "jti"]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(obj):
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def unverified_parts(token):
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


def discovery(server):
    r = server.get("/.well-known/oauth-authorization-server")
    assert r.status == 200, f"discovery: {r!r}"
    return r.body


def jwks(server):
    r = server.get("/.well-known/jwks.json")
    assert r.status == 200, f"jwks: {r!r}"
    return r.body


def verify_access_token(test, server, token, expected_type="access"):
    """Checks header and signature via the JWKS (or the shared secret for HS256) and the
    registered claims; returns (header, claims)."""
    alg = server.jwt_algorithm
    header = jwt.get_unverified_header(token)
    test.assertEqual(header.get("typ"), "at+jwt", f"RFC 9068 typ: {header}")
    test.assertEqual(header.get("alg"), alg, f"alg: {header}")
    test.assertIsInstance(header.get("kid"), str, f"kid: {header}")
    test.assertTrue(header["kid"], f"kid: {header}")
    for forbidden in ("jku", "x5u", "jwk"):
        test.assertNotIn(forbidden, header)
    if alg == "HS256":
        key = server.jwt_secret
    else:
        meta = discovery(server)
        client = jwt.PyJWKClient(meta["jwks_uri"], cache_jwk_set=False)
        key = client.get_signing_key_from_jwt(token).key
    _, unverified = unverified_parts(token)
    test.assertIn("aud", unverified)
    test.assertTrue(unverified["aud"], "aud must not be empty")
    claims = jwt.decode(token, key, algorithms=[alg], issuer=server.issuer,
                        audience=unverified["aud"], leeway=5,
                        options={"require": REQUIRED_CLAIMS})
    now = time.time()
    test.assertLessEqual(claims["iat"], now + 5)
    test.assertLessEqual(claims["nbf"], now + 5)
    test.assertGreater(claims["exp"], now)
    test.assertIsInstance(claims["jti"], str)
    test.assertTrue(claims["jti"])
    test.assertIsInstance(claims.get("client_id"), str, f"client_id claim: {claims}")
    test.assertIsInstance(claims.get("scope"), str, f"scope must be a space-separated string: {claims}")
    test.assertEqual(claims.get("type"), expected_type, f"type claim: {claims}")
    if expected_type == "access":
        test.assertIsInstance(claims.get("roles"), list, f"roles claim: {claims}")
        test.assertIsInstance(claims.get("username"), str, f"username claim: {claims}")
    return header, claims


def me(server, token):
    return server.get(f"{V1}/users/me", bearer=token)
