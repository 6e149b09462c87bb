"""Topic alerts: the chats that follow a topic (a few words), kept in SQLite so that they
survive restarts; each change is one transaction. ``topic_matches`` is the pure rule: an
article matches when its title or text holds every word of the topic, diacritics optional.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.corpus.article import Article
from bot.text.normalize import fold_accents

MAX_TOPIC_CHARS = 100


class SubscriptionError(ValueError):
    """A follow that cannot be made; ``reason`` is 'empty', 'too_long', 'too_many' or 'exists'."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Subscription:
    """One chat's topic; ``number`` is its place in the chat's list (1, 2, ...)."""

    chat_id: int
    number: int
    topic: str


def topic_words(topic: str) -> tuple[str, ...]:
    """A topic's words, accent-free and lower case: 'Giá vàng' -> ('gia', 'vang')."""
    return tuple(re.findall(r"\w+", fold_accents(unicodedata.normalize("NFC", topic)).lower()))


def topic_matches(topic: str, article: Article) -> bool:
    """Whether the article's title or text holds every word of the topic (diacritics optional)."""
    words = topic_words(topic)
    if not words:
        return False
    found = set(topic_words(f"{article.title}\n{article.text}"))
    return all(word in found for word in words)


class Subscriptions:
    """The topics chats follow, at most ``max_per_chat`` each, in a SQLite file."""

    def __init__(self, path: Path, max_per_chat: int = 10):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.max_per_chat = max_per_chat
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS follows (id INTEGER PRIMARY KEY, chat_id INTEGER NOT NULL, topic TEXT NOT NULL)"
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def following(self, chat_id: int) -> list[Subscription]:
        """The chat's topics, in the order they were followed."""
        with self._lock:
            rows = self._db.execute("SELECT topic FROM follows WHERE chat_id=? ORDER BY id", (chat_id,)).fetchall()
        return [Subscription(chat_id, n, topic) for n, (topic,) in enumerate(rows, 1)]

    def follow(self, chat_id: int, topic: str) -> Subscription:
        """Follow ``topic`` in this chat; SubscriptionError when it cannot be."""
        topic = " ".join(unicodedata.normalize("NFC", topic).split())
        if not topic_words(topic):
            raise SubscriptionError("empty")
        if len(topic) > MAX_TOPIC_CHARS:
            raise SubscriptionError("too_long")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rows = self._db.execute("SELECT topic FROM follows WHERE chat_id=?", (chat_id,)).fetchall()
                if any(topic_words(t) == topic_words(topic) for (t,) in rows):
                    raise SubscriptionError("exists")
                if len(rows) >= self.max_per_chat:
                    raise SubscriptionError("too_many")
                self._db.execute("INSERT INTO follows (chat_id, topic) VALUES (?, ?)", (chat_id, topic))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return Subscription(chat_id, len(rows) + 1, topic)

    def unfollow(self, chat_id: int, number: int) -> Subscription | None:
        """Stop following the chat's topic number ``number``; None when there is no such one."""
        with self._lock:
            rows = self._db.execute("SELECT id, topic FROM follows WHERE chat_id=? ORDER BY id", (chat_id,)).fetchall()
            if not 1 <= number <= len(rows):
                return None
            row_id, topic = rows[number - 1]
            self._db.execute("DELETE FROM follows WHERE id=?", (row_id,))
        return Subscription(chat_id, number, topic)

    def drop_chat(self, chat_id: int) -> int:
        """Forget every topic of a chat (it blocked the bot or is gone); how many there were."""
        with self._lock:
            return self._db.execute("DELETE FROM follows WHERE chat_id=?", (chat_id,)).rowcount

    def alerts(self, articles: Iterable[Article]) -> dict[int, list[tuple[Article, str]]]:
        """For each chat, the articles that match one of its topics (with the topic), in order."""
        with self._lock:
            rows = self._db.execute("SELECT chat_id, topic FROM follows ORDER BY id").fetchall()
        found: dict[int, list[tuple[Article, str]]] = {}
        for article in articles:
            for chat_id, topic in rows:
                if topic_matches(topic, article) and all(a.id != article.id for a, _ in found.get(chat_id, [])):
                    found.setdefault(chat_id, []).append((article, topic))
        return found
