"""The gateway's cost per connection: compression stays on, with the small windows that
keep an idle connection cheap, and a conversation over it still works."""

from __future__ import annotations

import asyncio

from conftest import running_service, wire_client

from chat.app import DEFLATE_WINDOW_BITS
from chat.config import Settings


def test_compression_is_negotiated_with_small_windows(settings: Settings) -> None:
    async def scenario() -> None:
        async with running_service(settings) as service, wire_client(service, "alice") as client:
            offered = client.connection.response.headers["Sec-WebSocket-Extensions"]
            assert "permessage-deflate" in offered
            assert f"server_max_window_bits={DEFLATE_WINDOW_BITS}" in offered
            assert f"client_max_window_bits={DEFLATE_WINDOW_BITS}" in offered
            await client.ask("What is 6 * 7?")
            frames = await client.until_completed()
            assert frames[-1]["payload"]["response"] == "6 * 7 = 42"

    asyncio.run(scenario())
