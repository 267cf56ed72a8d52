"""The fake QuantConnect API over real HTTP, and an in-process transport for unit tests.

The LEAN CLI with ``QC_API=local`` talks to ``http://localhost:5612/api/v2/``; only one process
on the machine can listen there, so :func:`fixed_port_lock` serialises test sessions that need
that port (several people may run the suite on one machine at once).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.fake_qc_api.protocol import FakeQuantConnect

if TYPE_CHECKING:
    from utils.qc_api import HttpRequest, HttpResponse, Transport

LEAN_CLI_PORT = 5612


class FakeServer:
    """Serve a :class:`FakeQuantConnect` on plain HTTP in a background thread.

    Args:
        fake: The service to serve.
        host: Interface to listen on.
        port: 5612 for the LEAN CLI (``QC_API=local``); 0 for any free port.
    """

    def __init__(self, fake: FakeQuantConnect, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fake = fake  # replace it to start a test from a fresh service state
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        """Return the port listened on."""
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """Return the API base URL (ends with ``/api/v2/``)."""
        return f"http://127.0.0.1:{self.port}/api/v2/"

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler_for(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = dict(self.headers.items())
            status, payload = server.fake.handle(method, self.path, headers, body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Stay quiet: tests read the recorded requests instead."""

    return Handler


def in_process_transport(fake: FakeQuantConnect) -> Transport:
    """Return a transport for :class:`utils.qc_api.QuantConnectAPI` that calls ``fake`` directly.

    The request goes through the same protocol code as over HTTP (auth, parameters, errors),
    without a socket, so unit tests can use it.
    """
    from urllib.parse import urlsplit

    from utils.qc_api import HttpResponse

    def transport(request: HttpRequest) -> HttpResponse:
        parts = urlsplit(request.url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        status, body = fake.handle(request.method, path, dict(request.headers), request.body)
        return HttpResponse(status=status, body=body)

    return transport


@contextlib.contextmanager
def fixed_port_lock(timeout: float = 100.0) -> Iterator[None]:
    """Hold a machine-wide lock on the LEAN CLI's port while a test session uses it.

    Raises:
        TimeoutError: Another session held the port for longer than ``timeout`` seconds.
    """
    path = Path(tempfile.gettempdir()) / f"fake-qc-api-{LEAN_CLI_PORT}.lock"
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o666)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    msg = f"port {LEAN_CLI_PORT} stayed busy for {timeout:g} s ({path})"
                    raise TimeoutError(msg) from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)  # closing releases the lock
