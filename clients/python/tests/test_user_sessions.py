"""User mode: password-grant login, renewal through the rotating refresh token (one request
however many tasks ask, never a replay), and requests with the user's token."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import httpx
import pytest

from conftest import V1, Clock, claims_of
from permiso_client import AuthenticationError, NotLoggedInError, TokenRevokedError

REVOCATION_POLL_S = 8.0


@pytest.fixture
def user(stack):
    body, password = stack.auth.register_user()
    return body["username"], password


async def test_login_keeps_a_session_and_requests_carry_the_users_token(sdk, user, mt5_url):
    client = sdk()
    session = await client.login(*user)
    assert session.refresh_token and session.session_id
    assert claims_of(session.access_token)["username"] == user[0]
    assert await client.user_token() == session.access_token
    r = await client.make_authenticated_request("GET", f"{mt5_url}{V1}/trades")
    assert r.status_code == 200
    assert r.request.headers["authorization"] == f"Bearer {session.access_token}"
    assert client.token_requests == 1


async def test_login_can_narrow_the_scopes(sdk, user):
    session = await sdk().login(*user, scopes=["trade:read"])
    assert session.scope == "trade:read"


async def test_a_wrong_password_is_an_authentication_error(sdk, user):
    with pytest.raises(AuthenticationError) as caught:
        await sdk().login(user[0], "Wrong-passw0rd!")
    assert (caught.value.status, caught.value.error) == (401, "invalid_grant")


async def test_without_login_there_is_no_user_token(sdk, mt5_url):
    client = sdk()
    with pytest.raises(NotLoggedInError):
        await client.user_token()
    with pytest.raises(NotLoggedInError):
        await client.make_authenticated_request("GET", f"{mt5_url}{V1}/trades")


async def test_refresh_rotates_the_refresh_token(sdk, user, auth_url):
    client = sdk()
    first = await client.login(*user)
    access = await client.user_token(force_refresh=True)
    second = client.session
    assert access != first.access_token
    assert second.refresh_token != first.refresh_token and second.session_id == first.session_id

    # Someone replays the rotated refresh token: reuse detection ends the whole family, and
    # the client's next renewal says to log in again.
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{auth_url}{V1}/auth/token",
                            data={"grant_type": "refresh_token", "refresh_token": first.refresh_token})
        assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")
    with pytest.raises(AuthenticationError) as caught:
        await client.user_token(force_refresh=True)
    assert "log in again" in str(caught.value)


async def test_concurrent_renewals_send_one_refresh_and_never_replay_it(sdk, user):
    client = sdk()
    await client.login(*user)
    tokens = await asyncio.gather(*(client.user_token(force_refresh=True) for _ in range(10)))
    assert len(set(tokens)) == 1
    assert client.token_requests == 2  # the login and one refresh
    # Had the refresh token been sent twice, reuse detection would have ended the session.
    assert await client.user_token(force_refresh=True) not in tokens
    assert client.token_requests == 3


async def test_the_user_token_is_renewed_before_it_expires(sdk, user):
    clock = Clock()
    client = sdk(clock=clock, renew_margin=60)
    session = await client.login(*user)
    life = session.expires_at - clock.now
    clock.advance(life - 61)
    assert await client.user_token() == session.access_token
    clock.advance(2)
    assert await client.user_token() != session.access_token
    assert client.token_requests == 2


async def test_a_refused_user_token_is_renewed_once_and_the_call_retried(sdk, user, mt5_url):
    client = sdk()
    session = await client.login(*user)
    client.set_session(dataclasses.replace(session, access_token="garbage.not.a-jwt"))
    r = await client.make_authenticated_request("GET", f"{mt5_url}{V1}/trades")
    assert r.status_code == 200
    assert client.token_requests == 2  # the login and one refresh
    assert client.session.access_token != "garbage.not.a-jwt"


async def test_a_session_ended_elsewhere_is_a_revoked_token(sdk, user, auth_url, mt5_url):
    client = sdk()
    session = await client.login(*user)
    async with httpx.AsyncClient() as http:  # the user signs out on another device... of this session
        r = await http.post(f"{auth_url}{V1}/auth/logout", headers={"Authorization": f"Bearer {session.access_token}"})
        assert r.status_code in (200, 204)
    deadline = time.monotonic() + REVOCATION_POLL_S
    error = None
    while error is None and time.monotonic() < deadline:
        try:
            await client.make_authenticated_request("GET", f"{mt5_url}{V1}/trades")
            await asyncio.sleep(0.02)
        except TokenRevokedError as e:
            error = e
    assert error is not None, "mt5-api never refused the ended session's token"
    # The session's refresh token died with it: the next call says to log in again.
    with pytest.raises(AuthenticationError) as caught:
        await client.make_authenticated_request("GET", f"{mt5_url}{V1}/trades")
    assert not isinstance(caught.value, TokenRevokedError)
    assert "log in again" in str(caught.value)


async def test_logout_ends_the_session(sdk, user, auth_url):
    client = sdk()
    session = await client.login(*user)
    await client.logout()
    assert client.session is None
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{auth_url}{V1}/auth/token",
                            data={"grant_type": "refresh_token", "refresh_token": session.refresh_token})
        assert r.status_code == 400
