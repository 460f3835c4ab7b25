"""Steps of hostile sign-ins and garbage: forged and made-up sign-ins, a sign-in that runs
out mid-conversation, an app that sends anything at all."""

from behave import given, then, when

import support.phrases  # noqa: F401
from support.actors.questions import resumed, seen, stored
from support.actors.tasks import asking, misbehaving
from support.contract import CLOSE_INVALID_DATA
from support.matchers import assert_that, ended, equal_to


@when("{user:User} tries to get in with {forgery:Forgery}")
def tries_forged(context, user, forgery):
    misbehaving.tries_forged_sign_in(context.cast[user], forgery)


@when("{user:User} tries to get in with his own sign-in changed to say he is {victim:User}")
def tries_changed(context, user, victim):
    misbehaving.tries_sign_in_changed_to(context.cast[user], context.cast[victim])


@when('{user:User} tries to get in with a sign-in that claims the signing method "{method:Quoted}"')
def tries_made_up_method(context, user, method):
    misbehaving.tries_sign_in_claiming_method(context.cast[user], method)


@then("nobody was let in as {user:User}")
def nobody_let_in(context, user):
    stored.expect_nobody_let_in(context.cast[user])


@given("{user:User} is signed in with a sign-in that runs out in {seconds:d} seconds")
def signed_in_briefly(context, user, seconds):
    misbehaving.signs_in_briefly(context.cast[user], seconds)
    seen.greeting(context.cast[user])


@given("{user:User} is let in with a sign-in that ran out moments ago, inside the grace the "
       "service allows")
def signed_in_inside_leeway(context, user):
    if not_checkable := misbehaving.signs_in_inside_leeway(context.cast[user]):
        context.scenario.skip(not_checkable)
        return
    seen.greeting(context.cast[user])


@when("{user:User}'s sign-in runs out")
@when("{user:User}'s grace is over")
@then("{user:User} is told her sign-in has expired and her connection is closed")
def sign_in_runs_out(context, user):
    seen.expect_sign_in_ran_out(context.cast[user])


@then("{user:User}'s session is recorded as ended")
def session_ended(context, user):
    stored.expect_session_record(context.cast[user], "ended")


@then('after signing in again {user:User} finds her conversation with the answer "{answer:Quoted}"')
def finds_conversation_again(context, user, answer):
    resumed.expect_conversation_found_again(context.cast[user], answer)


@when("{user:User}'s app sends a burst of garbage")
def sends_garbage(context, user):
    misbehaving.sends_garbage(context.cast[user])


@then("{user:User} is told about each piece of garbage, and her app stays connected")
def told_about_garbage(context, user):
    seen.expect_told_about_each_piece(context.cast[user])


@then("{user:User}'s other connection still works")
def other_connection_works(context, user):
    seen.expect_other_connections_unharmed(context.cast[user])
    run = asking.asks_on(context.cast[user], 0, "What is 1 + 2?")
    assert_that(run.events, ended("completed", response=equal_to("1 + 2 = 3")))


@when("{user:User}'s app sends text that is not valid characters")
def sends_broken_text(context, user):
    misbehaving.sends_undecodable_text(context.cast[user])


@then("{user:User}'s app is disconnected because its text could not be decoded")
def disconnected_for_broken_text(context, user):
    seen.expect_closed_with(context.cast[user], CLOSE_INVALID_DATA, "its text could not be decoded")
