"""The mutation reports: `reports/mutation.json` for tools, `reports/mutation.md` for
people (the figures, every survivor with its diff, the equivalent ones by reason)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from tools.mutation import MODULES
from tools.mutation.session import Mutant, Outcome

__all__ = ["write"]


def _entry(mutant: Mutant, *, with_reason: bool = False) -> dict[str, object]:
    entry: dict[str, object] = {k: v for k, v in asdict(mutant).items()
                                if k not in ("reason", "judged_by")}
    if with_reason:
        entry["reason"] = mutant.reason
    else:
        entry["reached"] = mutant.judged_by is not None
        entry["judged_by"] = mutant.judged_by
    return entry


def document(outcome: Outcome, sample: int | None, seed: int | None,
             again: str | None = None) -> dict[str, object]:
    return {
        "tool": "cosmic-ray",
        "modules": list(MODULES),
        "mutants": outcome.mutants,
        "sample": sample,
        "seed": seed,
        "again": again,
        "tried": outcome.tried,
        "killed": len(outcome.killed),
        "unreached": len(outcome.unreached),
        "survived": [_entry(m) for m in outcome.survived],
        "incompetent": [_entry(m) for m in outcome.incompetent],
        "equivalent": [_entry(m, with_reason=True) for m in outcome.equivalent],
        "outside_contract": [_entry(m, with_reason=True) for m in outcome.outside],
    }


def markdown(outcome: Outcome, sample: int | None, seed: int | None,
             again: str | None = None) -> str:
    tried = outcome.tried
    score = f"{len(outcome.killed) / tried:.0%}" if tried else "-"
    lines = [
        "# Gate strength: mutation testing",
        "",
        (f"cosmic-ray over {', '.join(f'`{m}`' for m in MODULES)}, the embedded suite as the "
        "test command."),
        "",
        ("Each mutant is judged by the scenarios that run its line (coverage of one unmutated "
         "run, by scenario), or by the whole suite when its line runs at start-up; a mutant on a "
         "line no scenario runs survives without a run."),
        "",
        ("| mutants | equivalent | outside the contract | tried | killed | survived | "
         "of them not reached | incompetent | killed of tried |"),
        "|---|---|---|---|---|---|---|---|---|",
        (f"| {outcome.mutants} | {len(outcome.equivalent)} | {len(outcome.outside)} | {tried} | "
         f"{len(outcome.killed)} | {len(outcome.survived)} | {len(outcome.unreached)} | "
         f"{len(outcome.incompetent)} | {score} |"),
        "",
        (f"The survivors of `{again}` were tried again." if again is not None else
         "All mutants not set aside were tried." if sample is None else
         f"A random sample of {sample} of the mutants not set aside was tried "
         f"(seed {seed})."),
        "",
        "## Survivors: promises nobody checks",
        "",
    ]
    if not outcome.survived:
        lines.append("None.")
    for mutant in outcome.survived:
        judged = ("no scenario runs this line" if mutant.judged_by is None
                  else f"judged by {mutant.judged_by}")
        lines += [f"### `{mutant.module}` line {mutant.line}: {mutant.operator}", "", judged, "",
                  "```diff", mutant.diff.strip(), "```", ""]
    lines += ["", "## Equivalent mutants", ""]
    for reason, count in Counter(m.reason for m in outcome.equivalent).most_common():
        lines.append(f"- {count}: {reason}")
    lines += ["", "## Outside the contract", "",
              "Mutants that change only what the contract does not promise, set aside untried:",
              ""]
    for reason, count in Counter(m.reason for m in outcome.outside).most_common():
        lines.append(f"- {count}: {reason}")
    return "\n".join(lines) + "\n"


def write(outcome: Outcome, sample: int | None, seed: int | None, out: Path,
          again: str | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "mutation.json").write_text(
        json.dumps(document(outcome, sample, seed, again), indent=2) + "\n")
    (out / "mutation.md").write_text(markdown(outcome, sample, seed, again))
