"""Hostile input, for the security scenarios and the tests that fuzz the gateway.

A gate earns trust by showing what the service survives, so the suite plays the attacker:
sign-ins that are forged, tampered with or claim a made-up signing method; a sign-in that
runs out while the user is talking; an app that sends garbage (binary frames, deep
nesting, huge numbers, control characters, text that is not even valid UTF-8). Everything
here speaks only the wire contract, like `support.client`, so it checks any backend.

`HostileApp` is a real connection that can send any bytes; its `ChatClient` (on the same
socket) is added to the person's sessions, so the ordinary steps ("Alice can ask ...")
then check that the very connection that sent the garbage still works. `random_frame`
builds hostile frames from a seed, cheaply, for property-based tests that send thousands.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidStatus

from support.client import MAX_FRAME_BYTES, ChatClient, EventLog
from support.config import SuiteConfig
from support.matchers import assert_that, ended, equal_to
from support.tokens import LIFETIME_S, SignIn, mint
from support.users import Person

# Error codes of the contract (§5) a hostile frame may be answered with.
FRAME_ERRORS = frozenset(
    {"invalid_json", "invalid_message", "unknown_type", "message_too_large", "not_found"}
)
TOKEN_EXPIRED_CLOSE = 4401
INVALID_DATA_CLOSE = 1007


# -- sign-ins ------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _segment(value: Mapping[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _claims(config: SuiteConfig, user_id: str) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": user_id, "iat": now, "exp": now + LIFETIME_S, "iss": config.jwt_issuer,
            "aud": config.jwt_audience, "jti": f"jti-{uuid.uuid4().hex}"}


def hand_made(header: Mapping[str, Any], claims: Mapping[str, Any], secret: str | None) -> str:
    """A token built by hand: HMAC-SHA256 with `secret` over header and claims, whatever
    the header says (an attacker is not bound by a JWT library); None: no signature."""
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    if secret is None:
        return f"{signing_input}."
    digest = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(digest)}"


def _signed(config: SuiteConfig, user_id: str, **header: Any) -> SignIn:
    claims = _claims(config, user_id)
    token = hand_made({"alg": "HS256", "typ": "JWT", **header}, claims, config.jwt_secret)
    return SignIn(token, claims["jti"], claims["exp"])


def _signature_cut_off(config: SuiteConfig, user_id: str) -> SignIn:
    made = mint(config, user_id)
    return SignIn(str(made.token).rsplit(".", 1)[0] + ".", made.jti, made.expires_at)


# How the features describe a forged sign-in -> how it is made for a user.
FORGED_SIGN_INS: dict[str, Callable[[SuiteConfig, str], SignIn]] = {
    "a sign-in that names a key the service does not have": lambda config, user: _signed(
        config, user, kid="a-key-the-service-never-had"),
    "a sign-in with its signature cut off": _signature_cut_off,
    "a sign-in that demands an extension the service does not know": lambda config, user: (
        _signed(config, user, crit=["urn:example:must-understand"],
                **{"urn:example:must-understand": True})),
}


def forged_sign_in(config: SuiteConfig, user_id: str, description: str) -> SignIn:
    """The forged sign-in a feature describes (a key of `FORGED_SIGN_INS`)."""
    return FORGED_SIGN_INS[description](config, user_id)


def sign_in_claiming_method(config: SuiteConfig, user_id: str, method: str) -> SignIn:
    """A sign-in whose header names `method` as its signing algorithm, signed with the
    real secret all the same: only the algorithm's name is wrong."""
    claims = _claims(config, user_id)
    token = hand_made({"alg": method, "typ": "JWT"}, claims, config.jwt_secret)
    return SignIn(token, claims["jti"], claims["exp"])


def sign_in_changed_to(config: SuiteConfig, own_user_id: str, claimed_user_id: str) -> SignIn:
    """A valid sign-in of `own_user_id` whose contents were then edited to name
    `claimed_user_id`, keeping the original signature."""
    made = mint(config, own_user_id)
    header, payload, signature = str(made.token).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = claimed_user_id
    return SignIn(f"{header}.{_segment(claims)}.{signature}", made.jti, made.expires_at)


def short_sign_in(config: SuiteConfig, user_id: str, seconds: int) -> SignIn:
    """A valid sign-in that runs out `seconds` from now (whole seconds, as `exp` is)."""
    return mint(config, user_id, lifetime_s=seconds)


def expect_nobody_let_in_as(person: Person) -> None:
    """No session was ever recorded for the person's user id."""
    rows = person.cast.read(person.cast.storage.sessions_of([person.user_id]))
    if rows:
        raise AssertionError(
            f"expected nobody to be let in as {person.name}; sessions recorded: "
            + ", ".join(f"{row.get('id')} ({row.get('status')})" for row in rows)
        )


# -- a sign-in that runs out ----------------------------------------------------------


def expect_sign_in_ran_out(person: Person) -> None:
    """Wait (bounded) until the person's connection ends because the sign-in ran out: an
    `error` token_expired, then close code 4401."""
    client = person.session
    what = f"{person.name}'s connection to end because her sign-in ran out"
    person.cast.run(
        client.log.eventually(lambda log: log.closed, what=what, timeout=person.cast.timeout),
        what,
    )
    code = client.log.close_code
    told = [error.code for error in client.log.errors()]
    if "token_expired" not in told or code != TOKEN_EXPIRED_CLOSE:
        raise AssertionError(
            f"expected {what} (told token_expired, close code {TOKEN_EXPIRED_CLOSE}); "
            f"arrived: {client.log.summary()}"
        )


def expect_conversation_found_again(person: Person, answer: str) -> None:
    """Connect with the person's own (fresh) sign-in, reopen the current conversation and
    find its answer there."""
    if person.thread_id is None:
        raise AssertionError(f"{person.name} has no conversation to find again")
    person.connects()
    person.resumes(person.thread_id, 0)
    assert_that(person.events_after_resuming(), ended("completed", response=equal_to(answer)))


# -- garbage --------------------------------------------------------------------------


def _nested(depth: int, opening: str, closing: str, inner: str = "") -> str:
    return opening * depth + inner + closing * depth


# A burst of garbage, each piece answered with an error on a connection that stays open.
GARBAGE: dict[str, str | bytes] = {
    "random bytes in a binary frame": bytes(range(256)) * 4,
    "a valid question in a binary frame": json.dumps(
        {"type": "user_message", "content": "What is 1 + 1?"}).encode(),
    "nothing at all": "",
    "plain text": "hello?",
    "a bare number": "42",
    "null": "null",
    "a list": json.dumps(["user_message", "What is 1 + 1?"]),
    "arrays nested 100 000 deep": _nested(100_000, "[", "]"),
    "objects nested 50 000 deep": _nested(50_000, '{"a":', "}", "1"),
    "a number with 5 000 digits": '{"type": "resume", "thread_id": "t", "after_seq": '
    + "9" * 5000 + "}",
    "a number beyond any counter": json.dumps(
        {"type": "resume", "thread_id": "t", "after_seq": 10**30}),
    "a number that is not a number": '{"type": "resume", "thread_id": "t", "after_seq": NaN}',
    "raw control characters": '{"type": "user_message", "content": "\x00\x01\x1b[2J\x7f"}',
    "a NUL character in a question": json.dumps({"type": "user_message", "content": "a\x00b"}),
    "half of a character pair": '{"type": "user_message", "content": "\\ud800"}',
    "a kind of message 100 000 characters long": json.dumps({"type": "x" * 100_000}),
    "a kind of message that is a number": json.dumps({"type": 7}),
    "a question that is a list": json.dumps({"type": "user_message", "content": ["hi"]}),
    "a conversation id that is an object": json.dumps(
        {"type": "user_message", "content": "hi", "thread_id": {"$ne": None}}),
    "a conversation id 10 000 characters long": json.dumps(
        {"type": "user_message", "content": "hi", "thread_id": "t" * 10_000}),
    "a made-up conversation": json.dumps(
        {"type": "user_message", "content": "hi", "thread_id": "thr_' OR '1'='1"}),
    "a resume that counts backwards": json.dumps(
        {"type": "resume", "thread_id": "t", "after_seq": -1}),
    "a resume that counts in words": json.dumps(
        {"type": "resume", "thread_id": "t", "after_seq": "ten"}),
}

# Text frames whose bytes are not UTF-8: the WebSocket library closes with 1007.
BROKEN_TEXT = b'{"type": "user_message", "content": "\xc3\x28 \xff\xfe"}'


class HostileApp:
    """A real connection that can send any frame, text or binary, valid or not; `client`
    reads the same socket as any `ChatClient` does."""

    def __init__(self, connection: ClientConnection, client: ChatClient) -> None:
        self.connection = connection
        self.client = client

    @classmethod
    async def open(cls, url: str, token: str, *, timeout: float) -> HostileApp:
        """Connect with a bearer header and wait for the greeting."""
        try:
            connection = await connect(
                url, additional_headers={"Authorization": f"Bearer {token}"},
                open_timeout=timeout, max_size=MAX_FRAME_BYTES, proxy=None,
            )
        except InvalidStatus as refused:
            raise AssertionError(f"the misbehaving app was turned away: {refused}") from None
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise AssertionError(f"could not reach the chat gateway at {url}: {exc}") from None
        client = ChatClient(connection, EventLog(), timeout)
        hello = await client.log.expect(
            lambda r: r.type == "connection_established",
            what="the greeting that confirms the connection (connection_established)",
            timeout=timeout,
        )
        client.connection_id = hello.frame.get("connection_id")
        client.user_id = hello.frame.get("user_id")
        return cls(connection, client)

    async def send(self, frame: str | bytes) -> None:
        """Send a frame as is: `str` as a text frame, `bytes` as a binary frame."""
        await self.connection.send(frame)

    async def send_broken_text(self, data: bytes = BROKEN_TEXT) -> None:
        """Send bytes that are not UTF-8 in a frame marked as text."""
        await self.connection.send(data, text=True)


def app_of(person: Person) -> HostileApp:
    """Open a misbehaving app for the person with their own sign-in; its connection becomes
    the person's current session."""
    cast = person.cast
    app = cast.run(
        HostileApp.open(cast.stack.gateway_url, str(person.sign_in.token), timeout=cast.timeout),
        f"{person.name}'s app to connect",
    )
    person.sessions.append(app.client)
    person.last_attempt = app.client
    return app


@dataclass
class GarbageSent:
    """What a misbehaving app sent, and where its log stood before."""

    person: Person
    app: HostileApp
    mark: int
    pieces: list[str]


def send_garbage(person: Person) -> GarbageSent:
    """Open the person's misbehaving app and send every piece of `GARBAGE`, in order."""
    app = app_of(person)
    mark = app.client.log.mark()

    async def burst() -> None:
        for frame in GARBAGE.values():
            await app.send(frame)

    person.cast.run(burst(), f"{person.name}'s app to send its garbage")
    return GarbageSent(person, app, mark, list(GARBAGE))


def expect_told_about_each_piece(sent: GarbageSent) -> None:
    """One error per piece of garbage, each with a code of the contract, no run started,
    and the connection still open."""
    log = sent.app.client.log
    wanted = len(sent.pieces)
    what = f"{sent.person.name} to be told about each of {wanted} pieces of garbage"
    sent.person.cast.run(
        log.eventually(lambda lg: len(lg.errors(start=sent.mark)) >= wanted, what=what,
                       timeout=sent.person.cast.timeout),
        what,
    )
    codes = [error.code for error in log.errors(start=sent.mark)]
    unexpected = [
        f"{piece}: {code}" for piece, code in zip(sent.pieces, codes, strict=False)
        if code not in FRAME_ERRORS
    ]
    started = log.events(start=sent.mark)
    if len(codes) != wanted or unexpected or started or log.closed:
        raise AssertionError(
            f"expected {what}, with codes of the contract, nothing started and the "
            f"connection open; unexpected: {unexpected or 'none'}; arrived: "
            f"{log.summary(start=sent.mark)}"
        )


def send_broken_text(person: Person) -> HostileApp:
    """Open the person's misbehaving app and send text that is not valid characters."""
    app = app_of(person)
    person.cast.run(app.send_broken_text(), f"{person.name}'s app to send broken text")
    return app


def expect_closed_with(person: Person, app: HostileApp, code: int, why: str) -> None:
    """The app's connection was closed by the gateway with `code`."""
    what = f"{person.name}'s app to be disconnected because {why} (close code {code})"
    log = app.client.log
    person.cast.run(log.eventually(lambda lg: lg.closed, what=what, timeout=person.cast.timeout),
                    what)
    if log.close_code != code:
        raise AssertionError(f"expected {what}; arrived: {app.client.log.summary()}")


def expect_other_sessions_unharmed(person: Person) -> None:
    """The person's connections opened before the app misbehaved are still open."""
    closed = [c.connection_id for c in person.sessions[:-1] if not c.is_open]
    if closed:
        raise AssertionError(f"{person.name}'s other connections were closed too: {closed}")


# -- generated hostile frames (for property-based tests) -------------------------------

FRAME_KINDS = (
    "binary", "binary_json", "text", "json_value", "user_message", "resume", "deep",
    "huge_number", "raw_control", "wrong_type",
)
_FIELDS = ("type", "content", "thread_id", "message_id", "after_seq", "payload", "__proto__")
_EDGE_STRINGS = (
    "", " ", "\x00", "\ud800", "\udfff\ud800", "\u202e", "\ufeff", "\u200b", "🙂", "中文",
    "null", "None", "user_message", "resume", "thr_", "' OR 1=1 --", "${jndi:x}", "%s%n",
    "../../etc/passwd", "<script>", "\\", '"', "\r\n", "\x1b[2J",
)
_EDGE_NUMBERS: tuple[int | float, ...] = (
    0, -1, 1, 2**31 - 1, 2**31, 2**53 + 1, 2**63, -(2**63) - 1, 10**30, 1e308, -0.0, 0.5,
    float("inf"), float("-inf"), float("nan"),
)
_ALPHABETS = (
    "abcXYZ019 ?", "".join(chr(c) for c in range(32)) + "\x7f", "éß中文🙂\u202e\u200b\ufeff",
    "\ud800\udbff\udc00\udfff", "{}[]\":,\\",
)


def random_text(rng: random.Random, size: int, *, surrogates: bool = True) -> str:
    """Text from mixed alphabets: control characters, non-ASCII, unpaired surrogates."""
    alphabets = _ALPHABETS if surrogates else tuple(a for a in _ALPHABETS if "\ud800" not in a)
    return "".join(rng.choice(rng.choice(alphabets)) for _ in range(size))


def random_json(rng: random.Random, depth: int = 0) -> Any:
    """Any JSON value (NaN and infinities included, as Python's parser reads them)."""
    choice = rng.randrange(10 if depth < 3 else 6)
    if choice == 0:
        return None
    if choice == 1:
        return rng.random() < 0.5
    if choice == 2:
        return rng.choice(_EDGE_NUMBERS + (rng.randint(-(10**20), 10**20),))
    if choice == 3:
        return random_text(rng, rng.randrange(12))
    if choice in (4, 5):
        return rng.choice(_EDGE_STRINGS)
    if choice in (6, 7):
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = [rng.choice(_FIELDS + (random_text(rng, 4),)) for _ in range(rng.randrange(4))]
    return {key: random_json(rng, depth + 1) for key in keys}


def random_frame(rng: random.Random, kind: str, thread_ids: tuple[str, ...] = ()) -> str | bytes:
    """A hostile frame of `kind` (one of FRAME_KINDS); `thread_ids` are real conversations
    worth aiming at (the sender's own, someone else's)."""
    def thread() -> Any:
        if thread_ids and rng.random() < 0.5:
            return rng.choice(thread_ids)
        return random_json(rng, 2)

    if kind == "binary":
        return rng.randbytes(rng.randrange(200))
    if kind == "binary_json":
        return json.dumps({"type": "user_message", "content": random_text(rng, 8)}).encode()
    if kind == "text":
        return random_text(rng, rng.randrange(60), surrogates=False)
    if kind == "json_value":
        return json.dumps(random_json(rng))
    if kind == "user_message":
        frame: dict[str, Any] = {"type": "user_message"}
        for name in ("content", "thread_id", "message_id"):
            if rng.random() < 0.8:
                frame[name] = thread() if name == "thread_id" else random_json(rng, 2)
        return json.dumps(frame)
    if kind == "resume":
        frame = {"type": "resume", "thread_id": thread()}
        if rng.random() < 0.9:
            frame["after_seq"] = rng.choice((random_json(rng, 2), rng.choice(_EDGE_NUMBERS),
                                             10 ** rng.randrange(40)))
        return json.dumps(frame)
    if kind == "deep":
        depth = rng.choice((10, 1000, 5000, 50_000, 150_000))  # each under 1 MiB
        return rng.choice((_nested(depth, "[", "]"), _nested(depth, '{"a":', "}", "0"),
                           '{"type": "user_message", "content": ' + _nested(depth, "[", "]")
                           + "}", _nested(depth, "[", "")))
    if kind == "huge_number":
        digits = "9" * rng.choice((20, 400, 4300, 4301, 20_000))
        return rng.choice((digits, f'{{"type": "resume", "thread_id": "t", "after_seq": {digits}}}',
                           f'{{"type": "user_message", "content": "x", "message_id": {digits}}}',
                           f"1e{digits}", f"-{digits}.{digits}"))
    if kind == "raw_control":
        raw = random_text(rng, 10, surrogates=False)
        return '{"type": "user_message", "content": "' + raw + '"}'
    return json.dumps({"type": random_json(rng, 2), "content": "What is 1 + 1?"})


def expect_earlier_connection_answers(person: Person, text: str, answer: str) -> None:
    """The person's first connection (opened before the app misbehaved) still answers."""
    expect_other_sessions_unharmed(person)
    client = person.sessions[0]

    async def ask() -> Any:
        sent = await client.send_message(text)
        return await client.run_of(sent)

    run = person.cast.run(ask(), f"{person.name}'s other connection to answer {text!r}")
    assert_that(run.events, ended("completed", response=equal_to(answer)))
