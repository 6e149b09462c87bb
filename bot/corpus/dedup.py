"""Recognising an article the corpus already has: the same address, the same title and
text after normalisation, or nearly the same text (the same story republished with another
footer, another photo caption).

Near-duplicates are found with MinHash LSH (datasketch) over word 5-gram shingles of the
cleaned text, then confirmed by the exact Jaccard similarity (or containment) of the two
shingle sets, so the decision does not depend on the sketch's luck.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit

import numpy as np

from bot.corpus.article import Article
from bot.text.cleaning import clean_lines
from bot.text.normalize import normalize

if TYPE_CHECKING:
    from datasketch import MinHash  # imported where used: it imports scipy (about 1 s at every start)

SHINGLE_WORDS = 5
NUM_PERM = 64
NEAR_JACCARD = 0.8  # this share of shingles in common: the same article
NEAR_CONTAINMENT = 0.9  # or this share of the shorter one's shingles, when ...
NEAR_SIZE_RATIO = 0.5  # ... the shorter has at least this share of the longer one's shingles
_LSH_THRESHOLD = 0.4  # candidates are found below the confirmed thresholds, then checked
_TRACKING_PARAM_RE = re.compile(r"^(utm_\w+|fbclid|gclid|zarsrc|zarid|gidzl)$", re.IGNORECASE)
_MASK32 = 0xFFFFFFFF


def url_key(url: str | None) -> str | None:
    """An address without scheme, 'www.', fragment, tracking parameters or trailing '/'."""
    if not url or not url.strip():
        return None
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    host = host[4:] if host.startswith("www.") else host
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query) if not _TRACKING_PARAM_RE.match(k)))
    path = parts.path.rstrip("/")
    if not host and not path:
        return None
    return f"{host}{path}" + (f"?{query}" if query else "")


def words(text: str, title: str | None = None) -> list[str]:
    """The article's words, lower-cased and normalised, without page debris."""
    return re.findall(r"\w+", normalize("\n".join(clean_lines(text, title))).lower())


def content_key(article: Article, tokens: list[str] | None = None) -> str:
    """Equal for two articles with the same title and text after normalisation
    (``tokens``: the article's words, when already known)."""
    title = " ".join(re.findall(r"\w+", normalize(article.title).lower()))
    body = " ".join(words(article.text, article.title or None) if tokens is None else tokens)
    return hashlib.sha256(f"{title}\n{body}".encode()).hexdigest()


def shingles(tokens: list[str], size: int = SHINGLE_WORDS) -> set[int]:
    """32-bit hashes of the text's runs of ``size`` words (the whole text when shorter)."""
    if len(tokens) < size:
        return {hash(tuple(tokens)) & _MASK32} if tokens else set()
    return {hash(tuple(tokens[i : i + size])) & _MASK32 for i in range(len(tokens) - size + 1)}


def similarity(a: set[int], b: set[int]) -> tuple[float, float]:
    """(Jaccard similarity, containment of the smaller set in the larger)."""
    if not a or not b:
        return 0.0, 0.0
    common = len(a & b)
    return common / len(a | b), common / min(len(a), len(b))


def is_near_duplicate(a: set[int], b: set[int]) -> bool:
    jaccard, containment = similarity(a, b)
    ratio = min(len(a), len(b)) / max(len(a), len(b), 1)
    return jaccard >= NEAR_JACCARD or (containment >= NEAR_CONTAINMENT and ratio >= NEAR_SIZE_RATIO)


def _sketch(shingle_set: set[int]) -> MinHash:
    from datasketch import MinHash

    sketch = MinHash(num_perm=NUM_PERM, hashfunc=int)
    if shingle_set:
        sketch.update_batch(np.fromiter(shingle_set, dtype=np.uint64, count=len(shingle_set)))
    return sketch


class Fingerprint:
    """What an article is recognised by: its address, content key and shingles (the last
    two worked out once, when first needed)."""

    def __init__(self, article: Article):
        self.article = article
        self.url = url_key(article.url)

    @cached_property
    def tokens(self) -> list[str]:
        return words(self.article.text, self.article.title or None)

    @cached_property
    def key(self) -> str:
        return content_key(self.article, self.tokens)

    @cached_property
    def shingles(self) -> set[int]:
        return shingles(self.tokens)


@dataclass(frozen=True)
class Duplicate:
    """The article already in the corpus that a new one repeats, and how it was recognised."""

    article_id: str
    reason: str  # "same url", "same title and text", "near-identical text (93% shared)"


class DuplicateFinder:
    """Articles seen so far, searchable by address, content and near-identical text."""

    def __init__(self) -> None:
        self._by_url: dict[str, str] = {}
        self._by_key: dict[str, str] = {}
        self._articles: dict[str, Article] = {}
        self._shingles: dict[str, set[int]] = {}  # of the candidates checked so far
        from datasketch import MinHashLSH

        self._lsh = MinHashLSH(threshold=_LSH_THRESHOLD, num_perm=NUM_PERM)

    def __len__(self) -> int:
        return len(self._articles)

    def add(self, article: Article, fingerprint: Fingerprint | None = None) -> None:
        """Remember an article (its id must be new)."""
        fingerprint = fingerprint or Fingerprint(article)
        if fingerprint.url:
            self._by_url.setdefault(fingerprint.url, article.id)
        self._by_key.setdefault(fingerprint.key, article.id)
        self._articles[article.id] = article
        if fingerprint.shingles:
            self._lsh.insert(article.id, _sketch(fingerprint.shingles), check_duplication=False)

    def _shingles_of(self, article_id: str) -> set[int]:
        if article_id not in self._shingles:
            article = self._articles[article_id]
            self._shingles[article_id] = shingles(words(article.text, article.title or None))
        return self._shingles[article_id]

    def find(self, article: Article, fingerprint: Fingerprint | None = None) -> Duplicate | None:
        """The known article this one repeats, or None."""
        fingerprint = fingerprint or Fingerprint(article)
        if fingerprint.url and fingerprint.url in self._by_url:
            return Duplicate(self._by_url[fingerprint.url], "same url")
        same = self._by_key.get(fingerprint.key)
        if same is not None:
            return Duplicate(same, "same title and text")
        mine = fingerprint.shingles
        if not mine:
            return None
        best: tuple[float, str] | None = None
        for candidate in self._lsh.query(_sketch(mine)):
            theirs = self._shingles_of(candidate)
            if is_near_duplicate(mine, theirs):
                jaccard, containment = similarity(mine, theirs)
                score = max(jaccard, containment)
                if best is None or score > best[0]:
                    best = (score, candidate)
        if best is None:
            return None
        return Duplicate(best[1], f"near-identical text ({best[0]:.0%} shared)")
