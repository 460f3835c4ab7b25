"""The mutation tool's own parts: which mutants are equivalent and why, and the reports'
shape (the figures a CI or a person reads)."""

from __future__ import annotations

import json
from pathlib import Path

from tools.mutation.equivalent import why_equivalent
from tools.mutation.pick import changed_lines
from tools.mutation.reach import ALL, Reach
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
    survivor = Mutant("chat/cache.py", 12, "NumberReplacer", "-    ttl = 3600\n+    ttl = 3601",
                      judged_by="features/golden_path/cache.feature:9")
    unreached = Mutant("chat/auth.py", 30, "AddNot", "-    if a:\n+    if not a:")
    outcome = Outcome(mutants=10, tried=4, killed=[Mutant("chat/auth.py", 1, "AddNot", "d")] * 2,
                      survived=[survivor, unreached], incompetent=[],
                      equivalent=[Mutant("chat/auth.py", 2, "X", "d", "never evaluated")],
                      outside=[Mutant("chat/frames.py", 3, "NumberReplacer", "d", "a bound")])
    write(outcome, 4, 7, tmp_path)
    document = json.loads((tmp_path / "mutation.json").read_text())
    assert document["tool"] == "cosmic-ray"
    assert (document["mutants"], document["killed"], document["tried"]) == (10, 2, 4)
    assert document["unreached"] == 1
    assert document["survived"][0] == {
        "module": "chat/cache.py", "line": 12, "operator": "NumberReplacer",
        "diff": survivor.diff, "reached": True,
        "judged_by": "features/golden_path/cache.feature:9"}
    assert document["survived"][1]["reached"] is False
    assert document["equivalent"][0]["reason"] == "never evaluated"
    text = (tmp_path / "mutation.md").read_text()
    assert "`chat/cache.py` line 12: NumberReplacer" in text and "ttl = 3601" in text
    assert "judged by features/golden_path/cache.feature:9" in text
    assert "no scenario runs this line" in text
    assert "| 10 | 1 | 1 | 4 | 2 | 2 | 1 | 0 | 50% |" in text
    assert document["outside_contract"][0]["reason"] == "a bound"
    assert "- 1: a bound" in text


def test_the_changed_lines_of_a_mutant_are_found_against_the_pristine_copy() -> None:
    before = "a = 1\nb = 2\nc = 3\n"
    assert changed_lines(before, before) is None
    assert changed_lines(before, "a = 1\nb = 3\nc = 3\n") == range(2, 3)
    assert changed_lines(before, "a = 1\nb = 2\n") == range(3, 4)


def test_a_mutant_is_judged_by_the_scenarios_that_reach_its_lines() -> None:
    reach = Reach(lines={"chat/m.py": {3: {"f.feature:9"}, 4: {"f.feature:20", "f.feature:9"},
                                       1: {""}}},
                  elsewhere={"chat/m.py": {7}}, own_service=["r.feature:25"])
    assert reach.scenarios_for("chat/m.py", range(3, 5)) == ["f.feature:9", "f.feature:20"]
    assert reach.scenarios_for("chat/m.py", range(1, 2)) == ALL
    assert reach.scenarios_for("chat/m.py", range(7, 8)) == ["r.feature:25"]
    assert reach.scenarios_for("chat/m.py", range(5, 7)) == []
    assert reach.scenarios_for("chat/other.py", range(1, 9)) == []
    reach.first_lines["chat/m.py"] = {5: 3}
    assert reach.scenarios_for("chat/m.py", range(5, 6)) == ["f.feature:9"]
    assert Reach.from_json(reach.to_json()) == reach


def test_a_survivor_is_known_again_by_its_change_wherever_it_now_is() -> None:
    from tools.mutation.session import _changes
    before = "--- a/chat/m.py\n+++ b/chat/m.py\n@@ -3,3 +3,3 @@\n a\n-b = 1 + 2\n+b = 1 - 2\n c"
    moved = before.replace("@@ -3,3 +3,3 @@", "@@ -9,3 +9,3 @@")
    assert _changes(before) == _changes(moved) == ("-b = 1 + 2", "+b = 1 - 2")


def test_a_function_outside_the_contract_is_set_aside_wherever_its_lines_are(
        tmp_path: Path) -> None:
    from tools.mutation import outside
    (tmp_path / "chat").mkdir()
    (tmp_path / "chat" / "auth.py").write_text(
        "X = 1\n\n\ndef issue_token(a,\n                *, b=3):\n    return a + b\n\n\n"
        "class _VerificationKey:\n    def build(self):\n        return 2\n\n\n"
        "class TokenVerifier:\n    @property\n    def key_ids(self):\n        return {}\n")
    reason = outside.why_outside(tmp_path, "chat/auth.py", "core/NumberReplacer", (5, 20))
    assert reason is not None and "issuer" in reason
    assert outside.why_outside(tmp_path, "chat/auth.py", "core/NumberReplacer", (1, 4)) is None


def test_a_bare_star_made_a_slash_is_equivalent_only_while_no_call_names_an_earlier_parameter(
        tmp_path: Path) -> None:
    (tmp_path / "chat").mkdir()
    module = tmp_path / "chat" / "m.py"
    module.write_text("def f(a, *, b=1):\n    return a + b\n\n\nX = f(1, b=2)\n")
    star = (1, 9)
    assert why_equivalent(tmp_path, "chat/m.py", "core/ReplaceBinaryOperator_Mul_Div",
                          star, (1, 10)) is not None
    module.write_text("def f(a, *, b=1):\n    return a + b\n\n\nX = f(a=1, b=2)\n")
    from tools.mutation import equivalent
    equivalent._keywords_passed.cache_clear()
    assert why_equivalent(tmp_path, "chat/m.py", "core/ReplaceBinaryOperator_Mul_Div",
                          star, (1, 10)) is None


def test_a_listed_case_may_name_what_the_line_becomes(tmp_path: Path) -> None:
    from tools.mutation.equivalent import Listed, listed_reason
    (tmp_path / "chat").mkdir()
    (tmp_path / "chat" / "m.py").write_text("X = d.get(k, 0)\n")
    cases = (Listed("chat/m.py", "NumberReplacer", "X = d.get(k, 0)", "why", becomes="-1)"),)
    assert listed_reason(cases, tmp_path, "chat/m.py", "core/NumberReplacer", (1, 13),
                         lambda: "X = d.get(k, -1)") == "why"
    assert listed_reason(cases, tmp_path, "chat/m.py", "core/NumberReplacer", (1, 13),
                         lambda: "X = d.get(k, 1)") is None
    assert listed_reason(cases, tmp_path, "chat/m.py", "core/NumberReplacer", (1, 13)) is None
