"""Following permiso-auth's revocation feed, so a Python resource server refuses a revoked token
within about a second, as mt5-api does, instead of honouring it until it expires.

The feed (GET /api/v1/auth/revocations?since=<cursor>&wait=<s>) is a long poll answering
{"revocations": [{kind: "token"|"session", id, expires_at, seq}, ...], "cursor": n}; it is read
with a client-credentials token of the resource server's own service client. What it returns is
kept until the revoked token could have expired anyway, so memory stays bounded by the tokens
revoked within one token lifetime.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable, Dict, Optional

from ._errors import PermisoError, ServiceUnavailableError
from .client import PermisoAuthClient

__all__ = ["RevocationFeed"]

_log = logging.getLogger("permiso_client.revocations")
_FEED_PATH = "/api/v1/auth/revocations"


class RevocationFeed:
    """The revoked token ids (jti) and ended sessions (sid) of one permiso-auth.

        feed = RevocationFeed(PermisoAuthClient(auth_url, client_id, client_secret))
        await feed.start()                     # the first read, then a background long poll
        verifier = PermisoVerifier(..., revocations=feed)
        ...
        await feed.stop()

    start() raises ServiceUnavailableError when the first read fails within start_timeout: a
    resource server that cannot know what was revoked should not start serving. Later failures
    keep what is known and retry every retry_interval seconds (see `healthy`).
    """

    def __init__(self, auth_client: PermisoAuthClient, *, wait: float = 20.0, retry_interval: float = 1.0,
                 start_timeout: float = 10.0, keep_after_expiry: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        """keep_after_expiry: how long an entry outlives the revoked token's expiry; at least
        the verifier's leeway, which accepts a token that long after its `exp`."""
        if auth_client.client_id is None:
            raise ValueError("the feed is read with a client-credentials token: give the client an id and secret")
        if not 0 <= wait <= 25:
            raise ValueError("wait must be between 0 and 25 seconds (the server's long-poll bound)")
        self._auth = auth_client
        self._wait = wait
        self._retry_interval = retry_interval
        self._start_timeout = start_timeout
        self._clock = clock
        self._keep_after_expiry = keep_after_expiry
        self._cursor = 0
        self._tokens: Dict[str, float] = {}    # jti -> when the entry may be forgotten
        self._sessions: Dict[str, float] = {}  # sid -> the same
        self._task: Optional[asyncio.Task[None]] = None
        self._stopping = False
        self.healthy = False  # the last read succeeded

    @property
    def cursor(self) -> int:
        return self._cursor

    def is_revoked(self, jti: Any, sid: Any) -> bool:
        """True when the token's id or its session was revoked (and could still be valid)."""
        now = self._clock()
        for table, key in ((self._tokens, jti), (self._sessions, sid)):
            if isinstance(key, str) and key and table.get(key, 0.0) > now:
                return True
        return False

    async def start(self) -> None:
        """Reads the feed up to now (raising ServiceUnavailableError if it cannot within
        start_timeout), then follows it in a background task until stop()."""
        if self._task is not None:
            return
        try:
            await asyncio.wait_for(self._catch_up(), self._start_timeout)
        except (asyncio.TimeoutError, PermisoError) as exc:
            raise ServiceUnavailableError(f"the revocation feed cannot be read: {exc}") from exc
        self._stopping = False
        self._task = asyncio.create_task(self._follow(), name="permiso-revocation-feed")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        # Cancel until the task is done, not once: a cancellation delivered inside the HTTP stack
        # can be taken for its own timeout's and lost, and the long poll then went on for ever
        # (seen once in CI: stop() waited 12 minutes while the feed kept polling).
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.1)
        try:
            await task
        except asyncio.CancelledError:
            pass

    async def _catch_up(self) -> None:
        """Reads without waiting until a page comes back empty."""
        while await self.poll(wait=0) > 0:
            pass

    async def _follow(self) -> None:
        while not self._stopping:
            try:
                await self.poll(wait=self._wait)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a feed problem must never end the task
                if self.healthy:
                    _log.warning("revocation feed: %s; retrying every %.1f s", exc, self._retry_interval)
                self.healthy = False
                await asyncio.sleep(self._retry_interval)

    async def poll(self, wait: float) -> int:
        """One read from the cursor; applies it and returns how many revocations it held."""
        url = f"{self._auth.auth_base_url}{_FEED_PATH}"
        params = {"since": str(self._cursor), "wait": str(int(wait))}
        response = await self._auth.make_authenticated_request("GET", url, params=params,
                                                               timeout=wait + 10.0)
        if response.status_code != 200:
            raise ServiceUnavailableError(f"revocation feed: HTTP {response.status_code}",
                                          status=response.status_code, body=response.text[:4096])
        body = response.json()
        items = body.get("revocations") if isinstance(body, dict) else None
        cursor = body.get("cursor") if isinstance(body, dict) else None
        if not isinstance(items, list) or not isinstance(cursor, int):
            raise ServiceUnavailableError("revocation feed: an answer without revocations and cursor")
        for item in items:
            self._apply(item)
        self._cursor = max(self._cursor, cursor)
        self._forget_expired()
        self.healthy = True
        return len(items)

    def _apply(self, item: Any) -> None:
        if not isinstance(item, dict):
            return
        kind, key, expires_at = item.get("kind"), item.get("id"), item.get("expires_at")
        if not isinstance(key, str) or not isinstance(expires_at, (int, float)):
            return
        table = self._tokens if kind == "token" else self._sessions if kind == "session" else None
        if table is not None:
            table[key] = max(table.get(key, 0.0), float(expires_at) + self._keep_after_expiry)

    def _forget_expired(self) -> None:
        now = self._clock()
        for table in (self._tokens, self._sessions):
            for key in [k for k, until in table.items() if until <= now]:
                del table[key]

    def __len__(self) -> int:
        return len(self._tokens) + len(self._sessions)
