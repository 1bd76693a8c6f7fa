"""The signing keys of a permiso-auth, fetched from its JWKS and cached.

Keys rotate with overlap (a new key is published before it signs), so an unknown `kid` usually
means "refetch"; but a forged token can carry any kid, so refetches are rate limited or every
garbage token would become a request to the authorization server.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

import httpx

from ._flight import SingleFlight

# The algorithm a key serves when its JWK does not say (RFC 7518 / RFC 8037 curve names).
_CURVE_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512", "Ed25519": "EdDSA", "Ed448": "EdDSA"}


class KeysUnavailable(Exception):
    """No key set could be fetched and none is cached."""


@dataclass(frozen=True)
class Key:
    kid: str
    algorithm: str  # the one algorithm this key verifies; the token's header never chooses
    key: Any        # a cryptography public key, as PyJWT takes it


def _algorithm_of(jwk: Dict[str, Any]) -> Optional[str]:
    alg = jwk.get("alg")
    if isinstance(alg, str):
        return alg
    if jwk.get("kty") in ("EC", "OKP"):
        return _CURVE_ALGORITHMS.get(jwk.get("crv", ""))
    if jwk.get("kty") == "RSA":
        return "RS256"
    return None


def parse_jwks(document: Any) -> Dict[str, Key]:
    """The usable signing keys of a JWKS by kid; entries that are not (a kid, a known
    algorithm, a public key for signatures) are skipped rather than failing the whole set."""
    import jwt  # PyJWT: a dependency of the verifier only

    keys: Dict[str, Key] = {}
    entries = document.get("keys") if isinstance(document, dict) else None
    for jwk in entries if isinstance(entries, list) else []:
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str) or jwk.get("use", "sig") != "sig":
            continue
        if jwk.get("kty") == "oct":  # a shared secret has no business in a public key set
            continue
        alg = _algorithm_of(jwk)
        if alg is None:
            continue
        try:
            keys[jwk["kid"]] = Key(jwk["kid"], alg, jwt.PyJWK(jwk, algorithm=alg).key)  # type: ignore[no-untyped-call]
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            continue
    return keys


class JwksCache:
    """Cached keys of one JWKS URL; refetched after `ttl` seconds, or on an unknown kid at most
    once per `min_refetch_interval` seconds."""

    def __init__(self, url: str, *, ttl: float = 300.0, min_refetch_interval: float = 10.0, timeout: float = 5.0,
                 verify: Any = True, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self._ttl = ttl
        self._min_interval = min_refetch_interval
        self._timeout = timeout
        self._verify = verify
        self._monotonic = monotonic
        self._keys: Optional[Dict[str, Key]] = None
        self._fetched_at = 0.0
        self._attempted_at: Optional[float] = None
        self._flights: SingleFlight[None] = SingleFlight()
        self.fetches = 0  # requests sent to the JWKS URL (tests, metrics)

    async def find(self, kid: str) -> Optional[Key]:
        """The key for kid, or None when the (possibly refetched) set does not hold it.
        Raises KeysUnavailable when no key set was ever fetched."""
        now = self._monotonic()
        keys = self._keys
        stale = keys is None or now - self._fetched_at >= self._ttl
        if keys is not None and not stale and kid in keys:
            return keys[kid]
        may_fetch = self._attempted_at is None or now - self._attempted_at >= self._min_interval
        if may_fetch:
            # One fetch per event loop at a time (a verifier may serve several loops in tests).
            await self._flights.run(id(asyncio.get_running_loop()), self._refresh)
        if self._keys is None:
            raise KeysUnavailable(f"no signing keys: {self.url} could not be fetched")
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        self._attempted_at = self._monotonic()
        self.fetches += 1
        try:
            # A client per fetch: fetches are rare, and a pooled client would tie the cache to
            # one event loop.
            async with httpx.AsyncClient(timeout=self._timeout, verify=self._verify) as http:
                response = await http.get(self.url, headers={"Accept": "application/json"})
            if response.status_code != 200:
                return
            keys = parse_jwks(json.loads(response.content))
        except (httpx.HTTPError, ValueError, UnicodeDecodeError):
            return  # keep serving the keys we have; the next attempt is rate limited
        if keys:
            self._keys = keys
            self._fetched_at = self._monotonic()
