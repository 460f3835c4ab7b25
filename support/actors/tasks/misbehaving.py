"""Misbehaving, as an attacker or a broken app would: bad and forged sign-ins, a sign-in
that runs out mid-conversation, frames the service cannot use, a burst of garbage, text
that is not valid characters. Every frame goes over the person's real connection."""

from __future__ import annotations

import json
import time

from support import tokens
from support.actors.person import Person
from support.actors.tasks.connecting import connects, tries_to_connect
from support.tokens import SignIn
from support.wire.garbage import BROKEN_TEXT, GARBAGE

# What a person remembers of a sign-in that must end her session: when (epoch seconds).
SESSION_ENDS_AT = "session ends at"
# ... and of her sign-in's revocation: when it was asked for (epoch seconds).
REVOKED_AT = "revoked at"
# A sign-in let in after its `exp` is shown with one that ran out leeway - 2 s ago, so the
# handshake has more than a second to land inside the leeway (`exp` is whole seconds).
LEEWAY_NEEDED_S = 3

__all__ = [
    "has_lapsed_sign_in",
    "has_sign_in_lasting",
    "revokes_sign_in",
    "sends_garbage",
    "sends_message_of",
    "sends_raw",
    "sends_undecodable_text",
    "signs_in_briefly",
    "tries_bad_sign_in",
    "tries_forged_sign_in",
    "tries_sign_in_changed_to",
    "tries_sign_in_claiming_method",
]


def has_sign_in_lasting(person: Person, seconds: int) -> None:
    """Give the person a fresh sign-in that lasts `seconds` from now."""
    person.sign_in = tokens.mint(person.abilities.config, person.user_id, lifetime_s=seconds)


def has_lapsed_sign_in(person: Person) -> str | None:
    """Give the person a sign-in that ran out a second ago, inside the gateway's leeway.
    When the leeway is too short for the sign-in still to be inside it a step later, say
    why and do nothing."""
    leeway = person.abilities.config.jwt_leeway
    if leeway < LEEWAY_NEEDED_S:
        return (f"the gateway's leeway is {leeway} s (jwt_leeway); a sign-in inside it after "
                f"it ran out needs at least {LEEWAY_NEEDED_S} s to be shown")
    person.sign_in = tokens.lapsed_sign_in(person.abilities.config, person.user_id, 1)
    return None


def revokes_sign_in(person: Person, sign_in: SignIn | None = None) -> None:
    """An operator revokes the person's sign-in (or `sign_in`) through the product."""
    revoked = sign_in or person.sign_in
    if revoked.token is None or revoked.jti is None:
        raise ValueError("only a real sign-in can be revoked")
    person.remember(REVOKED_AT, time.time())
    person.abilities.run(person.abilities.revoke(revoked.token),
                         f"{person.name}'s sign-in to be revoked")
    person.remember("revoked sign-ins", [*person.recall("revoked sign-ins", []), revoked.jti])


def tries_bad_sign_in(person: Person, description: str) -> None:
    """Try to connect with a bad sign-in as a feature describes it (revoked first when it
    says so)."""
    made = tokens.bad_sign_in(person.abilities.config, person.user_id, description)
    if "revoked" in description:
        revokes_sign_in(person, made)
    tries_to_connect(person, made)


def tries_forged_sign_in(person: Person, forgery: str) -> None:
    tries_to_connect(person, tokens.forged_sign_in(person.abilities.config, person.user_id,
                                                   forgery))


def tries_sign_in_changed_to(person: Person, victim: Person) -> None:
    """Try the person's own valid sign-in, edited to name `victim`, signature kept."""
    tries_to_connect(person, tokens.sign_in_changed_to(person.abilities.config, person.user_id,
                                                       victim.user_id))


def tries_sign_in_claiming_method(person: Person, method: str) -> None:
    tries_to_connect(person, tokens.sign_in_claiming_method(person.abilities.config,
                                                            person.user_id, method))


def signs_in_briefly(person: Person, seconds: int) -> None:
    """Connect with a valid sign-in that runs out `seconds` from now; the session must last
    until then."""
    sign_in = tokens.short_sign_in(person.abilities.config, person.user_id, seconds)
    person.remember(SESSION_ENDS_AT, sign_in.expires_at)
    tries_to_connect(person, sign_in)


def signs_in_inside_leeway(person: Person) -> str | None:
    """Connect with a sign-in that ran out two seconds short of the gateway's leeway: it is
    let in (§5) and its session lasts until the leeway is over, not a moment less. When
    the gateway's leeway is too short to show this, say why and do nothing."""
    leeway = person.abilities.config.jwt_leeway
    if leeway < LEEWAY_NEEDED_S:
        return (f"the gateway's leeway is {leeway} s (jwt_leeway); a sign-in let in after it "
                f"ran out needs at least {LEEWAY_NEEDED_S} s to be shown")
    sign_in = tokens.lapsed_sign_in(person.abilities.config, person.user_id,
                                    leeway - LEEWAY_NEEDED_S + 1)
    assert sign_in.expires_at is not None
    person.remember(SESSION_ENDS_AT, sign_in.expires_at + leeway)
    tries_to_connect(person, sign_in)
    return None


def sends_raw(person: Person, frame: str | bytes) -> None:
    """Send a frame exactly as given over the current connection."""
    mark = person.abilities.run(person.connection.send_raw(frame), f"{person.name} to send")
    person.remember("reply position", mark)


def sends_message_of(person: Person, size: int) -> None:
    """Send a question frame of exactly `size` bytes over the current connection."""
    envelope = json.dumps({"type": "user_message", "content": "", "thread_id": None,
                           "message_id": None})
    padding = size - len(envelope.encode())
    if padding < 0:
        raise ValueError(f"a message cannot be as small as {size} bytes")
    frame = envelope.replace('"content": ""', f'"content": "{"x" * padding}"')
    sends_raw(person, frame)


def sends_garbage(person: Person) -> None:
    """Open a new connection (the person's app) and send every piece of `GARBAGE`, in
    order; remembers where its log stood and what was sent."""
    app = connects(person)

    async def burst() -> None:
        for frame in GARBAGE.values():
            await app.send_raw(frame)

    person.remember("reply position", app.log.mark())
    person.remember("garbage sent", list(GARBAGE))
    person.abilities.run(burst(), f"{person.name}'s app to send its garbage")


def sends_undecodable_text(person: Person) -> None:
    """Open a new connection and send text that is not valid characters (not UTF-8)."""
    app = connects(person)
    person.abilities.run(app.send_undecodable(BROKEN_TEXT),
                         f"{person.name}'s app to send broken text")
