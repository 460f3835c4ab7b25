"""The cache layer under a crowd and in batches: callers beyond the client's connection
pool wait instead of failing, and batch operations keep the key layout of DESIGN §6."""

from __future__ import annotations

import asyncio
import json

import fakeredis

from chat.cache import RESERVED_CONNECTIONS, RESULT_TTL_S, Cache, concurrency_for, result_key

CROWD = 300


def test_a_crowd_beyond_the_pool_waits_instead_of_failing() -> None:
    async def scenario() -> None:
        client = fakeredis.FakeAsyncRedis()
        cache = Cache(client)
        assert cache.concurrency == client.connection_pool.max_connections - RESERVED_CONNECTIONS
        await cache.revoke("jti-7", 2_000_000_000)
        outcomes = await asyncio.gather(
            *(cache.is_revoked(f"jti-{i}") for i in range(CROWD)),
            *(cache.put_result("alice", f"run-{i}", {"status": "completed"})
              for i in range(CROWD)),
            return_exceptions=True)
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        assert errors == [], f"{len(errors)} of {2 * CROWD} calls failed, first: {errors[0]!r}"
        assert [o for o in outcomes[:CROWD] if o] == [True]
        await client.aclose()

    asyncio.run(scenario())


def test_concurrency_follows_the_pool_size() -> None:
    assert concurrency_for(fakeredis.FakeAsyncRedis(max_connections=10)) == 10 - RESERVED_CONNECTIONS
    assert concurrency_for(fakeredis.FakeAsyncRedis(max_connections=2)) == 1
    assert concurrency_for(object()) > 0


def test_batch_results_are_written_and_read_with_their_keys_and_ttl() -> None:
    async def scenario() -> None:
        client = fakeredis.FakeAsyncRedis()
        cache = Cache(client)
        values = {f"run-{i}": {"status": "completed", "response": str(i), "thread_id": "t"}
                  for i in range(25)}
        await cache.put_results("alice", values)
        assert json.loads(await client.get(result_key("alice", "run-3"))) == values["run-3"]
        assert 0 < await client.ttl(result_key("alice", "run-3")) <= RESULT_TTL_S
        found = await cache.get_results("alice", ["run-0", "run-24", "missing"])
        assert found == {"run-0": values["run-0"], "run-24": values["run-24"], "missing": None}
        assert await cache.get_results("bob", ["run-0"]) == {"run-0": None}
        assert await cache.get_results("alice", []) == {}
        await cache.put_results("alice", {})
        await client.aclose()

    asyncio.run(scenario())


def test_session_keys_are_written_together() -> None:
    async def scenario() -> None:
        client = fakeredis.FakeAsyncRedis()
        cache = Cache(client)
        await cache.put_session_keys("alice", "ses_1", {"session_id": "ses_1"},
                                     "conn_1", {"session_id": "ses_1"})
        assert sorted(await client.keys("gp:alice:*")) == [
            b"gp:alice:conn:conn_1", b"gp:alice:session:ses_1"]
        assert await client.ttl("gp:alice:conn:conn_1") > 0
        await client.aclose()

    asyncio.run(scenario())
