"""The HTTP side of ``serve``: scrapes read the last published snapshot, never collect.

The console's event loop only *publishes* snapshots (a reference swap); HTTP runs in its own
threads, so a slow or stuck scraper holds a thread of its own and never the console. Output
is encoded by one background thread (in a child process, see
:mod:`aiconsole.exporter.worker`), at most once per snapshot and format, and scrapes are
served from the newest encoding, so several Prometheus servers scraping the same console pay
for one encoding and a scrape costs the time to send the bytes.

Content negotiation is prometheus_client's: ``Accept: application/openmetrics-text`` gets
OpenMetrics, anything else the classic text format; ``Accept-Encoding: gzip`` gets gzip.
"""

from __future__ import annotations

import contextlib
import gzip
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import msgspec
from prometheus_client.exposition import choose_encoder

from aiconsole.exporter.worker import EncoderProcess, EncoderUnavailable
from aiconsole.model import FleetSnapshot

KEEP_WARM_S = 120.0
"""After a scrape, keep encoding new snapshots this long (several scrape intervals)."""
CLIENT_TIMEOUT_S = 30.0
"""A scraper that stops reading for this long loses its connection (and frees its thread)."""


@dataclass
class Published:
    """The snapshot scrapes read; the console swaps it, HTTP threads only read it."""

    snapshot: FleetSnapshot | None = None
    version: int = 0
    changed: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, snapshot: FleetSnapshot) -> None:
        with self._lock:  # held for two assignments: readers see a matching pair
            self.snapshot = snapshot
            self.version += 1
        self.changed.set()

    def current(self) -> tuple[int, FleetSnapshot | None]:
        with self._lock:
            return self.version, self.snapshot


@dataclass
class _Body:
    version: int
    plain: bytes
    compressed: bytes | None = None


class Exposition:
    """Encodes the published snapshot through a private registry, off the scrape's path.

    A scrape is answered from the newest encoded body at once. While scrapes keep coming (one
    within :data:`KEEP_WARM_S`), the encoder thread encodes each new snapshot in every format
    asked for, so the next scrape finds it ready. Encoding a large
    fleet costs far more than serving bytes (prometheus_client spends microseconds per
    sample), so the encoder rests ``1 / max_share - 1`` times as long as it worked: it takes
    at most that share of one core, however often it is scraped, and none of the console's
    (the work happens in a child process). Only the
    first scrape in a format, or the first after a long quiet, waits for an encoding.
    """

    def __init__(self, published: Published, *, max_share: float = 0.25) -> None:
        self.published = published
        self.max_share = max_share
        self.worker = EncoderProcess()
        """Where the private registry and the custom collector live (a child process)."""
        self.last_encode_s: float | None = None
        """Wall time of the latest encoding (for the bench and the curious)."""
        self._encoding = threading.Lock()
        self._bodies: dict[str, _Body] = {}
        self._accepts: dict[str, str] = {}
        """Content type -> an Accept header that asked for it."""
        self._last_scrape = -KEEP_WARM_S
        self._thread = threading.Thread(target=self._encode_loop, name="metrics-encoder")
        self._thread.daemon = True
        self._thread.start()

    def render(self, accept: str, gzipped: bool = False) -> tuple[bytes, str]:
        """The body for this ``Accept`` header (gzip-compressed if asked) and its type."""
        _, content_type = choose_encoder(accept)
        self._accepts[content_type] = accept
        body = self._bodies.get(content_type)
        quiet = time.monotonic() - self._last_scrape > KEEP_WARM_S
        self._last_scrape = time.monotonic()
        if body is None or (quiet and body.version != self.published.current()[0]):
            body = self._encode(content_type, accept)
        if not gzipped:
            return body.plain, content_type
        if body.compressed is None:
            body.compressed = gzip.compress(body.plain, compresslevel=1)
        return body.compressed, content_type

    def _encode(self, content_type: str, accept: str) -> _Body:
        with self._encoding:  # one encoding at a time: concurrent scrapes share it
            version, snapshot = self.published.current()
            known = self._bodies.get(content_type)
            if known is not None and known.version == version:
                return known
            if snapshot is None:
                snapshot = FleetSnapshot(generated_at=time.time())
            started = time.perf_counter()
            body = _Body(version, self.worker.encode(accept, snapshot)[0])
            self.last_encode_s = time.perf_counter() - started
            self._bodies[content_type] = body
            return body

    def _encode_loop(self) -> None:
        while True:
            self.published.changed.wait(1.0)
            self.published.changed.clear()
            if time.monotonic() - self._last_scrape > KEEP_WARM_S:
                continue  # nobody scrapes: spend nothing
            started = time.perf_counter()
            for content_type, accept in list(self._accepts.items()):
                # On failure scrapes keep the last body; a scrape that needs a new one says why.
                with contextlib.suppress(EncoderUnavailable):
                    self._encode(content_type, accept)
            worked = time.perf_counter() - started
            time.sleep(worked * (1 / self.max_share - 1))


class _Handler(BaseHTTPRequestHandler):
    server: MetricsServer
    timeout = CLIENT_TIMEOUT_S
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        gzipped = "gzip" in self.headers.get("Accept-Encoding", "")
        if path == "/metrics":
            try:
                body, content_type = self.server.exposition.render(
                    self.headers.get("Accept", ""), gzipped
                )
            except EncoderUnavailable as error:
                self._send(503, f"{error}\n".encode(), "text/plain; charset=utf-8")
                return
            self._send(200, body, content_type, "gzip" if gzipped else None)
            return
        elif path == "/snapshot.json":
            _, snapshot = self.server.exposition.published.current()
            if snapshot is None:
                self._send(503, b"no snapshot yet\n", "text/plain; charset=utf-8")
                return
            body, content_type = msgspec.json.encode(snapshot), "application/json"
        elif path == "/":
            body = b'<html><body><a href="/metrics">/metrics</a></body></html>\n'
            content_type = "text/html; charset=utf-8"
        else:
            self._send(404, b"not found\n", "text/plain; charset=utf-8")
            return
        self._send(200, body, content_type)

    def _send(
        self, status: int, body: bytes, content_type: str, encoding: str | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: a scrape every few seconds is not news."""


class MetricsServer(ThreadingHTTPServer):
    daemon_threads = True  # a stuck scraper never keeps the console from exiting

    def __init__(self, address: tuple[str, int], exposition: Exposition) -> None:
        self.exposition = exposition
        super().__init__(address, _Handler)

    def server_close(self) -> None:
        super().server_close()
        self.exposition.worker.close()

    def handle_error(self, request: object, client_address: object) -> None:
        """A scraper that hangs up or stalls is its own problem: no traceback on our stderr."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return
        print(f"aiconsole: metrics request failed: {error!r}", file=sys.stderr)


def start(address: tuple[str, int], published: Published) -> MetricsServer:
    """Listen on ``address`` and serve from ``published`` in a background thread."""
    server = MetricsServer(address, Exposition(published))
    thread = threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True)
    thread.start()
    return server
