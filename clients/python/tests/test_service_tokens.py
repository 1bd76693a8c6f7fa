"""Client-credentials tokens: cached per scope set, renewed ahead of expiry, one request however
many tasks ask, and token-endpoint failures as typed errors. Against the real permiso-auth
(the scripted server only for a 5xx and a malformed answer)."""

from __future__ import annotations

import asyncio
import json

import pytest

from conftest import V1, Clock, Sleeps, claims_of, issued_tokens, wait_for
from permiso_client import (
    AuthenticationError,
    ForbiddenError,
    InvalidScopeError,
    PermisoAuthClient,
    ProtocolError,
    RetryPolicy,
    ServiceUnavailableError,
)

import harness


async def test_concurrent_callers_for_one_scope_set_share_one_token_request(stack, sdk, new_client):
    creds = new_client()
    client = sdk(creds)
    orders = [["trade:read", "account:read"], ["account:read", "trade:read"], ["trade:read", "account:read", "trade:read"]]
    tokens = await asyncio.gather(*(client.get_service_token(orders[i % 3]) for i in range(30)))
    assert len(set(tokens)) == 1
    assert client.token_requests == 1
    # The server's own count agrees: one token issued to this client.
    assert wait_for(lambda: issued_tokens(stack, creds.client_id) >= 1, 5)
    assert issued_tokens(stack, creds.client_id) == 1


async def test_concurrent_callers_for_different_scope_sets_get_one_request_each(sdk, new_client):
    client = sdk(new_client())
    sets = [["trade:read"], ["account:read"], ["trade:read", "account:read"], None]
    tokens = await asyncio.gather(*(client.get_service_token(sets[i % 4]) for i in range(40)))
    assert len(set(tokens)) == 4
    assert client.token_requests == 4


async def test_force_refresh_joins_a_request_in_flight(sdk, new_client):
    client = sdk(new_client())
    a, b, c = await asyncio.gather(client.get_service_token(), client.get_service_token(force_refresh=True),
                                   client.get_service_token(force_refresh=True))
    assert a == b == c
    assert client.token_requests == 1
    d = await client.get_service_token(force_refresh=True)
    assert d != a
    assert client.token_requests == 2


async def test_tokens_are_cached_per_scope_set(sdk, new_client):
    client = sdk(new_client())
    both = await client.get_service_token(["trade:read", "account:read"])
    assert await client.get_service_token(["account:read", "trade:read", "account:read"]) == both
    assert await client.get_service_token("account:read trade:read") == both
    assert sorted(claims_of(both)["scope"].split()) == ["account:read", "trade:read"]
    assert client.token_requests == 1

    narrow = await client.get_service_token(["trade:read"])
    assert narrow != both
    assert claims_of(narrow)["scope"] == "trade:read"

    everything = await client.get_service_token()
    assert await client.get_service_token([]) == everything
    assert sorted(claims_of(everything)["scope"].split()) == ["account:read", "trade:open", "trade:read"]
    assert client.token_requests == 3
    assert PermisoAuthClient.scope_key(["trade:read", "account:read", "trade:read"]) == "account:read trade:read"


async def test_a_token_is_renewed_renew_margin_before_it_expires(sdk, new_client):
    clock = Clock()
    client = sdk(new_client(access_token_lifetime=300), renew_margin=60, clock=clock)
    first = await client.get_service_token()
    clock.advance(239)
    assert await client.get_service_token() == first
    clock.advance(2)  # 241 s: within the last 60 s of a 300 s token
    second = await client.get_service_token()
    assert second != first
    assert client.token_requests == 2


async def test_a_margin_longer_than_half_the_lifetime_renews_at_half(sdk, new_client):
    clock = Clock()
    client = sdk(new_client(access_token_lifetime=300), renew_margin=1000, clock=clock)
    first = await client.get_service_token()
    clock.advance(149)
    assert await client.get_service_token() == first
    clock.advance(2)
    assert await client.get_service_token() != first
    assert client.token_requests == 2


@pytest.mark.parametrize("client_auth", ["client_secret_basic", "client_secret_post"])
async def test_both_client_authentication_methods_work(sdk, new_client, client_auth):
    creds = new_client()
    token = await sdk(creds, client_auth=client_auth).get_service_token()
    assert claims_of(token)["client_id"] == creds.client_id


async def test_a_wrong_secret_is_an_authentication_error_that_says_what_to_check(sdk, new_client):
    creds = new_client()
    client = sdk(creds.client_id, "not-the-secret")
    with pytest.raises(AuthenticationError) as caught:
        await client.get_service_token()
    e = caught.value
    assert (e.status, e.error) == (401, "invalid_client")
    assert "client_secret" in str(e) and creds.client_id in str(e)
    assert json.loads(e.body)["error"] == "invalid_client"
    assert client.token_requests == 1  # a 401 is not retried


async def test_a_scope_the_client_lacks_is_invalid_scope_error(sdk, new_client):
    client = sdk(new_client(scopes=("trade:read",)))
    with pytest.raises(InvalidScopeError) as caught:
        await client.get_service_token(["trade:read", "admin:system"])
    assert (caught.value.status, caught.value.error) == (400, "invalid_scope")
    assert "scopes the client holds" in str(caught.value)


async def test_a_disabled_client_is_forbidden(stack, sdk, new_client):
    creds = new_client()
    r = stack.auth.put(f"{V1}/service-clients/{creds.client_id}", json={"is_active": False},
                       bearer=stack.auth.admin_token())
    assert r.status == 200, r
    with pytest.raises(ForbiddenError) as caught:
        await sdk(creds).get_service_token()
    assert (caught.value.status, caught.value.error) == (403, "client_disabled")
    assert "enable" in str(caught.value)


async def test_an_unreachable_server_is_retried_with_backoff_then_unavailable(sdk):
    sleeps = Sleeps()
    port = harness.free_port()  # nothing listens there
    client = sdk("svc", "secret", auth_base_url=f"http://127.0.0.1:{port}", sleep=sleeps,
                 retry=RetryPolicy(max_attempts=3, initial_backoff=0.2, max_backoff=1.0))
    with pytest.raises(ServiceUnavailableError) as caught:
        await client.get_service_token()
    assert caught.value.status is None
    assert "is the server running" in str(caught.value)
    # Two waits between three attempts, each with equal jitter: [d/2, d] of 0.2 then 0.4.
    assert len(sleeps.waits) == 2
    assert 0.1 <= sleeps.waits[0] <= 0.2 and 0.2 <= sleeps.waits[1] <= 0.4


async def test_token_endpoint_5xx_is_retried_with_jittered_backoff(sdk, scripted):
    sleeps = Sleeps()
    scripted.answer("/api/v1/auth/token", (503, {}, '{"error":"service_unavailable"}'), (502, {}, "{}"))
    client = sdk("svc", "secret", auth_base_url=scripted.url, sleep=sleeps,
                 retry=RetryPolicy(max_attempts=4, initial_backoff=0.1, max_backoff=0.15))
    token = await client.get_service_token(["b", "a"])
    assert token.startswith("fake-token-")
    seen = scripted.seen("/api/v1/auth/token")
    assert len(seen) == 3
    assert seen[-1].body == b"grant_type=client_credentials&scope=a+b"
    assert seen[-1].headers["authorization"].startswith("Basic ")
    assert 0.05 <= sleeps.waits[0] <= 0.1 and 0.075 <= sleeps.waits[1] <= 0.15  # capped at max_backoff
    assert client.token_requests == 1  # one logical request, three attempts


async def test_token_endpoint_5xx_after_every_attempt_is_unavailable(sdk, scripted):
    scripted.answer("/api/v1/auth/token", *[(500, {}, '{"error":"boom","error_description":"down"}')] * 3)
    client = sdk("svc", "secret", auth_base_url=scripted.url, sleep=Sleeps(), retry=RetryPolicy(max_attempts=3))
    with pytest.raises(ServiceUnavailableError) as caught:
        await client.get_service_token()
    assert (caught.value.status, caught.value.error) == (500, "boom")
    assert "retry later" in str(caught.value)
    assert len(scripted.seen("/api/v1/auth/token")) == 3


async def test_a_token_answer_without_access_token_is_a_protocol_error(sdk, scripted):
    scripted.answer("/api/v1/auth/token", (200, {}, '{"token": "x"}'))
    with pytest.raises(ProtocolError):
        await sdk("svc", "secret", auth_base_url=scripted.url).get_service_token()


async def test_a_failed_flight_fails_every_waiter_and_the_next_call_asks_again(sdk, scripted):
    scripted.answer("/api/v1/auth/token", (401, {}, '{"error":"invalid_client"}'))
    client = sdk("svc", "secret", auth_base_url=scripted.url)
    results = await asyncio.gather(*(client.get_service_token() for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, AuthenticationError) for r in results)
    assert client.token_requests == 1
    assert (await client.get_service_token()).startswith("fake-token-")
    assert client.token_requests == 2


def test_bad_options_are_refused_at_construction():
    with pytest.raises(ValueError):
        PermisoAuthClient("127.0.0.1:8000", "a", "b")
    with pytest.raises(ValueError):
        PermisoAuthClient("http://127.0.0.1:8000", "a", None)
    with pytest.raises(ValueError):
        PermisoAuthClient("http://127.0.0.1:8000", "a", "b", client_auth="private_key_jwt")
    with pytest.raises(ValueError):
        PermisoAuthClient("http://127.0.0.1:8000", "a", "b", redis_url="http://127.0.0.1:6379")
