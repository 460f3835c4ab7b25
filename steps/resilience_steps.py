"""Steps of resilience: a lost connection, a chat service that crashes, a crowd.

The faults come from `support.faults`; a crash needs a chat service the suite runs itself,
so with a gateway someone else runs (gateway_url) that scenario is skipped, saying why.
"""

from behave import given, then, when

import support.parameters  # noqa: F401  (registers {user:User}, {text:Quoted}, ...)
from support import faults
from support.matchers import (
    a_conversation,
    a_run_record,
    a_well_formed_run,
    assert_that,
    ended,
    equal_to,
    exactly_seqs,
)


@given("a chat service that the suite can crash and start again")
def own_service(context):
    reason = faults.why_no_own_gateway(context.stack)
    if reason:
        context.scenario.skip(reason)
        return
    context.own_gateway = faults.start_own_gateway(context.stack)
    context.add_cleanup(faults.stop_own_gateway, context.own_gateway)


@given("{user:User} is signed in to that chat service")
def signed_in_there(context, user):
    faults.join(context.cast[user], context.own_gateway)


@when("that chat service crashes and starts again")
def crashes(context):
    faults.crash_and_restart(context.own_gateway)


@when("{user:User} comes back and reopens that conversation from the start")
def comes_back(context, user):
    person = context.cast[user]
    person.connects()
    person.resumes(person.thread_id, 0)


@when(
    "{people:d} people each ask {questions:d} questions at the same time, "
    "some losing their connection or sending a question twice"
)
def crowd_asks(context, people, questions):
    context.survival = faults.crowd_on(context.stack, people, questions)


@then("{user:User} finds the whole answer, from the agents starting to the answer, each step once")
def whole_answer(context, user):
    person = context.cast[user]
    found = [e for e in person.events_after_resuming() if e.run_id == person.run_id]
    assert_that(found, a_well_formed_run())
    assert_that(found, exactly_seqs([row["seq"] for row in person.stored_events_after(0)]))


@then("{user:User}'s question and the answer she found are saved, once")
def saved_once(context, user):
    person = context.cast[user]
    found = [e for e in person.events_after_resuming() if e.run_id == person.run_id]
    turns = [("user", person.pending.content), ("assistant", found[-1].payload.get("response"))]
    rows = context.cast.read(context.cast.storage.messages_in(person.thread_id))
    assert_that(rows, a_conversation(turns), f"{person.name}'s conversation")


@then("{user:User} sees her answer end as interrupted, every tool it started closed")
def ended_interrupted(context, user):
    person = context.cast[user]
    found = [e for e in person.events_after_resuming() if e.run_id == person.run_id]
    assert_that(found, a_well_formed_run())
    assert_that(found, ended("failed", error_code="interrupted"))


@then("{user:User}'s request is recorded as failed because it was interrupted")
def recorded_interrupted(context, user):
    context.cast[user].expect_run_record(a_run_record("failed", error_code="interrupted"))


@then("every one of them gets their own answers")
def everyone_answered(context):
    survival = context.survival
    assert_that(survival.problems, equal_to([]), "what went wrong for people in the crowd")
    assert_that(survival.completed, equal_to(survival.runs), "questions answered as asked")
    assert_that(survival.resumed_incomplete, equal_to(0), "answers incomplete after resuming")
    assert_that(survival.repeated_new_run, equal_to(0), "questions sent twice and run twice")


@then("every question and every answer is saved exactly once")
def saved_exactly_once(context):
    assert_that(context.survival.lost, equal_to(0), "questions, answers or records lost")
    assert_that(context.survival.duplicated, equal_to(0), "messages or events kept twice")


@then("nobody sees anything of anyone else's conversations")
def nobody_sees_others(context):
    assert_that(context.survival.leaked, equal_to(0), "events seen by someone they are not for")
