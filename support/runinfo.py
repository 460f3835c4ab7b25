"""What this run is running against, for the console and every report.

`support.stack` fills `RUN` when it starts the stack, and `announce` says it on the
console; the report writers read it. A
fallback (with `backends=auto`) is recorded as a sentence naming what was replaced, so no
report can pass on a fake while looking as if it tested the real thing; likewise every
area the target cannot be checked on is named, with the reason (`not_checked`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field


@dataclass
class RunInfo:
    mode: str = "embedded"
    # part -> plain description, e.g. {"database": "SQLite (embedded, aiosqlite)",
    # "cache": "fakeredis (embedded)", "gateway": "in-process at ws://127.0.0.1:PORT/ws"}
    backends: dict[str, str] = field(default_factory=dict)
    fallbacks: list[str] = field(default_factory=list)
    # the protocol the people spoke (`v1`, `ag-ui`) and where they reached the product
    protocol: str = "v1"
    target: str = ""
    # area (a tag) -> why this run could not check it; its scenarios are skipped, never passed
    not_checked: dict[str, str] = field(default_factory=dict)


RUN = RunInfo()


def announce(target: str) -> None:
    """Say on the console what the run is running against; loudly when parts were replaced."""
    RUN.target = target
    parts = ", ".join(f"{part}: {text}" for part, text in RUN.backends.items())
    print(f"golden path: backends={RUN.mode} ({parts}); protocol {RUN.protocol} at "
          f"{RUN.target}", file=sys.stderr)
    if RUN.not_checked:
        print("golden path: not checked: " + ", ".join(RUN.not_checked), file=sys.stderr)
    if RUN.fallbacks:
        rule = "!" * 78
        lines = [rule, "!! FALLBACK: backends=auto replaced real parts by embedded ones:"]
        lines += [f"!!   {sentence}" for sentence in RUN.fallbacks]
        lines += ["!! This run did NOT test those real services.", rule]
        print("\n".join(lines), file=sys.stderr)
