"""Pulling feeds into the corpus: each feed is fetched (conditionally), each item's page that
the corpus lacks is fetched and extracted as ``add`` does, and stored with the feed's own
metadata preferred (link, date, title, author; the feed's name as source).

Each article is written atomically before it is reported as added, so a pull killed at any
point loses nothing it reported. A feed's validators (ETag, Last-Modified) are saved only
once its items have been dealt with: a pull cut short reads the feed again next time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.corpus.adding import CorpusWriteError, add_articles, replace_article
from bot.corpus.article import Article, ArticleError
from bot.corpus.dedup import url_key
from bot.corpus.feeds import Feed, FeedError, FeedItem, parse_feed
from bot.corpus.fetch import USER_AGENT, Fetched, Fetcher, FetchError, FetchPolicy
from bot.corpus.ingest import article_from_html
from bot.corpus.loading import ParsedFiles, load_corpus
from bot.corpus.metadata import Outlet
from bot.files import write_atomic
from bot.settings import FeedSettings, FeedSource

log = logging.getLogger(__name__)

MAX_CHILD_SITEMAPS = 20  # sitemaps read from one sitemap index
HTML_TYPES = ("text/html", "application/xhtml+xml")


class Outcome(enum.StrEnum):
    ADDED = "added"
    UPDATED = "updated"  # an article the feed says has changed, stored again over its old file
    SKIPPED = "skipped"
    FAILED = "failed"
    UNCHANGED = "unchanged"  # a feed not modified since the last pull (304)


@dataclass(frozen=True)
class PullEvent:
    """One line of a pull: an article added, updated, skipped or failed, or a feed that
    failed or was unchanged (``item`` empty)."""

    outcome: Outcome
    feed: str  # the feed's address
    url: str  # the article's address (the feed's, for a feed line)
    reason: str = ""
    article: Article | None = None


@dataclass
class PullReport:
    """Everything a pull did, in order."""

    events: list[PullEvent] = field(default_factory=list)
    requests: int = 0

    def count(self, outcome: Outcome) -> int:
        return sum(1 for e in self.events if e.outcome == outcome)

    @property
    def failed(self) -> int:
        return self.count(Outcome.FAILED)

    @property
    def changed(self) -> bool:
        return any(e.outcome in (Outcome.ADDED, Outcome.UPDATED) for e in self.events)

    def articles(self) -> list[Article]:
        """The articles added or updated."""
        return [e.article for e in self.events if e.article is not None and e.outcome != Outcome.SKIPPED]


# --- validators kept between pulls ------------------------------------------------------


@dataclass(frozen=True)
class Validators:
    """What is kept of a feed between pulls: its validators, its title, and the items that
    failed last time (tried again even when the feed answers 304)."""

    etag: str | None = None
    last_modified: str | None = None
    title: str = ""
    retry: tuple[FeedItem, ...] = ()


def _item_json(item: FeedItem) -> dict[str, str | None]:
    return {
        "url": item.url,
        "title": item.title,
        "date": item.date.isoformat() if item.date else None,
        "author": item.author,
        "updated": item.updated,
    }


def _item_of(data: object) -> FeedItem | None:
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        return None
    date = data.get("date")
    try:
        day = dt.date.fromisoformat(date) if isinstance(date, str) else None
    except ValueError:
        day = None
    text = {k: str(data.get(k) or "") for k in ("title", "author", "updated")}
    return FeedItem(str(data["url"]), text["title"], day, text["author"], text["updated"])


def load_state(path: Path) -> dict[str, Validators]:
    """What is kept of each feed, from the state file; a missing or broken file is empty."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    feeds = data.get("feeds") if isinstance(data, dict) else None
    if not isinstance(feeds, dict):
        return {}
    state = {}
    for url, entry in feeds.items():
        if isinstance(entry, dict):
            etag, modified, title = entry.get("etag"), entry.get("last_modified"), entry.get("title")
            listed = entry.get("retry")
            retry: list[object] = listed if isinstance(listed, list) else []
            state[str(url)] = Validators(
                etag if isinstance(etag, str) else None,
                modified if isinstance(modified, str) else None,
                title if isinstance(title, str) else "",
                tuple(item for item in map(_item_of, retry) if item is not None),
            )
    return state


def save_state(path: Path, state: dict[str, Validators]) -> None:
    """Write the state file atomically."""
    data = {
        "feeds": {
            url: {
                "etag": v.etag,
                "last_modified": v.last_modified,
                "title": v.title,
                "retry": [_item_json(item) for item in v.retry],
            }
            for url, v in sorted(state.items())
        }
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(data, ensure_ascii=False, indent=1) + "\n")


def state_path(feeds: FeedSettings, index_dir: Path) -> Path:
    return feeds.state_file or index_dir / "feed-state.json"


def fetch_policy(feeds: FeedSettings) -> FetchPolicy:
    return FetchPolicy(
        user_agent=feeds.user_agent or USER_AGENT,
        delay=feeds.delay,
        timeout=feeds.timeout,
        max_bytes=feeds.max_bytes,
        retries=feeds.retries,
        backoff=feeds.backoff,
        max_redirects=feeds.max_redirects,
    )


# --- one article --------------------------------------------------------------------------


def is_html(fetched: Fetched) -> bool:
    """Whether a response is a web page (by its Content-Type, else by its first bytes)."""
    kind = fetched.content_type.split(";")[0].strip().lower()
    if kind:
        return kind in HTML_TYPES
    head = fetched.content[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def with_feed_metadata(article: Article, item: FeedItem, source: str) -> Article:
    """The page's article with what the feed says preferred: link, date, title, author,
    and the feed's name as source. Fields the feed gives are no longer ``inferred``."""
    given = {"url": item.url, "date": item.date, "title": item.title, "author": item.author, "source": source}
    inferred = tuple(name for name in article.inferred if not given.get(name))
    return dataclasses.replace(
        article,
        inferred=inferred,
        url=item.url or article.url,
        date=item.date or article.date,
        title=item.title or article.title,
        author=item.author or article.author,
        source=source or article.source,
    )


def feed_source_name(source: FeedSource, feed: Feed) -> str:
    """The name a feed's articles are cited under: the configured one, else the feed's title."""
    return source.name or feed.title


# --- the pull -----------------------------------------------------------------------------


@dataclass
class _Pull:
    corpus_dir: Path
    lock_file: Path
    fetcher: Fetcher
    outlets: tuple[Outlet, ...]
    today: dt.date | None
    max_items: int
    parsed: ParsedFiles
    report: PullReport
    on_event: Callable[[PullEvent], None]
    known: dict[str, Article]

    def emit(self, event: PullEvent) -> None:
        self.report.events.append(event)
        self.on_event(event)

    def feed(self, source: FeedSource, state: dict[str, Validators]) -> bool:
        """Pull one feed; True when what is kept of it changed (it was read through, or its
        failed items were tried again)."""
        old = state.get(source.url, Validators())
        try:
            fetched = self.fetcher.get(source.url, old.etag, old.last_modified)
        except FetchError as exc:
            self.emit(PullEvent(Outcome.FAILED, source.url, source.url, f"feed: {exc}"))
            return False
        if fetched.not_modified:
            self.emit(PullEvent(Outcome.UNCHANGED, source.url, source.url, "feed not modified since the last pull"))
            if not old.retry:
                return False
            failed = self.items(source, old.retry, source.name or old.title)
            state[source.url] = dataclasses.replace(old, retry=failed)
            return True
        try:
            feed = parse_feed(fetched.content)
            items = list(feed.items)
            for child in feed.sitemaps[:MAX_CHILD_SITEMAPS]:
                items.extend(parse_feed(self.fetcher.get(child).content).items)
        except (FeedError, FetchError) as exc:
            self.emit(PullEvent(Outcome.FAILED, source.url, source.url, f"feed: {exc}"))
            return False
        failed = self.items(source, items[: self.max_items], feed_source_name(source, feed))
        state[source.url] = Validators(fetched.etag, fetched.last_modified, feed.title, failed)
        return True

    def items(self, source: FeedSource, items: Sequence[FeedItem], name: str) -> tuple[FeedItem, ...]:
        """Deal with each item; the items that failed (to be tried again next time)."""
        failed = []
        for item in items:
            before = self.report.failed
            self.item(source, item, name)
            if self.report.failed > before:
                failed.append(item)
        return tuple(failed)

    def item(self, source: FeedSource, item: FeedItem, name: str) -> None:
        stored = self.known.get(url_key(item.url) or item.url)
        if stored is not None and (not item.updated or stored.extra.get("feed_updated") in (None, item.updated)):
            self.emit(PullEvent(Outcome.SKIPPED, source.url, item.url, f"already in the corpus ({stored.id})"))
            return
        try:
            fetched = self.fetcher.get(item.url)
            if not is_html(fetched):
                kind = fetched.content_type.split(";")[0].strip() or "unknown type"
                raise ArticleError(f"not a web page ({kind})")
            article = article_from_html(fetched.content, item.url, self.outlets, self.today)
        except (FetchError, ArticleError) as exc:
            self.emit(PullEvent(Outcome.FAILED, source.url, item.url, str(exc)))
            return
        article = with_feed_metadata(article, item, name)
        extra: dict[str, Any] = {"feed": source.url, "feed_updated": item.updated or None}
        try:
            if stored is not None:
                updated = replace_article(stored, article, self.lock_file, {"added_from": item.url, **extra})
                self.known[url_key(item.url) or item.url] = dataclasses.replace(updated, extra=extra)
                self.emit(PullEvent(Outcome.UPDATED, source.url, item.url, f"changed ({stored.id})", updated))
                return
            added = add_articles([(article, item.url)], self.corpus_dir, self.lock_file, self.parsed, extra)
        except (CorpusWriteError, OSError) as exc:
            self.emit(PullEvent(Outcome.FAILED, source.url, item.url, f"cannot store: {exc}"))
            return
        for entry in added.added:
            self.known[url_key(item.url) or item.url] = dataclasses.replace(entry.article, extra=extra)
            self.emit(PullEvent(Outcome.ADDED, source.url, item.url, "", entry.article))
        for skipped in added.skipped:
            reason = f"duplicate of {skipped.duplicate.article_id} ({skipped.duplicate.reason})"
            self.emit(PullEvent(Outcome.SKIPPED, source.url, item.url, reason))


def pull_feeds(
    sources: Sequence[FeedSource],
    corpus_dir: Path,
    lock_file: Path,
    feeds: FeedSettings,
    state_file: Path,
    outlets: Iterable[Outlet] = (),
    today: dt.date | None = None,
    on_event: Callable[[PullEvent], None] = lambda _event: None,
    parsed: ParsedFiles | None = None,
) -> PullReport:
    """Pull ``sources`` into the corpus folder (see the module docstring); ``on_event`` is
    called with each line as it happens. ``parsed`` keeps the corpus files read."""
    if corpus_dir.exists() and not corpus_dir.is_dir():
        raise CorpusWriteError(f"the corpus {corpus_dir} is a file; pulling needs a corpus folder")
    corpus_dir.mkdir(parents=True, exist_ok=True)
    parsed = {} if parsed is None else parsed
    known = {url_key(a.url) or a.url: a for a in load_corpus(corpus_dir, parsed).articles if a.url}
    state = load_state(state_file)
    report = PullReport()
    with Fetcher(fetch_policy(feeds)) as fetcher:
        pull = _Pull(
            corpus_dir, lock_file, fetcher, tuple(outlets), today, feeds.max_items, parsed, report, on_event, known
        )
        for source in sources:
            if pull.feed(source, state):
                save_state(state_file, state)
        report.requests = fetcher.requests
    return report
