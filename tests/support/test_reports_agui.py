"""Every report of a run over AG-UI names the protocol, the target and the areas not
checked, and counts their scenarios as not checked, never as passed (DESIGN §7).

One real run of the golden path's sign-in area over AG-UI, against the embedded
reference service; the reports are read back as their readers read them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def agui_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    reports = tmp_path_factory.mktemp("agui-reports")
    completed = subprocess.run(
        [sys.executable, "-m", "behave", "features/golden_path", "--color=off",
         "--tags=@websocket_auth", "-D", "protocol=ag-ui",
         "-D", f"golden_path.reports_dir={reports}", "--junit-directory", str(reports / "junit")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("GOLDEN_PATH_")})
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-2000:]
    return reports, completed.stdout


def test_the_closing_block_names_the_protocol_the_target_and_what_was_not_checked(
        agui_run: tuple[Path, str]) -> None:
    _, console = agui_run
    verdict = next(line for line in console.splitlines() if line.startswith("Golden Path"))
    assert "0 failed" in verdict and "not checked" in verdict and "protocol: ag-ui" in verdict
    target = next(line for line in console.splitlines() if line.startswith("  target "))
    assert target.split(None, 1)[1].startswith("ag-ui at http://127.0.0.1:")
    assert "NOT CHECKED: v1_only: only contract v1 can express it" in console


def test_junit_and_cucumber_json_say_which_protocol_ran_and_why_a_scenario_was_not_checked(
        agui_run: tuple[Path, str]) -> None:
    reports, _ = agui_run
    suite = ElementTree.parse(reports / "junit" / "TESTS-websocket_auth.xml").getroot()
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["golden_path.protocol"] == "ag-ui"
    assert str(properties["golden_path.target"]).endswith("/agui")
    assert str(properties["golden_path.not_checked"]).startswith("v1_only: ")
    greeted = next(c for c in suite.iter("testcase") if c.get("name", "").startswith(
        "A signed-in user is greeted"))
    skipped = greeted.find("skipped")
    assert skipped is not None and str(skipped.get("message")).startswith("not checked: v1_only")
    feature = json.loads((reports / "golden_path.json").read_text(encoding="utf-8"))[0]
    assert "Run over ag-ui at http://127.0.0.1:" in feature["description"]
    scenario = next(e for e in feature["elements"] if e["name"].startswith("A signed-in user"))
    assert scenario["description"].startswith("not checked: v1_only")


def test_the_html_page_names_the_protocol_and_the_areas_not_checked(
        agui_run: tuple[Path, str]) -> None:
    reports, _ = agui_run
    page = (reports / "golden_path.html").read_text(encoding="utf-8")
    assert 'id="not-checked"' in page and "<code>@v1_only</code>" in page
    assert "Protocol: <strong>ag-ui</strong>" in page
