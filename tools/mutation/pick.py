"""`python -m tools.mutation.pick`: the test command cosmic-ray runs on each mutant.

It finds the lines cosmic-ray changed (the module that differs from its pristine copy in
the session's work folder), asks the session's `Reach` which scenarios run those lines,
and runs just those, stopping at the first failure; the whole suite when a line runs at
start-up. Its first line of output names what it ran, so a session can tell which
scenarios judged each mutant.
"""

from __future__ import annotations

import difflib
import subprocess
import sys
from pathlib import Path

from tools.mutation.reach import ALL, FEATURES, WORK, Reach

__all__ = ["changed_lines", "main"]


def changed_lines(before: str, after: str) -> range | None:
    """The lines of `before` that `after` changes, as one range; None when they agree."""
    spans = [(i1, max(i2, i1 + 1)) for tag, i1, i2, _, _ in difflib.SequenceMatcher(
        None, before.splitlines(), after.splitlines(), autojunk=False).get_opcodes()
        if tag != "equal"]
    if not spans:
        return None
    return range(spans[0][0] + 1, spans[-1][1] + 1)


def _mutated(root: Path) -> tuple[str, range] | None:
    pristine = root / WORK / "pristine"
    for original in sorted(pristine.rglob("*.py")):
        module = original.relative_to(pristine).as_posix()
        lines = changed_lines(original.read_text(), (root / module).read_text())
        if lines is not None:
            return module, lines
    return None


def main() -> int:
    root = Path.cwd()
    found = _mutated(root)
    if found is None:
        print("pick: no module differs from its pristine copy; running the whole suite")
        chosen: list[str] | str = ALL
    else:
        module, lines = found
        chosen = Reach.from_json((root / WORK / "reach.json").read_text()).scenarios_for(
            module, lines)
        if not chosen:
            print(f"pick: no scenario runs {module} lines {lines.start}-{lines.stop - 1}")
            return 0
    targets = [FEATURES] if chosen == ALL else list(chosen)
    print(f"pick: {'the whole suite' if chosen == ALL else ' '.join(targets)}", flush=True)
    return subprocess.run([sys.executable, "-m", "behave", *targets, "--stop", "--no-junit",
                           "--format=null"], cwd=root, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
