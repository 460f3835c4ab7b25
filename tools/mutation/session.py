"""One mutation session: a scratch copy of the project, cosmic-ray's work database, the
sample, the run, and the outcome of every mutant tried.

cosmic-ray edits the module in place for each mutant, so the session works in a copy of
the project's files (those git knows, plus new ones not ignored), never in the checkout.
The suite is run once unmutated first: a suite that fails on the original would "kill"
every mutant and prove nothing.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

from tools.mutation import MODULES
from tools.mutation.equivalent import why_equivalent

__all__ = ["Mutant", "Outcome", "SuiteFailed", "run_session"]

PROJECT = Path(__file__).resolve().parents[2]
# The embedded suite, stopping at the first failure (a killed mutant needs no more).
TEST_COMMAND = (f"{sys.executable} -m behave features/golden_path --stop --no-junit "
                "--format=null")
CONFIG = """[cosmic-ray]
module-path = {modules}
timeout = {timeout}
excluded-modules = []
test-command = "{command}"

[cosmic-ray.distributor]
name = "local"
"""


class SuiteFailed(RuntimeError):
    """The suite does not pass on the unmutated service; the message carries its end."""


@dataclass(frozen=True)
class Mutant:
    module: str
    line: int
    operator: str
    diff: str
    reason: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What a session found: every mutant there is, and what became of those tried."""

    mutants: int
    tried: int
    killed: list[Mutant]
    survived: list[Mutant]
    equivalent: list[Mutant]
    incompetent: list[Mutant]


def _copy_project(into: Path) -> None:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"],
                            cwd=PROJECT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = PROJECT / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)


def _baseline(root: Path, timeout: float) -> None:
    done = subprocess.run(TEST_COMMAND.split(), cwd=root, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if done.returncode != 0:
        raise SuiteFailed("the suite fails on the unmutated service, so no mutant can be "
                          f"judged: {(done.stdout + done.stderr)[-1500:]}")


def _mutant(item: object, result: WorkResult | None, reason: str | None = None) -> Mutant:
    spec = item.mutations[0]  # type: ignore[attr-defined]
    return Mutant(str(spec.module_path), spec.start_pos[0],
                  spec.operator_name.rsplit("/", 1)[-1],
                  (result.diff or "") if result is not None else "", reason)


def run_session(sample: int | None, seed: int | None, timeout: float) -> Outcome:
    """Make every mutant of MODULES, set the equivalent ones aside, try `sample` of the
    others (all when None), and tell what became of them."""
    with tempfile.TemporaryDirectory(prefix="golden-path-mutation-") as scratch:
        root = Path(scratch)
        _copy_project(root)
        config, db_path = root / "cosmic-ray.toml", root / "session.sqlite"
        config.write_text(CONFIG.format(modules=list(MODULES), timeout=timeout,
                                        command=TEST_COMMAND))
        subprocess.run(["cosmic-ray", "init", str(config), str(db_path)], cwd=root, check=True)
        equivalent: list[Mutant] = []
        with use_db(str(db_path), WorkDB.Mode.open) as db:
            items = list(db.work_items)
            candidates = []
            for item in items:
                spec = item.mutations[0]
                reason = why_equivalent(root, str(spec.module_path), spec.operator_name,
                                        spec.start_pos, spec.end_pos)
                if reason is None:
                    candidates.append(item)
                else:
                    equivalent.append(_mutant(item, None, reason))
            chosen = candidates if sample is None else random.Random(seed).sample(
                candidates, min(sample, len(candidates)))
            left_out = {i.job_id for i in items} - {i.job_id for i in chosen}
            db.set_multiple_results(left_out, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
        _baseline(root, timeout * 2)
        subprocess.run(["cosmic-ray", "exec", str(config), str(db_path)], cwd=root, check=True)
        killed, survived, incompetent = [], [], []
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
        return Outcome(len(items), len(chosen), killed, survived, equivalent, incompetent)
