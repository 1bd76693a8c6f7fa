"""permiso_client: the async Python SDK for Permiso (see docs/sdk-python.md).

The core needs only httpx. `redis_url` needs the redis package. Resource servers verify tokens
with permiso_client.verifier (PyJWT) or its FastAPI dependency in permiso_client.fastapi;
neither is imported until asked for, so the core never needs them.
"""

from . import tracing
from ._errors import (
    AuthenticationError,
    ForbiddenError,
    InsufficientScopeError,
    InvalidRequestError,
    InvalidScopeError,
    NotLoggedInError,
    PermisoError,
    ProtocolError,
    RateLimitedError,
    ServiceUnavailableError,
    TokenRevokedError,
)
from ._retry import RetryPolicy
from ._tokens import Token, UserSession
from .client import PermisoAuthClient

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "ForbiddenError",
    "InsufficientScopeError",
    "InvalidRequestError",
    "InvalidScopeError",
    "NotLoggedInError",
    "PermisoAuthClient",
    "PermisoError",
    "ProtocolError",
    "RateLimitedError",
    "RetryPolicy",
    "ServiceUnavailableError",
    "Token",
    "TokenRevokedError",
    "UserSession",
    "__version__",
    "tracing",
]
