"""Polite HTTP for pulling feeds and pages: a User-Agent naming the bot, robots.txt obeyed,
one request at a time per host with a delay between them, conditional GET (ETag,
Last-Modified), timeouts, a size limit, retries with backoff and a bounded number of
redirects. Failures are FetchErrors whose message says what went wrong, in plain words.
"""

from __future__ import annotations

import threading
import time
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

PROJECT_URL = "https://github.com/vn-news-qa-bot/vn-news-qa-bot"
USER_AGENT = f"vn-news-qa-bot/0.1 (+{PROJECT_URL})"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_CRAWL_DELAY = 60.0  # a robots.txt Crawl-delay is obeyed up to this many seconds


class FetchError(Exception):
    """A URL that could not be fetched; the message says why ('HTTP 404', 'timed out', ...)."""


@dataclass(frozen=True)
class FetchPolicy:
    """How politely and how patiently to fetch (from the ``feeds:`` settings)."""

    user_agent: str = USER_AGENT
    delay: float = 1.0  # seconds between two requests to one host
    timeout: float = 10.0  # seconds for connecting and for each read
    max_bytes: int = 5_000_000  # a longer body is refused
    retries: int = 2  # more tries after a network error, a timeout, a 429 or a 5xx
    backoff: float = 1.0  # seconds before the first retry, doubled for each next one
    max_redirects: int = 5


@dataclass(frozen=True)
class Fetched:
    """A response: the final URL (after redirects), its body and validators.
    ``not_modified``: the server answered 304 to a conditional request (no body)."""

    url: str
    status: int
    content: bytes
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    location: str = ""  # a redirect's target (only while following redirects)


@dataclass
class _Host:
    lock: threading.Lock = field(default_factory=threading.Lock)
    last: float = float("-inf")  # when the last request to it ended (monotonic clock)
    robots: urllib.robotparser.RobotFileParser | None = None
    robots_error: str | None = None
    crawl_delay: float = 0.0


def host_key(url: str) -> str:
    """'https://Example.vn:8443/a' -> 'https://example.vn:8443'."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{(parts.netloc or '').lower()}"


class Fetcher:
    """Fetches URLs politely (see the module docstring); one instance per pull."""

    def __init__(
        self,
        policy: FetchPolicy = FetchPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.policy = policy
        self._sleep = sleep
        self._clock = clock
        self._hosts: dict[str, _Host] = {}
        self._hosts_lock = threading.Lock()
        self._client = httpx.Client(
            headers={"User-Agent": policy.user_agent},
            timeout=httpx.Timeout(policy.timeout),
            follow_redirects=False,  # followed here, one polite request at a time
        )
        self.requests = 0  # requests sent (robots.txt included)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _host(self, url: str) -> _Host:
        with self._hosts_lock:
            return self._hosts.setdefault(host_key(url), _Host())

    # --- robots.txt -------------------------------------------------------------------------

    def allowed(self, url: str) -> bool:
        """Whether robots.txt lets this bot fetch ``url`` (read once per host). A robots.txt
        that is missing (4xx) allows everything; one that cannot be read (5xx, no answer)
        allows nothing (RFC 9309)."""
        host = self._host(url)
        if host.robots is None and host.robots_error is None:
            self._read_robots(url, host)
        if host.robots_error is not None:
            return False
        assert host.robots is not None
        return host.robots.can_fetch(self.policy.user_agent, url)

    def _read_robots(self, url: str, host: _Host) -> None:
        parser = urllib.robotparser.RobotFileParser()
        robots_url = host_key(url) + "/robots.txt"
        try:
            response = self._request(robots_url, {}, host, retries=0)
        except FetchError as exc:
            if str(exc).startswith("HTTP 4"):
                parser.parse([])
                host.robots = parser
            else:
                host.robots_error = f"robots.txt cannot be read ({exc})"
            return
        parser.parse(response.content.decode("utf-8", errors="replace").splitlines())
        host.robots = parser
        delay = parser.crawl_delay(self.policy.user_agent)
        host.crawl_delay = min(float(delay), MAX_CRAWL_DELAY) if delay else 0.0

    def robots_reason(self, url: str) -> str:
        """Why ``allowed`` said no, in plain words."""
        host = self._host(url)
        return host.robots_error or "disallowed by robots.txt"

    # --- requests ---------------------------------------------------------------------------

    def get(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        """GET ``url`` (conditionally when a validator is given); FetchError on any failure,
        robots.txt's refusal included."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        for _hop in range(self.policy.max_redirects + 1):
            if urlsplit(url).scheme not in ("http", "https"):
                raise FetchError("not an http(s) address")
            if not self.allowed(url):
                raise FetchError(self.robots_reason(url))
            fetched = self._request(url, headers, self._host(url), self.policy.retries)
            if not fetched.location:
                return fetched
            url = urljoin(url, fetched.location)  # each hop waits its host's delay, obeys its robots.txt
        raise FetchError(f"more than {self.policy.max_redirects} redirects")

    def _request(self, url: str, headers: dict[str, str], host: _Host, retries: int) -> Fetched:
        """One GET with its retries, the host's delay kept before each try."""
        attempt = 0
        while True:
            try:
                return self._once(url, headers, host)
            except _Retryable as exc:
                if attempt >= retries:
                    raise FetchError(str(exc)) from None
                self._sleep(self.policy.backoff * 2**attempt)
                attempt += 1

    def _once(self, url: str, headers: dict[str, str], host: _Host) -> Fetched:
        with host.lock:
            wait = host.last + max(self.policy.delay, host.crawl_delay) - self._clock()
            if wait > 0:
                self._sleep(wait)
            try:
                self.requests += 1
                return self._read(url, headers)
            finally:
                host.last = self._clock()

    def _read(self, url: str, headers: dict[str, str]) -> Fetched:
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                if response.status_code == 304:
                    etag, modified = _validators(response)
                    return Fetched(str(response.url), 304, b"", "", etag, modified, not_modified=True)
                if response.status_code in REDIRECT_STATUSES and response.headers.get("Location"):
                    return Fetched(str(response.url), response.status_code, b"", location=response.headers["Location"])
                if response.status_code in RETRY_STATUSES:
                    raise _Retryable(f"HTTP {response.status_code}")
                if response.status_code >= 400:
                    raise FetchError(f"HTTP {response.status_code}")
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > self.policy.max_bytes:
                    raise FetchError(f"larger than {self.policy.max_bytes} bytes")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self.policy.max_bytes:
                        raise FetchError(f"larger than {self.policy.max_bytes} bytes")
                etag, modified = _validators(response)
                return Fetched(
                    str(response.url),
                    response.status_code,
                    bytes(body),
                    response.headers.get("Content-Type", ""),
                    etag,
                    modified,
                )
        except httpx.TimeoutException:
            raise _Retryable(f"timed out after {self.policy.timeout:g} s") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"cannot connect ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise FetchError(f"bad response ({type(exc).__name__})") from None


class _Retryable(Exception):
    """A failure worth another try (a network error, a timeout, 429, 5xx)."""


def _validators(response: httpx.Response) -> tuple[str | None, str | None]:
    """The response's ETag and Last-Modified."""
    return response.headers.get("ETag"), response.headers.get("Last-Modified")
