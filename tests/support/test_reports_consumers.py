"""The reports, read by the programs that really read them.

Cucumber JSON is checked by two maintained npm packages: Cucumber's own
`@cucumber/cucumber-json-converter`, which validates against the JSON schemas of the
Cucumber implementations, and `multiple-cucumber-html-reporter`, a widely used renderer,
which must count the same scenarios and failures as the run. The HTML page is opened in
headless Chromium (Debian's `chromium`): it renders, names every scenario, and its
filters work, both from a link (URL hash) and by clicking. A screenshot is left in
reports/ for people to look at.

The npm packages are installed on first use under reports/.node (git-ignored, kept as a
cache); without node/npm, without a reachable registry, or without Chromium the tests
skip and say why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "fixtures" / "reports"))

from reports_fixture import FIXTURE, ROOT, FixtureRun, Node, parse_html, prepare, run_behave

NODE_DIR = ROOT / "reports" / ".node"
NPM_PACKAGES = {
    "@cucumber/cucumber-json-converter": "0.0.3",
    "multiple-cucumber-html-reporter": "3.10.0",
}
SCREENSHOT = ROOT / "reports" / "golden_path_fixture.png"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> FixtureRun:
    run = run_behave(prepare(tmp_path_factory.mktemp("consumers")))
    assert run.returncode == 1, run.stdout + run.stderr
    return run


# -- npm consumers of Cucumber JSON -------------------------------------------------------


def _installed_version(package: str) -> str | None:
    manifest = NODE_DIR / "node_modules" / package / "package.json"
    if not manifest.is_file():
        return None
    return str(json.loads(manifest.read_text(encoding="utf-8")).get("version"))


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """The npm consumers, installed once into reports/.node (a git-ignored cache)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed (apt-get install -y nodejs npm)")
    missing = [
        f"{name}@{version}"
        for name, version in NPM_PACKAGES.items()
        if _installed_version(name) != version
    ]
    if missing:
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        try:
            completed = subprocess.run(
                ["npm", "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", *missing],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.skip(f"npm could not install {', '.join(missing)} within 10 minutes")
        if completed.returncode != 0:
            pytest.skip(
                f"npm could not install {', '.join(missing)} (registry unreachable?): "
                + completed.stderr.strip()[-500:]
            )
    return NODE_DIR / "node_modules"


def _node(node_modules: Path, *args: str) -> dict[str, Any]:
    env = dict(os.environ, NODE_PATH=str(node_modules))
    completed = subprocess.run(
        ["node", str(FIXTURE / "consumers.cjs"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return dict(json.loads(completed.stdout))


def _scenario_failed(element: dict[str, Any]) -> bool:
    results = [step["result"]["status"] for step in element.get("steps", [])]
    results += [hook["result"]["status"] for hook in element.get("before", [])]
    results += [hook["result"]["status"] for hook in element.get("after", [])]
    return "failed" in results


def test_cucumber_json_satisfies_cucumbers_own_schema(
    full_run: FixtureRun, node_modules: Path
) -> None:
    result = _node(node_modules, "validate", str(full_run.reports / "golden_path.json"))
    assert result["valid"], result.get("error")
    assert result["implementations"] == ["cucumber-ruby"]
    converted = result["converted"]["features"]
    assert [feature["name"] for feature in converted] == [
        "Asking the assistant",
        "Things that go wrong",
        "Leaving a note",
    ]
    elements = [e for feature in converted for e in feature["elements"] if e["type"] == "scenario"]
    failed = sorted(e["name"] for e in elements if _scenario_failed(e))
    assert len(elements) == 9
    assert failed == [
        "Alice gets a wrong answer",
        "Alice's visit cannot be tidied away",
        "The assistant breaks down",
        "The chat cannot be reached",
    ]


def test_a_cucumber_html_reporter_counts_what_the_run_counted(
    full_run: FixtureRun, node_modules: Path, tmp_path: Path
) -> None:
    source = tmp_path / "json"
    source.mkdir()
    shutil.copy(full_run.reports / "golden_path.json", source / "golden_path.json")
    result = _node(node_modules, "render", str(source), str(tmp_path / "html"))
    assert result["featureCount"]["total"] == 3
    assert result["featureCount"]["failed"] == 1
    scenarios = result["scenarios"]
    assert (scenarios["total"], scenarios["passed"], scenarios["failed"]) == (9, 5, 4)
    assert (scenarios["skipped"], scenarios["notDefined"], scenarios["pending"]) == (0, 0, 0)
    wrong = next(
        element
        for feature in result["features"]
        for element in feature["elements"]
        if element["name"] == "Alice gets a wrong answer"
    )
    assert (wrong["passed"], wrong["failed"], wrong["skipped"]) == (2, 1, 1)
    assert len(result["pages"]) == 3
    assert (tmp_path / "html" / "index.html").stat().st_size > 0


# -- the HTML page in Chromium -------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("Chromium is not installed (apt-get install -y chromium)")


def _chromium(binary: str, *args: str) -> str:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        completed = subprocess.run(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


def _rendered(binary: str, page: Path, fragment: str = "") -> Node:
    url = page.resolve().as_uri() + (f"#{fragment}" if fragment else "")
    dom = _chromium(binary, "--virtual-time-budget=2000", "--dump-dom", url)
    assert "<article" in dom, dom[:500]
    return parse_html(dom)


def _visible(document: Node) -> list[str]:
    return [
        article.find(cls="scenario-name").text  # type: ignore[union-attr]
        for article in document.find_all("article", "scenario")
        if not article.hidden
    ]


def _shown_count(document: Node) -> str:
    return document.by_id("shown-count").text  # type: ignore[union-attr]


def test_chromium_renders_the_page_and_names_every_scenario(
    full_run: FixtureRun, chromium: str
) -> None:
    document = _rendered(chromium, full_run.reports / "golden_path.html")
    expected = sorted(
        s["name"] for f in full_run.cucumber() for s in f["elements"] if s["type"] == "scenario"
    )
    assert sorted(_visible(document)) == expected
    assert _shown_count(document) == "9 of 9 scenarios shown"
    assert document.by_id("verdict").text.strip() == "FAILED"  # type: ignore[union-attr]


def test_chromium_filters_by_status_and_tag_from_a_link(
    full_run: FixtureRun, chromium: str
) -> None:
    page = full_run.reports / "golden_path.html"
    failed = _rendered(chromium, page, "status=failed")
    assert sorted(_visible(failed)) == [
        "Alice gets a wrong answer",
        "Alice's visit cannot be tidied away",
        "The assistant breaks down",
        "The chat cannot be reached",
    ]
    assert _shown_count(failed) == "4 of 9 scenarios shown"
    hidden_features = {f.attrs["id"] for f in failed.find_all("section", "feature") if f.hidden}
    assert hidden_features == {"asking-the-assistant", "leaving-a-note"}

    smoke = _rendered(chromium, page, "tag=%40smoke")
    assert _visible(smoke) == ["Alice gets the answer to a sum"]

    nothing = _rendered(chromium, page, "status=passed&tag=@failing")
    assert _visible(nothing) == []
    assert all(f.hidden for f in nothing.find_all("section", "feature"))


def test_chromium_filters_by_clicking(full_run: FixtureRun, chromium: str, tmp_path: Path) -> None:
    clicks = """<script>
    document.querySelector('a.status-filter[data-status="passed"]').click();
    setTimeout(function () {
      var select = document.getElementById("tag-filter");
      select.value = "@smoke";
      select.dispatchEvent(new Event("change"));
    }, 10);
    </script></body>"""
    html = full_run.html().replace("</body>", clicks)
    page = tmp_path / "clicked.html"
    page.write_text(html, encoding="utf-8")
    document = _rendered(chromium, page)
    assert _visible(document) == ["Alice gets the answer to a sum"]
    body = document.find("body")
    assert body is not None
    assert (body.attrs["data-filter-status"], body.attrs["data-filter-tag"]) == ("passed", "@smoke")
    pressed = [
        a.attrs["data-status"]
        for a in document.find_all("a", "status-filter")
        if a.attrs.get("aria-pressed") == "true"
    ]
    assert pressed == ["passed"]


def test_chromium_screenshot_of_the_failing_run(full_run: FixtureRun, chromium: str) -> None:
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    _chromium(
        chromium,
        "--window-size=1280,2200",
        f"--screenshot={SCREENSHOT}",
        (full_run.reports / "golden_path.html").resolve().as_uri(),
    )
    data = SCREENSHOT.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 2200)
    assert len(data) > 50_000, "the page rendered (almost) blank"
