"""Recovery: gateways that share a database watch each other, and end what a dead one left.

Every `HEARTBEAT_INTERVAL_S` each gateway rewrites its own heartbeat in the cache (in a
task that nothing else can hold up) and sweeps the `running` runs and `active` sessions
of the others. A gateway whose heartbeat it saw and which has then been missing for
`MISSING_GRACE_S` died without closing (SIGKILL, power loss): its runs are marked
`failed` with `error.code` `interrupted` and get their closing `agent_completed`, so
clients following or resuming them see them end, and its sessions become
`disconnected`. A gateway that starts again under the same id (same host and port)
fails its predecessor's runs at once, at start-up. The same rounds retry the repairs
owed to a backend that was away (chat.runs.faults).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from chat.cache import GATEWAY_TTL_S, Cache
from chat.runs.events import EventStore, timestamp
from chat.runs.faults import CACHE_WRITE_TIMEOUT_S, Repairs
from chat.runs.sessions import Sessions
from chat.runs.submission import Submissions
from chat.store import Repositories, Store

__all__ = ["HEARTBEAT_INTERVAL_S", "MISSING_GRACE_S", "TAKEOVER_S", "Recovery"]

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_S = 1.0
MISSING_GRACE_S = 2.0
# The longest a gateway that has seen another one alive takes to end that one's runs once
# it died: its last heartbeat expires, one sweep finds it missing, the grace runs out, and
# the next sweep ends them.
TAKEOVER_S = GATEWAY_TTL_S + HEARTBEAT_INTERVAL_S + MISSING_GRACE_S + HEARTBEAT_INTERVAL_S


class Recovery:
    """This gateway's heartbeat, and the upkeep that ends the work of dead gateways."""

    def __init__(self, store: Store, cache: Cache, gateway_id: str, *, submissions: Submissions,
                 events: EventStore, sessions: Sessions, cache_repairs: Repairs,
                 storage_repairs: Repairs) -> None:
        self.store = store
        self.cache = cache
        self.gateway_id = gateway_id
        self.submissions = submissions
        self.events = events
        self.sessions = sessions
        self.cache_repairs = cache_repairs
        self.storage_repairs = storage_repairs
        self._maintenance: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._started_at = timestamp()
        self._seen_alive: set[str] = set()
        self._missing_since: dict[str, float] = {}
        self._cache_down = False

    async def start_heartbeat(self) -> None:
        """Announce this gateway as alive in the cache and keep it so every
        `HEARTBEAT_INTERVAL_S` until `stop`, in a task of its own (nothing else may delay
        a heartbeat); and, in another task, sweep for dead gateways and retry repairs."""
        await self._beat()
        self._heartbeat = asyncio.create_task(self._heartbeat_loop(), name="gateway heartbeat")
        self._maintenance = asyncio.create_task(self._maintain(), name="gateway maintenance")

    async def _beat(self) -> bool:
        try:
            async with asyncio.timeout(CACHE_WRITE_TIMEOUT_S):
                await self.cache.put_gateway_alive(self.gateway_id, {
                    "started_at": self._started_at})
        except Exception as exc:  # noqa: BLE001 - a missed beat is retried next time
            if not self._cache_down:
                log.warning("Redis away: gateway heartbeat not written (%s)", exc)
            self._cache_down = True
            return False
        if self._cache_down:
            log.warning("Redis is back: heartbeat written")
        self._cache_down = False
        return True

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_INTERVAL_S)
            await self._beat()

    async def _maintain(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_INTERVAL_S)
            await self.tick()

    async def tick(self) -> None:
        """One round of upkeep: repairs (the cache's only while it answers), then the
        sweep for dead gateways."""
        if not self._cache_down:
            await self.cache_repairs.run()
        await self.storage_repairs.run()
        try:
            await self.sweep()
        except Exception as exc:  # noqa: BLE001 - a backend away: next round
            log.debug("sweep for dead gateways skipped: %s", exc)

    async def recover(self) -> int:
        """At start-up: fail the runs left `running`, and mark the sessions left `active`,
        by gateways that are gone.

        Every run and session records the gateway (process) that holds it. Those of this
        gateway's own id belong to an earlier process with the same id (same host and
        port), which is gone; those of another gateway are orphaned when that gateway has
        no heartbeat. Each orphaned run gets status `failed`, error_code `interrupted` and
        its closing events; each orphaned session becomes `disconnected` and its
        connection key goes. With the embedded in-process cache no other gateway's
        heartbeat is visible, so there a single gateway per database is assumed.
        """
        async def read(repos: Repositories) -> tuple[list[Any], set[str]]:
            return (await repos.runs.list_running(),
                    await repos.sessions.gateways_with_active())

        running, holding = await self.store.read(read)
        running = [run for run in running if run.id not in self.submissions.running]
        others = ({run.gateway_id for run in running if run.gateway_id} | holding) - {
            self.gateway_id}
        live = await self.cache.live_gateways(others) if others else set()
        self._seen_alive |= live
        dead = (others - live) | {self.gateway_id}
        failed = await self._fail_orphans(
            [run for run in running if run.gateway_id is None or run.gateway_id in dead])
        await self.sessions.release(dead & (holding | {self.gateway_id}))
        return failed

    async def sweep(self) -> int:
        """Fail the runs and release the sessions of other gateways that died without
        closing: gateways whose heartbeat this one has seen, missing for
        `MISSING_GRACE_S` (so a Redis restart, after which every gateway writes its
        heartbeat again within a second, is not taken for deaths). Gateways never seen
        alive here (another deployment's, with a different cache) are left alone."""
        async def read(repos: Repositories) -> tuple[list[Any], set[str]]:
            return (await repos.runs.list_running(except_gateway=self.gateway_id),
                    await repos.sessions.gateways_with_active(except_gateway=self.gateway_id))

        running, holding = await self.store.read(read)
        others = {run.gateway_id for run in running if run.gateway_id} | holding
        self._seen_alive &= others
        for gone in set(self._missing_since) - others:
            del self._missing_since[gone]
        if not others:
            return 0
        live = await self.cache.live_gateways(others)
        now = time.monotonic()
        dead: set[str] = set()
        for gateway in others:
            if gateway in live:
                self._seen_alive.add(gateway)
                self._missing_since.pop(gateway, None)
            elif gateway in self._seen_alive:
                since = self._missing_since.setdefault(gateway, now)
                if now - since >= MISSING_GRACE_S:
                    dead.add(gateway)
        if not dead:
            return 0
        log.warning("gateway(s) %s stopped without closing", ", ".join(sorted(dead)))
        failed = await self._fail_orphans([run for run in running if run.gateway_id in dead])
        await self.sessions.release(dead & holding)
        return failed

    async def _fail_orphans(self, orphans: list[Any]) -> int:
        failed = 0
        for run in orphans:
            if await self.events.fail_run(run.user_id, run.thread_id, run.id, "interrupted",
                                          "the gateway running this run stopped"):
                failed += 1
        if failed:
            log.warning("marked %d interrupted run(s) failed", failed)
        return failed

    async def stop(self) -> None:
        """Stop the heartbeat and the upkeep, do the storage repairs still owed, and
        remove this gateway's heartbeat (it would expire anyway)."""
        if self._maintenance is None:
            return
        background = [t for t in (self._maintenance, self._heartbeat) if t is not None]
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        self._maintenance = None
        self._heartbeat = None
        await self.storage_repairs.run()
        try:
            async with asyncio.timeout(CACHE_WRITE_TIMEOUT_S):
                await self.cache.drop_gateway(self.gateway_id)
        except Exception as exc:  # noqa: BLE001 - the key expires anyway
            log.warning("gateway heartbeat not removed: %s", exc)
