"""A real HTTP receiver on loopback for webhook tests: records every request, answers scripted codes, and can
stall (hold requests unanswered until released)."""

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    script: list[int] = field(default_factory=list)  # status codes to answer, in order; then 200
    stall: int = 0  # how many of the next requests to record but leave unanswered until release()
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        """Answer the stalled requests (and stall no more)."""
        self.stall = 0
        self.released.set()

    async def wait_for(self, count: int, timeout_s: float = 20) -> list[Received]:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(self.requests) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"expected {count} webhook requests, got {len(self.requests)}")
            await asyncio.sleep(0.02)
        return self.requests


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def serving(app) -> AsyncIterator[str]:
    """Serve an ASGI app (already started: no lifespan) with uvicorn on a free loopback port; yields its base URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def running_receiver():
    port = _free_port()
    receiver = Receiver(url=f"http://127.0.0.1:{port}/hook")

    async def hook(request: Request) -> PlainTextResponse:
        receiver.requests.append(Received({k.lower(): v for k, v in request.headers.items()}, await request.body()))
        if receiver.stall > 0:
            receiver.stall -= 1
            await receiver.released.wait()
        code = receiver.script.pop(0) if receiver.script else 200
        return PlainTextResponse(f"answer {code}", status_code=code)

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    try:
        yield receiver
    finally:
        receiver.release()  # a stalled request would keep the server from shutting down
        server.should_exit = True
        await task
