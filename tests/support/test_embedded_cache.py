"""The run's embedded fakeredis: what a process reaches over its TCP front is the very
data the service's client and the probe see, pub/sub included; closing stops the front."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio
from redis.exceptions import ConnectionError as RedisConnectionError

from support.embedded_cache import EmbeddedCache


def test_a_process_over_tcp_shares_the_data_and_the_channels() -> None:
    async def scenario() -> tuple[str | None, int, str | None]:
        cache = EmbeddedCache()
        url = cache.url()
        assert cache.url() == url  # one front, started once
        remote = redis.asyncio.from_url(url, decode_responses=True)
        try:
            await remote.set("gp:alice:session:s1", "{}", ex=3600)
            value = await cache.probe.get_json("gp:alice:session:s1")
            left = await cache.probe.pttl("gp:alice:session:s1")
            listening = remote.pubsub()
            await listening.subscribe("gp:alice:events:t1")
            await listening.get_message(timeout=1)
            await cache.service_client.publish("gp:alice:events:t1", "hello")
            message = await listening.get_message(ignore_subscribe_messages=True, timeout=2)
            await listening.aclose()
            return (None if value is None else str(value)), left, (message or {}).get("data")
        finally:
            await remote.aclose()
            await cache.close()
            await cache.probe.close()

    value, left, data = asyncio.run(scenario())
    assert value == "{}"
    assert 3_598_000 < left <= 3_600_000
    assert data == "hello"


def test_closing_stops_the_front() -> None:
    async def scenario() -> None:
        cache = EmbeddedCache()
        url = cache.url()
        await cache.close()
        await cache.probe.close()
        late = redis.asyncio.from_url(url, socket_connect_timeout=1)
        try:
            with pytest.raises(RedisConnectionError):
                await late.ping()
        finally:
            await late.aclose()

    asyncio.run(scenario())
