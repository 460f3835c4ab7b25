"""Hostile frames against the gateway over a real socket: whatever a client sends, it gets
an `error` event or a documented close code, never a crash, and the connection and the
server live on.

A catalogue of named attacks checks the exact answer to each; a property-based test sends
thousands of generated frames (hypothesis picks the kind and the seed of each, the
generator in support/wire/garbage.py builds it cheaply) on one connection and checks the answer
to each (a probe frame after those that may get none proves the connection still reads
frames in order); then normal runs of the same user and of another user must complete, and
the service must have logged no error. Text frames that are not UTF-8 are closed by the websockets library with 1007.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import fakeredis
import pytest
from conftest import make_settings, probe_engine, query, running_service, wire_client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from chat.app import ChatService, start_service
from chat.auth import issue_token
from chat.config import Settings
from support.contract import FRAME_ERRORS
from support.wire.garbage import BROKEN_TEXT, FRAME_KINDS, GARBAGE, random_frame

EVENT_TYPES = {"agent_started", "agent_thinking", "tool_executing", "tool_completed",
               "agent_completed"}
FUZZ_FRAMES = 2000
FUZZ_BATCH = 8
REAL_DATABASE_URL = os.environ.get("GOLDEN_PATH_DATABASE_URL", "")
REAL_REDIS_URL = os.environ.get("GOLDEN_PATH_REDIS_URL", "")
FRAMES_FUZZED: dict[str, int] = {}


class ErrorLog(logging.Handler):
    """Collects what the service and the websockets library log at ERROR or worse."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name}: {record.getMessage()}")


@contextlib.contextmanager
def logged_errors() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    loggers = [logging.getLogger(name) for name in ("chat", "websockets")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


@contextlib.contextmanager
def service_in_thread(s: Settings, redis_url: str | None = None) -> Iterator[ChatService]:
    """The service on its own event loop in a background thread, so a plain (synchronous)
    hypothesis test can talk to it through a blocking client."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="chat-service", daemon=True)
    thread.start()

    async def start() -> ChatService:
        if redis_url:
            import redis.asyncio

            return await start_service(s, redis=redis.asyncio.from_url(redis_url))
        return await start_service(s, redis=fakeredis.FakeAsyncRedis())

    service = asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    try:
        yield service
    finally:
        asyncio.run_coroutine_threadsafe(service.close(), loop).result(30)
        if redis_url:
            asyncio.run_coroutine_threadsafe(service.redis.aclose(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@contextlib.contextmanager
def open_client(service: ChatService, s: Settings, user: str) -> Iterator[ClientConnection]:
    with connect(service.url, additional_headers={
            "Authorization": f"Bearer {issue_token(s, user)}"}, max_size=None) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "connection_established"
        yield ws


def ask(ws: ClientConnection, content: str, thread_id: str | None = None) -> list[dict[str, Any]]:
    """Send a question and read up to its `agent_completed` (its run is the first to start
    after the question; other frames may interleave)."""
    ws.send(json.dumps({"type": "user_message", "content": content, "thread_id": thread_id}))
    frames: list[dict[str, Any]] = []
    run_id = None
    while True:
        frame = json.loads(ws.recv(timeout=10))
        if run_id is None and frame.get("type") == "agent_started":
            run_id = frame["run_id"]
        if run_id is not None and frame.get("run_id") == run_id:
            frames.append(frame)
            if frame["type"] == "agent_completed":
                return frames


def answered(ws: ClientConnection, content: str, expected: str,
             thread_id: str | None = None) -> bool:
    """Send a question; True once an `agent_completed` with the expected answer arrives
    (runs started by earlier frames may still be finishing around it)."""
    ws.send(json.dumps({"type": "user_message", "content": content, "thread_id": thread_id}))
    while True:
        frame = json.loads(ws.recv(timeout=10))
        if frame.get("type") == "agent_completed" and frame["payload"].get("response") == expected:
            return True


def is_request_shaped(frame: str | bytes) -> bool:
    """A JSON text frame of a kind the contract knows; it may start a run or a replay and
    then gets no error. Anything else must get exactly one error."""
    if not isinstance(frame, str):
        return False
    try:
        parsed = json.loads(frame)
    except (ValueError, RecursionError):
        return False
    return isinstance(parsed, dict) and parsed.get("type") in ("user_message", "resume")


class Fuzzer:
    """Sends hostile frames on one connection and checks what answers each."""

    def __init__(self, ws: ClientConnection, thread_ids: tuple[str, ...]) -> None:
        self.ws = ws
        self.thread_ids = thread_ids
        self.sent = 0
        self.errors: dict[str, int] = {}
        self.started: set[str] = set()
        self.completed: set[str] = set()

    def check(self, frame: str | bytes, answers: list[dict[str, Any]]) -> None:
        errors = [a for a in answers if a.get("type") == "error"]
        for answer in answers:
            kind = answer.get("type")
            assert kind == "error" or kind in EVENT_TYPES, answer
            if kind == "error":
                assert answer.get("code") in FRAME_ERRORS and answer.get("message"), answer
                self.errors[answer["code"]] = self.errors.get(answer["code"], 0) + 1
            elif kind == "agent_started":
                self.started.add(answer["run_id"])
            elif kind == "agent_completed":
                self.completed.add(answer["run_id"])
        if not is_request_shaped(frame):
            assert len(errors) == 1, (str(frame)[:200], answers)
        else:
            assert len(errors) <= 1, (str(frame)[:200], answers)

    def _until(self, last: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        answers: list[dict[str, Any]] = []
        while True:
            answers.append(json.loads(self.ws.recv(timeout=10)))
            if last(answers[-1]):
                return answers

    def _probe(self) -> list[dict[str, Any]]:
        """Send a probe frame; the answers before the probe's own error."""
        probe = f"probe-{self.sent}"
        self.ws.send(json.dumps({"type": probe}))
        answers = self._until(lambda a: a.get("type") == "error" and a.get("message") == (
            f"unknown frame type {probe!r}"))
        return answers[:-1]

    def send(self, frame: str | bytes) -> None:
        """Send one hostile frame and check its answers. A frame the contract cannot use
        gets exactly one error (events of earlier runs may come first); a request-shaped
        one may legitimately get none (a resume with nothing to replay), so a probe frame
        follows it and everything up to the probe's answer is checked."""
        self.sent += 1
        self.ws.send(frame)
        if is_request_shaped(frame):
            answers = self._probe()
        else:
            answers = self._until(lambda a: a.get("type") == "error")
        self.check(frame, answers)

    def finish(self) -> None:
        """No frame got a second error: nothing but events before a last probe's answer."""
        stray = [a for a in self._probe() if a.get("type") == "error"]
        assert stray == [], stray

    def settle(self) -> None:
        """Wait for every run the fuzzing started to complete."""
        deadline = time.monotonic() + 30
        while self.started - self.completed:
            assert time.monotonic() < deadline, f"runs never completed: {self.started - self.completed}"
            answer = json.loads(self.ws.recv(timeout=10))
            if answer.get("type") == "agent_completed":
                self.completed.add(answer["run_id"])


def fuzz(s: Settings, frames: int, *, redis_url: str | None = None) -> Fuzzer:
    with (
        logged_errors() as errors,
        service_in_thread(s, redis_url) as service,
        open_client(service, s, "fuzz-alice") as alice,
        open_client(service, s, "fuzz-bob") as bob,
    ):
        own = ask(alice, "What is 1 + 1?")[0]["thread_id"]
        others = ask(bob, "What is 2 + 2?")[0]["thread_id"]
        fuzzer = Fuzzer(alice, (own, others))

        @settings(max_examples=frames // FUZZ_BATCH, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(st.lists(st.tuples(st.sampled_from(FRAME_KINDS), st.integers(0, 2**32)),
                        min_size=FUZZ_BATCH, max_size=FUZZ_BATCH))
        def hostile(batch: list[tuple[str, int]]) -> None:
            for kind, seed in batch:
                fuzzer.send(random_frame(random.Random(seed), kind, fuzzer.thread_ids))

        hostile()
        fuzzer.finish()
        fuzzer.settle()
        # The same connection, a new one of the same user and another user still work.
        assert answered(alice, "What is 6 * 7?", "6 * 7 = 42")
        with open_client(service, s, "fuzz-alice") as again:
            assert answered(again, "What is 3 * 3?", "3 * 3 = 9", own)
        assert answered(bob, "What is 2 + 3?", "2 + 3 = 5")
    assert errors.records == [], errors.records[:5]
    return fuzzer


def test_thousands_of_generated_frames_leave_connection_and_server_alive(
        record_property: Any) -> None:
    started = time.perf_counter()
    fuzzer = fuzz(make_settings(), FUZZ_FRAMES)
    took = time.perf_counter() - started
    FRAMES_FUZZED["embedded"] = fuzzer.sent
    record_property("frames_fuzzed", fuzzer.sent)
    print(f"frames fuzzed: {fuzzer.sent} in {took:.1f} s; errors {fuzzer.errors}; "
          f"runs started {len(fuzzer.started)}")
    assert fuzzer.sent >= FUZZ_FRAMES


@pytest.mark.skipif(
    not (REAL_DATABASE_URL.startswith("postgresql+asyncpg://") and REAL_REDIS_URL),
    reason="GOLDEN_PATH_DATABASE_URL (postgresql+asyncpg) and GOLDEN_PATH_REDIS_URL not set",
)
def test_generated_frames_on_postgresql_and_redis(record_property: Any) -> None:
    s = make_settings(database_url=REAL_DATABASE_URL, redis_url=REAL_REDIS_URL)
    fuzzer = fuzz(s, 400, redis_url=REAL_REDIS_URL)
    FRAMES_FUZZED["real"] = fuzzer.sent
    record_property("frames_fuzzed_real", fuzzer.sent)


# -- named attacks -----------------------------------------------------------------------


def test_each_named_attack_gets_its_error_and_the_connection_stays_open() -> None:
    s = make_settings()

    async def scenario() -> None:
        async with running_service(s) as service, probe_engine(service) as probe:
            async with wire_client(service, "alice") as alice:
                await alice.ask("What is 1 + 1?")
                thread_id = (await alice.until_completed())[0]["thread_id"]
                attacks: dict[str, tuple[str | bytes, str]] = {
                    name: (frame, "") for name, frame in GARBAGE.items()}
                attacks.update({
                    "after_seq past any counter on a real thread": (json.dumps(
                        {"type": "resume", "thread_id": thread_id, "after_seq": 2**31}),
                        "invalid_message"),
                    "an unpaired surrogate as message id": (
                        '{"type": "user_message", "content": "hi", "message_id": "\\udc00"}',
                        "invalid_message"),
                    "a NUL in a conversation id": (json.dumps(
                        {"type": "resume", "thread_id": "t\x00", "after_seq": 0}),
                        "invalid_message"),
                    "a message id 201 characters long": (json.dumps(
                        {"type": "user_message", "content": "hi", "message_id": "m" * 201}),
                        "invalid_message"),
                    "a binary frame": (b'{"type": "resume"}', "invalid_message"),
                    "nesting too deep to parse": ("[" * 200_000 + "]" * 200_000,
                                                  "invalid_json"),
                    "digits past the parser's limit": ("9" * 5000, "invalid_json"),
                })
                for name, (frame, code) in attacks.items():
                    await alice.connection.send(frame)
                    answer = await alice.receive()
                    assert answer["type"] == "error", (name, answer)
                    assert answer["code"] in FRAME_ERRORS, (name, answer)
                    assert len(answer["message"]) <= 200, (name, answer)
                    if code:
                        assert answer["code"] == code, (name, answer)
                await alice.nothing_within(0.05)
                # Control characters other than NUL are text like any other.
                await alice.ask("\x01\x1b[31m hello \x7f\u202e")
                frames = await alice.until_completed()
                assert frames[-1]["payload"]["status"] == "completed"
                await alice.ask("What is 6 * 7?", thread_id=thread_id)
                assert (await alice.until_completed())[-1]["payload"]["response"] == "6 * 7 = 42"
            runs = await query(probe, "SELECT COUNT(*) AS n FROM agent_executions")
            assert runs == [{"n": 3}]

    with logged_errors() as errors:
        asyncio.run(scenario())
    assert errors.records == []


@pytest.mark.parametrize("data", [
    BROKEN_TEXT,
    b"\xff",
    b"\xc0\x80",  # an overlong NUL
    b"\xed\xa0\x80",  # a surrogate encoded as UTF-8
    b'{"type": "user_message", "content": "\xf4\x90\x80\x80"}',  # past U+10FFFF
])
def test_text_that_is_not_utf8_closes_with_1007_and_others_carry_on(data: bytes) -> None:
    s = make_settings()

    async def scenario() -> int | None:
        async with running_service(s) as service, wire_client(service, "bob") as bob:
            token = issue_token(s, "alice")
            async with async_connect(service.url, additional_headers={
                    "Authorization": f"Bearer {token}"}) as ws:
                await ws.recv()
                await ws.send(data, text=True)
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 5)
            await bob.ask("What is 2 + 3?")
            assert (await bob.until_completed())[-1]["payload"]["response"] == "2 + 3 = 5"
            async with wire_client(service, "alice") as alice:
                await alice.ask("What is 6 * 7?")
                assert (await alice.until_completed())[-1]["payload"]["response"] == "6 * 7 = 42"
            return closed.value.rcvd.code if closed.value.rcvd else None

    FRAMES_FUZZED["not utf-8"] = FRAMES_FUZZED.get("not utf-8", 0) + 1
    assert asyncio.run(scenario()) == 1007


def test_report_frames_fuzzed(record_property: Any) -> None:
    """The figure for the report (when the whole module ran)."""
    total = sum(FRAMES_FUZZED.values())
    record_property("frames_fuzzed_total", total)
    print(f"frames fuzzed: {total} ({FRAMES_FUZZED})")
