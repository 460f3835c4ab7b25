"""Issue, verify and revoke the JSON Web Tokens that open a chat connection.

The gateway refuses a connection before the WebSocket upgrade, with one of the reasons of
the wire contract (§5): `missing`, `malformed`, `expired`, `not_yet_valid`,
`bad_signature`, `wrong_audience`, `wrong_issuer`, `unsupported_algorithm`, `revoked`.
Clients and the acceptance suite rely on the exact reason, so every PyJWT failure is
mapped here and nowhere else. Algorithms come from an allow-list (`HS256` by default;
`RS256`/`ES256` verify with the configured public key); `none` is never accepted.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from chat.cache import Cache
from chat.config import Settings

REASONS = (
    "missing",
    "malformed",
    "expired",
    "not_yet_valid",
    "bad_signature",
    "wrong_audience",
    "wrong_issuer",
    "unsupported_algorithm",
    "revoked",
)
REQUIRED_CLAIMS = ("sub", "exp", "iat", "iss", "aud", "jti")
SYMMETRIC = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256"})
USER_ID_PATTERN = re.compile(r"^[A-Za-z0-9._@+-]{1,40}$")
SUBPROTOCOL = "bearer"


class TokenRefused(Exception):
    """The token does not open a connection; `reason` is one of `REASONS`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        assert reason in REASONS, reason
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Claims:
    """The verified claims a connection runs with."""

    user_id: str
    jti: str
    issued_at: int
    expires_at: int


def issue_token(
    settings: Settings,
    user_id: str,
    *,
    ttl_s: int = 3600,
    now: float | None = None,
    jti: str | None = None,
    algorithm: str = "HS256",
    key: str | None = None,
    extra_claims: Mapping[str, Any] | None = None,
) -> str:
    """A signed token for `user_id` with the settings' issuer and audience.

    HS* algorithms sign with `settings.jwt_secret` unless `key` is given; RS*/ES* need the
    private key in `key`. `extra_claims` override or add claims (for example `nbf`).
    """
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "sub": user_id,
        "iat": issued,
        "exp": issued + ttl_s,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "jti": jti or uuid.uuid4().hex,
    }
    claims.update(extra_claims or {})
    if key is None:
        if algorithm not in SYMMETRIC:
            raise ValueError(f"{algorithm} needs a private key")
        key = settings.jwt_secret
    return jwt.encode(claims, key, algorithm=algorithm)


def token_from_headers(headers: Mapping[str, str] | Any) -> str | None:
    """The token a handshake carries: `Authorization: Bearer T`, else the subprotocol pair
    `bearer, T`. None when there is none; `TokenRefused("malformed")` for a header that
    is not a bearer credential. A token in the query string is deliberately ignored."""
    authorization = headers.get("Authorization")
    if authorization is not None:
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or " " in token:
            raise TokenRefused("malformed", "Authorization header is not 'Bearer <token>'")
        return token
    offered: list[str] = []
    for value in headers.get_all("Sec-WebSocket-Protocol") if hasattr(headers, "get_all") else [
        headers.get("Sec-WebSocket-Protocol", "")
    ]:
        offered.extend(item.strip() for item in value.split(",") if item.strip())
    if SUBPROTOCOL in offered:
        others = [item for item in offered if item != SUBPROTOCOL]
        return others[0] if others else None
    return None


class TokenVerifier:
    """Verifies tokens against the settings and the revocation list in the cache."""

    def __init__(self, settings: Settings, cache: Cache | None = None) -> None:
        self.settings = settings
        self.cache = cache
        self.algorithms = tuple(a for a in settings.jwt_algorithms if a.lower() != "none")

    def _key_for(self, algorithm: str) -> str:
        if algorithm in SYMMETRIC:
            return self.settings.jwt_secret
        if algorithm in ASYMMETRIC and self.settings.jwt_public_key:
            return self.settings.jwt_public_key
        raise TokenRefused("unsupported_algorithm", f"no key configured for {algorithm}")

    def decode(self, token: str | None) -> Claims:
        """Verify signature and claims (no revocation check); raise `TokenRefused`."""
        if not token:
            raise TokenRefused("missing", "no bearer token in the handshake")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise TokenRefused("malformed", str(exc)) from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self.algorithms:
            raise TokenRefused("unsupported_algorithm", f"algorithm {algorithm!r} not allowed")
        key = self._key_for(algorithm)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                leeway=self.settings.jwt_leeway_s,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.InvalidSignatureError as exc:
            raise TokenRefused("bad_signature", str(exc)) from None
        except jwt.ExpiredSignatureError as exc:
            raise TokenRefused("expired", str(exc)) from None
        except jwt.ImmatureSignatureError as exc:
            raise TokenRefused("not_yet_valid", str(exc)) from None
        except jwt.InvalidAudienceError as exc:
            raise TokenRefused("wrong_audience", str(exc)) from None
        except jwt.InvalidIssuerError as exc:
            raise TokenRefused("wrong_issuer", str(exc)) from None
        except (jwt.InvalidAlgorithmError, jwt.InvalidKeyError) as exc:
            raise TokenRefused("unsupported_algorithm", str(exc)) from None
        except jwt.InvalidTokenError as exc:
            raise TokenRefused("malformed", str(exc)) from None
        subject, jti = claims.get("sub"), claims.get("jti")
        if not isinstance(subject, str) or not USER_ID_PATTERN.match(subject):
            raise TokenRefused("malformed", "sub is not a user id")
        if not isinstance(jti, str) or not jti or len(jti) > 200:
            raise TokenRefused("malformed", "jti is not a token id")
        return Claims(
            user_id=subject,
            jti=jti,
            issued_at=int(claims["iat"]),
            expires_at=int(claims["exp"]),
        )

    async def verify(self, token: str | None) -> Claims:
        """Verify the token and check it has not been revoked; raise `TokenRefused`."""
        claims = self.decode(token)
        if self.cache is not None and await self.cache.is_revoked(claims.jti):
            raise TokenRefused("revoked", "token has been revoked")
        return claims


async def revoke_token(redis: Any, jti: str, expires_at: int) -> None:
    """Put `jti` on the revocation list until `expires_at` (epoch seconds), at least 1 s."""
    await Cache(redis).revoke(jti, expires_at)


def unverified_claims(token: str) -> dict[str, Any]:
    """The claims of a token without checking them (used to revoke a token by value)."""
    try:
        return jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise TokenRefused("malformed", str(exc)) from None
