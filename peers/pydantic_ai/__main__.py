"""`python -m peers.pydantic_ai --host H --port P`: the peer agent at `POST /agui`.

A Starlette app: the sign-in check first (401 with the §5 body), then pydantic-ai's own
`AGUIAdapter.dispatch_request`, which validates the `RunAgentInput` and streams the run
as AG-UI events. Served by uvicorn. `GET /healthz` answers 200.
"""

from __future__ import annotations

import argparse

import uvicorn
from pydantic_ai.ui.ag_ui import AGUIAdapter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from peers.pydantic_ai.agent import build_agent
from peers.pydantic_ai.signin import SignInCheck, SignInRefused

PATH = "/agui"


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


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m peers.pydantic_ai", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    options = parser.parse_args()
    app = build_app(SignInCheck.from_environment())
    print(f"pydantic-ai peer at http://{options.host}:{options.port}{PATH}", flush=True)
    uvicorn.run(app, host=options.host, port=options.port, log_level="warning")


if __name__ == "__main__":
    main()
