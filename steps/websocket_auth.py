"""Steps of WebSocket sign-in and the connection's life: handshakes, bad frames, resuming."""

from behave import then, when

import support.phrases  # noqa: F401
from support.actors.questions import seen, service, stored
from support.actors.tasks import asking, connecting, misbehaving, resuming
from support.contract import CLOSE_TOO_BIG, MAX_CONTENT_BYTES
from support.matchers import (
    a_session_record,
    assert_that,
    ended,
    equal_to,
    has_properties,
    not_none,
    only_from,
    refused_as_not_found,
    refused_because,
    the_same_events_as,
)


@then("the chat service answers that it is healthy")
def service_healthy(context):
    service.expect_healthy(context.cast)


@when("{user:User} connects with her sign-in")
@when("{user:User} connects again with that sign-in")
def connects_with_sign_in(context, user):
    connecting.tries_to_connect(context.cast[user])


@when("{user:User} connects with {credentials:BadSignIn}")
def connects_with_bad_sign_in(context, user, credentials):
    misbehaving.tries_bad_sign_in(context.cast[user], credentials)


@when("{user:User} connects with {sign_in:HeaderVariant}")
def connects_with_sign_in_written(context, user, sign_in):
    connecting.tries_sign_in_written(context.cast[user], sign_in)


@when("{user:User} connects with her sign-in written into the address")
def connects_with_sign_in_in_address(context, user):
    connecting.tries_to_connect(context.cast[user], via="query")


@when("{user:User} connects with her sign-in offered as another kind of credential")
def connects_with_other_scheme(context, user):
    connecting.tries_to_connect(context.cast[user], via="other-scheme")


@when("{user:User} connects from a browser, passing her sign-in the way browsers can")
def connects_with_subprotocol(context, user):
    connecting.tries_to_connect(context.cast[user], via="subprotocol")


@when("{user:User}'s app sends {frame:Unusable}")
def sends_unusable(context, user, frame):
    misbehaving.sends_raw(context.cast[user], frame)


@when("{user:User} asks \"{text:Quoted}\" and loses her connection once the agents start")
def loses_connection_mid_run(context, user, text):
    resuming.loses_connection_once_agents_start(context.cast[user], text)


@when("{user:User} reconnects and picks up her conversation where she left off")
def picks_up(context, user):
    resuming.picks_up_where_left_off(context.cast[user])


@when("{user:User} tries to pick up {owner:User}'s conversation")
def resumes_other(context, user, owner):
    resuming.resumes(context.cast[user], context.cast[owner].thread_id, 0)


@when("{user:User}'s app sends \"{text:Quoted}\" twice as the same message")
def sends_twice(context, user, text):
    asking.sends_twice(context.cast[user], text)


@then("{user:User} is greeted as herself")
@then("{user:User} is greeted as himself")
def greeted(context, user):
    person = context.cast[user]
    greeting = has_properties(user_id=equal_to(person.user_id), connection_id=not_none())
    assert_that(seen.greeting(person), greeting)


@then("{user:User}'s session is recorded as active for that connection")
def session_active(context, user):
    person = context.cast[user]
    owner = {"user_id": person.user_id, "token_jti": person.sign_in.jti}
    assert_that(stored.session_record(person), a_session_record("active", ended=False, **owner))


@when('{user:User} connects with her sign-in at "{path:Quoted}" instead of the chat\'s own address')
def connects_elsewhere(context, user, path):
    connecting.tries_to_connect_at(context.cast[user], path)


@then("{user:User} is turned away before the connection opens: nothing answers at that address")
def turned_away_not_found(context, user):
    assert_that(seen.attempt(context.cast[user]), refused_as_not_found(),
                f"{user}'s connection attempt at an address that is not the chat's")


@then("{user:User} is turned away before the connection opens, because {reason:Refusal}")
def turned_away(context, user, reason):
    assert_that(seen.attempt(context.cast[user]), refused_because(reason))


@then("{user:User} is told {problem:Problem}")
def told_problem(context, user, problem):
    seen.expect_told(context.cast[user], problem)


@then("{user:User} receives exactly the events she missed, in order, up to the answer")
def receives_missed(context, user):
    seen.expect_missed_events_after_resuming(context.cast[user])


@then("{user:User} received nothing of {owner:User}'s conversation")
def received_nothing(context, user, owner):
    person = context.cast[user]
    assert_that(seen.events_seen(person), only_from(seen.threads(person)),
                f"what {user} received while trying {owner}'s conversation")


@then("{user:User} is shown the same answer both times, from one single request")
def same_answer_twice(context, user):
    person = context.cast[user]
    first, again = seen.repeated_answers(person)
    assert_that(again, the_same_events_as(first))
    assert_that(stored.requests_recorded(person), equal_to(len(person.answered)),
                f"requests recorded for {user}, one per question answered")


@when("{user:User} asks a question of exactly 64 KiB in characters of two bytes each")
def asks_64_kib(context, user):
    asking.asks_in_two_byte_characters(context.cast[user], MAX_CONTENT_BYTES)


@then("{user:User} gets an answer")
def gets_an_answer(context, user):
    assert_that(seen.last_answer(context.cast[user]), ended("completed"))


@when("{user:User}'s app sends a message {size:FrameSize}")
def sends_sized_message(context, user, size):
    misbehaving.sends_message_of(context.cast[user], size)


@then("{user:User}'s app is disconnected because its message was too big")
def disconnected_too_big(context, user):
    seen.expect_closed_with(context.cast[user], CLOSE_TOO_BIG, "its message was too big")


@when('{user:User} tries to add "{text:Quoted}" to a conversation nobody has')
def posts_into_made_up(context, user, text):
    asking.posts_into_made_up(context.cast[user], text)


@when('{user:User} tries to add "{text:Quoted}" to a conversation nobody has, named {named:w} '
      "her own")
def posts_into_made_up_named(context, user, text, named):
    asking.posts_into_made_up(context.cast[user], text, named=named)


@then("{user:User} is told the same about both: {problem:Problem}")
def told_alike(context, user, problem):
    seen.expect_refused_alike(context.cast[user], problem)


@when('{user:User}\'s app sends "{text:Quoted}" as the same message as {other:User}\'s question')
def sends_as_same_message(context, user, text, other):
    asking.sends_as_same_message_as(context.cast[user], text, context.cast[other])


@then("{user:User}'s request is recorded as his own, apart from {other:User}'s")
@then("{user:User}'s request is recorded as her own, apart from {other:User}'s")
def recorded_apart(context, user, other):
    stored.expect_request_apart(context.cast[user], context.cast[other])
