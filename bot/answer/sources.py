"""The articles in the index: listing, filtering by title or source, one article's details."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from bot.corpus.article import Article, ArticleFields
from bot.index.parts import PassageIndex
from bot.text.normalize import fold_accents, normalize


@dataclass(frozen=True)
class SourceInfo(ArticleFields):
    """An article as users see it in a source listing: its record and its passage count."""

    article: Article
    passages: int

    @property
    def id(self) -> str:
        return self.article.id

    @property
    def inferred(self) -> tuple[str, ...]:
        return self.article.inferred

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "source": self.source,
            "date": self.date.isoformat() if self.date else None,
            "url": self.url,
            "author": self.author,
            "passages": self.passages,
            "inferred": list(self.inferred),
        }


@dataclass(frozen=True)
class SourceDetail:
    """One article's details and its passages' texts."""

    info: SourceInfo
    passages: list[str]


def _info(index: PassageIndex, number: int) -> SourceInfo:
    return SourceInfo(index.articles[number], len(index.article_passages(number)))


def _folded(text: str) -> str:
    return fold_accents(normalize(text)).lower()


def list_sources(index: PassageIndex, query: str = "") -> list[SourceInfo]:
    """All articles (newest first), or those whose title, source or id contain ``query``.

    Matching ignores case and diacritics, so "ha noi" finds "Hà Nội".
    """
    wanted = _folded(query.strip())
    found = []
    for number in range(len(index.articles)):
        info = _info(index, number)
        haystack = _folded(" ".join(x or "" for x in (info.id, info.title, info.source)))
        if not wanted or wanted in haystack:
            found.append(info)
    return sorted(found, key=lambda s: (s.date or dt.date.min, s.id), reverse=True)


def source_info(index: PassageIndex, article_id: str) -> SourceInfo | None:
    """One article's listing entry, or None when there is no such id."""
    number = index.find_article(article_id.strip())
    return None if number is None else _info(index, number)


def get_source(index: PassageIndex, article_id: str) -> SourceDetail | None:
    """One article's details and its passages' texts, or None when there is no such id."""
    number = index.find_article(article_id.strip())
    if number is None:
        return None
    texts = [index.passage_text(p) for p in index.article_passages(number)]
    return SourceDetail(_info(index, number), texts)


def example_id(index: PassageIndex) -> str:
    """An article id to show in a usage line ('/source 004')."""
    return index.articles[0].id if len(index.articles) else "000"
