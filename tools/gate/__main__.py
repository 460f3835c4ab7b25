"""`python -m tools.gate`: the CI stages, after `.ci/run` has installed what they need.

It starts PostgreSQL and Redis (`tools.services`, leaving ones of ./.services that already
run alone), runs pytest and the soak with the real URLs, a sample of mutants, then the
suite six times: embedded, on the real backends, over AG-UI (embedded and on the real
backends), against `python -m chat serve` in its own process on the real backends, and
over AG-UI against the pydantic-ai peer in its own process. It stops what it
started, prints the stage table and the total time, and ends with
`scenarios: N passed, N failed, N skipped` over the suite runs, also
when a stage failed; the exit status is non-zero when any stage failed.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType

from support.config import DEFAULT_AUDIENCE, DEFAULT_ISSUER
from support.processes import GatewaySettings, ProcessFailed, ServerProcess, gateway_process
from tools.gate.scenarios import NoScenarios, count_file
from tools.gate.stages import Gate
from tools.services import DEFAULT_DIR, LocalServices, ServicesError

PROJECT = Path(__file__).resolve().parents[2]
FEATURES = Path("features/golden_path")
REPORTS = Path("reports")
LOGS = REPORTS / "ci"
SERVICES_UP_S = 120
SERVICES_DOWN_S = 120
PYTEST_S = 300
SOAK_S = 180
BEHAVE_S = 240
GATEWAY_START_S = 30
PEER_READY = "pydantic-ai peer at"
MUTATION_S = 600
MUTANTS_SAMPLED = 6
PYTEST_NO_TESTS = 5
# Settings a run must not inherit: each run is given exactly the ones it is about.
RUN_SETTINGS = ("GOLDEN_PATH_BACKENDS", "GOLDEN_PATH_DATABASE_URL", "GOLDEN_PATH_REDIS_URL",
                "GOLDEN_PATH_GATEWAY_URL", "GOLDEN_PATH_JWT_SECRET")


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _services() -> LocalServices:
    return LocalServices(Path(os.environ.get("GOLDEN_PATH_SERVICES_DIR", "") or DEFAULT_DIR))


def _running(services: LocalServices) -> bool:
    try:
        return all(found.running for found in services.status())
    except ServicesError:
        return False


def _stop_services(gate: Gate, env: Mapping[str, str]) -> None:
    gate.note("stopping PostgreSQL and Redis")
    try:
        code = subprocess.run([sys.executable, "-m", "tools.services", "down"], env=dict(env),
                              stdin=subprocess.DEVNULL, timeout=SERVICES_DOWN_S,
                              check=False).returncode
    except subprocess.TimeoutExpired:
        gate.say(f"tools.services down did not finish within {SERVICES_DOWN_S}s")
        code = 1
    if code != 0:
        gate.fail("services-down")


def suite_run(gate: Gate, name: str, env: Mapping[str, str], shown_env: Mapping[str, str],
              *args: str) -> None:
    """One behave run of features/golden_path, its reports in reports/<name>/, its JUnit
    files in reports/junit/<name>/, its console in reports/ci/behave-<name>.log; its
    scenarios counted from the Cucumber JSON it wrote."""
    stage = f"behave-{name}"
    if not any(FEATURES.rglob("*.feature")):
        gate.note(f"{name}: {FEATURES} holds no .feature file: 0 scenarios, nothing tested")
        gate.row(stage, 0, "no feature files")
        gate.fail(f"{stage} (no feature files)")
        return
    reports = REPORTS / name
    cucumber = reports / "golden_path.json"
    cucumber.unlink(missing_ok=True)
    command = [sys.executable, "-m", "behave", str(FEATURES), *args,
               "--junit-directory", str(REPORTS / "junit" / name),
               "-D", f"golden_path.reports_dir={reports}"]
    code = gate.stage(stage, BEHAVE_S, command, env=env, shown_env=shown_env,
                      log=LOGS / f"{stage}.log")
    if code != 0:
        gate.fail(stage)
    try:
        counts = count_file(cucumber)
    except NoScenarios as exc:
        gate.say(f"{exc}: the run did not complete")
        gate.fail(stage)
        return
    gate.say(f"scenarios of this run: {counts.line()}")
    gate.scenarios += counts
    if counts.failed:
        gate.fail(stage)


def served_run(gate: Gate, name: str, server: ServerProcess, run: str,
               env: Mapping[str, str], shown_env: Mapping[str, str],
               args_for: Callable[[str], list[str]]) -> None:
    """The suite (`run`) against a server in its own process (the project's process
    supervisor), given the server's URL by `args_for`; the server is stopped afterwards:
    SIGTERM, SIGKILL if it does not end in time, which fails the gate. Its start and stop
    are rows of the stage table, and its log is copied to reports/ci/<name>.log."""
    log = LOGS / f"{name}.log"
    gate.note(f"{name}: python {' '.join(server.command(0)[1:])} on a free port (log {log})")
    with asyncio.Runner() as runner:
        try:
            try:
                url = runner.run(server.start(timeout=GATEWAY_START_S))
            except ProcessFailed as exc:
                gate.row(f"{name}-start", GATEWAY_START_S, "not ready")
                gate.say(str(exc))
                gate.fail(f"{name}-start")
                return
            assert server.started_in_s is not None
            gate.row(f"{name}-start", server.started_in_s, "ready")
            gate.say(f"{name}: listening at {url} (pid {server.pid})")
            try:
                suite_run(gate, run, env, shown_env, *args_for(url))
            finally:
                gate.say(f"stopping the {name} (pid {server.pid})")
                began = time.monotonic()
                code = runner.run(server.stop())
                gate.row(f"{name}-stop", time.monotonic() - began, f"exit {code}")
                if code == -signal.SIGKILL:
                    gate.say(f"the {name} did not stop after SIGTERM; it was killed")
                    gate.fail(f"{name}-stop")
        finally:
            shutil.copyfile(server.log_path, log)
            server.remove_log()


def peer_process(settings: GatewaySettings) -> ServerProcess:
    """The pydantic-ai peer (`python -m peers.pydantic_ai`), an agent whose protocol side
    nobody here wrote, signing users in with `settings`; not started yet."""
    return ServerProcess(
        lambda port: [sys.executable, "-m", "peers.pydantic_ai", "--host", "127.0.0.1",
                      "--port", str(port)],
        settings.environment(), PEER_READY, name="peer")


def stages(gate: Gate, base_env: dict[str, str], cleanups: list[Callable[[], None]]) -> None:
    """Every stage in order; the ones whose failure leaves nothing to test end it early."""
    services = _services()
    if _running(services):
        gate.note("PostgreSQL and Redis of ./.services are already running; they are left running")
    else:
        cleanups.append(lambda: _stop_services(gate, base_env))
    up = [sys.executable, "-m", "tools.services", "up"]
    if gate.stage("services-up", SERVICES_UP_S, up, env=base_env, quiet=True) != 0:
        gate.fail("services-up")
        return
    for found in services.status():
        gate.say(found.line())
    urls = json.loads(services.json_file.read_text(encoding="utf-8"))
    jwt_secret = secrets.token_urlsafe(48)
    gate.secrets.append(jwt_secret)
    real = {"GOLDEN_PATH_DATABASE_URL": urls["database_url"],
            "GOLDEN_PATH_REDIS_URL": urls["redis_url"],
            "GOLDEN_PATH_JWT_SECRET": jwt_secret}
    real_env = {**base_env, **real}

    # pytest gets the running services too, so the tests of the service on PostgreSQL and
    # Redis run instead of skipping.
    pytest = [sys.executable, "-m", "pytest", f"--junitxml={REPORTS / 'junit' / 'pytest.xml'}"]
    code = gate.stage("pytest", PYTEST_S, pytest, env=real_env, shown_env=real)
    if code == PYTEST_NO_TESTS:
        gate.say("pytest collected no tests")
    elif code != 0:
        gate.fail("pytest")

    # The soak, bounded: a crowd over two gateway processes, a client that never reads, a
    # run followed from another gateway and a gateway killed mid-answer; exit 0 only if
    # nothing was lost, duplicated or leaked.
    soak = [sys.executable, "-m", "tools.soak", "--quick"]
    if gate.stage("soak", SOAK_S, soak, env=real_env, shown_env=real) != 0:
        gate.fail("soak")

    suite_run(gate, "embedded", base_env, {})

    # Gate strength, bounded: a random sample of mutants of the service, each judged by
    # the embedded suite; the stage fails when the tool cannot judge (the suite fails
    # unmutated), and the survivors are listed in reports/mutation/.
    mutation = [sys.executable, "-m", "tools.mutation", "--sample", str(MUTANTS_SAMPLED),
                "--out", str(REPORTS / "mutation")]
    if gate.stage("mutation-sample", MUTATION_S, mutation, env=base_env) != 0:
        gate.fail("mutation-sample")
    suite_run(gate, "real", real_env, real, "-D", "backends=real")
    # The same suite over AG-UI (DESIGN §5.2), against the reference service's /agui.
    suite_run(gate, "agui", base_env, {}, "-D", "protocol=ag-ui")
    suite_run(gate, "agui-real", real_env, real, "-D", "backends=real", "-D", "protocol=ag-ui")
    settings = GatewaySettings(jwt_secret, DEFAULT_ISSUER, DEFAULT_AUDIENCE,
                               urls["database_url"], urls["redis_url"])
    served_run(gate, "gateway", gateway_process(settings), "external", real_env, real,
               lambda url: ["-D", f"gateway_url={url}", "-D", "backends=real"])
    # Over AG-UI against the peer: the areas the suite cannot check there are reported as
    # not checked.
    secret_env = {"GOLDEN_PATH_JWT_SECRET": jwt_secret}
    served_run(gate, "peer", peer_process(settings), "peer", {**base_env, **secret_env},
               secret_env, lambda url: ["-D", "protocol=ag-ui", "-D", f"agent_url={url}"])


def main() -> int:
    """Run the gate from the project's directory; the exit status."""
    os.chdir(PROJECT)
    LOGS.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _interrupted)
    base_env = {key: value for key, value in os.environ.items() if key not in RUN_SETTINGS}
    base_env.update(CI="true", PYTHONUNBUFFERED="1")
    gate = Gate()
    cleanups: list[Callable[[], None]] = []
    code = 0
    try:
        stages(gate, base_env, cleanups)
    except KeyboardInterrupt:
        gate.say("interrupted")
        code = 130
    finally:
        for cleanup in reversed(cleanups):
            cleanup()
        for line in gate.summary():
            gate.say(line)
    return code or (1 if gate.failed else 0)


if __name__ == "__main__":
    sys.exit(main())
