"""Steps of persistence: what the product stored, read by the suite's own database probe."""

from behave import given, then, when

import support.phrases  # noqa: F401
from support.actors.questions import stored
from support.actors.tasks import asking, connecting, resuming
from support.matchers import (
    a_run_record,
    assert_that,
    contains_exactly,
    empty,
    has_entries,
    the_same_events_as,
)


@given('{user:User} has a second session in which she asked "{text:Quoted}"')
def second_session_with_question(context, user, text):
    connecting.connects(context.cast[user])
    asking.asks(context.cast[user], text)


@when('{user:User} asks "{text:Quoted}" and the agents start working')
def starts_asking(context, user, text):
    asking.starts_asking(context.cast[user], text)


@when("the answer reaches {user:User}")
@when("the answer reaches {user:User}, on the chat service that did not crash")
def answer_arrives(context, user):
    asking.awaits_answer(context.cast[user])


@when('{user:User} tries to add "{text:Quoted}" to {owner:User}\'s conversation')
def posts_into_other(context, user, text, owner):
    asking.posts_into(context.cast[user], context.cast[owner].thread_id, text)


@when("{user:User} ends her {which:Ordinal} session")
def ends_one_session(context, user, which):
    connecting.ends_session(context.cast[user], which)


@then("{user:User} has exactly one saved conversation, the one she is talking in")
def one_conversation(context, user):
    person = context.cast[user]
    assert_that(stored.conversations(person),
                contains_exactly(has_entries(id=person.thread_id, user_id=person.user_id)))


@then("{user:User}'s conversation is saved with her question and the answer she saw")
@then("{user:User}'s conversation is saved with her question and the answer she saw, once")
@then("{user:User}'s conversation is saved with each of her questions followed by its answer")
@then("{user:User}'s conversation keeps her question, and no answer to it")
def conversation_saved(context, user):
    stored.expect_conversations_saved(context.cast[user])


@when('{user:User} asks "{first:Quoted}" and, while it runs, "{second:Quoted}"')
def asks_while_asking(context, user, first, second):
    asking.asks_while_asking(context.cast[user], first, second)


@then("each of {user:User}'s requests is recorded as completed with the answer she saw for it")
def each_recorded(context, user):
    stored.expect_each_request_completed_as_seen(context.cast[user])


@then("{user:User}'s request is recorded as running")
def recorded_running(context, user):
    stored.expect_run_record(context.cast[user], a_run_record("running"))


@then("{user:User}'s request is recorded as completed with the answer she saw")
def recorded_completed(context, user):
    person = context.cast[user]
    assert_that(stored.request_record(person), a_run_record("completed", result=person.last_run.response))


@then("when {user:User} reopens her conversation she receives its whole history, in order")
def reopens(context, user):
    live, replayed = resuming.reopens_conversation(context.cast[user])
    assert_that(replayed, the_same_events_as(live))


@then("{user:User} has no saved conversation")
def no_conversation(context, user):
    assert_that(stored.conversations(context.cast[user]), empty())
    assert_that(stored.messages(context.cast[user]), empty())


@then("{user:User}'s {which:Ordinal} session is recorded as ended")
def one_session_ended(context, user, which):
    stored.expect_session_record(context.cast[user], "ended", index=which)


@then("{user:User}'s {which:Ordinal} session is still recorded as active")
def one_session_active(context, user, which):
    stored.expect_session_record(context.cast[user], "active", index=which)


@then("the working notes of {user:User}'s {which:Ordinal} session are removed")
def session_notes_removed(context, user, which):
    stored.expect_working_notes(context.cast[user], session=which, kept=False)


@then("the working notes of {user:User}'s {which:Ordinal} session are kept")
def session_notes_kept(context, user, which):
    stored.expect_working_notes(context.cast[user], session=which, kept=True)


@then("{user:User}'s working notes are kept")
def notes_kept(context, user):
    stored.expect_working_notes(context.cast[user], session=-1, kept=True)
