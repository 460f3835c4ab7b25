"""Which scenarios reach which lines of the service: the map that lets a mutant be judged
by the scenarios that run its line, not by the whole suite.

The embedded suite is run once under coverage, with `ScenarioContexts` as a behave
formatter: it switches coverage's dynamic context to each scenario's location as the
scenario starts, so every line the service runs is filed under the scenarios that ran it
(the service lives in the suite's process, on its threads). Lines run before the first
scenario (imports, start-up) are filed under no scenario: a mutant there is judged by the
whole suite. A gateway the suite starts in a process of its own (`@fixture.own_chat_service`)
is measured too, through coverage's subprocess patch; a line only such a process runs is
judged by the scenarios that start one. A line no scenario runs cannot be reached, so its
mutants survive without a run.

This run is also the session's baseline: the suite must pass on the unmutated service.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from behave.formatter.base import Formatter
from coverage import Coverage, CoverageData
from coverage.parser import PythonParser

__all__ = ["ALL", "FEATURES", "OWN_SERVICE_TAG", "Reach", "ScenarioContexts", "measure"]

FEATURES = "features/golden_path"
OWN_SERVICE_TAG = "fixture.own_chat_service"
ALL = "all"  # what `Reach.scenarios_for` answers when only the whole suite will do
WORK = ".mutation"  # the session's own files inside a scratch copy of the project
COVERAGE_RC = """[run]
source = chat
parallel = true
patch = subprocess
sigterm = true
data_file = {data}
"""


class ScenarioContexts(Formatter):
    """A behave formatter that files coverage under the running scenario's location and
    writes, at the end, every scenario's location with its tags (to `GP_REACH_SCENARIOS`)."""

    name = "scenario-contexts"
    description = "coverage contexts by scenario (tools.mutation.reach)"

    def __init__(self, stream_opener: Any, config: Any) -> None:
        super().__init__(stream_opener, config)
        self.seen: dict[str, list[str]] = {}

    def scenario(self, scenario: Any) -> None:
        location = f"{scenario.location.filename}:{scenario.location.line}"
        self.seen[location] = sorted(scenario.effective_tags)
        current = Coverage.current()
        if current is not None:
            current.switch_context(location)

    def close(self) -> None:
        current = Coverage.current()
        if current is not None:
            current.switch_context("")
        stream = self.open()
        stream.write(json.dumps(self.seen))
        self.close_stream()


@dataclass
class Reach:
    """For each module's line, the scenarios that ran it in the suite's process (`""`
    for start-up), and whether a gateway process of the suite's own ran it."""

    lines: dict[str, dict[int, set[str]]] = field(default_factory=dict)
    elsewhere: dict[str, set[int]] = field(default_factory=dict)
    own_service: list[str] = field(default_factory=list)
    # a line inside a statement that spans lines -> the statement's first line, which is
    # the one Python reports running (a signature's `*,` or a dict's entries run with it)
    first_lines: dict[str, dict[int, int]] = field(default_factory=dict)

    def scenarios_for(self, module: str, lines: range) -> list[str] | str:
        """The scenario locations that judge a change of `lines` of `module`: `ALL`, a
        list, or an empty list when no scenario reaches them."""
        contexts: set[str] = set()
        starts = self.first_lines.get(module, {})
        for line in set(lines) | {starts[n] for n in lines if n in starts}:
            contexts |= self.lines.get(module, {}).get(line, set())
            if line in self.elsewhere.get(module, set()):
                contexts |= set(self.own_service)
        if "" in contexts:
            return ALL
        return sorted(contexts, key=_location_order)

    def to_json(self) -> str:
        return json.dumps({
            "lines": {m: {str(n): sorted(c) for n, c in ls.items()} for m, ls in self.lines.items()},
            "elsewhere": {m: sorted(ls) for m, ls in self.elsewhere.items()},
            "own_service": self.own_service,
            "first_lines": {m: {str(n): f for n, f in ls.items()}
                            for m, ls in self.first_lines.items()},
        })

    @classmethod
    def from_json(cls, text: str) -> Reach:
        raw = json.loads(text)
        return cls({m: {int(n): set(c) for n, c in ls.items()} for m, ls in raw["lines"].items()},
                   {m: set(ls) for m, ls in raw["elsewhere"].items()}, raw["own_service"],
                   {m: {int(n): f for n, f in ls.items()} for m, ls in raw["first_lines"].items()})


def _location_order(location: str) -> tuple[str, int]:
    name, _, line = location.rpartition(":")
    return name, int(line)


class SuiteFailed(RuntimeError):
    """The suite does not pass on the unmutated service; the message carries its end."""


def measure(root: Path, timeout: float) -> Reach:
    """Run the embedded suite in `root` under coverage and map its lines to scenarios.
    Raise SuiteFailed when the suite does not pass."""
    work = root / WORK
    work.mkdir(exist_ok=True)
    rc, scenarios = work / "coveragerc", work / "scenarios.json"
    rc.write_text(COVERAGE_RC.format(data=work / "coverage"))
    command = [sys.executable, "-m", "coverage", "run", f"--rcfile={rc}", "-m", "behave",
               FEATURES, "--no-junit", f"--format={__name__}:ScenarioContexts",
               f"--outfile={scenarios}"]
    suite = subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = suite.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        suite.kill()
        raise SuiteFailed(f"the suite took over {timeout:g} s on the unmutated service") from None
    if suite.returncode != 0:
        raise SuiteFailed("the suite fails on the unmutated service, so no mutant can be "
                          f"judged: {output[-1500:]}")
    tags = json.loads(scenarios.read_text())
    reach = Reach(own_service=sorted((s for s, t in tags.items() if OWN_SERVICE_TAG in t),
                                     key=_location_order))
    for data_file in work.glob("coverage.*"):
        data = CoverageData(basename=str(data_file))
        data.read()
        ours = f".pid{suite.pid}." in data_file.name
        for measured in data.measured_files():
            module = Path(measured).resolve().relative_to(root.resolve()).as_posix()
            if ours:
                by_line = reach.lines.setdefault(module, {})
                for line, contexts in data.contexts_by_lineno(measured).items():
                    by_line.setdefault(line, set()).update(contexts)
            else:
                reach.elsewhere.setdefault(module, set()).update(data.lines(measured) or ())
    for module in {*reach.lines, *reach.elsewhere}:
        parser = PythonParser(text=(root / module).read_text())
        parser.parse_source()
        reach.first_lines[module] = {n: f for n, f in parser.multiline_map.items() if n != f}
    (work / "reach.json").write_text(reach.to_json())
    return reach
