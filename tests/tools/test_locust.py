"""The golden path as a Locust user: `tools/locustfile.py` run headless for a few seconds
against `python -m chat serve` in its own process, read back from the CSV files Locust
writes. What is checked is the shape (every step's row, no failure, the load's users
removed afterwards), never speed: on a shared 2-core machine timings are noise.

Without the `load` extra these tests skip, saying so; under CI=true they fail instead,
since CI installs the extra and a skip would hide a broken load tool.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import secrets
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.config import DEFAULT_AUDIENCE, DEFAULT_ISSUER
from support.loop import BackgroundLoop
from support.processes import GatewaySettings, gateway_process

REPO = Path(__file__).resolve().parents[2]
# The rows the issue names, written out here rather than imported from tools.load.user, so
# the test checks the locustfile instead of agreeing with itself.
ROWS = ("connect and greeting", "first event", "whole run to agent_completed")
LOCUST_TIMEOUT_S = 120


def _require_load_extra() -> None:
    missing = [name for name in ("locust", "websocket") if importlib.util.find_spec(name) is None]
    if missing:
        message = (f"the load extra is not installed ({', '.join(missing)} missing): "
                   "pip install -e '.[load]'")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@dataclass(frozen=True)
class Gateway:
    url: str
    secret: str
    database: Path

    @property
    def database_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.database}"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """`python -m chat serve` on a SQLite file of its own (so the test can read what the
    load left behind) and its own fakeredis."""
    _require_load_extra()
    database = tmp_path_factory.mktemp("locust-gateway") / "chat.sqlite3"
    secret = secrets.token_urlsafe(48)
    process = gateway_process(GatewaySettings(secret, DEFAULT_ISSUER, DEFAULT_AUDIENCE,
                                              database_url=f"sqlite+aiosqlite:///{database}"))
    loop = BackgroundLoop(30.0)
    try:
        url = loop.run(process.start(), 60.0, "the gateway to listen")
        yield Gateway(url, secret, database)
    finally:
        loop.run(process.stop(), 30.0, "the gateway to stop")
        process.remove_log()
        loop.stop()


@dataclass(frozen=True)
class LocustRun:
    returncode: int
    output: str
    stats: dict[str, dict[str, str]]
    failures: list[dict[str, str]]
    html: Path


def run_locust(gateway: Gateway, out: Path, *options: str, seconds: int = 3,
               secret: str | None = None) -> LocustRun:
    """`locust -f tools/locustfile.py --headless` against the gateway, with CSV and HTML."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOLDEN_PATH_")}
    env.update({"GOLDEN_PATH_JWT_SECRET": secret or gateway.secret,
                "GOLDEN_PATH_DATABASE_URL": gateway.database_url, "PYTHONUNBUFFERED": "1"})
    prefix, html = out / "load", out / "load.html"
    done = subprocess.run(
        [sys.executable, "-m", "locust", "-f", "tools/locustfile.py", "--host", gateway.url,
         "--headless", "-u", "4", "-r", "4", "-t", f"{seconds}s", "--csv", str(prefix),
         "--html", str(html), "--only-summary", *options],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=LOCUST_TIMEOUT_S,
        check=False,
    )
    with open(f"{prefix}_stats.csv", newline="") as fh:
        stats = {row["Name"]: row for row in csv.DictReader(fh)}
    with open(f"{prefix}_failures.csv", newline="") as fh:
        failures = list(csv.DictReader(fh))
    return LocustRun(done.returncode, done.stdout + done.stderr, stats, failures, html)


def load_users_left(gateway: Gateway) -> list[str]:
    with sqlite3.connect(gateway.database) as connection:
        rows = connection.execute("SELECT id FROM users WHERE id LIKE 'load-%'").fetchall()
    return [row[0] for row in rows]


def removed_counts(output: str) -> list[int]:
    """The users each Locust process said it removed when the test stopped."""
    return [int(n) for n in re.findall(r"removed (\d+) load user\(s\)", output)]


def assert_every_step_passed(run: LocustRun) -> None:
    assert run.returncode == 0, f"locust exited {run.returncode}\n{run.output[-4000:]}"
    for name in ROWS:
        assert name in run.stats, f"no row {name!r} in {sorted(run.stats)}"
        row = run.stats[name]
        assert row["Type"] == "v1", row
        assert int(row["Request Count"]) > 0, row
        assert int(row["Failure Count"]) == 0, (row, run.failures)
    assert int(run.stats["Aggregated"]["Failure Count"]) == 0, run.failures
    assert run.failures == []
    assert run.html.stat().st_size > 0


def test_one_process_runs_every_step_without_failure_and_removes_its_users(
        gateway: Gateway, tmp_path: Path) -> None:
    run = run_locust(gateway, tmp_path)
    assert_every_step_passed(run)
    assert len(removed_counts(run.output)) == 1 and removed_counts(run.output)[0] >= 1, \
        run.output[-4000:]
    assert load_users_left(gateway) == []


def test_several_processes_report_to_one_table_and_each_removes_its_users(
        gateway: Gateway, tmp_path: Path) -> None:
    run = run_locust(gateway, tmp_path, "--processes", "2")
    assert_every_step_passed(run)
    assert sorted(removed_counts(run.output)) == [2, 2], run.output[-4000:]
    assert load_users_left(gateway) == []


def test_a_refused_sign_in_is_a_failure_of_the_connect_row_naming_the_reason(
        gateway: Gateway, tmp_path: Path) -> None:
    run = run_locust(gateway, tmp_path, seconds=2, secret=secrets.token_urlsafe(48))
    assert run.returncode != 0
    connect = run.stats["connect and greeting"]
    assert int(connect["Failure Count"]) == int(connect["Request Count"]) > 0, connect
    assert [f["Name"] for f in run.failures] == ["connect and greeting"], run.failures
    assert "HTTP 401" in run.failures[0]["Error"], run.failures
    assert "bad_signature" in run.failures[0]["Error"], run.failures
