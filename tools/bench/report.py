"""What the benchmark writes: `reports/bench.json` for tools, `reports/bench.md` for
people, and the table on the console.

`bench.json`: `{"backends", "machine", "figures": [{"name", "unit", "value", "baseline":
{"name", "value", ...} | null, "ratio", "n", "p50", "p95", "p99", "path", ...}],
"targets", ...}`. Each report says which backends it ran on and on what machine, because
a figure without them cannot be compared with another, and for each figure the path both
sides take (driver, library), because a ratio across two paths measures the paths.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from tools.bench.figures import TARGETS, Figure

LIBRARIES = ("websockets", "SQLAlchemy", "aiosqlite", "asyncpg", "redis", "fakeredis", "PyJWT")


def machine_info() -> dict[str, Any]:
    """CPU, memory, OS, Python and driver versions, and the load when the run started."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_mib": _memory_mib(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "libraries": {},
    }
    for name in LIBRARIES:
        try:
            info["libraries"][name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_mib() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def document(figures: Sequence[Figure], backends: Mapping[str, str], mode: str,
             machine: Mapping[str, Any], plan: Mapping[str, Any],
             duration_s: float) -> dict[str, Any]:
    """The content of bench.json."""
    return {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "run": {"mode": mode, "duration_s": round(duration_s, 1),
                "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
                "plan": dict(plan)},
        "backends": dict(backends),
        "machine": dict(machine),
        "figures": [f.as_dict() for f in figures],
        "targets": [{"figure": t.figure, "rule": t.rule, "verdict": t.verdict(figures)}
                    for t in TARGETS],
    }


def write(directory: Path, doc: Mapping[str, Any]) -> tuple[Path, Path]:
    """Write bench.json and bench.md into `directory`; their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / "bench.json", directory / "bench.md"
    json_path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(markdown(doc), encoding="utf-8")
    return json_path, md_path


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and abs(value) >= 100:
        return f"{value:,.0f}"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def table(doc: Mapping[str, Any]) -> str:
    """The figures as a fixed-width table for the console."""
    header = ("figure", "value", "unit", "baseline", "ratio", "n", "p50", "p95", "p99",
              "path")
    rows = [header]
    for f in doc["figures"]:
        base = f["baseline"]
        rows.append((f["name"], _number(f["value"]), f["unit"],
                     "-" if base is None else _number(base["value"]),
                     "-" if f["ratio"] is None else f"{f['ratio']:.2f}x",
                     str(f["n"]), _number(f["p50"]), _number(f["p95"]), _number(f["p99"]),
                     f["path"] or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = []
    for k, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].ljust(widths[2])]
        cells += [c.rjust(w) for c, w in zip(row[3:-1], widths[3:-1], strict=True)]
        cells.append(row[-1])
        lines.append("  ".join(cells))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    verdicts = [f"{t['figure']}: {t['verdict']} ({t['rule']})" for t in doc["targets"]]
    return "\n".join(lines + ["", "targets:"] + [f"  {v}" for v in verdicts])


def markdown(doc: Mapping[str, Any]) -> str:
    """bench.md: backends, machine, the figures with their baselines, the targets."""
    run, machine = doc["run"], doc["machine"]
    lines = [
        "# Golden Path benchmark",
        "",
        (f"Generated {doc['generated_at']} in {run['duration_s']} s "
        f"({'quick run, reduced counts' if run['mode'] == 'quick' else 'full run'})."),
        "",
        ("Every figure stands beside a raw baseline measured in the same run; on a shared "
        "machine the ratio is the number to read, the absolute values move with the load."),
        "",
        "## Backends",
        "",
    ]
    lines += [f"- {part}: {text}" for part, text in doc["backends"].items()]
    libraries = ", ".join(f"{k} {v}" for k, v in machine.get("libraries", {}).items())
    lines += [
        "",
        "## Machine",
        "",
        (f"- {machine['cpus']} CPUs ({machine['cpu_model']}), {machine['memory_mib']} MiB, "
        f"{machine['platform']}"),
        f"- Python {machine['python']}; {libraries}",
        (f"- load average at start {machine['load_average_at_start']}, at end "
        f"{run['load_average_at_end']}"),
        "",
        "## Figures",
        "",
        "| figure | value | baseline | ratio | n | p50 | p95 | p99 | path |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for f in doc["figures"]:
        base = f["baseline"]
        base_text = ("none" if base is None
                     else f"{_number(base['value'])} {f['unit']}: {base['name']}")
        ratio = "-" if f["ratio"] is None else f"{f['ratio']:.2f}x"
        unit = f["percentile_unit"]
        lines.append(
            f"| `{f['name']}` | {_number(f['value'])} {f['unit']} | {base_text} | {ratio} | "
            f"{f['n']} | {_number(f['p50'])} | {_number(f['p95'])} | {_number(f['p99'])} "
            f"{unit} | {f['path'] or '-'} |")
    lines += ["", "What each figure measures:", ""]
    lines += [f"- `{f['name']}`: {f['about']}." for f in doc["figures"] if f.get("about")]
    lines += [
        "",
        ("How: the gateway, its store and cache, and the clients run in one process on one "
        "event loop, as in the acceptance suite's embedded stack, so a latency includes the "
        "client's share of the CPU on both sides of a ratio. Paired figures alternate service "
        "and baseline sample by sample; work the service still does after answering is "
        "waited for, untimed, before the next sample. Both sides of a ratio take the same "
        "path (the path column): the same database driver, cache client or WebSocket "
        "library, so the ratio is the service's own cost. The idle-connection figure runs each "
        "server in its own process and reads its VmRSS. p50/p95/p99 are over the samples "
        "behind the value, by nearest rank (each is a sample really taken), in the unit "
        "shown after p99."),
    ]
    lines += [
        "",
        "## Targets",
        "",
        "Read from the benchmark, never turned into timed tests.",
        "",
        "| figure | target | measured | verdict |",
        "| --- | --- | ---: | --- |",
    ]
    by_name = {f["name"]: f for f in doc["figures"]}
    for t in doc["targets"]:
        f = by_name.get(t["figure"])
        measured = "-"
        if f is not None:
            measured = (f"{f['ratio']:.2f}x" if "ratio" in t["rule"] and f["ratio"] is not None
                        else f"{_number(f['value'])} {f['unit']}")
        lines.append(f"| `{t['figure']}` | {t['rule']} | {measured} | **{t['verdict']}** |")
    lines += ["", "Counts of this run: " + ", ".join(f"{k} {v}" for k, v in run["plan"].items()),
              ""]
    return "\n".join(lines)
