"""The segment cache: segmented articles by content key, in SQLite, kept in the index folder
(``SEGMENT_CACHE_FILE``) so that a build segments only new or changed articles."""

from __future__ import annotations

import logging
import sqlite3
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path

from bot.index.segmenter import SegmentedArticle

log = logging.getLogger(__name__)

SEGMENT_CACHE_FILE = "segments.sqlite"  # in the index folder


class SegmentCache:
    """Segmented articles by content key, in SQLite (each write is its own transaction).

    The database is in WAL mode: a build's worker processes each write their own rows through
    their own connection, waiting for each other's writes (``timeout``) without blocking readers.
    A commit is not synced to disk (``synchronous=NORMAL``): a power cut may lose the last rows,
    which are then segmented again, but never leaves the database inconsistent.
    """

    def __init__(self, path: Path, timeout: float = 60):
        self.path = path
        self.db = sqlite3.connect(str(path), timeout=timeout)
        if self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # a cache: no fsync a commit (WAL stays consistent)
        self.db.execute("CREATE TABLE IF NOT EXISTS seg (key TEXT PRIMARY KEY, data BLOB)")

    @classmethod
    def in_index(cls, index_dir: Path) -> SegmentCache:
        """The cache of the index folder ``index_dir``."""
        return cls(index_dir / SEGMENT_CACHE_FILE)

    def get_many(self, keys: Iterable[str]) -> dict[str, SegmentedArticle]:
        found: dict[str, SegmentedArticle] = {}
        keys = list(keys)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, blob in self.db.execute(f"SELECT key, data FROM seg WHERE key IN ({marks})", chunk):
                try:
                    found[key] = SegmentedArticle.from_bytes(key, blob)
                except (zlib.error, ValueError, KeyError, TypeError, struct.error):
                    log.warning("segment cache entry %s is damaged; it will be redone", key[:12])
        return found

    def put_many(self, items: list[SegmentedArticle]) -> None:
        rows = [(item.key, item.to_bytes()) for item in items]
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO seg VALUES (?, ?)", rows)

    def keep_only(self, keys: set[str]) -> None:
        """Forget articles no longer in the corpus."""
        stale = [k for (k,) in self.db.execute("SELECT key FROM seg") if k not in keys]
        with self.db:
            self.db.executemany("DELETE FROM seg WHERE key = ?", [(k,) for k in stale])

    def close(self) -> None:
        self.db.close()
