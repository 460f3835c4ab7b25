"""The peer's sign-in check: a bearer JWT checked with the `GOLDEN_PATH_JWT_*` settings.

HS256 with `GOLDEN_PATH_JWT_SECRET`, `iss` and `aud` as configured, the claims of DESIGN
§5 required. A refusal is 401 with the §5 body `{"error": "invalid_token", "reason": R}`,
before the agent sees the request.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import jwt

__all__ = ["SignInCheck", "SignInRefused"]

ALGORITHM = "HS256"
REQUIRED = ["sub", "exp", "iat", "iss", "aud", "jti"]
LEEWAY_S = 5


class SignInRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SignInCheck:
    secret: str
    issuer: str = "golden-path"
    audience: str = "golden-path-chat"

    @classmethod
    def from_environment(cls) -> SignInCheck:
        secret = os.environ.get("GOLDEN_PATH_JWT_SECRET", "")
        if len(secret.encode()) < 32:
            raise SystemExit("set GOLDEN_PATH_JWT_SECRET (32 bytes or more) to the secret the "
                             "suite signs its users in with")
        return cls(secret, os.environ.get("GOLDEN_PATH_JWT_ISSUER") or "golden-path",
                   os.environ.get("GOLDEN_PATH_JWT_AUDIENCE") or "golden-path-chat")

    def user_of(self, authorization: str | None) -> str:
        """The user id a `Bearer` header signs in, or `SignInRefused` with the reason."""
        if not authorization:
            raise SignInRefused("missing")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise SignInRefused("malformed")
        try:
            header = jwt.get_unverified_header(token.strip())
        except jwt.InvalidTokenError:
            raise SignInRefused("malformed") from None
        if "crit" in header:
            raise SignInRefused("malformed")
        if header.get("alg") != ALGORITHM:
            raise SignInRefused("unsupported_algorithm")
        if "kid" in header:
            raise SignInRefused("bad_signature")
        try:
            claims = jwt.decode(token.strip(), self.secret, algorithms=[ALGORITHM],
                                audience=self.audience, issuer=self.issuer, leeway=LEEWAY_S,
                                options={"require": REQUIRED})
        except jwt.InvalidSignatureError:
            raise SignInRefused("bad_signature") from None
        except jwt.ExpiredSignatureError:
            raise SignInRefused("expired") from None
        except jwt.ImmatureSignatureError:
            raise SignInRefused("not_yet_valid") from None
        except jwt.InvalidAudienceError:
            raise SignInRefused("wrong_audience") from None
        except jwt.InvalidIssuerError:
            raise SignInRefused("wrong_issuer") from None
        except jwt.InvalidTokenError:
            raise SignInRefused("malformed") from None
        return str(claims["sub"])
