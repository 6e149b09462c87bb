"""The articles in the index: listing, filtering by title or source, one article's details."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.corpus.article import Article
from bot.index.parts import PassageIndex
from bot.text.normalize import fold_accents, normalize


@dataclass(frozen=True)
class SourceInfo:
    """An article as users see it in a source listing."""

    id: str
    title: str
    source: str | None
    date: str | None  # ISO
    url: str | None
    author: str | None
    passages: int
    inferred: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "source": self.source,
            "date": self.date,
            "url": self.url,
            "author": self.author,
            "passages": self.passages,
            "inferred": list(self.inferred),
        }


def _info(article: Article, passages: int) -> SourceInfo:
    return SourceInfo(
        id=article.id,
        title=article.title,
        source=article.source,
        date=article.date.isoformat() if article.date else None,
        url=article.url,
        author=article.author,
        passages=passages,
        inferred=article.inferred,
    )


def _folded(text: str) -> str:
    return fold_accents(normalize(text)).lower()


def list_sources(index: PassageIndex, query: str = "") -> list[SourceInfo]:
    """All articles (newest first), or those whose title, source or id contain ``query``.

    Matching ignores case and diacritics, so "ha noi" finds "Hà Nội".
    """
    wanted = _folded(query.strip())
    found = []
    for number, article in enumerate(index.articles):
        haystack = _folded(" ".join(str(getattr(article, k) or "") for k in ("id", "title", "source")))
        if not wanted or wanted in haystack:
            found.append(_info(article, len(index.article_passages(number))))
    return sorted(found, key=lambda s: (s.date or "", s.id), reverse=True)


def get_source(index: PassageIndex, article_id: str) -> tuple[SourceInfo, list[str]] | None:
    """One article's details and its passages' texts, or None when there is no such id."""
    number = index.find_article(article_id.strip())
    if number is None:
        return None
    texts = [index.passage_text(p) for p in index.article_passages(number)]
    return _info(index.articles[number], len(texts)), texts
