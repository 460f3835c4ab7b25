"""A chat service of the suite's own, in its own process, that can be crashed (SIGKILL:
no clean-up, runs left `running`) and started again on the same port.

`own_chat_service` is the behave fixture of the tag `@fixture.own_chat_service`: it
starts `python -m chat serve` on what the stack actually runs (its database, and its
Redis only when that is a real server: a fakeredis the stack fell back to lives in the
suite's process, so the gateway then keeps its own), registers its own clean-up, and
remembers it in the cast. With a gateway someone else runs it skips the scenario, saying
why. The gateway is reached over the network only; nothing of `chat` is imported.
"""

from __future__ import annotations

from typing import Any

from support import loop
from support.actors.cast import Cast
from support.actors.person import Person
from support.actors.tasks.connecting import connects_to
from support.processes import (
    START_TIMEOUT_S,
    STOP_TIMEOUT_S,
    GatewaySettings,
    ServerProcess,
    gateway_process,
)

__all__ = [
    "crashes_and_restarts",
    "expect_own_chat_service",
    "is_stopped",
    "own_chat_service",
    "signs_in_to_own_service",
]

OWN_SERVICE = "own chat service"


def own_chat_service(context: Any) -> ServerProcess | None:
    """Start a gateway process for the scenario, stopped by the scenario's clean-up."""
    stack = context.stack
    if stack.config.external_gateway:
        context.scenario.skip(
            "the suite talks to a gateway it did not start (gateway_url), so it cannot crash "
            "and restart it; run without gateway_url to include this scenario")
        return None
    config = stack.config
    gateway = gateway_process(GatewaySettings(
        config.jwt_secret, config.jwt_issuer, config.jwt_audience,
        stack.database_url, stack.redis_url, config.jwt_leeway))
    cast: Cast = context.cast
    _start(gateway, "a chat service of the suite's own to start")
    context.add_cleanup(_stop, gateway)
    return cast.remember(OWN_SERVICE, gateway)


def _start(gateway: ServerProcess, what: str) -> None:
    loop.run(gateway.start(), timeout=START_TIMEOUT_S + 5, what=what)


def _stop(gateway: ServerProcess) -> None:
    loop.run(gateway.stop(), timeout=STOP_TIMEOUT_S * 2, what="the suite's chat service to stop")
    gateway.remove_log()


def _own(cast: Cast) -> ServerProcess:
    gateway: ServerProcess | None = cast.recall(OWN_SERVICE, None)
    if gateway is None:
        raise AssertionError("this scenario has no chat service of the suite's own "
                             "(tag it @fixture.own_chat_service)")
    return gateway


def expect_own_chat_service(cast: Cast) -> None:
    """The scenario has a chat service of the suite's own, running."""
    _own(cast).alive()


def signs_in_to_own_service(person: Person, cast: Cast) -> None:
    """Connect with the person's sign-in to the scenario's own chat service."""
    connects_to(person, str(_own(cast).url))


def is_stopped(cast: Cast) -> None:
    """Stop the scenario's own chat service the clean way (SIGTERM), as a deployment does."""
    loop.run(_own(cast).stop(), timeout=STOP_TIMEOUT_S * 2, what="the chat service to stop")


def crashes_and_restarts(cast: Cast) -> None:
    """SIGKILL the scenario's own chat service, then start it again on the same port."""
    gateway = _own(cast)
    loop.run(gateway.kill(), timeout=STOP_TIMEOUT_S * 2, what="the chat service to crash")
    _start(gateway, "the chat service to start again after crashing")
