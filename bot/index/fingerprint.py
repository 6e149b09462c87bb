"""What an index depends on, in one place: the settings that change what it holds, and the
hashes made of them (an article's content key, the settings' and the whole build's fingerprint).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bot.corpus.article import Article
from bot.corpus.loading import corpus_fingerprint
from bot.settings import Settings

CACHE_FORMAT = 2  # of the segment cache's entries (``segmenter.SegmentedArticle.to_bytes``)

# The settings segmentation depends on (of ``index_settings``), under the short names the
# article keys have always been hashed with: renaming them would change every article's key,
# so every cache entry and the ``key`` stored with each article in the index files.
_SEGMENT_NAMES = {
    "min_chars": "min",
    "max_chars": "max",
    "terms": "terms",
    "text_version": "text",
    "title_in_passages": "title",
}


def index_settings(settings: Settings) -> dict[str, Any]:
    """The settings that change what the index holds, as plain JSON data (as a manifest stores them)."""
    return json.loads(json.dumps(settings.index_fingerprint_part()))


def segment_settings(settings: Settings) -> dict[str, Any]:
    """The part of ``index_settings`` an article's segmentation depends on, with the cache format."""
    every = settings.index_fingerprint_part()  # (not via JSON: this is hashed for every article)
    return {"format": CACHE_FORMAT, **{short: every[name] for name, short in _SEGMENT_NAMES.items()}}


def article_key(article: Article, settings: Settings) -> str:
    """A hash of what an article's segmentation depends on: its text, title and settings."""
    return article_keys([article], settings)[0]


def article_keys(articles: list[Article], settings: Settings) -> list[str]:
    """``article_key`` of each article (the settings, abbreviations included, hashed once)."""
    start = hashlib.sha256(json.dumps(segment_settings(settings), sort_keys=True).encode())
    keys = []
    for article in articles:
        digest = start.copy()
        digest.update(b"\0" + article.title.encode() + b"\0" + article.text.encode())
        keys.append(digest.hexdigest())
    return keys


def settings_fingerprint(settings: Settings) -> str:
    """A hash of ``index_settings``."""
    return hashlib.sha256(json.dumps(index_settings(settings), sort_keys=True).encode()).hexdigest()


def full_fingerprint(settings: Settings) -> str:
    """Changes when any corpus file or any index setting changes."""
    return hashlib.sha256((corpus_fingerprint(settings.corpus) + settings_fingerprint(settings)).encode()).hexdigest()
