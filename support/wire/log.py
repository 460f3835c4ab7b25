"""Everything one connection received, in order and with arrival times, and waits on it.

A step waits for the frame it expects (`expect_event`, `expect_error`, `eventually`),
bounded by the one configured timeout; when it does not come, the failure says what was
expected and what arrived instead (`summary`). Any transport feeds it (`add`, `close`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from support.wire.codec import ErrorReply, Event, Received

__all__ = ["EventLog"]


class EventLog:
    """Every frame one connection received, in order, plus how the connection closed."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.close_code: int | None = None
        self.closed = False
        self._changed = asyncio.Condition()

    def mark(self) -> int:
        """Position of the next frame; pass it as `start` to wait only for newer frames."""
        return len(self.received)

    async def add(self, frame: Mapping[str, Any]) -> None:
        async with self._changed:
            self.received.append(Received(frame, time.perf_counter()))
            self._changed.notify_all()

    async def close(self, code: int | None) -> None:
        async with self._changed:
            self.closed, self.close_code = True, code
            self._changed.notify_all()

    def events(
        self, *, start: int = 0, run_id: str | None = None, thread_id: str | None = None
    ) -> list[Event]:
        found = [Event.from_frame(r.frame) for r in self.received[start:] if r.is_event]
        return [
            e
            for e in found
            if (run_id is None or e.run_id == run_id)
            and (thread_id is None or e.thread_id == thread_id)
        ]

    def errors(self, *, start: int = 0) -> list[ErrorReply]:
        return [
            ErrorReply(str(r.frame.get("code")), str(r.frame.get("message")))
            for r in self.received[start:]
            if r.type == "error"
        ]

    def summary(self, *, start: int = 0, limit: int = 12) -> str:
        """What arrived since `start`, in reader's terms, for failure messages."""
        seen = [r.describe() for r in self.received[start:]]
        if len(seen) > limit:
            seen = [f"... {len(seen) - limit} earlier"] + seen[-limit:]
        text = ", ".join(seen) if seen else "nothing"
        if self.closed:
            text += f"; then the connection closed (code {self.close_code})"
        return text

    async def expect(
        self,
        matches: Callable[[Received], bool],
        *,
        what: str,
        timeout: float,
        start: int = 0,
    ) -> Received:
        """The first frame from `start` on for which `matches` is true, waiting if needed."""
        position = start

        def found() -> Received | None:
            nonlocal position
            while position < len(self.received):
                candidate = self.received[position]
                position += 1
                if matches(candidate):
                    return candidate
            return None

        try:
            async with asyncio.timeout(timeout):
                async with self._changed:
                    while True:
                        hit = found()
                        if hit is not None:
                            return hit
                        if self.closed:
                            break
                        await self._changed.wait()
        except TimeoutError:
            pass
        raise AssertionError(
            f"expected {what} within {timeout:g} s; arrived: {self.summary(start=start)}"
        )

    async def expect_event(
        self,
        type: str | None = None,
        *,
        timeout: float,
        start: int = 0,
        run_id: str | None = None,
        thread_id: str | None = None,
        where: Callable[[Event], bool] | None = None,
        what: str | None = None,
    ) -> Event:
        """Wait for a server event of `type` (and run, thread, extra condition)."""

        def matches(received: Received) -> bool:
            if not received.is_event:
                return False
            event = Event.from_frame(received.frame)
            return (
                (type is None or event.type == type)
                and (run_id is None or event.run_id == run_id)
                and (thread_id is None or event.thread_id == thread_id)
                and (where is None or where(event))
            )

        label = what or (type or "an event") + (f" of run {run_id}" if run_id else "")
        hit = await self.expect(matches, what=label, timeout=timeout, start=start)
        return Event.from_frame(hit.frame)

    async def expect_error(
        self, code: str | None = None, *, timeout: float, start: int = 0, what: str | None = None
    ) -> ErrorReply:
        """Wait for an error frame (with `code`, when given)."""
        what = what or (f"an error {code!r}" if code else "an error")
        hit = await self.expect(
            lambda r: r.type == "error" and (code is None or r.frame.get("code") == code),
            what=what,
            timeout=timeout,
            start=start,
        )
        return ErrorReply(str(hit.frame.get("code")), str(hit.frame.get("message")))

    async def eventually(
        self, condition: Callable[[EventLog], bool], *, what: str, timeout: float
    ) -> None:
        """Wait until `condition(log)` holds; it is re-checked whenever a frame arrives."""
        try:
            async with asyncio.timeout(timeout):
                async with self._changed:
                    while not condition(self):
                        if self.closed:
                            break
                        await self._changed.wait()
                    else:
                        return
        except TimeoutError:
            pass
        if condition(self):
            return
        raise AssertionError(f"expected {what} within {timeout:g} s; arrived: {self.summary()}")

    async def wait_closed(self, *, timeout: float) -> int | None:
        """Wait for the connection to close; the close code."""
        await self.eventually(lambda log: log.closed, what="the connection to close", timeout=timeout)
        return self.close_code
