"""PermisoAuthClient: how a Python service gets and uses Permiso tokens.

The Python twin of libpermiso-client (src/client/auth_client.cpp): client-credentials tokens
cached per scope set and renewed ahead of expiry, one token request however many tasks ask,
retries with backoff and jitter, an optional Redis cache shared with C++ workers, a user-login
mode with rotating refresh tokens, and authenticated requests whose failures are exceptions,
never a silent 401.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import time
import urllib.parse
from types import TracebackType
from typing import Any, Awaitable, Callable, Dict, Iterable, Optional, Type, Union

import httpx

from . import _errors
from ._cache import Mode, TokenCache
from ._flight import SingleFlight
from ._redis import RedisTokenCache, redis_key
from ._retry import RetryPolicy, send
from ._tokens import Token, UserSession, parse_session, parse_token, renew_at, scope_key

__all__ = ["PermisoAuthClient"]

_TOKEN_PATH = "/api/v1/auth/token"
_LOGOUT_PATH = "/api/v1/auth/logout"
_FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
_USER_AGENT = "permiso-client-python/0.1.0"
_CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")

Scopes = Optional[Iterable[str]]


def _basic(client_id: str, client_secret: str) -> str:
    # RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    user = urllib.parse.quote(client_id, safe="")
    password = urllib.parse.quote(client_secret, safe="")
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


class PermisoAuthClient:
    """One per service and event loop; share it between the tasks of that loop.

    With `client_id` it is in client-credentials mode: make_authenticated_request() sends a
    service token for the scopes it is given. Without, it is in user mode: login() first, and
    requests carry the user's token, renewed through the refresh token.
    """

    def __init__(
        self,
        auth_base_url: str,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        *,
        renew_margin: float = 60.0,
        timeout: float = 5.0,
        retry: Optional[RetryPolicy] = None,
        redis_url: Optional[str] = None,
        redis_timeout: float = 0.2,
        verify: Union[bool, str, ssl.SSLContext] = True,
        client_auth: str = "client_secret_basic",
        http_client: Optional[httpx.AsyncClient] = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """auth_base_url: e.g. http://127.0.0.1:8000 (no /api/v1). Durations are seconds.

        verify: True, False, a CA bundle path or an ssl.SSLContext (as httpx takes it).
        client_auth: client_secret_basic (default) or client_secret_post.
        http_client: your own httpx.AsyncClient (proxies, transports); it is not closed here.
        clock and sleep: injected so tests control expiry and see the waits.
        """
        parts = urllib.parse.urlsplit(auth_base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"auth_base_url {auth_base_url!r} is not an absolute http(s) URL")
        if client_id is not None and not client_secret:
            raise ValueError("client_id needs client_secret (client-credentials mode)")
        if client_auth not in _CLIENT_AUTH_METHODS:
            raise ValueError(f"client_auth must be one of {_CLIENT_AUTH_METHODS}, not {client_auth!r}")
        if renew_margin < 0 or timeout <= 0:
            raise ValueError("renew_margin must be >= 0 and timeout > 0")
        self._auth_url = auth_base_url.rstrip("/")
        self._client_id = client_id or None
        self._client_secret = client_secret or ""
        self._client_auth = client_auth
        self._renew_margin = float(renew_margin)
        self._retry = retry or RetryPolicy()
        self._clock = clock
        self._sleep = sleep
        self._redis = RedisTokenCache(redis_url, redis_timeout) if redis_url else None  # validates first
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout), verify=verify, headers={"User-Agent": _USER_AGENT})
        self._tokens = TokenCache(clock, self._renew_margin)
        self._token_requests = 0
        self._user: Optional[UserSession] = None
        self._user_renew_at = 0.0
        self._user_flight: SingleFlight[UserSession] = SingleFlight()

    # ---- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> "PermisoAuthClient":
        return self

    async def __aexit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                        tb: Optional[TracebackType]) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Closes the connections this client opened (HTTP pool, Redis)."""
        if self._owns_http:
            await self._http.aclose()
        if self._redis is not None:
            await self._redis.aclose()

    # ---- introspection --------------------------------------------------------------------

    @property
    def client_id(self) -> Optional[str]:
        return self._client_id

    @property
    def auth_base_url(self) -> str:
        """The permiso-auth this client talks to (no trailing slash)."""
        return self._auth_url

    @property
    def token_requests(self) -> int:
        """How many token requests this instance sent to the server (tests, metrics)."""
        return self._token_requests

    @property
    def session(self) -> Optional[UserSession]:
        """The current user session (user mode), e.g. to save and restore with set_session()."""
        return self._user

    @staticmethod
    def scope_key(scopes: Scopes) -> str:
        """The canonical cache key of a scope set (sorted, deduplicated, one space)."""
        return scope_key(scopes)

    def redis_key(self, scopes: Scopes) -> str:
        """The Redis key this client's token for `scopes` is shared under."""
        if self._client_id is None:
            raise ValueError("only client-credentials tokens are shared through Redis")
        return redis_key(self._client_id, scope_key(scopes))

    def clear_cache(self) -> None:
        """Drops the memory-cached service tokens (Redis entries expire by their TTL)."""
        self._tokens.clear()

    # ---- service tokens -------------------------------------------------------------------

    async def get_service_token(self, scopes: Scopes = None, force_refresh: bool = False) -> str:
        """A client-credentials access token for exactly this scope set (order and duplicates do
        not matter; None or empty: every scope of the client).

        Served from memory (then Redis) while it has more than renew_margin left; concurrent
        callers for one set share one request; force_refresh asks the server again, joining a
        request already in flight.
        """
        token = await self._service_token(scope_key(scopes), Mode.FORCE if force_refresh else Mode.CACHED)
        return token.access_token

    async def _service_token(self, key: str, mode: Mode, rejected: Optional[str] = None) -> Token:
        if self._client_id is None:
            raise _errors.InvalidRequestError("service tokens need client_id and client_secret")
        return await self._tokens.get(key, mode, lambda m: self._fill(key, m), rejected)

    async def _fill(self, key: str, mode: Mode) -> Token:
        """Redis first (unless the cached token is being replaced), then the server; a token
        from the server is shared through Redis."""
        assert self._client_id is not None
        rkey = redis_key(self._client_id, key)
        if self._redis is not None and mode is Mode.CACHED:
            hit = await self._redis.get(rkey)
            if hit is not None:
                # The Redis TTL ends renew_margin before the token expires.
                return Token(hit.value, key, self._clock() + hit.ttl_ms / 1000.0 + self._renew_margin)
        token = await self._fetch_service_token(key)
        if self._redis is not None:
            ttl_ms = int((token.expires_at - self._clock() - self._renew_margin) * 1000)
            await self._redis.put(rkey, token.access_token, ttl_ms)
        return token

    async def _fetch_service_token(self, key: str) -> Token:
        assert self._client_id is not None
        self._token_requests += 1
        form: Dict[str, str] = {"grant_type": "client_credentials"}
        headers = dict(_FORM)
        if self._client_auth == "client_secret_basic":
            headers["Authorization"] = _basic(self._client_id, self._client_secret)
        else:
            form["client_id"] = self._client_id
            form["client_secret"] = self._client_secret
        if key:
            form["scope"] = key
        # Safe to repeat after a send: a second client-credentials token harms nobody.
        response = await send(self._http, "POST", self._auth_url + _TOKEN_PATH, self._retry, self._sleep,
                              retry_unsafe=True, data=form, headers=headers)
        what = f"token request for client {self._client_id!r} (scope {key!r})"
        if response.status_code != 200:
            raise _errors.token_endpoint_error(response, what)
        return parse_token(response, self._clock(), what)

    # ---- user sessions --------------------------------------------------------------------

    async def login(self, username: str, password: str, scopes: Scopes = None) -> UserSession:
        """Password grant. Keeps the session; user_token() renews it by refresh token."""
        form = {"grant_type": "password", "username": username, "password": password}
        key = scope_key(scopes)
        if key:
            form["scope"] = key
        self._token_requests += 1
        # Not retried after a send: a second attempt would count as another failed login.
        response = await send(self._http, "POST", self._auth_url + _TOKEN_PATH, self._retry, self._sleep,
                              data=form, headers=dict(_FORM))
        what = f"login of {username!r}"
        if response.status_code != 200:
            raise _errors.token_endpoint_error(response, what)
        self.set_session(parse_session(response, self._clock(), what))
        assert self._user is not None
        return self._user

    def set_session(self, session: UserSession) -> None:
        """Installs a session saved earlier (e.g. from `session` of another process)."""
        self._user = session
        self._user_renew_at = renew_at(session.expires_at, self._clock(), self._renew_margin)

    async def user_token(self, force_refresh: bool = False) -> str:
        """The user's access token, renewed through the refresh token when near expiry."""
        session = await self._user_session(Mode.FORCE if force_refresh else Mode.CACHED)
        return session.access_token

    async def _user_session(self, mode: Mode, rejected: Optional[str] = None) -> UserSession:
        user = self._user
        if user is None:
            raise _errors.NotLoggedInError("not logged in: call login() first")
        fresh = self._clock() < self._user_renew_at
        if mode is Mode.CACHED and fresh:
            return user
        if mode is Mode.REJECTED and fresh and user.access_token != rejected:
            return user
        if not user.refresh_token and not self._user_flight.in_flight("user"):
            raise _errors.AuthenticationError("the access token is due and there is no refresh token: log in again")
        return await self._user_flight.run("user", self._refresh_user)

    async def _refresh_user(self) -> UserSession:
        user = self._user
        if user is None:
            raise _errors.NotLoggedInError("the session ended")
        self._token_requests += 1
        # Never retried after a send: a refresh token is single-use (rotation), and replaying
        # one whose answer was lost would trip reuse detection and end the whole session.
        response = await send(self._http, "POST", self._auth_url + _TOKEN_PATH, self._retry, self._sleep,
                              data={"grant_type": "refresh_token", "refresh_token": user.refresh_token},
                              headers=dict(_FORM))
        if response.status_code != 200:
            raise _errors.token_endpoint_error(response, "session refresh", _errors.REFRESH_HINTS)
        session = parse_session(response, self._clock(), "session refresh")
        self.set_session(session)
        return session

    async def logout(self) -> None:
        """Ends the user's session at the server (its tokens stop working) and forgets it."""
        user = self._user
        if user is None:
            return
        self._user = None
        response = await send(self._http, "POST", self._auth_url + _LOGOUT_PATH, self._retry, self._sleep,
                              headers={"Authorization": f"Bearer {user.access_token}", "Accept": "application/json"})
        if response.status_code not in (200, 204, 401):  # 401: already ended
            raise _errors.protocol_error(response, "logout")

    # ---- authenticated requests -----------------------------------------------------------

    async def _bearer(self, key: str, mode: Mode, rejected: Optional[str] = None) -> str:
        if self._client_id is not None:
            return (await self._service_token(key, mode, rejected)).access_token
        return (await self._user_session(mode, rejected)).access_token

    async def _forget(self, key: str, access_token: str) -> None:
        """Drops a token the server says was revoked, in memory and in Redis (unless a newer one
        replaced it there), so no worker of the fleet picks it up again."""
        if self._client_id is None:
            if self._user is not None and self._user.access_token == access_token:
                self._user_renew_at = 0.0  # renewed by refresh token on the next call
            return
        self._tokens.forget(key, access_token)
        if self._redis is not None:
            await self._redis.erase_if_equal(redis_key(self._client_id, key), access_token)

    async def _send_with(self, method: str, url: str, token: str, kwargs: Dict[str, Any]) -> httpx.Response:
        headers = httpx.Headers(kwargs.get("headers"))
        headers["Authorization"] = f"Bearer {token}"
        headers.setdefault("Accept", "application/json")
        request: Dict[str, Any] = {**kwargs, "headers": headers}
        return await send(self._http, method, url, self._retry, self._sleep, **request)

    async def make_authenticated_request(self, method: str, url: str, scopes: Scopes = None,
                                         **kwargs: Any) -> httpx.Response:
        """`method url` with `Authorization: Bearer` (the service token for `scopes`, or the
        user's token); kwargs go to httpx (json=, data=, params=, headers=, content=, ...).

        A 401 forces one token refresh and one retry; a second 401 raises AuthenticationError.
        A 401 that says the token was revoked raises TokenRevokedError at once (the token is
        dropped; the next call gets a fresh one). 403 raises InsufficientScopeError or
        ForbiddenError, 429 beyond the retry policy RateLimitedError, 5xx and network errors
        after the retries ServiceUnavailableError. Any other answer is returned as is.
        """
        method = method.upper()
        key = scope_key(scopes)
        token = await self._bearer(key, Mode.CACHED)
        response = await self._send_with(method, url, token, kwargs)
        if response.status_code == 401:
            if _errors.says_revoked(response):
                await self._forget(key, token)
                raise _errors.revoked_error(response, method, url)
            # Expired early, signed by a retired key, or a bad cache entry: one fresh token.
            again = await self._bearer(key, Mode.REJECTED, token)
            response = await self._send_with(method, url, again, kwargs)
            if response.status_code == 401:
                if _errors.says_revoked(response):
                    await self._forget(key, again)
                    raise _errors.revoked_error(response, method, url)
                raise _errors.still_unauthorized(response, method, url)
        if response.status_code == 403:
            raise _errors.forbidden_error(response, method, url)
        return response
