"""What this run is running against, for the console and every report.

`support.stack` fills `RUN` when it starts the stack; the report writers read it. A
fallback (with `backends=auto`) is recorded as a sentence naming what was replaced, so no
report can pass on a fake while looking as if it tested the real thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RunInfo:
    mode: str = "embedded"
    # part -> plain description, e.g. {"database": "SQLite (embedded, aiosqlite)",
    # "cache": "fakeredis (embedded)", "gateway": "in-process at ws://127.0.0.1:PORT/ws"}
    backends: dict[str, str] = field(default_factory=dict)
    fallbacks: list[str] = field(default_factory=list)


RUN = RunInfo()
