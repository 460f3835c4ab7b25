"""One supervised server process, and one free-port helper, for everything that starts a
server of its own: the suite's own gateway (the crash scenario), the soak, the benchmark's
gateway and raw server, the CI gate and the tests.

A `ServerProcess` is a child that prints one line starting with a known prefix and its URL
once it listens ("chat service listening on ws://…/ws"). Start-up waits for that line,
bounded by a timeout, and fails with the tail of the process's log; `kill` ends it at once
(SIGKILL, no clean-up of its own), `stop` asks first (SIGTERM); `start` again reuses the
port it had, so clients can come back to the same URL. Everything it prints goes to a log
file that failure messages quote.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "GATEWAY_READY",
    "GatewaySettings",
    "ProcessFailed",
    "ServerProcess",
    "free_port",
    "gateway_process",
]

PROJECT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
GATEWAY_READY = "chat service listening on "
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class ProcessFailed(RuntimeError):
    """A server process did not start, or died; the message carries its last output."""


def free_port(host: str = HOST) -> int:
    """A TCP port nobody listens on right now (the kernel's choice)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A server run as a child process; `url` once it has said it listens.

    `command(port)` is the command line for a port (0 the first time: the server picks one
    and says which); a restart passes the port it had, so its URL stays the same.
    """

    def __init__(self, command: Callable[[int], Sequence[str]], env: Mapping[str, str],
                 ready_prefix: str, *, name: str = "server", port: int = 0) -> None:
        self.command = command
        self.env = dict(env)
        self.ready_prefix = ready_prefix
        self.name = name
        self.port = port
        self.url: str | None = None
        self.started_in_s: float | None = None
        self.killed_at: float | None = None
        self._process: asyncio.subprocess.Process | None = None
        handle, path = tempfile.mkstemp(prefix=f"golden-path-{name}-", suffix=".log")
        os.close(handle)
        self.log_path = Path(path)

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self, *, timeout: float = START_TIMEOUT_S) -> str:
        """Start (on the port it had before, if it ran already); the URL once it listens."""
        if self.running:
            raise ProcessFailed(f"the {self.name} process {self.pid} is already running")
        began = time.perf_counter()
        args = list(self.command(self.port))
        with self.log_path.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                *args, cwd=str(PROJECT), env=self.env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=log,
            )
        stdout = self._process.stdout
        assert stdout is not None
        try:
            async with asyncio.timeout(timeout):
                while not (line := (await stdout.readline()).decode(errors="replace")) \
                        .startswith(self.ready_prefix):
                    if not line:
                        code = await self._process.wait()
                        raise ProcessFailed(
                            f"the {self.name} process ({' '.join(args)}) exited with {code} "
                            f"before listening; its log: {self.log_tail()}")
        except TimeoutError:
            await self._end(signal.SIGKILL)
            raise ProcessFailed(f"the {self.name} process did not listen within {timeout:g} s;"
                                f" its log: {self.log_tail()}") from None
        except BaseException:
            await self._end(signal.SIGKILL)
            raise
        self.url = line[len(self.ready_prefix):].split()[0]
        self.port = int(self.url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
        self.started_in_s = time.perf_counter() - began
        self.killed_at = None
        return self.url

    def alive(self) -> None:
        """Raise ProcessFailed, with the log's tail, if the process has exited."""
        if self._process is None or self._process.returncode is not None:
            code = None if self._process is None else self._process.returncode
            raise ProcessFailed(f"the {self.name} process is not running (exit {code}); "
                                f"its log: {self.log_tail()}")

    async def kill(self) -> None:
        """SIGKILL: the process ends at once, without any clean-up of its own."""
        self.killed_at = time.perf_counter()
        await self._end(signal.SIGKILL)

    async def stop(self) -> int | None:
        """SIGTERM (a clean stop), SIGKILL if it does not end in time; idempotent. The exit
        status, or None if it never ran."""
        await self._end(signal.SIGTERM)
        return None if self._process is None else self._process.returncode

    async def _end(self, sig: signal.Signals) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        if process.stdout is not None:
            with contextlib.suppress(Exception):
                await process.stdout.read()

    def log_tail(self, lines: int = 8) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:]) or "(empty)"

    def remove_log(self) -> None:
        self.log_path.unlink(missing_ok=True)


@dataclass(frozen=True)
class GatewaySettings:
    """What `python -m chat serve` is started with (the GOLDEN_PATH_* variables). Unset
    URLs mean the service's own defaults: a SQLite file and an in-process fakeredis."""

    jwt_secret: str
    jwt_issuer: str
    jwt_audience: str
    database_url: str | None = None
    redis_url: str | None = None
    jwt_leeway_s: int | None = None  # None: the service's default

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOLDEN_PATH_")}
        env.update({
            "GOLDEN_PATH_JWT_SECRET": self.jwt_secret,
            "GOLDEN_PATH_JWT_ISSUER": self.jwt_issuer,
            "GOLDEN_PATH_JWT_AUDIENCE": self.jwt_audience,
            "GOLDEN_PATH_DATABASE_URL": self.database_url or "",
            "GOLDEN_PATH_REDIS_URL": self.redis_url or "",
            "PYTHONUNBUFFERED": "1",
        })
        if self.jwt_leeway_s is not None:
            env["GOLDEN_PATH_JWT_LEEWAY"] = str(self.jwt_leeway_s)
        return env


def gateway_process(settings: GatewaySettings, *, port: int = 0) -> ServerProcess:
    """`python -m chat serve` on 127.0.0.1 with `settings`, not started yet."""

    def command(port: int) -> list[str]:
        return [sys.executable, "-m", "chat", "serve", "--host", HOST, "--port", str(port)]

    return ServerProcess(command, settings.environment(), GATEWAY_READY, name="gateway",
                         port=port)
