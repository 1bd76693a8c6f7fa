"""make_authenticated_request: the bearer token, one refresh on a 401, typed errors for 403,
429 and 5xx, and every other answer returned as it is. Against the real mt5-api; the scripted
server only where the real ones cannot be made to misbehave on demand."""

from __future__ import annotations

import pytest

from conftest import V1, Sleeps, claims_of
from permiso_client import (
    AuthenticationError,
    ForbiddenError,
    InsufficientScopeError,
    RateLimitedError,
    RetryPolicy,
    ServiceUnavailableError,
    TokenRevokedError,
)

import harness

RESOURCE = "/r"


async def test_the_request_carries_the_token_for_its_scopes(sdk, new_client, mt5_url):
    client = sdk(new_client())
    r = await client.make_authenticated_request("GET", f"{mt5_url}{V1}/account", scopes=["account:read"])
    assert r.status_code == 200
    assert {"balance", "equity", "currency"} <= set(r.json())
    bearer = r.request.headers["authorization"].split(" ", 1)[1]
    assert bearer == await client.get_service_token(["account:read"])
    assert claims_of(bearer)["scope"] == "account:read"


async def test_insufficient_scope_names_the_missing_scopes(sdk, new_client, mt5_url):
    client = sdk(new_client())
    with pytest.raises(InsufficientScopeError) as caught:
        await client.make_authenticated_request("POST", f"{mt5_url}{V1}/trades", scopes=["trade:read"],
                                                json={"symbol": "EURUSD", "volume": 0.01, "trade_type": "buy"})
    e = caught.value
    assert (e.status, e.error) == (403, "insufficient_scope")
    assert e.missing_scopes == ["trade:open"] and e.required_scopes == ["trade:open"]
    assert "missing scopes: trade:open" in str(e)
    assert isinstance(e, ForbiddenError)
    # With the scope it asks for, the same call opens the trade.
    r = await client.make_authenticated_request("POST", f"{mt5_url}{V1}/trades", scopes=["trade:open"],
                                                json={"symbol": "EURUSD", "volume": 0.01, "trade_type": "buy"})
    assert r.status_code == 201, r.text


async def test_a_403_that_is_not_about_scopes_is_forbidden(sdk, new_client, mt5_url):
    client = sdk(new_client(scopes=("admin:system",), is_trusted=False))
    with pytest.raises(ForbiddenError) as caught:
        await client.make_authenticated_request("GET", f"{mt5_url}{V1}/admin/stats", scopes=["admin:system"])
    assert not isinstance(caught.value, InsufficientScopeError)
    assert caught.value.status == 403 and caught.value.error == "access_denied"


async def test_other_client_errors_are_returned_as_responses(sdk, new_client, mt5_url):
    client = sdk(new_client())
    r = await client.make_authenticated_request("GET", f"{mt5_url}{V1}/trades/999999999", scopes=["trade:read"])
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = await client.make_authenticated_request("POST", f"{mt5_url}{V1}/trades", scopes=["trade:open"],
                                                json={"symbol": "EURUSD", "volume": 1000, "trade_type": "buy"})
    assert r.status_code == 422
    assert client.token_requests == 2


async def test_kwargs_reach_httpx(sdk, new_client, mt5_url):
    client = sdk(new_client())
    r = await client.make_authenticated_request("GET", f"{mt5_url}{V1}/trades", scopes=["trade:read"],
                                                params={"status": "all", "limit": 1}, headers={"X-Request-ID": "sdk-42"})
    assert r.status_code == 200
    assert r.request.url.params["status"] == "all"
    assert r.headers.get("x-request-id") == "sdk-42"


async def test_a_second_401_raises_authentication_error(sdk, scripted):
    scripted.answer(RESOURCE, *[(401, {"WWW-Authenticate": 'Bearer error="invalid_token"'},
                                 '{"error":"invalid_token","error_description":"The access token is malformed.",'
                                 '"reason":"malformed"}')] * 2)
    client = sdk("svc", "secret", auth_base_url=scripted.url)
    with pytest.raises(AuthenticationError) as caught:
        await client.make_authenticated_request("GET", scripted.url + RESOURCE)
    assert not isinstance(caught.value, TokenRevokedError)
    assert caught.value.status == 401 and caught.value.error == "invalid_token"
    assert "freshly issued token" in str(caught.value)
    hits = scripted.seen(RESOURCE)
    assert len(hits) == 2
    assert hits[0].headers["authorization"] != hits[1].headers["authorization"]  # retried with a new token
    assert client.token_requests == 2


async def test_a_revoked_answer_is_not_retried(sdk, scripted):
    scripted.answer(RESOURCE, (401, {}, '{"error":"invalid_token","error_description":"The access token has been '
                                        'revoked.","reason":"revoked","request_id":"x"}'))
    client = sdk("svc", "secret", auth_base_url=scripted.url)
    first = await client.get_service_token()
    with pytest.raises(TokenRevokedError) as caught:
        await client.make_authenticated_request("GET", scripted.url + RESOURCE)
    assert isinstance(caught.value, AuthenticationError)
    assert len(scripted.seen(RESOURCE)) == 1
    assert client.token_requests == 1
    r = await client.make_authenticated_request("GET", scripted.url + RESOURCE)
    assert r.status_code == 200
    assert scripted.seen(RESOURCE)[-1].headers["authorization"] != f"Bearer {first}"
    assert client.token_requests == 2


async def test_5xx_is_retried_for_idempotent_methods(sdk, scripted):
    sleeps = Sleeps()
    scripted.answer(RESOURCE, (502, {}, "{}"), (503, {"Retry-After": "0"}, "{}"))
    client = sdk("svc", "secret", auth_base_url=scripted.url, sleep=sleeps)
    r = await client.make_authenticated_request("PUT", scripted.url + RESOURCE, json={"a": 1})
    assert r.status_code == 200
    assert [s.method for s in scripted.seen(RESOURCE)] == ["PUT"] * 3
    assert [s.body for s in scripted.seen(RESOURCE)] == [b'{"a": 1}'] * 3
    assert len(sleeps.waits) == 2


async def test_5xx_on_a_post_is_not_retried(sdk, scripted):
    sleeps = Sleeps()
    scripted.answer(RESOURCE, (503, {"Retry-After": "3"}, '{"error":"broker_unavailable","error_description":"x"}'))
    client = sdk("svc", "secret", auth_base_url=scripted.url, sleep=sleeps)
    with pytest.raises(ServiceUnavailableError) as caught:
        await client.make_authenticated_request("POST", scripted.url + RESOURCE, json={})
    assert (caught.value.status, caught.value.error, caught.value.retry_after) == (503, "broker_unavailable", 3.0)
    assert len(scripted.seen(RESOURCE)) == 1 and sleeps.waits == []


async def test_5xx_after_every_attempt_is_unavailable(sdk, scripted):
    sleeps = Sleeps()
    scripted.answer(RESOURCE, *[(500, {}, "{}")] * 3)
    client = sdk("svc", "secret", auth_base_url=scripted.url, sleep=sleeps, retry=RetryPolicy(max_attempts=3))
    with pytest.raises(ServiceUnavailableError):
        await client.make_authenticated_request("GET", scripted.url + RESOURCE)
    assert len(scripted.seen(RESOURCE)) == 3 and len(sleeps.waits) == 2


async def test_429_within_the_policy_waits_retry_after_then_retries(sdk, scripted):
    sleeps = Sleeps()
    scripted.answer(RESOURCE, (429, {"Retry-After": "2"}, '{"error":"rate_limited"}'))
    client = sdk("svc", "secret", auth_base_url=scripted.url, sleep=sleeps)
    r = await client.make_authenticated_request("POST", scripted.url + RESOURCE, json={})  # 429: not processed
    assert r.status_code == 200
    assert sleeps.waits == [2.0]
    assert len(scripted.seen(RESOURCE)) == 2


async def test_429_beyond_the_policy_raises_with_retry_after(sdk, scripted):
    sleeps = Sleeps()
    scripted.answer(RESOURCE, (429, {"Retry-After": "120"}, '{"error":"rate_limited","error_description":"slow"}'))
    client = sdk("svc", "secret", auth_base_url=scripted.url, sleep=sleeps, retry=RetryPolicy(max_retry_after=30))
    with pytest.raises(RateLimitedError) as caught:
        await client.make_authenticated_request("GET", scripted.url + RESOURCE)
    assert (caught.value.status, caught.value.error, caught.value.retry_after) == (429, "rate_limited", 120.0)
    assert "retry in 120 s" in str(caught.value)
    assert sleeps.waits == [] and len(scripted.seen(RESOURCE)) == 1


async def test_an_unreachable_resource_server_is_unavailable(sdk, new_client):
    sleeps = Sleeps()
    client = sdk(new_client(), sleep=sleeps, retry=RetryPolicy(max_attempts=2))
    with pytest.raises(ServiceUnavailableError) as caught:
        await client.make_authenticated_request("POST", f"http://127.0.0.1:{harness.free_port()}/x", json={})
    assert caught.value.status is None
    assert len(sleeps.waits) == 1  # a connection never made is safe to retry, even for POST
