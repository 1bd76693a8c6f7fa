"""The traceparent the SDK sends: the current context's (token requests included), a call's own
header first, nothing made up, an invalid value ignored. Against the scripted loopback server,
which records every request's headers; and one call to the real permiso-auth, whose access log
then names the caller's trace."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import pytest

from permiso_client import PermisoAuthClient, tracing

from conftest import V1, wait_for

def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def test_validity_follows_trace_context_level_1() -> None:
    good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert tracing.is_valid_traceparent(good)
    assert tracing.is_valid_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later")
    for bad in (None, "", good.upper(), good + "-x", "ff" + good[2:],
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", good[:-1]):
        assert not tracing.is_valid_traceparent(bad), bad


@pytest.mark.asyncio
async def test_requests_and_their_token_requests_carry_the_current_traceparent(scripted: Any) -> None:
    header = new_traceparent()
    async with PermisoAuthClient(scripted.url, "svc", "s3cret") as client:
        with tracing.traceparent(header) as current:
            assert current == header
            await client.make_authenticated_request("GET", scripted.url + "/resource", ["trade:read"])
        assert tracing.current_traceparent() is None
        await client.make_authenticated_request("GET", scripted.url + "/after", ["trade:read"])
    token_request, = scripted.seen("/api/v1/auth/token")
    assert token_request.headers.get("traceparent") == header
    assert scripted.seen("/resource")[0].headers.get("traceparent") == header
    # Outside the block nothing is sent: the client never invents a trace.
    assert "traceparent" not in scripted.seen("/after")[0].headers


@pytest.mark.asyncio
async def test_a_calls_own_traceparent_wins_and_an_invalid_context_is_ignored(scripted: Any) -> None:
    mine, context = new_traceparent(), new_traceparent()
    async with PermisoAuthClient(scripted.url, "svc", "s3cret") as client:
        with tracing.traceparent(context):
            await client.make_authenticated_request("GET", scripted.url + "/own", ["a"],
                                                    headers={"traceparent": mine})
        with tracing.traceparent("00-NOT-VALID"):
            await client.make_authenticated_request("GET", scripted.url + "/invalid", ["a"])
    assert [s.headers.get("traceparent") for s in scripted.seen("/own")] == [mine]
    assert "traceparent" not in scripted.seen("/invalid")[0].headers


@pytest.mark.asyncio
async def test_each_task_keeps_its_own_trace(scripted: Any) -> None:
    async with PermisoAuthClient(scripted.url, "svc", "s3cret") as client:
        await client.get_service_token(["a"])  # one token for both tasks

        async def call(path: str, header: str) -> None:
            with tracing.traceparent(header):
                await asyncio.sleep(0)
                await client.make_authenticated_request("GET", scripted.url + path, ["a"])

        one, two = new_traceparent(), new_traceparent()
        await asyncio.gather(call("/one", one), call("/two", two))
    assert scripted.seen("/one")[0].headers["traceparent"] == one
    assert scripted.seen("/two")[0].headers["traceparent"] == two


@pytest.mark.asyncio
async def test_permiso_auth_logs_the_callers_trace(sdk: Any, new_client: Any, stack: Any) -> None:
    creds = new_client(["trade:read"])
    client = sdk(creds.client_id, creds.client_secret)
    header = new_traceparent()
    with tracing.traceparent(header):
        await client.get_service_token(["trade:read"])
    trace_id, parent = header[3:35], header[36:52]

    def token_line() -> Any:
        for line in stack.auth.output().splitlines():
            if '"type":"access"' in line and trace_id in line:
                return json.loads(line)
        return None

    line = wait_for(token_line, 5)
    assert line, "the token request is in permiso-auth's access log under the caller's trace"
    assert line["route"] == f"{V1}/auth/token"
    assert line["parent_span_id"] == parent
