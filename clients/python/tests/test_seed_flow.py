"""The seed guide's service-integration tests (part 2, tests/integration/
test_service_integration.py), written with this SDK against the real servers."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from conftest import V1
from permiso_client import InsufficientScopeError, PermisoAuthClient, TokenRevokedError

# The contract: a revocation reaches every mt5-api replica within 2 s. The poll allows more so
# that a slow sanitizer build fails on the assertion below, not on the deadline.
REVOCATION_POLL_S = 8.0


async def test_complete_authentication_flow(stack, auth_url, mt5_url):
    # Step 1: register a service client with the admin's credentials (the seed's body).
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{auth_url}{V1}/auth/token",
                            data={"username": stack.auth.admin_username, "password": stack.auth.admin_password})
        assert r.status_code == 200, r.text
        admin_token = r.json()["access_token"]
        r = await http.post(f"{auth_url}{V1}/admin/service-clients",
                            headers={"Authorization": f"Bearer {admin_token}"},
                            json={"client_id": f"test-integration-client-{time.monotonic_ns()}",
                                  "name": "Integration Test Client", "description": "Client for integration testing",
                                  "client_type": "confidential", "is_trusted": True, "access_token_lifetime": 3600,
                                  "scope_ids": ["trade:read", "trade:open", "account:read"]})
        assert r.status_code == 201, r.text
        created = r.json()

    # Step 2: a service token from the client credentials.
    async with PermisoAuthClient(auth_base_url=auth_url, client_id=created["client"]["client_id"],
                                 client_secret=created["client_secret"]) as auth_client:
        service_token = await auth_client.get_service_token(scopes=["trade:read", "account:read"])
        assert service_token is not None
        assert len(service_token) > 50  # JWTs are long

        # Step 3: the token opens the MT5 API.
        response = await auth_client.make_authenticated_request("GET", f"{mt5_url}{V1}/trades", scopes=["trade:read"])
        assert response.status_code == 200
        assert isinstance(response.json(), list)

        # Step 4: scope enforcement: opening a trade with a token that lacks trade:open.
        with pytest.raises(InsufficientScopeError) as caught:
            await auth_client.make_authenticated_request(
                "POST", f"{mt5_url}{V1}/trades", scopes=["trade:read"],
                json={"symbol": "EURUSD", "volume": 0.1, "trade_type": "buy"})
        assert caught.value.status == 403
        assert caught.value.missing_scopes == ["trade:open"]


async def test_token_caching_and_refresh(sdk, new_client):
    auth_client = sdk(new_client())
    token1 = await auth_client.get_service_token()
    token2 = await auth_client.get_service_token()
    assert token1 == token2  # served from the cache
    token3 = await auth_client.get_service_token(force_refresh=True)
    assert token3 != token1
    assert await auth_client.get_service_token() == token3  # the refreshed token is the cached one
    assert auth_client.token_requests == 2


async def test_token_revocation(sdk, new_client, auth_url, mt5_url):
    auth_client = sdk(new_client())
    service_token = await auth_client.get_service_token()
    response = await auth_client.make_authenticated_request("GET", f"{mt5_url}{V1}/trades")
    assert response.status_code == 200

    async with httpx.AsyncClient() as http:
        revoked = await http.post(f"{auth_url}{V1}/auth/revoke", headers={"Authorization": f"Bearer {service_token}"},
                                  json={"token": service_token})
        assert revoked.status_code == 200
    revoked_at = time.monotonic()

    # mt5-api learns revocations through a feed: until it has, the token still works.
    deadline = revoked_at + REVOCATION_POLL_S
    error = None
    while error is None and time.monotonic() < deadline:
        try:
            r = await auth_client.make_authenticated_request("GET", f"{mt5_url}{V1}/trades")
            assert r.status_code == 200, r.text
            await asyncio.sleep(0.02)
        except TokenRevokedError as e:
            error = e
    assert error is not None, f"mt5-api still accepted the revoked token after {REVOCATION_POLL_S} s"
    assert time.monotonic() - revoked_at <= REVOCATION_POLL_S
    assert error.status == 401 and error.error == "invalid_token"
    assert '"reason":"revoked"' in error.body.replace(" ", "")
    assert auth_client.token_requests == 1  # refused without a retry

    # The next call gets a fresh token, and it works.
    response = await auth_client.make_authenticated_request("GET", f"{mt5_url}{V1}/trades")
    assert response.status_code == 200
    fresh = await auth_client.get_service_token()
    assert fresh != service_token
    assert auth_client.token_requests == 2
