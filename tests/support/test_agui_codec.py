"""The AG-UI side of the harness without I/O: settings, areas not checked, events turned
into the product's vocabulary, and the rules of a stream."""

from __future__ import annotations

import json
from typing import Any

import pytest

from support.areas import not_checked, reason_to_skip
from support.config import ConfigError, SuiteConfig
from support.wire.agui_codec import NOT_AGUI, Translation, stream_problem, validated
from support.wire.codec import Event
from support.wire.rules import run_problem

SECRET = "s" * 40


def test_protocol_and_agent_url_come_from_userdata_then_the_environment() -> None:
    assert SuiteConfig.load({}, {}).protocol == "v1"
    assert SuiteConfig.load({"protocol": "ag-ui"}, {"GOLDEN_PATH_PROTOCOL": "v1"}).protocol == "ag-ui"
    agent = SuiteConfig.load({}, {"GOLDEN_PATH_AGENT_URL": "http://127.0.0.1:9/agui",
                                  "GOLDEN_PATH_JWT_SECRET": SECRET})
    assert (agent.protocol, agent.agent_url, agent.external_agent) == (
        "ag-ui", "http://127.0.0.1:9/agui", True)


@pytest.mark.parametrize(("userdata", "says"), [
    ({"protocol": "grpc"}, "is not one of v1, ag-ui"),
    ({"protocol": "v1", "agent_url": "http://h/agui", "jwt_secret": SECRET}, "-D protocol=ag-ui"),
    ({"agent_url": "ws://h/agui", "jwt_secret": SECRET}, "must be http://"),
    ({"agent_url": "http://h/agui"}, "needs the jwt_secret"),
])
def test_a_protocol_setting_that_cannot_work_stops_the_run_with_one_line(
        userdata: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        SuiteConfig.load(userdata, {})


def test_areas_not_checked_depend_on_the_protocol_and_the_target() -> None:
    assert not_checked(SuiteConfig()) == {}
    assert list(not_checked(SuiteConfig(protocol="ag-ui"))) == ["v1_only"]
    peer = not_checked(SuiteConfig(protocol="ag-ui", agent_url="http://h/agui"))
    assert {"v1_only", "storage", "cache", "revocation", "seq", "agents"} <= set(peer)
    assert reason_to_skip(["smoke", "storage"], peer).startswith("not checked: storage (")
    assert reason_to_skip(["smoke"], peer) is None


def stream(*events: dict[str, Any]) -> list[dict[str, Any]]:
    return [validated(json.dumps(event)) for event in events]


GOOD = stream(
    {"type": "RUN_STARTED", "threadId": "t", "runId": "r"},
    {"type": "STEP_STARTED", "stepName": "data"},
    {"type": "REASONING_MESSAGE_START", "messageId": "m1", "role": "reasoning"},
    {"type": "REASONING_MESSAGE_CONTENT", "messageId": "m1", "delta": "sums"},
    {"type": "REASONING_MESSAGE_END", "messageId": "m1"},
    {"type": "TOOL_CALL_START", "toolCallId": "c1", "toolCallName": "calculator"},
    {"type": "TOOL_CALL_ARGS", "toolCallId": "c1", "delta": '{"a": 1, "op": "/", '},
    {"type": "TOOL_CALL_ARGS", "toolCallId": "c1", "delta": '"b": 0}'},
    {"type": "TOOL_CALL_END", "toolCallId": "c1"},
    {"type": "TOOL_CALL_RESULT", "messageId": "m2", "toolCallId": "c1",
     "content": '{"error": "division by zero"}'},
    {"type": "STEP_FINISHED", "stepName": "data"},
    {"type": "TEXT_MESSAGE_START", "messageId": "m3", "role": "assistant"},
    {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m3", "delta": "cannot be done"},
    {"type": "TEXT_MESSAGE_END", "messageId": "m3"},
    {"type": "RUN_FINISHED", "threadId": "t", "runId": "r"},
)


def test_a_stream_becomes_a_run_in_the_products_words() -> None:
    translation = Translation()
    events = [Event.from_frame(f) for e in GOOD for f in translation.frames(e)]
    assert [e.type for e in events] == ["agent_started", "agent_thinking", "tool_executing",
                                        "tool_completed", "agent_completed"]
    assert run_problem(events) is None
    assert events[1].agent == "data"
    assert events[2].payload["args"] == {"a": 1, "op": "/", "b": 0}
    assert (events[3].status, events[3].payload["result"]) == (
        "error", {"error": "division by zero"})
    assert events[4].payload == {"status": "completed", "response": "cannot be done"}
    assert {e.run_id for e in events} == {"r"} and events[0].seq == -1
    assert stream_problem(GOOD) is None


def test_an_event_ag_uis_models_refuse_is_named_with_the_reason() -> None:
    refused = validated(json.dumps({"type": "TOOL_CALL_START", "toolCallId": "c1"}))
    assert refused["type"] == NOT_AGUI
    problem = stream_problem([GOOD[0], refused, GOOD[-1]])
    assert problem is not None and "is not an AG-UI event" in problem


@pytest.mark.parametrize(("broken", "says"), [
    (GOOD[:5] + GOOD[6:], "TOOL_CALL_ARGS for tool call c1, which is not open"),
    (GOOD[:9] + GOOD[10:], "tool call c1 never got its TOOL_CALL_RESULT"),
    (GOOD[:6] + stream({"type": "TOOL_CALL_ARGS", "toolCallId": "c1", "delta": "{oops"})
     + GOOD[8:], "the arguments of tool call c1 are not JSON"),
    (GOOD[:-1], "without RUN_FINISHED or RUN_ERROR"),
    (GOOD + GOOD[-1:], "RUN_FINISHED arrived after RUN_FINISHED ended the run"),
    (GOOD[:12] + GOOD[14:], "text message m3 still open"),
])
def test_a_broken_stream_names_the_rule_it_breaks(broken: list[dict[str, Any]],
                                                  says: str) -> None:
    assert says in str(stream_problem(broken))
