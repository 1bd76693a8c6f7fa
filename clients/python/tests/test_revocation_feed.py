"""permiso_client.revocations: a Python resource server follows permiso-auth's revocation feed,
as mt5-api does, so revoked tokens and ended sessions are refused within a second or two."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from conftest import V1, Clock, claims_of
from permiso_client import RetryPolicy, ServiceUnavailableError
from permiso_client.fastapi import PermisoVerifier
from permiso_client.revocations import RevocationFeed
from permiso_client.verifier import Failure, VerificationError
from test_fastapi_verifier import AUDIENCE, make_app

# The contract: a revocation reaches every mt5-api replica within 2 seconds. The feed is a long
# poll answered as soon as there is news, so the same holds here.
REVOCATION_DEADLINE_S = 2.0


@pytest.fixture
async def feed(sdk, new_client):
    f = RevocationFeed(sdk(new_client(scopes=("trade:read",), is_trusted=True)), wait=5)
    await f.start()
    yield f
    await f.stop()


@pytest.fixture
def verifier(stack, feed) -> PermisoVerifier:
    return PermisoVerifier(auth_base_url=stack.auth.base_url, issuer=stack.auth.issuer, audience=AUDIENCE,
                           revocations=feed)


def service_token(stack, new_client) -> str:
    creds = new_client(scopes=("trade:read",))
    return stack.auth.service_token(*creds).body["access_token"]


async def refused_within(verifier: PermisoVerifier, token: str, deadline_s: float) -> float:
    """Seconds until the verifier refuses `token` as revoked (polls; fails past the deadline)."""
    start = time.monotonic()
    while True:
        try:
            await verifier.verify(token)
        except VerificationError as e:
            assert e.failure is Failure.REVOKED, e
            return time.monotonic() - start
        assert time.monotonic() - start <= deadline_s, f"still accepted {deadline_s} s after the revocation"
        await asyncio.sleep(0.02)


async def test_a_revoked_service_token_is_refused_and_others_are_not(stack, new_client, verifier):
    revoked, kept = service_token(stack, new_client), service_token(stack, new_client)
    assert (await verifier.verify(revoked))["jti"] == claims_of(revoked)["jti"]
    r = stack.auth.post(f"{V1}/auth/revoke", bearer=revoked, json={"token": revoked})
    assert r.status == 200, r
    await refused_within(verifier, revoked, REVOCATION_DEADLINE_S)
    assert (await verifier.verify(kept))["sub"] == claims_of(kept)["sub"]


async def test_a_logout_ends_the_sessions_tokens(stack, verifier):
    body, password = stack.auth.register_user()
    tokens = stack.auth.login(body["username"], password)
    access = tokens["access_token"]
    assert (await verifier.verify(access))["sid"] == tokens["session_id"]
    r = stack.auth.post(f"{V1}/auth/logout", bearer=access)
    assert r.status in (200, 204), r
    await refused_within(verifier, access, REVOCATION_DEADLINE_S)


async def test_the_fastapi_dependency_answers_401_reason_revoked(stack, new_client, verifier):
    token = service_token(stack, new_client)
    transport = httpx.ASGITransport(app=make_app(verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://resource") as api:
        ok = await api.get("/trades", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200, ok.text
        assert stack.auth.post(f"{V1}/auth/revoke", bearer=token, json={"token": token}).status == 200
        await refused_within(verifier, token, REVOCATION_DEADLINE_S)
        refused = await api.get("/trades", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"
    assert refused.json()["reason"] == "revoked"


async def test_entries_are_forgotten_once_the_revoked_token_has_expired(stack, sdk, new_client):
    clock = Clock()
    feed = RevocationFeed(sdk(new_client(scopes=("trade:read",), is_trusted=True)), clock=clock,
                          keep_after_expiry=60)
    await feed.start()
    try:
        token = service_token(stack, new_client)
        assert stack.auth.post(f"{V1}/auth/revoke", bearer=token, json={"token": token}).status == 200
        jti = claims_of(token)["jti"]
        deadline = time.monotonic() + REVOCATION_DEADLINE_S
        while not feed.is_revoked(jti, None):
            assert time.monotonic() < deadline, "the revocation never arrived"
            await asyncio.sleep(0.02)
        clock.advance(claims_of(token)["exp"] - time.time() + 61)
        await feed.poll(wait=0)
        assert not feed.is_revoked(jti, None)
        assert jti not in [k for k in feed._tokens]  # gone from memory, not only ignored
    finally:
        await feed.stop()


async def test_a_feed_that_cannot_be_read_refuses_to_start(sdk):
    unreachable = sdk("feed-client", "secret", auth_base_url="http://127.0.0.1:9",
                      retry=RetryPolicy(max_attempts=1))
    feed = RevocationFeed(unreachable, start_timeout=5)
    with pytest.raises(ServiceUnavailableError):
        await feed.start()
