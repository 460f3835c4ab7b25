"""Sign-ins for the suite's users: JWTs minted with PyJWT from the configured secret,
issuer and audience, and each kind of bad sign-in the gateway must refuse (DESIGN §5).

The suite mints its own tokens rather than asking the service for them, so the gateway's
verification is tested against the contract, not against its own issuer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from support.config import SuiteConfig

LIFETIME_S = 900
# A minute past the end, or before the start, of a sign-in's validity: beyond the 30 s
# of leeway the contract allows at most, so the gateway must refuse it.
EDGE_S = 60

# How each bad sign-in is described in the features -> the refusal reason of §5.
BAD_SIGN_INS: dict[str, str] = {
    "no sign-in at all": "missing",
    "a garbled sign-in": "malformed",
    "a sign-in that expired a minute ago": "expired",
    "a sign-in that is valid only a minute from now": "not_yet_valid",
    "a sign-in with a forged signature": "bad_signature",
    "a sign-in meant for another product": "wrong_audience",
    "a sign-in from an unknown issuer": "wrong_issuer",
    "an unsigned sign-in": "unsupported_algorithm",
    "a sign-in signed in a way the service does not allow": "unsupported_algorithm",
    "a revoked sign-in": "revoked",
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
    "a sign-in that expired a minute ago": lambda config, user: mint(
        config, user, lifetime_s=-EDGE_S),
    "a sign-in that is valid only a minute from now": lambda config, user: mint(
        config, user, not_before_in_s=EDGE_S),
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


# -- forged sign-ins: what an attacker makes by hand -------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _segment(value: Mapping[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _claims(config: SuiteConfig, user_id: str) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": user_id, "iat": now, "exp": now + LIFETIME_S, "iss": config.jwt_issuer,
            "aud": config.jwt_audience, "jti": f"jti-{uuid.uuid4().hex}"}


def hand_made(header: Mapping[str, Any], claims: Mapping[str, Any], secret: str | None) -> str:
    """A token built by hand: HMAC-SHA256 with `secret` over header and claims, whatever
    the header says (an attacker is not bound by a JWT library); None: no signature."""
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    if secret is None:
        return f"{signing_input}."
    digest = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(digest)}"


def _signed(config: SuiteConfig, user_id: str, **header: Any) -> SignIn:
    claims = _claims(config, user_id)
    token = hand_made({"alg": "HS256", "typ": "JWT", **header}, claims, config.jwt_secret)
    return SignIn(token, claims["jti"], claims["exp"])


def _signature_cut_off(config: SuiteConfig, user_id: str) -> SignIn:
    made = mint(config, user_id)
    return SignIn(str(made.token).rsplit(".", 1)[0] + ".", made.jti, made.expires_at)


# How the features describe a forged sign-in -> how it is made for a user.
FORGED_SIGN_INS: dict[str, Callable[[SuiteConfig, str], SignIn]] = {
    "a sign-in that names a key the service does not have": lambda config, user: _signed(
        config, user, kid="a-key-the-service-never-had"),
    # "-" sorts before every id a real key can have (RFC 7638 thumbprints are base64url).
    "a sign-in that names a key by an id shorter than any real one": lambda config, user: (
        _signed(config, user, kid="-")),
    "a sign-in with its signature cut off": _signature_cut_off,
    "a sign-in that demands an extension the service does not know": lambda config, user: (
        _signed(config, user, crit=["urn:example:must-understand"],
                **{"urn:example:must-understand": True})),
    # a token of another kind (RFC 8417) passed off as a sign-in
    "a sign-in that says it is a security event, not a sign-in": lambda config, user: (
        _signed(config, user, typ="secevent+jwt")),
}


def key_id(secret: str) -> str:
    """The id the contract gives an HMAC secret: its RFC 7638 thumbprint (the SHA-256 of
    the JWK {"k", "kty": "oct"} written canonically, base64url)."""
    jwk = {"k": _b64(secret.encode()), "kty": "oct"}
    return _b64(hashlib.sha256(json.dumps(jwk, separators=(",", ":")).encode()).digest())


def _header_without_type(config: SuiteConfig, user_id: str) -> SignIn:
    claims = _claims(config, user_id)
    token = hand_made({"alg": "HS256"}, claims, config.jwt_secret)
    return SignIn(token, claims["jti"], claims["exp"])


# Good sign-ins written in the other ways a JWT header may be -> how each is made.
HEADER_VARIANTS: dict[str, Callable[[SuiteConfig, str], SignIn]] = {
    "a sign-in whose header does not say what it is": _header_without_type,
    "a sign-in whose header says it is a jwt, in small letters": lambda config, user: (
        _signed(config, user, typ="jwt")),
    "a sign-in that names the key it was signed with": lambda config, user: (
        _signed(config, user, kid=key_id(config.jwt_secret))),
}


def sign_in_written(config: SuiteConfig, user_id: str, description: str) -> SignIn:
    """A good sign-in whose header is written as a feature describes (`HEADER_VARIANTS`)."""
    return HEADER_VARIANTS[description](config, user_id)


def forged_sign_in(config: SuiteConfig, user_id: str, description: str) -> SignIn:
    """The forged sign-in a feature describes (a key of `FORGED_SIGN_INS`)."""
    return FORGED_SIGN_INS[description](config, user_id)


def sign_in_claiming_method(config: SuiteConfig, user_id: str, method: str) -> SignIn:
    """A sign-in whose header names `method` as its signing algorithm, signed with the
    real secret all the same: only the algorithm's name is wrong."""
    claims = _claims(config, user_id)
    token = hand_made({"alg": method, "typ": "JWT"}, claims, config.jwt_secret)
    return SignIn(token, claims["jti"], claims["exp"])


def sign_in_changed_to(config: SuiteConfig, own_user_id: str, claimed_user_id: str) -> SignIn:
    """A valid sign-in of `own_user_id` whose contents were then edited to name
    `claimed_user_id`, keeping the original signature."""
    made = mint(config, own_user_id)
    header, payload, signature = str(made.token).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = claimed_user_id
    return SignIn(f"{header}.{_segment(claims)}.{signature}", made.jti, made.expires_at)


def lapsed_sign_in(config: SuiteConfig, user_id: str, seconds_ago: int) -> SignIn:
    """A sign-in whose `exp` was `seconds_ago` seconds ago (whole seconds, as `exp` is)."""
    return mint(config, user_id, lifetime_s=-seconds_ago)


def short_sign_in(config: SuiteConfig, user_id: str, seconds: int) -> SignIn:
    """A valid sign-in that runs out `seconds` from now (whole seconds, as `exp` is)."""
    return mint(config, user_id, lifetime_s=seconds)
