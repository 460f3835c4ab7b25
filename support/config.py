"""The suite's settings, layered: behave userdata (`-D key=value`) first, then the
`GOLDEN_PATH_*` environment variables, then defaults (DESIGN §4).

One object answers "what are we running against, and how long do we wait", so the stack,
the client and the probes never read the environment themselves. A bad value stops the run
before anything starts, with one line that names the setting and what to do.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from support.contract import JWT_LEEWAY_DEFAULT_S, JWT_LEEWAY_MAX_S

BACKEND_MODES = ("embedded", "real", "auto")
PROTOCOLS = ("v1", "ag-ui")
DEFAULT_ISSUER = "golden-path"
DEFAULT_AUDIENCE = "golden-path-chat"
DEFAULT_TIMEOUT_S = 5.0
MIN_SECRET_BYTES = 32

# userdata key -> environment variable
KEYS: dict[str, str] = {
    "backends": "GOLDEN_PATH_BACKENDS",
    "database_url": "GOLDEN_PATH_DATABASE_URL",
    "redis_url": "GOLDEN_PATH_REDIS_URL",
    "gateway_url": "GOLDEN_PATH_GATEWAY_URL",
    "protocol": "GOLDEN_PATH_PROTOCOL",
    "agent_url": "GOLDEN_PATH_AGENT_URL",
    "jwt_secret": "GOLDEN_PATH_JWT_SECRET",
    "jwt_issuer": "GOLDEN_PATH_JWT_ISSUER",
    "jwt_audience": "GOLDEN_PATH_JWT_AUDIENCE",
    "jwt_leeway": "GOLDEN_PATH_JWT_LEEWAY",
    "timeout": "GOLDEN_PATH_TIMEOUT",
    "services": "GOLDEN_PATH_SERVICES",
}
# the URLs a services file (written by `python -m tools.services up`) may provide
SERVICE_KEYS = ("database_url", "redis_url")


class ConfigError(ValueError):
    """A setting is unusable; the message is one line naming it and what to do."""


@dataclass(frozen=True)
class SuiteConfig:
    """Everything the harness needs to know about the run, already validated."""

    backends: str = "embedded"
    database_url: str | None = None
    redis_url: str | None = None
    gateway_url: str | None = None
    protocol: str = "v1"
    # an AG-UI agent the suite did not start and whose storage it cannot read
    agent_url: str | None = None
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(48), repr=False)
    jwt_issuer: str = DEFAULT_ISSUER
    jwt_audience: str = DEFAULT_AUDIENCE
    # the leeway (s) the gateway allows on claim times; the contract's default unless told
    jwt_leeway: int = JWT_LEEWAY_DEFAULT_S
    timeout: float = DEFAULT_TIMEOUT_S
    # where each value came from: key -> "userdata" | "environment" | "default"
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def external_gateway(self) -> bool:
        """True when the suite talks to a gateway it did not start."""
        return self.gateway_url is not None

    @property
    def external_agent(self) -> bool:
        """True when the target is an AG-UI agent whose storage the suite cannot read."""
        return self.agent_url is not None

    @classmethod
    def load(
        cls, userdata: Mapping[str, str], environ: Mapping[str, str] | None = None
    ) -> SuiteConfig:
        """Layer userdata over `GOLDEN_PATH_*` variables over defaults, then validate."""
        env = os.environ if environ is None else environ
        values: dict[str, str] = {}
        sources: dict[str, str] = {}
        for key, variable in KEYS.items():
            from_userdata = str(userdata.get(key, "") or "").strip()
            from_env = str(env.get(variable, "") or "").strip()
            if from_userdata:
                values[key], sources[key] = from_userdata, "userdata"
            elif from_env:
                values[key], sources[key] = from_env, "environment"
            else:
                sources[key] = "default"
        if "services" in values:
            for key, url in _read_services_file(values["services"], sources).items():
                if key in SERVICE_KEYS and url and key not in values:
                    values[key], sources[key] = str(url), "services"
        return cls._validated(values, sources)

    @classmethod
    def _validated(cls, values: dict[str, str], sources: dict[str, str]) -> SuiteConfig:
        # Naming a database, cache or gateway without choosing a mode means "use them".
        named_service = any(values.get(k) for k in ("database_url", "redis_url", "gateway_url"))
        if values.get("agent_url") and not values.get("backends"):
            named_service = False
        backends = values.get("backends", "real" if named_service else "embedded").lower()
        if backends not in BACKEND_MODES:
            raise ConfigError(
                f"backends={values['backends']!r} ({_where('backends', sources)}) is not one of "
                f"{', '.join(BACKEND_MODES)}"
            )
        timeout_text = values.get("timeout", str(DEFAULT_TIMEOUT_S))
        try:
            timeout = float(timeout_text)
        except ValueError:
            raise ConfigError(
                f"timeout={timeout_text!r} ({_where('timeout', sources)}) is not a number of "
                "seconds"
            ) from None
        if not 0 < timeout <= 600:
            raise ConfigError(
                f"timeout={timeout_text!r} ({_where('timeout', sources)}) must be between 0 and "
                "600 seconds"
            )
        leeway_text = values.get("jwt_leeway", str(JWT_LEEWAY_DEFAULT_S))
        if not leeway_text.isdigit() or int(leeway_text) > JWT_LEEWAY_MAX_S:
            raise ConfigError(
                f"jwt_leeway={leeway_text!r} ({_where('jwt_leeway', sources)}) must be a whole "
                f"number of seconds from 0 to {JWT_LEEWAY_MAX_S}, as the contract allows"
            )
        database_url = values.get("database_url")
        if database_url and not database_url.startswith(
            ("sqlite+aiosqlite://", "postgresql+asyncpg://")
        ):
            raise ConfigError(
                f"database_url ({_where('database_url', sources)}) must be "
                "postgresql+asyncpg://USER@HOST:PORT/DB or sqlite+aiosqlite:///PATH"
            )
        redis_url = values.get("redis_url")
        if redis_url and not redis_url.startswith(("redis://", "rediss://")):
            raise ConfigError(
                f"redis_url ({_where('redis_url', sources)}) must be redis://HOST:PORT/DB"
            )
        gateway_url = values.get("gateway_url")
        if gateway_url and backends == "embedded":
            raise ConfigError(
                "gateway_url names a running gateway, which cannot share embedded storage with "
                "the suite; use -D backends=real with its database_url and redis_url"
            )
        if gateway_url and not gateway_url.startswith(("ws://", "wss://")):
            raise ConfigError(
                f"gateway_url ({_where('gateway_url', sources)}) must be ws://HOST:PORT/ws"
            )
        agent_url = values.get("agent_url")
        protocol = values.get("protocol", "ag-ui" if agent_url else "v1").lower()
        if protocol not in PROTOCOLS:
            raise ConfigError(
                f"protocol={values['protocol']!r} ({_where('protocol', sources)}) is not one of "
                f"{', '.join(PROTOCOLS)}"
            )
        if agent_url and protocol != "ag-ui":
            raise ConfigError(
                f"agent_url ({_where('agent_url', sources)}) names an AG-UI agent; use it with "
                "-D protocol=ag-ui, or drop it to run over contract v1"
            )
        if agent_url and not agent_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"agent_url ({_where('agent_url', sources)}) must be http://HOST:PORT/PATH"
            )
        if agent_url and gateway_url:
            raise ConfigError(
                "agent_url and gateway_url both name a target; give one of them"
            )
        if agent_url and not values.get("jwt_secret"):
            raise ConfigError(
                f"with agent_url the suite needs the jwt_secret ({KEYS['jwt_secret']}) the agent "
                "checks sign-ins with, to sign users in"
            )
        secret = values.get("jwt_secret")
        if gateway_url:
            missing = [k for k in ("database_url", "redis_url", "jwt_secret") if not values.get(k)]
            if missing:
                raise ConfigError(
                    "with gateway_url the suite needs the same "
                    + ", ".join(f"{k} ({KEYS[k]})" for k in missing)
                    + " the gateway was started with, to sign users in and read its storage"
                )
        if backends == "real":
            missing = [k for k in ("database_url", "redis_url") if not values.get(k)]
            if missing:
                raise ConfigError(
                    "backends=real needs "
                    + " and ".join(f"{k} ({KEYS[k]})" for k in missing)
                    + "; start local services with `python -m tools.services up` and pass the "
                    "URLs it prints, or run with -D backends=embedded"
                )
        if secret is not None and len(secret.encode()) < MIN_SECRET_BYTES:
            raise ConfigError(
                f"jwt_secret ({_where('jwt_secret', sources)}) is {len(secret.encode())} bytes; "
                f"use at least {MIN_SECRET_BYTES}"
            )
        kwargs: dict[str, object] = {
            "backends": backends,
            "database_url": database_url,
            "redis_url": redis_url,
            "gateway_url": gateway_url,
            "protocol": protocol,
            "agent_url": agent_url,
            "jwt_issuer": values.get("jwt_issuer", DEFAULT_ISSUER),
            "jwt_audience": values.get("jwt_audience", DEFAULT_AUDIENCE),
            "jwt_leeway": int(leeway_text),
            "timeout": timeout,
            "sources": dict(sources),
        }
        if secret is not None:
            kwargs["jwt_secret"] = secret
        return cls(**kwargs)  # type: ignore[arg-type]


def _read_services_file(path: str, sources: Mapping[str, str]) -> dict[str, object]:
    """The URLs written by `python -m tools.services up` (its services.json)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not JSON"
        raise ConfigError(
            f"services={path!r} ({_where('services', sources)}) cannot be read ({reason}); "
            "start local services with `python -m tools.services up`, which writes "
            ".services/services.json"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"services={path!r} does not hold a JSON object of URLs")
    return data


def _where(key: str, sources: Mapping[str, str]) -> str:
    source = sources.get(key, "default")
    if source == "services":
        return "from the services file"
    if source == "userdata":
        return f"-D {key}"
    if source == "environment":
        return KEYS[key]
    return "default"


def redact(url: str) -> str:
    """The URL with any password replaced, fit for a console line or a report."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, location = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{location}" if ":" in credentials else url
