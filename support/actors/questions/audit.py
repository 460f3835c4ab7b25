"""What every person of a scenario received, held against the whole contract at the end
of the scenario, whatever its steps checked: every frame's fields, every conversation's
numbering and endings, every run seen from its start to its one ending (DESIGN §5).

A connection over AG-UI is held against AG-UI's rules and those of §5.2 instead of v1's
frame fields, and its conversations' numbering is checked where the target numbers its
events. Runs still under way on an open connection are awaited first (bounded by the one
timeout), so "nothing after the ending" is judged on what followed, not on what had
arrived when the ending came.
"""

from __future__ import annotations

import asyncio
from typing import Any

from support.actors.person import Person
from support.contract import EVENT_TYPES, GREETING
from support.wire.agui_codec import stream_problem
from support.wire.codec import Event
from support.wire.rules import field_problem, frame_problem, run_problem, thread_problem
from support.wire.v1 import ChatClient

__all__ = ["await_endings", "problems_of"]


async def await_endings(person: Person) -> list[str]:
    """Wait until every run that started on one of the person's open connections has
    ended there; what did not end, in words."""
    waits = []
    for client in person.connections:
        if not client.is_open:
            continue
        events = client.log.events()
        ended = {e.run_id for e in events if e.type == "agent_completed"}
        for run_id in dict.fromkeys(e.run_id for e in events if e.type == "agent_started"):
            if run_id not in ended:
                waits.append(client.log.expect_event(
                    "agent_completed", run_id=run_id, timeout=person.abilities.timeout,
                    what=f"{person.name}'s run {run_id} to end"))
    outcomes = await asyncio.gather(*waits, return_exceptions=True)
    return [str(outcome) for outcome in outcomes if isinstance(outcome, BaseException)]


def _stream_problems(where: str, client: Any) -> list[str]:
    """Of a connection over AG-UI: each stream against AG-UI's rules and §5.2's; its
    conversations' numbering where the target numbers its events (as v1 does)."""
    problems = [f"{where}, the stream answering a question: {problem}"
                for stream in client.streams.values() if stream
                if (problem := stream_problem(stream)) is not None]
    events = client.log.events()
    if events and all(e.seq >= 1 for e in events):
        for thread in dict.fromkeys(e.thread_id for e in events):
            problem = thread_problem([e for e in events if e.thread_id == thread])
            if problem is not None:
                problems.append(f"{where}, conversation {thread}: {problem}")
    return problems


def _connection_problems(person: Person, index: int, client: ChatClient) -> list[str]:
    where = f"{person.name}'s connection {index + 1}"
    if getattr(client, "protocol", "v1") == "ag-ui":
        return _stream_problems(where, client)
    problems = []
    for received in client.log.received:
        kind = received.type
        if kind in EVENT_TYPES:
            problem = field_problem(Event.from_frame(received.frame))
        elif kind in (GREETING, "error"):
            problem = frame_problem(received.frame)
        else:
            problem = f"a frame of type {kind!r} arrived, which the contract does not name"
        if problem is not None:
            problems.append(f"{where}: {problem}")
            break
    events = client.log.events()
    for thread in dict.fromkeys(e.thread_id for e in events):
        problem = thread_problem([e for e in events if e.thread_id == thread])
        if problem is not None:
            problems.append(f"{where}, conversation {thread}: {problem}")
    return problems


def problems_of(person: Person) -> list[str]:
    """Every broken promise in what the person received, on all connections: per
    connection its frames and conversations; per run, everything seen of it anywhere."""
    problems = [problem for index, client in enumerate(person.connections)
                for problem in _connection_problems(person, index, client)]
    runs: dict[str, dict[int, Event]] = {}
    for client in person.connections:
        for event in client.log.events():
            runs.setdefault(event.run_id, {}).setdefault(event.seq, event)
    for run_id, by_seq in runs.items():
        run = [by_seq[seq] for seq in sorted(by_seq)]
        if run[0].type == "agent_started" and run[-1].type == "agent_completed":
            problem = run_problem(run)
            if problem is not None:
                problems.append(f"{person.name}'s run {run_id}: {problem}")
    return problems
