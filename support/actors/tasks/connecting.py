"""Connecting and leaving: a sign-in attempt, a connection, a normal close, a drop."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from support import tokens
from support.actors.person import Person
from support.contract import CLOSE_GOING_AWAY
from support.tokens import SignIn
from support.wire.codec import Refusal
from support.wire.v1 import ChatClient

__all__ = [
    "connected",
    "connects",
    "connects_to",
    "ends_session",
    "leaves_going_away",
    "loses_connection",
    "tries_sign_in_written",
    "tries_to_connect",
    "tries_to_connect_at",
    "tries_url",
]


def _attempt(person: Person, sign_in: SignIn, via: str, what: str) -> ChatClient | Refusal:
    outcome = person.abilities.run(person.abilities.target.open(sign_in.token, via=via), what)
    if not isinstance(outcome, Refusal):
        person.connections.append(outcome)
    return person.remember("attempt", outcome)


def tries_to_connect(person: Person, sign_in: SignIn | None = None, *,
                     via: str = "header") -> None:
    """Attempt a connection; the outcome (greeting or refusal) is remembered for the Then."""
    _attempt(person, sign_in or person.sign_in, via, f"{person.name}'s connection attempt")


def tries_to_connect_at(person: Person, path: str) -> None:
    """Attempt a connection with the person's own sign-in at another path of the chat
    service's address; the outcome is remembered for the Then."""
    tries_url(person, urlunsplit(
        urlsplit(person.abilities.target.url)._replace(path=path, query="")))


def tries_url(person: Person, url: str) -> None:
    """Attempt a connection with the person's own sign-in to the gateway at `url` (one
    the suite runs, or another address of it); the outcome is remembered for the Then."""
    outcome = person.abilities.run(
        ChatClient.open(url, person.sign_in.token, timeout=person.abilities.timeout),
        f"{person.name}'s connection attempt at {url}")
    if not isinstance(outcome, Refusal):
        person.connections.append(outcome)
    person.remember("attempt", outcome)


def tries_sign_in_written(person: Person, description: str) -> None:
    """Attempt a connection with a good sign-in whose header is written as described."""
    tries_to_connect(person, tokens.sign_in_written(person.abilities.config, person.user_id,
                                                    description))


def connects(person: Person, *, via: str = "header") -> ChatClient:
    """Connect with the person's own sign-in; fails if the gateway turns them away."""
    outcome = _attempt(person, person.sign_in, via, f"{person.name} to connect")
    if not isinstance(outcome, Refusal):
        return outcome
    raise AssertionError(f"{person.name} was turned away: {outcome.describe()}")


def connects_to(person: Person, url: str) -> ChatClient:
    """Connect with the person's own sign-in to the gateway at `url` (one the suite runs)."""
    outcome = person.abilities.run(
        ChatClient.open(url, person.sign_in.token, timeout=person.abilities.timeout),
        f"{person.name} to connect to {url}")
    if isinstance(outcome, ChatClient):
        person.connections.append(outcome)
        return outcome
    raise AssertionError(f"{person.name} was turned away: {outcome.describe()}")


def connected(person: Person) -> Person:
    """The person, connected (connecting first if they have no open connection)."""
    if not any(client.is_open for client in person.connections):
        connects(person)
    return person


def ends_session(person: Person, index: int = 0) -> None:
    """Close one of the person's connections normally (the session ends)."""
    client = person.connections[index]
    person.abilities.run(client.close(), f"{person.name}'s session {index + 1} to close")


def leaves_going_away(person: Person) -> None:
    """Close the current connection with code 1001 (going away), as a browser tab that
    closes does: not a normal close, so the session is not ended."""
    person.abilities.run(person.connection.close(CLOSE_GOING_AWAY),
                         f"{person.name}'s app to close the connection")


def loses_connection(person: Person) -> None:
    """Drop the current connection without a goodbye, as a broken network would."""
    person.abilities.run(person.connection.drop(), f"{person.name}'s connection to drop")
