"""The stages of the gate: each one a command run with a time limit, its output on the
console (and copied to a log when asked), its time and exit status kept for the table the
gate prints at the end. Command lines are printed with passwords in URLs and the signing
secret masked.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from tools.gate.scenarios import ScenarioCounts

__all__ = ["KILL_AFTER_S", "TIMED_OUT", "Gate", "mask", "run_command"]

KILL_AFTER_S = 15.0
"""After SIGTERM at its time limit, how long a stage has before SIGKILL (as timeout(1)
--kill-after=15)."""
TIMED_OUT = 124
"""The exit status of a stage stopped at its time limit (timeout(1)'s); 137 if killed."""

_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
_SECRET_SETTING = re.compile(r"(JWT_SECRET=)\S*")


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with the password of every URL, the value of every `…JWT_SECRET=` and each
    of `secrets` replaced by ***."""
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _URL_PASSWORD.sub(r"\1***@", text)
    return _SECRET_SETTING.sub(r"\1***", text)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def _end(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM to the stage's process group, SIGKILL after KILL_AFTER_S; 137 if it took
    SIGKILL, else TIMED_OUT."""
    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout=KILL_AFTER_S)
        return TIMED_OUT
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        process.wait()
        return 128 + signal.SIGKILL


def _copy(source: BinaryIO, log: Path) -> None:
    with log.open("wb") as sink:
        for line in iter(source.readline, b""):
            sys.stdout.buffer.write(line)
            sys.stdout.buffer.flush()
            sink.write(line)


def run_command(command: Sequence[str], *, limit_s: float, env: Mapping[str, str],
                log: Path | None = None, quiet: bool = False) -> tuple[int, bool]:
    """Run `command` in its own process group, without stdin, for at most `limit_s`
    seconds; (exit status, whether it was stopped at the limit). Its output goes to the
    console, and also to `log` when given; with `quiet` its stdout is discarded. A signal
    by which it ended is reported as 128 + the signal, as a shell does."""
    stdout: int | None = None
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        stdout = subprocess.PIPE
    elif quiet:
        stdout = subprocess.DEVNULL
    sys.stdout.flush()
    process = subprocess.Popen(
        list(command), env=dict(env), stdin=subprocess.DEVNULL, stdout=stdout,
        stderr=subprocess.STDOUT if log is not None else None, start_new_session=True,
    )
    copier = None
    if log is not None:
        assert process.stdout is not None
        copier = threading.Thread(target=_copy, args=(process.stdout, log), daemon=True)
        copier.start()
    timed_out = False
    try:
        code = process.wait(timeout=limit_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        code = _end(process)
    except BaseException:
        _end(process)
        raise
    finally:
        if copier is not None:
            copier.join(timeout=KILL_AFTER_S)
    return (128 - code if code < 0 else code), timed_out


@dataclass
class Gate:
    """What the gate has done so far: the rows of its stage table, the stages that failed,
    the scenarios counted, and the secrets its printed lines must not show."""

    secrets: list[str] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    scenarios: ScenarioCounts = field(default_factory=ScenarioCounts)
    started: float = field(default_factory=time.monotonic)

    def say(self, line: str) -> None:
        print(mask(line, self.secrets), flush=True)

    def note(self, line: str) -> None:
        self.say(f"\n=== {line}")

    def row(self, name: str, seconds: float, outcome: str) -> None:
        self.rows.append(f"{name:<22} {seconds:4.0f}s  {outcome}")

    def fail(self, name: str) -> None:
        if name not in self.failed:
            self.failed.append(name)

    def stage(self, name: str, limit_s: float, command: Sequence[str], *,
              env: Mapping[str, str], shown_env: Mapping[str, str] | None = None,
              log: Path | None = None, quiet: bool = False) -> int:
        """Run one stage and record it; its exit status (never raises for a failure).
        `shown_env` are the settings printed before the command line (masked)."""
        shown = [f"{key}={value}" for key, value in (shown_env or {}).items()]
        self.note(f"{name}: {shlex.join([*shown, *command])}")
        began = time.monotonic()
        code, timed_out = run_command(command, limit_s=limit_s, env=env, log=log, quiet=quiet)
        took = time.monotonic() - began
        if timed_out:
            self.say(f"{name}: stopped after {limit_s:g}s without finishing")
        self.row(name, took, f"exit {code}")
        self.say(f"--- {name}: {took:.0f}s, exit {code}")
        return code

    def summary(self) -> list[str]:
        """The closing block; its last line is `scenarios: N passed, N failed, N skipped`."""
        lines = ["", "=== stages", *self.rows,
                 f"total: {time.monotonic() - self.started:.0f}s"]
        if self.failed:
            lines.append(f"failed: {' '.join(self.failed)}")
        lines.append(f"scenarios: {self.scenarios.line()}")
        return lines
