"""Shared helpers for the chat service tests: settings, an in-process service on an
ephemeral port, and a small client that speaks the wire contract over a real socket.

No async test plugin is needed: each test runs its scenario with `asyncio.run`, and the
helpers here are async context managers used inside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
from collections.abc import AsyncIterator
from typing import Any, NoReturn

import fakeredis
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from websockets.asyncio.client import ClientConnection, connect

from chat.app import ChatService, start_service
from chat.auth import issue_token
from chat.config import Settings
from tools.services import unavailable_reason

WAIT_S = 5.0


def make_settings(**overrides: Any) -> Settings:
    """Settings with a fresh secret; no database or Redis URL (embedded defaults)."""
    values: dict[str, Any] = {"jwt_secret": secrets.token_urlsafe(48)}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@contextlib.asynccontextmanager
async def running_service(settings: Settings, **kwargs: Any) -> AsyncIterator[ChatService]:
    """A chat service on 127.0.0.1:0 with its own fakeredis, closed afterwards."""
    kwargs.setdefault("redis", fakeredis.FakeAsyncRedis())
    service = await start_service(settings, **kwargs)
    try:
        yield service
    finally:
        await service.close()


@contextlib.asynccontextmanager
async def probe_engine(service: ChatService) -> AsyncIterator[AsyncEngine]:
    """An independent engine on the service's database, as an outside reader would open."""
    engine = create_async_engine(service.database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def query(engine: AsyncEngine, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        rows = await connection.execute(text(sql), params)
        return [dict(row._mapping) for row in rows]


class WireClient:
    """A client that knows only the wire contract: JSON frames over one WebSocket."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.established: dict[str, Any] = {}

    async def send(self, frame: dict[str, Any] | str) -> None:
        await self.connection.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def ask(self, content: str, *, thread_id: str | None = None,
                  message_id: str | None = None) -> None:
        await self.send({"type": "user_message", "content": content, "thread_id": thread_id,
                         "message_id": message_id})

    async def receive(self, timeout: float = WAIT_S) -> dict[str, Any]:
        try:
            raw = await asyncio.wait_for(self.connection.recv(), timeout)
        except TimeoutError:
            raise AssertionError(f"expected a frame within {timeout}s, got nothing") from None
        return json.loads(raw)

    async def until_completed(self, timeout: float = WAIT_S) -> list[dict[str, Any]]:
        """Frames up to and including the next `agent_completed`."""
        frames: list[dict[str, Any]] = []
        while True:
            frame = await self.receive(timeout)
            frames.append(frame)
            if frame.get("type") == "agent_completed":
                return frames

    async def nothing_within(self, seconds: float) -> None:
        try:
            frame = await asyncio.wait_for(self.connection.recv(), seconds)
        except TimeoutError:
            return
        raise AssertionError(f"expected no frame, got {frame}")


@contextlib.asynccontextmanager
async def wire_client(service: ChatService, user_id: str, *,
                      token: str | None = None) -> AsyncIterator[WireClient]:
    """A connected client for `user_id`; closes normally (code 1000) at the end."""
    token = token or issue_token(service.gateway.verifier.settings, user_id)
    async with connect(service.url,
                       additional_headers={"Authorization": f"Bearer {token}"}) as connection:
        client = WireClient(connection)
        client.established = await client.receive()
        yield client


def real_services_unavailable(reason: object) -> NoReturn:
    """Skip a test that needs real PostgreSQL and Redis, or fail it in CI, where the
    gate installs them and a skip would hide that they did not start."""
    message = f"real services unavailable: {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_real_services() -> None:
    """Go on only when the binaries and client libraries for real services are here."""
    reason = unavailable_reason()
    if reason is not None:
        real_services_unavailable(reason)
