"""AG-UI's own verifier as a consumer of what the suite records (DESIGN §5.2).

Streams recorded by the suite's AG-UI driver from both targets, the reference service's
`/agui` and the pydantic-ai peer, pass `verifyEvents` of the npm package `@ag-ui/client`
and the suite's own rules. A corrupted stream fails both, and the suite's matcher says
which rule broke in a sentence. The npm package is installed on first use under
reports/.node, as the report consumers' are; without node/npm or a reachable registry
the tests skip and say why, as they do without the peer's extra (`pip install -e .[peers]`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import make_settings, running_service

from support.config import SuiteConfig
from support.matchers.agui import a_conforming_agui_stream
from support.matchers.base import problem_of
from support.processes import ServerProcess
from support.tokens import mint
from support.wire.agui import AguiConnection, AguiTarget

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "reports" / ".node"
VERIFY = ROOT / "tests" / "fixtures" / "agui" / "verify.cjs"
NPM_PACKAGES = {"@ag-ui/client": "1.0.0"}
QUESTIONS = ("What is 6 * 7?", "What is 1 / 0?", "How can I reduce the cost of my GPU usage?",
             "Simulate a failure")
WAIT_S = 10.0


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """`@ag-ui/client`, installed once into reports/.node (a git-ignored cache)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed (apt-get install -y nodejs npm)")
    missing = [f"{name}@{version}" for name, version in NPM_PACKAGES.items()
               if _installed_version(name) != version]
    if missing:
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        completed = subprocess.run(
            ["npm", "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", *missing],
            capture_output=True, text=True, timeout=600, check=False)
        if completed.returncode != 0:
            pytest.skip(f"npm could not install {', '.join(missing)} (registry unreachable?): "
                        + completed.stderr.strip()[-500:])
    return NODE_DIR / "node_modules"


def _installed_version(package: str) -> str | None:
    manifest = NODE_DIR / "node_modules" / package / "package.json"
    if not manifest.is_file():
        return None
    return str(json.loads(manifest.read_text(encoding="utf-8")).get("version"))


def verify_events(node_modules: Path, streams: list[list[dict[str, Any]]],
                  tmp_path: Path) -> list[dict[str, Any]]:
    """`verifyEvents` of @ag-ui/client over each stream: {"ok": bool, "error"?: text}."""
    path = tmp_path / "streams.json"
    path.write_text(json.dumps(streams), encoding="utf-8")
    completed = subprocess.run(["node", str(VERIFY), str(path)], capture_output=True, text=True,
                               env=dict(os.environ, NODE_PATH=str(node_modules)), timeout=120,
                               check=False)
    assert completed.returncode == 0, completed.stderr
    return list(json.loads(completed.stdout))


async def record(url: str, config: SuiteConfig) -> list[list[dict[str, Any]]]:
    """One stream per question, as the suite's driver received it."""
    target = AguiTarget(url, WAIT_S)
    try:
        connection = await target.open(mint(config, f"alice-{secrets.token_hex(4)}").token)
        assert isinstance(connection, AguiConnection), connection
        for question in QUESTIONS:
            await connection.run_of(await connection.send_message(question))
        return list(connection.streams.values())
    finally:
        await target.close()


@pytest.fixture(scope="module")
def reference_streams() -> list[list[dict[str, Any]]]:
    settings = make_settings()
    config = SuiteConfig(jwt_secret=settings.jwt_secret)

    async def recorded() -> list[list[dict[str, Any]]]:
        async with running_service(settings) as service:
            return await record(service.agui_url, config)

    return asyncio.run(recorded())


@contextlib.contextmanager
def peer(secret: str) -> Iterator[str]:
    """The pydantic-ai peer in its own process (the project's one process supervisor);
    its AG-UI URL once it listens."""
    if importlib.util.find_spec("pydantic_ai") is None or importlib.util.find_spec("uvicorn") is None:
        pytest.skip("the peer needs its extra: pip install -e '.[peers]'")
    from peers.pydantic_ai.__main__ import READY

    process = ServerProcess(
        lambda port: [sys.executable, "-m", "peers.pydantic_ai", "--host", "127.0.0.1",
                      "--port", str(port)],
        dict(os.environ, GOLDEN_PATH_JWT_SECRET=secret), READY, name="peer")
    with asyncio.Runner() as runner:
        url = runner.run(process.start())
        try:
            yield url
        finally:
            runner.run(process.stop())
            process.remove_log()


@pytest.fixture(scope="module")
def peer_streams() -> list[list[dict[str, Any]]]:
    secret = secrets.token_urlsafe(48)
    with peer(secret) as url:
        return asyncio.run(record(url, SuiteConfig(jwt_secret=secret)))


def test_streams_of_the_reference_service_pass_ag_uis_verifier_and_the_suites_rules(
        node_modules: Path, reference_streams: list[list[dict[str, Any]]],
        tmp_path: Path) -> None:
    assert len(reference_streams) == len(QUESTIONS)
    assert verify_events(node_modules, reference_streams, tmp_path) == [
        {"ok": True}] * len(QUESTIONS)
    for stream in reference_streams:
        assert problem_of(a_conforming_agui_stream(), stream) is None


def test_streams_of_the_pydantic_ai_peer_pass_ag_uis_verifier_and_the_suites_rules(
        node_modules: Path, peer_streams: list[list[dict[str, Any]]], tmp_path: Path) -> None:
    assert len(peer_streams) == len(QUESTIONS)
    assert verify_events(node_modules, peer_streams, tmp_path) == [
        {"ok": True}] * len(QUESTIONS)
    for stream in peer_streams:
        assert problem_of(a_conforming_agui_stream(), stream) is None


def _without_first(stream: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    index = next(i for i, event in enumerate(stream) if event["type"] == kind)
    return stream[:index] + stream[index + 1:]


def corruptions(stream: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Broken copies of a good stream (a calculator run), by what was broken."""
    call_start = next(e for e in stream if e["type"] == "TOOL_CALL_START")
    extra = copy.deepcopy(call_start)
    return {
        "a tool call never ended": _without_first(stream, "TOOL_CALL_END"),
        "an event after the ending": stream + [copy.deepcopy(stream[-2])],
        "no RUN_STARTED": stream[1:],
        "a tool call started twice": stream[:-1] + [extra, stream[-1]],
    }


CORRUPTED_SAYS = {
    "a tool call never ended": "TOOL_CALL_RESULT for tool call",
    "an event after the ending": "arrived after RUN_FINISHED ended the run",
    "no RUN_STARTED": "not RUN_STARTED",
    "a tool call started twice": "was started twice",
}


def test_a_corrupted_stream_fails_ag_uis_verifier_and_the_suites_matcher_says_why(
        node_modules: Path, reference_streams: list[list[dict[str, Any]]],
        tmp_path: Path) -> None:
    broken = corruptions(reference_streams[0])
    verdicts = verify_events(node_modules, list(broken.values()), tmp_path)
    for (what, stream), verdict in zip(broken.items(), verdicts, strict=True):
        assert verdict["ok"] is False, f"AG-UI's verifier accepted a stream with {what}"
        problem = problem_of(a_conforming_agui_stream(), stream)
        assert problem is not None and CORRUPTED_SAYS[what] in problem, (what, problem)


def test_a_finished_run_that_names_another_run_breaks_the_suites_rule_of_5_2(
        reference_streams: list[list[dict[str, Any]]]) -> None:
    stream = copy.deepcopy(reference_streams[0])
    stream[-1]["runId"] = "run-somebody-else"
    assert "RUN_FINISHED names thread" in str(problem_of(a_conforming_agui_stream(), stream))
