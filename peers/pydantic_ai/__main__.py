"""`python -m peers.pydantic_ai --host H --port P`: the peer agent at `POST /agui`.

A Starlette app: the sign-in check first (401 with the §5 body), then pydantic-ai's own
`AGUIAdapter.dispatch_request`, which validates the `RunAgentInput` and streams the run
as AG-UI events. Served by uvicorn. `GET /healthz` answers 200.
"""

from __future__ import annotations

import argparse
import socket

import uvicorn
from pydantic_ai.ui.ag_ui import AGUIAdapter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from peers.pydantic_ai.agent import build_agent
from peers.pydantic_ai.signin import SignInCheck, SignInRefused

PATH = "/agui"
READY = "pydantic-ai peer at"


def build_app(check: SignInCheck) -> Starlette:
    agent = build_agent()

    async def run(request: Request) -> Response:
        try:
            check.user_of(request.headers.get("authorization"))
        except SignInRefused as refused:
            return JSONResponse({"error": "invalid_token", "reason": refused.reason}, 401)
        return await AGUIAdapter.dispatch_request(request, agent=agent)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route(PATH, run, methods=["POST"]),
                             Route("/healthz", health, methods=["GET"])])


class _Announcing(uvicorn.Server):
    """Says where the peer listens once it does (port 0: the port the system chose), so
    whoever started it can wait for that line (`support.processes.ServerProcess`)."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        host, port = self.servers[0].sockets[0].getsockname()[:2]
        print(f"{READY} http://{host}:{port}{PATH}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m peers.pydantic_ai", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766, help="0: a free port")
    options = parser.parse_args()
    app = build_app(SignInCheck.from_environment())
    config = uvicorn.Config(app, host=options.host, port=options.port, log_level="warning")
    _Announcing(config).run()


if __name__ == "__main__":
    main()
