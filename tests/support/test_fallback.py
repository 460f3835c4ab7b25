"""`backends=auto` keeps what was asked apart from what runs (DESIGN §4): with PostgreSQL
and Redis unreachable it falls back to the embedded parts, says so, and everything the
run starts itself (the crash scenarios' own gateway processes) uses what actually runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE_DATABASE = "postgresql+asyncpg://nobody:secret@127.0.0.1:1/nothing"
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def test_auto_with_unreachable_services_falls_back_and_the_crash_scenario_passes(
        tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "behave", "features/golden_path", "--tags=@resilience",
         "-D", "backends=auto", "-D", f"database_url={UNREACHABLE_DATABASE}",
         "-D", f"redis_url={UNREACHABLE_REDIS}", "-D", f"golden_path.reports_dir={tmp_path}",
         "--junit-directory", str(tmp_path / "junit")],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "FALLBACK" in output and "SQLite (embedded) used instead" in output, output[-3000:]
    assert "fakeredis (embedded) used instead" in output, output[-3000:]
    features = json.loads((tmp_path / "golden_path.json").read_text())
    crashes = [s for f in features for s in f.get("elements", [])
               if "crashes" in s.get("name", "")]
    assert len(crashes) == 2  # restarted, and for good with another gateway taking over
    for crash in crashes:
        statuses = {step.get("result", {}).get("status") for step in crash["steps"]}
        assert statuses == {"passed"}, crash
