"""One mutation session: scratch copies of the project, cosmic-ray's work databases, the
sample, the run, and the outcome of every mutant tried.

cosmic-ray edits a module in place for each mutant, so the session works in copies of the
project's files (those git knows, plus new ones not ignored), never in the checkout. First
the embedded suite runs once, unmutated, under coverage (`tools.mutation.reach`): a suite
that fails on the original would "kill" every mutant and prove nothing, and the run maps
each line of the service to the scenarios that reach it. Each mutant is then judged by
`tools.mutation.pick`, which runs only those scenarios. With `workers` above one, the
mutants are dealt round-robin to that many copies, each with its own cosmic-ray session,
run side by side.
"""

from __future__ import annotations

import difflib
import functools
import random
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cosmic_ray.mutating import mutate_code
from cosmic_ray.plugins import get_operator
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkItem, WorkResult

from tools.mutation import MODULES
from tools.mutation.equivalent import why_equivalent
from tools.mutation.outside import why_outside
from tools.mutation.reach import WORK, SuiteFailed, measure

__all__ = ["Mutant", "Outcome", "SuiteFailed", "run_session"]

PROJECT = Path(__file__).resolve().parents[2]
TEST_COMMAND = f"{sys.executable} -m tools.mutation.pick"
UNREACHED = "pick: no scenario runs"
CONFIG = """[cosmic-ray]
module-path = {modules}
timeout = {timeout}
excluded-modules = []
test-command = "{command}"

[cosmic-ray.distributor]
name = "local"
"""


@dataclass(frozen=True)
class Mutant:
    module: str
    line: int
    operator: str
    diff: str
    reason: str | None = None
    judged_by: str | None = None  # what pick ran: scenario locations or the whole suite


@dataclass(frozen=True)
class Outcome:
    """What a session found: every mutant there is, and what became of those tried."""

    mutants: int
    tried: int
    killed: list[Mutant]
    survived: list[Mutant]
    equivalent: list[Mutant]
    incompetent: list[Mutant]
    outside: list[Mutant]  # set aside: they change only what the contract does not promise

    @property
    def unreached(self) -> list[Mutant]:
        """Survivors on lines no scenario runs."""
        return [m for m in self.survived if m.judged_by is None]


def _copy_project(into: Path) -> None:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"],
                            cwd=PROJECT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = PROJECT / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)


def _keep_pristine(root: Path) -> None:
    for module in MODULES:
        for source in [root / module] if module.endswith(".py") else (root / module).rglob("*.py"):
            copy = root / WORK / "pristine" / source.relative_to(root)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)


def _key(item: WorkItem) -> tuple[str, str, int]:
    spec = item.mutations[0]
    return str(spec.module_path), spec.operator_name, spec.occurrence


def _judged_by(output: str | None) -> str | None:
    first = (output or "").lstrip().splitlines()[:1]
    if not first or first[0].startswith(UNREACHED):
        return None
    return first[0].removeprefix("pick: ")


def _mutant(item: WorkItem, result: WorkResult | None, reason: str | None = None) -> Mutant:
    spec = item.mutations[0]
    return Mutant(str(spec.module_path), spec.start_pos[0],
                  spec.operator_name.rsplit("/", 1)[-1],
                  (result.diff or "") if result is not None else "", reason,
                  _judged_by(result.output) if result is not None else None)


def _init(root: Path, timeout: float) -> tuple[Path, Path]:
    config, db_path = root / "cosmic-ray.toml", root / "session.sqlite"
    config.write_text(CONFIG.format(modules=list(MODULES), timeout=timeout,
                                    command=TEST_COMMAND))
    subprocess.run(["cosmic-ray", "init", str(config), str(db_path)], cwd=root, check=True,
                   stdout=subprocess.DEVNULL)
    return config, db_path


def _changes(diff: str) -> tuple[str, ...]:
    """A diff's removed and added lines, without the hunk positions that edits elsewhere
    in the module shift."""
    return tuple(line for line in diff.splitlines()
                 if line[:1] in "+-" and not line.startswith(("+++", "---")))


def _same_as(root: Path, item: WorkItem, wanted: list[dict[str, object]]) -> bool:
    """Whether `item` is one of the `wanted` mutants (module, operator and change alike)."""
    spec = item.mutations[0]
    module, operator = str(spec.module_path), spec.operator_name.rsplit("/", 1)[-1]
    alike = [w for w in wanted if (w["module"], w["operator"]) == (module, operator)]
    if not alike:
        return False
    original = (root / module).read_text()
    try:
        mutated = mutate_code(original, get_operator(spec.operator_name)(), spec.occurrence)
    except Exception:  # noqa: BLE001 - an operator that cannot redo its change here
        return any(w["line"] == spec.start_pos[0] for w in alike)
    if mutated is None:
        return False
    change = _changes("\n".join(difflib.unified_diff(original.split("\n"),
                                                      mutated.split("\n"), lineterm="")))
    return any(_changes(str(w["diff"])) == change for w in alike)


def _mutated_line(root: Path, spec: Any) -> str:
    """The line a mutant changes, as the mutant has it ("" when cosmic-ray cannot redo it)."""
    original = (root / str(spec.module_path)).read_text()
    try:
        mutated = mutate_code(original, get_operator(spec.operator_name)(), spec.occurrence)
    except Exception:  # noqa: BLE001 - an operator that cannot redo its change here
        return ""
    lines = (mutated or "").split("\n")
    row = spec.start_pos[0] - 1
    return lines[row] if 0 <= row < len(lines) else ""


def _choose(root: Path, db_path: Path, sample: int | None, seed: int | None,
            again: list[dict[str, object]] | None = None
            ) -> tuple[int, list[tuple[str, str, int]], list[Mutant], list[Mutant]]:
    """How many mutants there are, the keys of those to try (a sample, all, or those alike
    the `again` list), the equivalent ones and those outside the contract."""
    equivalent: list[Mutant] = []
    outside: list[Mutant] = []
    candidates = []
    with use_db(str(db_path), WorkDB.Mode.open) as db:
        items = sorted(db.work_items, key=_key)
        for item in items:
            spec = item.mutations[0]
            reason = why_equivalent(root, str(spec.module_path), spec.operator_name,
                                    spec.start_pos, spec.end_pos,
                                    functools.partial(_mutated_line, root, spec))
            beyond = why_outside(root, str(spec.module_path), spec.operator_name, spec.start_pos)
            if reason is not None:
                equivalent.append(_mutant(item, None, reason))
            elif beyond is not None:
                outside.append(_mutant(item, None, beyond))
            elif again is None or _same_as(root, item, again):
                candidates.append(_key(item))
    chosen = candidates if sample is None else random.Random(seed).sample(
        candidates, min(sample, len(candidates)))
    return len(items), sorted(chosen), equivalent, outside


def _leave_only(db_path: Path, keys: set[tuple[str, str, int]]) -> None:
    with use_db(str(db_path), WorkDB.Mode.open) as db:
        left_out = [item.job_id for item in db.work_items if _key(item) not in keys]
        db.set_multiple_results(left_out, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))


def _order(mutant: Mutant) -> tuple[str, int, str]:
    return mutant.module, mutant.line, mutant.operator


def run_session(sample: int | None, seed: int | None, timeout: float,
                workers: int = 1, again: list[dict[str, object]] | None = None) -> Outcome:
    """Make every mutant of MODULES, set the equivalent ones aside, try `sample` of the
    others (all when None; only those alike `again` when given) on `workers` copies side
    by side, and tell what became of them."""
    with tempfile.TemporaryDirectory(prefix="golden-path-mutation-") as scratch:
        first = Path(scratch) / "copy-0"
        _copy_project(first)
        measure(first, timeout * 4)
        _keep_pristine(first)
        roots = [first] + [Path(scratch) / f"copy-{k}" for k in range(1, workers)]
        for root in roots[1:]:
            shutil.copytree(first, root)
        sessions = [_init(root, timeout) for root in roots]
        mutants, chosen, equivalent, outside = _choose(first, sessions[0][1], sample, seed, again)
        for k, (_, db_path) in enumerate(sessions):
            _leave_only(db_path, set(chosen[k::workers]))
        running = [subprocess.Popen(["cosmic-ray", "exec", str(config), str(db_path)],
                                    cwd=root) for root, (config, db_path) in zip(roots, sessions)]
        if [process.wait() for process in running] != [0] * len(running):
            raise RuntimeError("cosmic-ray exec failed; its output is above")
        killed, survived, incompetent = [], [], []
        for _, db_path in sessions:
            with use_db(str(db_path), WorkDB.Mode.open) as db:
                for item, result in db.completed_work_items:
                    if result.worker_outcome == WorkerOutcome.SKIPPED:
                        continue
                    mutant = _mutant(item, result)
                    if result.test_outcome == TestOutcome.SURVIVED:
                        survived.append(mutant)
                    elif result.test_outcome == TestOutcome.KILLED:
                        killed.append(mutant)
                    else:
                        incompetent.append(mutant)
        return Outcome(mutants, len(chosen), sorted(killed, key=_order),
                       sorted(survived, key=_order), equivalent, sorted(incompetent, key=_order),
                       outside)
