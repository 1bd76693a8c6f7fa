"""Tokens as values: what the token endpoint answered, the canonical scope key, and when a
token is due for renewal. Pure functions, no I/O."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Optional

import httpx

from . import _errors


@dataclass(frozen=True)
class Token:
    """A client-credentials access token. `expires_at` is on the client's clock (epoch s)."""

    access_token: str
    scope: str
    expires_at: float


@dataclass(frozen=True)
class UserSession:
    """A user login (password grant); `refresh_token` renews it (and rotates on every use)."""

    access_token: str
    refresh_token: str
    scope: str
    session_id: str
    expires_at: float


def scope_key(scopes: Optional[Iterable[str]]) -> str:
    """The cache key of a scope set: sorted, deduplicated, joined by one space; "" means every
    scope of the client. An element may itself hold several space-separated scopes.

    Must equal libpermiso-client's AuthClient::scope_key: it is part of the Redis key that C++
    and Python workers share.
    """
    if scopes is None:
        return ""
    if isinstance(scopes, str):  # a lone "a b" string is a common slip; treat it as a list
        scopes = [scopes]
    names = {part for s in scopes for part in s.split(" ") if part}
    return " ".join(sorted(names))


def renew_at(expires_at: float, now: float, renew_margin: float) -> float:
    """renew_margin before expiry, but never earlier than half the lifetime: a margin longer
    than the token's life would otherwise ask the server on every call."""
    life = expires_at - now
    return expires_at - min(renew_margin, life / 2)


def _token_object(response: httpx.Response, what: str) -> Dict[str, Any]:
    try:
        value = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        value = None
    if (not isinstance(value, dict) or not isinstance(value.get("access_token"), str)
            or isinstance(value.get("expires_in"), bool)
            or not isinstance(value.get("expires_in"), (int, float))):
        raise _errors.protocol_error(response, f"{what}: no access_token/expires_in")
    return value


def parse_token(response: httpx.Response, now: float, what: str) -> Token:
    body = _token_object(response, what)
    scope = body.get("scope")
    return Token(body["access_token"], scope if isinstance(scope, str) else "", now + float(body["expires_in"]))


def parse_session(response: httpx.Response, now: float, what: str) -> UserSession:
    body = _token_object(response, what)
    scope, refresh, sid = body.get("scope"), body.get("refresh_token"), body.get("session_id")
    return UserSession(
        access_token=body["access_token"],
        refresh_token=refresh if isinstance(refresh, str) else "",
        scope=scope if isinstance(scope, str) else "",
        session_id=sid if isinstance(sid, str) else "",
        expires_at=now + float(body["expires_in"]),
    )
