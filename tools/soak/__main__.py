"""`python -m tools.soak`: see `tools.soak`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

import tools.soak
from support.config import ConfigError, SuiteConfig
from tools.soak import QUICK_RUNS, QUICK_USERS, raise_open_files_limit, soak


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.soak",
                                     description=str(tools.soak.__doc__).splitlines()[0])
    parser.add_argument("--gateway-url", help="ws://HOST:PORT/ws of a running gateway "
                        "(default: start gateway processes of our own)")
    parser.add_argument("--database-url", help="the database the gateway uses")
    parser.add_argument("--redis-url", help="the Redis the gateway uses")
    parser.add_argument("--jwt-secret", help="the gateway's signing secret")
    parser.add_argument("--users", type=int, help="users at once (default 300)")
    parser.add_argument("--runs", type=int, help="questions per user (default 3)")
    parser.add_argument("--gateways", type=int, default=2,
                        help="gateway processes to start without --gateway-url (default 2)")
    parser.add_argument("--quick", action="store_true",
                        help=f"a bounded run for CI: {QUICK_USERS} users, {QUICK_RUNS} "
                        "questions each, unless --users/--runs say otherwise")
    parser.add_argument("--timeout", type=float, help="seconds to wait for one expected "
                        "event (default 5; the crowd allows more)")
    parser.add_argument("--keep", action="store_true", help="keep the soak's rows and keys")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    userdata: dict[str, Any] = {"backends": "real"}
    for key in ("gateway_url", "database_url", "redis_url", "jwt_secret", "timeout"):
        value = getattr(args, key)
        if value is not None:
            userdata[key] = str(value)
    try:
        config = SuiteConfig.load(userdata)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.gateways < 1:
        print("error: --gateways must be at least 1", file=sys.stderr)
        return 2
    users = args.users or (QUICK_USERS if args.quick else 300)
    runs = args.runs or (QUICK_RUNS if args.quick else 3)
    limit = raise_open_files_limit()
    if limit < users * 2 + 64:
        print(f"warning: {limit} open files allowed; {users} users may need more",
              file=sys.stderr)
    report = asyncio.run(soak(config, users=users, runs=runs, gateways=args.gateways,
                              keep=args.keep))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
