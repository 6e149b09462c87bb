"""Reading feeds: RSS 2.0 and Atom 1.0 (feedparser), XML sitemaps and news sitemaps (lxml).
Pure functions: bytes in, typed records out; a document that is none of these is a FeedError.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
import xml.sax
from dataclasses import dataclass
from typing import Any

from bot.corpus.article import ArticleError
from bot.corpus.loading import parse_date

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"


class FeedError(ValueError):
    """Not a feed or sitemap that can be read; the message says why."""


@dataclass(frozen=True)
class FeedItem:
    """One article a feed announces: its link, and what the feed says about it."""

    url: str
    title: str = ""
    date: dt.date | None = None
    author: str = ""
    updated: str = ""  # the feed's own stamp of the item (updated/published/lastmod), as written


@dataclass(frozen=True)
class Feed:
    """A parsed feed: its kind ('rss', 'atom', 'sitemap', 'sitemapindex'), its title (a
    channel's title, a news sitemap's publication name), its items, and for a sitemap index
    the sitemaps it lists."""

    kind: str
    title: str
    items: tuple[FeedItem, ...]
    sitemaps: tuple[str, ...] = ()


def written_date(text: str | None) -> dt.date | None:
    """The calendar date a feed writes, in the writer's own time zone: RFC 822
    ('Mon, 10 Jun 2024 06:00:00 +0700'), ISO 8601 or any form ``parse_date`` reads."""
    if not text or not text.strip():
        return None
    text = text.strip()
    try:
        stamp = email.utils.parsedate_to_datetime(text)
        if stamp is not None:
            return stamp.date()
    except (TypeError, ValueError, IndexError):
        pass
    try:
        return parse_date(text)
    except ArticleError:
        return None


def _clean(text: Any) -> str:
    return " ".join(str(text or "").split())


def parse_feed(data: bytes) -> Feed:
    """The feed or sitemap in ``data``; FeedError when it is neither (bad XML, HTML, empty)."""
    head = data[:2048].lstrip().lower()
    if not head:
        raise FeedError("empty document")
    if re.search(rb"<(?:\w+:)?(urlset|sitemapindex)\b", data[:4096]):
        return parse_sitemap(data)
    return _parse_syndication(data)


def _parse_syndication(data: bytes) -> Feed:
    import feedparser

    parsed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    version = str(parsed.get("version") or "")
    if not version or not version.startswith(("rss", "atom")):
        reason = getattr(parsed.get("bozo_exception"), "getMessage", lambda: "")() or "not RSS or Atom"
        raise FeedError(f"not a feed ({reason})" if parsed.get("bozo") else "not a feed (no RSS or Atom channel)")
    problem = parsed.get("bozo_exception")
    if parsed.get("bozo") and isinstance(problem, xml.sax.SAXParseException):
        raise FeedError(f"bad XML ({problem.getMessage()}, line {problem.getLineNumber()})")
    items = []
    for entry in parsed.entries:
        link = _clean(entry.get("link"))
        if not link:
            continue
        published, updated = dict.get(entry, "published"), dict.get(entry, "updated")  # no feedparser aliasing
        stamp = _clean(published or updated)
        updated = _clean(updated or published)
        items.append(
            FeedItem(
                url=link,
                title=_clean(entry.get("title")),
                date=written_date(stamp),
                author=_clean(entry.get("author")),
                updated=updated,
            )
        )
    kind = "atom" if version.startswith("atom") else "rss"
    return Feed(kind, _clean(parsed.feed.get("title")), tuple(items))


def parse_sitemap(data: bytes) -> Feed:
    """An XML sitemap (``<urlset>``, with news extensions) or a sitemap index."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise FeedError(f"bad XML ({exc})") from None
    name = etree.QName(root).localname

    def text(node: Any, path: str) -> str:
        found = node.find(path, {"s": SITEMAP_NS, "n": NEWS_NS})
        if found is None:
            found = node.find(path.replace("s:", "").replace("n:", ""))
        return _clean(found.text if found is not None else "")

    if name == "sitemapindex":
        locations = [text(node, "s:loc") for node in root if etree.QName(node).localname == "sitemap"]
        return Feed("sitemapindex", "", (), tuple(loc for loc in locations if loc))
    if name != "urlset":
        raise FeedError(f"not a sitemap (root element <{name}>)")
    items = []
    publication = ""
    for node in root:
        if not isinstance(node.tag, str) or etree.QName(node).localname != "url":
            continue
        loc = text(node, "s:loc")
        if not loc:
            continue
        published = text(node, "n:news/n:publication_date")
        lastmod = text(node, "s:lastmod")
        publication = publication or text(node, "n:news/n:publication/n:name")
        items.append(
            FeedItem(
                url=loc,
                title=text(node, "n:news/n:title"),
                date=written_date(published or lastmod),
                updated=lastmod or published,
            )
        )
    return Feed("sitemap", publication, tuple(items))
