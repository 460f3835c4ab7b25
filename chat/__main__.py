"""Command line: run the service, sign a token, revoke a token.

    python -m chat serve --host 127.0.0.1 --port 8765
    python -m chat token --user alice [--ttl 3600]      (the token alone on the last line)
    python -m chat revoke --token TOKEN                 (needs GOLDEN_PATH_REDIS_URL)

Settings come from the `GOLDEN_PATH_*` variables (DESIGN §4). When
GOLDEN_PATH_JWT_SECRET is unset, `serve` and `token` share a development secret kept in
`$XDG_CACHE_HOME/golden-path/jwt-secret` (mode 0600), so a token printed by one process
opens the gateway started by another on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import secrets
import signal
import sys
from pathlib import Path

from chat.config import Settings, SettingsError


def dev_secret_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "golden-path" / "jwt-secret"


def load_settings() -> Settings:
    """Settings from the environment, with the shared development secret if none is set."""
    settings = Settings.from_env()
    if os.environ.get("GOLDEN_PATH_JWT_SECRET", "").strip():
        return settings
    path = dev_secret_path()
    logging.getLogger("chat").info("GOLDEN_PATH_JWT_SECRET unset: using the development "
                                   "secret in %s", path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return dataclasses.replace(settings, jwt_secret=path.read_text().strip())


async def _serve(settings: Settings, host: str, port: int) -> None:
    from sqlalchemy.engine import make_url

    from chat.app import start_service

    service = await start_service(settings, host=host, port=port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    shown = make_url(service.database_url).render_as_string(hide_password=True)
    print(f"chat service listening on {service.url} (database {shown})", flush=True)
    try:
        await stop.wait()
    finally:
        await service.close()


async def _revoke(redis_url: str, token: str, leeway_s: int) -> str:
    import redis.asyncio

    from chat.auth import revoke_by_token

    client = redis.asyncio.from_url(redis_url)
    try:
        return await revoke_by_token(client, token, leeway_s=leeway_s)
    finally:
        await client.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chat", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the WebSocket gateway")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    token = commands.add_parser("token", help="print a signed token for a user")
    token.add_argument("--user", required=True)
    token.add_argument("--ttl", type=int, default=3600, help="seconds (default 3600)")
    revoke = commands.add_parser("revoke", help="revoke a token until it expires")
    revoke.add_argument("--token", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
        if args.command == "serve":
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(_serve(settings, args.host, args.port))
        elif args.command == "token":
            from chat.auth import USER_ID_PATTERN, issue_token

            if not USER_ID_PATTERN.match(args.user):
                raise SettingsError("--user must be 1 to 40 of A-Z a-z 0-9 . _ @ + -")
            if args.ttl <= 0:
                raise SettingsError("--ttl must be a positive number of seconds")
            print(issue_token(settings, args.user, ttl_s=args.ttl))
        elif args.command == "revoke":
            if not settings.redis_url:
                raise SettingsError(
                    "GOLDEN_PATH_REDIS_URL is not set; revocation needs the Redis the gateway "
                    "uses (an embedded gateway's in-process cache cannot be reached)"
                )
            print(f"revoked {asyncio.run(_revoke(settings.redis_url, args.token, settings.jwt_leeway_s))}")
    except (SettingsError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        from chat.app import ServiceStartError

        if isinstance(exc, ServiceStartError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise
    except Exception as exc:
        from chat.auth import TokenRefused

        if isinstance(exc, TokenRefused):
            print(f"error: the token is {exc.reason}", file=sys.stderr)
            return 2
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
