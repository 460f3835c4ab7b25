"""The settings a load run reads: the suite's own `GOLDEN_PATH_*` variables
(`support.config`), so Locust signs users in exactly as the suite does.

Only the sign-in (`GOLDEN_PATH_JWT_*`), the timeout of one step (`GOLDEN_PATH_TIMEOUT`)
and the storage to clean up afterwards (`GOLDEN_PATH_DATABASE_URL`, `GOLDEN_PATH_REDIS_URL`)
matter here: the target is Locust's `--host`, and a load run starts no backend, so the
backends mode and `GOLDEN_PATH_GATEWAY_URL` are not read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from support.config import ConfigError, SuiteConfig

__all__ = ["load_config"]


def load_config(environ: Mapping[str, str] | None = None, *, signing: bool = True) -> SuiteConfig:
    """The suite's settings from `environ` (default: this process's environment). With
    `signing`, a missing GOLDEN_PATH_JWT_SECRET is a ConfigError: a secret made up here
    would only have every sign-in refused."""
    env = {k: v for k, v in (os.environ if environ is None else environ).items()
           if k not in ("GOLDEN_PATH_GATEWAY_URL", "GOLDEN_PATH_BACKENDS")}
    config = SuiteConfig.load({"backends": "auto"}, env)
    if signing and config.sources.get("jwt_secret") == "default":
        raise ConfigError("GOLDEN_PATH_JWT_SECRET is unset: set it to the signing secret the "
                          "gateway was started with (and GOLDEN_PATH_JWT_ISSUER and "
                          "GOLDEN_PATH_JWT_AUDIENCE if it uses others)")
    return config
