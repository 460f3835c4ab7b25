"""One asyncio event loop, running in a background thread for the whole behave run.

A real server keeps working between steps; behave only turns its own loop while an
`async def` step runs and never awaits async hooks (DESIGN §3). So the embedded gateway,
the chat clients and the probes all live on this loop, and plain `def` steps and hooks
submit coroutines to it with `run(coro, timeout, what)`: the step blocks until the result
arrives, and a harness timeout becomes an AssertionError that says what was awaited.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

# Extra time the calling thread allows past the coroutine's own timeout, so the loop
# reports its timeout (with its message) before the caller gives up on it.
_GRACE_S = 2.0


class BackgroundLoop:
    """An event loop in a daemon thread; coroutines are submitted from other threads."""

    def __init__(self, default_timeout: float) -> None:
        self.default_timeout = default_timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._serve, name="golden-path-loop", daemon=True
        )
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def run(
        self,
        coro: Coroutine[Any, Any, T],
        timeout: float | None = None,
        what: str | None = None,
    ) -> T:
        """Run `coro` on the loop and wait for its result, at most `timeout` seconds.

        A timeout cancels the coroutine and raises AssertionError naming `what` (or the
        coroutine); exceptions raised by the coroutine pass through unchanged.
        """
        limit = self.default_timeout if timeout is None else timeout
        label = what or getattr(coro, "__qualname__", "an operation")
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("BackgroundLoop.run called from the loop's own thread")

        async def bounded() -> T:
            try:
                async with asyncio.timeout(limit):
                    return await coro
            except TimeoutError:
                raise AssertionError(
                    f"waited {limit:g} s for {label}, and it did not happen"
                ) from None

        future = asyncio.run_coroutine_threadsafe(bounded(), self._loop)
        try:
            return future.result(limit + _GRACE_S)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise AssertionError(
                f"waited {limit:g} s for {label}; the event loop did not answer"
            ) from None

    def stop(self) -> None:
        """Cancel what is left on the loop, stop it and join its thread."""
        if not self._loop.is_running():
            return

        async def cancel_rest() -> None:
            current = asyncio.current_task()
            rest = [t for t in asyncio.all_tasks() if t is not current]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)
            await self._loop.shutdown_asyncgens()

        try:
            asyncio.run_coroutine_threadsafe(cancel_rest(), self._loop).result(
                self.default_timeout
            )
        except (concurrent.futures.TimeoutError, RuntimeError):
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(self.default_timeout)
        if not self._thread.is_alive():
            self._loop.close()


_CURRENT: BackgroundLoop | None = None


def start(default_timeout: float) -> BackgroundLoop:
    """Start the run's loop (once); later calls return the running one."""
    global _CURRENT
    if _CURRENT is None:
        _CURRENT = BackgroundLoop(default_timeout)
    return _CURRENT


def current() -> BackgroundLoop:
    """The run's loop; fails clearly when the stack has not been started."""
    if _CURRENT is None:
        raise RuntimeError("the harness loop is not running; support.loop.start() first")
    return _CURRENT


def run(coro: Coroutine[Any, Any, T], timeout: float | None = None, what: str | None = None) -> T:
    """Run `coro` on the run's loop and wait for it (see `BackgroundLoop.run`)."""
    return current().run(coro, timeout, what)


def stop() -> None:
    """Stop the run's loop, if one was started."""
    global _CURRENT
    if _CURRENT is not None:
        _CURRENT.stop()
        _CURRENT = None
