"""Memory per idle connection, measured on a gateway in a process of its own.

The resident set of the process that hosts the gateway is read from /proc/PID/status
(VmRSS) while connections are opened from this process, so the clients' memory is not
counted. The same steps run against `python -m support.bench.rawserver`, a bare
`websockets` server with no authentication: that is the baseline.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from support.bench.wire import WireUser

REPO_ROOT = Path(__file__).resolve().parents[2]
GATEWAY_READY = "chat service listening on "
RAW_READY = "raw websockets server listening on "
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
WARM_CONNECTIONS = 20


class ProcessFailed(RuntimeError):
    """A server process did not start or died; the message carries its last output."""


def rss_kib(pid: int) -> int:
    """The resident set size of process `pid` in KiB (VmRSS of /proc/PID/status)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise ProcessFailed(f"process {pid} reports no VmRSS")


@dataclass
class ServerProcess:
    """A server started as a child process, its URL read from its first stdout line."""

    process: asyncio.subprocess.Process
    url: str
    log: IO[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    async def start(cls, args: Sequence[str], env: Mapping[str, str],
                    ready_prefix: str) -> ServerProcess:
        log = tempfile.TemporaryFile()  # noqa: SIM115 - kept open as long as the process runs
        process = await asyncio.create_subprocess_exec(
            *args, cwd=str(REPO_ROOT), env=dict(env), stdout=asyncio.subprocess.PIPE,
            stderr=log,
        )
        assert process.stdout is not None
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                while True:
                    line = (await process.stdout.readline()).decode(errors="replace")
                    if not line:
                        raise ProcessFailed(
                            f"{' '.join(args)} exited with {await process.wait()} before it "
                            f"was ready: {_tail(log)}")
                    if line.startswith(ready_prefix):
                        url = line[len(ready_prefix):].split()[0]
                        return cls(process, url, log)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            log.close()
            raise

    def alive(self) -> None:
        if self.process.returncode is not None:
            raise ProcessFailed(f"the server process exited with {self.process.returncode}: "
                                f"{_tail(self.log)}")

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within STOP_TIMEOUT_S."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            try:
                async with asyncio.timeout(STOP_TIMEOUT_S):
                    await self.process.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        self.log.close()


def _tail(log: IO[bytes], size: int = 800) -> str:
    log.seek(0, os.SEEK_END)
    end = log.tell()
    log.seek(max(0, end - size))
    return log.read().decode(errors="replace").strip() or "(no output)"


@dataclass(frozen=True)
class IdleCost:
    """RSS growth per connection: overall, and per step of connections opened together."""

    kib_per_connection: float
    step_kib_per_connection: list[float]
    connections: int
    rss_before_kib: int
    rss_after_kib: int


async def idle_cost(server: ServerProcess, tokens: Callable[[int], str | None], count: int,
                    step: int, timeout: float) -> IdleCost:
    """Open `count` connections (after a few warm-up ones) in steps of `step` opened at
    once, reading the server's RSS before and after each step; the connections stay
    idle and are dropped at the end."""
    users: list[WireUser] = []
    try:
        for i in range(WARM_CONNECTIONS):
            users.append(await WireUser.connect(server.url, tokens(-1 - i), timeout=timeout))
        server.alive()
        before = previous = rss_kib(server.pid)
        per_step: list[float] = []
        opened = 0
        while opened < count:
            size = min(step, count - opened)
            batch = await asyncio.gather(*(
                WireUser.connect(server.url, tokens(opened + i), timeout=timeout)
                for i in range(size)))
            users.extend(batch)
            opened += size
            server.alive()
            now = rss_kib(server.pid)
            per_step.append((now - previous) / size)
            previous = now
        return IdleCost((previous - before) / count, per_step, count, before, previous)
    finally:
        for user in users:
            user.abort()


def gateway_command() -> list[str]:
    return [sys.executable, "-m", "chat", "serve", "--host", "127.0.0.1", "--port", "0"]


def raw_server_command() -> list[str]:
    return [sys.executable, "-m", "support.bench.rawserver", "--host", "127.0.0.1",
            "--port", "0"]
