"""permiso_client.fastapi: a FastAPI resource server that verifies tokens from the real
permiso-auth through its JWKS (FastAPI's TestClient drives the app in process)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any, Dict

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from conftest import claims_of
from permiso_client.fastapi import PermisoVerifier, install_error_handler

import harness

AUDIENCE = "permiso"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: Dict[str, Any], claims: Dict[str, Any], sign=lambda signing_input: b"") -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


def make_app(verifier: PermisoVerifier, handler: bool = True) -> FastAPI:
    app = FastAPI()
    if handler:
        install_error_handler(app)

    @app.get("/trades")
    async def trades(claims: dict = Depends(verifier.require_scopes("trade:read"))) -> dict:
        return {"sub": claims["sub"], "scope": claims["scope"]}

    @app.post("/trades")
    async def open_trade(claims: dict = Depends(verifier.require_scopes("trade:read", "trade:open"))) -> dict:
        return {"opened_by": claims["sub"]}

    @app.get("/whoami")
    async def whoami(claims: dict = Depends(verifier.require_scopes())) -> dict:
        return claims

    return app


@pytest.fixture
def verifier(stack) -> PermisoVerifier:
    return PermisoVerifier(auth_base_url=stack.auth.base_url, issuer=stack.auth.issuer, audience=AUDIENCE)


@pytest.fixture
def api(verifier) -> TestClient:
    return TestClient(make_app(verifier))


@pytest.fixture
def trader(stack):
    created = stack.auth.create_client(scopes=("trade:read", "account:read"), client_id=harness.uniq("fastapi-"))
    client_id, secret = created["client"]["client_id"], created["client_secret"]
    return client_id, stack.auth.service_token(client_id, secret).body["access_token"]


def bearer(token: str) -> Dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_invalid_token(r, reason: str) -> None:
    assert r.status_code == 401, r.text
    body = r.json()
    assert body["error"] == "invalid_token" and body["reason"] == reason, body
    assert body["error_description"] and body["request_id"]
    assert r.headers["www-authenticate"].startswith("Bearer ")
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


def test_a_valid_token_yields_its_claims(api, trader):
    client_id, token = trader
    r = api.get("/trades", headers=bearer(token))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["sub"] == client_id and sorted(body["scope"].split()) == ["account:read", "trade:read"]


def test_a_user_token_works_too(stack, api):
    _, _, tokens = stack.auth.user_session()
    r = api.get("/whoami", headers=bearer(tokens["access_token"]))
    assert r.status_code == 200, r.text
    assert r.json()["username"] == claims_of(tokens["access_token"])["username"]


def test_a_missing_scope_is_403_with_the_missing_scopes(api, trader):
    r = api.post("/trades", headers=bearer(trader[1]))
    assert r.status_code == 403
    body = r.json()
    assert body["error"] == "insufficient_scope"
    assert body["required_scopes"] == ["trade:read", "trade:open"] and body["missing_scopes"] == ["trade:open"]
    assert "trade:open" in body["error_description"] and body["request_id"]
    assert 'error="insufficient_scope"' in r.headers["www-authenticate"]


def test_no_token_or_a_garbage_one_is_401(api):
    assert_invalid_token(api.get("/trades"), "missing_token")
    assert_invalid_token(api.get("/trades", headers={"Authorization": "Basic dXNlcjpwdw=="}), "missing_token")
    assert_invalid_token(api.get("/trades", headers=bearer("garbage")), "malformed")
    assert_invalid_token(api.get("/trades", headers=bearer("a.b.c")), "malformed")


def test_alg_none_is_refused(api, trader):
    header = jwt.get_unverified_header(trader[1])
    r = api.get("/trades", headers=bearer(forge({**header, "alg": "none"}, claims_of(trader[1]))))
    assert_invalid_token(r, "unsupported_algorithm")
    with pytest.raises(ValueError):
        PermisoVerifier(auth_base_url="http://x", issuer="i", audience="a", algorithms=["ES256", "none"])


def test_an_hmac_token_keyed_with_the_public_key_is_refused(api, stack, trader):
    # The classic algorithm confusion: HS256 "signed" with the server's public key.
    header = jwt.get_unverified_header(trader[1])
    jwks = stack.auth.get("/.well-known/jwks.json").body
    public = jwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == header["kid"])).key
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    token = forge({**header, "alg": "HS256"}, claims_of(trader[1]), lambda m: hmac.new(pem, m, hashlib.sha256).digest())
    assert_invalid_token(api.get("/trades", headers=bearer(token)), "unsupported_algorithm")
    with pytest.raises(ValueError):  # and HS* is never allowed without an explicit secret
        PermisoVerifier(auth_base_url="http://x", issuer="i", audience="a", algorithms=["ES256", "HS256"])


def test_a_tampered_token_is_a_bad_signature(api, trader):
    head, payload, signature = trader[1].split(".")
    claims = claims_of(trader[1])
    claims["scope"] = "trade:read trade:open admin:system"
    token = f"{head}.{b64(json.dumps(claims).encode())}.{signature}"
    assert_invalid_token(api.post("/trades", headers=bearer(token)), "bad_signature")


def test_wrong_issuer_or_audience_is_refused(stack, trader):
    other_issuer = PermisoVerifier(auth_base_url=stack.auth.base_url, issuer="https://elsewhere", audience=AUDIENCE)
    assert_invalid_token(TestClient(make_app(other_issuer)).get("/trades", headers=bearer(trader[1])), "wrong_issuer")
    other_audience = PermisoVerifier(auth_base_url=stack.auth.base_url, issuer=stack.auth.issuer, audience="billing")
    assert_invalid_token(TestClient(make_app(other_audience)).get("/trades", headers=bearer(trader[1])),
                         "wrong_audience")


def test_unknown_keys_refetch_the_jwks_at_most_once_per_interval(api, verifier, trader):
    assert api.get("/trades", headers=bearer(trader[1])).status_code == 200
    assert verifier.jwks.fetches == 1
    stranger = ec.generate_private_key(ec.SECP256R1())
    for _ in range(5):
        token = jwt.encode(claims_of(trader[1]), stranger, algorithm="ES256",
                           headers={"kid": secrets.token_hex(8), "typ": "at+jwt"})
        assert_invalid_token(api.get("/trades", headers=bearer(token)), "unknown_key")
    assert verifier.jwks.fetches == 1  # forged kids are not a way to hammer permiso-auth
    assert api.get("/trades", headers=bearer(trader[1])).status_code == 200


def test_unreachable_keys_are_503_not_401(trader):
    down = PermisoVerifier(jwks_url=f"http://127.0.0.1:{harness.free_port()}/.well-known/jwks.json",
                           issuer="i", audience=AUDIENCE)
    r = TestClient(make_app(down)).get("/trades", headers=bearer(trader[1]))
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    assert r.json()["error"] == "temporarily_unavailable"


def test_without_the_error_handler_fastapi_wraps_the_body_in_detail(verifier):
    r = TestClient(make_app(verifier, handler=False)).get("/trades")
    assert r.status_code == 401
    assert r.json()["detail"]["error"] == "invalid_token"
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


def test_an_explicit_hmac_secret_verifies_hs256_and_checks_expiry():
    secret = secrets.token_bytes(32)
    verifier = PermisoVerifier(issuer="https://auth", audience=AUDIENCE, algorithms=["HS256"], hs_secret=secret,
                               leeway=0)
    api = TestClient(make_app(verifier))
    now = int(time.time())
    claims = {"iss": "https://auth", "aud": AUDIENCE, "sub": "svc", "iat": now, "exp": now + 60,
              "scope": "trade:read", "type": "service"}
    good = jwt.encode(claims, secret, algorithm="HS256", headers={"typ": "at+jwt"})
    assert api.get("/trades", headers=bearer(good)).status_code == 200
    expired = jwt.encode({**claims, "iat": now - 120, "exp": now - 60}, secret, algorithm="HS256",
                         headers={"typ": "at+jwt"})
    assert_invalid_token(api.get("/trades", headers=bearer(expired)), "expired")
    not_access = jwt.encode(claims, secret, algorithm="HS256", headers={"typ": "JWT"})
    assert_invalid_token(api.get("/trades", headers=bearer(not_access)), "wrong_type")
    with pytest.raises(ValueError):
        PermisoVerifier(issuer="i", audience="a", algorithms=["HS256"], hs_secret=b"short")
