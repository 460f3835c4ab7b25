"""`python -m tools.services` starts real PostgreSQL and Redis that real clients can use,
and stops them again, as `backends=real` and CI rely on.

The services run in a private directory of each test, on their own ports, so they never
touch the ones a developer or CI already has up. Without the binaries the tests are
skipped with the reason, except in CI (CI=true), where a missing binary is a failure.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import require_real_services

from tools.services import (
    EXIT_MISSING_BINARY,
    EXIT_NOT_RUNNING,
    EXIT_OK,
    MissingBinaryError,
    find_postgres_bindir,
    find_redis_server,
)

PROJECT = Path(__file__).resolve().parents[2]




def services(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.services", "--dir", str(directory), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT,
        stdin=subprocess.DEVNULL,
    )


def parse_exports(stdout: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in stdout.splitlines():
        words = shlex.split(line)
        assert words[0] == "export", f"not an export line: {line!r}"
        name, _, value = words[1].partition("=")
        found[name] = value
    return found


def answers(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((parts.hostname or "", parts.port or 0)) == 0


@pytest.fixture
def services_dir(tmp_path: Path) -> Iterator[Path]:
    require_real_services()
    directory = tmp_path / "services"
    yield directory
    services(directory, "down", "--purge")


async def use_postgres(url: str) -> tuple[str, list[str]]:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        version = await conn.fetchval("SHOW server_version")
        await conn.execute("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)")
        await conn.executemany("INSERT INTO notes (body) VALUES ($1)", [("one",), ("two",)])
        rows = await conn.fetch("SELECT body FROM notes ORDER BY id")
        return str(version), [row["body"] for row in rows]
    finally:
        await conn.close()


def use_redis(url: str) -> tuple[object, int]:
    import redis

    client = redis.Redis.from_url(url)
    try:
        key = f"gp:test:{uuid.uuid4().hex}"
        client.set(key, "hello", ex=60)
        return client.get(key), int(client.ttl(key))
    finally:
        client.close()


def test_up_status_use_down(services_dir: Path) -> None:
    up = services(services_dir, "up")
    assert up.returncode == EXIT_OK, up.stderr
    env = parse_exports(up.stdout)
    assert set(env) == {"GOLDEN_PATH_DATABASE_URL", "GOLDEN_PATH_REDIS_URL"}
    database_url = env["GOLDEN_PATH_DATABASE_URL"]
    redis_url = env["GOLDEN_PATH_REDIS_URL"]
    assert database_url.startswith("postgresql+asyncpg://golden:")
    assert database_url.endswith("/golden_path")
    assert urlsplit(database_url).hostname == "127.0.0.1"
    assert redis_url.startswith("redis://") and urlsplit(redis_url).hostname == "127.0.0.1"
    assert (services_dir / "env").read_text() == up.stdout
    assert '"database_url"' in (services_dir / "services.json").read_text()

    status = services(services_dir, "status")
    assert status.returncode == EXIT_OK, status.stdout + status.stderr
    assert "postgres: running" in status.stdout and "redis: running" in status.stdout

    version, bodies = asyncio.run(use_postgres(database_url))
    assert int(version.split(".")[0]) >= 13
    assert bodies == ["one", "two"]
    value, ttl = use_redis(redis_url)
    assert value == b"hello"
    assert 0 < ttl <= 60

    again = services(services_dir, "up")
    assert again.returncode == EXIT_OK, again.stderr
    assert parse_exports(again.stdout) == env, "a second `up` keeps the running services"
    assert "already running" in again.stderr

    down = services(services_dir, "down")
    assert down.returncode == EXIT_OK, down.stderr
    assert "stopped: redis, postgres" in down.stderr
    assert not answers(database_url) and not answers(redis_url)
    assert not (services_dir / "env").exists()

    stopped = services(services_dir, "status")
    assert stopped.returncode == EXIT_NOT_RUNNING, stopped.stdout
    assert "postgres: stopped" in stopped.stdout and "redis: stopped" in stopped.stdout

    twice = services(services_dir, "down")
    assert twice.returncode == EXIT_OK, twice.stderr
    assert "nothing was running" in twice.stderr


def test_data_survives_down_and_up(services_dir: Path) -> None:
    first = parse_exports(services(services_dir, "up").stdout)
    asyncio.run(use_postgres(first["GOLDEN_PATH_DATABASE_URL"]))
    assert services(services_dir, "down").returncode == EXIT_OK

    second = services(services_dir, "up")
    assert second.returncode == EXIT_OK, second.stderr
    url = parse_exports(second.stdout)["GOLDEN_PATH_DATABASE_URL"]

    async def count() -> int:
        import asyncpg

        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            return int(await conn.fetchval("SELECT count(*) FROM notes"))
        finally:
            await conn.close()

    assert asyncio.run(count()) == 2


def test_status_of_nothing(tmp_path: Path) -> None:
    result = services(tmp_path / "never", "status")
    assert result.returncode == EXIT_NOT_RUNNING
    assert "postgres: stopped" in result.stdout and "redis: stopped" in result.stdout
    down = services(tmp_path / "never", "down")
    assert down.returncode == EXIT_OK
    assert "nothing was running" in down.stderr


def test_missing_postgres_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(MissingBinaryError, match=r"Debian package `postgresql`"):
        find_postgres_bindir(candidates=[tmp_path], path=str(tmp_path))


def test_missing_redis_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(MissingBinaryError, match=r"Debian package `redis-server`"):
        find_redis_server(path=str(tmp_path))


def test_missing_redis_exits_with_its_own_code(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    env = dict(os.environ, PATH=str(bindir))
    result = subprocess.run(
        [sys.executable, "-m", "tools.services", "--dir", str(tmp_path / "s"), "up"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode == EXIT_MISSING_BINARY and "postgresql" in result.stderr:
        pytest.skip("PostgreSQL is not installed, so redis-server is never looked up")
    assert result.returncode == EXIT_MISSING_BINARY, result.stderr
    assert "apt-get install -y redis-server" in result.stderr
    assert result.stdout == ""
