"""Steps of the cache: what the product keeps in Redis, read by the suite's own client."""

from behave import given, then, when

import support.parameters  # noqa: F401
from support.matchers import assert_that, cache_entries_of


@given("{user:User} has a second session")
def second_session(context, user):
    context.cast[user].connects()


@when("{user:User} loses her connection")
def loses_connection(context, user):
    context.cast[user].loses_connection()


@when("{user:User}'s sign-in is revoked")
def sign_in_revoked(context, user):
    context.cast.revoke(context.cast[user].sign_in)


@then("{user:User}'s session is cached and expires within an hour")
def session_cached(context, user):
    context.cast[user].cache_of().expect_session(present=True, ttl=(3000, 3600))


@then("{user:User}'s connection is tracked by the cache")
def connection_tracked(context, user):
    context.cast[user].cache_of().expect_connection(present=True)


@then("the cache forgets {user:User}'s connection")
def connection_forgotten(context, user):
    context.cast[user].cache_of().expect_connection(present=False)


@then("{user:User}'s session stays cached until it expires")
def session_stays(context, user):
    context.cast[user].cache_of().expect_session(present=True, ttl=(1, 3600))


@then("{user:User}'s session is recorded as disconnected")
def session_disconnected(context, user):
    context.cast[user].expect_session_record(status="disconnected")


@then("{user:User}'s answer is cached for a day")
def answer_cached(context, user):
    context.cast[user].cache_of().expect_answer(ttl=(86000, 86400))


@then("the cache no longer holds {user:User}'s first session or its connection")
def first_session_gone(context, user):
    context.cast[user].cache_of(session=0).expect_session(present=False)
    context.cast[user].cache_of(session=0).expect_connection(present=False)


@then("the cache still holds {user:User}'s second session and its connection")
def second_session_kept(context, user):
    context.cast[user].cache_of(session=1).expect_session(present=True, ttl=(1, 3600))
    context.cast[user].cache_of(session=1).expect_connection(present=True)


@then("everything cached for {user:User} is filed under her and about her own sessions and answers")
@then("everything cached for {user:User} is filed under him and about his own sessions and answers")
def cached_apart(context, user):
    person = context.cast[user]
    assert_that(person.cache_entries(), cache_entries_of(person.user_id, **person.own_ids()))


@then("the cache remembers the revocation until {user:User}'s sign-in would have expired")
def revocation_remembered(context, user):
    context.cast[user].cache_of().expect_revocation_until_expiry()
