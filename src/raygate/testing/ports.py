"""A free TCP port on 127.0.0.1, and an HTTP server on one in a thread, for local servers
started by tests, benchmarks and the demo."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Ports a local Ray takes by default (GCS, Serve HTTP and gRPC, dashboard, client, the
# dashboard agent's HTTP port): one of them handed out here made ray.init fail once.
RAY_DEFAULT_PORTS = frozenset({6379, 8000, 8265, 9000, 10001, 52365})


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it), never one Ray takes itself."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in RAY_DEFAULT_PORTS:
            return port


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on 127.0.0.1 in a daemon thread; yields the base URL, stops after."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
