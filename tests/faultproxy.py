"""A TCP proxy the fault tests put between our processes and Postgres or Redis, to cut or stall the link.

The machine's Postgres and Redis are shared: the tests never stop them. Instead a worker (or an app) is pointed at a
proxy on a loopback port of its own, and the test cuts it (every open connection dropped, new ones refused — what
an outage or a restart looks like from the client) or stalls it (connections stay open, no byte moves — a hung
network), then restores it. The proxy runs its own event loop in a thread, so it keeps working while the test's
loop is busy, and the test's calls are plain synchronous ones.
"""

import asyncio
import contextlib
import socket
import threading
from urllib.parse import urlsplit, urlunsplit


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FaultProxy:
    """`FaultProxy("127.0.0.1", 5432).start()` listens on `127.0.0.1:<proxy.port>` and forwards to the target."""

    def __init__(self, target_host: str, target_port: int, port: int | None = None):
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self.connections_seen = 0
        self.cuts = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"faultproxy:{self.port}", daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing: asyncio.Event | None = None

    @classmethod
    def for_url(cls, url: str) -> "FaultProxy":
        """A proxy in front of the host and port a URL names (postgresql+asyncpg://…, redis://…)."""
        parts = urlsplit(url)
        default = 6379 if parts.scheme.startswith("redis") else 5432
        return cls(parts.hostname or "127.0.0.1", parts.port or default)

    def url(self, url: str) -> str:
        """The same URL pointed at this proxy."""
        parts = urlsplit(url)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@127.0.0.1:{self.port}" if userinfo else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def _call(self, coro, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def start(self) -> "FaultProxy":
        self._thread.start()
        self._call(self._init())
        self._call(self._listen())
        return self

    async def _init(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections_seen += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)
        for w in (writer, up_writer):
            self._writers.discard(w)
            w.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self._flowing.wait()  # a stall holds the bytes here
                if writer.is_closing():
                    return
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for w in list(self._writers):
            # An abort, not a polite close: the client sees a reset, as when the server's host goes away.
            w.transport.abort()
        self._writers.clear()

    def cut(self) -> None:
        """Drop every connection through the proxy and refuse new ones until `restore()`."""
        self.cuts += 1
        self._call(self._cut())

    def restore(self) -> None:
        """Accept connections again (after a cut) and let bytes flow (after a stall)."""
        self._call(self._restore())

    async def _restore(self) -> None:
        self._flowing.set()
        if self._server is None:
            await self._listen()

    def stall(self) -> None:
        """Keep every connection open but move no byte until `restore()`."""
        self._loop.call_soon_threadsafe(self._flowing.clear)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._call(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
