"""The gate can fail: a relay that corrupts the stream makes the suite fail.

A suite that passes whatever the gateway does proves nothing. Here a small WebSocket relay
sits between the suite and a real gateway (`python -m chat serve` in its own process, on
PostgreSQL and Redis from `tools.services`) and breaks the wire contract on purpose:
it drops a `tool_completed`, repeats `agent_completed`, breaks `seq`, lets a refused
handshake through, and serves one user's thread to another. For each corruption, behave
run through the relay fails, and the scenarios that guard that behaviour are among the
failures; through a faithful relay the same scenarios pass.

The relay is a websockets server and client on loopback in a thread of its own; each
behave run is a subprocess pointed at it with `-D gateway_url=`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import re
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import require_real_services

from support.config import DEFAULT_AUDIENCE, DEFAULT_ISSUER
from support.processes import GatewaySettings, gateway_process
from tools.services import LocalServices, ServiceUrls

PROJECT = Path(__file__).resolve().parents[2]
FEATURES = PROJECT / "features" / "golden_path"
START_TIMEOUT_S = 60.0
BEHAVE_TIMEOUT_S = 240.0


class Corruption(enum.Enum):
    """What the relay does wrong."""

    NONE = "none"
    DROP_TOOL_COMPLETED = "drop_tool_completed"
    REPEAT_AGENT_COMPLETED = "repeat_agent_completed"
    BREAK_SEQ = "break_seq"
    ACCEPT_REFUSED_HANDSHAKE = "accept_refused_handshake"
    SERVE_OTHER_USERS_THREAD = "serve_other_users_thread"


@dataclass
class ThreadLog:
    """The events of one thread as they passed through the relay, and whose it is."""

    owner: str
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Link:
    """One client connection and what the relay knows about it."""

    upstream: Any | None
    user_id: str | None = None
    claimed_user: str | None = None
    dropped_runs: set[object] = field(default_factory=set)
    first_seq_seen: set[object] = field(default_factory=set)
    # thread ids the gateway created for this client -> the other user's thread it asked for
    thread_aliases: dict[str, str] = field(default_factory=dict)
    pending_alias: str | None = None


class CorruptingRelay:
    """A WebSocket relay on 127.0.0.1 in front of `upstream`, faithful until told not to be."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.corruption = Corruption.NONE
        self.url = ""
        self._threads: dict[str, ThreadLog] = {}
        self._links: dict[int, Link] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: Any = None

    def start(self) -> None:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        future.result(timeout=10)

    def stop(self) -> None:
        future = asyncio.run_coroutine_threadsafe(self._stop(), self._loop)
        future.result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _start(self) -> None:
        from websockets.asyncio.server import serve

        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._handshake,
            select_subprotocol=_select_bearer,
            max_size=None,
            ping_interval=None,
        )
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/ws"

    async def _stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _handshake(self, connection: Any, request: Any) -> Any:
        """Open the upstream connection with the client's credentials; mirror a refusal,
        unless told to let it through."""
        from websockets.asyncio.client import connect
        from websockets.datastructures import Headers
        from websockets.exceptions import InvalidStatus
        from websockets.http11 import Response

        headers = {}
        if authorization := request.headers.get("Authorization"):
            headers["Authorization"] = authorization
        offered = [
            p.strip()
            for value in request.headers.get_all("Sec-WebSocket-Protocol")
            for p in value.split(",")
            if p.strip()
        ]
        link = Link(upstream=None, claimed_user=_unverified_subject(authorization, offered))
        self._links[id(connection)] = link
        try:
            link.upstream = await connect(
                self.upstream + _path_and_query(request.path),
                additional_headers=headers,
                subprotocols=offered or None,  # type: ignore[arg-type]
                max_size=None,
                ping_interval=None,
                open_timeout=10,
            )
        except InvalidStatus as exc:
            if self.corruption is Corruption.ACCEPT_REFUSED_HANDSHAKE:
                return None
            refused = exc.response
            return Response(
                refused.status_code,
                refused.reason_phrase,
                Headers(
                    [
                        ("Content-Type", refused.headers.get("Content-Type", "text/plain")),
                        ("Content-Length", str(len(refused.body or b""))),
                        ("Connection", "close"),
                    ]
                ),
                refused.body or b"",
            )
        return None

    async def _handle(self, client: Any) -> None:
        link = self._links.pop(id(client))
        if link.upstream is None:
            await self._pretend_accepted(client, link)
            return
        upstream = link.upstream
        to_client = asyncio.create_task(self._pump_down(upstream, client, link))
        to_upstream = asyncio.create_task(self._pump_up(client, upstream, link))
        done, pending = await asyncio.wait(
            {to_client, to_upstream}, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if to_upstream in done:
            await _close_like(upstream, client)
        else:
            await _close_like(client, upstream)

    async def _pretend_accepted(self, client: Any, link: Link) -> None:
        made_up = {
            "type": "connection_established",
            "connection_id": f"con_relay{secrets.token_hex(8)}",
            "user_id": link.claimed_user or "anonymous",
        }
        with contextlib.suppress(Exception):
            await client.send(json.dumps(made_up))
            async for _ in client:
                pass

    async def _pump_up(self, client: Any, upstream: Any, link: Link) -> None:
        async for raw in client:
            frame = _json(raw)
            if frame is not None and self.corruption is Corruption.SERVE_OTHER_USERS_THREAD:
                replacement = self._foreign_thread_request(frame, link)
                if replacement is not None:
                    for event in replacement:
                        await client.send(json.dumps(event))
                    continue
                raw = json.dumps(frame)
            await upstream.send(raw)

    def _foreign_thread_request(
        self, frame: dict[str, Any], link: Link
    ) -> list[dict[str, Any]] | None:
        """For a frame that names another user's thread: the events to answer a resume
        with (the other user's, as recorded), or None after rewriting a message into it
        to start a thread of the sender's own that is then shown under the other id."""
        thread_id = frame.get("thread_id")
        log = self._threads.get(thread_id) if isinstance(thread_id, str) else None
        if log is None or log.owner == link.user_id:
            return None
        if frame.get("type") == "resume":
            after = frame.get("after_seq") or 0
            return [e for e in log.events if isinstance(e.get("seq"), int) and e["seq"] > after]
        if frame.get("type") == "user_message":
            frame["thread_id"] = None
            link.pending_alias = thread_id
        return None

    async def _pump_down(self, upstream: Any, client: Any, link: Link) -> None:
        async for raw in upstream:
            frame = _json(raw)
            if frame is None:
                await client.send(raw)
                continue
            if frame.get("type") == "connection_established":
                link.user_id = frame.get("user_id")
            self._record(frame, link)
            for out in self._corrupt(frame, link):
                await client.send(json.dumps(out))

    def _record(self, frame: dict[str, Any], link: Link) -> None:
        thread_id = frame.get("thread_id")
        if not isinstance(thread_id, str) or "seq" not in frame or link.user_id is None:
            return
        if link.pending_alias is not None and thread_id not in self._threads:
            link.thread_aliases[thread_id] = link.pending_alias
            link.pending_alias = None
        log = self._threads.setdefault(thread_id, ThreadLog(owner=link.user_id))
        if log.owner == link.user_id:
            log.events.append(dict(frame))

    def _corrupt(self, frame: dict[str, Any], link: Link) -> list[dict[str, Any]]:
        kind = frame.get("type")
        run_id = frame.get("run_id")
        mode = self.corruption
        if (
            mode is Corruption.DROP_TOOL_COMPLETED
            and kind == "tool_completed"
            and run_id not in link.dropped_runs
        ):
            link.dropped_runs.add(run_id)
            return []
        if mode is Corruption.REPEAT_AGENT_COMPLETED and kind == "agent_completed":
            return [frame, dict(frame)]
        if mode is Corruption.BREAK_SEQ and isinstance(frame.get("seq"), int):
            if run_id in link.first_seq_seen:
                frame["seq"] += 1
            else:
                link.first_seq_seen.add(run_id)
        if mode is Corruption.SERVE_OTHER_USERS_THREAD:
            alias = link.thread_aliases.get(frame.get("thread_id"))  # type: ignore[arg-type]
            if alias is not None:
                frame["thread_id"] = alias
        return [frame]


def _select_bearer(connection: Any, offered: Any) -> Any:
    """Select "bearer" when the client offers it (the token rides along), as the gateway
    does; no subprotocol otherwise."""
    return "bearer" if "bearer" in offered else None


def _json(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, str):
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _path_and_query(path: str) -> str:
    """The request target minus the relay's own /ws prefix (the upstream URL has it)."""
    return path.removeprefix("/ws")


def _unverified_subject(authorization: str | None, offered: list[str]) -> str | None:
    """The `sub` a token claims, read without checking anything (as a careless gateway
    would)."""
    import jwt

    token = None
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    elif len(offered) >= 2 and offered[0] == "bearer":
        token = offered[1]
    if not token:
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    sub = claims.get("sub")
    return sub if isinstance(sub, str) else None


async def _close_like(target: Any, source: Any) -> None:
    """Close `target` the way `source` was closed: same code, or a dropped connection."""
    code = source.close_code
    with contextlib.suppress(Exception):
        if code is None or code == 1006:
            target.transport.abort()
        else:
            await target.close(code, source.close_reason or "")




@dataclass(frozen=True)
class Gateway:
    """`python -m chat serve` in its own process, and the settings it was started with."""

    url: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def real_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceUrls]:
    require_real_services()
    services = LocalServices(tmp_path_factory.mktemp("relay-services"))
    urls = services.up()
    try:
        yield urls
    finally:
        services.down(purge=True)


@pytest.fixture(scope="module")
def gateway(real_services: ServiceUrls) -> Iterator[Gateway]:
    """`python -m chat serve` on the real services, under the project's one process
    supervisor (`support.processes`)."""
    settings = GatewaySettings(secrets.token_urlsafe(48), DEFAULT_ISSUER, DEFAULT_AUDIENCE,
                               real_services.database_url, real_services.redis_url)
    process = gateway_process(settings)
    with asyncio.Runner() as runner:
        url = runner.run(process.start(timeout=START_TIMEOUT_S))
        try:
            yield Gateway(url=url, env=settings.environment())
        finally:
            runner.run(process.stop())
            process.remove_log()


@pytest.fixture(scope="module")
def relay(gateway: Gateway) -> Iterator[CorruptingRelay]:
    relay = CorruptingRelay(gateway.url)
    relay.start()
    try:
        yield relay
    finally:
        relay.stop()


# --- the relay itself: each corruption really happens on the wire ---------------------


def _token(gateway: Gateway, user_id: str) -> str:
    from chat.auth import issue_token
    from chat.config import Settings

    return issue_token(Settings.from_env(gateway.env), user_id)


async def _converse(
    url: str, token: str, frames: list[dict[str, Any]], *, until: int = 1
) -> list[dict[str, Any]]:
    """Send `frames` one by one; after each, read until `until` agent_completed or an error
    arrived, then whatever else comes within a short grace period."""
    from websockets.asyncio.client import connect

    received: list[dict[str, Any]] = []
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        received.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
        for frame in frames:
            await ws.send(json.dumps(frame))
            completed = 0
            while completed < until:
                event = json.loads(await asyncio.wait_for(ws.recv(), 10))
                received.append(event)
                if event["type"] in ("agent_completed", "error"):
                    completed += 1
            with contextlib.suppress(TimeoutError):
                while True:
                    received.append(json.loads(await asyncio.wait_for(ws.recv(), 0.3)))
    return received


def _ask(content: str, thread_id: str | None = None) -> dict[str, Any]:
    return {"type": "user_message", "content": content, "thread_id": thread_id, "message_id": None}


def _types(frames: list[dict[str, Any]]) -> list[str]:
    return [f["type"] for f in frames]


def test_a_faithful_relay_changes_nothing(relay: CorruptingRelay, gateway: Gateway) -> None:
    relay.corruption = Corruption.NONE
    frames = asyncio.run(_converse(relay.url, _token(gateway, "rita"), [_ask("What is 2 + 3?")]))
    events = frames[1:]
    assert frames[0]["type"] == "connection_established" and frames[0]["user_id"] == "rita"
    assert _types(events)[0] == "agent_started" and _types(events)[-1] == "agent_completed"
    assert _types(events).count("tool_completed") == 1
    assert _types(events).count("agent_completed") == 1
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def test_the_relay_drops_a_tool_completed(relay: CorruptingRelay, gateway: Gateway) -> None:
    relay.corruption = Corruption.DROP_TOOL_COMPLETED
    frames = asyncio.run(_converse(relay.url, _token(gateway, "rita"), [_ask("What is 2 + 3?")]))
    assert "tool_executing" in _types(frames) and "tool_completed" not in _types(frames)


def test_the_relay_repeats_agent_completed(relay: CorruptingRelay, gateway: Gateway) -> None:
    relay.corruption = Corruption.REPEAT_AGENT_COMPLETED
    frames = asyncio.run(
        _converse(relay.url, _token(gateway, "rita"), [_ask("What is 2 + 3?")], until=2)
    )
    assert _types(frames).count("agent_completed") == 2


def test_the_relay_breaks_seq(relay: CorruptingRelay, gateway: Gateway) -> None:
    relay.corruption = Corruption.BREAK_SEQ
    frames = asyncio.run(_converse(relay.url, _token(gateway, "rita"), [_ask("What is 2 + 3?")]))
    seqs = [f["seq"] for f in frames[1:]]
    assert seqs != list(range(seqs[0], seqs[0] + len(seqs)))


def test_the_relay_lets_a_refused_handshake_through(
    relay: CorruptingRelay, gateway: Gateway
) -> None:
    from websockets.exceptions import InvalidStatus

    forged = _token(gateway, "rita")[:-4] + "AAAA"
    relay.corruption = Corruption.NONE
    with pytest.raises(InvalidStatus) as refused:
        asyncio.run(_converse(relay.url, forged, []))
    assert refused.value.response.status_code == 401
    assert json.loads(refused.value.response.body)["error"] == "invalid_token"

    relay.corruption = Corruption.ACCEPT_REFUSED_HANDSHAKE
    frames = asyncio.run(_converse(relay.url, forged, []))
    assert frames[0]["type"] == "connection_established" and frames[0]["user_id"] == "rita"


def test_the_relay_serves_another_users_thread(relay: CorruptingRelay, gateway: Gateway) -> None:
    relay.corruption = Corruption.NONE
    alice = asyncio.run(_converse(relay.url, _token(gateway, "alice"), [_ask("What is 1 + 1?")]))
    thread_id = alice[-1]["thread_id"]
    resume = {"type": "resume", "thread_id": thread_id, "after_seq": 0}

    honest = asyncio.run(_converse(relay.url, _token(gateway, "bob"), [resume]))
    assert honest[1]["type"] == "error" and honest[1]["code"] == "not_found"

    relay.corruption = Corruption.SERVE_OTHER_USERS_THREAD
    served = asyncio.run(_converse(relay.url, _token(gateway, "bob"), [resume]))
    assert _types(served[1:]) == _types(alice[1:])
    posted = asyncio.run(
        _converse(relay.url, _token(gateway, "bob"), [_ask("What is 2 + 2?", thread_id)])
    )
    assert posted[-1]["type"] == "agent_completed" and posted[-1]["thread_id"] == thread_id


# --- the suite through the relay: each corruption fails the scenarios that guard it ----

# Scenario names (regular expressions, as `behave -n` takes them) guarding each behaviour.
EVERY_TOOL_FINISHES = "Every tool that starts also finishes, exactly once"
GETS_THE_ANSWER = "Alice asks a question and gets the answer, saved and cached"
IN_ORDER = "Events arrive in order, numbered without gaps, with one ending per question"
BAD_SIGN_IN = "A bad sign-in is turned away before the connection opens"
SIGN_IN_IN_ADDRESS = "A sign-in written into the address is not accepted"
OTHER_USERS_THREAD = "A user cannot resume or post into another user's conversation"

GUARDS: dict[Corruption, list[str]] = {
    Corruption.DROP_TOOL_COMPLETED: [EVERY_TOOL_FINISHES, GETS_THE_ANSWER],
    Corruption.REPEAT_AGENT_COMPLETED: [IN_ORDER],
    Corruption.BREAK_SEQ: [IN_ORDER],
    Corruption.ACCEPT_REFUSED_HANDSHAKE: [BAD_SIGN_IN, SIGN_IN_IN_ADDRESS],
    Corruption.SERVE_OTHER_USERS_THREAD: [OTHER_USERS_THREAD],
}


@dataclass(frozen=True)
class SuiteRun:
    """One behave run: its exit code, the scenarios it reports as failing, its output."""

    returncode: int
    failing: list[str]
    output: str

    def failed(self, name: str) -> bool:
        return any(line.startswith(name) for line in self.failing)

    def summary(self) -> str:
        found = re.findall(r"^\d+ scenarios? passed.*$", self.output, re.MULTILINE)
        return found[-1] if found else "(no summary: the run did not complete)"


def run_suite(
    relay: CorruptingRelay, gateway: Gateway, names: list[str], reports: Path
) -> SuiteRun:
    """behave on the golden path through the relay, on the gateway's storage, limited to
    the scenarios `names`; its reports go to `reports`, JUnit files nowhere, so the
    reports of the last real run stay as they were."""
    selection = [arg for name in names for arg in ("-n", name)]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "behave",
            "features/golden_path",
            "-D",
            f"gateway_url={relay.url}",
            "-D",
            "backends=real",
            "-D",
            f"golden_path.reports_dir={reports}",
            "--no-junit",
            "--no-color",
            "-f",
            "plain",
            *selection,
        ],
        cwd=PROJECT,
        env=gateway.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=BEHAVE_TIMEOUT_S,
        check=False,
    )
    output = result.stdout + result.stderr
    return SuiteRun(result.returncode, _failing_scenarios(output), output)


def _failing_scenarios(output: str) -> list[str]:
    """Names listed under behave's "Failing scenarios:" and "Errored scenarios:"."""
    names: list[str] = []
    listing = False
    for line in output.splitlines():
        if line.strip() in ("Failing scenarios:", "Errored scenarios:"):
            listing = True
            continue
        found = re.match(r"^\s+\S+\.feature:\d+\s+(.*)$", line) if listing else None
        if found:
            names.append(found.group(1).strip())
        elif listing and line.strip():
            listing = False
    return names


@pytest.fixture(scope="module")
def suite_ready() -> None:
    if not any(FEATURES.glob("*.feature")):
        pytest.fail(f"{FEATURES} holds no .feature file: there is no gate to test")


def test_the_suite_passes_through_a_faithful_relay(
    suite_ready: None, relay: CorruptingRelay, gateway: Gateway, tmp_path: Path
) -> None:
    relay.corruption = Corruption.NONE
    names = sorted({name for guarded in GUARDS.values() for name in guarded})
    run = run_suite(relay, gateway, names, tmp_path)
    assert run.returncode == 0, (
        f"through a faithful relay: {run.summary()}; failing {run.failing}\n{run.output[-4000:]}"
    )
    for name in names:
        assert re.search(re.escape(name), run.output), f"scenario not run: {name}"


@pytest.mark.parametrize("corruption", list(GUARDS), ids=lambda c: c.value)
def test_the_suite_fails_on_a_corrupted_stream(
    suite_ready: None,
    relay: CorruptingRelay,
    gateway: Gateway,
    corruption: Corruption,
    tmp_path: Path,
) -> None:
    relay.corruption = corruption
    try:
        run = run_suite(relay, gateway, GUARDS[corruption], tmp_path)
    finally:
        relay.corruption = Corruption.NONE
    assert run.returncode != 0, (
        f"the suite passed although the relay did {corruption.value}: {run.summary()}"
    )
    missed = [name for name in GUARDS[corruption] if not run.failed(name)]
    assert not missed, (
        f"with {corruption.value}, these scenarios passed: {missed}; failing were {run.failing}"
        f"\n{run.output[-4000:]}"
    )
