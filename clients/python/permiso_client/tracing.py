"""W3C Trace Context for permiso_client: the `traceparent` the client sends.

Every request a PermisoAuthClient sends (token requests included) carries the traceparent of
the current context, so permiso-auth and mt5-api log it, audit it and export their spans under
the caller's trace. Set it for a block of code, usually from the request being served:

    from permiso_client import tracing

    with tracing.traceparent(request.headers.get("traceparent")):
        await client.make_authenticated_request("GET", url, ["trade:read"])

A `traceparent` in a call's own headers= wins. An invalid value is ignored (the servers then
start a trace of their own), as the specification asks; the client never makes one up.
The context is a contextvars.ContextVar: each asyncio task sees the value of the code that
started it.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from typing import Iterator, Optional

__all__ = ["current_traceparent", "is_valid_traceparent", "traceparent"]

HEADER = "traceparent"

# Level 1: version 00 is exactly this; a later version (never ff) may append "-" fields.
_VERSION_00 = re.compile(r"00-(?!0{32}-)[0-9a-f]{32}-(?!0{16}-)[0-9a-f]{16}-[0-9a-f]{2}")
_LATER = re.compile(r"(?!00|ff)[0-9a-f]{2}-(?!0{32}-)[0-9a-f]{32}-(?!0{16}-)[0-9a-f]{16}-[0-9a-f]{2}(-.*)?")

_current: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar("permiso_traceparent", default=None)


def is_valid_traceparent(value: Optional[str]) -> bool:
    """Whether `value` is a traceparent the servers continue (W3C Trace Context level 1)."""
    if not value:
        return False
    return bool(_VERSION_00.fullmatch(value) or _LATER.fullmatch(value))


def current_traceparent() -> Optional[str]:
    """The traceparent requests of the current context carry, or None."""
    return _current.get()


@contextlib.contextmanager
def traceparent(value: Optional[str]) -> Iterator[Optional[str]]:
    """Within the block, requests carry `value` (None or an invalid value: none)."""
    token = _current.set(value if is_valid_traceparent(value) else None)
    try:
        yield _current.get()
    finally:
        _current.reset(token)
