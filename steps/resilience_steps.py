"""Steps of resilience: a lost connection, a chat service that crashes, a crowd.

The faults and the checks come from `support.faults`. A crash needs a chat service the
suite runs itself (tag @in_process), so with a gateway someone else runs (gateway_url)
that scenario is skipped, saying why.
"""

from behave import given, then, when

import support.parameters  # noqa: F401  (registers {user:User}, {text:Quoted}, ...)
from support import faults
from support.matchers import a_run_record, assert_that, equal_to


@given("a chat service that the suite can crash and start again")
def own_service(context):
    context.own_gateway = faults.own_gateway_for(context.add_cleanup, context.stack)
    if isinstance(context.own_gateway, str):
        context.scenario.skip(context.own_gateway)


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
    faults.expect_whole_answer(context.cast[user])


@then("{user:User}'s question and the answer she found are saved, once")
def saved_once(context, user):
    faults.expect_saved_once(context.cast[user])


@then("{user:User} sees her answer end as interrupted, every tool it started closed")
def ended_interrupted(context, user):
    faults.expect_interrupted(context.cast[user])


@then("{user:User}'s request is recorded as failed because it was interrupted")
def recorded_interrupted(context, user):
    context.cast[user].expect_run_record(a_run_record("failed", error_code="interrupted"))


@then("every one of them gets their own answers")
def everyone_answered(context):
    survival = context.survival
    assert_that(survival.problems, equal_to([]), "what went wrong for people in the crowd")
    assert_that(survival.completed, equal_to(survival.runs), "questions answered as asked")


@then("every question and every answer is saved exactly once")
def saved_exactly_once(context):
    assert_that(context.survival.lost, equal_to(0), "questions, answers or records lost")
    assert_that(context.survival.duplicated, equal_to(0), "messages or events kept twice")


@then("nobody sees anything of anyone else's conversations")
def nobody_sees_others(context):
    assert_that(context.survival.leaked, equal_to(0), "events seen by someone they are not for")
