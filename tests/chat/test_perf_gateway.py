"""The gateway's cost per connection and what it tells the console: compression stays on
with the small windows that keep an idle connection cheap; a refused handshake is one log
line, never a traceback; the database URL is shown without its password."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys

import pytest
import redis.asyncio
from conftest import WAIT_S, running_service, wire_client
from sqlalchemy.engine import make_url
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from chat.app import DEFLATE_WINDOW_BITS
from chat.auth import issue_token
from chat.cache import Cache
from chat.config import Settings
from support.processes import free_port

DATABASE_URL = os.environ.get("GOLDEN_PATH_DATABASE_URL", "")


def test_compression_is_negotiated_with_small_windows(settings: Settings) -> None:
    async def scenario() -> None:
        async with running_service(settings) as service, wire_client(service, "alice") as client:
            offered = client.connection.response.headers["Sec-WebSocket-Extensions"]
            assert "permessage-deflate" in offered
            assert f"server_max_window_bits={DEFLATE_WINDOW_BITS}" in offered
            assert f"client_max_window_bits={DEFLATE_WINDOW_BITS}" in offered
            await client.ask("What is 6 * 7?")
            frames = await client.until_completed()
            assert frames[-1]["payload"]["response"] == "6 * 7 = 42"

    asyncio.run(scenario())


def _records_of(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if text in r.getMessage()]


def test_a_refused_handshake_is_one_log_line_without_traceback(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with running_service(settings) as service:
            with pytest.raises(InvalidStatus) as refused:
                async with connect(service.url,
                                   additional_headers={"Authorization": "Bearer nope"}):
                    pass
            assert refused.value.response.status_code == 401
            unreachable = redis.asyncio.Redis(host="127.0.0.1", port=free_port(),
                                              socket_connect_timeout=1)
            service.gateway.verifier.cache = Cache(unreachable)
            token = issue_token(settings, "alice")
            with pytest.raises(InvalidStatus) as unavailable:
                async with connect(service.url,
                                   additional_headers={"Authorization": f"Bearer {token}"}):
                    pass
            assert unavailable.value.response.status_code == 503
            assert json.loads(unavailable.value.response.body)["error"] == "unavailable"
            await unreachable.aclose()

    caplog.set_level(logging.INFO)
    asyncio.run(scenario())
    assert [r.levelno for r in _records_of(caplog, "refused: malformed")] == [logging.INFO]
    assert [r.levelno for r in _records_of(caplog, "sign-in not checked")] == [logging.WARNING]
    assert [r for r in caplog.records if r.exc_info] == []


@pytest.mark.skipif(not DATABASE_URL.startswith("postgresql+asyncpg://"),
                    reason="GOLDEN_PATH_DATABASE_URL (postgresql+asyncpg) not set")
def test_serve_shows_the_database_without_its_password(settings: Settings) -> None:
    password = make_url(DATABASE_URL).password
    assert password
    env = {**os.environ, "GOLDEN_PATH_JWT_SECRET": str(settings.jwt_secret)}
    env.pop("GOLDEN_PATH_REDIS_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "chat", "serve", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               text=True)
    try:
        line = process.stdout.readline() if process.stdout else ""
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=WAIT_S * 4)
    assert line.startswith("chat service listening on "), (line, errors[-500:])
    assert password not in line and password not in errors
    assert "***" in line
