"""Whether a part of the stack answers, within a few seconds, and why not in a few words.

The stack checks every named service before it starts anything, so a run against a
service that is away stops at once with one line naming the URL and the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from urllib.parse import urlsplit

__all__ = ["REACH_TIMEOUT_S", "short_reason", "unreachable", "url_unreachable"]

REACH_TIMEOUT_S = 3.0


async def unreachable(check: Awaitable[None]) -> str | None:
    """None when `check` succeeds within REACH_TIMEOUT_S, else a short reason."""
    try:
        async with asyncio.timeout(REACH_TIMEOUT_S):
            await check
    except TimeoutError:
        return f"no answer within {REACH_TIMEOUT_S:g} s"
    except Exception as exc:  # noqa: BLE001 - any driver error means "cannot use it"
        return short_reason(exc)
    return None


async def url_unreachable(url: str) -> str | None:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    try:
        async with asyncio.timeout(REACH_TIMEOUT_S):
            _, writer = await asyncio.open_connection(parts.hostname, port)
    except TimeoutError:
        return f"no answer within {REACH_TIMEOUT_S:g} s"
    except OSError as exc:
        return short_reason(exc)
    writer.close()
    return None


def short_reason(exc: BaseException) -> str:
    """The most telling line of a connection error, e.g. "Connection refused"."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        if isinstance(seen, OSError) and "Connect call failed" in str(seen):
            return "connection refused"
        seen = seen.__cause__ or seen.__context__
    text = str(exc).strip()
    if "Connect call failed" in text or "Error 111" in text:
        return "connection refused"
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
