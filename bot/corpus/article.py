"""The article record and the corpus: what is known about one news article, and what loaded."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Article:
    """One news article and what is known about it.

    The same record from loading to the answer. An article read back from an index has an
    empty ``text`` (its passages hold the text).
    """

    id: str
    title: str
    text: str
    source: str | None = None
    date: dt.date | None = None
    url: str | None = None
    author: str | None = None
    inferred: tuple[str, ...] = ()
    path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def metadata(self) -> dict[str, Any]:
        """Plain-data metadata (no text), dates as ISO strings."""
        return {
            "id": self.id,
            "title": self.title,
            "source": self.source,
            "date": self.date.isoformat() if self.date else None,
            "url": self.url,
            "author": self.author,
            "inferred": list(self.inferred),
            "path": self.path,
        }

    @classmethod
    def from_metadata(cls, data: Mapping[str, Any], text: str = "") -> Article:
        """The article of ``metadata()``'s plain data (other keys are ignored)."""
        date = data.get("date")
        return cls(
            id=data["id"],
            title=data.get("title") or "",
            text=text,
            source=data.get("source"),
            date=dt.date.fromisoformat(date) if isinstance(date, str) else date,
            url=data.get("url"),
            author=data.get("author"),
            inferred=tuple(data.get("inferred") or ()),
            path=data.get("path"),
        )


@dataclass(frozen=True)
class LoadProblem:
    """A corpus file (or one line of it) that could not be loaded, and why; ``loaded``: it
    loaded all the same, without what the reason names (an unreadable date)."""

    path: str
    reason: str
    loaded: bool = False

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def same_id(article_id: str, typed: str) -> bool:
    """Whether ``typed`` names the article ``article_id``: the same text, or the same number
    written with more or fewer leading zeros ('4', '04' and '004')."""
    typed = typed.strip()
    if article_id == typed:
        return True
    return typed.isdigit() and article_id.isdigit() and int(typed) == int(article_id)


@dataclass
class Corpus:
    """The articles that loaded, and the problems with those that did not."""

    articles: list[Article]
    problems: list[LoadProblem]


class ArticleError(ValueError):
    """An article's data is unusable; the message says why (in plain words)."""


class ArticleFields:
    """The article's title, source, date, url and author, read from ``self.article`` (for the
    records that show an article: an answer's result, a source listing)."""

    article: Article

    @property
    def title(self) -> str:
        return self.article.title

    @property
    def source(self) -> str | None:
        return self.article.source

    @property
    def date(self) -> dt.date | None:
        return self.article.date

    @property
    def url(self) -> str | None:
        return self.article.url

    @property
    def author(self) -> str | None:
        return self.article.author
