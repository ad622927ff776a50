"""A TCP proxy on loopback that delays every byte by a fixed time in each direction.

It stands in for a far-away load balancer: a client connected to the proxy sees each of its
bytes reach the target ``delay`` later, and each of the target's bytes come back ``delay``
later, in order (a round trip over the proxy costs 2 x delay more than without it). Half
closes (EOF) travel with the same delay; a reset on one side resets the other.

What it does not delay: the TCP handshake between the client and the proxy, which the
kernel completes before the proxy sees the connection. A probe over the proxy therefore
costs one round trip less than over a real link with the same latency; that applies to the
suite and to a curl loop alike.

Bounded: at most ``max_connections`` at once (more are closed at once), a connection idle
for ``idle_timeout`` in both directions is closed, and the whole proxy stops by itself after
``lifetime`` seconds. Loopback only: it listens on 127.0.0.1 and refuses any target that is
not a loopback address.

Use it from Python::

    with LatencyProxy(target_port=8443, delay=0.05) as proxy:
        ...  # connect to 127.0.0.1:proxy.port

or run it: ``python bench/latency_proxy.py 127.0.0.1:8443 --delay-ms 50`` (prints the port,
stops on Ctrl-C, SIGTERM or after --lifetime seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import signal
import socket
import struct
import sys
import threading
from types import TracebackType
from typing import Self

LOOPBACK = "127.0.0.1"
_CHUNK = 65536
_QUEUE_CHUNKS = 1024  # per direction: at most 64 MiB in flight, far above what probes send


def check_loopback(host: str) -> str:
    """``host`` if it is a loopback address (or ``localhost``), else ValueError."""
    if host == "localhost":
        return LOOPBACK
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{host!r}: the proxy only forwards to a loopback address") from None
    if not address.is_loopback:
        raise ValueError(f"{host}: the proxy only forwards to a loopback address")
    return host


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (SO_LINGER 0), the way the far side ended."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class LatencyProxy:
    """Forward 127.0.0.1:``port`` to ``target_host``:``target_port``, ``delay`` s each way."""

    def __init__(
        self,
        target_port: int,
        target_host: str = LOOPBACK,
        *,
        delay: float = 0.050,
        listen_port: int = 0,
        max_connections: int = 512,
        idle_timeout: float = 30.0,
        lifetime: float = 900.0,
    ) -> None:
        if not 0 <= delay <= 10:
            raise ValueError(f"delay {delay}: must be between 0 and 10 seconds")
        self.target = (check_loopback(target_host), target_port)
        self.delay = delay
        self.listen_port = listen_port
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.lifetime = lifetime
        self.connections_total = 0
        self._active = 0
        self._connections: set[asyncio.Task[None]] = set()
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the proxy is not started")
        return self._port

    # --- the proxy itself (runs in its event loop)

    async def serve(self, ready: threading.Event | None = None) -> None:
        """Accept and forward until stop() or ``lifetime`` seconds have passed."""
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._handle, LOOPBACK, self.listen_port)
        self._port = server.sockets[0].getsockname()[1]
        if ready is not None:
            ready.set()
        async with server:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.lifetime)
            server.close()
            # Connections still open (a side that half-closed, waiting for the other) end now.
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._active >= self.max_connections:
            writer.transport.abort()
            return
        self._active += 1
        self.connections_total += 1
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            await self._forward(reader, writer)
        except asyncio.CancelledError:
            writer.transport.abort()  # the proxy is stopping
        finally:
            self._active -= 1
            if task is not None:
                self._connections.discard(task)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(*self.target), self.idle_timeout
            )
        except (OSError, TimeoutError):
            _reset(writer)
            return
        idle = asyncio.Event()
        pipes = [
            asyncio.create_task(self._pipe(reader, up_writer, idle)),
            asyncio.create_task(self._pipe(up_reader, writer, idle)),
        ]
        try:
            await self._watch(pipes, idle)
        finally:
            for task in pipes:
                task.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            for end in (up_writer, writer):
                end.close()

    async def _watch(self, pipes: list[asyncio.Task[None]], activity: asyncio.Event) -> None:
        """Wait for both directions to end; give up on a connection idle too long."""
        pending = set(pipes)
        while pending:
            activity.clear()
            waiter = asyncio.create_task(activity.wait())
            done, _ = await asyncio.wait(
                pending | {waiter}, timeout=self.idle_timeout, return_when=asyncio.FIRST_COMPLETED
            )
            waiter.cancel()
            if not done:
                return  # idle in both directions
            pending -= done

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, activity: asyncio.Event
    ) -> None:
        """Copy reader to writer, each chunk written ``delay`` after it arrived, in order."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue(_QUEUE_CHUNKS)

        async def pump() -> None:
            while True:
                try:
                    data: bytes | None = await reader.read(_CHUNK)
                except OSError:
                    data = None  # reset by that side
                await queue.put((loop.time() + self.delay, data))
                activity.set()
                if not data:
                    return

        pumping = asyncio.create_task(pump())
        try:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                activity.set()
                if data is None:
                    _reset(writer)
                    return
                if not data:
                    if writer.can_write_eof() and not writer.transport.is_closing():
                        with contextlib.suppress(OSError):
                            writer.write_eof()
                    return
                writer.write(data)
                try:
                    await writer.drain()
                except OSError:
                    return
        finally:
            pumping.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await pumping

    def stop_soon(self) -> None:
        """Stop serving; call it from the proxy's own event loop (a signal handler, say)."""
        if self._stopping is not None:
            self._stopping.set()

    # --- running it in a background thread

    def start(self, timeout: float = 10.0) -> Self:
        if self._thread is not None:
            raise RuntimeError("the proxy is already started")
        self._thread = threading.Thread(target=self._run, name="latency-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"the proxy did not start within {timeout} s")
        if self._error is not None:
            raise RuntimeError(f"the proxy failed to start: {self._error!r}") from self._error
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self.serve(self._ready))
        except BaseException as error:  # reported by start() or stop()
            self._error = error
        finally:
            self._ready.set()

    def stop(self, timeout: float = 10.0) -> None:
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop ended meanwhile
                loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", help="loopback HOST:PORT to forward to, e.g. 127.0.0.1:8443")
    parser.add_argument("--delay-ms", type=float, default=50.0, help="one-way delay (50)")
    parser.add_argument("--listen-port", type=int, default=0, help="port to listen on (any)")
    parser.add_argument(
        "--lifetime", type=float, default=900.0, help="stop after this many seconds (900)"
    )
    args = parser.parse_args(argv)
    host, _, port = args.target.rpartition(":")
    try:
        proxy = LatencyProxy(
            int(port),
            host.strip("[]") or LOOPBACK,
            delay=args.delay_ms / 1000,
            listen_port=args.listen_port,
            lifetime=args.lifetime,
        )
    except ValueError as error:
        parser.error(str(error))

    async def run() -> None:
        loop = asyncio.get_running_loop()
        ready = threading.Event()
        serving = asyncio.create_task(proxy.serve(ready))
        while not ready.is_set() and not serving.done():
            await asyncio.sleep(0.01)
        if serving.done():
            await serving  # raises what went wrong
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, proxy.stop_soon)
        print(
            f"127.0.0.1:{proxy.port} -> {proxy.target[0]}:{proxy.target[1]}, "
            f"{args.delay_ms:g} ms each way (stops after {args.lifetime:g} s)",
            flush=True,
        )
        await serving

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
