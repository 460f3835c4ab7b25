"""Steps of the cache: what the product keeps in Redis, read by the suite's own client."""

from behave import given, then, when

import support.phrases  # noqa: F401
from support.actors.questions import cached, stored
from support.actors.tasks import connecting, misbehaving
from support.matchers import assert_that, cache_entries_of


@given("{user:User} has a second session")
def second_session(context, user):
    connecting.connects(context.cast[user])


@when("{user:User} loses her connection")
def loses_connection(context, user):
    connecting.loses_connection(context.cast[user])


@when("{user:User}'s app closes the connection saying it is going away")
def closes_going_away(context, user):
    connecting.leaves_going_away(context.cast[user])


@given("{user:User} has a sign-in that lasts {lifetime:Lifetime}")
def sign_in_lasting(context, user, lifetime):
    misbehaving.has_sign_in_lasting(context.cast[user], lifetime)


@given("{user:User} has a sign-in that ran out a second ago, inside the grace the service "
       "allows")
def sign_in_lapsed(context, user):
    if not_checkable := misbehaving.has_lapsed_sign_in(context.cast[user]):
        context.scenario.skip(not_checkable)


@when("{user:User}'s sign-in is revoked")
def sign_in_revoked(context, user):
    misbehaving.revokes_sign_in(context.cast[user])


@then("{user:User}'s session is cached and expires within an hour")
def session_cached(context, user):
    cached.expect_session_cached(context.cast[user], present=True)


@then("{user:User}'s connection is tracked by the cache")
def connection_tracked(context, user):
    cached.expect_connection_cached(context.cast[user], present=True)


@then("the cache forgets {user:User}'s connection")
def connection_forgotten(context, user):
    cached.expect_connection_cached(context.cast[user], present=False)


@then("{user:User}'s session stays cached until it expires")
def session_stays(context, user):
    cached.expect_session_cached(context.cast[user], present=True)


@then("{user:User}'s session is recorded as disconnected")
def session_disconnected(context, user):
    stored.expect_session_record(context.cast[user], "disconnected")


@then("{user:User}'s answer is cached for a day")
def answer_cached(context, user):
    cached.expect_answer_cached(context.cast[user])


@then("the cache no longer holds {user:User}'s {which:Ordinal} session or its connection")
def session_gone(context, user, which):
    cached.expect_session_cached(context.cast[user], session=which, present=False)
    cached.expect_connection_cached(context.cast[user], session=which, present=False)


@then("the cache still holds {user:User}'s {which:Ordinal} session and its connection")
def session_kept(context, user, which):
    cached.expect_session_cached(context.cast[user], session=which, present=True)
    cached.expect_connection_cached(context.cast[user], session=which, present=True)


@then("everything cached for {user:User} is filed under her and about her own sessions and answers")
@then("everything cached for {user:User} is filed under him and about his own sessions and answers")
def cached_apart(context, user):
    person = context.cast[user]
    assert_that(cached.cache_entries(person), cache_entries_of(person.user_id, **cached.own_ids(person)))


@then("the cache remembers the revocation until {user:User}'s sign-in would be refused "
      "anyway, grace included")
def revocation_remembered(context, user):
    cached.expect_revocation_until_expiry(context.cast[user])
