"""Latencies of the golden-path operations seen in a run.

The harness observes each operation where it happens (`observe`, or the `timed` context
manager); the report writer summarises them into count, p50, p95, p99 and max.
Operation names are fixed so reports and the benchmark agree on them:
`connect_auth`, `first_event`, `message_to_completed`, `thread_creation`,
`message_store`, `cache_set_get`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

OPERATIONS = (
    "connect_auth",
    "first_event",
    "message_to_completed",
    "thread_creation",
    "message_store",
    "cache_set_get",
)


class MetricsRecorder:
    """Thread-safe store of observed durations (seconds) per operation name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._samples: dict[str, list[float]] = {}

    def observe(self, operation: str, seconds: float) -> None:
        with self._lock:
            self._samples.setdefault(operation, []).append(seconds)

    @contextmanager
    def timed(self, operation: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.observe(operation, time.perf_counter() - start)

    def samples(self) -> dict[str, list[float]]:
        with self._lock:
            return {name: list(values) for name, values in self._samples.items()}

    def clear(self) -> None:
        with self._lock:
            self._samples.clear()


METRICS = MetricsRecorder()
