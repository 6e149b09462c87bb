"""Article metadata on disk: one JSON line an article, read one at a time when asked for.

A 1M-passage index has about 300k articles. As Python dicts they take over 300 MB and
1.6 s to parse; as a memory-mapped file of JSON lines with a small table of where each line
starts, where its passages start and how many it has, they take nothing until a question's
passages need their titles, sources and dates.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from bot.corpus.article import Article

# columns of a part's ``article_rows`` array
START, END, FIRST_PASSAGE, PASSAGES, ID_HASH = range(5)


def id_hash(article_id: str) -> int:
    """A 63-bit hash of an article id (finds an article without parsing every line)."""
    return int.from_bytes(hashlib.blake2b(str(article_id).encode("utf-8"), digest_size=8).digest(), "little") >> 1


def encode_articles(articles: Sequence[dict[str, Any]]) -> tuple[bytes, np.ndarray]:
    """The JSON lines of ``articles`` (each with ``first_passage`` and ``passages``) and their rows."""
    lines = [json.dumps(a, ensure_ascii=False).encode("utf-8") + b"\n" for a in articles]
    rows = np.zeros((len(lines), 5), dtype=np.int64)
    if lines:
        ends = np.cumsum([len(line) for line in lines])
        rows[:, START] = ends - [len(line) for line in lines]
        rows[:, END] = ends - 1  # the newline is not part of the record
        rows[:, FIRST_PASSAGE] = [a["first_passage"] for a in articles]
        rows[:, PASSAGES] = [a["passages"] for a in articles]
        rows[:, ID_HASH] = [id_hash(a["id"]) for a in articles]
    return b"".join(lines), rows


T = TypeVar("T")


class _ReadOnDemand(Sequence[T]):
    """A sequence of articles made when read: ``_read(n)`` gives article n (0 <= n < len)."""

    def _read(self, number: int) -> T:
        raise NotImplementedError

    def __getitem__(self, number):  # type: ignore[override]
        if isinstance(number, slice):
            return [self._read(n) for n in range(*number.indices(len(self)))]
        if number < 0:
            number += len(self)
        if not 0 <= number < len(self):
            raise IndexError(number)
        return self._read(int(number))

    def __iter__(self) -> Iterator[T]:
        return (self._read(n) for n in range(len(self)))


class ArticleTable(_ReadOnDemand[dict[str, Any]]):
    """A part's articles (dicts, ``first_passage`` local to the part), parsed when read.

    Every read gives a new dict, so a caller may change it freely.
    """

    def __init__(self, blob: Any, rows: np.ndarray):  # bytes, or a file read by slices (index.FileBytes, a map)
        self.blob = blob
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def _read(self, number: int) -> dict[str, Any]:
        start, end = self.rows[number, START], self.rows[number, END]
        return json.loads(self.blob[int(start) : int(end)])

    def first_passages(self) -> np.ndarray:
        return np.asarray(self.rows[:, FIRST_PASSAGE])

    def passage_counts(self) -> np.ndarray:
        return np.asarray(self.rows[:, PASSAGES])

    def numbers_of(self, article_id: str) -> list[int]:
        """The numbers of the articles with this id (usually one)."""
        found = np.flatnonzero(self.rows[:, ID_HASH] == id_hash(article_id))
        return [int(n) for n in found if self[int(n)]["id"] == article_id]


def first_passages(articles: Sequence[dict[str, Any]]) -> np.ndarray:
    """Where each article's passages start (part-local), without parsing a table's lines."""
    if isinstance(articles, ArticleTable):
        return articles.first_passages()
    return np.array([a["first_passage"] for a in articles], dtype=np.int64)


def passage_counts(articles: Sequence[dict[str, Any]]) -> np.ndarray:
    """How many passages each article has, without parsing a table's lines."""
    if isinstance(articles, ArticleTable):
        return articles.passage_counts()
    return np.array([a["passages"] for a in articles], dtype=np.int64)


def numbers_of(articles: Sequence[dict[str, Any]], article_id: str) -> list[int]:
    """The numbers of the articles with this id, without parsing a table's other lines."""
    if isinstance(articles, ArticleTable):
        return articles.numbers_of(article_id)
    return [n for n, a in enumerate(articles) if a["id"] == article_id]


PLACEMENT = ("first_passage", "passages")  # the keys of a stored line that place the article's passages


@dataclass(frozen=True)
class StoredArticle:
    """An article as an index part stores it: its metadata (``Article.metadata()`` and the
    build's content ``key``) and where its passages are."""

    metadata: dict[str, Any]  # without the placement keys
    first_passage: int
    passages: int

    @classmethod
    def from_line(cls, line: dict[str, Any], passage_offset: int = 0) -> StoredArticle:
        """The record of a stored line (``ArticleTable``), its passages moved by ``passage_offset``."""
        metadata = {k: v for k, v in line.items() if k not in PLACEMENT}
        return cls(metadata, int(line["first_passage"]) + passage_offset, int(line["passages"]))

    @property
    def key(self) -> str | None:
        """The content key its segmentation was stored under (``fingerprint.article_key``), when known."""
        return self.metadata.get("key")

    @property
    def passage_range(self) -> range:
        return range(self.first_passage, self.first_passage + self.passages)

    def article(self) -> Article:
        """The article record (its ``text`` empty: the passages hold it)."""
        return Article.from_metadata(self.metadata)


class ArticleView(_ReadOnDemand[Article]):
    """Articles of several parts seen as one sequence of ``Article`` records: ``numbers`` picks
    which global article numbers (all of them, or the live ones), in order. Where an article's
    passages are (global passage numbers) is told by ``passages`` and ``stored``."""

    def __init__(self, tables: list[Sequence[dict[str, Any]]], passage_starts: list[int], numbers: np.ndarray):
        self.tables = tables
        self.passage_starts = passage_starts
        self.article_starts = np.cumsum([0] + [len(t) for t in tables]).astype(np.int64)
        self.numbers = numbers  # global article numbers, ascending

    def __len__(self) -> int:
        return len(self.numbers)

    def _read(self, position: int) -> Article:
        return self.stored(position).article()

    def _locate(self, position: int) -> tuple[int, int]:
        """(part, part-local number) of the article at ``position``."""
        number = int(self.numbers[position])
        part = int(np.searchsorted(self.article_starts, number, side="right")) - 1
        return part, number - int(self.article_starts[part])

    def stored(self, position: int) -> StoredArticle:
        """The stored record of the article at ``position``, its passages numbered globally."""
        part, local = self._locate(position)
        return StoredArticle.from_line(self.tables[part][local], self.passage_starts[part])

    def passages(self, position: int) -> range:
        """The global numbers of the passages of the article at ``position`` (without parsing its line)."""
        part, local = self._locate(position)
        table = self.tables[part]
        first = int(first_passages(table)[local]) + self.passage_starts[part]
        return range(first, first + int(passage_counts(table)[local]))

    def find(self, article_id: str) -> int | None:
        """The position in this view of the first article with this id, or None."""
        for part, table in enumerate(self.tables):
            for local in numbers_of(table, article_id):
                slot = self.position(int(self.article_starts[part]) + local)
                if slot is not None:
                    return slot
        return None

    def position(self, number: int) -> int | None:
        """Where global article ``number`` is in this view, or None when it is not in it."""
        slot = int(np.searchsorted(self.numbers, number))
        return slot if slot < len(self.numbers) and int(self.numbers[slot]) == number else None
