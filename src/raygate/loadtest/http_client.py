"""A small keep-alive HTTP/1.1 client on asyncio protocols and httptools' C parser.

Measured on the 2-core CI machine, aiohttp tops out near 3,900 requests/s per process
against a trivial endpoint; a load generator must outrun the server it tests, so raygate
parses responses with httptools (uvicorn's parser) instead. It records when every body
chunk arrives, which is what time-to-first-token and inter-token latency need.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httptools

from raygate.loadtest.tls import tls_context


@dataclass
class HttpResponse:
    """Status, lower-cased headers, the body, and (monotonic time, bytes) of each chunk."""

    status: int
    headers: dict[str, str]
    body: bytes
    chunks: list[tuple[float, bytes]] = field(default_factory=list)


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.answered = False  # whether any byte of the current request's response came
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[HttpResponse] | None = None
        self._reset()

    def _reset(self) -> None:
        self._headers: dict[str, str] = {}
        self._chunks: list[tuple[float, bytes]] = []

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.answered = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionError(f"malformed HTTP response: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(exc or ConnectionError("connection closed by the server"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._chunks.append((time.perf_counter(), body))

    def on_message_complete(self) -> None:
        response = HttpResponse(
            self._parser.get_status_code(),
            self._headers,
            b"".join(chunk for _, chunk in self._chunks),
            self._chunks,
        )
        if not self._parser.should_keep_alive():
            self.close()
        self._reset()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(response)

    # client side
    def send(self, payload: bytes) -> asyncio.Future[HttpResponse]:
        self._waiter = asyncio.get_running_loop().create_future()
        self.answered = False
        self.transport.write(payload)
        return self._waiter

    def _fail(self, exc: BaseException) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _expire(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class HttpClient:
    """Up to `connections` keep-alive connections to one origin; requests wait for a free one."""

    def __init__(self, base_url: str, connections: int, ca_pem: str | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an http(s):// URL, got {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self._ssl = tls_context(ca_pem) if parts.scheme == "https" else None
        self._authority = f"{self.host}:{self.port}".encode()
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(connections)

    def request_bytes(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
        """A complete request, built once and sent as is (no per-send formatting)."""
        lines = [f"{method} {self.prefix}{path} HTTP/1.1".encode(), b"Host: " + self._authority]
        lines += [f"{k}: {v}".encode("latin-1") for k, v in headers.items()]
        lines.append(f"Content-Length: {len(body)}".encode())
        return b"\r\n".join(lines) + b"\r\n\r\n" + body

    async def send(self, payload: bytes, timeout_s: float) -> HttpResponse:
        """Send a prepared request; raises TimeoutError or ConnectionError (the caller records).
        A kept-alive connection the server closed as it was reused (its idle timeout), before
        any byte of an answer, is no failure of the request: it goes once more on a new
        connection, as browsers and Go's and Python's usual clients do."""
        async with self._slots:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout_s
            connection = self._idle_connection()
            if connection is not None:
                try:
                    return await self._exchange(connection, payload, timeout_s)
                except ConnectionError:
                    if connection.answered:
                        raise
            connection = await self._new_connection()
            return await self._exchange(connection, payload, max(deadline - loop.time(), 0.0))

    async def _exchange(
        self, connection: _Connection, payload: bytes, timeout_s: float
    ) -> HttpResponse:
        waiter = connection.send(payload)
        # A timer that fails the future: far cheaper per request than asyncio.wait_for.
        timer = asyncio.get_running_loop().call_later(timeout_s, _expire, waiter)
        try:
            return await waiter
        except BaseException:
            connection.close()  # a half-read response cannot be reused
            raise
        finally:
            timer.cancel()
            if not connection.closed:
                self._idle.append(connection)

    def _idle_connection(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
        return None

    async def _new_connection(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(
            _Connection, self.host, self.port, ssl=self._ssl
        )
        return connection

    def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()
