"""The embedded cache: one fakeredis server for the run, shared by the in-process service,
the cache probe and, through fakeredis's own TCP server on loopback, any gateway process
the suite starts itself, so that everything the run starts uses the same cache (DESIGN §4).
The TCP front starts when first asked for and stops with the stack.
"""

from __future__ import annotations

import asyncio
import threading

import fakeredis

from support.probes import CacheProbe

__all__ = ["EmbeddedCache"]

HOST = "127.0.0.1"


class EmbeddedCache:
    """A fakeredis server, its probe, the service's client and, on demand, its TCP front."""

    def __init__(self) -> None:
        self.server = fakeredis.FakeServer()
        self.probe = CacheProbe(
            fakeredis.FakeAsyncRedis(server=self.server, decode_responses=True), "fakeredis")
        self.service_client = fakeredis.FakeAsyncRedis(server=self.server)
        self._tcp: fakeredis.TcpFakeServer | None = None

    def url(self) -> str:
        """`redis://` on loopback for processes of the suite's own: the same server."""
        if self._tcp is None:
            tcp = fakeredis.TcpFakeServer((HOST, 0))
            tcp.fake_server = self.server
            tcp.daemon_threads, tcp.block_on_close = True, False
            threading.Thread(target=tcp.serve_forever, name="fakeredis over TCP",
                             daemon=True).start()
            self._tcp = tcp
        host, port = self._tcp.server_address[:2]
        return f"redis://{host!s}:{port}/0"

    async def close(self) -> None:
        """Stop the TCP front (if started) and close the service's client; the probe is
        closed with the other probes."""
        if self._tcp is not None:
            await asyncio.to_thread(self._stop_tcp)
        await self.service_client.aclose()

    def _stop_tcp(self) -> None:
        assert self._tcp is not None
        self._tcp.shutdown()
        self._tcp.server_close()
        self._tcp = None
