"""`python -m tools.bench.rawserver`: the baseline server in a process of its own.

The memory a gateway spends per idle connection is measured on a gateway process
(`python -m chat serve`); this is the same measurement's baseline, a bare `websockets`
server with no authentication, so the benchmark can say how much of the cost is the
WebSocket library's and how much the gateway's. It prints the line
`raw websockets server listening on ws://HOST:PORT/ws` and runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from tools.bench.wire import RawServer

READY_PREFIX = "raw websockets server listening on "


async def _serve(host: str, port: int) -> None:
    server = await RawServer.start(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"{READY_PREFIX}{server.url}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.rawserver",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
