"""What a person finds when coming back to a conversation after a drop or a crash."""

from __future__ import annotations

from support.actors.person import Person
from support.actors.questions.seen import events_after_resuming
from support.actors.questions.stored import stored_events_after
from support.actors.tasks.connecting import connects
from support.actors.tasks.resuming import resumes
from support.matchers import (
    a_conversation,
    a_well_formed_run,
    assert_that,
    ended,
    equal_to,
    exactly_seqs,
)
from support.wire.codec import Event, SentMessage

__all__ = [
    "expect_conversation_found_again",
    "expect_interrupted",
    "expect_saved_once",
    "expect_whole_answer",
]


def _answer_found(person: Person, allowance_s: float = 0.0) -> list[Event]:
    """The events of the person's current request received since resuming, up to its
    ending (waiting for it)."""
    run_id = person.recall("request")
    return [e for e in events_after_resuming(person, allowance_s) if e.run_id == run_id]


def expect_whole_answer(person: Person) -> None:
    """After reopening the conversation: the whole run, well formed, exactly as stored."""
    found = _answer_found(person)
    assert_that(found, a_well_formed_run())
    assert_that(found, exactly_seqs([row["seq"] for row in stored_events_after(person, 0)]))


def expect_saved_once(person: Person) -> None:
    """The conversation holds the question asked and the answer found, once each."""
    found = _answer_found(person)
    question: SentMessage = person.recall("question waiting")
    turns = [("user", question.content), ("assistant", str(found[-1].payload.get("response")))]
    rows = person.abilities.read(person.abilities.storage.messages_in(person.thread_id))
    assert_that(rows, a_conversation(turns), f"{person.name}'s conversation")


def expect_interrupted(person: Person, allowance_s: float = 0.0) -> None:
    """The resumed request ended failed as interrupted, every tool it started closed; its
    ending awaited for the one timeout plus `allowance_s`."""
    found = _answer_found(person, allowance_s)
    assert_that(found, a_well_formed_run())
    assert_that(found, ended("failed", error_code="interrupted"))


def expect_conversation_found_again(person: Person, answer: str) -> None:
    """Connect with the person's own (fresh) sign-in, reopen the current conversation and
    find its answer there."""
    connects(person)
    resumes(person, person.thread_id, 0)
    assert_that(events_after_resuming(person), ended("completed", response=equal_to(answer)))
