"""What anyone can find out about the chat service itself, without signing in."""

from __future__ import annotations

from support.actors.cast import Cast
from support.matchers import assert_that, equal_to

__all__ = ["expect_healthy"]


def expect_healthy(cast: Cast) -> None:
    """The service's health check answers 200 (DESIGN §5)."""
    target = cast.abilities.target
    status = cast.abilities.run(target.health(), f"the health check of {target.url}")
    assert_that(status, equal_to(200), f"the health check of the chat service at {target.url}")
