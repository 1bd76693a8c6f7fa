"""The optional Redis token cache a fleet of workers shares, in exactly libpermiso-client's
format (src/client/redis_token_cache.cpp), so Python and C++ workers of one client share tokens:

    key    service_token:{client_id}:{scope key}
    value  the raw access token
    TTL    PX milliseconds = expires_in - renew_margin; read back with GET then PTTL

A Redis that is down must never fail a call: every operation is skipped quietly (the server is
asked instead) and no new connection is attempted for a second after a failure.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable, Optional, Tuple, Type

# Deletes the key only while it still holds the revoked token: another worker may have stored
# a newer one meanwhile. One script, so the check and the delete are atomic.
_ERASE_IF_EQUAL = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
RETRY_INTERVAL_S = 1.0


def redis_key(client_id: str, scope_key: str) -> str:
    return f"service_token:{client_id}:{scope_key}"


def validate_url(url: str) -> None:
    """redis://[[user]:password@]host[:port][/db] (or rediss://); ValueError otherwise."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ValueError(f"redis_url {url!r} is not redis://[[user]:password@]host[:port][/db]")
    try:
        parts.port
    except ValueError as exc:
        raise ValueError(f"redis_url {url!r}: bad port") from exc
    db = parts.path.lstrip("/")
    if db and not db.isdigit():
        raise ValueError(f"redis_url {url!r}: the database must be a number")


@dataclass(frozen=True)
class Hit:
    value: str
    ttl_ms: int


class RedisTokenCache:
    """Lazy connection; every failure is a miss. One event loop only (redis.asyncio's pool is
    bound to the loop that first used it)."""

    def __init__(self, url: str, timeout: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        validate_url(url)
        try:
            import redis.asyncio  # noqa: F401  (optional dependency: only with redis_url)
            import redis.exceptions
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise ImportError("redis_url needs the redis package (Debian: apt-get install python3-redis; "
                              "pip: permiso-client[redis])") from exc
        self._url = url
        self._timeout = timeout
        self._monotonic = monotonic
        self._client: Optional[Any] = None
        self._retry_at = 0.0
        self._errors: Tuple[Type[BaseException], ...] = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError,
                               asyncio.TimeoutError)
        self._reply_errors: Tuple[Type[BaseException], ...] = (redis.exceptions.RedisError,)

    def _connection(self) -> Optional[Any]:
        if self._client is not None:
            return self._client
        if self._monotonic() < self._retry_at:
            return None
        import redis.asyncio
        self._client = redis.asyncio.Redis.from_url(
            self._url, socket_timeout=self._timeout, socket_connect_timeout=self._timeout,
            retry_on_timeout=False, decode_responses=False)
        return self._client

    async def _drop(self) -> None:
        client, self._client = self._client, None
        self._retry_at = self._monotonic() + RETRY_INTERVAL_S
        if client is not None:
            try:
                await client.close(close_connection_pool=True)
            except Exception:  # closing a broken connection may fail too; it is gone either way
                pass

    async def get(self, key: str) -> Optional[Hit]:
        client = self._connection()
        if client is None:
            return None
        try:
            async with client.pipeline(transaction=False) as pipe:
                pipe.get(key)
                pipe.pttl(key)
                value, ttl = await pipe.execute(raise_on_error=False)
        except self._errors:
            await self._drop()
            return None
        # WRONGTYPE and friends come back as values: a key we did not write is a miss.
        if not isinstance(value, bytes) or not isinstance(ttl, int):
            return None
        # -2: expired in between; -1: no TTL, so never written by a Permiso client: a miss.
        if ttl <= 0:
            return None
        try:
            return Hit(value.decode("utf-8"), ttl)
        except UnicodeDecodeError:
            return None

    async def put(self, key: str, value: str, ttl_ms: int) -> bool:
        if ttl_ms <= 0:
            return False
        client = self._connection()
        if client is None:
            return False
        try:
            return bool(await client.set(key, value, px=ttl_ms))
        except self._errors:
            await self._drop()
        except self._reply_errors:
            pass
        return False

    async def erase_if_equal(self, key: str, value: str) -> bool:
        client = self._connection()
        if client is None:
            return False
        try:
            return bool(await client.eval(_ERASE_IF_EQUAL, 1, key, value) == 1)
        except self._errors:
            await self._drop()
        except self._reply_errors:
            pass
        return False

    async def aclose(self) -> None:
        # close_connection_pool=True: a from_url() client does not close its own pool in redis
        # 4.x, and a connection left open is closed later by a task nobody awaits.
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.close(close_connection_pool=True)
            except Exception:
                pass
