"""Sign-ins for the suite's users: JWTs minted with PyJWT from the configured secret,
issuer and audience, and each kind of bad sign-in the gateway must refuse (DESIGN §5).

The suite mints its own tokens rather than asking the service for them, so the gateway's
verification is tested against the contract, not against its own issuer.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from support.config import SuiteConfig

LIFETIME_S = 900

# How each bad sign-in is described in the features -> the refusal reason of §5.
BAD_SIGN_INS: dict[str, str] = {
    "no sign-in at all": "missing",
    "a garbled sign-in": "malformed",
    "an expired sign-in": "expired",
    "a sign-in that is not valid yet": "not_yet_valid",
    "a sign-in with a forged signature": "bad_signature",
    "a sign-in meant for another product": "wrong_audience",
    "a sign-in from an unknown issuer": "wrong_issuer",
    "an unsigned sign-in": "unsupported_algorithm",
    "a sign-in signed in a way the service does not allow": "unsupported_algorithm",
    "a revoked sign-in": "revoked",
}

# How the features say why a connection was refused -> the reason code of §5.
REFUSAL_REASONS: dict[str, str] = {
    "the sign-in is missing": "missing",
    "the sign-in is unreadable": "malformed",
    "the sign-in has expired": "expired",
    "the sign-in is not valid yet": "not_yet_valid",
    "the signature does not match": "bad_signature",
    "the sign-in is meant for another product": "wrong_audience",
    "the sign-in comes from an unknown issuer": "wrong_issuer",
    "the signing method is not allowed": "unsupported_algorithm",
    "the sign-in was revoked": "revoked",
}


@dataclass(frozen=True)
class SignIn:
    """A token and the claims it carries (None token: no sign-in at all)."""

    token: str | None
    jti: str | None
    expires_at: int | None


def mint(
    config: SuiteConfig,
    user_id: str,
    *,
    lifetime_s: int = LIFETIME_S,
    not_before_in_s: int | None = None,
    issuer: str | None = None,
    audience: str | None = None,
    secret: str | None = None,
    algorithm: str = "HS256",
) -> SignIn:
    """A token for `user_id`; keyword arguments bend one claim or the signature."""
    now = int(time.time())
    jti = f"jti-{uuid.uuid4().hex}"
    claims: dict[str, Any] = {
        "sub": user_id,
        "iat": now,
        "exp": now + lifetime_s,
        "iss": issuer if issuer is not None else config.jwt_issuer,
        "aud": audience if audience is not None else config.jwt_audience,
        "jti": jti,
    }
    if not_before_in_s is not None:
        claims["nbf"] = now + not_before_in_s
    key = secret if secret is not None else config.jwt_secret
    token = jwt.encode(claims, key, algorithm=algorithm)
    return SignIn(token, jti, claims["exp"])


def _unsigned(config: SuiteConfig, user_id: str) -> SignIn:
    """A token with `alg: none` and an empty signature, which must never be accepted."""
    now = int(time.time())
    jti = f"jti-{uuid.uuid4().hex}"
    expires_at = now + LIFETIME_S
    claims: dict[str, Any] = {
        "sub": user_id,
        "iat": now,
        "exp": expires_at,
        "iss": config.jwt_issuer,
        "aud": config.jwt_audience,
        "jti": jti,
    }

    def part(data: dict[str, Any]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    token = f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."
    return SignIn(token, jti, expires_at)


_MAKERS: dict[str, Callable[[SuiteConfig, str], SignIn]] = {
    "no sign-in at all": lambda config, user: SignIn(None, None, None),
    "a garbled sign-in": lambda config, user: SignIn("this-is.not-a.token", None, None),
    "an expired sign-in": lambda config, user: mint(config, user, lifetime_s=-300),
    "a sign-in that is not valid yet": lambda config, user: mint(config, user, not_before_in_s=600),
    "a sign-in with a forged signature": lambda config, user: mint(
        config, user, secret=secrets.token_urlsafe(48)
    ),
    "a sign-in meant for another product": lambda config, user: mint(
        config, user, audience="some-other-product"
    ),
    "a sign-in from an unknown issuer": lambda config, user: mint(
        config, user, issuer="someone-else"
    ),
    "an unsigned sign-in": _unsigned,
    "a sign-in signed in a way the service does not allow": lambda config, user: mint(
        config, user, algorithm="HS512"
    ),
    "a revoked sign-in": lambda config, user: mint(config, user),
}


def bad_sign_in(config: SuiteConfig, user_id: str, description: str) -> SignIn:
    """The bad sign-in a feature describes (a key of `BAD_SIGN_INS`); a revoked one still
    has to be revoked by the caller."""
    try:
        make = _MAKERS[description]
    except KeyError:
        raise ValueError(
            f"no bad sign-in described as {description!r}; known: {', '.join(BAD_SIGN_INS)}"
        ) from None
    return make(config, user_id)
