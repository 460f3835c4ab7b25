"""Service settings, read from the `GOLDEN_PATH_*` environment variables of DESIGN §4.

The acceptance suite reads the same variables, so a gateway started by hand and the suite
agree on one set of settings. Unset values fall back to embedded defaults: a SQLite file
in a private temporary directory, an in-process fakeredis, and a secret made at start-up.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_ISSUER = "golden-path"
DEFAULT_AUDIENCE = "golden-path-chat"
MIN_SECRET_BYTES = 32


class SettingsError(ValueError):
    """A setting is unusable; the message is one line that says which and what to do."""


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    redis_url: str | None = None
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(48), repr=False)
    jwt_issuer: str = DEFAULT_ISSUER
    jwt_audience: str = DEFAULT_AUDIENCE
    jwt_algorithms: tuple[str, ...] = ("HS256",)
    jwt_public_key: str | None = field(default=None, repr=False)
    jwt_leeway_s: int = 5

    def __post_init__(self) -> None:
        if len(self.jwt_secret.encode()) < MIN_SECRET_BYTES and self.jwt_public_key is None:
            raise SettingsError(
                f"GOLDEN_PATH_JWT_SECRET is {len(self.jwt_secret.encode())} bytes; "
                f"use at least {MIN_SECRET_BYTES} (for example: python -c "
                "'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if self.database_url is not None and not self.database_url.startswith(
            ("sqlite+aiosqlite://", "postgresql+asyncpg://")
        ):
            raise SettingsError(
                f"GOLDEN_PATH_DATABASE_URL={self.database_url!r} is not supported; "
                "use sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST:PORT/DB"
            )
        if self.redis_url is not None and not self.redis_url.startswith(("redis://", "rediss://")):
            raise SettingsError(
                f"GOLDEN_PATH_REDIS_URL={self.redis_url!r} is not a Redis URL; "
                "use redis://HOST:PORT/DB"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Settings from `GOLDEN_PATH_*` variables; unset or empty ones take defaults."""

        def get(name: str) -> str | None:
            value = environ.get(f"GOLDEN_PATH_{name}", "").strip()
            return value or None

        kwargs: dict[str, object] = {
            "database_url": get("DATABASE_URL"),
            "redis_url": get("REDIS_URL"),
            "jwt_issuer": get("JWT_ISSUER") or DEFAULT_ISSUER,
            "jwt_audience": get("JWT_AUDIENCE") or DEFAULT_AUDIENCE,
        }
        if secret := get("JWT_SECRET"):
            kwargs["jwt_secret"] = secret
        if algorithms := get("JWT_ALGORITHMS"):
            kwargs["jwt_algorithms"] = tuple(a.strip() for a in algorithms.split(",") if a.strip())
        if key_path := get("JWT_PUBLIC_KEY_FILE"):
            try:
                with open(key_path, encoding="utf-8") as fh:
                    kwargs["jwt_public_key"] = fh.read()
            except OSError as exc:
                raise SettingsError(
                    f"GOLDEN_PATH_JWT_PUBLIC_KEY_FILE={key_path!r} cannot be read: {exc.strerror}"
                ) from None
        if leeway := get("JWT_LEEWAY"):
            try:
                kwargs["jwt_leeway_s"] = int(leeway)
            except ValueError:
                raise SettingsError(
                    f"GOLDEN_PATH_JWT_LEEWAY={leeway!r} is not a whole number of seconds"
                ) from None
        return cls(**kwargs)  # type: ignore[arg-type]
