"""Steps of resilience: a lost connection, a chat service that crashes, a crowd.

A crash needs a chat service the suite runs itself: the scenario's tag
`@fixture.own_chat_service` starts one (environment.py); with a gateway someone else runs
(gateway_url) that scenario is skipped, saying why.
"""

from behave import given, then, when

import support.phrases  # noqa: F401
from support.actors.questions import resumed, seen, stored
from support.actors.tasks import connecting, crashing, crowding, resuming
from support.contract import CLOSE_GOING_AWAY
from support.matchers import (
    assert_that,
    equal_to,
    greater_than,
    refused_as_unavailable,
)


@given("a chat service that the suite can crash and start again")
def own_service(context):
    crashing.expect_own_chat_service(context.cast)


@given("{user:User} is signed in to that chat service")
def signed_in_there(context, user):
    crashing.signs_in_to_own_service(context.cast[user], context.cast)


@when("the line between that chat service and its cache is cut")
def cache_line_cut(context):
    crashing.cuts_cache_line(context.cast)


@when("the line between that chat service and its cache is back")
def cache_line_back(context):
    crashing.restores_cache_line(context.cast)


@when("{user:User} tries to sign in to that chat service")
@when("{user:User} signs in to that chat service")
def tries_there(context, user):
    crashing.tries_own_service(context.cast[user], context.cast)


@then("{user:User} is turned away before the connection opens: the sign-in cannot be checked "
      "right now")
def turned_away_unavailable(context, user):
    assert_that(seen.attempt(context.cast[user]), refused_as_unavailable(),
                f"{user}'s connection attempt while the cache is away")


@when("that chat service is stopped")
def stopped(context):
    crashing.is_stopped(context.cast)


@then("{user:User}'s app is disconnected because the chat service is going away")
def disconnected_going_away(context, user):
    seen.expect_closed_with(context.cast[user], CLOSE_GOING_AWAY, "the chat service is going away")


@when("another chat service starts beside it, on the same storage")
def another_beside(context):
    crashing.another_starts_beside(context)


@when("that first chat service crashes and stays down")
def crashes_for_good(context):
    crashing.crashes_for_good(context.cast)


@when("{user:User} comes back on the other chat service and reopens that conversation from the start")
def comes_back_elsewhere(context, user):
    person = context.cast[user]
    crashing.signs_in_to_other_service(person, context.cast)
    resuming.resumes(person, person.thread_id, 0)


@when("that chat service crashes and starts again")
def crashes(context):
    crashing.crashes_and_restarts(context.cast)


@when("{user:User} comes back and reopens that conversation from the start")
def comes_back(context, user):
    person = context.cast[user]
    connecting.connects(person)
    resuming.resumes(person, person.thread_id, 0)


@when(
    "{people:d} people each ask {questions:d} questions at the same time, "
    "some losing their connection or sending a question twice"
)
def crowd_asks(context, people, questions):
    crowding.crowd_asks(context.cast, people, questions)


@then("{user:User} finds the whole answer, from the agents starting to the answer, each step once")
def whole_answer(context, user):
    resumed.expect_whole_answer(context.cast[user])


@then("{user:User}'s question and the answer she found are saved, once")
def saved_once(context, user):
    resumed.expect_saved_once(context.cast[user])


@then("{user:User} sees her answer end as interrupted, every tool it started closed")
def ended_interrupted(context, user):
    resumed.expect_interrupted(context.cast[user])


@then("{user:User} sees her answer end as interrupted, every tool it started closed, "
      "once the other chat service has noticed the crash")
def ended_interrupted_elsewhere(context, user):
    resumed.expect_interrupted(context.cast[user], crashing.takeover_s(context.cast))


@then("{user:User}'s session {where:Where} is recorded as {status:w}")
@then("{user:User}'s session {where:Where} is still recorded as {status:w}")
def session_where(context, user, where, status):
    person = context.cast[user]
    stored.expect_session_record(person, status, index=crashing.connection_where(person, where))


@given("{user:User} has signed in to that chat service before, and signed out")
def signed_in_and_out(context, user):
    person = context.cast[user]
    crashing.signs_in_and_out_of_own_service(person, context.cast)
    stored.expect_session_record(
        person, "ended", index=crashing.connection_where(person, "she signed out of"))


@then("{user:User}'s request is recorded as failed because it was interrupted, with the "
      "agents she saw at work")
def recorded_interrupted(context, user):
    stored.expect_interrupted_record(context.cast[user])


@then("every one of them gets their own answers")
def everyone_answered(context):
    survival = crowding.survival(context.cast)
    assert_that(survival.problems, equal_to([]), "what went wrong for people in the crowd")
    assert_that(survival.completed, equal_to(crowding.questions_asked(context.cast)),
                "questions answered as asked")


@then("those who lost their connection found their whole answers when they came back")
def resumed_whole(context):
    survival = crowding.survival(context.cast)
    assert_that(survival.resumed, greater_than(0), "people who lost their connection")
    assert_that(survival.resumed_incomplete, equal_to(0), "answers found incomplete")


@then("a question sent twice was answered by one single request")
def repeated_once(context):
    survival = crowding.survival(context.cast)
    assert_that(survival.repeated, greater_than(0), "questions sent twice")
    assert_that(survival.repeated_new_run, equal_to(0), "questions sent twice and run twice")


@then("every question and every answer is saved exactly once")
def saved_exactly_once(context):
    survival = crowding.survival(context.cast)
    assert_that(survival.lost, equal_to(0), "questions, answers or records lost")
    assert_that(survival.duplicated, equal_to(0), "messages or events kept twice")


@then("nobody sees anything of anyone else's conversations")
def nobody_sees_others(context):
    assert_that(crowding.survival(context.cast).leaked, equal_to(0),
                "events seen by someone they are not for")
