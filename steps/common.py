"""Steps shared by every area: people signing in and asking questions."""

from behave import given, then, when

import support.phrases  # noqa: F401  (registers {user:User}, {text:Quoted}, ...)
from support.actors.questions import seen
from support.actors.tasks import asking, connecting
from support.matchers import assert_that, ended, equal_to


@given("{user:User} is signed in")
def signed_in(context, user):
    connecting.connects(context.cast[user])


@given('{user:User} has asked "{text:Quoted}"')
def has_asked(context, user, text):
    asking.asks(connecting.connected(context.cast[user]), text)


@when('{user:User} asks "{text:Quoted}"')
def asks(context, user, text):
    asking.asks(context.cast[user], text)


@when('{user:User} asks "{text:Quoted}" in the same conversation')
def asks_again(context, user, text):
    asking.asks(context.cast[user], text, same_conversation=True)


@when('{user:User} asks "{text:Quoted}" while {other:User} asks "{other_text:Quoted}"')
def ask_together(context, user, text, other, other_text):
    cast = context.cast
    cast.together(asking.asking(cast[user], text), asking.asking(cast[other], other_text))


@then('{user:User} gets the answer "{answer:Quoted}"')
def gets_answer(context, user, answer):
    assert_that(seen.last_answer(context.cast[user]), ended("completed", response=equal_to(answer)))


@then('{user:User} can ask "{text:Quoted}" and get the answer "{answer:Quoted}"')
def can_ask(context, user, text, answer):
    run = asking.asks(context.cast[user], text)
    assert_that(run.events, ended("completed", response=equal_to(answer)))
