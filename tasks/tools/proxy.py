"""A TCP proxy on loopback that adds a delay each way (another host in the same zone: the kernel
here has no netem) and can cut the network (a server down, a failover, a partition): what the
scale-out bench and the outage tests put between workers and Redis or Postgres."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

from accounting.embedded import free_port

CHUNK = 64 * 1024


#: Where a proxy forwards to: ``(host, port)``, or the path of a Unix socket.
Target = tuple[str, int] | str


class TcpProxy:
    """``127.0.0.1:port`` forwards to ``target``; each chunk is held ``delay`` seconds in each
    direction (pipelined: the delay adds latency, not a throughput cap)."""

    def __init__(self, target: Target, *, delay: float = 0.0) -> None:
        self.target = target
        self.delay = delay
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="proxy", daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._cut = False
        self.connections = 0

    def start(self) -> TcpProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def cut(self) -> None:
        """Refuse new connections and drop the open ones, as a server that died does."""
        self._cut = True
        asyncio.run_coroutine_threadsafe(self._drop_all(), self._loop).result(timeout=10)

    def heal(self) -> None:
        self._cut = False

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._drop_all()

    async def _drop_all(self) -> None:
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self._cut:
            client_w.close()
            return
        try:
            if isinstance(self.target, str):
                server_r, server_w = await asyncio.open_unix_connection(self.target)
            else:
                server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.close()
            return
        self.connections += 1
        self._writers |= {client_w, server_w}
        await asyncio.gather(
            self._pipe(client_r, server_w), self._pipe(server_r, client_w), return_exceptions=True
        )
        for writer in (client_w, server_w):
            self._writers.discard(writer)
            writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        try:
            while chunk := await reader.read(CHUNK):
                if self.delay:
                    loop.call_at(loop.time() + self.delay, _write, writer, chunk)
                else:
                    writer.write(chunk)
                    await writer.drain()
        finally:
            if self.delay:
                await asyncio.sleep(self.delay)  # what is still held goes out first
            with contextlib.suppress(Exception):
                writer.close()


def _write(writer: asyncio.StreamWriter, chunk: bytes) -> None:
    if not writer.is_closing():
        writer.write(chunk)


@contextlib.contextmanager
def proxy(target: Target, *, delay: float = 0.0) -> Iterator[TcpProxy]:
    running = TcpProxy(target, delay=delay).start()
    try:
        yield running
    finally:
        running.stop()


def postgres_target(url: str) -> Target:
    """Where the Postgres of a SQLAlchemy URL listens (its Unix socket when it names one)."""
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://", 1))
    socket_dir = parse_qs(parts.query).get("host", [None])[0]
    port = parts.port or 5432
    if socket_dir and socket_dir.startswith("/"):
        return f"{socket_dir}/.s.PGSQL.{port}"
    return (parts.hostname or "127.0.0.1", port)


def through(url: str, proxied: TcpProxy) -> str:
    """The same database URL, reached through ``proxied``."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    if parts.password:
        user = f"{parts.username}:{parts.password}@"
    return urlunsplit((parts.scheme, f"{user}127.0.0.1:{proxied.port}", parts.path, "", ""))
