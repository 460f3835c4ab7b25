"""Every statement of the golden path has a cache key, so SQLAlchemy compiles it once
per engine and reuses it. A statement without one ("[no key]" in SQLAlchemy's log) is
compiled again at every execution, a cost paid on every connection or run (the user row's
"insert or ignore" was such a statement). Checked on SQLite, and on PostgreSQL when
GOLDEN_PATH_DATABASE_URL names one."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid

import pytest
from conftest import make_settings, running_service, wire_client

DATABASE_URL = os.environ.get("GOLDEN_PATH_DATABASE_URL", "")
SQL_LOG = "sqlalchemy.engine.Engine"


def _databases() -> list[object]:
    postgres = pytest.param(
        DATABASE_URL, id="postgresql",
        marks=pytest.mark.skipif(not DATABASE_URL.startswith("postgresql+asyncpg://"),
                                 reason="GOLDEN_PATH_DATABASE_URL (postgresql+asyncpg) not set"))
    return [pytest.param(None, id="sqlite"), postgres]


def _uncached(records: list[logging.LogRecord]) -> list[str]:
    """The statements SQLAlchemy logged as compiled without a cache key (the statement
    is the record before its "[no key …]" parameters line)."""
    messages = [record.getMessage() for record in records if record.name == SQL_LOG]
    return [messages[i - 1] for i, message in enumerate(messages)
            if message.startswith("[no key") and i > 0]


@pytest.mark.parametrize("database_url", _databases())
def test_the_golden_path_compiles_each_statement_once(
    database_url: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=SQL_LOG)

    async def scenario() -> None:
        async with running_service(make_settings(database_url=database_url)) as service:
            caplog.clear()  # the schema's DDL is compiled once by nature
            for name in ("alice", "bob"):
                async with wire_client(service, f"{name}-{uuid.uuid4().hex[:8]}") as client:
                    await client.ask("What is 2 + 3?", message_id="m-1")
                    frames = await client.until_completed()
                    assert frames[-1]["payload"]["status"] == "completed", frames[-1]
            await service.runs.wait_idle()

    asyncio.run(scenario())
    assert _uncached(caplog.records) == []
    assert any("INSERT INTO users" in r.getMessage() for r in caplog.records), (
        "the check saw no statement of the golden path; is SQLAlchemy's log captured?")
