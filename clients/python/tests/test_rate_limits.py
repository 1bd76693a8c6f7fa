"""429 from the real permiso-auth: a short Retry-After is waited out and the call retried; a
long one is raised at once as RateLimitedError with the wait."""

from __future__ import annotations

import time

import pytest

from conftest import Sleeps
from permiso_client import AuthenticationError, RateLimitedError, RetryPolicy

import harness


async def test_a_short_retry_after_is_waited_out_and_the_call_retried(sdk):
    # RATE_LIMIT_LOGIN is 2/second per (address, username) on this stack: failed logins in a
    # row run into a 429 with Retry-After: 1, which the client waits out and retries.
    sleeps = Sleeps(real=True)
    client = sdk(sleep=sleeps)
    username = harness.uniq("ghost_")
    started = time.monotonic()
    errors = []
    while not sleeps.waits and time.monotonic() - started < 10:
        with pytest.raises(AuthenticationError) as caught:
            await client.login(username, "Wrong-passw0rd!")
        errors.append(caught.value)
    assert sleeps.waits, "no 429 within 10 s of failed logins at 2/second"
    assert sleeps.waits[0] >= 1.0  # Retry-After: 1 (never less than the server asked)
    # The retry went through the limiter and came back as the real answer: bad credentials.
    assert all(e.status == 401 and e.error == "invalid_grant" for e in errors)
    assert "check the username and password" in str(errors[-1])


async def test_a_retry_after_beyond_the_policy_is_raised_with_the_wait(sdk, new_client):
    sleeps = Sleeps()
    client = sdk(new_client(rate_limit_per_minute=1), sleep=sleeps, retry=RetryPolicy(max_retry_after=30))
    await client.get_service_token()
    with pytest.raises(RateLimitedError) as caught:
        await client.get_service_token(force_refresh=True)
    e = caught.value
    assert (e.status, e.error) == (429, "rate_limited")
    assert 30 < e.retry_after <= 60
    assert f"retry in {e.retry_after:g} s" in str(e)
    assert sleeps.waits == []  # raised at once, no minute-long wait inside the call


async def test_a_retry_after_within_the_policy_is_waited_for_each_attempt(sdk, new_client):
    sleeps = Sleeps()  # records the waits without waiting a minute each
    client = sdk(new_client(rate_limit_per_minute=1), sleep=sleeps,
                 retry=RetryPolicy(max_attempts=3, max_retry_after=120))
    await client.get_service_token()
    with pytest.raises(RateLimitedError):
        await client.get_service_token(force_refresh=True)
    assert len(sleeps.waits) == 2 and all(30 < w <= 60 for w in sleeps.waits)
