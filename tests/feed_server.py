"""A small web site on 127.0.0.1 (ephemeral port) for the feed tests: feeds, sitemaps,
robots.txt and article pages that a test sets and changes, with ETag/Last-Modified,
a slow page, a page that waits for the test, and a log of every request."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LAST_MODIFIED = "Mon, 10 Jun 2024 06:00:00 GMT"


@dataclass
class Route:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    delay: float = 0.0  # seconds before answering (a slow server)
    gate: threading.Event | None = None  # the answer waits until the test sets it (bounded)
    validators: bool = True  # send ETag and Last-Modified, answer 304 to a matching request
    location: str = ""  # a redirect's target


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]
    at: float


@dataclass
class Site:
    routes: dict[str, Route] = field(default_factory=dict)
    log: list[Seen] = field(default_factory=list)
    base: str = ""

    def url(self, path: str) -> str:
        return self.base + path

    def set(self, path: str, body: str | bytes, **options) -> None:
        self.routes[path] = Route(body.encode() if isinstance(body, str) else body, **options)

    def requests(self, path: str) -> list[Seen]:
        return [seen for seen in self.log if seen.path == path]


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            site.log.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, time.monotonic()))
            route = site.routes.get(self.path)
            if route is None:
                self._send(404, b"not found", "text/plain")
                return
            if route.delay:
                time.sleep(route.delay)
            if route.gate is not None:
                route.gate.wait(timeout=30)
            if route.location:
                self.send_response(route.status)
                self.send_header("Location", route.location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            etag = '"' + hashlib.sha256(route.body).hexdigest()[:16] + '"'
            if route.validators and route.status == 200 and self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            extra = {"ETag": etag, "Last-Modified": LAST_MODIFIED} if route.validators else {}
            self._send(route.status, route.body, route.content_type, extra)

        def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            with suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

    return Handler


@contextmanager
def serve_site() -> Iterator[Site]:
    """A running site; stopped (and its threads ended) on exit."""
    site = Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    server.daemon_threads = True
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        for route in site.routes.values():
            if route.gate is not None:
                route.gate.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
