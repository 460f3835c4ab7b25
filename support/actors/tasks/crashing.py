"""A chat service of the suite's own, in its own process, that can be crashed (SIGKILL:
no clean-up, runs left `running`) and started again on the same port; another one beside
it, on the same storage, that takes over what a crashed one left; and the line between
them and their cache, a TCP relay the suite can cut and restore (`support.relay`).

`own_chat_service` is the behave fixture of the tag `@fixture.own_chat_service`: it
starts `python -m chat serve` on what the stack actually runs (its database, and its
Redis: a real server, or the stack's embedded fakeredis through its TCP front),
registers its own clean-up, and remembers it in the cast; its Redis is reached through
the scenario's relay. With a gateway someone else
runs it skips the scenario, saying why. The gateways are reached over the network only;
nothing of `chat` is imported.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from support import loop
from support.actors.cast import Cast
from support.actors.person import Person
from support.actors.tasks.connecting import connects_to, ends_session, tries_url
from support.processes import (
    START_TIMEOUT_S,
    STOP_TIMEOUT_S,
    GatewaySettings,
    ServerProcess,
    gateway_process,
)
from support.relay import TcpRelay, through

__all__ = [
    "CONNECTIONS_WHERE",
    "another_starts_beside",
    "connection_where",
    "crashes_and_restarts",
    "crashes_for_good",
    "cuts_cache_line",
    "expect_own_chat_service",
    "is_stopped",
    "own_chat_service",
    "restores_cache_line",
    "signs_in_and_out_of_own_service",
    "signs_in_to_other_service",
    "signs_in_to_own_service",
    "takeover_s",
    "tries_own_service",
]

OWN_SERVICE = "own chat service"
NO_OWN_SERVICE = ("this scenario has no chat service of the suite's own "
                  "(tag it @fixture.own_chat_service)")
OTHER_SERVICE = "other chat service"
TAKEOVER = "takeover"
CACHE_LINE = "cache line"
OWN_CONNECTION = "connection to the own chat service"
OTHER_CONNECTION = "connection to the other chat service"
SIGNED_OUT = "connection closed to the own chat service"
# How the features name one of a person's connections -> (what she remembers, what is
# missing when she has none).
CONNECTIONS_WHERE: dict[str, tuple[str, str]] = {
    "on the crashed chat service": (OWN_CONNECTION, "to the suite's own chat service"),
    "on the other chat service": (OTHER_CONNECTION, "to the other chat service"),
    "she signed out of": (SIGNED_OUT, "she signed out of"),
}


def own_chat_service(context: Any) -> ServerProcess | None:
    """Start a gateway process for the scenario, stopped by the scenario's clean-up."""
    stack = context.stack
    if stack.config.external_gateway:
        context.scenario.skip(
            "the suite talks to a gateway it did not start (gateway_url), so it cannot crash "
            "and restart it; run without gateway_url to include this scenario")
        return None
    cast: Cast = context.cast
    cast.remember(TAKEOVER, stack.takeover_s)
    return cast.remember(OWN_SERVICE, _started(context, "a chat service of the suite's own"))


def _started(context: Any, what: str) -> ServerProcess:
    """A gateway process on the stack's storage and cache, stopped by the scenario's
    clean-up."""
    stack, config = context.stack, context.stack.config
    redis_url = str(stack.redis_url_for_processes())
    gateway = gateway_process(GatewaySettings(
        config.jwt_secret, config.jwt_issuer, config.jwt_audience,
        stack.database_url, through(redis_url, _cache_line(context, redis_url).port),
        config.jwt_leeway))
    _start(gateway, f"{what} to start")
    context.add_cleanup(_stop, gateway)
    return gateway


def _cache_line(context: Any, redis_url: str) -> TcpRelay:
    """The scenario's relay to the stack's Redis, started on first use, closed by its
    clean-up (after the gateways that use it)."""
    cast: Cast = context.cast
    relay: TcpRelay | None = cast.recall(CACHE_LINE, None)
    if relay is None:
        target = urlsplit(redis_url)
        relay = TcpRelay(str(target.hostname), int(target.port or 6379))
        loop.run(relay.start(), timeout=STOP_TIMEOUT_S, what="the line to the cache to open")
        context.add_cleanup(_close_line, relay)
        cast.remember(CACHE_LINE, relay)
    return relay


def _close_line(relay: TcpRelay) -> None:
    loop.run(relay.close(), timeout=STOP_TIMEOUT_S, what="the line to the cache to close")


def cuts_cache_line(cast: Cast) -> None:
    """Cut the line between the scenario's own chat services and their cache: every
    connection dropped, new ones refused, until it is restored."""
    _line(cast).cut()


def restores_cache_line(cast: Cast) -> None:
    _line(cast).restore()


def _line(cast: Cast) -> TcpRelay:
    relay: TcpRelay = _recalled(cast, CACHE_LINE, NO_OWN_SERVICE)
    return relay


def tries_own_service(person: Person, cast: Cast) -> None:
    """Attempt a connection to the scenario's own chat service; the outcome is remembered
    for the Then."""
    tries_url(person, str(_own(cast).url))


def _start(gateway: ServerProcess, what: str) -> None:
    loop.run(gateway.start(), timeout=START_TIMEOUT_S + 5, what=what)


def _stop(gateway: ServerProcess) -> None:
    loop.run(gateway.stop(), timeout=STOP_TIMEOUT_S * 2, what="the suite's chat service to stop")
    gateway.remove_log()


def _own(cast: Cast) -> ServerProcess:
    gateway: ServerProcess = _recalled(cast, OWN_SERVICE, NO_OWN_SERVICE)
    return gateway


def _recalled(memory: Cast | Person, key: str, missing: str) -> Any:
    """What the cast or a person remembers under `key`; AssertionError(`missing`) when
    nothing is."""
    value = memory.recall(key, None)
    if value is None:
        raise AssertionError(missing)
    return value


def expect_own_chat_service(cast: Cast) -> None:
    """The scenario has a chat service of the suite's own, running."""
    _own(cast).alive()


def signs_in_to_own_service(person: Person, cast: Cast) -> int:
    """Connect with the person's sign-in to the scenario's own chat service; which of her
    connections it is (remembered as her connection there)."""
    connects_to(person, str(_own(cast).url))
    return person.remember(OWN_CONNECTION, len(person.connections) - 1)


def signs_in_and_out_of_own_service(person: Person, cast: Cast) -> None:
    """Connect to the scenario's own chat service and close normally (the session ends);
    which connection it was is remembered."""
    index = signs_in_to_own_service(person, cast)
    ends_session(person, index)
    person.remember(SIGNED_OUT, index)


def connection_where(person: Person, where: str) -> int:
    """Which of the person's connections a feature means by `where` (a key of
    `CONNECTIONS_WHERE`: on the crashed service, on the other one, the one she left)."""
    key, missing = CONNECTIONS_WHERE[where]
    index: int = _recalled(person, key, f"{person.name} has no connection {missing}")
    return index


def is_stopped(cast: Cast) -> None:
    """Stop the scenario's own chat service the clean way (SIGTERM), as a deployment does."""
    loop.run(_own(cast).stop(), timeout=STOP_TIMEOUT_S * 2, what="the chat service to stop")


def another_starts_beside(context: Any) -> None:
    """Start a second chat service on the same storage and cache as the scenario's own."""
    _own(context.cast)
    context.cast.remember(OTHER_SERVICE, _started(context, "another chat service"))


def signs_in_to_other_service(person: Person, cast: Cast) -> None:
    """Connect with the person's sign-in to the chat service beside the scenario's own."""
    other: ServerProcess = _recalled(cast, OTHER_SERVICE,
                                     "this scenario has started no other chat service")
    connects_to(person, str(other.url))
    person.remember(OTHER_CONNECTION, len(person.connections) - 1)


def takeover_s(cast: Cast) -> float:
    """How long the reference service may take to notice that a gateway beside it died."""
    allowance: float = _recalled(cast, TAKEOVER, NO_OWN_SERVICE)
    return allowance


def crashes_for_good(cast: Cast) -> None:
    """SIGKILL the scenario's own chat service and leave it down."""
    loop.run(_own(cast).kill(), timeout=STOP_TIMEOUT_S * 2, what="the chat service to crash")


def crashes_and_restarts(cast: Cast) -> None:
    """SIGKILL the scenario's own chat service, then start it again on the same port."""
    crashes_for_good(cast)
    _start(_own(cast), "the chat service to start again after crashing")
