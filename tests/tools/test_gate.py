"""`python -m tools.gate` counts scenarios from the Cucumber JSON a behave run wrote and
never prints a password or the signing secret.

The counts are checked on JSON written by real behave runs with the project's own
formatter: the report fixture (tests/fixtures/reports), whose own summary line they must
agree with, and a small feature written here for the cases the fixture lacks (a scenario
skipped part-way, an undefined step, a failing background).
"""

from __future__ import annotations

import json
import re
import signal
import sys
import time
from pathlib import Path

import pytest

from tools.gate import NoScenarios, ScenarioCounts, count_document, count_file, mask, run_command
from tools.gate.stages import TIMED_OUT, Gate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures" / "reports"))
from reports_fixture import prepare, run_behave

COUNTING_FEATURE = """\
Feature: Counting
  Scenario: It passes
    Given a step that passes

  Scenario: It fails
    Given a step that passes
    When a step that fails
    Then a step that passes

  Scenario: It is skipped part-way
    Given a step that passes
    When the scenario is skipped
    Then a step that passes

  Scenario: It has a step nobody wrote
    Given a step nobody wrote
"""

BACKGROUND_FEATURE = """\
Feature: A background that fails
  Background:
    Given a step that fails

  Scenario: It never gets going
    Then a step that passes
"""

STEPS = """\
from behave import step


@step("a step that passes")
def passes(context):
    pass


@step("a step that fails")
def fails(context):
    raise AssertionError("it failed")


@step("the scenario is skipped")
def skipped(context):
    context.scenario.skip("not here")
"""


def behave_summary(stdout: str) -> ScenarioCounts:
    """behave's own `N scenarios passed, ...` line: error, hook_error and the like count
    as failed."""
    first, rest = re.findall(r"^(\d+) scenarios? passed, (.*)$", stdout, re.MULTILINE)[-1]
    failed = skipped = 0
    for number, word in re.findall(r"(\d+) (\w+)", rest):
        if word == "skipped":
            skipped += int(number)
        else:
            failed += int(number)
    return ScenarioCounts(int(first), failed, skipped)


def test_counts_of_the_report_fixture_agree_with_behave(tmp_path: Path) -> None:
    run = run_behave(prepare(tmp_path))
    counts = count_file(run.reports / "golden_path.json")
    assert counts == ScenarioCounts(passed=5, failed=4, skipped=0)
    assert counts == behave_summary(run.stdout)


def test_skipped_undefined_and_background_failures(tmp_path: Path) -> None:
    directory = prepare(tmp_path)
    for old in (directory / "features").glob("*.feature"):
        old.unlink()
    (directory / "features" / "counting.feature").write_text(COUNTING_FEATURE)
    (directory / "features" / "background.feature").write_text(BACKGROUND_FEATURE)
    (directory / "features" / "steps" / "chat_steps.py").write_text(STEPS)
    (directory / "features" / "environment.py").unlink()
    run = run_behave(directory)
    assert run.returncode != 0, run.stdout + run.stderr
    counts = count_file(run.reports / "golden_path.json")
    assert counts == ScenarioCounts(passed=1, failed=3, skipped=1), run.stdout


def test_a_failed_hook_fails_a_scenario_whose_steps_passed() -> None:
    passed = {"result": {"status": "passed"}}
    scenario = {"type": "scenario", "steps": [passed],
                "after": [{"result": {"status": "failed"}}]}
    assert count_document([{"elements": [scenario]}]) == ScenarioCounts(failed=1)


def test_a_scenario_that_ran_nothing_is_skipped() -> None:
    skipped = {"result": {"status": "skipped"}}
    scenario = {"type": "scenario", "steps": [skipped, skipped]}
    assert count_document([{"elements": [scenario]}]) == ScenarioCounts(skipped=1)


def test_a_background_belongs_to_the_next_scenario_only() -> None:
    failed = {"type": "background", "steps": [{"result": {"status": "failed"}}]}
    scenario = {"type": "scenario", "steps": [{"result": {"status": "skipped"}}]}
    passing = {"type": "scenario", "steps": [{"result": {"status": "passed"}}]}
    document = [{"elements": [failed, scenario, passing]}]
    assert count_document(document) == ScenarioCounts(passed=1, failed=1)


@pytest.mark.parametrize("text, why", [
    (None, "wrote no"),
    ("{not json", "cannot be read as JSON"),
    ('{"features": []}', "not a Cucumber JSON document"),
    ("[]", "holds no scenario"),
    ('[{"elements": []}]', "holds no scenario"),
])
def test_nothing_to_count_is_said(tmp_path: Path, text: str | None, why: str) -> None:
    path = tmp_path / "golden_path.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(NoScenarios, match=why):
        count_file(path)


def test_counts_add_up_and_read_as_the_gate_prints_them() -> None:
    total = ScenarioCounts(40, 0, 0) + ScenarioCounts(39, 1, 1)
    assert total.line() == "79 passed, 1 failed, 1 skipped"


def test_passwords_and_the_secret_are_masked() -> None:
    line = ("GOLDEN_PATH_DATABASE_URL=postgresql+asyncpg://golden:s3cr3t@127.0.0.1:5432/gp "
            "GOLDEN_PATH_REDIS_URL=redis://:hunter2@127.0.0.1:6379/0 "
            "GOLDEN_PATH_JWT_SECRET=abc-DEF_123 python -m pytest")
    assert mask(line) == (
        "GOLDEN_PATH_DATABASE_URL=postgresql+asyncpg://golden:***@127.0.0.1:5432/gp "
        "GOLDEN_PATH_REDIS_URL=redis://:***@127.0.0.1:6379/0 "
        "GOLDEN_PATH_JWT_SECRET=*** python -m pytest")
    assert mask("ws://127.0.0.1:8765/ws redis://127.0.0.1:6379/0") == (
        "ws://127.0.0.1:8765/ws redis://127.0.0.1:6379/0")
    assert mask("the secret abc-DEF_123 leaked", ["abc-DEF_123"]) == "the secret *** leaked"


def test_the_stage_line_is_masked(capsys: pytest.CaptureFixture[str]) -> None:
    gate = Gate(secrets=["tok3n"])
    env = {"GOLDEN_PATH_JWT_SECRET": "tok3n"}
    code = gate.stage("echo", 30, [sys.executable, "-c", "print('ok')"], env=env,
                      shown_env={"GOLDEN_PATH_REDIS_URL": "redis://:pw@127.0.0.1:1/0", **env})
    out = capsys.readouterr().out
    assert code == 0
    assert "pw@" not in out and "tok3n" not in out
    assert "GOLDEN_PATH_REDIS_URL=redis://:***@127.0.0.1:1/0 GOLDEN_PATH_JWT_SECRET=***" in out
    assert re.fullmatch(r"echo +\d+s  exit 0", gate.rows[0]), gate.rows
    assert gate.summary()[-1] == "scenarios: 0 passed, 0 failed, 0 skipped"


def test_a_stage_past_its_limit_is_stopped(tmp_path: Path) -> None:
    log = tmp_path / "stage.log"
    began = time.monotonic()
    code, timed_out = run_command(
        [sys.executable, "-c", "import sys, time; print('started', flush=True); time.sleep(60)"],
        limit_s=1, env={}, log=log)
    assert timed_out and code == TIMED_OUT
    assert time.monotonic() - began < 15
    assert log.read_text() == "started\n"


def test_a_stage_ended_by_a_signal_reads_as_in_a_shell() -> None:
    code, timed_out = run_command(
        [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"],
        limit_s=30, env={})
    assert (code, timed_out) == (128 + signal.SIGTERM, False)


def test_json_of_the_formatter_is_a_list_of_features(tmp_path: Path) -> None:
    run = run_behave(prepare(tmp_path), "-n", "long note")
    document = json.loads((run.reports / "golden_path.json").read_text())
    assert count_document(document) == ScenarioCounts(passed=1)
