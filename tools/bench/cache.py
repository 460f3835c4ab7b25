"""The cache figures: result entries written and read through the service's cache layer
(`chat.cache.Cache`), beside the raw redis-py client it wraps.

Both sides use the very client object the layer holds (fakeredis in the embedded stack,
redis-py against a Redis server on real backends), so the ratio is what the layer's key
layout, JSON and in-flight limit cost. Sequential, and as one batch: a pipeline for the
raw client; the layer's batch calls issued together for the service.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from support.contract import RESULT_TTL_S, result_key
from tools.bench.context import Bench
from tools.bench.figures import Figure
from tools.bench.timing import paired, rate_figure

__all__ = ["cache_figures"]

RESULT_VALUE = {"status": "completed", "response": "2 + 3 = 5", "thread_id": "t-bench"}


def client_path(client: Any) -> str:
    """How both sides reach the cache, in words for the reports."""
    library = type(client).__module__.split(".")[0]
    name = "redis-py" if library == "redis" else library
    return f"the cache layer's own {name} asyncio client, both sides"


async def cache_figures(b: Bench) -> list[Figure]:
    """Sequential set+get rounds and batches, through the layer and on its raw client."""
    cache = b.service.cache
    client = cache.redis
    user_id = b.user("cache")
    payload = json.dumps(RESULT_VALUE)
    pairs = b.plan.cache_round_ops // 2
    half = b.plan.cache_batch_ops // 2
    runs = [f"run-{j}" for j in range(pairs)]
    keys = [result_key(user_id, f"raw-{j}") for j in range(pairs)]
    for run_id in runs:
        await cache.put_result(user_id, run_id, RESULT_VALUE)
    for key in keys:
        await client.set(key, payload, ex=RESULT_TTL_S)

    async def service_sequential(i: int) -> None:
        for run_id in runs:
            await cache.put_result(user_id, run_id, RESULT_VALUE)
            await cache.get_result(user_id, run_id)

    async def raw_sequential(i: int) -> None:
        for key in keys:
            await client.set(key, payload, ex=RESULT_TTL_S)
            await client.get(key)

    async def service_batch(i: int) -> None:
        await asyncio.gather(
            cache.put_results(user_id, {f"batch-{j}": RESULT_VALUE for j in range(half)}),
            cache.get_results(user_id, runs[:half]))

    async def raw_batch(i: int) -> None:
        pipe = client.pipeline(transaction=False)
        for j in range(half):
            pipe.set(result_key(user_id, f"raw-batch-{j}"), payload, ex=RESULT_TTL_S)
        for key in keys[:half]:
            pipe.get(key)
        await pipe.execute()

    warm = max(1, b.plan.warmup // 3)
    seq_s, raw_seq_s = await paired(b.plan.cache_rounds, warm, service_sequential,
                                    raw_sequential)
    batch_s, raw_batch_s = await paired(b.plan.cache_rounds, warm, service_batch, raw_batch)
    path = client_path(client)
    return [
        rate_figure("cache.set_get_ops_per_s", pairs * 2, seq_s, raw_seq_s,
                    "raw redis-py client, sequential set+get",
                    f"put_result then get_result, one after the other, rounds of "
                    f"{pairs * 2} ops", path),
        rate_figure("cache.batch_ops_per_s", half * 2, batch_s, raw_batch_s,
                    "raw redis-py client, one pipeline (transaction=False)",
                    f"{half} results written and {half} read in one batch through the "
                    f"layer's put_results and get_results, issued together; batches of "
                    f"{half * 2} ops", path),
    ]
