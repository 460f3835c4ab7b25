"""The mutation tool's own parts: which mutants are equivalent and why, and the reports'
shape (the figures a CI or a person reads)."""

from __future__ import annotations

import json
from pathlib import Path

from tools.mutation.equivalent import why_equivalent
from tools.mutation.report import write
from tools.mutation.session import Mutant, Outcome

SOURCE = '''from __future__ import annotations


def pick(value: str | None, limit: int = 3) -> str | None:
    kept: list[str] | None = None
    return value if limit | 1 else kept
'''


def test_an_operator_inside_an_annotation_is_equivalent_and_in_code_it_is_not(
        tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(SOURCE)
    annotation = why_equivalent(tmp_path, "m.py", "core/ReplaceBinaryOperator_BitOr_Add",
                                (4, 16), (4, 26))
    assert annotation is not None and "annotation" in annotation
    assert why_equivalent(tmp_path, "m.py", "core/ReplaceBinaryOperator_BitOr_Add",
                          (6, 20), (6, 29)) is None


def test_annotations_are_evaluated_without_the_future_import(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(SOURCE.replace("from __future__ import annotations\n", ""))
    assert why_equivalent(tmp_path, "m.py", "core/ReplaceBinaryOperator_BitOr_Add",
                          (3, 16), (3, 26)) is None


def test_the_reports_carry_every_figure_and_every_survivor(tmp_path: Path) -> None:
    survivor = Mutant("chat/cache.py", 12, "NumberReplacer", "-    ttl = 3600\n+    ttl = 3601")
    outcome = Outcome(mutants=10, tried=3, killed=[Mutant("chat/auth.py", 1, "AddNot", "d")] * 2,
                      survived=[survivor], incompetent=[],
                      equivalent=[Mutant("chat/auth.py", 2, "X", "d", "never evaluated")])
    write(outcome, 3, 7, tmp_path)
    document = json.loads((tmp_path / "mutation.json").read_text())
    assert document["tool"] == "cosmic-ray"
    assert (document["mutants"], document["killed"], document["tried"]) == (10, 2, 3)
    assert document["survived"] == [{"module": "chat/cache.py", "line": 12,
                                     "operator": "NumberReplacer", "diff": survivor.diff}]
    assert document["equivalent"][0]["reason"] == "never evaluated"
    text = (tmp_path / "mutation.md").read_text()
    assert "`chat/cache.py` line 12: NumberReplacer" in text and "ttl = 3601" in text
    assert "| 10 | 1 | 3 | 2 | 1 | 0 | 67% |" in text
