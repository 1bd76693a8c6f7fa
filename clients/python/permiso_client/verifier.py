"""Verification of Permiso access tokens, framework-free: a closed list of failure reasons and
one function that checks a token as flat guard clauses (header, algorithm, key, signature and
time, issuer, audience, type), in the manner of libpermiso_resource and Envoy's jwt_authn.

What it must not do: let the token's `alg` choose how it is verified (the key fixes the
algorithm), accept "none", or accept an HMAC token unless a secret was configured on purpose.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Union

from ._jwks import JwksCache, KeysUnavailable

if TYPE_CHECKING:
    from .revocations import RevocationFeed

_ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
_HMAC = frozenset({"HS256", "HS384", "HS512"})
# RFC 9068 §2.1: access tokens say typ at+jwt, so an ID token or another JWT is not one.
_ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
# The `type` claim permiso-auth puts in access tokens (refresh tokens are opaque).
_TOKEN_KINDS = frozenset({"access", "service"})
_MIN_HMAC_SECRET = 32  # bytes: HS256 keys shorter than 256 bits are refused (contract)


class Failure(str, enum.Enum):
    """Why a token was refused; the names are the ones mt5-api puts in `reason`."""

    MISSING_TOKEN = "missing_token"
    MALFORMED = "malformed"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    WRONG_ISSUER = "wrong_issuer"
    WRONG_AUDIENCE = "wrong_audience"
    WRONG_TYPE = "wrong_type"
    REVOKED = "revoked"  # its jti or session is on the revocation feed (RevocationFeed)
    KEYS_UNAVAILABLE = "keys_unavailable"  # not the token's fault: answer 503, not 401


class VerificationError(Exception):
    def __init__(self, failure: Failure, description: str) -> None:
        super().__init__(f"{failure.value}: {description}")
        self.failure = failure
        self.description = description


class TokenVerifier:
    """Verifies Permiso access tokens against the JWKS of a permiso-auth.

    jwks_url, or auth_base_url (its /.well-known/jwks.json). issuer and audience are required:
    a verifier that accepts any issuer accepts tokens minted for someone else. algorithms is an
    allow-list; HS* only together with hs_secret (the development profile's shared secret).
    """

    def __init__(
        self,
        jwks_url: Optional[str] = None,
        *,
        auth_base_url: Optional[str] = None,
        issuer: str,
        audience: Union[str, Sequence[str]],
        algorithms: Iterable[str] = ("ES256", "RS256", "EdDSA"),
        hs_secret: Optional[Union[str, bytes]] = None,
        leeway: float = 30.0,
        require_typ: bool = True,
        jwks_ttl: float = 300.0,
        min_refetch_interval: float = 10.0,
        timeout: float = 5.0,
        verify: Any = True,
        revocations: Optional["RevocationFeed"] = None,
    ) -> None:
        """revocations: a started RevocationFeed, so revoked tokens and ended sessions are
        refused within a second; without one a token stays valid until it expires."""
        try:
            import jwt
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise ImportError("the verifier needs PyJWT (Debian: apt-get install python3-jwt)") from exc
        del jwt  # imported here only to fail early, with a useful message
        allowed = list(algorithms)
        for alg in allowed:
            if alg.lower() == "none":
                raise ValueError('algorithms must not contain "none": an unsigned token proves nothing')
            if alg not in _ASYMMETRIC and alg not in _HMAC:
                raise ValueError(f"unknown algorithm {alg!r}")
        if not allowed:
            raise ValueError("algorithms must name at least one algorithm")
        hmac = [a for a in allowed if a in _HMAC]
        if hmac and hs_secret is None:
            raise ValueError(f"{hmac} need hs_secret: an HMAC algorithm is never verified with a public key")
        if hs_secret is not None:
            if not hmac:
                raise ValueError("hs_secret given but no HS* algorithm allowed")
            secret = hs_secret.encode() if isinstance(hs_secret, str) else hs_secret
            if len(secret) < _MIN_HMAC_SECRET:
                raise ValueError("hs_secret must be at least 32 bytes (256 bits)")
            self._hs_secret: Optional[bytes] = secret
        else:
            self._hs_secret = None
        if not issuer:
            raise ValueError("issuer is required")
        if not audience:
            raise ValueError("audience is required")
        asymmetric = [a for a in allowed if a in _ASYMMETRIC]
        if jwks_url is None and auth_base_url is not None:
            jwks_url = auth_base_url.rstrip("/") + "/.well-known/jwks.json"
        if asymmetric and jwks_url is None:
            raise ValueError("give jwks_url or auth_base_url (or only HS* algorithms with hs_secret)")
        self.algorithms: List[str] = allowed
        self.issuer = issuer
        self.audience: List[str] = [audience] if isinstance(audience, str) else list(audience)
        self._leeway = leeway
        self._require_typ = require_typ
        self.revocations = revocations
        self.jwks: Optional[JwksCache] = (
            JwksCache(jwks_url, ttl=jwks_ttl, min_refetch_interval=min_refetch_interval, timeout=timeout,
                      verify=verify) if asymmetric and jwks_url else None)

    async def verify(self, token: Optional[str]) -> Dict[str, Any]:
        """The token's claims, or VerificationError saying why not."""
        import jwt

        if not token:
            raise VerificationError(Failure.MISSING_TOKEN, "No access token was sent.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise VerificationError(Failure.MALFORMED, "The access token is malformed.") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise VerificationError(Failure.UNSUPPORTED_ALGORITHM, f"The token's algorithm {alg!r} is not accepted.")
        if self._require_typ and str(header.get("typ", "")).lower() not in _ACCESS_TOKEN_TYPES:
            raise VerificationError(Failure.WRONG_TYPE, "The token is not an access token (typ at+jwt).")
        key: Any
        if alg in _HMAC:
            key = self._hs_secret
        else:
            key = await self._public_key(header.get("kid"), alg)
        try:
            claims = jwt.decode(
                token, key, algorithms=[alg], audience=self.audience, issuer=self.issuer, leeway=self._leeway,
                options={"require": ["exp", "iat", "iss", "sub", "aud"]})
        except jwt.ExpiredSignatureError:
            raise VerificationError(Failure.EXPIRED, "The access token has expired.") from None
        except jwt.ImmatureSignatureError:
            raise VerificationError(Failure.NOT_YET_VALID, "The access token is not valid yet.") from None
        except jwt.InvalidIssuerError:
            raise VerificationError(Failure.WRONG_ISSUER, "The access token was issued by someone else.") from None
        except jwt.InvalidAudienceError:
            raise VerificationError(Failure.WRONG_AUDIENCE, "The access token is meant for another audience.") from None
        except jwt.InvalidSignatureError:
            raise VerificationError(Failure.BAD_SIGNATURE, "The access token's signature is invalid.") from None
        except jwt.MissingRequiredClaimError as exc:
            raise VerificationError(Failure.MALFORMED, f"The access token lacks the {exc.claim!r} claim.") from None
        except jwt.PyJWTError:
            raise VerificationError(Failure.MALFORMED, "The access token is malformed.") from None
        if claims.get("type", "access") not in _TOKEN_KINDS:
            raise VerificationError(Failure.WRONG_TYPE, "The token is not an access token.")
        if self.revocations is not None and self.revocations.is_revoked(claims.get("jti"), claims.get("sid")):
            raise VerificationError(Failure.REVOKED, "The access token has been revoked.")
        return claims

    async def _public_key(self, kid: Any, alg: str) -> Any:
        if self.jwks is None:
            raise VerificationError(Failure.UNSUPPORTED_ALGORITHM, f"The token's algorithm {alg!r} is not accepted.")
        if not isinstance(kid, str) or not kid:
            raise VerificationError(Failure.UNKNOWN_KEY, "The access token names no signing key (kid).")
        try:
            found = await self.jwks.find(kid)
        except KeysUnavailable:
            raise VerificationError(Failure.KEYS_UNAVAILABLE, "The signing keys cannot be fetched.") from None
        if found is None:
            raise VerificationError(Failure.UNKNOWN_KEY, "The access token's signing key is unknown.")
        if found.algorithm != alg:  # the key fixes the algorithm; the header may not pick another
            raise VerificationError(Failure.UNSUPPORTED_ALGORITHM, "The token's algorithm does not match its key.")
        return found.key


def scopes_of(claims: Dict[str, Any]) -> List[str]:
    """The granted scopes: `scope` (space-separated, RFC 9068) or `scp` (a list)."""
    scope = claims.get("scope")
    if isinstance(scope, str):
        return scope.split()
    scp = claims.get("scp")
    if isinstance(scp, list):
        return [s for s in scp if isinstance(s, str)]
    return []
