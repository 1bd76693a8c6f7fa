"""The exceptions of permiso_client, and the one place that maps HTTP answers onto them.

Mirrors libpermiso-client's closed list of failure kinds (`AuthClientErrc`): a caller handles a
failure by its class, and every message says what to do next, because the person reading a log
line rarely has the HTTP exchange at hand.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Sequence

import httpx

# The raw answer kept on an error is cut here: enough to diagnose, never a whole page.
_MAX_BODY = 4096


class PermisoError(Exception):
    """Base class of every error this package raises on purpose.

    `status` is the HTTP status (None when no answer was received), `error` the server's
    machine-readable code (e.g. "invalid_client"), `body` the raw answer (cut at 4 KiB).
    """

    def __init__(self, message: str, *, status: Optional[int] = None, error: Optional[str] = None,
                 body: str = "", error_description: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error = error
        self.body = body
        self.error_description = error_description

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, error={self.error!r}, message={self.message!r})"


class InvalidRequestError(PermisoError):
    """The call itself is wrong (not an absolute http(s) URL, 400/422 from the token endpoint)."""


class NotLoggedInError(PermisoError):
    """User mode without a session: call login() (or set_session()) first."""


class AuthenticationError(PermisoError):
    """401: bad client credentials or password, a dead refresh token, or a token the resource
    server still refused after one forced refresh."""


class TokenRevokedError(AuthenticationError):
    """The resource server said the token was revoked on purpose (401 with reason "revoked").

    The token has been dropped from every cache and the call was not retried: a revocation is
    a decision, not a glitch to paper over. The next call fetches a fresh token."""


class ForbiddenError(PermisoError):
    """403 other than a missing scope: account_disabled, client_disabled, a resource the
    identity may not touch."""


class InsufficientScopeError(ForbiddenError):
    """403 insufficient_scope: the token lacks `missing_scopes` (of `required_scopes`)."""

    def __init__(self, message: str, *, missing_scopes: Sequence[str] = (), required_scopes: Sequence[str] = (),
                 **kw: Any) -> None:
        super().__init__(message, **kw)
        self.missing_scopes: List[str] = list(missing_scopes)
        self.required_scopes: List[str] = list(required_scopes)


class InvalidScopeError(PermisoError):
    """400 invalid_scope: a token was asked for a scope the client does not hold."""


class RateLimitedError(PermisoError):
    """429 with a Retry-After longer than the retry policy waits (or after the last attempt)."""

    def __init__(self, message: str, *, retry_after: float = 1.0, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServiceUnavailableError(PermisoError):
    """A network error, timeout or 5xx that outlasted the retries (or was not retryable)."""

    def __init__(self, message: str, *, retry_after: Optional[float] = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ProtocolError(PermisoError):
    """The server answered something that is not the documented shape."""


# ---- reading answers ----------------------------------------------------------------------

def error_fields(response: httpx.Response) -> Dict[str, Any]:
    """The JSON object of an error answer, or {} when the body is not one."""
    try:
        value = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _string_list(value: Any) -> List[str]:
    """A scope list as the servers send it: a JSON array, or one space-separated string."""
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    if isinstance(value, str):
        return value.split()
    return []


def _common(response: httpx.Response, fields: Dict[str, Any]) -> Dict[str, Any]:
    error = fields.get("error")
    description = fields.get("error_description")
    return {
        "status": response.status_code,
        "error": error if isinstance(error, str) else None,
        "error_description": description if isinstance(description, str) else None,
        "body": response.text[:_MAX_BODY],
    }


def _describe(what: str, response: httpx.Response, fields: Dict[str, Any]) -> str:
    code = fields.get("error")
    text = fields.get("error_description")
    detail = f"HTTP {response.status_code}"
    if isinstance(code, str):
        detail += f" {code}"
    if isinstance(text, str) and text:
        detail += f": {text}"
    return f"{what} refused ({detail})"


def says_revoked(response: httpx.Response) -> bool:
    """A 401 whose body names `reason: "revoked"`: the one refusal a client must not paper
    over with a fresh token."""
    return response.status_code == 401 and error_fields(response).get("reason") == "revoked"


# What to do about a token-endpoint refusal, by the server's error code.
_TOKEN_HINTS = {
    "invalid_client": "check client_id and client_secret (was the secret rotated?)",
    "invalid_grant": "check the username and password",
    "account_locked": "too many failed logins: wait until locked_until, or ask an administrator",
    "account_disabled": "the account is disabled: ask an administrator to enable it",
    "client_disabled": "the service client is disabled: ask an administrator to enable it",
    "invalid_scope": "ask only for scopes the client holds (an administrator grants more with "
                     "PUT /api/v1/service-clients/{client_id}/scopes)",
}


# A refresh token is refused when it expired, was rotated already or its session ended.
REFRESH_HINTS = {**_TOKEN_HINTS, "invalid_grant": "the refresh token is no longer valid: log in again"}


def token_endpoint_error(response: httpx.Response, what: str,
                         hints: Optional[Dict[str, str]] = None) -> PermisoError:
    """A non-200 answer of POST /api/v1/auth/token as the matching exception."""
    fields = error_fields(response)
    kw = _common(response, fields)
    message = _describe(what, response, fields)
    hint = (hints or _TOKEN_HINTS).get(kw["error"] or "")
    if hint:
        message += f"; {hint}"
    status = response.status_code
    if status in (401, 423) or kw["error"] in ("invalid_grant", "invalid_client"):
        return AuthenticationError(message, **kw)
    if status == 403:
        return ForbiddenError(message, **kw)
    if kw["error"] == "invalid_scope":
        return InvalidScopeError(message, **kw)
    if status in (400, 422):
        return InvalidRequestError(message + "; the request is malformed (a bug in the caller)", **kw)
    return ProtocolError(message + "; the token endpoint answered outside the contract", **kw)


def revoked_error(response: httpx.Response, method: str, url: str) -> TokenRevokedError:
    fields = error_fields(response)
    return TokenRevokedError(
        f"{method} {url} refused a revoked token; it was dropped and the next call gets a fresh one "
        "(find out why it was revoked if this keeps happening)", **_common(response, fields))


def still_unauthorized(response: httpx.Response, method: str, url: str) -> AuthenticationError:
    fields = error_fields(response)
    message = _describe(f"{method} {url}", response, fields)
    return AuthenticationError(
        message + " even with a freshly issued token; check that the resource server trusts this "
        "permiso-auth (issuer, audience, keys) and that the client is still enabled", **_common(response, fields))


def forbidden_error(response: httpx.Response, method: str, url: str) -> ForbiddenError:
    """403: InsufficientScopeError when the body names missing scopes, else ForbiddenError."""
    fields = error_fields(response)
    kw = _common(response, fields)
    message = _describe(f"{method} {url}", response, fields)
    missing = _string_list(fields.get("missing_scopes"))
    required = _string_list(fields.get("required_scopes"))
    if kw["error"] == "insufficient_scope" or missing:
        if missing:
            message += "; missing scopes: " + " ".join(missing)
        message += "; pass them in scopes= (and grant them to the client if it lacks them)"
        return InsufficientScopeError(message, missing_scopes=missing, required_scopes=required, **kw)
    return ForbiddenError(message + "; this identity may not do that", **kw)


def rate_limited_error(response: httpx.Response, url: str, retry_after: float) -> RateLimitedError:
    fields = error_fields(response)
    return RateLimitedError(f"rate limited by {url}; retry in {retry_after:g} s", retry_after=retry_after,
                            **_common(response, fields))


def server_error(response: httpx.Response, url: str, retry_after: Optional[float]) -> ServiceUnavailableError:
    fields = error_fields(response)
    return ServiceUnavailableError(
        _describe(url, response, fields) + "; the server failed: retry later", retry_after=retry_after,
        **_common(response, fields))


def network_error(url: str, exc: BaseException) -> ServiceUnavailableError:
    return ServiceUnavailableError(
        f"cannot reach {url}: {type(exc).__name__}: {exc} (is the server running and the URL right?)")


def protocol_error(response: httpx.Response, what: str) -> ProtocolError:
    return ProtocolError(f"{what}: the answer is not the documented shape (HTTP {response.status_code})",
                         status=response.status_code, body=response.text[:_MAX_BODY])
