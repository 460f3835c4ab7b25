"""`python -m tools.services up|down|status|env`: the command line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tools.services.daemon import (
    EXIT_FAILED,
    EXIT_NOT_RUNNING,
    EXIT_OK,
    EXIT_PARTLY_RUNNING,
    ServicesError,
    say,
)
from tools.services.local import DEFAULT_DIR, DEFAULT_TIMEOUT_S, LocalServices


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.services",
        description="Start, stop or inspect local PostgreSQL and Redis for backends=real.",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(os.environ.get("GOLDEN_PATH_SERVICES_DIR", "") or DEFAULT_DIR),
        help="private directory for data, logs and settings (default ./.services)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help="seconds to wait for a service to start or stop (default 60)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start both; print `export GOLDEN_PATH_*=...` lines")
    down = sub.add_parser("down", help="stop both (idempotent)")
    down.add_argument("--purge", action="store_true", help="also delete their data")
    sub.add_parser("status", help="say what runs")
    sub.add_parser("env", help="print the `export` lines of the running services")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit code."""
    args = _parser().parse_args(argv)
    services = LocalServices(args.dir, timeout=args.timeout)
    try:
        if args.command == "up":
            urls = services.up()
            print("\n".join(urls.shell_lines()), flush=True)
            say(f"settings written to {services.env_file} and {services.json_file}")
            return EXIT_OK
        if args.command == "down":
            stopped = services.down(purge=args.purge)
            say(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
            return EXIT_OK
        if args.command == "env":
            if not services.env_file.is_file():
                say(f"no services are up in {services.root}; run: python -m tools.services up")
                return EXIT_NOT_RUNNING
            print(services.env_file.read_text(encoding="utf-8"), end="")
            return EXIT_OK
        found = services.status()
        for item in found:
            print(item.line())
        running = sum(item.running for item in found)
        if running == len(found):
            return EXIT_OK
        return EXIT_NOT_RUNNING if running == 0 else EXIT_PARTLY_RUNNING
    except ServicesError as exc:
        say(f"error: {exc}")
        return exc.exit_code
    except OSError as exc:
        say(f"error: {exc}")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
