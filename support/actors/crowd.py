"""A crowd: many people at once, each with their own sign-in, asking several questions
over the real socket; some lose their connection mid-answer and resume, some send the
same message twice. For the crowd scenario, the soak (`python -m tools.soak`) and tests.

Each member of the crowd is a `Person` whose only ability is the gateway it talks to;
what they asked, saw and met on the way is in their memory, which
`support.actors.survival` then counts against storage.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from support.actors.person import Abilities, Answered, Person
from support.config import SuiteConfig
from support.tokens import mint
from support.wire.codec import RunSeen
from support.wire.v1 import ChatClient, V1Target

__all__ = ["SLOW_QUESTION", "Crowd", "CrowdPlan", "crowd", "noted", "question_for"]

# What a user who loses the connection mid-answer asks: long enough to be cut off.
SLOW_QUESTION = ("Wait for 0.5 seconds", "Waited 0.5 seconds")


@dataclass
class CrowdPlan:
    """How the crowd behaves: users, questions each, and the faults some of them meet."""

    users: int
    runs_each: int
    drop_every: int = 10
    repeat_every: int = 5
    prefix: str = "crowd"
    timeout: float = 30.0


@dataclass
class Crowd:
    plan: CrowdPlan
    members: list[Person]
    wall_s: float


def question_for(member: int, run: int) -> tuple[str, str]:
    """A question whose answer names who asked it: ('What is M + R?', 'M + R = M+R')."""
    return f"What is {member} + {run}?", f"{member} + {run} = {member + run}"


def noted(person: Person, key: str) -> list[Any]:
    """A list the person keeps in memory under `key` (empty when nothing was noted)."""
    return person.recall(key, [])


def _note(person: Person, key: str, value: Any) -> None:
    person.remember(key, [*noted(person, key), value])


async def crowd(urls: Sequence[str], config: SuiteConfig, plan: CrowdPlan) -> Crowd:
    """Everyone connects at once (member i to gateway `urls[i % len(urls)]`) and asks
    `runs_each` questions in one conversation. Every `drop_every`-th member loses the
    connection once the agents start on the second question, connects again (to the
    next gateway, when there are several) and resumes after the last event seen; every
    `repeat_every`-th member sends the first question a second time as the same message."""
    tag = uuid.uuid4().hex[:8]
    members = []
    for i in range(plan.users):
        user_id = f"{plan.prefix}-{tag}-{i}"
        member = Person(f"crowd member {i}", user_id, mint(config, user_id),
                        Abilities(V1Target(urls[i % len(urls)], plan.timeout), config))
        member.remember("place", i)
        members.append(member)
    began = time.perf_counter()
    await asyncio.gather(*(_member_session(urls[(i + 1) % len(urls)], plan, m)
                           for i, m in enumerate(members)))
    wall = time.perf_counter() - began
    await asyncio.gather(*(c.close() for m in members for c in m.connections if c.is_open),
                         return_exceptions=True)
    return Crowd(plan, members, wall)


async def _connect(url: str, member: Person, timeout: float) -> ChatClient:
    began = time.perf_counter()
    client = await ChatClient.open(url, member.sign_in.token, timeout=timeout)
    if isinstance(client, ChatClient):
        _note(member, "connect seconds", time.perf_counter() - began)
        member.connections.append(client)
        return client
    raise AssertionError(f"{member.user_id} was turned away: {client.describe()}")


async def _member_session(other_url: str, plan: CrowdPlan, member: Person) -> None:
    index = member.recall("place")
    try:
        client = await _connect(member.abilities.target.url, member, plan.timeout)
        for run in range(plan.runs_each):
            question, answer = question_for(index, run)
            if plan.drop_every and index % plan.drop_every == 0 and run == 1:
                question, answer = SLOW_QUESTION
                _note(member, "expected", (question, answer))
                client = await _drop_and_resume(other_url, plan, member, client, question)
            else:
                _note(member, "expected", (question, answer))
                await _ask(plan, member, client, question)
            member.remember("conversation", member.last_run.thread_id)
            if run == 0 and plan.repeat_every and index % plan.repeat_every == 0:
                await _repeat(plan, member, client)
    except AssertionError as exc:
        _note(member, "problems", str(exc))
    except Exception as exc:  # noqa: BLE001 - a member's failure is counted, not fatal
        _note(member, "problems", f"{type(exc).__name__}: {exc}")


async def _ask(plan: CrowdPlan, member: Person, client: ChatClient, question: str) -> None:
    message_id = f"m-{uuid.uuid4().hex}"
    _note(member, "message ids", message_id)
    sent = await client.send_message(question, thread_id=member.recall("conversation", None),
                                     message_id=message_id)
    seen = await client.run_of(sent, timeout=plan.timeout)
    _note(member, "answer seconds", time.perf_counter() - sent.sent_at)
    member.answered.append(Answered(question, seen, str(client.connection_id), sent.sent_at))


async def _repeat(plan: CrowdPlan, member: Person, client: ChatClient) -> None:
    """Send the first message again with its message id: the same run must come back."""
    first = member.answered[0]
    sent = await client.send_message(first.question, thread_id=None,
                                     message_id=noted(member, "message ids")[0])
    member.remember("repeat position", (client, sent.mark, first.run.run_id))
    done = await client.log.expect_event(
        "agent_completed", start=sent.mark, timeout=plan.timeout,
        what=f"the repeated message of {member.user_id} to be answered again")
    member.remember("repeat ran the same run", done.run_id == first.run.run_id)


async def _drop_and_resume(url: str, plan: CrowdPlan, member: Person, client: ChatClient,
                           question: str) -> ChatClient:
    """Ask, lose the connection once the agents start, reconnect and resume after the
    last event seen; the run must arrive complete, each event once."""
    message_id = f"m-{uuid.uuid4().hex}"
    _note(member, "message ids", message_id)
    sent = await client.send_message(question, thread_id=member.recall("conversation", None),
                                     message_id=message_id)
    first = await client.first_event_of(sent)
    await client.drop()
    before = client.log.events(start=sent.mark, run_id=first.run_id)
    last = max(e.seq for e in before)
    if any(e.type == "agent_completed" for e in before):
        # The whole answer came before the connection went: ask for all of it again.
        before, last = [], first.seq - 1
    again = await _connect(url, member, plan.timeout)
    mark = await again.resume(first.thread_id, last)
    await again.log.expect_event("agent_completed", run_id=first.run_id, start=mark,
                                 timeout=plan.timeout,
                                 what=f"the rest of {member.user_id}'s answer after resuming")
    events = before + again.log.events(start=mark, run_id=first.run_id)
    seqs = [e.seq for e in events]
    whole = (seqs == list(range(seqs[0], seqs[0] + len(seqs)))
             and events[0].type == "agent_started"
             and [e.type for e in events].count("agent_completed") == 1
             and events[-1].type == "agent_completed")
    member.remember("resumed whole", whole)
    if not whole:
        _note(member, "problems", f"the answer resumed after seq {last} was incomplete: "
                                  f"{', '.join(e.describe() for e in events)}")
    _note(member, "answer seconds", time.perf_counter() - sent.sent_at)
    member.answered.append(Answered(question, RunSeen(first.run_id, first.thread_id, events),
                                    str(again.connection_id), sent.sent_at))
    return again
