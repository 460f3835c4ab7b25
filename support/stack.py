"""The stack under test, started once per behave run and stopped at the end.

Three shapes, chosen by `SuiteConfig` (DESIGN §4):
- embedded (default): the reference service in-process on 127.0.0.1 and port 0, a SQLite
  file in a private temporary directory, and one fakeredis server shared by the service and
  the cache probe, so probes see exactly what the service wrote; a gateway process the
  suite starts itself reaches that same fakeredis over TCP (`support.embedded_cache`).
- real: the same in-process service on PostgreSQL (`database_url`) and Redis
  (`redis_url`); an unreachable one stops the run within seconds with one message naming
  the URL and what to do. `auto` replaces an unreachable or unnamed part by its embedded
  one, records it in `support.runinfo.RUN.fallbacks` and prints a banner.
- external (`gateway_url`): a gateway someone else runs; nothing of `chat` is imported,
  and the probes read the database and Redis named by the same settings.
- an AG-UI agent (`agent_url`): an agent someone else runs, whose storage and cache the
  suite cannot read (no probes). With `protocol=ag-ui` and no `agent_url` the people
  speak AG-UI to the reference service's `/agui`, on the same port as its `/ws`.

This is the only harness module that imports `chat`, and only inside the embedded
gateway's start-up.
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from support import loop, reach
from support.areas import not_checked
from support.config import SuiteConfig, redact
from support.embedded_cache import EmbeddedCache
from support.probes import CacheProbe, StorageProbe
from support.reach import REACH_TIMEOUT_S, url_unreachable
from support.runinfo import RUN, announce
from support.wire import ChatTarget
from support.wire.agui import AguiTarget
from support.wire.v1 import V1Target

SERVICES_HINT = (
    "start local ones with `python -m tools.services up` and pass the URLs it prints, "
    "or run with -D backends=embedded"
)


class StackUnavailable(RuntimeError):
    """A part of the stack cannot be reached or started; the message is the whole story."""


@dataclass
class Stack:
    """What the scenarios talk to: the gateway URL, the probes, and revocation."""

    config: SuiteConfig
    gateway_url: str
    # None only for an AG-UI agent whose storage the suite cannot read
    storage: StorageProbe | None
    cache: CacheProbe | None
    # The Redis server the stack uses: None when it is an embedded fakeredis.
    redis_url: str | None = None
    service: Any = None
    service_redis: Any = None
    _temp_dir: str | None = None
    embedded_cache: EmbeddedCache | None = None
    # How long the reference service takes, at most, to notice that another gateway on
    # the same storage died without closing (None: a gateway someone else runs).
    takeover_s: float | None = None
    _closed: bool = field(default=False, repr=False)
    _agui: AguiTarget | None = field(default=None, repr=False)

    @property
    def database_url(self) -> str:
        """The database the stack actually uses (after any `auto` fallback)."""
        if self.storage is None:
            raise AssertionError("the suite cannot read this agent's storage")
        return self.storage.database_url

    @property
    def agent_url(self) -> str:
        """The AG-UI endpoint: the agent's, or the reference service's beside its `/ws`."""
        if self.config.agent_url:
            return self.config.agent_url
        parts = urlsplit(self.gateway_url)
        scheme = "https" if parts.scheme == "wss" else "http"
        return f"{scheme}://{parts.netloc}/agui"

    @property
    def target(self) -> ChatTarget:
        """The chat target the scenarios' people reach, over the configured protocol."""
        if self.config.protocol == "ag-ui":
            if self._agui is None:
                self._agui = AguiTarget(self.agent_url, self.config.timeout)
            return self._agui
        return V1Target(self.gateway_url, self.config.timeout)

    async def revoke(self, token: str) -> None:
        """Revoke a sign-in through the product's own operator path, which reads what to
        revoke from the token itself: in process for the embedded service, else the
        command `python -m chat revoke`."""
        if self.service_redis is not None:
            from chat.auth import revoke_by_token

            await revoke_by_token(self.service_redis, token, leeway_s=self.config.jwt_leeway)
            return
        await _revoke_with_operator_tool(self.config, token)

    def redis_url_for_processes(self) -> str | None:
        """The Redis a process the suite starts should use: the stack's own, so that it
        shares the cache with the service and the probes."""
        if self.embedded_cache is not None:
            return self.embedded_cache.url()
        return self.redis_url

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._agui is not None:
            await self._agui.close()
        if self.service is not None:
            await self.service.close()
        if self.embedded_cache is not None:
            await self.embedded_cache.close()
        elif self.service_redis is not None:
            await self.service_redis.aclose()
        for probe in (self.storage, self.cache):
            if probe is not None:
                await probe.close()
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)


def start(config: SuiteConfig) -> Stack:
    """Start the run's loop and the stack on it; StackUnavailable when a part is missing."""
    background = loop.start(config.timeout)
    try:
        return background.run(
            _start(config),
            timeout=max(config.timeout, REACH_TIMEOUT_S) * 4,
            what="the stack to start",
        )
    except BaseException:
        loop.stop()
        raise


def stop(stack: Stack | None) -> None:
    """Stop the stack (if started) and the loop."""
    try:
        if stack is not None:
            loop.run(stack.close(), what="the stack to stop")
    finally:
        loop.stop()


async def _start(config: SuiteConfig) -> Stack:
    opened: list[Any] = []
    try:
        return await _open(config, opened)
    except BaseException:
        for probe in reversed(opened):
            await probe.close()
        raise


async def _open(config: SuiteConfig, opened: list[Any]) -> Stack:
    RUN.mode = config.backends
    RUN.backends.clear()
    RUN.fallbacks.clear()
    RUN.protocol = config.protocol
    RUN.not_checked = not_checked(config)
    if config.external_agent:
        return await _agent_stack(config)

    # Check every named real part first, so one message can name all that are missing.
    storage: StorageProbe | None = None
    cache: CacheProbe | None = None
    wanted_real = config.backends != "embedded"
    if wanted_real and config.database_url:
        storage = StorageProbe(config.database_url)
        opened.append(storage)
    if wanted_real and config.redis_url:
        cache = _real_cache(config.redis_url)
        opened.append(cache)
    db_problem, cache_problem = await asyncio.gather(
        reach.unreachable(storage.check_reachable()) if storage else _nothing(),
        reach.unreachable(cache.check_reachable()) if cache else _nothing(),
    )
    unreachable = [
        (part, url, problem)
        for part, url, problem in (
            ("database", config.database_url, db_problem),
            ("cache", config.redis_url, cache_problem),
        )
        if problem is not None and url
    ]
    if unreachable and (config.backends == "real" or config.external_gateway):
        raise StackUnavailable(
            "; ".join(
                f"{_kind(part, url)} at {redact(url)} cannot be reached ({problem})"
                for part, url, problem in unreachable
            )
            + f". {SERVICES_HINT[0].upper()}{SERVICES_HINT[1:]}"
        )

    database_url = config.database_url
    temp_dir: str | None = None
    if storage is not None and db_problem is not None:
        await storage.close()
        opened.remove(storage)
        storage = None
    if storage is None:
        _record_fallback(config, "database", config.database_url, db_problem, "SQLite (embedded)")
        temp_dir = tempfile.mkdtemp(prefix="golden-path-")
        opened.append(_Closer(functools.partial(shutil.rmtree, temp_dir, ignore_errors=True)))
        database_url = f"sqlite+aiosqlite:///{os.path.join(temp_dir, 'chat.db')}"
        RUN.backends["database"] = "SQLite (embedded; the service on sqlite3 in a thread, probes on aiosqlite)"
    else:
        RUN.backends["database"] = f"{_kind('database', database_url)} at {redact(str(database_url))}"

    service_redis: Any = None
    service_redis_url: str | None = None
    embedded_cache: EmbeddedCache | None = None
    if cache is not None and cache_problem is not None:
        await cache.close()
        opened.remove(cache)
        cache = None
    if cache is None:
        _record_fallback(config, "cache", config.redis_url, cache_problem, "fakeredis (embedded)")
        embedded_cache = EmbeddedCache()
        cache = embedded_cache.probe
        opened.append(cache)
        service_redis = embedded_cache.service_client
        RUN.backends["cache"] = "fakeredis (embedded)"
    else:
        RUN.backends["cache"] = f"Redis at {redact(str(config.redis_url))}"
        service_redis_url = config.redis_url
        if not config.external_gateway:
            service_redis = _redis_client(str(config.redis_url), decode=False)

    if config.external_gateway:
        gateway_url = str(config.gateway_url)
        problem = await url_unreachable(gateway_url)
        if problem is not None:
            raise StackUnavailable(
                f"The chat gateway at {gateway_url} cannot be reached ({problem}); start it "
                "with `python -m chat serve` and the same GOLDEN_PATH_* settings, or drop "
                "gateway_url to run the gateway in-process"
            )
        RUN.backends["gateway"] = f"external at {gateway_url}"
        assert storage is not None, "an external gateway always has a real database"
        stack = Stack(config, gateway_url, storage, cache, service_redis_url)
        return _announced(stack)

    if storage is None:
        storage = StorageProbe(str(database_url))
        opened.append(storage)
    if embedded_cache is not None:
        opened.append(embedded_cache)
    elif service_redis is not None:
        opened.append(_Closer(service_redis.aclose))
    service, takeover_s = await _start_embedded_service(
        config, str(database_url), service_redis_url, service_redis
    )
    RUN.backends["gateway"] = f"in-process at {service.url}"
    stack = Stack(config, service.url, storage, cache, service_redis_url, service,
                  service_redis, temp_dir, embedded_cache, takeover_s)
    return _announced(stack)


async def _agent_stack(config: SuiteConfig) -> Stack:
    """An AG-UI agent someone else runs: reached, never read (no probes)."""
    url = str(config.agent_url)
    problem = await url_unreachable(url)
    if problem is not None:
        raise StackUnavailable(
            f"The AG-UI agent at {url} cannot be reached ({problem}); start it (for the "
            "pydantic-ai peer: `python -m peers.pydantic_ai --host H --port P` with the same "
            "GOLDEN_PATH_JWT_* settings), or drop agent_url")
    RUN.mode = "external agent"
    RUN.backends["agent"] = f"external AG-UI agent at {url} (storage and cache not read)"
    stack = Stack(config, "", None, None)
    return _announced(stack)


async def _nothing() -> None:
    return None


def _record_fallback(
    config: SuiteConfig, part: str, url: str | None, problem: str | None, replacement: str
) -> None:
    """With `auto`, say which real part was replaced by which embedded one, and why."""
    if config.backends != "auto":
        return
    if url is None:
        why = f"no {'database_url' if part == 'database' else 'redis_url'} given"
    else:
        why = f"{_kind(part, url)} at {redact(url)} is unreachable ({problem})"
    RUN.fallbacks.append(f"{part}: {why}; {replacement} used instead")


class _Closer:
    """Releases one thing made during start-up if a later part of start-up fails."""

    def __init__(self, release: Callable[[], Awaitable[Any] | None]) -> None:
        self._release = release

    async def close(self) -> None:
        outcome = self._release()
        if outcome is not None:
            await outcome


async def _start_embedded_service(
    config: SuiteConfig, database_url: str, redis_url: str | None, redis: Any
) -> tuple[Any, float]:
    """The reference service in-process, and how long it takes to notice a dead gateway."""
    from chat.app import start_service
    from chat.config import Settings
    from chat.runs.recovery import TAKEOVER_S

    settings = Settings(
        database_url=database_url,
        redis_url=redis_url,
        jwt_secret=config.jwt_secret,
        jwt_issuer=config.jwt_issuer,
        jwt_audience=config.jwt_audience,
        jwt_leeway_s=config.jwt_leeway,
    )
    return await start_service(settings, host="127.0.0.1", port=0, redis=redis), TAKEOVER_S


def _real_cache(redis_url: str) -> CacheProbe:
    return CacheProbe(_redis_client(redis_url, decode=True), "Redis")


def _redis_client(redis_url: str, *, decode: bool) -> Any:
    import redis.asyncio

    return redis.asyncio.from_url(
        redis_url,
        decode_responses=decode,
        socket_connect_timeout=REACH_TIMEOUT_S,
        socket_timeout=REACH_TIMEOUT_S * 2,
    )


def _kind(part: str, url: str | None) -> str:
    if part == "cache":
        return "Redis"
    return "PostgreSQL" if url and url.startswith("postgresql") else "SQLite database"


def _announced(stack: Stack) -> Stack:
    announce(stack.agent_url if stack.config.protocol == "ag-ui" else stack.gateway_url)
    return stack


async def _revoke_with_operator_tool(config: SuiteConfig, token: str) -> None:
    """`python -m chat revoke --token T` with the run's settings (external gateways)."""
    env = dict(os.environ)
    env.update(
        {
            "GOLDEN_PATH_REDIS_URL": str(config.redis_url or ""),
            "GOLDEN_PATH_DATABASE_URL": str(config.database_url or ""),
            "GOLDEN_PATH_JWT_SECRET": config.jwt_secret,
            "GOLDEN_PATH_JWT_ISSUER": config.jwt_issuer,
            "GOLDEN_PATH_JWT_AUDIENCE": config.jwt_audience,
            "GOLDEN_PATH_JWT_LEEWAY": str(config.jwt_leeway),
        }
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chat", "revoke", "--token", token,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(config.timeout * 2):
            out, err = await process.communicate()
    except TimeoutError:
        process.kill()
        raise AssertionError("the operator's revoke command did not finish in time") from None
    if process.returncode != 0:
        raise AssertionError(
            f"the operator's revoke command failed (exit {process.returncode}): "
            f"{(err or out).decode(errors='replace').strip()[:300]}"
        )
