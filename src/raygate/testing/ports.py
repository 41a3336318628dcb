"""A free TCP port on 127.0.0.1, an HTTP server on one in a thread, and a JSON answer for its
handlers: for local servers started by tests, benchmarks and the demo."""

from __future__ import annotations

import json
import random
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# Ports a local Ray takes by default (GCS, Serve HTTP and gRPC, dashboard, client, the
# dashboard agent's HTTP port): one of them handed out here made ray.init fail once.
RAY_DEFAULT_PORTS = frozenset({6379, 8000, 8265, 9000, 10001, 52365})
# Above Ray's default worker ports (10002-19999), below which nothing else is handed out.
_LOWEST_PORT = 20000
_handed_out: set[int] = set()
# Not the random module's shared generator: a test that seeds it would make every process
# that does the same pick the same ports.
_random = random.SystemRandom()


def free_port() -> int:
    """A port nothing listens on right now and nobody is handed next, never one Ray takes.

    It comes from outside the OS's ephemeral range when it can: a port the OS picked there
    (a bind to port 0) is free only until the OS hands it to the next bind to port 0 or to
    an outgoing connection, and ray.init makes many; a CI run's dashboard lost its port so.
    """
    low, high = _ephemeral_range()
    candidates = [p for p in range(_LOWEST_PORT, 65536) if not low <= p <= high]
    for _ in range(200):
        port = _random.choice(candidates) if candidates else _os_port()
        if port not in RAY_DEFAULT_PORTS and port not in _handed_out and _bindable(port):
            _handed_out.add(port)
            return port
    raise RuntimeError("no free TCP port on 127.0.0.1 after 200 tries")


def _ephemeral_range() -> tuple[int, int]:
    """The ports the OS picks from for port 0 (Linux's; IANA's range elsewhere)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 49152, 65535


def _os_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextmanager
def http_server(
    handler: type[BaseHTTPRequestHandler], tls: tuple[Path, Path] | None = None
) -> Iterator[str]:
    """Serve `handler` on 127.0.0.1 in a daemon thread (over https with `tls`, a certificate
    and its key); yields the base URL, stops after."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def send_json(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    """Answer the handler's request with `status` and `body` as JSON."""
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
