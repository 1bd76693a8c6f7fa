"""Fixtures of the SDK suite: the real permiso-auth and mt5-api (started by the integration
harness, tests/integration/gateway/gateway_harness.py), a real redis-server, and SDK clients
that are closed after each test.

Environment (CTest sets all of them; by hand only the binaries matter):
  PERMISO_AUTH_BIN, MT5_API_BIN   the binaries (default: build/asan/apps/...)
  PERMISO_REPO                     the repository root (default: three levels up)
  PERMISO_EXAMPLE_BIN              optional: examples/service_to_service (C++ Redis sharing test)
"""

from __future__ import annotations

import errno
import os
import sys
import time
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Dict, Iterator, List, NamedTuple, Sequence

import pytest

REPO = Path(os.environ.get("PERMISO_REPO") or Path(__file__).resolve().parents[3])
os.environ.setdefault("PERMISO_REPO", str(REPO))
os.environ.setdefault("PERMISO_AUTH_BIN", str(REPO / "build/asan/apps/permiso-auth/permiso-auth"))
os.environ.setdefault("MT5_API_BIN", str(REPO / "build/asan/apps/mt5-api/mt5-api"))
# The package under test comes from the source tree, never from an installed copy.
sys.path.insert(0, str(REPO / "clients/python"))
sys.path.insert(0, str(REPO / "tests/integration"))
sys.path.insert(0, str(REPO / "tests/integration/gateway"))

import gateway_harness as gh  # noqa: E402
import harness  # noqa: E402

from permiso_client import PermisoAuthClient  # noqa: E402

V1 = "/api/v1"
# The failed-login limit the rate-limit tests lean on: per (address, username), so it never
# touches the users the other tests sign in with, and short enough to wait for.
LOGIN_LIMIT = "2/second"
BINARY_WAIT_S = 120  # the binaries may be relinked while the suite starts (a parallel build)


class Creds(NamedTuple):
    client_id: str
    client_secret: str


def _start_stack() -> "gh.Stack":
    deadline = time.monotonic() + BINARY_WAIT_S
    while True:
        stack = gh.Stack(alg="ES256", auth_env={"RATE_LIMIT_LOGIN": LOGIN_LIMIT,
                                                "RATE_LIMIT_SERVICE_TOKEN": "100000/minute"})
        try:
            return stack.start()
        except OSError as exc:  # "Text file busy" while the linker rewrites a binary
            if exc.errno != errno.ETXTBSY or time.monotonic() > deadline:
                raise
        time.sleep(0.5)


@pytest.fixture(scope="session")
def stack() -> Iterator["gh.Stack"]:
    s = _start_stack()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def auth_url(stack: "gh.Stack") -> str:
    return stack.auth.base_url


@pytest.fixture(scope="session")
def mt5_url(stack: "gh.Stack") -> str:
    return stack.mt5.base_url


@pytest.fixture(scope="session")
def redis_server() -> Iterator["harness.Redis"]:
    r = harness.Redis()
    r.start()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture
def new_client(stack: "gh.Stack") -> Callable[..., Creds]:
    """Registers a service client through the admin API: new_client(scopes=..., **fields)."""

    def make(scopes: Sequence[str] = ("trade:read", "trade:open", "account:read"), **fields: Any) -> Creds:
        fields.setdefault("is_trusted", False)
        created = stack.auth.create_client(scopes=scopes, client_id=harness.uniq("sdk-"), **fields)
        return Creds(created["client"]["client_id"], created["client_secret"])

    return make


@pytest.fixture
async def sdk(auth_url: str) -> AsyncIterator[Callable[..., PermisoAuthClient]]:
    """Makes PermisoAuthClient instances on the stack's permiso-auth; closes them after the test."""
    made: List[PermisoAuthClient] = []

    def make(client_id: Any = None, client_secret: Any = None, **kw: Any) -> PermisoAuthClient:
        if isinstance(client_id, Creds):
            client_id, client_secret = client_id
        c = PermisoAuthClient(kw.pop("auth_base_url", auth_url), client_id, client_secret, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        await c.aclose()


def issued_tokens(stack: "gh.Stack", actor: str) -> int:
    """How many tokens permiso-auth says it issued to `actor` (its audit trail): the server's
    own count, to hold the client's token_requests against."""
    r = stack.auth.get(f"{V1}/admin/audit?actor={actor}&action=token.issue&per_page=1",
                       bearer=stack.auth.admin_token())
    assert r.status == 200, r
    return int(r.body["total"])


def wait_for(predicate: Callable[[], Any], within_s: float, every_s: float = 0.05) -> Any:
    return harness.wait_until(predicate, within_s, every_s)


def claims_of(token: str) -> Dict[str, Any]:
    import jwt
    return jwt.decode(token, options={"verify_signature": False})


@pytest.fixture(scope="session")
def scripted_server() -> Iterator[Any]:
    from scripted_server import ScriptedServer
    server = ScriptedServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def scripted(scripted_server: Any) -> Any:
    """The scripted loopback server, with an empty script and request log."""
    scripted_server.reset()
    return scripted_server


class Sleeps:
    """An injected sleep that records every wait (and, with real=True, also waits)."""

    def __init__(self, real: bool = False) -> None:
        self.waits: List[float] = []
        self.real = real

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.real:
            import asyncio
            await asyncio.sleep(seconds)


class Clock:
    """An injected wall clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
