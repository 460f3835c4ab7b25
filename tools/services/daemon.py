"""What the two daemons share: exit codes, errors, the status line, mirakuru's executor
for a daemon that outlives its start command, and small file and socket helpers."""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_RUNNING = 3
EXIT_PARTLY_RUNNING = 4
EXIT_MISSING_BINARY = 69

HOST = "127.0.0.1"


class ServicesError(Exception):
    """A service cannot be started or stopped; the message says which and what to do."""

    exit_code = EXIT_FAILED


class PortTakenError(ServicesError):
    """Someone else started listening on the port chosen a moment ago."""


class MissingBinaryError(ServicesError):
    """A program is not installed; the message names the Debian package that provides it."""

    exit_code = EXIT_MISSING_BINARY


@dataclass
class ServiceStatus:
    """One service as `status` reports it."""

    name: str
    running: bool
    detail: str
    pid: int | None = None
    url: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def line(self) -> str:
        state = "running" if self.running else "stopped"
        pid = f", pid {self.pid}" if self.pid else ""
        return f"{self.name}: {state}{pid}, {self.detail}"


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def port_is_free(port: int, host: str = HOST) -> bool:
    """Whether a server could listen on the port now (SO_REUSEADDR, as servers bind, so
    connections of a stopped server still in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def answers(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        try:
            sock.connect((host, port))
        except OSError:
            return False
        return True


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_pid(path: Path) -> int | None:
    try:
        first = path.read_text(encoding="utf-8").splitlines()[0].strip()
        return int(first)
    except (OSError, IndexError, ValueError):
        return None


def mirakuru_module() -> Any:
    try:
        import mirakuru
    except ImportError:
        raise ServicesError("mirakuru is not installed: pip install -e '.[real]'") from None
    return mirakuru


def detached_executor(mirakuru: Any) -> Any:
    """mirakuru's TCPExecutor for a start command that leaves a daemon behind.

    mirakuru tags every process it starts with an environment variable and, when this
    program exits, kills whatever still carries it. The daemons here must outlive
    `up`, so the tag is left out; they are stopped by `down` instead.
    """

    class DetachedTCPExecutor(mirakuru.TCPExecutor):  # type: ignore[misc,name-defined]
        @property
        def envvars(self) -> dict[str, str]:
            env = os.environ.copy()
            env.update(self._envvars)
            return env

    return DetachedTCPExecutor


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def tail(text: str, lines: int = 5) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept) if kept else "(no output)"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
