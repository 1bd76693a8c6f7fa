"""One HTTP exchange with the retry policy: backoff with jitter on network errors and 5xx,
Retry-After on 429, and what is left over turned into a typed error.

The same rules as libpermiso-client, so a fleet of C++ and Python workers behaves alike when a
server struggles.
"""

from __future__ import annotations

import datetime
import email.utils
import random
import ssl
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Optional

import httpx

from . import _errors, tracing

Sleep = Callable[[float], Awaitable[None]]

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# A Retry-After beyond a day is a broken header, not a plan.
_MAX_RETRY_AFTER_HEADER = 86400.0


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. Durations are seconds.

    max_attempts counts the first try. A 429 whose Retry-After is longer than max_retry_after
    is raised at once as RateLimitedError: waiting minutes inside a call surprises callers more
    than an exception that says how long to wait.
    """

    max_attempts: int = 4
    initial_backoff: float = 0.1
    max_backoff: float = 5.0
    max_retry_after: float = 30.0

    def backoff(self, attempt: int, rng: Callable[[float, float], float] = random.uniform) -> float:
        """Exponential and capped, with "equal jitter" (half fixed, half random) so a fleet that
        failed together does not retry together."""
        d = min(self.initial_backoff * float(1 << min(attempt, 20)), self.max_backoff)
        return d - d / 2 + rng(0.0, d / 2)


def is_idempotent(method: str) -> bool:
    return method.upper() in _IDEMPOTENT


def retry_after(response: httpx.Response) -> Optional[float]:
    """Retry-After in seconds: delta-seconds (what Permiso sends) or an HTTP-date."""
    header: Optional[str] = response.headers.get("retry-after")
    if header is None:
        return None
    value = header.strip()
    if value.isdigit():
        return min(float(value), _MAX_RETRY_AFTER_HEADER)
    try:
        when: Optional[datetime.datetime] = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 1.0
    if when is None:
        return 1.0
    seconds: float = when.timestamp() - time.time()
    return min(max(0.0, seconds), _MAX_RETRY_AFTER_HEADER)


def _is_tls_failure(exc: BaseException) -> bool:
    """httpx wraps certificate failures in ConnectError; retrying them only wastes time."""
    seen: Optional[BaseException] = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def send(http: httpx.AsyncClient, method: str, url: str, policy: RetryPolicy, sleep: Sleep, *,
               retry_unsafe: bool = False, **kwargs: Any) -> httpx.Response:
    """Sends and returns any answer other than 429 and 5xx; raises RateLimitedError,
    ServiceUnavailableError or InvalidRequestError for the rest.

    5xx and errors after the request may have reached the server are retried only for
    idempotent methods (or `retry_unsafe`, for requests that are safe to repeat such as a
    client-credentials grant); a connection that was never made is always safe to retry.
    """
    method = method.upper()
    current = tracing.current_traceparent()
    if current is not None:
        headers = httpx.Headers(kwargs.get("headers"))
        headers.setdefault(tracing.HEADER, current)  # a call's own traceparent wins
        kwargs["headers"] = headers
    may_retry = retry_unsafe or is_idempotent(method)
    attempts = max(1, policy.max_attempts)
    last: Optional[_errors.PermisoError] = None
    for attempt in range(attempts):
        last_attempt = attempt + 1 == attempts
        try:
            response = await http.request(method, url, **kwargs)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise _errors.InvalidRequestError(f"not an absolute http(s) URL: {url} ({exc})") from exc
        except httpx.TransportError as exc:
            last = _errors.network_error(url, exc)
            unsent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
            if _is_tls_failure(exc) or last_attempt or not (may_retry or unsent):
                raise last from exc
            await sleep(policy.backoff(attempt))
            continue
        if response.status_code == 429:
            wait = retry_after(response)
            wait = 1.0 if wait is None else wait
            last = _errors.rate_limited_error(response, url, wait)
            if last_attempt or wait > policy.max_retry_after:
                raise last
            await sleep(max(wait, policy.backoff(attempt)))
            continue
        if response.status_code >= 500:
            hint = retry_after(response)
            last = _errors.server_error(response, url, hint)
            if last_attempt or not may_retry:
                raise last
            wait = policy.backoff(attempt)
            if hint is not None and hint <= policy.max_retry_after:
                wait = max(wait, hint)
            await sleep(wait)
            continue
        return response
    assert last is not None  # the loop runs at least once and every path sets it or returns
    raise last
