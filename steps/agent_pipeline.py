"""Steps of the agent pipeline: what a user sees while the agents work (the socket)."""

from behave import then

import support.phrases  # noqa: F401
from support.actors.questions import seen, stored
from support.matchers import (
    a_run_record,
    a_well_formed_run,
    all_of,
    assert_that,
    contains_string,
    ended,
    equal_to,
    numbered_without_gaps,
    only_from,
    tools_finish_before_the_answer,
    used_tool,
    worked_on_by,
)


@then("{user:User} sees the agents start, work and finish, in order")
def sees_run_in_order(context, user):
    assert_that(seen.last_answer(context.cast[user]), a_well_formed_run())
    assert_that(seen.last_answer(context.cast[user]), numbered_without_gaps())


@then("{user:User} sees the tools finish before the answer")
@then("{user:User} sees every tool that starts finish exactly once, before the answer")
def sees_tools_before_answer(context, user):
    assert_that(seen.last_answer(context.cast[user]), tools_finish_before_the_answer())


@then("only the {agents:Agents} agent works on {user:User}'s request")
@then("the {agents:Agents} agents work on {user:User}'s request, in that order")
def agents_work(context, agents, user):
    assert_that(seen.last_answer(context.cast[user]), worked_on_by(agents))


@then("{user:User} sees the calculator work out {a:Number} {op:Operator} {b:Number} without error")
def calculator_works(context, user, a, op, b):
    calculation = used_tool("calculator", args={"a": a, "op": op, "b": b}, status="ok")
    assert_that(seen.last_answer(context.cast[user]), calculation)


@then('the triage agent sorts {user:User}\'s question under "{topic:Quoted}", for the words '
      '"{words:Quoted}"')
def triage_sorts(context, user, topic, words):
    sorting = used_tool("classify", status="ok", result={
        "topic": topic, "keywords": [w for w in words.split(", ") if w]})
    assert_that(seen.last_answer(context.cast[user]), sorting)


@then("{user:User} sees the calculator fail because of a division by zero")
def calculator_fails(context, user):
    failure = used_tool("calculator", status="error", result={"error": "division by zero"})
    assert_that(seen.last_answer(context.cast[user]), failure)


@then("{user:User} still gets an answer explaining that dividing by zero cannot be done")
def answer_explains_division(context, user):
    explained = all_of(contains_string("cannot be done"), contains_string("division by zero"))
    assert_that(seen.last_answer(context.cast[user]), ended("completed", response=explained))


@then("{user:User} saw the events of her conversation numbered one after another from the first")
def numbered_from_first(context, user):
    assert_that(seen.conversation_events(context.cast[user]), numbered_without_gaps(1))


@then("each of {user:User}'s questions ended exactly once, with nothing after its ending")
def each_question_ended_once(context, user):
    for events in seen.events_of_each_run(context.cast[user]):
        assert_that(events, a_well_formed_run())


@then("{user:User} is told her request failed because an agent failed")
def told_failed(context, user):
    assert_that(seen.last_answer(context.cast[user]), ended("failed", error_code="agent_error"))


@then("{user:User}'s request is recorded as failed because an agent failed")
def recorded_failed(context, user):
    record = stored.request_record(context.cast[user])
    assert_that(record, a_run_record("failed", error_code="agent_error"))


@then("{user:User}'s request is recorded as completed by the {agents:Agents} agents")
def recorded_agents(context, user, agents):
    assert_that(stored.request_record(context.cast[user]), a_run_record("completed", agents=agents))


@then('{user:User} sees only her own conversation, answered "{answer:Quoted}"')
@then('{user:User} sees only his own conversation, answered "{answer:Quoted}"')
def sees_only_own(context, user, answer):
    person = context.cast[user]
    assert_that(seen.events_seen(person), only_from(seen.threads(person)))
    assert_that(seen.last_answer(person), ended("completed", response=equal_to(answer)))
