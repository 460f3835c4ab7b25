"""Steps of hostile sign-ins and garbage: forged and made-up sign-ins, a sign-in that runs
out mid-conversation, an app that sends anything at all (support/hostile.py)."""

import parse
from behave import given, register_type, then, when

import support.parameters  # noqa: F401
from support import hostile


@parse.with_pattern("|".join(sorted(hostile.FORGED_SIGN_INS, key=len, reverse=True)))
def parse_forgery(text):
    """A forged sign-in as the features describe it (keys of hostile.FORGED_SIGN_INS)."""
    return text


register_type(Forgery=parse_forgery)


@when("{user:User} tries to get in with {forgery:Forgery}")
def tries_forged(context, user, forgery):
    person = context.cast[user]
    person.tries_to_connect(hostile.forged_sign_in(context.stack.config, person.user_id, forgery))


@when("{user:User} tries to get in with his own sign-in changed to say he is {victim:User}")
def tries_changed(context, user, victim):
    person, config = context.cast[user], context.stack.config
    person.tries_to_connect(
        hostile.sign_in_changed_to(config, person.user_id, context.cast[victim].user_id))


@when('{user:User} tries to get in with a sign-in that claims the signing method "{method:Quoted}"')
def tries_made_up_method(context, user, method):
    person = context.cast[user]
    person.tries_to_connect(
        hostile.sign_in_claiming_method(context.stack.config, person.user_id, method))


@then("nobody was let in as {user:User}")
def nobody_let_in(context, user):
    hostile.expect_nobody_let_in_as(context.cast[user])


@given("{user:User} is signed in with a sign-in that runs out in {seconds:d} seconds")
def signed_in_briefly(context, user, seconds):
    person = context.cast[user]
    person.tries_to_connect(hostile.short_sign_in(context.stack.config, person.user_id, seconds))
    person.greeted_client()


@when("{user:User}'s sign-in runs out")
@then("{user:User} is told her sign-in has expired and her connection is closed")
def sign_in_runs_out(context, user):
    hostile.expect_sign_in_ran_out(context.cast[user])


@then("{user:User}'s session is recorded as ended")
def session_ended(context, user):
    context.cast[user].expect_session_record("ended")


@then('after signing in again {user:User} finds her conversation with the answer "{answer:Quoted}"')
def finds_conversation_again(context, user, answer):
    hostile.expect_conversation_found_again(context.cast[user], answer)


@when("{user:User}'s app sends a burst of garbage")
def sends_garbage(context, user):
    context.garbage = hostile.send_garbage(context.cast[user])


@then("{user:User} is told about each piece of garbage, and her app stays connected")
def told_about_garbage(context, user):
    hostile.expect_told_about_each_piece(context.garbage)


@then("{user:User}'s other connection still works")
def other_connection_works(context, user):
    hostile.expect_earlier_connection_answers(context.cast[user], "What is 1 + 2?", "1 + 2 = 3")


@when("{user:User}'s app sends text that is not valid characters")
def sends_broken_text(context, user):
    context.broken_app = hostile.send_broken_text(context.cast[user])


@then("{user:User}'s app is disconnected because its text could not be decoded")
def disconnected_for_broken_text(context, user):
    hostile.expect_closed_with(context.cast[user], context.broken_app,
                               hostile.INVALID_DATA_CLOSE, "its text could not be decoded")
