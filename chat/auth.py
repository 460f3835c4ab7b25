"""Issue, verify and revoke the JSON Web Tokens that open a chat connection.

The gateway refuses a connection before the WebSocket upgrade, with one of the reasons of
the wire contract (§5): `missing`, `malformed`, `expired`, `not_yet_valid`,
`bad_signature`, `wrong_audience`, `wrong_issuer`, `unsupported_algorithm`, `revoked`.
Clients and the acceptance suite rely on the exact reason, so every PyJWT failure is
mapped here and nowhere else, and any other failure of a hostile token reads `malformed`
(a token can never make verification crash).

The rules follow RFC 8725 (JWT best current practices):
- Algorithms come from an allow-list (`HS256` by default; `RS*`/`PS*`/`ES*`/`EdDSA` verify
  with the configured public key). `none`, in any spelling, is never accepted, and an
  algorithm outside the list is `unsupported_algorithm`, whatever the token claims.
- Each algorithm is verified with the one key configured for its family, never with a key
  the token chooses: an HS256 token signed with the RS256 public key as its secret (the
  HS/RS confusion) is `unsupported_algorithm` when HS256 is not allowed, and
  `bad_signature` when it is (HS tokens are checked against the secret only).
- `kid` is optional. When present it must name the configured key of the token's
  algorithm: its id is the RFC 7638 JWK thumbprint of that key (`key_id`). Any other `kid`
  is `bad_signature` (the token asks for a key this service does not have); a `kid` that
  is not a string is `malformed`. Headers that point at keys (`jku`, `jwk`, `x5u`, `x5c`)
  are never followed. A `crit` header is `malformed` (this service implements no
  extensions), and so is a `typ` other than JWT, at+jwt or JOSE.
- `iss`, `aud`, `exp`, `nbf` and `iat` are checked with `Settings.jwt_leeway_s` of
  clock leeway; `sub`, `exp`, `iat`, `iss`, `aud` and `jti` are required.
- A revoked `jti` (`gp:revoked:{jti}` in the cache) is `revoked`.
- The token travels in the `Authorization: Bearer` header or the `bearer` subprotocol
  pair. The query string is never read: a token there leaks into logs, so a handshake
  whose only token is in the query string is refused as `missing`.
- A live session ends when its token does (`Claims.session_ends_at`): at `exp` by the
  gateway's clock; a token admitted only thanks to the leeway lasts until the leeway is
  used up.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from chat.cache import Cache
from chat.config import MIN_SECRET_BYTES, Settings, SettingsError

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
ASYMMETRIC = frozenset({
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
})
ACCEPTED_TYPES = frozenset({"jwt", "at+jwt", "application/jwt", "application/at+jwt", "jose"})
USER_ID_PATTERN = re.compile(r"^[A-Za-z0-9._@+-]{1,40}$")
SUBPROTOCOL = "bearer"
MAX_TOKEN_CHARS = 8192
# Members of each key type that make up its RFC 7638 thumbprint.
THUMBPRINT_MEMBERS = {
    "oct": ("k", "kty"),
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}
# Epoch seconds of 9999-12-31T23:59:59Z: later `exp`/`iat` values are read as this.
MAX_EPOCH_S = 253402300799
# Revocations never need to outlive this (a token "valid" for a century is revoked for one).
MAX_REVOCATION_S = 100 * 365 * 86400


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

    def session_ends_at(self, leeway_s: float, now: float | None = None) -> float:
        """When a session opened with this token must end (epoch seconds): at `exp`; a
        token admitted after its `exp` (inside the leeway) lasts until the leeway is over."""
        current = time.time() if now is None else now
        return float(self.expires_at) if current < self.expires_at else self.expires_at + leeway_s


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url) of a key in JWK form."""
    members = THUMBPRINT_MEMBERS[str(jwk["kty"])]
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"),
                           sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def _public_jwk(key: Any) -> dict[str, Any]:
    public = key.public_key() if hasattr(key, "private_bytes") else key
    if isinstance(public, rsa.RSAPublicKey):
        return RSAAlgorithm.to_jwk(public, as_dict=True)
    if isinstance(public, ec.EllipticCurvePublicKey):
        return ECAlgorithm.to_jwk(public, as_dict=True)
    if isinstance(public, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return OKPAlgorithm.to_jwk(public, as_dict=True)
    raise SettingsError("the configured public key is not an RSA, EC or EdDSA key")


def key_id(settings: Settings, algorithm: str = "HS256") -> str:
    """The id (`kid`) of the key this service verifies `algorithm` with: the RFC 7638
    thumbprint of the secret (HS*) or of the public key. Issuers may put it in `kid`.

    A thumbprint of the HMAC secret is a SHA-256 of it: it reveals no more than any token
    signed with that secret already does (both let an attacker test guesses offline)."""
    return _VerificationKey.build(settings, algorithm).kid


@dataclass(frozen=True)
class _VerificationKey:
    """The key one allowed algorithm is verified with, loaded once, and its id."""

    kid: str
    key: Any

    @classmethod
    def build(cls, settings: Settings, algorithm: str) -> _VerificationKey:
        if algorithm in SYMMETRIC:
            secret = settings.jwt_secret
            if len(secret.encode()) < MIN_SECRET_BYTES:
                raise SettingsError(
                    f"GOLDEN_PATH_JWT_ALGORITHMS allows {algorithm} but GOLDEN_PATH_JWT_SECRET "
                    f"is shorter than {MIN_SECRET_BYTES} bytes")
            try:
                jwt.get_algorithm_by_name(algorithm).prepare_key(secret)
            except jwt.InvalidKeyError as exc:
                raise SettingsError(
                    f"GOLDEN_PATH_JWT_SECRET cannot sign {algorithm}: {exc}") from None
            return cls(thumbprint({"kty": "oct", "k": _b64url(secret.encode())}), secret)
        if algorithm in ASYMMETRIC:
            if not settings.jwt_public_key:
                raise SettingsError(
                    f"GOLDEN_PATH_JWT_ALGORITHMS allows {algorithm} but no public key is "
                    "configured (set GOLDEN_PATH_JWT_PUBLIC_KEY_FILE)")
            try:
                key = jwt.get_algorithm_by_name(algorithm).prepare_key(settings.jwt_public_key)
            except (jwt.InvalidKeyError, ValueError, TypeError) as exc:
                raise SettingsError(
                    f"the configured public key cannot verify {algorithm}: {exc}") from None
            return cls(thumbprint(_public_jwk(key)), key)
        raise SettingsError(
            f"GOLDEN_PATH_JWT_ALGORITHMS names {algorithm!r}; allowed are "
            f"{', '.join(sorted(SYMMETRIC | ASYMMETRIC))}")


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
    kid: str | None = None,
) -> str:
    """A signed token for `user_id` with the settings' issuer and audience.

    HS* algorithms sign with `settings.jwt_secret` unless `key` is given; RS*/ES* need the
    private key in `key`. `extra_claims` override or add claims (for example `nbf`);
    `kid` is put in the header when given (see `key_id`).
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
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


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
    """Verifies tokens against the settings and the revocation list in the cache.

    Built once per service; a setting that cannot verify anything (an algorithm without a
    key, a key of the wrong type, an unknown algorithm) raises `SettingsError` here, so
    the service fails at start-up rather than refusing every user."""

    def __init__(self, settings: Settings, cache: Cache | None = None) -> None:
        self.settings = settings
        self.cache = cache
        self.leeway_s = max(0, settings.jwt_leeway_s)
        self.algorithms = tuple(a for a in settings.jwt_algorithms if a.lower() != "none")
        if not self.algorithms:
            raise SettingsError("GOLDEN_PATH_JWT_ALGORITHMS allows no usable algorithm")
        self._keys = {a: _VerificationKey.build(settings, a) for a in self.algorithms}

    @property
    def key_ids(self) -> dict[str, str]:
        """Allowed algorithm -> the id of the key it is verified with."""
        return {algorithm: key.kid for algorithm, key in self._keys.items()}

    def _header(self, token: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenRefused("malformed", f"token longer than {MAX_TOKEN_CHARS} characters")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise TokenRefused("malformed", str(exc)) from None
        if "crit" in header:
            raise TokenRefused("malformed", "critical header extensions are not supported")
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.lower() not in ACCEPTED_TYPES):
            raise TokenRefused("malformed", f"token type {typ!r} is not a JWT")
        return header

    def _key(self, header: Mapping[str, Any]) -> tuple[str, Any]:
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._keys:
            raise TokenRefused("unsupported_algorithm", f"algorithm {algorithm!r} not allowed")
        key = self._keys[algorithm]
        if "kid" in header:
            kid = header["kid"]
            if not isinstance(kid, str):
                raise TokenRefused("malformed", "kid is not a string")
            if kid != key.kid:
                raise TokenRefused("bad_signature", f"unknown key id {kid[:80]!r}")
        return algorithm, key.key

    def decode(self, token: str | None) -> Claims:
        """Verify signature and claims (no revocation check); raise `TokenRefused`."""
        if not token:
            raise TokenRefused("missing", "no bearer token in the handshake")
        try:
            return self._decode(token)
        except TokenRefused:
            raise
        except Exception as exc:  # noqa: BLE001 - a hostile token must never crash the check
            raise TokenRefused("malformed", f"{type(exc).__name__}: {exc}"[:200]) from None

    def _decode(self, token: str) -> Claims:
        algorithm, key = self._key(self._header(token))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                leeway=self.leeway_s,
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
            issued_at=_epoch(claims["iat"]),
            expires_at=_epoch(claims["exp"]),
        )

    async def verify(self, token: str | None) -> Claims:
        """Verify the token and check it has not been revoked; raise `TokenRefused`."""
        claims = self.decode(token)
        if self.cache is not None and await self.cache.is_revoked(claims.jti):
            raise TokenRefused("revoked", "token has been revoked")
        return claims


def _epoch(value: Any) -> int:
    """A numeric date claim (already checked by PyJWT) as whole seconds in 0..MAX_EPOCH_S."""
    return max(0, min(int(value), MAX_EPOCH_S))


async def revoke_token(redis: Any, jti: str, expires_at: int, *, leeway_s: int) -> None:
    """Put `jti` on the revocation list until the token would be refused anyway: its
    `expires_at` (epoch seconds) and then the `leeway_s` the gateway lets an expired
    token in for; at most `MAX_REVOCATION_S` from now."""
    await Cache(redis).revoke(jti, min(int(expires_at) + leeway_s,
                                       int(time.time()) + MAX_REVOCATION_S))


async def revoke_by_token(redis: Any, token: str, *, leeway_s: int) -> str:
    """The operator's revocation: the token's own `jti` is revoked until its own `exp`,
    and the leeway after it; the `jti`. A token without them cannot be revoked
    (SettingsError)."""
    claims = unverified_claims(token)
    jti, exp = claims.get("jti"), claims.get("exp")
    if not isinstance(jti, str) or not isinstance(exp, int):
        raise SettingsError("the token has no jti or exp claim; nothing to revoke")
    await revoke_token(redis, jti, exp, leeway_s=leeway_s)
    return jti


def unverified_claims(token: str) -> dict[str, Any]:
    """The claims of a token without checking them (used to revoke a token by value)."""
    try:
        return jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise TokenRefused("malformed", str(exc)) from None
