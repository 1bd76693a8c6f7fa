"""FastAPI dependencies for Python resource servers that accept Permiso tokens.

    verifier = PermisoVerifier(auth_base_url="http://127.0.0.1:8000",
                               issuer="http://127.0.0.1:8000", audience="permiso")
    install_error_handler(app)   # errors in the contract's shape, not FastAPI's {"detail": ...}

    @app.get("/reports")
    async def reports(claims: dict = Depends(verifier.require_scopes("trade:read"))): ...

Verification itself is framework-free (permiso_client.verifier); this module only maps its
failures onto HTTP answers, in one table, the way permiso-auth and mt5-api answer: 401
invalid_token with WWW-Authenticate, 403 insufficient_scope with required and missing scopes,
503 when the signing keys cannot be fetched. Importing it needs fastapi; the rest of the
package does not.
"""

from __future__ import annotations

import uuid
from typing import Any, Awaitable, Callable, Dict, List, Optional

try:
    from fastapi import Depends, FastAPI, HTTPException, Request
    from fastapi.responses import JSONResponse
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError("permiso_client.fastapi needs FastAPI (Debian: apt-get install python3-fastapi; "
                      "pip: permiso-client[fastapi])") from exc

from .verifier import Failure, TokenVerifier, VerificationError, scopes_of

__all__ = ["PermisoHTTPException", "PermisoVerifier", "install_error_handler"]

# auto_error=False: a missing or non-Bearer header must be our 401, not FastAPI's 403. It is
# still declared, so /docs shows the lock and offers to send a token.
_bearer_scheme = HTTPBearer(auto_error=False, description="A Permiso access token")


class PermisoHTTPException(HTTPException):
    """An HTTPException whose detail is the contract's error object
    ({error, error_description, request_id, ...}); install_error_handler() sends it as the body."""

    def __init__(self, status_code: int, body: Dict[str, Any], headers: Optional[Dict[str, str]] = None) -> None:
        super().__init__(status_code=status_code, detail=body, headers=headers)
        self.body = body


def _request_id(request: Request) -> str:
    return request.headers.get("x-request-id") or uuid.uuid4().hex


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _refusal(request: Request, error: VerificationError, realm: str) -> PermisoHTTPException:
    """The one table: failure reason → HTTP answer."""
    if error.failure is Failure.KEYS_UNAVAILABLE:
        return PermisoHTTPException(
            503, {"error": "temporarily_unavailable", "error_description": error.description,
                  "request_id": _request_id(request)}, {"Retry-After": "1"})
    body = {"error": "invalid_token", "error_description": error.description, "reason": error.failure.value,
            "request_id": _request_id(request)}
    # The contract names the error on every 401, even for a request without a token, so a
    # client has one rule: fetch a token and retry.
    challenge = f'Bearer realm="{realm}", error="invalid_token", error_description="{_quoted(error.description)}"'
    return PermisoHTTPException(401, body, {"WWW-Authenticate": challenge})


def _insufficient(request: Request, required: List[str], missing: List[str], realm: str) -> PermisoHTTPException:
    description = (f"This request requires the scopes: {' '.join(required)}; "
                   f"the token lacks: {' '.join(missing)}.")
    body = {"error": "insufficient_scope", "error_description": description, "request_id": _request_id(request),
            "required_scopes": required, "missing_scopes": missing}
    challenge = f'Bearer realm="{realm}", error="insufficient_scope", scope="{" ".join(required)}"'
    return PermisoHTTPException(403, body, {"WWW-Authenticate": challenge})


class PermisoVerifier(TokenVerifier):
    """A TokenVerifier that also makes FastAPI dependencies.

    PermisoVerifier(jwks_url=None, *, auth_base_url=None, issuer, audience,
                    algorithms=("ES256", "RS256", "EdDSA"), hs_secret=None, leeway=30, ...)

    With `revocations=` a started permiso_client.revocations.RevocationFeed, revoked tokens
    and ended sessions are refused (401, reason "revoked") within about a second, as mt5-api
    does; without it a token stays valid until it expires.
    """

    realm = "permiso"

    def require_scopes(self, *scopes: str) -> Callable[..., Awaitable[Dict[str, Any]]]:
        """A dependency that yields the verified claims when the token holds every one of
        `scopes` (none: any valid token), and raises PermisoHTTPException otherwise."""
        required = [s for part in scopes for s in part.split()]

        async def permiso_claims(
            request: Request,
            credentials: Optional[HTTPAuthorizationCredentials] = Depends(_bearer_scheme),
        ) -> Dict[str, Any]:
            token = credentials.credentials if credentials is not None else None
            try:
                claims = await self.verify(token)
            except VerificationError as error:
                raise _refusal(request, error, self.realm) from None
            granted = set(scopes_of(claims))
            missing = [s for s in required if s not in granted]
            if missing:
                raise _insufficient(request, required, missing, self.realm)
            request.state.permiso_claims = claims
            return claims

        return permiso_claims


async def _permiso_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PermisoHTTPException)
    return JSONResponse(exc.body, status_code=exc.status_code, headers=exc.headers)


def install_error_handler(app: FastAPI) -> None:
    """Sends PermisoHTTPException bodies as they are (the contract's error shape) instead of
    FastAPI's default {"detail": ...} wrapping."""
    app.add_exception_handler(PermisoHTTPException, _permiso_error_handler)
