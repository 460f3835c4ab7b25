"""The reports of a run: Cucumber JSON, the HTML page, metrics, JUnit and the console.

Most tests run behave in a subprocess on the fixture in tests/fixtures/reports (with the
project's own [tool.behave] configuration) and read what it wrote, the way CI and a
reader would. The figure arithmetic and the console block are also tested directly.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "fixtures" / "reports"))

from reports_fixture import FixtureRun, Node, parse_html, prepare, run_behave

from support.reports.console import closing_block
from support.reports.figures import format_ms, percentile, summarise
from support.reports.html import format_seconds
from support.reports.results import RunResult

FAILING = [
    "Alice gets a wrong answer",
    "The assistant breaks down",
    "The chat cannot be reached",
    "Alice's visit cannot be tidied away",
]
PASSING = [
    "Alice gets the answer to a sum",
    "Alice's conversation is kept",
    "Alice asks for a sum -- @1.1",
    "Alice asks for a difference -- @1.2",
    "Alice leaves a long note",
]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> FixtureRun:
    """The plain run: no options, some scenarios fail."""
    return run_behave(prepare(tmp_path_factory.mktemp("full")))


@pytest.fixture(scope="module")
def subset_run(tmp_path_factory: pytest.TempPathFactory) -> FixtureRun:
    """A tag subset with userdata, on a run that fell back to an embedded part."""
    directory = prepare(tmp_path_factory.mktemp("subset"))
    return run_behave(directory, "--tags=not @failing", "-D", "backends=auto", "-D", "fallback=yes")


def scenarios(document: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for feature in document for e in feature["elements"] if e["type"] == "scenario"]


def step_named(scenario: dict[str, Any], name: str) -> dict[str, Any]:
    return next(step for step in scenario["steps"] if step["name"] == name)


def scenario_named(document: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(element for element in scenarios(document) if element["name"] == name)


# -- one plain run writes everything --------------------------------------------------


def test_plain_run_writes_all_five_reports(full_run: FixtureRun) -> None:
    assert full_run.returncode == 1, full_run.stdout + full_run.stderr
    for name in ("golden_path.json", "golden_path.html", "metrics.json", "metrics.md"):
        assert (full_run.reports / name).stat().st_size > 0, name
    assert sorted(path.name for path in (full_run.reports / "junit").glob("*.xml")) == [
        "TESTS-chat.xml",
        "TESTS-failures.xml",
        "TESTS-notes.xml",
    ]
    assert "could not be written" not in full_run.stderr


def test_console_keeps_progress_and_ends_with_the_closing_block(full_run: FixtureRun) -> None:
    out = full_run.stdout
    assert "features/chat.feature  ...." in out, out
    summary = out.index("scenarios passed")
    block = out.index("Golden Path FAILED: 5 passed, 4 failed (backends: embedded)")
    assert block > summary, out
    tail = out[block:]
    assert "database  SQLite (embedded, aiosqlite)" in tail
    assert "reports/golden_path.html, reports/golden_path.json" in tail
    assert "reports/metrics.json, reports/metrics.md, reports/junit/ (3 JUnit files)" in tail
    assert "p95: connect and authenticate 4.00 ms" in tail
    assert "message to completed answer 12.0 ms" in tail


# -- Cucumber JSON ---------------------------------------------------------------------


def test_cucumber_json_features_carry_uri_id_keyword_name_line_tags(full_run: FixtureRun) -> None:
    document = full_run.cucumber()
    assert [feature["uri"] for feature in document] == [
        "features/chat.feature",
        "features/failures.feature",
        "features/notes.feature",
    ]
    chat = document[0]
    assert chat["id"] == "asking-the-assistant"
    assert (chat["keyword"], chat["name"], chat["line"]) == ("Feature", "Asking the assistant", 2)
    assert chat["tags"] == [{"name": "@chat", "line": 1}]
    assert chat["description"].startswith("A signed-in user asks a question")


def test_cucumber_json_writes_the_background_before_each_scenario(full_run: FixtureRun) -> None:
    elements = full_run.cucumber()[0]["elements"]
    assert [element["type"] for element in elements] == ["background", "scenario"] * 4
    background = elements[0]
    assert (background["keyword"], background["line"]) == ("Background", 5)
    assert [step["name"] for step in background["steps"]] == ["Alice is signed in"]
    scenario = elements[1]
    assert scenario["id"] == "asking-the-assistant;alice-gets-the-answer-to-a-sum"
    assert scenario["tags"] == [{"name": "@chat", "line": 1}, {"name": "@smoke", "line": 8}]
    assert [step["keyword"] for step in scenario["steps"]] == ["When ", "Then "]


def test_cucumber_json_steps_have_match_result_and_nanoseconds(full_run: FixtureRun) -> None:
    document = full_run.cucumber()
    for scenario in scenarios(document):
        for step in scenario["steps"]:
            assert step["match"]["location"].startswith("features/steps/chat_steps.py:")
            assert isinstance(step["result"]["duration"], int)
            assert step["result"]["status"] in {"passed", "failed", "skipped"}
            if step["result"]["status"] == "passed":
                assert 0 < step["result"]["duration"] < 10 * 10**9
    when = step_named(scenario_named(document, PASSING[0]), 'Alice asks "What is 2 + 3?"')
    assert when["line"] == 10
    assert when["match"]["arguments"][0] == {"val": "Alice", "offset": 0}


def test_cucumber_json_failed_step_has_the_readers_message(full_run: FixtureRun) -> None:
    document = full_run.cucumber()
    wrong = scenario_named(document, "Alice gets a wrong answer")
    failed = step_named(wrong, 'Alice sees the answer "2 + 2 = 5"')["result"]
    assert failed["status"] == "failed"
    assert failed["error_message"].startswith(
        "the answer Alice sees\nExpected: '2 + 2 = 5'\n     but: was '2 + 2 = 4'"
    )
    assert "Traceback" in failed["error_message"]
    after = step_named(wrong, "Alice sees the tools finish before the answer")["result"]
    assert after == {"status": "skipped", "duration": 0}

    broke = scenario_named(document, "The assistant breaks down")
    error = step_named(broke, 'Alice asks "What is 1 / 0?"')["result"]
    assert error["status"] == "failed"
    assert error["error_message"].startswith(
        "The step stopped with an unexpected error: ZeroDivisionError"
    )


def test_cucumber_json_reports_a_failed_set_up_as_a_failed_before_hook(
    full_run: FixtureRun,
) -> None:
    unreachable = scenario_named(full_run.cucumber(), "The chat cannot be reached")
    (hook,) = unreachable["before"]
    assert hook["result"]["status"] == "failed"
    assert "the chat service did not answer at 127.0.0.1:1" in hook["result"]["error_message"]
    assert [step["result"]["status"] for step in unreachable["steps"]] == ["skipped", "skipped"]


def test_cucumber_json_reports_a_failed_clean_up_as_a_failed_after_hook(
    full_run: FixtureRun,
) -> None:
    untidy = scenario_named(full_run.cucumber(), "Alice's visit cannot be tidied away")
    assert [step["result"]["status"] for step in untidy["steps"]] == ["passed", "passed"]
    (hook,) = untidy["after"]
    assert hook["match"] == {"location": "cleanup:tidy_up"}
    assert hook["result"]["error_message"].startswith(
        "The clean-up after this scenario failed:"
        " PermissionError: Alice's conversation could not be deleted"
    )


def test_cucumber_json_keeps_doc_strings_tables_and_outline_rows(full_run: FixtureRun) -> None:
    document = full_run.cucumber()
    note = step_named(
        scenario_named(document, "Alice leaves a long note"), "Alice writes the note:"
    )
    assert note["doc_string"]["value"] == "Remember the cost report.\nIt is due on Friday."
    kept = scenario_named(document, "Alice's conversation is kept")
    table = step_named(kept, "the conversation holds these messages:")
    assert table["rows"][0] == {"cells": ["author", "text"]}
    assert len(table["rows"]) == 3
    outline = scenario_named(document, "Alice asks for a sum -- @1.1")
    assert outline["keyword"] == "Scenario Outline"
    assert (
        outline["id"] == "asking-the-assistant;alice-asks-for-a-operation;alice-asks-for-a-sum-1-1"
    )
    assert outline["line"] == 26


# -- HTML --------------------------------------------------------------------------------


def _page(run: FixtureRun) -> Node:
    return parse_html(run.html())


def test_html_header_says_verdict_counts_duration_and_backends(full_run: FixtureRun) -> None:
    page = _page(full_run)
    assert page.by_id("verdict").text.strip() == "FAILED"  # type: ignore[union-attr]
    summary = " ".join(page.by_id("summary").text.split())  # type: ignore[union-attr]
    assert summary.startswith("9 scenarios: 5 passed, 4 failed · 26 steps · took ")
    backends = page.by_id("backends").text  # type: ignore[union-attr]
    assert "SQLite (embedded, aiosqlite)" in backends
    assert "in-process at ws://127.0.0.1:45123/ws" in backends
    assert page.by_id("fallback-banner") is None


def test_html_names_every_scenario_with_its_status_and_step_durations(
    full_run: FixtureRun,
) -> None:
    page = _page(full_run)
    articles = page.find_all("article", "scenario")
    names = [article.find(cls="scenario-name").text for article in articles]  # type: ignore[union-attr]
    assert sorted(names) == sorted(FAILING + PASSING)
    statuses = {a.find(cls="scenario-name").text: a.attrs["data-status"] for a in articles}  # type: ignore[union-attr]
    assert {name for name, status in statuses.items() if status == "failed"} == set(FAILING)
    steps = page.find_all("li", "step")
    assert len(steps) == 26
    for step in steps:
        if "status-passed" in step.classes:
            assert step.find(cls="duration").text.strip().endswith("ms")  # type: ignore[union-attr]


def test_html_shows_the_failure_in_the_readers_words(full_run: FixtureRun) -> None:
    page = _page(full_run)
    wrong = page.by_id("things-that-go-wrong;alice-gets-a-wrong-answer")
    assert wrong is not None
    message = wrong.find("pre", "failure-message").text  # type: ignore[union-attr]
    assert message == "the answer Alice sees\nExpected: '2 + 2 = 5'\n     but: was '2 + 2 = 4'"
    technical = wrong.find("details", "technical")
    assert technical is not None and "Traceback (most recent call last)" in technical.text
    assert "Traceback" not in message
    assert "open" in wrong.find("details").attrs  # type: ignore[union-attr]

    unreachable = page.by_id("things-that-go-wrong;the-chat-cannot-be-reached")
    assert unreachable is not None
    assert unreachable.find("pre", "failure-message").text.startswith(  # type: ignore[union-attr]
        "The set-up before this scenario failed, so its steps did not run: ConnectionError"
    )


def test_html_is_one_self_contained_file(full_run: FixtureRun) -> None:
    page = _page(full_run)
    assert not page.find_all("link")
    for node in page.find_all():
        for name in ("src", "href"):
            value = node.attrs.get(name, "")
            assert not value or value.startswith("#"), f"{node.tag} {name}={value}"
    assert page.find("style") is not None and page.find("script") is not None


def test_html_offers_status_and_tag_filters_and_the_metrics(full_run: FixtureRun) -> None:
    page = _page(full_run)
    filters = {a.attrs["data-status"]: a.text for a in page.find_all("a", "status-filter")}
    assert filters == {
        "all": "All (9)",
        "passed": "Passed (5)",
        "failed": "Failed (4)",
        "skipped": "Not run (0)",
    }
    options = [o.attrs["value"] for o in page.by_id("tag-filter").find_all("option")]  # type: ignore[union-attr]
    assert options == ["", "@broken_setup", "@chat", "@failing", "@smoke"]
    rows = {
        row.attrs["data-operation"]: [cell.text for cell in row.find_all("td")]
        for row in page.by_id("metrics").find_all("tr")  # type: ignore[union-attr]
        if "data-operation" in row.attrs
    }
    assert rows["thread_creation"] == [
        "Thread creation",
        "100",
        "50.0 ms",
        "95.0 ms",
        "99.0 ms",
        "100 ms",
    ]


# -- metrics -------------------------------------------------------------------------------


def test_metrics_json_has_figures_per_operation_with_backends(full_run: FixtureRun) -> None:
    metrics = full_run.metrics()
    assert metrics["unit"] == "ms"
    assert metrics["mode"] == "embedded"
    assert metrics["backends"]["cache"] == "fakeredis (embedded)"
    assert metrics["fallbacks"] == []
    assert list(metrics["operations"]) == [
        "connect_auth",
        "first_event",
        "message_to_completed",
        "thread_creation",
    ]
    assert metrics["operations"]["thread_creation"] == {
        "label": "Thread creation",
        "count": 100,
        "p50_ms": 50.0,
        "p95_ms": 95.0,
        "p99_ms": 99.0,
        "max_ms": 100.0,
    }
    signed_in = [
        step
        for scenario in full_run.cucumber()
        for element in scenario["elements"]
        for step in element["steps"]
        if step["name"] == "Alice is signed in" and step["result"]["status"] == "passed"
    ]
    assert metrics["operations"]["connect_auth"]["count"] == len(signed_in) == 8
    assert metrics["not_observed"] == ["message_store", "cache_set_get"]


def test_metrics_markdown_is_a_table_with_the_backends(full_run: FixtureRun) -> None:
    text = (full_run.reports / "metrics.md").read_text(encoding="utf-8")
    assert "| database | SQLite (embedded, aiosqlite) |" in text
    assert "| operation | count | p50 | p95 | p99 | max |" in text
    assert "| Thread creation | 100 | 50.0 ms | 95.0 ms | 99.0 ms | 100 ms |" in text
    assert "Not observed in this run: Message stored, Cache set and get." in text


# -- JUnit ---------------------------------------------------------------------------------


def test_junit_has_one_testcase_per_scenario_and_names_the_failing_step(
    full_run: FixtureRun,
) -> None:
    cases = {
        case.attrib["name"].strip(): case
        for path in (full_run.reports / "junit").glob("*.xml")
        for case in ET.parse(path).getroot().iter("testcase")
    }
    assert sorted(cases) == sorted(FAILING + PASSING)
    wrong = cases["Alice gets a wrong answer"].find("failure")
    assert wrong is not None
    assert 'Failing step: Then Alice sees the answer "2 + 2 = 5"' in (wrong.text or "")
    assert "Expected: '2 + 2 = 5'" in wrong.attrib["message"]
    broke = cases["The assistant breaks down"].find("error")
    assert broke is not None and 'When Alice asks "What is 1 / 0?"' in (broke.text or "")
    for name in PASSING:
        assert cases[name].find("failure") is None


# -- subsets, userdata, fallbacks, dry runs -------------------------------------------------


def test_tag_subset_with_userdata_reports_only_what_ran_and_the_fallback(
    subset_run: FixtureRun,
) -> None:
    assert subset_run.returncode == 0, subset_run.stdout + subset_run.stderr
    assert sorted(s["name"] for s in scenarios(subset_run.cucumber())) == sorted(PASSING)
    page = _page(subset_run)
    assert page.by_id("verdict").text.strip() == "PASSED"  # type: ignore[union-attr]
    banner = page.by_id("fallback-banner")
    assert banner is not None and "did not answer; the cache ran on fakeredis" in banner.text
    assert "scenarios matching tags not @failing" in page.find(cls="selection").text  # type: ignore[union-attr]
    metrics = subset_run.metrics()
    assert metrics["mode"] == "auto"
    assert metrics["fallbacks"] == [
        "Redis at redis://127.0.0.1:6390/0 did not answer; the cache ran on fakeredis"
    ]
    assert "FALLBACK: Redis at redis://127.0.0.1:6390/0 did not answer" in subset_run.stdout


def test_name_subset_and_dry_run(tmp_path: Path) -> None:
    directory = prepare(tmp_path)
    named = run_behave(directory, "-n", "long note")
    assert named.returncode == 0, named.stdout + named.stderr
    document = named.cucumber()
    assert [feature["name"] for feature in document] == ["Leaving a note"]
    assert [s["name"] for s in scenarios(document)] == ["Alice leaves a long note"]
    assert "Golden Path PASSED: 1 passed, 0 failed" in named.stdout

    written = {path: path.stat().st_mtime_ns for path in named.reports.glob("*.*")}
    dry = run_behave(directory, "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert {path: path.stat().st_mtime_ns for path in named.reports.glob("*.*")} == written
    assert "Golden Path" not in dry.stdout


def test_userdata_moves_the_reports_to_another_directory(tmp_path: Path) -> None:
    run = run_behave(prepare(tmp_path), "-n", "long note", "-D", "golden_path.reports_dir=out/one")
    assert run.returncode == 0, run.stdout + run.stderr
    moved = tmp_path / "out" / "one"
    assert sorted(path.name for path in moved.iterdir()) == [
        "golden_path.html",
        "golden_path.json",
        "metrics.json",
        "metrics.md",
    ]
    assert not (run.reports / "golden_path.json").exists()
    assert "reports: out/one/golden_path.html, out/one/golden_path.json" in run.stdout


def test_a_run_that_cannot_start_says_so(tmp_path: Path) -> None:
    run = run_behave(prepare(tmp_path), "-D", "broken_start=yes")
    assert run.returncode == 1
    assert "Golden Path NOT RUN: 0 passed, 0 failed, 9 not run" in run.stdout
    assert "no backend recorded (the stack did not start)" in run.stdout
    page = _page(run)
    assert page.by_id("verdict").text.strip() == "NOT RUN"  # type: ignore[union-attr]
    assert "No scenario ran." in page.by_id("stopped-banner").text  # type: ignore[union-attr]
    statuses = {
        step["result"]["status"]
        for element in scenarios(run.cucumber())
        for step in element["steps"]
    }
    assert statuses == {"skipped"}


# -- figures and words, directly --------------------------------------------------------


def test_percentile_is_nearest_rank() -> None:
    samples = [0.001 * n for n in range(1, 101)]
    assert percentile(samples, 0.50) == pytest.approx(0.050)
    assert percentile(samples, 0.95) == pytest.approx(0.095)
    assert percentile(samples, 0.99) == pytest.approx(0.099)
    assert percentile([0.3, 0.1, 0.2], 0.5) == 0.2
    assert percentile([0.7], 0.99) == 0.7
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_summary_keeps_the_operation_order_and_lists_what_was_not_seen() -> None:
    summary = summarise({"message_store": [0.002], "connect_auth": [0.004, 0.001]})
    assert [op.operation for op in summary.operations] == ["connect_auth", "message_store"]
    assert summary.operations[0].max_ms == 4.0
    assert summary.not_observed == (
        "first_event",
        "message_to_completed",
        "thread_creation",
        "cache_set_get",
    )


def test_durations_read_as_people_say_them() -> None:
    assert format_ms(0.4213) == "0.42 ms"
    assert format_ms(12.34) == "12.3 ms"
    assert format_ms(250.0) == "250 ms"
    assert format_ms(1250.0) == "1.25 s"
    assert format_seconds(0.0) == "0 ms"
    assert format_seconds(0.0004) == "<1 ms"
    assert format_seconds(0.012) == "12.0 ms"
    assert format_seconds(75.0) == "1 min 15 s"


def test_closing_block_names_backends_fallbacks_reports_and_headline() -> None:
    run = RunResult(
        features=(),
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        duration_s=1.0,
        mode="real",
        backends={"database": "PostgreSQL at 127.0.0.1:5432", "cache": "Redis at 127.0.0.1:6379"},
        fallbacks=("the gateway ran in-process",),
        metrics=summarise({"connect_auth": [0.003]}),
    )
    text = closing_block(run, ["reports/golden_path.html"])
    assert text.splitlines() == [
        "",
        "Golden Path NOT RUN: 0 passed, 0 failed (backends: real)",
        "  database  PostgreSQL at 127.0.0.1:5432",
        "  cache     Redis at 127.0.0.1:6379",
        "  FALLBACK: the gateway ran in-process",
        "  reports: reports/golden_path.html",
        "  p95: connect and authenticate 3.00 ms",
    ]
