"""The Redis-shared token cache against a real redis-server: one token for a fleet of workers,
in libpermiso-client's exact format (and shared with the C++ example when it is built), a
revoked token dropped from it, and a Redis that is down never failing a call."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time

import httpx
import pytest
import redis.asyncio

from conftest import V1, claims_of, issued_tokens, wait_for
from permiso_client import TokenRevokedError

import harness

REVOCATION_POLL_S = 8.0


@pytest.fixture
async def redis_db(redis_server):
    r = redis.asyncio.Redis.from_url(redis_server.url)
    yield r
    await r.close(close_connection_pool=True)


async def test_two_workers_share_one_token_through_redis(stack, sdk, new_client, redis_server, redis_db):
    creds = new_client()
    a = sdk(creds, redis_url=redis_server.url)
    b = sdk(creds, redis_url=redis_server.url)
    token = await a.get_service_token(["trade:read", "account:read"])
    # The literal key format libpermiso-client reads and writes.
    key = f"service_token:{creds.client_id}:account:read trade:read"
    assert a.redis_key(["trade:read", "account:read"]) == key
    assert (await redis_db.get(key)).decode() == token
    ttl = await redis_db.pttl(key)
    assert (3600 - 60 - 30) * 1000 < ttl <= (3600 - 60) * 1000  # expires_in - renew_margin, in ms

    assert await b.get_service_token(["account:read", "trade:read"]) == token
    assert (a.token_requests, b.token_requests) == (1, 0)
    assert wait_for(lambda: issued_tokens(stack, creds.client_id) >= 1, 5)
    assert issued_tokens(stack, creds.client_id) == 1


async def test_the_ttl_ends_renew_margin_before_expiry(sdk, new_client, redis_server, redis_db):
    creds = new_client(access_token_lifetime=600)
    client = sdk(creds, redis_url=redis_server.url, renew_margin=100)
    await client.get_service_token(["trade:read"])
    ttl = await redis_db.pttl(client.redis_key(["trade:read"]))
    assert (500 - 30) * 1000 < ttl <= 500 * 1000


async def test_an_entry_without_ttl_is_a_miss(sdk, new_client, redis_server, redis_db):
    creds = new_client()
    client = sdk(creds, redis_url=redis_server.url)
    key = client.redis_key(None)
    await redis_db.set(key, "written-by-someone-else")  # no TTL: not a Permiso client's entry
    token = await client.get_service_token()
    assert token != "written-by-someone-else" and client.token_requests == 1
    assert (await redis_db.get(key)).decode() == token and await redis_db.pttl(key) > 0


async def test_a_garbage_token_in_the_cache_costs_one_refresh_and_one_retry(sdk, new_client, mt5_url, redis_server,
                                                                             redis_db):
    creds = new_client()
    client = sdk(creds, redis_url=redis_server.url)
    key = client.redis_key(["trade:read"])
    await redis_db.set(key, "garbage.not.a-jwt", px=600_000)
    assert await client.get_service_token(["trade:read"]) == "garbage.not.a-jwt"  # trusted, as a cache is
    assert client.token_requests == 0

    r = await client.make_authenticated_request("GET", f"{mt5_url}{V1}/trades", scopes=["trade:read"])
    assert r.status_code == 200
    assert client.token_requests == 1  # one forced refresh, then the retry succeeded
    fresh = await client.get_service_token(["trade:read"])
    assert claims_of(fresh)["client_id"] == creds.client_id
    assert (await redis_db.get(key)).decode() == fresh  # the fleet gets the good token too


async def test_a_revoked_token_is_dropped_from_redis_too(sdk, new_client, auth_url, mt5_url, redis_server, redis_db):
    creds = new_client()
    a = sdk(creds, redis_url=redis_server.url)
    token = await a.get_service_token()
    key = a.redis_key(None)
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{auth_url}{V1}/auth/revoke", data={"token": token, "token_type_hint": "access_token"},
                            auth=(creds.client_id, creds.client_secret))  # RFC 7009 with client auth
        assert r.status_code == 200
    deadline = time.monotonic() + REVOCATION_POLL_S
    revoked = False
    while not revoked and time.monotonic() < deadline:
        try:
            await a.make_authenticated_request("GET", f"{mt5_url}{V1}/trades")
            await asyncio.sleep(0.02)
        except TokenRevokedError:
            revoked = True
    assert revoked, "mt5-api never refused the revoked token"
    assert await redis_db.get(key) is None  # no other worker picks it up again

    b = sdk(creds, redis_url=redis_server.url)
    r = await b.make_authenticated_request("GET", f"{mt5_url}{V1}/trades")
    assert r.status_code == 200 and b.token_requests == 1
    fresh = await b.get_service_token()
    assert fresh != token and (await redis_db.get(key)).decode() == fresh
    assert await a.get_service_token() == fresh and a.token_requests == 1  # from Redis


async def test_a_newer_token_in_redis_survives_the_revocation_of_an_older_one(sdk, new_client, redis_server,
                                                                               redis_db, scripted):
    # Worker a holds token 1; worker b already replaced it in Redis with token 2; a's token 1
    # is then refused as revoked: a must not delete b's token 2.
    a = sdk("svc", "secret", auth_base_url=scripted.url, redis_url=redis_server.url)
    key = a.redis_key(None)
    await redis_db.delete(key)
    old = await a.get_service_token()
    await redis_db.set(key, "newer-token", px=600_000)
    scripted.answer("/r", (401, {}, '{"error":"invalid_token","reason":"revoked"}'))
    with pytest.raises(TokenRevokedError):
        await a.make_authenticated_request("GET", scripted.url + "/r")
    assert (await redis_db.get(key)).decode() == "newer-token"
    assert await a.get_service_token() == "newer-token" != old


async def test_a_redis_that_is_down_is_skipped(sdk, new_client):
    creds = new_client()
    client = sdk(creds, redis_url=f"redis://127.0.0.1:{harness.free_port()}/0")  # nothing listens
    started = time.monotonic()
    token = await client.get_service_token()
    assert await client.get_service_token() == token
    assert await client.get_service_token(["trade:read"]) != token
    assert client.token_requests == 2
    assert time.monotonic() - started < 5


async def test_a_redis_that_comes_back_is_used_again(sdk, new_client):
    own = harness.Redis()
    own.start()
    try:
        creds = new_client()
        client = sdk(creds, redis_url=own.url)
        await client.get_service_token()  # connected
        own.halt()
        token = await client.get_service_token(force_refresh=True)  # Redis down: the server answers
        assert client.token_requests == 2
        own.start()  # same port, empty
        db = redis.asyncio.Redis.from_url(own.url)
        try:
            # At most one connection attempt a second: poll until the client writes again.
            deadline = time.monotonic() + 10
            shared = None
            while time.monotonic() < deadline:
                token = await client.get_service_token(force_refresh=True)
                shared = await db.get(client.redis_key(None))
                if shared is not None:
                    break
                await asyncio.sleep(0.1)
            assert shared is not None and shared.decode() == token
        finally:
            await db.close(close_connection_pool=True)
    finally:
        own.stop()


def _run_cpp_example(stack, creds, redis_url):
    binary = os.environ["PERMISO_EXAMPLE_BIN"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERMISO_")}
    env.update({"PERMISO_URL": stack.auth.base_url, "MT5_API_URL": stack.mt5.base_url,
                "PERMISO_CLIENT_ID": creds.client_id, "PERMISO_CLIENT_SECRET": creds.client_secret,
                "PERMISO_REDIS_URL": redis_url})
    done = subprocess.run([binary], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(not os.environ.get("PERMISO_EXAMPLE_BIN"), reason="PERMISO_EXAMPLE_BIN (the C++ example) not set")
async def test_python_and_cpp_workers_share_tokens(stack, sdk, new_client, redis_server, redis_db):
    # C++ first (examples/service_to_service asks for account:read, then trade:read), Python reads.
    creds = new_client()
    _run_cpp_example(stack, creds, redis_server.url)
    py = sdk(creds, redis_url=redis_server.url)
    for scope in ("account:read", "trade:read"):
        cpp_token = (await redis_db.get(f"service_token:{creds.client_id}:{scope}")).decode()
        assert await py.get_service_token([scope]) == cpp_token
    assert py.token_requests == 0
    assert issued_tokens(stack, creds.client_id) == 2

    # Python first, C++ reads: the server issues nothing more.
    creds = new_client()
    py = sdk(creds, redis_url=redis_server.url)
    await py.get_service_token(["account:read"])
    await py.get_service_token(["trade:read"])
    assert wait_for(lambda: issued_tokens(stack, creds.client_id) >= 2, 5)
    _run_cpp_example(stack, creds, redis_server.url)
    assert issued_tokens(stack, creds.client_id) == 2
