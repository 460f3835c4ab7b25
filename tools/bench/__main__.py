"""Command line of the benchmark: `python -m tools.bench [--backends embedded|real]
[--quick] [--out DIR]`.

Starts the suite's stack with the same settings the suite reads (DESIGN §4), runs the
phases (`golden_path`, `store`, `cache`, `concurrent`, `idle`) on its loop, prints the
table and writes the reports.
Exit status 0 when the reports were written (whatever the targets say: they are read
from the reports, not enforced), 2 when the stack or the settings are unusable.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from dataclasses import asdict
from pathlib import Path

from support import loop
from support import stack as stack_module
from support.config import ConfigError, SuiteConfig
from support.runinfo import RUN
from tools.bench.cache import cache_figures
from tools.bench.concurrent import concurrent_users
from tools.bench.context import Bench, Plan
from tools.bench.figures import FIGURE_NAMES, Figure
from tools.bench.golden_path import connect_auth, run_latency, runs_per_second
from tools.bench.idle import idle_connections
from tools.bench.rawdb import RawDatabase
from tools.bench.report import document, machine_info, table, write
from tools.bench.store import store_figures
from tools.bench.wire import RawServer

DEFAULT_OUT = Path("reports")
RUN_TIMEOUT_S = 900.0


def raise_open_files_limit(needed: int) -> int:
    """Raise this process's soft limit on open files to `needed` (capped at the hard
    limit; children inherit it); the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return soft
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def _say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


async def run_all(stack: stack_module.Stack, plan: Plan, db: RawDatabase) -> list[Figure]:
    """Every phase in turn on the running stack, the baselines on `db` (disposed at the
    end); the figures in the order of the reports."""
    bench = Bench(stack, plan, db)
    raw_server = await RawServer.start()
    by_name: dict[str, Figure] = {}
    try:
        phases = (
            ("connect and authenticate", lambda: connect_auth(bench, raw_server)),
            ("run latency, one user", lambda: run_latency(bench)),
            ("store", lambda: store_figures(bench)),
            ("cache", lambda: cache_figures(bench)),
            (f"runs per second, {plan.throughput_users} users",
             lambda: runs_per_second(bench)),
            (f"{plan.concurrent_users} users at once",
             lambda: concurrent_users(bench, raw_server)),
            (f"{plan.idle_connections} idle connections",
             lambda: idle_connections(bench)),
        )
        for label, phase in phases:
            started = time.perf_counter()
            for figure in await phase():
                by_name[figure.name] = figure
            _say(f"{label}: {time.perf_counter() - started:.1f} s")
    finally:
        await raw_server.close()
        if stack.config.backends != "embedded":
            await stack.storage.delete_users(bench.users)
            await stack.cache.delete_users(bench.users)
        await bench.db.dispose()
    order = [name for name in FIGURE_NAMES if name in by_name]
    return [by_name[name] for name in order]


def database_paths(db_path: str) -> dict[str, str]:
    """How the service and the baselines reach the database, for the reports."""
    return {"database, service and baselines": (
        f"{db_path}; the service through its repositories (chat.store.Store), the "
        "baselines as raw SQLAlchemy Core statements")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--backends", choices=("embedded", "real"),
                        help="embedded (default) or real: PostgreSQL and Redis named by "
                             "GOLDEN_PATH_DATABASE_URL and GOLDEN_PATH_REDIS_URL")
    parser.add_argument("--quick", action="store_true",
                        help="fewer samples, for CI (about half a minute)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="directory of bench.json and bench.md (default: reports)")
    args = parser.parse_args(argv)
    try:
        config = SuiteConfig.load({"backends": args.backends or ""})
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if config.external_gateway:
        print("error: the benchmark starts its own gateway to measure its store and cache; "
              "unset GOLDEN_PATH_GATEWAY_URL", file=sys.stderr)
        return 2
    plan = Plan.quick() if args.quick else Plan.full()
    raise_open_files_limit(2 * (plan.idle_connections + plan.concurrent_users
                                + plan.connect_n) + 1024)
    machine = machine_info()
    started = time.perf_counter()
    try:
        stack = stack_module.start(config)
    except stack_module.StackUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        db = RawDatabase(str(stack.service.database_url))
        figures = loop.run(run_all(stack, plan, db), timeout=RUN_TIMEOUT_S,
                           what="the benchmark")
    finally:
        stack_module.stop(stack)
    backends = {"mode": config.backends, **RUN.backends,
                **database_paths(db.path),
                "idle-connection gateway": "python -m chat serve in its own process, on the "
                + ("same kind of backends, embedded in that process" if config.backends ==
                   "embedded" else "same PostgreSQL and Redis")}
    doc = document(figures, backends, "quick" if args.quick else "full", machine,
                   asdict(plan), time.perf_counter() - started)
    json_path, md_path = write(args.out, doc)
    print(table(doc))
    print(f"\nwrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
