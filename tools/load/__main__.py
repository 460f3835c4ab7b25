"""`python -m tools.load clean`: remove the users a load run made (see `tools.load`)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from support.config import ConfigError
from tools.load.cleanup import LOAD_PREFIX, remove_load_users
from tools.load.settings import load_config


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.load")
    commands = parser.add_subparsers(dest="command", required=True)
    clean = commands.add_parser(
        "clean", help="remove every row and cache key of the load's users",
        description="Remove every row and cache key of the users whose id starts with "
        "PREFIX, from the database and Redis of the GOLDEN_PATH_DATABASE_URL and "
        "GOLDEN_PATH_REDIS_URL settings (or the options).")
    clean.add_argument("--prefix", default=LOAD_PREFIX,
                       help=f"user ids to remove start with this (default {LOAD_PREFIX!r}: "
                       "every load run's users); it must start with "
                       f"{LOAD_PREFIX!r}")
    clean.add_argument("--database-url", help="the database the gateway uses")
    clean.add_argument("--redis-url", help="the Redis the gateway uses")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(signing=False)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    database_url = args.database_url or config.database_url
    redis_url = args.redis_url or config.redis_url
    if not database_url:
        print("error: no database to clean: set GOLDEN_PATH_DATABASE_URL or pass "
              "--database-url", file=sys.stderr)
        return 2
    if not args.prefix.startswith(LOAD_PREFIX):
        print(f"error: --prefix must start with {LOAD_PREFIX!r}", file=sys.stderr)
        return 2
    removed = asyncio.run(remove_load_users(database_url, redis_url, args.prefix,
                                            timeout=config.timeout))
    print(f"removed {removed} load user(s) whose id starts with {args.prefix!r}"
          f"{'' if redis_url else ' (no Redis URL: cache keys left to expire)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
