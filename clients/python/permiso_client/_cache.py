"""The in-memory token cache: one token per scope set, renewed ahead of expiry, filled by one
request however many tasks ask at once."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Awaitable, Callable, Dict, Optional

from ._flight import SingleFlight
from ._tokens import Token, renew_at


class Mode(enum.Enum):
    """Why a token is wanted."""

    CACHED = "cached"      # any token that is not due for renewal
    FORCE = "force"        # a new one from the server (force_refresh)
    REJECTED = "rejected"  # a resource server refused this one: replace it unless already replaced


@dataclass
class _Entry:
    token: Optional[Token] = None
    renew_at: float = 0.0


Fill = Callable[[Mode], Awaitable[Token]]


class TokenCache:
    """Per scope key: the cached token and its single flight. One event loop only."""

    def __init__(self, clock: Callable[[], float], renew_margin: float) -> None:
        self._clock = clock
        self._renew_margin = renew_margin
        self._entries: Dict[str, _Entry] = {}
        self._flights: SingleFlight[Token] = SingleFlight()

    def _fresh(self, entry: _Entry) -> bool:
        return entry.token is not None and self._clock() < entry.renew_at

    async def get(self, key: str, mode: Mode, fill: Fill, rejected: Optional[str] = None) -> Token:
        entry = self._entries.setdefault(key, _Entry())
        if mode is Mode.CACHED and self._fresh(entry):
            assert entry.token is not None
            return entry.token
        if mode is Mode.REJECTED and self._fresh(entry):
            assert entry.token is not None
            if entry.token.access_token != rejected:  # another task already replaced it
                return entry.token

        async def work() -> Token:
            token = await fill(mode)
            entry.token = token
            entry.renew_at = renew_at(token.expires_at, self._clock(), self._renew_margin)
            return token

        # A caller arriving while a request is out (whatever its mode) shares that request: a
        # forced refresh joins it rather than sending a second one.
        return await self._flights.run(key, work)

    def forget(self, key: str, access_token: str) -> bool:
        """Drops the cached token for key if it is still `access_token`; True when dropped."""
        entry = self._entries.get(key)
        if entry is not None and entry.token is not None and entry.token.access_token == access_token:
            entry.token = None
            entry.renew_at = 0.0
            return True
        return False

    def clear(self) -> None:
        """Drops every cached token (a request in flight still lands its answer)."""
        for entry in self._entries.values():
            entry.token = None
            entry.renew_at = 0.0
