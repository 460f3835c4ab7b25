"""Steps of WebSocket sign-in and the connection's life: handshakes, bad frames, resuming."""

from behave import then, when

import support.parameters  # noqa: F401
from support.matchers import (
    a_session_record,
    assert_that,
    equal_to,
    has_properties,
    not_none,
    only_from,
    refused_because,
    the_same_events_as,
)


@when("{user:User} connects with her sign-in")
@when("{user:User} connects again with that sign-in")
def connects_with_sign_in(context, user):
    context.cast[user].tries_to_connect()


@when("{user:User} connects with {credentials:BadSignIn}")
def connects_with_bad_sign_in(context, user, credentials):
    person = context.cast[user]
    person.tries_to_connect(person.bad_sign_in(credentials))


@when("{user:User} connects with her sign-in written into the address")
def connects_with_sign_in_in_address(context, user):
    context.cast[user].tries_to_connect(via="query")


@when("{user:User} connects from a browser, passing her sign-in the way browsers can")
def connects_with_subprotocol(context, user):
    context.cast[user].tries_to_connect(via="subprotocol")


@when("{user:User}'s app sends {something:Unusable}")
def sends_unusable(context, user, something):
    context.cast[user].sends_unusable(something)


@when("{user:User} asks \"{text:Quoted}\" and loses her connection once the agents start")
def loses_connection_mid_run(context, user, text):
    context.cast[user].loses_connection_once_agents_start(text)


@when("{user:User} reconnects and picks up her conversation where she left off")
def picks_up(context, user):
    context.cast[user].picks_up_where_left_off()


@when("{user:User} tries to pick up {owner:User}'s conversation")
def resumes_other(context, user, owner):
    context.cast[user].resumes(context.cast[owner].thread_id, 0)


@when("{user:User}'s app sends \"{text:Quoted}\" twice as the same message")
def sends_twice(context, user, text):
    context.cast[user].sends_twice(text)


@then("{user:User} is greeted as herself")
def greeted(context, user):
    person = context.cast[user]
    greeting = has_properties(user_id=equal_to(person.user_id), connection_id=not_none())
    assert_that(person.greeted_client(), greeting)


@then("{user:User}'s session is recorded as active for that connection")
def session_active(context, user):
    person = context.cast[user]
    owner = {"user_id": person.user_id, "token_jti": person.sign_in.jti}
    assert_that(person.session_record(), a_session_record("active", ended=False, **owner))


@then("{user:User} is turned away before the connection opens, because {reason:Refusal}")
def turned_away(context, user, reason):
    assert_that(context.cast[user].last_attempt, refused_because(reason))


@then("{user:User} is told {problem:Problem}")
def told_problem(context, user, problem):
    context.cast[user].expect_told(problem)


@then("{user:User} receives exactly the events she missed, in order, up to the answer")
def receives_missed(context, user):
    context.cast[user].expect_missed_events_after_resuming()


@then("{user:User} received nothing of {owner:User}'s conversation")
def received_nothing(context, user, owner):
    assert_that(context.cast[user].events_seen(), only_from(context.cast[user].threads()))


@then("{user:User} is shown the same answer both times, from one single request")
def same_answer_twice(context, user):
    first, again = context.cast[user].repeated
    assert_that(again, the_same_events_as(first))
    assert_that(context.cast[user].requests_recorded(), equal_to(1))
