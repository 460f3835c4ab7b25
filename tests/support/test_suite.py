"""The suite as a whole: every step of every feature is defined (a dry run finds nothing
undefined), steps never import the service, and the harness waits without sleeping."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_dry_run_finds_every_step_defined() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "behave", "features/golden_path", "--dry-run", "--no-junit",
         "-f", "plain", "--no-summary", "--format=steps.usage"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "UNDEFINED STEPS" not in output.upper(), output
    assert "undefined" not in output.lower(), output


def test_at_least_26_scenarios_in_four_tagged_areas_and_one_smoke() -> None:
    text = {p.name: p.read_text() for p in (ROOT / "features" / "golden_path").glob("*.feature")}
    assert set(text) >= {"agent_pipeline.feature", "persistence.feature", "cache.feature",
                         "websocket_auth.feature"}
    for name, body in text.items():
        assert body.lstrip().startswith(f"@{name.removesuffix('.feature')}"), name
    scenarios = sum(len(re.findall(r"^\s*Scenario:", body, re.MULTILINE)) for body in text.values())
    examples = sum(
        len(re.findall(r"^\s*\|", body.split("Examples", 1)[1], re.MULTILINE)) - body.count("Examples")
        for body in text.values() if "Examples" in body
    )
    assert scenarios + examples >= 26
    assert sum(body.count("@smoke") for body in text.values()) == 1


def test_steps_never_import_the_service_and_nobody_sleeps() -> None:
    for path in [*(ROOT / "steps").glob("*.py"), ROOT / "environment.py"]:
        source = path.read_text()
        assert not re.search(r"^\s*(from|import)\s+chat\b", source, re.MULTILINE), path
    sleep = re.compile(r"\b(time|asyncio)\.sleep\(")
    for path in [*(ROOT / "steps").glob("*.py"), *(ROOT / "support").rglob("*.py"),
                 ROOT / "environment.py"]:
        source = path.read_text()
        if path.name == "probes.py":
            # The one poll interval of `eventually`, for storage that gives no signal.
            body = source[source.index("async def eventually"):]
            body = body[: body.index("\nclass ")]
            assert len(sleep.findall(source)) == len(sleep.findall(body)) == 1, path
            continue
        assert not sleep.search(source), path
